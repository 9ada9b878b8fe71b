"""Adagrad: each weight's step divided by the root of the sum of all its squared gradients
so far (`torch.optim.Adagrad`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.optim.optimizer import Optimizer, Rule, flag, non_negative, positive
from tinygrad_edu.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad: G ← G + g²,  w ← w − lrₜ·g/(√G + ε), with lrₜ = lr/(1 + (t − 1)·lr_decay).

    Weights whose gradients have been large move less. G starts at
    `initial_accumulator_value`; `weight_decay` λ adds λw to g; `maximize=True` climbs.
    As in PyTorch, every parameter's state is made at construction.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": non_negative, "lr_decay": non_negative, "weight_decay": non_negative,
        "initial_accumulator_value": non_negative, "eps": positive, "maximize": flag}
    _shown = ("lr", "lr_decay", "eps")

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-2,
                 lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, *,
                 maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps, "maximize": maximize})
        for group in self.param_groups:
            for p in group["params"]:
                self._state_of(p, group)

    def new_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The step count at zero and G at `initial_accumulator_value`."""
        return {"step": 0.0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def update(self, group: dict[str, Any], params: list[Tensor],
               grads: list[np.ndarray]) -> None:
        """G takes in g²; w moves by lrₜ·g/(√G + ε)."""
        lr, lr_decay, eps, weight_decay = (group["lr"], group["lr_decay"], group["eps"],
                                           group["weight_decay"])
        for p, g in zip(params, grads, strict=True):
            state = self._state_of(p, group)
            state["step"] = t = state["step"] + 1
            if group["maximize"]:
                g = -g
            if weight_decay:
                g = g + weight_decay * p.data  # g ← g + λw
            step_lr = lr / (1 + (t - 1) * lr_decay)  # lrₜ
            total = state["sum"]
            total += g * g  # G ← G + g²
            p.data -= step_lr * (g / (np.sqrt(total) + eps))  # w ← w − lrₜ·g/(√G + ε)
