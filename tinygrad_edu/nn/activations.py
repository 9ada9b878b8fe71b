"""Activations as layers, with PyTorch's names, arguments and reprs: each calls its function
(`nn.Sigmoid` is the layer, `ops.SigmoidOp` the math, `F.gelu` the function).

PyTorch's `inplace=True` (ReLU, SiLU, LeakyReLU, ELU) would overwrite the input; here it is
refused in words rather than silently computed out of place.
"""

from __future__ import annotations

import warnings
from typing import Any

from tinygrad_edu import functional
from tinygrad_edu.nn.module import Module, _not_a_tensor
from tinygrad_edu.tensor import Tensor

__all__ = ["ELU", "GELU", "Identity", "LeakyReLU", "LogSoftmax", "ReLU", "SiLU", "Sigmoid",
           "Softmax", "Softplus", "Tanh"]


def _refuse_inplace(layer: str, inplace: bool) -> None:
    """PyTorch's inplace=True writes the result into the input; we do not (say so)."""
    if inplace:
        raise ValueError(f"{layer}: inplace=True is not supported (it would overwrite the "
                         f"input); write {layer}() — the same values, in a new tensor")


def _tensor(layer: Module, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise _not_a_tensor(layer, x)
    return x


class Sigmoid(Module):
    """σ(z) = 1 / (1 + e⁻ᶻ), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """σ of every value of x; the same shape."""
        if not isinstance(x, Tensor):  # (written out, not _tensor(): the MLP's hot path)
            raise _not_a_tensor(self, x)
        return x.sigmoid()


class ReLU(Module):
    """max(z, 0), elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        _refuse_inplace("ReLU", inplace)

    def forward(self, x: Tensor) -> Tensor:
        """max(value, 0) for every value of x; the same shape."""
        return _tensor(self, x).relu()


class Tanh(Module):
    """tanh(z), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh of every value of x; the same shape."""
        return _tensor(self, x).tanh()


class GELU(Module):
    """x·Φ(x), Φ the standard normal distribution function (the activation of BERT and
    GPT); approximate='tanh' gives PyTorch's tanh formula instead of the exact one."""

    def __init__(self, approximate: str = "none") -> None:
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        """GELU of every value of x; the same shape."""
        return functional.gelu(_tensor(self, x), approximate=self.approximate)

    def extra_repr(self) -> str:
        """`approximate='none'`, as PyTorch prints it."""
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x·σ(x) (also called swish), elementwise."""

    def __init__(self, inplace: bool = False) -> None:
        _refuse_inplace("SiLU", inplace)

    def forward(self, x: Tensor) -> Tensor:
        """x·σ(x) for every value of x; the same shape."""
        return functional.silu(_tensor(self, x))


class Softplus(Module):
    """`ln(1 + e^(βx))/β`, a smooth relu; x itself where βx > threshold (as PyTorch)."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        self.beta, self.threshold = beta, threshold

    def forward(self, x: Tensor) -> Tensor:
        """Softplus of every value of x; the same shape."""
        return functional.softplus(_tensor(self, x), self.beta, self.threshold)

    def extra_repr(self) -> str:
        """`beta=1.0, threshold=20.0`, as PyTorch prints it."""
        return f"beta={self.beta}, threshold={self.threshold}"


class LeakyReLU(Module):
    """x where x > 0, negative_slope·x elsewhere."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        _refuse_inplace("LeakyReLU", inplace)
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        """Leaky relu of every value of x; the same shape."""
        return functional.leaky_relu(_tensor(self, x), self.negative_slope)

    def extra_repr(self) -> str:
        """`negative_slope=0.01`, as PyTorch prints it."""
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x where x > 0, α(eˣ − 1) elsewhere."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        _refuse_inplace("ELU", inplace)
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        """ELU of every value of x; the same shape."""
        return functional.elu(_tensor(self, x), self.alpha)

    def extra_repr(self) -> str:
        """`alpha=1.0`, as PyTorch prints it."""
        return f"alpha={self.alpha}"


def _implicit_dim(layer: str, ndim: int) -> int:
    """PyTorch's old rule for Softmax(dim=None): dim 0 for 0-, 1- and 3-d inputs, else 1,
    with PyTorch's warning (the rule guesses; say which dim you mean)."""
    dim = 0 if ndim in (0, 1, 3) else 1
    warnings.warn(f"{layer}: implicit dimension choice for softmax has been deprecated (it "
                  f"took dim={dim} for a {ndim}-d input). Change the call to include "
                  f"dim={dim} as an argument.", UserWarning, stacklevel=3)
    return dim


class Softmax(Module):
    """`e^xᵢ / Σⱼ e^xⱼ` along `dim`: each slice along it becomes probabilities."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Softmax of x along `dim`; the same shape."""
        x = _tensor(self, x)
        dim = _implicit_dim("Softmax", x.ndim) if self.dim is None else self.dim
        return x.softmax(dim=dim)

    def extra_repr(self) -> str:
        """`dim=1`, as PyTorch prints it."""
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """`xᵢ − log Σⱼ e^xⱼ` along `dim`, computed stably (not as the log of softmax)."""

    def __init__(self, dim: int | None = None) -> None:
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        """Log-softmax of x along `dim`; the same shape."""
        x = _tensor(self, x)
        dim = _implicit_dim("LogSoftmax", x.ndim) if self.dim is None else self.dim
        return x.log_softmax(dim=dim)

    def extra_repr(self) -> str:
        """`dim=1`, as PyTorch prints it."""
        return f"dim={self.dim}"


class Identity(Module):
    """Returns its input unchanged: a placeholder where a layer may go (arguments are
    accepted and ignored, as PyTorch's)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def forward(self, x: Tensor) -> Tensor:
        """x itself (the same tensor, not a copy)."""
        return _tensor(self, x)
