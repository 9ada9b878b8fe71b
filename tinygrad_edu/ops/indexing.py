"""Writing at an index: `x[index] = value` recorded in the graph, as PyTorch records it.

Reading at an index (GetItem) and adding at one (IndexAdd) are in shape.py; this file holds
the write, whose gradient splits in two: the part of the old x that was kept, and value.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import sum_to_shape
from tinygrad_edu.tensor import Function, Tensor, _split_integer_index

__all__ = ["SetItem", "read_at", "write_at"]


def write_at(array: np.ndarray, index: Any, value: Any) -> None:
    """array[index] = value, with PyTorch's meaning of an index that mixes integers and
    index arrays (the integers pick first: see tensor.py, `_split_integer_index`)."""
    first, rest = _split_integer_index(index, array.ndim)
    if first is None:
        array[index] = value
    else:
        array[first][rest] = value  # array[first] is a view: the write lands in array


def read_at(values: Any, index: Any) -> Any:
    """values[index] for an array or a Tensor, with the same meaning as `write_at`."""
    if isinstance(values, Tensor):
        return values[index]  # (Tensor indexing splits such an index itself)
    first, rest = _split_integer_index(index, values.ndim)
    return values[index] if first is None else values[first][rest]


class SetItem(Function):
    """out = x with `value` written at `index` (broadcast to the places it fills)."""

    def forward(self, x, value, index):
        self.index = index
        out = x.copy()
        write_at(out, index, value)
        return out

    # ∂out/∂x = 1 where x was kept, 0 where it was overwritten; ∂out/∂value = 1 at the
    # places it was written to, so value's gradient is ∂C/∂out read at the index (summed
    # where value was broadcast)
    def backward(self, grad, out, x, value):
        dx = dvalue = None
        if self.needs_input_grad[0]:
            kept = np.ones(x.shape, bool)
            write_at(kept, self.index, False)
            dx = grad * kept
        if self.needs_input_grad[1]:
            picked = read_at(grad, self.index)
            if picked.ndim < value.ndim:  # value had leading axes of length 1 (numpy drops them)
                picked = picked.reshape((1,) * (value.ndim - picked.ndim) + picked.shape)
            dvalue = sum_to_shape(picked, value.shape)
        return dx, dvalue

    # d(x with value at index) = dx with dvalue at index (dx's written places are lost)
    def jvp(self, tangents, out, x, value):
        dx, dvalue = tangents
        if dvalue is None:  # only x moves: its tangent where it was kept
            kept = np.ones(x.shape, bool)
            write_at(kept, self.index, False)
            return dx * kept
        if isinstance(dvalue, Tensor):
            if dx is None:  # only value moves: written into zeros
                dx = Tensor._wrap(np.zeros(out.shape, dvalue.dtype))
            return SetItem.apply(dx, dvalue, index=self.index)
        moved = np.zeros(out.shape, dvalue.dtype) if dx is None else dx.copy()
        write_at(moved, self.index, dvalue)
        return moved
