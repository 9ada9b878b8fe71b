"""RMSprop: each weight's step divided by a running root-mean-square of its gradient
(`torch.optim.RMSprop`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.optim.optimizer import (
    Optimizer,
    Rule,
    flag,
    fraction,
    lerp_,
    non_negative,
    positive,
)
from tinygrad_edu.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop: s ← αs + (1−α)g²,  w ← w − lr·g/(√s + ε).

    `centered=True` also averages g itself (ḡ) and divides by √(s − ḡ²), an estimate of
    the gradient's variance; `momentum` μ keeps a buffer b ← μb + g/(√s + ε) and steps
    w ← w − lr·b; `weight_decay` λ adds λw to g; `maximize=True` climbs.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": non_negative, "alpha": fraction, "eps": positive, "weight_decay": non_negative,
        "momentum": non_negative, "centered": flag, "maximize": flag}
    _shown = ("lr", "alpha", "eps")

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-2,
                 alpha: float = 0.99, eps: float = 1e-8, weight_decay: float = 0,
                 momentum: float = 0, centered: bool = False, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered, "maximize": maximize})

    def new_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The step count and the average of g², at zero (and the buffers the options use)."""
        state = {"step": 0.0, "square_avg": np.zeros_like(p.data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(p.data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(p.data)
        return state

    def update(self, group: dict[str, Any], params: list[Tensor],
               grads: list[np.ndarray]) -> None:
        """The average of g² takes in g; w moves by lr·g/(√s + ε) (through the buffer with
        momentum)."""
        lr, alpha, eps, momentum = group["lr"], group["alpha"], group["eps"], group["momentum"]
        weight_decay, centered = group["weight_decay"], group["centered"]
        for p, g in zip(params, grads, strict=True):
            state = self._state_of(p, group)
            state["step"] += 1
            if group["maximize"]:
                g = -g
            if weight_decay:
                g = g + weight_decay * p.data  # g ← g + λw
            square_avg = state["square_avg"]
            square_avg *= alpha
            square_avg += (1 - alpha) * g * g  # s ← αs + (1−α)g²
            if centered:
                grad_avg = state["grad_avg"]
                lerp_(grad_avg, g, 1 - alpha)  # ḡ ← αḡ + (1−α)g
                root = np.sqrt(square_avg - grad_avg * grad_avg)  # √(s − ḡ²)
            else:
                root = np.sqrt(square_avg)
            root += eps
            if momentum > 0:
                buffer = state["momentum_buffer"]
                buffer *= momentum
                buffer += g / root  # b ← μb + g/(√s + ε)
                p.data -= lr * buffer  # w ← w − lr·b
            else:
                p.data -= lr * (g / root)  # w ← w − lr·g/(√s + ε)
