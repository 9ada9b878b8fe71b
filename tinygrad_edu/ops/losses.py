"""Losses: the math of PyTorch's loss functions (`functional.py` checks the arguments).

Four are ops of their own, forward and gradient side by side:
- `MSELossOp`, the quadratic cost of the lessons, `mean((x − y)²)` in one op (and
  `StackedMSELossOp`, one such cost per item of a stack: vmap's rule for it);
- `NLLLossOp`, the negative log-likelihood at class indices, with class weights,
  ignore_index and label smoothing: one op, so the indices stay a parameter that a jit
  replay reads anew (a mask built from them outside an op would be frozen);
- `BinaryCrossEntropyOp`, whose logs are clamped at −100 as PyTorch's, with PyTorch's
  gradient, finite where a probability is exactly 0 or 1.

The rest are composites of other ops, so their gradients come for free: cross-entropy
(log-softmax, then an index or a weighted sum), binary cross-entropy on logits (built on
log σ), the absolute, Huber and smooth-L1 errors, and the reductions.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu.ops import log, saved_difference, scalar, scatter_add, tangent_sum
from tinygrad_edu.ops.activations import logsigmoid
from tinygrad_edu.ops.reduce import LogSoftmaxOp
from tinygrad_edu.tensor import Function, Tensor

__all__ = [
    "BinaryCrossEntropyOp", "MSELossOp", "NLLLossOp", "StackedMSELossOp",
    "binary_cross_entropy_with_logits", "cross_entropy", "huber", "reduce_loss",
    "soft_cross_entropy",
]

_FLOAT16 = np.dtype(np.float16)  # (a dtype against a dtype: half the time of np.float16)


# ----------------------------------------------------------------------------------------
# The ops
# ----------------------------------------------------------------------------------------
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

    # dC = Σ 2(a − y)(da − dy)/n (mean) or Σ 2(a − y)(da − dy) (sum)
    def jvp(self, tangents, out, prediction, target):
        da, dy = tangents
        moved = da if dy is None else (-dy if da is None else da - dy)
        diff = saved_difference(prediction, target, self.diff)
        if isinstance(moved, Tensor):
            return (diff * moved).sum() * self.scale
        if diff.dtype == _FLOAT16:  # float16 adds up in float32, as forward does
            diff, moved = diff.astype(np.float32), moved.astype(np.float32)
        return np.asarray(np.vdot(diff, moved) * self.scale, dtype=out.dtype)


class StackedMSELossOp(Function):
    """C[b] = mean((prediction[b] − target[b])²) (or the sum) for each item b of a stack
    along axis 0: vmap's rule for mse_loss, one cost per item in one op (where a
    difference, a square, a sum and a division would be four)."""

    name = "stacked_mse_loss"

    def forward(self, prediction, target, reduction="mean"):
        self.diff = prediction - target
        items = tuple(range(1, prediction.ndim))  # every axis but the stack's
        count = math.prod(prediction.shape[1:]) or np.nan  # (no elements: NaN, as mse_loss)
        self.scale = 2.0 / count if reduction == "mean" else 2.0
        total = np.add.reduce(self.diff * self.diff, axis=items)
        return total / count if reduction == "mean" else total

    # ∂C[b]/∂a[b] = 2(a[b] − y[b])/n (mean) or 2(a[b] − y[b]) (sum), times ∂C/∂out[b]
    def backward(self, grad, out, prediction, target):
        per_item = grad.reshape(-1, *(1,) * (prediction.ndim - 1)) * self.scale
        da = saved_difference(prediction, target, self.diff) * per_item
        return (da if self.needs_input_grad[0] else None), (
            -da if self.needs_input_grad[1] else None)

    # dC[b] = Σ 2(a[b] − y[b])(da[b] − dy[b])/n (mean) or without the /n (sum)
    def jvp(self, tangents, out, prediction, target):
        da, dy = tangents
        moved = da if dy is None else (-dy if da is None else da - dy)
        diff = saved_difference(prediction, target, self.diff)
        return (diff * moved).sum(axis=tuple(range(1, diff.ndim))) * self.scale


class NLLLossOp(Function):
    """ℓₙ = −w_{yₙ}·x_{n,yₙ}: minus the log-probability x (classes on axis 1, or axis 0 for
    one sample) of each target class yₙ, times that class's weight; 0 where yₙ is
    ignore_index. With label smoothing ε the target is (1 − ε)·one_hot(yₙ) + ε/C:
    `ℓₙ = −(1 − ε)·w_{yₙ}·x_{n,yₙ} − (ε/C)·Σ_c w_c·x_{n,c}`.
    'mean' is Σₙ ℓₙ / Σₙ w_{yₙ} over the counted targets (PyTorch's weighted mean)."""

    name = "nll_loss"

    def forward(self, x, target, weight=None, ignore_index=-100, reduction="mean",
                label_smoothing=0.0):
        self.axis = 0 if x.ndim == 1 else 1
        classes = x.shape[self.axis]
        counted = (target != ignore_index).astype(x.dtype)
        self.index = _class_index(np.where(target != ignore_index, target, 0), self.axis)
        self.class_weight = (np.ones(classes, x.dtype) if weight is None
                             else weight.astype(x.dtype, copy=False))
        self.target_weight = self.class_weight[self.index[self.axis]] * counted  # w_{yₙ}
        self.smoothing, self.reduction = label_smoothing, reduction
        losses = -(1 - label_smoothing) * self.target_weight * x[self.index]
        if label_smoothing:
            self.spread = counted * (label_smoothing / classes)  # ε/C where counted
            weighted_sum = (x * _along(self.class_weight, x.ndim, self.axis)).sum(self.axis)
            losses = losses - self.spread * weighted_sum
        self.scale = 1.0
        if reduction == "mean":  # 0/0 is NaN, as PyTorch's when every target is ignored
            total = float(self.target_weight.sum())
            self.scale = 1.0 / total if total else math.nan
        if reduction != "none":
            losses = losses.sum() * self.scale
        return np.asarray(losses, dtype=x.dtype)

    # ∂ℓₙ/∂x_{n,c} = −(1 − ε)·w_{yₙ} at c = yₙ (scattered back there), and −(ε/C)·w_c on
    # every class; times ∂C/∂ℓₙ (one number for 'sum', divided by Σ w_{yₙ} for 'mean')
    def backward(self, grad, out, x):
        per_target = grad * self.scale
        dx = scatter_add(per_target * (-(1 - self.smoothing) * self.target_weight),
                         self.index, x.shape)
        if self.smoothing:
            spread = (per_target * -self.spread).reshape(_with_class_axis(self))
            dx = dx + spread * _along(self.class_weight, x.ndim, self.axis)
        return dx

    # dℓₙ = −(1 − ε)·w_{yₙ}·dx_{n,yₙ} − (ε/C)·Σ_c w_c·dx_{n,c}, reduced as ℓ is (linear in x)
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        moved = dx[self.index] * (-(1 - self.smoothing) * self.target_weight)
        if self.smoothing:
            weighted_sum = (dx * _along(self.class_weight, x.ndim, self.axis)).sum(axis=self.axis)
            moved = moved - weighted_sum * self.spread
        if self.reduction != "none":
            moved = moved.sum() * self.scale
        return moved if isinstance(moved, Tensor) else np.asarray(moved, dtype=out.dtype)


def _class_index(classes: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The index that picks `x[n, classes[n, d…], d…]`: an open grid over the target's axes,
    the class indices put in at the class axis."""
    grid = np.indices(classes.shape, sparse=True) if classes.ndim else ()
    return (*grid[:axis], classes, *grid[axis:])


def _along(values: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A vector of one value per class, shaped to broadcast along the class axis."""
    return values.reshape([-1 if i == axis else 1 for i in range(ndim)])


def _with_class_axis(op: NLLLossOp) -> tuple[int, ...]:
    """The target's shape with the class axis put back (as size 1)."""
    shape = list(op.target_weight.shape)
    shape.insert(op.axis, 1)
    return tuple(shape)


class BinaryCrossEntropyOp(Function):
    """`ℓ = −[y·max(ln x, −100) + (1 − y)·max(ln(1 − x), −100)]`, elementwise: the
    cross-entropy of probabilities x against targets y in `[0, 1]`. The logs are clamped at
    −100 as PyTorch's, so x = 0 or 1 costs 100, not infinity."""

    name = "binary_cross_entropy"

    def forward(self, x, y):
        with np.errstate(divide="ignore"):  # ln 0 = −inf, then clamped
            log_x = np.maximum(np.log(x), -100)
            log_rest = np.maximum(np.log1p(-x), -100)  # ln(1 − x), exact for tiny x
        return -(y * log_x + (1 - y) * log_rest)

    # ∂ℓ/∂x = (x − y) / max(x(1 − x), 1e-12): PyTorch's floor keeps it finite at x = 0 or 1;
    # ∂ℓ/∂y = ln(1 − x) − ln x = −ln(x / (1 − x)) (infinite there, as PyTorch's)
    def backward(self, grad, out, x, y):
        dx = dy = None
        if self.needs_input_grad[0]:
            dx = grad * (x - y) / _at_least(x * (1 - x), 1e-12)
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                dy = -grad * log(x / (1 - x))
        return dx, dy

    # dℓ = (x − y)/max(x(1 − x), 1e-12)·dx − ln(x / (1 − x))·dy  (backward's two derivatives)
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        moved_x = moved_y = None
        if dx is not None:
            moved_x = dx * (x - y) / _at_least(x * (1 - x), 1e-12)
        if dy is not None:
            with np.errstate(divide="ignore"):
                moved_y = -dy * log(x / (1 - x))
        return tangent_sum(out.shape, moved_x, moved_y)


def _at_least(value: Any, floor: float) -> Any:
    """max(value, floor) for an array or a Tensor."""
    return value.clamp(min=floor) if isinstance(value, Tensor) else np.maximum(value, floor)


# ----------------------------------------------------------------------------------------
# Composites (their gradients come from the ops they are made of)
# ----------------------------------------------------------------------------------------
def reduce_loss(losses: Tensor, reduction: str) -> Tensor:
    """The losses as they are ('none'), their sum ('sum') or their mean ('mean')."""
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def cross_entropy(logits: Tensor, labels: np.ndarray, reduction: str = "mean") -> Tensor:
    """`ℓₙ = −log softmax(xₙ)[yₙ]` for logits (N, C) and class indices (N,), averaged, summed
    or each: pick each row's log-probability of its label with an index, so the gradient
    is softmax − one_hot(label) without writing it out. (The common case, kept to one
    LogSoftmaxOp and one index; weights, ignore_index and smoothing go to NLLLossOp.)"""
    picked = LogSoftmaxOp.apply(logits, axis=-1)[np.arange(len(labels)), labels]
    if reduction == "none":
        return -picked
    total = -picked.sum()
    return total / len(labels) if reduction == "mean" else total


def soft_cross_entropy(logits: Tensor, probabilities: Tensor, weight: np.ndarray | None,
                       label_smoothing: float, reduction: str) -> Tensor:
    """ℓₙ = −Σ_c w_c·y_{n,c}·log softmax(xₙ)_c against class probabilities y (the input's
    shape), smoothed to (1 − ε)y + ε/C. 'mean' divides by the number of samples (N·d₁·…),
    not by the weights, as PyTorch's."""
    axis = 0 if logits.ndim == 1 else 1
    classes = logits.shape[axis]
    target = probabilities
    if label_smoothing:
        target = probabilities * (1 - label_smoothing) + label_smoothing / classes
    terms = logits.log_softmax(axis=axis) * target
    if weight is not None:
        terms = terms * _along(weight, logits.ndim, axis)
    return reduce_loss(-terms.sum(axis=axis), reduction)


def binary_cross_entropy_with_logits(x: Tensor, y: Tensor,
                                     pos_weight: Tensor | None = None) -> Tensor:
    """`ℓ = −[p·y·ln σ(x) + (1 − y)·ln(1 − σ(x))]`, elementwise, p the weight of the positive
    class; written `(1 − y)·x − (1 + (p − 1)·y)·ln σ(x)` (since ln(1 − σ(x)) = ln σ(x) − x)
    with ln σ(x) = −softplus(−x): stable for any |x|, where σ(x) itself rounds to 0 or 1."""
    log_sigmoid = logsigmoid(x)
    if pos_weight is None:
        return (1 - y) * x - log_sigmoid
    return (1 - y) * x - (y * (pos_weight - 1) + 1) * log_sigmoid


def huber(difference: Tensor, delta: float) -> Tensor:
    """ℓ = ½d² where |d| ≤ δ, δ(|d| − ½δ) beyond: quadratic near 0, linear far out.
    Written m·(|d| − ½m) with m = min(|d|, δ), both pieces in one formula (inside m = |d|,
    outside m = δ) and no mask; smooth L1 is this divided by δ (its β)."""
    size = difference.abs()
    m = size.clamp(max=delta)
    return m * (size - 0.5 * m)
