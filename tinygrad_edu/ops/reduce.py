"""Reductions: sums, maxima, log-softmax, and the composites built on them (mean,
softmax, the normalization of batch and layer norm).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import _reduced_shape, exp, expand
from tinygrad_edu.tensor import Function, Tensor

__all__ = [
    "LogSoftmax", "Max", "Sum", "mean", "normalize", "softmax",
]


# ----------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        return np.add.reduce(x, axis=axis, keepdims=keepdims)  # x.sum without its wrapper

    # ∂(Σᵢ xᵢ)/∂xⱼ = 1: every summed element gets the output's gradient
    def backward(self, grad, out, x):
        if not self.keepdims:
            grad = grad.reshape(_reduced_shape(x.shape, self.axis))
        return expand(grad, x.shape)


class Max(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        kept = np.max(x, axis=axis, keepdims=True)
        ties = x == kept
        self.share = ties / np.sum(ties, axis=axis, keepdims=True)  # ties split the gradient
        return kept if keepdims else kept.reshape(np.max(x, axis=axis).shape)

    # ∂max(x)/∂xⱼ = 1 for the largest element (1/k each when k elements tie), else 0
    def backward(self, grad, out, x):
        if not self.keepdims:
            grad = grad.reshape(_reduced_shape(x.shape, self.axis))
        return expand(grad, x.shape) * self.share


class LogSoftmax(Function):
    name = "log_softmax"

    # log softmax(x)ᵢ = xᵢ − log Σⱼ e^xⱼ, computed as (xᵢ − m) − log Σⱼ e^(xⱼ − m) with
    # m = max x so no exponent is positive: x = ±1e4 neither overflows nor makes NaN.
    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    # ∂C/∂xᵢ = gᵢ − softmaxᵢ · Σⱼ gⱼ, with softmax = e^out from the saved output
    def backward(self, grad, out, x):
        return grad - exp(out) * grad.sum(axis=self.axis, keepdims=True)



def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """mean = sum / n."""
    total = Sum.apply(x, axis=axis, keepdims=keepdims)
    return total * (total.size / x.size if x.size else np.nan)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ = e^(log_softmax(x)ᵢ), stable for large |x|."""
    return LogSoftmax.apply(x, axis=axis).exp()



def normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """(x − mean) / √(var + eps) over `axes` (the biased variance, as batch and layer norm
    use it): each slice gets mean 0 and variance 1."""
    centered = x - x.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    return centered / (variance + eps) ** 0.5
