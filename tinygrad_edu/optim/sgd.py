"""SGD: gradient descent, with momentum, Nesterov momentum and weight decay
(`torch.optim.SGD`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.optim.optimizer import Optimizer, Rule, finite, flag, non_negative
from tinygrad_edu.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """Gradient descent: w ← w − lr·g, the lessons' "step downhill".

    With `weight_decay` λ the gradient gets λ·w added (L2 regularisation). With `momentum`
    μ a velocity v ← μ·v + (1 − dampening)·g gathers past gradients (v = g at the first
    step) and the step is w ← w − lr·v; with `nesterov=True` it is w ← w − lr·(g + μ·v).
    `maximize=True` climbs instead of descending. PyTorch's arguments and defaults.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": non_negative, "momentum": non_negative, "dampening": finite,
        "weight_decay": non_negative, "nesterov": flag, "maximize": flag}
    optional_state = ("momentum_buffer",)  # made at a parameter's first step with momentum
    _shown = ("lr", "momentum", "weight_decay")

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 momentum: float = 0, dampening: float = 0, weight_decay: float = 0,
                 nesterov: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize})

    def _checked_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super()._checked_settings(settings)
        if settings.get("nesterov") and (settings["momentum"] <= 0 or settings["dampening"]):
            raise ValueError("SGD: Nesterov momentum requires a momentum and zero dampening, "
                             f"got momentum={settings['momentum']}, "
                             f"dampening={settings['dampening']}")
        return settings

    def update(self, group: dict[str, Any], params: list[Tensor],
               grads: list[np.ndarray]) -> None:
        """w ← w − lr·g, with weight decay and momentum folded into g first when set."""
        lr, momentum, weight_decay = group["lr"], group["momentum"], group["weight_decay"]
        maximize = group["maximize"]
        if not (momentum or weight_decay or maximize):  # the lessons' plain step, kept lean:
            for p, g in zip(params, grads, strict=False):  # (the digit network's hot path;
                p.data -= lr * g  # w ← w − lr·g   # one loop made both lists: equally long)
            return
        dampening, nesterov = group["dampening"], group["nesterov"]
        for p, g in zip(params, grads, strict=True):
            if maximize:
                g = -g
            if weight_decay:
                g = g + weight_decay * p.data  # g ← g + λw
            if momentum:
                state = self.state[p]
                v = state.get("momentum_buffer")
                if v is None:
                    v = state["momentum_buffer"] = g.copy()  # v ← g at the first step
                else:
                    v *= momentum
                    v += (1 - dampening) * g if dampening else g  # v ← μv + (1 − dampening)g
                g = g + momentum * v if nesterov else v
            p.data -= lr * g  # w ← w − lr·g
