"""Shape ops and indexing: the values move or are picked; their gradients move back.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops import permute, scatter_add, sum_to_shape
from tinygrad_edu.tensor import Function

__all__ = [
    "Expand", "GetItem", "IndexAdd", "Permute", "Reshape",
]


# ----------------------------------------------------------------------------------------
# Shape ops
# ----------------------------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, shape):
        return x.reshape(shape)

    # a reshape only relabels elements: the gradient is reshaped back
    def backward(self, grad, out, x):
        return grad.reshape(x.shape)


class Permute(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    # permuting axes moves elements; the inverse permutation moves the gradient back
    def backward(self, grad, out, x):
        return permute(grad, tuple(np.argsort(self.axes)))


class Expand(Function):
    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    # each element was copied to several places: its gradient is the sum over them
    def backward(self, grad, out, x):
        return sum_to_shape(grad, x.shape)


class GetItem(Function):
    def forward(self, x, index):
        self.index = index
        return x[index]

    # indexing picks elements; the gradient goes back to where each came from, adding up
    # where an index repeats
    def backward(self, grad, out, x):
        return scatter_add(grad, self.index, x.shape)


class IndexAdd(Function):
    name = "index_add"

    def forward(self, values, index, shape):
        self.index = index
        return scatter_add(values, index, shape)

    # each value was added at one place: its gradient is read back from that place
    def backward(self, grad, out, values):
        return grad[self.index]
