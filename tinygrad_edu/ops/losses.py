"""Losses: the quadratic cost as one op, cross-entropy built from log-softmax.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops import saved_difference, scalar
from tinygrad_edu.ops.reduce import LogSoftmax
from tinygrad_edu.tensor import Function, Tensor

__all__ = [
    "MSELossOp", "cross_entropy",
]

_FLOAT16 = np.dtype(np.float16)  # (a dtype against a dtype: half the time of np.float16)


class MSELossOp(Function):
    """C = mean((prediction − target)²), or the sum: the quadratic cost of the lessons."""

    name = "mse_loss"

    def forward(self, prediction, target, reduction="mean"):
        if prediction.shape != target.shape:
            raise ValueError(f"mse_loss: prediction of shape {prediction.shape} and target "
                             f"of shape {target.shape} differ")
        count = prediction.size or np.nan  # the mean of no elements is NaN, as in PyTorch
        self.scale = 2.0 / count if reduction == "mean" else 2.0
        self.diff = prediction - target
        wide = self.diff if self.diff.dtype != _FLOAT16 else self.diff.astype(np.float32)
        squared = np.vdot(wide, wide)  # Σ (a − y)², without a temporary array (float16 adds
        # up in float32, as PyTorch: 1000 squares of 100 already pass float16's 65504)
        total = squared / count if reduction == "mean" else squared
        return np.asarray(total, dtype=prediction.dtype)

    # ∂C/∂a = 2(a − y)/n (mean) or 2(a − y) (sum), times ∂C/∂out; ∂C/∂y is its negative
    def backward(self, grad, out, prediction, target):
        # (the difference saved by forward, times one number: a single ufunc call)
        da = saved_difference(prediction, target, self.diff) * (scalar(grad) * self.scale)
        dy = -da if self.needs_input_grad[1] else None
        return (da if self.needs_input_grad[0] else None), dy



def cross_entropy(logits: Tensor, labels: np.ndarray, reduction: str = "mean") -> Tensor:
    """C = −log softmax(logits)[label] per row, averaged (or summed) over the rows: pick
    each row's log-probability of its label with an index, so the gradient is
    softmax − one_hot(label) without writing it out."""
    picked = LogSoftmax.apply(logits, axis=-1)[np.arange(len(labels)), labels]
    total = -picked.sum()
    return total / len(labels) if reduction == "mean" else total
