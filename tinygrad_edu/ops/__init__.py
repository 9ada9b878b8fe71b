"""Every differentiable op: one class each, its forward and its gradient side by side.

The ops live in one file per family, each readable alone: `elementwise.py` (arithmetic,
functions of one value), `activations.py` (sigmoid, relu, gelu, …), `reduce.py` (sums,
maxima, softmax), `shape.py` (reshapes, indexing, joining), `select.py` (where, gather, flip,
sort, …), `indexing.py` (writing at an index), `products.py` (matmul, linear, einsum),
`losses.py`, `image.py` (unfold/fold, convolution, pooling), `recurrent.py` (the LSTM cell's
gates as one op). This file holds the helpers their
gradients share, and gathers every op so that `ops.Add`, `ops.SigmoidOp`, … name them all.

An op whose name is also a layer's (nn.Linear, nn.Sigmoid, …) ends in "Op": `SigmoidOp`
is the math, `nn.Sigmoid` the layer that calls it. Every op with several inputs computes
only the gradients `needs_input_grad` asks for, in the same pattern.

Notation: an op computes `out` from its inputs; `grad` is ∂C/∂out, the gradient of the final
result C (usually the cost) with respect to that output. `backward` returns ∂C/∂input for
each input: the chain rule, ∂C/∂x = ∂C/∂out · ∂out/∂x, one link at a time.

Each backward is written once and runs on two kinds of values: numpy arrays in a plain
`backward()` (fast, builds nothing), and Tensors under `backward(create_graph=True)`, where
the gradient computation is itself recorded so it can be differentiated again. That works
because the formulas use only operators, `.T`, `.reshape`, `.sum` and the helpers below,
which both kinds of value understand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor

# ----------------------------------------------------------------------------------------
# Helpers the gradients share (each works on numpy arrays and on Tensors)
# ----------------------------------------------------------------------------------------


def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum `grad` over the axes numpy stretched to reach its shape.

    If x of shape (3,) was broadcast against (2, 3), each x[j] was used twice, so its
    gradient is the sum of both uses: sum over the new leading axis. Axes of size 1 that
    were stretched are summed too, keeping the axis. Every op with broadcasting uses this.
    """
    if grad.shape == shape:
        return grad
    new_axes = grad.ndim - len(shape)
    stretched = tuple(new_axes + i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[new_axes + i] != 1)
    summed = grad.sum(axis=tuple(range(new_axes)) + stretched, keepdims=True)
    return summed.reshape(shape)


def tangent_sum(shape: tuple[int, ...], *terms: Any) -> Any:
    """The sum of the terms of a tangent that are there (None stands for a zero term: an
    input that does not move), broadcast to the output's `shape`; None if none is there.
    Forward mode's counterpart of sum_to_shape: a broadcast input moves every copy of it."""
    total = None
    for term in terms:
        if term is not None:
            total = term if total is None else total + term
    return total if total is None or total.shape == shape else expand(total, shape)


