"""Fully connected layers: Linear, z = x Wᵀ + b, and MLP, the lessons' network of them.

The flagship network of the lessons is `MLP([784, 16, 16, 10])`: three layers, each
a(l) = σ(W(l) a(l−1) + b(l)), with W(l) of shape (outputs, inputs), so row j holds the
weights of neuron j. 784·16 + 16 + 16·16 + 16 + 16·10 + 10 = 13,002 parameters.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn.activations import ReLU, Sigmoid, Tanh
from tinygrad_edu.nn.module import (
    Module,
    Parameter,
    Sequential,
    _not_a_tensor,
)
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None

__all__ = ["INITIALISERS", "MLP", "Linear", "initial_weights"]


INITIALISERS = ("xavier", "lecun", "nielsen")


def initial_weights(fan_in: int, fan_out: int, init: str, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Starting weights (fan_out, fan_in) and biases (fan_out,) for one layer.

    - "xavier" (Glorot): W ~ U(−√(6/(in+out)), +√(6/(in+out))), b = 0. Keeps the spread of
      weighted sums near 1 in both directions: the default, good for sigmoid and tanh.
    - "lecun": W ~ N(0, 1/in), b = 0.
    - "nielsen": W, b ~ N(0, 1), as in Nielsen's book (chapter 1); sums of 784 such terms
      saturate the sigmoids, which is what his chapter 3 then improves on.
    """
    if init == "xavier":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_out, fan_in)), np.zeros(fan_out)
    if init == "lecun":
        return rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in), np.zeros(fan_out)
    if init == "nielsen":
        return rng.standard_normal((fan_out, fan_in)), rng.standard_normal(fan_out)
    raise ValueError(f"initial_weights: init must be one of {INITIALISERS}, got {init!r}")



class Linear(Module):
    """z = x Wᵀ + b, with `weight` W of shape (out_features, in_features) and `bias` b of
    shape (out_features,): neuron j computes z_j = Σ_k W_jk x_k + b_j."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "xavier", seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        in_features = functional.whole_number(in_features, "in_features", "Linear")
        out_features = functional.whole_number(out_features, "out_features", "Linear")
        weight, b = initial_weights(in_features, out_features, init, random_generator(seed))
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(weight.astype(dtype), name="weight")
        self.bias = Parameter(b.astype(dtype), name="bias") if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (…, in_features) → x Wᵀ + b, shape (…, out_features)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """Sizes and whether there is a bias, shown in the repr."""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")



ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}


def _activation_class(spec: str | type[Module] | None) -> type[Module] | None:
    """"sigmoid" → Sigmoid; a Module class or None as it is; anything else is an error."""
    if spec is None or (isinstance(spec, type) and issubclass(spec, Module)):
        return spec
    if spec not in ACTIVATIONS:
        raise ValueError(f"MLP: activation must be one of {list(ACTIVATIONS)}, a Module "
                         f"class or None, got {spec!r}")
    return ACTIVATIONS[spec]


class MLP(Sequential):
    """A fully connected network: `MLP([784, 16, 16, 10])` is the lessons' digit network.

    Linear layers with an activation after each (sigmoid by default, the output layer too,
    as in the lessons). `output_activation=None` leaves the last layer's weighted sums as
    they are (logits, for `cross_entropy`). Layers sit at even indices, so the state_dict
    keys are "0.weight", "0.bias", "2.weight", … exactly as for the same
    `torch.nn.Sequential`, and the weights load there unchanged.
    """

    def __init__(self, sizes: list[int], activation: str | type[Module] | None = "sigmoid",
                 output_activation: str | type[Module] | None = "sigmoid",
                 init: str = "xavier", seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, "
                             f"got {sizes}")
        hidden, output = _activation_class(activation), _activation_class(output_activation)
        rng = random_generator(seed)
        modules: list[Module] = []
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            modules.append(Linear(fan_in, fan_out, init=init, seed=rng, dtype=dtype))
            act = output if i == len(sizes) - 2 else hidden
            if act is not None:
                modules.append(act())
        super().__init__(*modules)
        self.sizes = list(sizes)
        self.name_parameters()  # its own new layers: "0.weight", … in pictures and traces
