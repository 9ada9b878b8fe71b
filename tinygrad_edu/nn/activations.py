"""Activations as layers: each calls its op (`nn.Sigmoid` is the layer, `ops.SigmoidOp` the
math).
"""

from __future__ import annotations

from tinygrad_edu.nn.module import Module, _not_a_tensor
from tinygrad_edu.tensor import Tensor

__all__ = ["ReLU", "Sigmoid", "Tanh"]


class Sigmoid(Module):
    """σ(z) = 1 / (1 + e⁻ᶻ), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """σ of every value of x; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.sigmoid()


class ReLU(Module):
    """max(z, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """max(value, 0) for every value of x; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.relu()


class Tanh(Module):
    """tanh(z), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh of every value of x; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.tanh()
