"""Layers for images: convolution, pooling, flattening.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn.module import Module, Parameter, _not_a_tensor
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None

__all__ = ["AvgPool2d", "Conv2d", "Flatten", "MaxPool2d"]


class Conv2d(Module):
    """A 2-D convolution: `weight` (out_channels, in_channels, kH, kW), `bias` (out,).
    Output channel o at each place is Σ over channels and window of weight[o] · x + b[o].
    Starting weights as PyTorch's: U(−1/√fan_in, 1/√fan_in), fan_in = in·kH·kW."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True, seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = functional._pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = functional._pair(stride, "stride", "Conv2d", 1)
        self.padding = functional._pair(padding, "padding", "Conv2d", 0)
        rng = random_generator(seed)
        bound = 1 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype), name="weight")
        self.bias = (Parameter(rng.uniform(-bound, bound, out_channels).astype(dtype),
                               name="bias") if bias else None)

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, in_channels, H, W) → (N, out_channels, H', W'), with
        H' = (H + 2·padding − kH) // stride + 1 (W' alike)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expects input of shape (N, {self.in_channels}, H, W), "
                             f"got {x.shape}")
        try:
            return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        except ValueError as err:
            raise ValueError(f"{self!r}: {err}") from None

    def extra_repr(self) -> str:
        """Channels, kernel size, stride, padding and bias, shown in the repr."""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """The largest value of each kernel_size window (stride: the kernel size by default)."""

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None) -> None:
        self.kernel_size = functional._pair(kernel_size, "kernel_size", "MaxPool2d", 1)
        self.stride = (self.kernel_size if stride is None
                       else functional._pair(stride, "stride", "MaxPool2d", 1))

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, C, H, W) → the maximum of each window, (N, C, H', W')."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        """Window size and stride, shown in the repr."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(MaxPool2d):
    """The mean of each kernel_size window (stride: the kernel size by default)."""

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, C, H, W) → the mean of each window, (N, C, H', W')."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.avg_pool2d(x, self.kernel_size, self.stride)


class Flatten(Module):
    """Axes start_dim..end_dim merged into one: (N, C, H, W) → (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """x with axes start_dim..end_dim merged into one (the values unchanged)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.flatten(self.start_dim, self.end_dim)
