"""Selecting: the values are picked, chosen between or reordered (where, gather, flip,
roll, sort, …); their gradients go back to the places they were picked from.

Read it in this order: reading along a dim (Gather); choosing between two inputs (Where);
reordering (Flip, Roll). Then, at the end, the functions users call as `tg.where`,
`tg.gather`, … (and the Tensor methods call): they check their arguments, with the errors
PyTorch gives, and build the rest (masked_fill, tril, triu, index_select, take_along_dim,
argsort, sort, topk) from the ops above, so those get gradients for free. Reshaping,
indexing and joining are in shape.py.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_edu.ops import scatter_add, sum_to_shape, tangent_sum
from tinygrad_edu.ops.shape import _ints
from tinygrad_edu.tensor import (
    Function,
    MaxResult,
    Recording,
    Tensor,
    _describe,
    derived,
    normalize_dim,
    normalize_dims,
    tensor,
)

__all__ = [
    "Flip", "Gather", "Roll", "Where",
    "argsort", "flip", "gather", "index_select", "masked_fill", "roll", "sort",
    "take_along_dim", "topk", "tril", "triu", "where",
]


# ----------------------------------------------------------------------------------------
# Reading along a dim
# ----------------------------------------------------------------------------------------


class Gather(Function):
    """out[i, j, k] = x[i, index[i, j, k], k] (for dim 1): torch.gather's reading."""

    def forward(self, x, index, dim):
        self.index, self.dim = index, dim
        self.picked = _along_dim(index, dim)  # for every place of out, the place of x it reads
        return x[self.picked]

    # ∂out[p]/∂x[q] = 1 where out[p] was read from x[q]: each gradient goes back to the
    # place it was read from, and places read several times add up (a scatter-add)
    def backward(self, grad, out, x):
        return scatter_add(grad, self.picked, x.shape)

    # d gather(x) = gather(dx): the tangents read from the same places
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        if isinstance(dx, Tensor):
            return Gather.apply(dx, index=self.index, dim=self.dim)
        return dx[self.picked]


def _along_dim(index: np.ndarray, dim: int) -> tuple[np.ndarray, ...]:
    """The numpy index that reads x[i₀, …, index[i₀, …], …] at every position of `index`:
    `index` itself on axis `dim`, the position (an arange, broadcast) on every other axis."""
    return tuple(index if axis == dim else
                 np.arange(n).reshape((n,) + (1,) * (index.ndim - axis - 1))
                 for axis, n in enumerate(index.shape))


# ----------------------------------------------------------------------------------------
# Selecting
# ----------------------------------------------------------------------------------------


class Where(Function):
    """out = x where `condition` holds, y elsewhere (numpy broadcasting)."""

    def forward(self, x, y, condition):
        self.condition = condition
        return np.where(condition, x, y)

    # out = x where the condition holds, y elsewhere: ∂out/∂x = [condition],
    # ∂out/∂y = [not condition] (so a masked −inf in y passes no gradient, not NaN)
    def backward(self, grad, out, x, y):
        dx = dy = None
        if self.needs_input_grad[0]:
            dx = sum_to_shape(_select(self.condition, grad, 0), x.shape)
        if self.needs_input_grad[1]:
            dy = sum_to_shape(_select(self.condition, 0, grad), y.shape)
        return dx, dy

    # d where(c, x, y) = where(c, dx, dy)  (the condition does not move)
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        if dx is None:
            moved = _select(self.condition, 0, dy)
        elif dy is None:
            moved = _select(self.condition, dx, 0)
        elif isinstance(dx, Tensor):
            moved = Where.apply(dx, dy, condition=self.condition)
        else:
            moved = np.where(self.condition, dx, dy)
        return tangent_sum(out.shape, moved)


def _select(condition: np.ndarray, a: Any, b: Any) -> Any:
    """where(condition, a, b) for a gradient that is an array or a Tensor (0 for the other)."""
    if isinstance(a, Tensor):
        return Where.apply(a, _zero(a), condition=condition)
    if isinstance(b, Tensor):
        return Where.apply(_zero(b), b, condition=condition)
    return np.where(condition, a, b)


def _zero(like: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros((), like.dtype))


class Flip(Function):
    """out = x with the order of its entries reversed along each of `dims`."""

    def forward(self, x, dims):
        self.dims = dims
        return np.flip(x, dims).copy()  # a copy, as PyTorch's flip: not a view of x

    # flipping reverses the order along dims; flipping the gradient puts each share back
    # where its element came from (a flip is its own inverse)
    def backward(self, grad, out, x):
        return Flip.apply(grad, dims=self.dims) if isinstance(grad, Tensor) else np.flip(
            grad, self.dims)

    # d flip(x) = flip(dx)
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        return Flip.apply(dx, dims=self.dims) if isinstance(dx, Tensor) else np.flip(dx, self.dims)


