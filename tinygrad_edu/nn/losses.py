"""Losses as modules: `nn.MSELoss()(prediction, target)`, as PyTorch's.
"""

from __future__ import annotations

from typing import Any

from tinygrad_edu.functional import cross_entropy, mse_loss
from tinygrad_edu.nn.module import Module, _not_a_tensor
from tinygrad_edu.tensor import Tensor

__all__ = ["CrossEntropyLoss", "MSELoss"]


class MSELoss(Module):
    """Squared-error cost as a module: `MSELoss()(prediction, target)`."""

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """`mse_loss(prediction, target, reduction)`: one number (or a sum)."""
        if not isinstance(prediction, Tensor):
            raise _not_a_tensor(self, prediction, "prediction")
        return mse_loss(prediction, target, self.reduction)

    def extra_repr(self) -> str:
        """The reduction, shown in the repr."""
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Module):
    """Cross-entropy of logits against integer labels, as a module."""

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, logits: Tensor, labels: Any) -> Tensor:
        """`cross_entropy(logits, labels, reduction)`: one number (or a sum)."""
        if not isinstance(logits, Tensor):
            raise _not_a_tensor(self, logits, "logits")
        return cross_entropy(logits, labels, self.reduction)

    def extra_repr(self) -> str:
        """The reduction, shown in the repr."""
        return f"reduction={self.reduction!r}"