def expand(grad: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast `grad` to `shape` (the gradient of a sum copies back to every element)."""
    if isinstance(grad, Tensor):
        return Expand.apply(grad, shape=shape)
    return np.broadcast_to(grad, shape)


def exp(value: Any) -> Any:
    """e^value for an array or a Tensor."""
    return value.exp() if isinstance(value, Tensor) else np.exp(value)


def log(value: Any) -> Any:
    """ln(value) for an array or a Tensor."""
    return value.log() if isinstance(value, Tensor) else np.log(value)


def values(value: Any) -> Any:
    """The numbers of an array or a Tensor, as an array (for masks such as `y == 0`)."""
    return value.data if isinstance(value, Tensor) else value


def scatter_add(grad: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """A zero array of `shape` with `grad` added at `index`; repeated indices add up."""
    if isinstance(grad, Tensor):
        return IndexAdd.apply(grad, index=index, shape=shape)
    if isinstance(index, np.ndarray) and index.dtype.kind in "iu" and index.size:
        return _add_rows(grad, index, shape)
    full = np.zeros(shape, grad.dtype)
    np.add.at(full, index, grad)
    return full


def _add_rows(grad: np.ndarray, index: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """scatter_add for an integer array indexing rows (an embedding's gradient): the rows
    sorted by index (stably), each run of equal indices summed by one np.add.reduceat. The
    same sums as np.add.at, which handles repeats one element at a time: 5–7× faster from a
    few hundred rows (512 rows of 27: 151 → 32 µs, measured), a tenth of a bigram's step."""
    rows = np.where(index < 0, index + shape[0], index).ravel()  # (−1 is the last row)
    order = np.argsort(rows, kind="stable")
    ordered = rows[order]
    if ordered[0] < 0 or ordered[-1] >= shape[0]:
        bad = ordered[0] if ordered[0] < 0 else ordered[-1]
        raise IndexError(f"index {bad} is out of bounds for axis 0 with size {shape[0]}")
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    full = np.zeros(shape, grad.dtype)
    full[ordered[starts]] = np.add.reduceat(grad.reshape(rows.size, *shape[1:])[order], starts,
                                            axis=0)
    return full


def cast(value: Any, dtype: Any) -> Any:
    """An array or a Tensor in another dtype."""
    return value.to(dtype) if isinstance(value, Tensor) else value.astype(dtype)


def permute(value: Any, axes: tuple[int, ...]) -> Any:
    """An array or a Tensor with its axes reordered."""
    return value.permute(*axes) if isinstance(value, Tensor) else value.transpose(axes)


def scalar(grad: Any) -> Any:
    """A one-element gradient as a plain number (one ufunc call to scale an array by it);
    a Tensor stays a Tensor, so a graph of the backward records it."""
    return grad if isinstance(grad, Tensor) else float(grad)


def saved_difference(a: Any, b: Any, saved: np.ndarray) -> Any:
    """a − b: the array forward saved, or recomputed from Tensors under create_graph, so
    that the difference is part of the recorded graph."""
    return a - b if isinstance(a, Tensor) else saved


def add_bias(z: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """z + bias, written into z (no new array) when that keeps z's dtype; an integer z
    meeting a float bias becomes a new float array, as `+` would make it."""
    if bias.dtype != z.dtype and np.result_type(z, bias) != z.dtype:  # (the common case,
        return z + bias  # equal dtypes, decided by one comparison: this is the MLP's hot path)
    z += bias
    return z


def sum_rows(grad: Any) -> Any:
    """Σ over axis 0: a bias's gradient, in every linear layer's backward. For a float32 or
    float64 matrix, as the product ones·grad: BLAS adds the rows up in one pass, where
    np.add.reduce goes row by row (32 rows of 16: 1.6 against 0.5 µs; 1000 rows: 17.6
    against 1.2 µs, measured). It rounds differently from np.sum (another order of the
    same additions; PyTorch's order is a third)."""
    if isinstance(grad, Tensor):  # (the op itself: Tensor.sum's checks of the arguments
        return Sum.apply(grad, axis=(0,))  # are for users' calls; a float sum: no dtype)
    if grad.ndim == 2 and grad.dtype in BLAS_FLOATS:
        return np.dot(ones_vector(grad.shape[0], grad.dtype), grad)
    return np.add.reduce(grad, axis=0)


BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))  # (sum_rows; compiled.py mirrors it)
_ONES: dict[tuple[int, np.dtype], np.ndarray] = {}


def ones_vector(length: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ones, made once per length and dtype (sum_rows' other factor)."""
    vector = _ONES.get((length, dtype))
    if vector is None:
        if len(_ONES) > 64:  # (many batch sizes: start again rather than grow for ever)
            _ONES.clear()
        vector = _ONES[length, dtype] = np.ones(length, dtype)
        vector.flags.writeable = False
    return vector


def _reduced_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape of a reduction over `axis` with keepdims=True."""
    if axis is None:
        return (1,) * len(shape)
    ndim, several = max(len(shape), 1), isinstance(axis, (tuple, list, np.ndarray))
    axes = {int(a) % ndim for a in (axis if several else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


# The families, gathered here so `ops.Name` reaches every op. (Imported last: each family
# imports the helpers above.)
from tinygrad_edu.ops import (  # noqa: E402
    activations,
    elementwise,
    image,
    indexing,
    losses,
    products,
    recurrent,
    reduce,
    select,
    shape,
)
from tinygrad_edu.ops.activations import *  # noqa: E402, F403
from tinygrad_edu.ops.elementwise import *  # noqa: E402, F403
from tinygrad_edu.ops.image import *  # noqa: E402, F403
from tinygrad_edu.ops.indexing import *  # noqa: E402, F403
from tinygrad_edu.ops.losses import *  # noqa: E402, F403
from tinygrad_edu.ops.products import *  # noqa: E402, F403
from tinygrad_edu.ops.recurrent import *  # noqa: E402, F403
from tinygrad_edu.ops.reduce import *  # noqa: E402, F403
from tinygrad_edu.ops.reduce import Sum  # noqa: E402  (sum_rows uses it)
from tinygrad_edu.ops.select import *  # noqa: E402, F403
from tinygrad_edu.ops.shape import *  # noqa: E402, F403
from tinygrad_edu.ops.shape import Expand, IndexAdd  # noqa: E402  (the helpers above use them)

# The public names: the helpers above, then every family's own list.
__all__ = [
    "add_bias", "cast", "exp", "expand", "log", "permute", "saved_difference", "scalar",
    "BLAS_FLOATS", "ones_vector", "scatter_add", "sum_rows", "sum_to_shape", "values",
    *activations.__all__, *elementwise.__all__, *image.__all__, *indexing.__all__,
    *losses.__all__, *products.__all__, *recurrent.__all__, *reduce.__all__,
    *select.__all__, *shape.__all__,
]