class Roll(Function):
    """out = x with its entries shifted by `shifts` along `dims`, wrapping around."""

    def forward(self, x, shifts, dims):
        self.shifts, self.dims = shifts, dims
        return np.roll(x, shifts, dims)

    # rolling moves element i to i + shift (wrapping around): the gradient rolls back by −shift
    def backward(self, grad, out, x):
        back = tuple(-s for s in self.shifts)
        if isinstance(grad, Tensor):
            return Roll.apply(grad, shifts=back, dims=self.dims)
        return np.roll(grad, back, self.dims)

    # d roll(x) = roll(dx)
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        if isinstance(dx, Tensor):
            return Roll.apply(dx, shifts=self.shifts, dims=self.dims)
        return np.roll(dx, self.shifts, self.dims)


# ----------------------------------------------------------------------------------------
# The functions: tg.where, tg.gather, … (Tensor's methods call them too). Each checks its
# arguments and says what is wrong with PyTorch's kind of error; those without an op of
# their own are composites of the ops above.
# ----------------------------------------------------------------------------------------


def where(condition: Tensor, input: Any = None, other: Any = None) -> Any:
    """`input` where `condition` is True, `other` elsewhere, broadcast together (torch.where);
    either may be a number. With the condition alone: the indices where it is True (a tuple
    of int64 tensors, one per axis, as torch.where)."""
    mask = _mask("where", condition)
    if input is None and other is None:
        if Recording.active is not None:
            raise RuntimeError("jit: where(condition) gives as many indices as the condition "
                               "has True values, which changes from call to call; a replay "
                               "needs fixed shapes: use where(condition, x, y) or masked_fill")
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in np.nonzero(np.atleast_1d(mask)))
    if input is None or other is None:
        raise TypeError("where: give both input and other, or neither (for the indices)")
    x, y = _same_dtype("where", input, other)
    _check_broadcast("where", {"condition": mask.shape, "input": x.shape, "other": y.shape})
    return Where.apply(x, y, condition=mask)


def masked_fill(input: Tensor, mask: Tensor, value: Any) -> Tensor:
    """`input` with `value` where `mask` (bool, broadcast) is True, in input's dtype. No
    gradient reaches the filled places: `scores.masked_fill(~causal, float('-inf'))` before
    softmax is the attention mask."""
    mask_array = _mask("masked_fill", mask, allow_uint8=False)
    fill = _fill_value(input, value)
    _check_broadcast("masked_fill", {"input": input.shape, "mask": mask_array.shape})
    return Where.apply(fill, input, condition=mask_array)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two axes (below and on the `diagonal`-th diagonal),
    zeros above; gradients flow only through the kept places."""
    return Where.apply(input, _zero(input), condition=np.tri(*_matrix("tril", input),
                                                             k=diagonal, dtype=bool))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two axes (above and on the `diagonal`-th diagonal),
    zeros below."""
    below = np.tri(*_matrix("triu", input), k=diagonal - 1, dtype=bool)
    return Where.apply(input, _zero(input), condition=~below)


def gather(input: Tensor, dim: int, index: Tensor | np.ndarray) -> Tensor:
    """`out[i][j][k] = input[i][index[i][j][k]][k]` for dim 1 (torch.gather): `index`
    has input's number of axes, is no larger on the others, and holds int64 (or int32)."""
    if input.ndim == 0:  # PyTorch treats a scalar as one element
        return gather(input.reshape(1), dim, _index("gather", index).reshape(1)).reshape(())
    d = normalize_dim("gather", dim, input.ndim)
    index_array = _index("gather", index)
    if index_array.ndim != input.ndim:
        raise RuntimeError(f"gather: index must have as many axes as input: index has shape "
                           f"{index_array.shape}, input {input.shape}")
    if any(i > n for axis, (i, n) in enumerate(zip(index_array.shape, input.shape,
                                                   strict=True)) if axis != d):
        raise RuntimeError(f"gather: index of shape {index_array.shape} is larger than input "
                           f"of shape {input.shape} on an axis other than dim {dim}")
    _check_range("gather", index_array, input.shape[d], dim)
    return Gather.apply(input, index=index_array, dim=d)


