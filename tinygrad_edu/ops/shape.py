"""Shape ops, indexing and joining: the values move; their gradients move back to where
each value came from.

Read it in this order: the shape ops (reshape, permute, expand); reading at an index
(GetItem) and adding at one (IndexAdd); joining (Cat). Then, at the end, the functions users
call as `tg.cat`, `tg.stack`, … (and the Tensor methods call): they check their arguments,
with the errors PyTorch gives, and build the rest (stack, split, chunk, unbind, repeat) from
the ops above, so those get gradients for free. Selecting (where, gather, flip, roll, sort,
topk, …) is in select.py.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.ops import expand, permute, scatter_add, sum_to_shape
from tinygrad_edu.tensor import _CATEGORY, Function, Tensor, _describe, normalize_dim

__all__ = [
    "Cat", "Expand", "GetItem", "IndexAdd", "Permute", "Reshape",
    "cat", "chunk", "concat", "concatenate", "repeat", "split", "stack", "unbind",
]


# ----------------------------------------------------------------------------------------
# Shape ops
# ----------------------------------------------------------------------------------------


class Reshape(Function):
    """out = x with a new shape: the same elements in the same (row-major) order."""

    def forward(self, x, shape):
        return x.reshape(shape)

    # a reshape only relabels elements: the gradient is reshaped back
    def backward(self, grad, out, x):
        return grad.reshape(x.shape)

    # d reshape(x) = reshape(dx)
    def jvp(self, tangents, out, x):
        return tangents[0].reshape(out.shape)


class Permute(Function):
    """out = x with its axes reordered: out's axis i is x's axis `axes[i]`."""

    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    # permuting axes moves elements; the inverse permutation moves the gradient back
    def backward(self, grad, out, x):
        return permute(grad, tuple(np.argsort(self.axes)))

    # d permute(x) = permute(dx)
    def jvp(self, tangents, out, x):
        return permute(tangents[0], self.axes)


class Expand(Function):
    """out = x broadcast to `shape`: each element copied along the stretched axes."""

    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    # each element was copied to several places: its gradient is the sum over them
    def backward(self, grad, out, x):
        return sum_to_shape(grad, x.shape)

    # d expand(x) = expand(dx)
    def jvp(self, tangents, out, x):
        return expand(tangents[0], out.shape)


# ----------------------------------------------------------------------------------------
# Reading at an index, adding at one
# ----------------------------------------------------------------------------------------


class GetItem(Function):
    """out = `x[index]`, with numpy's basic and advanced indexing."""

    def forward(self, x, index):
        self.index = index
        return x[index]

    # indexing picks elements; the gradient goes back to where each came from, adding up
    # where an index repeats
    def backward(self, grad, out, x):
        return _scatter(grad, self.index, x.shape)

    # d x[index] = dx[index]
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        return GetItem.apply(dx, index=self.index) if isinstance(dx, Tensor) else dx[self.index]


class IndexAdd(Function):
    """out = zeros of `shape` with `values` added at `index` (repeats add up)."""

    name = "index_add"

    def forward(self, values, index, shape):
        self.index = index
        return _scatter(values, index, shape)

    # each value was added at one place: its gradient is read back from that place
    def backward(self, grad, out, values):
        return grad[self.index]

    # d index_add(values) = index_add(dvalues): the tangents added at the same places
    def jvp(self, tangents, out, values):
        return _scatter(tangents[0], self.index, out.shape)


def _scatter(grad: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """`scatter_add` (a zero array of `shape` with grad added at `index`). A basic index
    (integers, slices, None, ...) reaches each place at most once, so one assignment does it,
    about ten times faster than numpy's `np.add.at`, which must allow repeats."""
    if isinstance(grad, np.ndarray) and _is_basic(index):
        full = np.zeros(shape, grad.dtype)
        full[index] = grad
        return full
    return scatter_add(grad, index, shape)


def _is_basic(index: Any) -> bool:
    """True for numpy's basic indexing: no index arrays, no lists, no booleans."""
    items = index if isinstance(index, tuple) else (index,)
    return all(item is None or item is Ellipsis or isinstance(item, slice) or (
        isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_)))
        for item in items)


# ----------------------------------------------------------------------------------------
# Joining
# ----------------------------------------------------------------------------------------


