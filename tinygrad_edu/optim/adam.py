"""Adam and AdamW: steps scaled per weight by running averages of the gradient and of its
square (`torch.optim.Adam`, `torch.optim.AdamW`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.optim.optimizer import Optimizer, Rule, betas, flag, lerp_, non_negative, positive
from tinygrad_edu.tensor import Tensor

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    """Adam: m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  w ← w − lr·m̂/(√v̂ + ε), where
    m̂ = m/(1−β₁ᵗ) and v̂ = v/(1−β₂ᵗ) undo the averages' start at zero.

    Each parameter counts its own steps t, as in PyTorch: one whose first gradient comes
    late starts its correction then. `weight_decay` λ adds λw to the gradient (or, with
    `decoupled_weight_decay=True`, which is AdamW, shrinks w by lr·λ directly);
    `amsgrad=True` divides by the largest v̂ so far; `maximize=True` climbs.
    """

    rules: ClassVar[dict[str, Rule]] = {
        "lr": non_negative, "betas": betas, "eps": positive, "weight_decay": non_negative,
        "amsgrad": flag, "maximize": flag, "decoupled_weight_decay": flag}
    _shown = ("lr", "betas", "eps", "weight_decay")

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad,
                                  "maximize": maximize,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    def new_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """The step count and both running averages, at zero (and the largest v, amsgrad)."""
        state = {"step": 0.0, "exp_avg": np.zeros_like(p.data),
                 "exp_avg_sq": np.zeros_like(p.data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(p.data)
        return state

    def update(self, group: dict[str, Any], params: list[Tensor],
               grads: list[np.ndarray]) -> None:
        """The averages m and v take in g; w moves by lr·m̂/(√v̂ + ε)."""
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        weight_decay, amsgrad = group["weight_decay"], group["amsgrad"]
        for p, g in zip(params, grads, strict=True):
            state = self._state_of(p, group)
            state["step"] = t = state["step"] + 1  # this parameter's own count
            if group["maximize"]:
                g = -g
            if weight_decay and group["decoupled_weight_decay"]:
                p.data *= 1 - lr * weight_decay  # w ← w(1 − lr·λ): AdamW
            elif weight_decay:
                g = g + weight_decay * p.data  # g ← g + λw
            m, v = state["exp_avg"], state["exp_avg_sq"]
            lerp_(m, g, 1 - beta1)  # m ← β₁m + (1−β₁)g
            v *= beta2
            v += (1 - beta2) * g * g  # v ← β₂v + (1−β₂)g²
            if amsgrad:
                v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            denominator = np.sqrt(v)
            denominator /= (1 - beta2 ** t) ** 0.5
            denominator += eps  # √v̂ + ε
            denominator = np.divide(m, denominator, out=denominator)
            denominator *= lr / (1 - beta1 ** t)
            p.data -= denominator  # w ← w − lr·m̂/(√v̂ + ε)


class AdamW(Adam):
    """Adam with decoupled weight decay: w ← w(1 − lr·λ) at each step, apart from the
    gradient's averages (λ = `weight_decay`, 0.01 by default, as in PyTorch)."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def _checked_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        settings = super()._checked_settings(settings)
        settings["decoupled_weight_decay"] = True  # (as PyTorch's AdamW after loading)
        return settings