def index_select(input: Tensor, dim: int, index: Tensor | np.ndarray) -> Tensor:
    """The entries at `index` (a vector of int64 or int32) along `dim`, in that order."""
    if input.ndim == 0:
        return index_select(input.reshape(1), dim, index).reshape(())
    d = normalize_dim("index_select", dim, input.ndim)
    index_array = _index("index_select", index)
    if index_array.ndim > 1:
        raise IndexError(f"index_select: index must be a vector (1-D), got shape "
                         f"{index_array.shape}")
    _check_range("index_select", index_array, input.shape[d], dim)
    return input[(slice(None),) * d + (index_array.reshape(-1),)]


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """numpy's take_along_axis (torch.take_along_dim): as gather, but input and indices
    broadcast against each other except along `dim`; negative indices count from the end.
    Without `dim`, both are flattened."""
    index_array = _index("take_along_dim", indices, allowed=("int64",))
    if dim is None:
        return take_along_dim(input.reshape(-1), Tensor._wrap(index_array.reshape(-1)), 0)
    d = normalize_dim("take_along_dim", dim, input.ndim)
    if index_array.ndim != input.ndim:
        raise RuntimeError(f"take_along_dim: input and indices must have as many axes: got "
                           f"shapes {input.shape} and {index_array.shape}")
    length = input.shape[d]
    _check_range("take_along_dim", index_array, length, dim, negatives=True)
    others = _check_broadcast("take_along_dim", {"input": _without(input.shape, d),
                                                 "indices": _without(index_array.shape, d)})
    target = _with(others, d, length)
    x = input if input.shape == target else input.expand(*target)
    picked = np.broadcast_to(index_array, _with(others, d, index_array.shape[d]))
    return Gather.apply(x, index=np.where(picked < 0, picked + length, picked), dim=d)


def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    """The order of the entries reversed along each of `dims` (a copy, as PyTorch's)."""
    positions = normalize_dims("flip", dims, input.ndim)
    return Flip.apply(input, dims=positions if input.ndim else ())


def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Tensor:
    """Entries shifted along `dims` by `shifts`, wrapping around; without `dims`, along the
    flattened tensor (the shape is kept)."""
    shift_list = _ints("roll", shifts, "shifts")
    if dims is None:
        if len(shift_list) != 1:
            raise RuntimeError(f"roll: without dims, shifts must be one number, got {shifts}")
        return Roll.apply(input, shifts=shift_list, dims=None)
    dim_list = _ints("roll", dims, "dims")
    if len(dim_list) != len(shift_list):
        raise RuntimeError(f"roll: shifts {shifts} and dims {dims} must have the same length")
    if input.ndim == 0:
        raise IndexError(f"roll: a 0-d tensor has no dim {dims} to roll along")
    positions = tuple(normalize_dim("roll", d, input.ndim) for d in dim_list)
    return Roll.apply(input, shifts=shift_list, dims=positions)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
            ) -> Tensor:
    """The int64 indices that sort `input` along `dim`. Always stable: equal values keep
    their order (PyTorch's order with stable=True, and what it gives for ties)."""
    d = normalize_dim("argsort", dim, input.ndim)
    return derived(lambda a: _sorting_order(a, d, descending), input)


def _sorting_order(array: np.ndarray, d: int, descending: bool) -> np.ndarray:
    values = np.atleast_1d(array)
    if descending:  # stable descending: sort the reversed array, reverse back, re-number
        reversed_order = np.argsort(np.flip(values, d), axis=d, kind="stable")
        order = values.shape[d] - 1 - np.flip(reversed_order, d)
    else:
        order = np.argsort(values, axis=d, kind="stable")
    return order.astype(np.int64).reshape(array.shape)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
         ) -> MaxResult:
    """(values, indices) sorted along `dim`; NaN counts as the largest value. The values
    carry the gradient back to the places they came from; ties keep their order."""
    order = argsort(input, dim, descending, stable)
    return MaxResult((_gather_valid(input, dim, order), order))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
         ) -> MaxResult:
    """(values, indices) of the k largest (or, largest=False, smallest) entries along `dim`,
    largest first. Ties: the one that comes first wins (PyTorch's choice among ties is not
    specified and can differ, and so can which tied place gets the gradient). The result is
    sorted also when sorted=False (allowed: PyTorch leaves that order unspecified)."""
    d = normalize_dim("topk", dim, input.ndim)
    length = input.shape[d] if input.ndim else 1
    if not isinstance(k, (int, np.integer)) or not 0 <= k <= length:
        raise RuntimeError(f"topk: k={k} is out of range for dim {dim} of length {length}")
    first_k = (slice(None),) * d + (slice(0, k),) if input.ndim else ()
    indices = derived(lambda a: _sorting_order(a, d, largest)[first_k], input)
    return MaxResult((_gather_valid(input, d, indices), indices))


