"""Optimizers: they read each parameter's `.grad` and change its values (`torch.optim`)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tinygrad_edu.tensor import Tensor


class Optimizer:
    """Holds the parameters to update; `zero_grad()` forgets their gradients.

    A parameter listed twice is kept once, so one `step()` never updates it twice.
    """

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        unique: dict[int, Tensor] = {}
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameters must be Tensors, got "
                                f"{type(p).__name__}")
            unique.setdefault(id(p), p)
        self.params = list(unique.values())
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        if lr <= 0:
            raise ValueError(f"{type(self).__name__}: lr must be positive, got {lr}")
        self.lr = lr

    def zero_grad(self) -> None:
        """Set every parameter's `.grad` to None (PyTorch's default)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError


class SGD(Optimizer):
    """Gradient descent: w ← w − lr·∂C/∂w (the lessons' "step downhill").

    With `weight_decay` λ the gradient gets λ·w added (L2 regularisation). With `momentum`
    μ a velocity v ← μ·v + g accumulates past gradients and the step is w ← w − lr·v
    (PyTorch's form; the first step uses v = g).
    """

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity: dict[int, np.ndarray] = {}

    def step(self) -> None:
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                v = self.velocity.get(id(p))
                v = g.copy() if v is None else self.momentum * v + g
                self.velocity[id(p)] = g = v
            # in place, so anything holding p.data sees the new values
            p.data -= self.lr * g


class Adam(Optimizer):
    """Adam: steps scaled per weight by running averages of the gradient and its square.

    m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ),
    w ← w − lr·m̂/(√v̂ + ε).
    """

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        super().__init__(params, lr)
        self.betas, self.eps = betas, eps
        self.steps = 0
        self.first: dict[int, np.ndarray] = {}
        self.second: dict[int, np.ndarray] = {}

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = self.betas
        for p in self.params:
            if p.grad is None:
                continue
            g = p.grad.data
            m = beta1 * self.first.get(id(p), 0.0) + (1 - beta1) * g
            v = beta2 * self.second.get(id(p), 0.0) + (1 - beta2) * g * g
            self.first[id(p)], self.second[id(p)] = m, v
            m_hat = m / (1 - beta1 ** self.steps)
            v_hat = v / (1 - beta2 ** self.steps)
            p.data -= (self.lr * m_hat / (np.sqrt(v_hat) + self.eps)).astype(p.dtype)
