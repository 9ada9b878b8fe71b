"""Losses as modules, as PyTorch's: `nn.CrossEntropyLoss()(logits, labels)` calls
`F.cross_entropy` with the settings given when the module was made (the formulas are in
`functional.py` and `ops/losses.py`). A class weight is a Buffer, so it is in the
state_dict under PyTorch's key ("weight", "pos_weight").

Unlike PyTorch, the settings after `weight` are keyword-only (PyTorch's deprecated
`size_average` and `reduce` come first there), so `MSELoss("sum")` is an error rather than
a silent difference.
"""

from __future__ import annotations

from typing import Any

from tinygrad_edu import functional as F
from tinygrad_edu.nn.module import Buffer, Module, _not_a_tensor
from tinygrad_edu.tensor import Tensor

__all__ = ["BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "HuberLoss", "L1Loss",
           "MSELoss", "NLLLoss", "SmoothL1Loss"]


class _Loss(Module):
    """What every loss module shares: the reduction, checked when the module is made, and
    the input, checked when it is called."""

    input_name = "input"  # what the input is called in the error for a non-Tensor

    def __init__(self, reduction: str = "mean") -> None:
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"{type(self).__name__}: {reduction!r} is not a valid value for "
                             "reduction; use 'none', 'mean' or 'sum'")
        self.reduction = reduction

    def _checked(self, input: Any) -> Tensor:
        if not isinstance(input, Tensor):
            raise _not_a_tensor(self, input, self.input_name)
        return input

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        return f"reduction={self.reduction!r}"


def _buffer(weight: Any) -> Buffer | None:
    """A weight kept as a Buffer (saved in the state_dict, never trained), or None."""
    if weight is None:
        return None
    return Buffer(weight.data if isinstance(weight, Tensor) else weight)


def _shape_of(weight: Buffer | None) -> str:
    return "" if weight is None else f", weight=<shape {weight.shape}>"


class MSELoss(_Loss):
    """`F.mse_loss`: ℓ = (x − y)², reduced."""

    input_name = "prediction"

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """mse_loss(input, target, reduction)."""
        return F.mse_loss(self._checked(input), target, self.reduction)


class L1Loss(_Loss):
    """`F.l1_loss`: ℓ = |x − y|, reduced."""

    def __init__(self, *, reduction: str = "mean") -> None:
        super().__init__(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """l1_loss(input, target, reduction)."""
        return F.l1_loss(self._checked(input), target, self.reduction)


class SmoothL1Loss(_Loss):
    """`F.smooth_l1_loss`: ½(x − y)²/β near the target, |x − y| − ½β beyond, reduced."""

    def __init__(self, *, reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """smooth_l1_loss(input, target, reduction, beta)."""
        return F.smooth_l1_loss(self._checked(input), target, self.reduction, beta=self.beta)

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        return f"reduction={self.reduction!r}, beta={self.beta}"


class HuberLoss(_Loss):
    """`F.huber_loss`: ½(x − y)² near the target, δ(|x − y| − ½δ) beyond, reduced."""

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """huber_loss(input, target, reduction, delta)."""
        return F.huber_loss(self._checked(input), target, self.reduction, delta=self.delta)

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        return f"reduction={self.reduction!r}, delta={self.delta}"


class CrossEntropyLoss(_Loss):
    """`F.cross_entropy` of logits against class indices or class probabilities, with
    class weights, ignore_index and label smoothing."""

    input_name = "logits"

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.weight = _buffer(weight)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)."""
        return F.cross_entropy(self._checked(input), target, self.weight,
                               ignore_index=self.ignore_index, reduction=self.reduction,
                               label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        return (f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, "
                f"label_smoothing={self.label_smoothing}{_shape_of(self.weight)}")


class NLLLoss(_Loss):
    """`F.nll_loss` of log-probabilities against class indices, with class weights and
    ignore_index."""

    input_name = "log-probabilities"

    def __init__(self, weight: Tensor | None = None, *, ignore_index: int = -100,
                 reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = _buffer(weight)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        """nll_loss(input, target, weight, ignore_index, reduction)."""
        return F.nll_loss(self._checked(input), target, self.weight,
                          ignore_index=self.ignore_index, reduction=self.reduction)

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        return (f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"
                f"{_shape_of(self.weight)}")


class BCELoss(_Loss):
    """`F.binary_cross_entropy` of probabilities against targets in `[0, 1]`."""

    input_name = "probabilities"

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.weight = _buffer(weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """binary_cross_entropy(input, target, weight, reduction)."""
        return F.binary_cross_entropy(self._checked(input), target, self.weight,
                                      reduction=self.reduction)

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        return f"reduction={self.reduction!r}{_shape_of(self.weight)}"


class BCEWithLogitsLoss(_Loss):
    """`F.binary_cross_entropy_with_logits`: binary cross-entropy of σ(logits), stable for
    any logit, with `pos_weight` for the positive targets."""

    input_name = "logits"

    def __init__(self, weight: Tensor | None = None, *, reduction: str = "mean",
                 pos_weight: Tensor | None = None) -> None:
        super().__init__(reduction)
        self.weight = _buffer(weight)
        self.pos_weight = _buffer(pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        """binary_cross_entropy_with_logits(input, target, weight, reduction, pos_weight)."""
        return F.binary_cross_entropy_with_logits(self._checked(input), target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)

    def extra_repr(self) -> str:
        """The settings, shown in the repr."""
        pos = "" if self.pos_weight is None else f", pos_weight=<shape {self.pos_weight.shape}>"
        return f"reduction={self.reduction!r}{_shape_of(self.weight)}{pos}"