# ----------------------------------------------------------------------------------------
# Argument checks and small helpers of the functions above
# ----------------------------------------------------------------------------------------


def _same_dtype(op: str, x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """x and y as Tensors of one dtype, promoted as the binary ops do (numbers count less
    than tensors: where(c, float16 tensor, 2.5) stays float16)."""
    if isinstance(x, Tensor):
        return x._operands(y, op)
    if isinstance(y, Tensor):
        theirs, mine = y._operands(x, op)
        return mine, theirs
    return tensor(x)._operands(y, op)  # two numbers: as tg.tensor makes them


def _mask(op: str, condition: Any, allow_uint8: bool = True) -> np.ndarray:
    """A condition or mask: a bool tensor (or array), as PyTorch requires."""
    array = condition.data if isinstance(condition, Tensor) else condition
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{op}: the condition must be a bool tensor, got {_describe(condition)}")
    if array.dtype == np.uint8 and allow_uint8:  # (PyTorch still takes uint8, deprecated)
        return array.astype(bool)
    if array.dtype != bool:
        raise RuntimeError(f"{op}: the condition must be a bool tensor, got dtype {array.dtype}; "
                           "compare to make one (x > 0) or convert it with .to(bool)")
    return array


def _fill_value(input: Tensor, value: Any) -> Tensor:
    """masked_fill's value as a 0-d tensor of input's dtype (a 0-d tensor keeps its graph)."""
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise RuntimeError(f"masked_fill: value must be a number or a 0-d tensor, got a "
                               f"tensor of shape {value.shape}")
        return value.to(input.dtype)
    if not isinstance(value, (int, float, bool, np.number, np.bool_)):
        raise TypeError(f"masked_fill: value must be a number, got {_describe(value)}")
    if input.dtype.kind != "f" and not math.isfinite(value):
        raise RuntimeError(f"masked_fill: value {value} cannot be converted to {input.dtype}")
    return Tensor._wrap(np.array(value).astype(input.dtype))


def _check_broadcast(op: str, shapes: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """The shape the named shapes broadcast to, or an error naming them all."""
    try:
        return np.broadcast_shapes(*shapes.values())
    except ValueError:
        named = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise RuntimeError(f"{op}: the shapes do not broadcast together: {named}") from None


def _index(op: str, index: Any, allowed: tuple[str, ...] = ("int64", "int32")) -> np.ndarray:
    """An index argument as an integer array, with PyTorch's dtype rule for `op`."""
    array = index.data if isinstance(index, Tensor) else index
    if not isinstance(array, np.ndarray):
        raise TypeError(f"{op}: index must be a tensor of integers, got {_describe(index)}; "
                        "make one with tg.tensor([...])")
    if array.dtype.name not in allowed:
        raise RuntimeError(f"{op}: index must have dtype {' or '.join(allowed)}, got "
                           f"{array.dtype}")
    return array


def _check_range(op: str, index: np.ndarray, length: int, dim: int,
                 negatives: bool = False) -> None:
    """Every index within the axis (from −length when negatives count from the end)."""
    low = -length if negatives else 0
    outside = index[(index < low) | (index >= length)]
    if outside.size:
        raise IndexError(f"{op}: index {outside.flat[0]} is out of range for dim {dim} of "
                         f"length {length} (allowed: {low} to {length - 1})")


def _gather_valid(input: Tensor, dim: int, indices: Tensor) -> Tensor:
    """Gather at indices made here (always valid: no checks)."""
    if input.ndim == 0:
        return Gather.apply(input.reshape(1), index=indices.data.reshape(1), dim=0).reshape(())
    return Gather.apply(input, index=indices.data, dim=normalize_dim("gather", dim, input.ndim))


def _matrix(op: str, input: Tensor) -> tuple[int, int]:
    """The last two sizes (rows, columns), for tril and triu."""
    if input.ndim < 2:
        raise RuntimeError(f"{op}: expects a tensor with at least 2 axes, got shape "
                           f"{input.shape}")
    return input.shape[-2], input.shape[-1]


def _without(shape: tuple[int, ...], dim: int) -> tuple[int, ...]:
    """`shape` with axis `dim` set to 1 (so it broadcasts with anything there)."""
    return shape[:dim] + (1,) + shape[dim + 1:]


def _with(shape: tuple[int, ...], dim: int, size: int) -> tuple[int, ...]:
    """`shape` with axis `dim` set to `size`."""
    return shape[:dim] + (size,) + shape[dim + 1:]
