"""Optimizers: they read each parameter's `.grad` and change its values (`torch.optim`)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from tinygrad_edu.tensor import Recording, Tensor, bump_together, note_call

__all__ = ["SGD", "Adam", "Optimizer"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


class Optimizer:
    """Holds the parameters to update; `zero_grad()` forgets their gradients, `step()`
    calls `update(p, g)` for every parameter that has a gradient.

    A parameter listed twice is kept once, so one `step()` never updates it twice.
    Settings are checked as PyTorch checks them: a NaN or negative learning rate would
    quietly turn every weight into NaN or climb the cost instead of descending it.
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        unique: dict[int, Tensor] = {}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got "
                                f"{type(p).__name__}")
            unique.setdefault(id(p), p)
        self.params = list(unique.values())
        # every update is counted (see step): each parameter's counter, made now
        self.versions = [p._version_counter() for p in self.params]
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        self._check("lr", lr, lr >= 0, "a finite number ≥ 0")
        self.lr = lr

    def _check(self, name: str, value: float, valid: bool, expected: str) -> None:
        """Raise if a setting is invalid (NaN fails every comparison, so it never passes)."""
        if not (valid and math.isfinite(value)):
            raise ValueError(f"{type(self).__name__}: {name} must be {expected}, got {value}")

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: set `.grad` to None (PyTorch's default), or
        fill it with zeros where `set_to_none=False`."""
        if Recording.active is not None:  # a jit step: replays call this again here
            note_call(lambda: self.zero_grad(set_to_none))
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def step(self) -> None:
        """One update of every parameter that has a gradient."""
        if Recording.active is not None:  # a jit step: replays call this again here
            note_call(self.step)
        changed = []
        for p, versions in zip(self.params, self.versions, strict=True):
            if p.grad is not None:
                self.update(p, p.grad.data)  # in place: whatever holds p.data sees new values
                changed.append(versions)
        # the versions go up, so a graph that saved the old values refuses to backpropagate
        bump_together(changed)

    def update(self, p: Tensor, g: np.ndarray) -> None:
        """Change `p.data` in place, given its gradient `g`."""
        raise NotImplementedError(f"{type(self).__name__} has no update")

    def __repr__(self) -> str:
        """`SGD(6 parameters, lr=0.1, …)`: the class, how many parameters, the settings."""
        settings = ", ".join(f"{k}={v}" for k, v in vars(self).items()
                             if isinstance(v, (int, float, tuple)) and k != "steps")
        return f"{type(self).__name__}({len(self.params)} parameters, {settings})"


class SGD(Optimizer):
    """Gradient descent: w ← w − lr·∂C/∂w (the lessons' "step downhill").

    With `weight_decay` λ the gradient gets λ·w added (L2 regularisation). With `momentum`
    μ a velocity v ← μ·v + g accumulates past gradients and the step is w ← w − lr·v
    (PyTorch's form; the first step uses v = g).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self._check("momentum", momentum, momentum >= 0, "a finite number ≥ 0")
        self._check("weight_decay", weight_decay, weight_decay >= 0, "a finite number ≥ 0")
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity: dict[int, np.ndarray] = {}

    def update(self, p: Tensor, g: np.ndarray) -> None:
        """w ← w − lr·g, with weight decay and momentum folded into g first when set."""
        if self.weight_decay:
            g = g + self.weight_decay * p.data
        if self.momentum:
            v = self.velocity.get(id(p))
            v = g.copy() if v is None else self.momentum * v + g
            self.velocity[id(p)] = g = v
        p.data -= self.lr * g


class Adam(Optimizer):
    """Adam: steps scaled per weight by running averages of the gradient and its square.

    m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),
    w ← w − lr·m̂/(√v̂ + ε).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        for i, beta in enumerate(betas):
            self._check(f"betas[{i}]", beta, 0 <= beta < 1, "in [0, 1)")
        self._check("eps", eps, eps > 0, "a finite number > 0")
        self.betas, self.eps = tuple(betas), eps
        self.steps = 0
        self.first: dict[int, np.ndarray] = {}
        self.second: dict[int, np.ndarray] = {}

    def step(self) -> None:
        """One update of every parameter that has a gradient (counting the steps, t)."""
        self.steps += 1  # t in the bias corrections 1 − βᵗ
        super().step()

    def update(self, p: Tensor, g: np.ndarray) -> None:
        """The running averages m and v take in g; w moves by lr·m̂/(√v̂ + ε)."""
        beta1, beta2 = self.betas
        m = beta1 * self.first.get(id(p), 0.0) + (1 - beta1) * g
        v = beta2 * self.second.get(id(p), 0.0) + (1 - beta2) * g * g
        self.first[id(p)], self.second[id(p)] = m, v
        m_hat = m / (1 - beta1 ** self.steps)
        v_hat = v / (1 - beta2 ** self.steps)
        p.data -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype)