class Cat(Function):
    """out = `[x₀ | x₁ | …]`: the inputs joined along an existing axis."""

    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = list(itertools.accumulate((x.shape[axis] for x in xs), initial=0))
        return np.concatenate(xs, axis=axis)

    # out = [x₀ | x₁ | …] along the axis: ∂out/∂xₖ is 1 on xₖ's own block and 0 elsewhere,
    # so each input's gradient is its block of the output's gradient
    def backward(self, grad, out, *xs):
        before = (slice(None),) * self.axis
        return tuple(grad[before + (slice(start, stop),)] if needed else None
                     for start, stop, needed in zip(self.bounds, self.bounds[1:],
                                                    self.needs_input_grad, strict=False))

    # d[x₀ | x₁ | …] = [dx₀ | dx₁ | …], a zero block for an input that does not move
    def jvp(self, tangents, out, *xs):
        moving = next(dx for dx in tangents if dx is not None)
        blocks = [np.zeros(x.shape, moving.dtype) if dx is None else dx
                  for dx, x in zip(tangents, xs, strict=True)]
        if isinstance(moving, Tensor):
            return Cat.apply(*[Tensor._wrap(b) if isinstance(b, np.ndarray) else b
                               for b in blocks], axis=self.axis)
        return np.concatenate(blocks, axis=self.axis)


# ----------------------------------------------------------------------------------------
# The functions: tg.cat, tg.stack, … (Tensor's methods call them too). Each checks its
# arguments and says what is wrong with PyTorch's kind of error; those without an op of
# their own are composites of the ops above.
# ----------------------------------------------------------------------------------------


def cat(tensors: Sequence[Tensor], dim: int = 0, *, axis: int | None = None) -> Tensor:
    """Join tensors along an existing axis `dim` (torch.cat): all shapes equal except there.
    Dtypes are promoted as PyTorch (an int tensor joined to a float one becomes float)."""
    tensors = _tensor_list("cat", tensors, ValueError)
    if axis is not None:  # (PyTorch takes numpy's name too)
        dim = axis
    if any(t.ndim != 1 for t in tensors):  # PyTorch's old rule: 1-D empty tensors are skipped
        tensors = [t for t in tensors if t.shape != (0,)]
    first = tensors[0]
    for position, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"cat: tensor {position} is zero-dimensional and cannot be "
                               "concatenated; use stack, or unsqueeze(0) it first")
        if t.ndim != first.ndim:
            raise RuntimeError(f"cat: tensors must have the same number of dimensions: tensor "
                               f"0 has shape {first.shape}, tensor {position} has {t.shape}")
    d = normalize_dim("cat", dim, first.ndim)
    for position, t in enumerate(tensors):
        if t.shape[:d] + t.shape[d + 1:] != first.shape[:d] + first.shape[d + 1:]:
            raise RuntimeError(f"cat: sizes must match except in dim {dim}: tensor 0 has "
                               f"shape {first.shape}, tensor {position} has {t.shape}")
    return Cat.apply(*_promoted(tensors), axis=d)


concat = concatenate = cat  # PyTorch's other names for cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis at position `dim` (torch.stack)."""
    tensors = _tensor_list("stack", tensors, RuntimeError)
    first = tensors[0]
    for position, t in enumerate(tensors):
        if t.shape != first.shape:
            raise RuntimeError(f"stack: expects tensors of equal shape, got {first.shape} at "
                               f"entry 0 and {t.shape} at entry {position}")
    d = _new_axis("stack", dim, first.ndim)
    return Cat.apply(*(t.unsqueeze(d) for t in _promoted(tensors)), axis=d)


