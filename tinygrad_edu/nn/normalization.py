"""Normalization (batch norm, layer norm) and dropout: layers that rescale what passes
through them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn.module import Buffer, Module, Parameter, _not_a_tensor
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None

__all__ = ["BatchNorm1d", "BatchNorm2d", "Dropout", "LayerNorm"]


class Dropout(Module):
    """While training, each value is zeroed with probability p (the rest scaled by
    1/(1 − p); p = 1 zeroes everything); in evaluation (`model.eval()`) it passes
    everything through."""

    def __init__(self, p: float = 0.5, seed: Seed = None) -> None:
        self.p = functional._probability("Dropout", p)
        # with no seed, each call draws from the default generator as it is then, so a
        # tg.manual_seed() after building the model decides the masks, as in PyTorch
        self.generator = None if seed is None else random_generator(seed)

    def forward(self, x: Tensor) -> Tensor:
        """x with values zeroed at random and the rest scaled up (training), or x as it is."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        """The probability of zeroing, shown in the repr."""
        return f"p={self.p}"


class BatchNorm2d(Module):
    """Each channel normalised over the batch and positions, then scaled and shifted:
    y = (x − mean) / √(var + eps) · weight + bias. Training uses the batch's statistics
    and updates `running_mean`/`running_var` (buffers); evaluation uses those."""

    expected_dims: tuple[int, ...] = (4,)
    layout = "(N, C, H, W)"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype), name="weight") if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype), name="bias") if affine else None
        self.running_mean = Buffer(np.zeros(num_features, dtype)) if track_running_stats else None
        self.running_var = Buffer(np.ones(num_features, dtype)) if track_running_stats else None
        self.num_batches_tracked = (Buffer(np.zeros((), np.int64)) if track_running_stats
                                    else None)

    def forward(self, x: Tensor) -> Tensor:
        """x normalised per channel (feature), then scaled and shifted; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        if x.ndim not in self.expected_dims or x.shape[1] != self.num_features:
            raise ValueError(f"{self!r}: expects input of shape {self.layout} with C = "
                             f"{self.num_features}, got {x.shape}")
        return functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                     self.bias, self.training, self.momentum, self.eps,
                                     self.num_batches_tracked)

    def extra_repr(self) -> str:
        """Features, eps, momentum and whether it is affine, shown in the repr."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.weight is not None}")


class BatchNorm1d(BatchNorm2d):
    """Batch normalisation of (N, C) inputs (each feature over the batch) or of signals
    (N, C, L) (each channel over the batch and the positions)."""

    expected_dims = (2, 3)
    layout = "(N, C) or (N, C, L)"


class LayerNorm(Module):
    """Each sample normalised over its last axes (normalized_shape), then scaled by
    `weight` and shifted by `bias` of that shape."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, dtype: Any = DEFAULT_DTYPE) -> None:
        shape = functional._normalized_shape("LayerNorm", normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        affine = elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype), name="weight") if affine else None
        self.bias = Parameter(np.zeros(shape, dtype), name="bias") if affine else None

    def forward(self, x: Tensor) -> Tensor:
        """Each sample of x normalised over its last axes, then scaled and shifted."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """The normalised shape and eps, shown in the repr."""
        return f"{self.normalized_shape}, eps={self.eps}"