def split(input: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Pieces along `dim` (views, as PyTorch's): of `split_size` each, the last shorter if
    the length does not divide; or, for a list, of those sizes, which must add up to the
    length. (Each piece is a slice, so its gradient goes back to its own place.)"""
    d = _dim_of_a_vector("split", input, dim)
    length = input.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [_whole("split", s, "split sizes") for s in split_size_or_sections]
        if any(s < 0 for s in sizes) or sum(sizes) != length:
            raise RuntimeError(f"split: the sizes {list(sizes)} must be ≥ 0 and add up to "
                               f"{length}, the length of dim {dim} (shape {input.shape})")
    else:
        size = _whole("split", split_size_or_sections, "split_size")
        if size < 0 or (size == 0 and length > 0):
            raise RuntimeError(f"split: split_size must be > 0 (or 0 for an empty dim), got "
                               f"{size} for dim {dim} of length {length}")
        sizes = [min(size, length - start) for start in range(0, length, size or 1)] or [0]
    return _pieces(input, d, sizes)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """`chunks` pieces along `dim` of ⌈length / chunks⌉ each (the last shorter, and fewer
    pieces when that size already covers the length), as torch.chunk."""
    d = _dim_of_a_vector("chunk", input, dim)
    chunks = _whole("chunk", chunks, "chunks")
    if chunks <= 0:
        raise RuntimeError(f"chunk: chunks must be greater than 0, got {chunks}")
    length = input.shape[d]
    if length == 0:
        return _pieces(input, d, [0] * chunks)
    return split(input, math.ceil(length / chunks), d)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices along `dim`, with that axis removed: (x[0], x[1], …) for dim 0."""
    if input.ndim == 0:
        raise IndexError("unbind: a 0-d tensor has no axis to unbind along")
    d = normalize_dim("unbind", dim, input.ndim)
    before = (slice(None),) * d
    return tuple(input[before + (i,)] for i in range(input.shape[d]))


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """Tile the tensor `sizes[i]` times along axis i (PyTorch's repeat, numpy's tile); extra
    leading sizes add new axes. Built as reshape → expand → reshape: the gradient sums the
    copies back (Expand's gradient)."""
    repeats = _ints("repeat", sizes[0] if len(sizes) == 1 else sizes, "sizes")
    if len(repeats) < input.ndim:
        raise RuntimeError(f"repeat: give at least one size per axis: {len(repeats)} sizes "
                           f"for a tensor of shape {input.shape}")
    if any(r < 0 for r in repeats):
        raise RuntimeError(f"repeat: sizes must be ≥ 0, got {repeats}")
    shape = (1,) * (len(repeats) - input.ndim) + input.shape
    spread = input.reshape(tuple(itertools.chain(*((1, n) for n in shape))))  # (1, a, 1, b, …)
    copies = spread.expand(*itertools.chain(*zip(repeats, shape, strict=True)))
    return copies.reshape(tuple(r * n for r, n in zip(repeats, shape, strict=True)))


# ----------------------------------------------------------------------------------------
# Argument checks and small helpers of the functions above
# ----------------------------------------------------------------------------------------


def _tensor_list(op: str, tensors: Any, empty_error: type[Exception]) -> list[Tensor]:
    """A non-empty list or tuple of Tensors, or PyTorch's error (the type it raises)."""
    if not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}: expects a list or tuple of tensors, got {_describe(tensors)}")
    if not tensors:
        raise empty_error(f"{op}: expects a non-empty list of tensors")
    for position, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: expects tensors, got {_describe(t)} at position {position}")
    return list(tensors)


def _promoted(tensors: list[Tensor]) -> list[Tensor]:
    """The tensors in one dtype, as PyTorch promotes them: the highest category present
    (bool < integer < float) decides, then the widest dtype of that category."""
    top = max(_CATEGORY[t.dtype.kind] for t in tensors)
    dtype = np.result_type(*(t.dtype for t in tensors if _CATEGORY[t.dtype.kind] == top))
    return [t if t.dtype == dtype else t.to(dtype) for t in tensors]


def _new_axis(op: str, dim: int, ndim: int) -> int:
    """The position of a new axis (stack): 0 … ndim, negative counting from the end."""
    if not isinstance(dim, (int, np.integer)) or not -ndim - 1 <= dim <= ndim:
        raise IndexError(f"{op}: dim {dim} is out of range for a new axis of a tensor with "
                         f"{ndim} axes (allowed: {-ndim - 1} to {ndim})")
    return int(dim) % (ndim + 1)


def _dim_of_a_vector(op: str, input: Tensor, dim: int) -> int:
    """`dim` of a tensor with at least one axis (split, chunk and unbind need one)."""
    if input.ndim == 0:
        raise RuntimeError(f"{op}: expects a tensor with at least one axis, got a 0-d tensor")
    return normalize_dim(op, dim, input.ndim)


def _whole(op: str, value: Any, what: str) -> int:
    """A whole number (not a bool, not a float)."""
    if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {what} must be integers, got {_describe(value)}")
    return int(value)


def _ints(op: str, value: Any, what: str) -> tuple[int, ...]:
    """One whole number or a sequence of them, as a tuple."""
    values = value if isinstance(value, (list, tuple)) else (value,)
    return tuple(_whole(op, v, what) for v in values)


def _pieces(input: Tensor, dim: int, sizes: Sequence[int]) -> tuple[Tensor, ...]:
    """Consecutive slices of `input` along `dim`, of the given sizes."""
    before = (slice(None),) * dim
    starts = itertools.accumulate(sizes, initial=0)
    return tuple(input[before + (slice(start, start + size),)]
                 for start, size in zip(starts, sizes, strict=False))
