"""Layers for images and signals: convolution (1-D and 2-D), pooling, flattening.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn.module import Module, Parameter, _not_a_tensor
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None
Size = int | tuple[int, ...]

__all__ = ["AvgPool1d", "AvgPool2d", "Conv1d", "Conv2d", "Flatten", "MaxPool1d", "MaxPool2d"]


class _ConvNd(Module):
    """What Conv1d and Conv2d share: the arguments checked, the weights made, the input's
    shape checked. `dims` is the number of spatial axes (1: L; 2: H, W)."""

    dims = 2
    spatial = "H, W"

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Size,
                 stride: Size = 1, padding: Size | str = 0, dilation: Size = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        name, dims = type(self).__name__, self.dims
        self.in_channels = functional.whole_number(in_channels, "in_channels", name, 1)
        self.out_channels = functional.whole_number(out_channels, "out_channels", name, 1)
        self.kernel_size = functional._sizes(kernel_size, dims, "kernel_size", name, 1)
        self.stride = functional._sizes(stride, dims, "stride", name, 1)
        self.dilation = functional._sizes(dilation, dims, "dilation", name, 1)
        self.groups = functional.whole_number(groups, "groups", name, 1)
        functional._conv_padding(name, padding, self.kernel_size, self.stride, self.dilation)
        self.padding = padding if isinstance(padding, str) else functional._sizes(
            padding, dims, "padding", name, 0)
        for what, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if channels % self.groups:
                raise ValueError(f"{name}: {what} must be divisible by groups, got {what}="
                                 f"{channels}, groups={self.groups}")
        if padding_mode != "zeros":
            raise NotImplementedError(f"{name}: padding_mode={padding_mode!r} is not "
                                      "supported; only 'zeros' (the default)")
        self.padding_mode = padding_mode
        self._make_parameters(bias, random_generator(seed), dtype)

    def _make_parameters(self, bias: bool, rng: np.random.Generator, dtype: Any) -> None:
        """PyTorch's start: U(−1/√fan_in, 1/√fan_in), fan_in = in/groups · kernel size."""
        shape = (self.out_channels, self.in_channels // self.groups, *self.kernel_size)
        bound = 1 / np.sqrt(np.prod(shape[1:]))
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype), name="weight")
        self.bias = (Parameter(rng.uniform(-bound, bound, self.out_channels).astype(dtype),
                               name="bias") if bias else None)

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, in_channels, *spatial) or (in_channels, *spatial) → out_channels
        channels; each output size is (size + 2·padding − dilation·(k − 1) − 1) // stride + 1
        (with padding='same': the input's size)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        if x.ndim not in (self.dims + 1, self.dims + 2) or x.shape[-self.dims - 1] != \
                self.in_channels:
            c, spatial = self.in_channels, self.spatial
            raise ValueError(f"{self!r}: expects input of shape ({c}, {spatial}) or (N, {c}, "
                             f"{spatial}), got {x.shape}")
        try:
            return functional._conv(f"conv{self.dims}d", self.dims, x, self.weight, self.bias,
                                    self.stride, self.padding, self.dilation, self.groups)
        except ValueError as err:
            raise ValueError(f"{self!r}: {err}") from None

    def extra_repr(self) -> str:
        """Channels, kernel size, stride and the options that differ from the defaults, as
        PyTorch shows them."""
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0,) * self.dims:
            text += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        return text + ("" if self.bias is not None else ", bias=False")


class Conv2d(_ConvNd):
    """A 2-D convolution: `weight` (out_channels, in_channels/groups, kH, kW), `bias` (out,).
    Output channel o at each place is Σ over its group's channels and the window of
    weight[o] · x + b[o]. `padding`: an int, a pair, 'valid' or 'same'; `dilation` spreads
    the kernel's taps apart; `groups` splits the channels into groups with their own
    weights (groups = in_channels: one filter per channel, "depthwise").
    Starting weights as PyTorch's: U(−1/√fan_in, 1/√fan_in), fan_in = in/groups·kH·kW."""

    dims = 2
    spatial = "H, W"


class Conv1d(_ConvNd):
    """A 1-D convolution over signals (N, C, L), e.g. WaveNet's dilated stacks: `weight`
    (out_channels, in_channels/groups, k), `bias` (out,); the options of Conv2d. Computed
    as a 2-D convolution of height 1."""

    dims = 1
    spatial = "L"


class MaxPool2d(Module):
    """The largest value of each kernel_size window (stride: the kernel size by default),
    over the input padded with −∞; ceil_mode keeps a last partial window; return_indices
    makes the layer return (values, indices) as PyTorch's."""

    dims = 2

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0,
                 dilation: Size = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        functional._pool_args(type(self).__name__, self.dims, kernel_size, stride, padding,
                              dilation)  # (errors now, at construction)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.dilation = padding, dilation
        self.return_indices, self.ceil_mode = return_indices, ceil_mode

    def forward(self, x: Tensor) -> Any:
        """x of shape (N, C, H, W) or (C, H, W) → the maximum of each window (and, with
        return_indices, where it is)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional._max_pool(f"max_pool{self.dims}d", self.dims, x, self.kernel_size,
                                    self.stride, self.padding, self.dilation, self.ceil_mode,
                                    self.return_indices)

    def extra_repr(self) -> str:
        """Window, stride, padding, dilation and ceil_mode, shown in the repr."""
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding="
                f"{self.padding}, dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(MaxPool2d):
    """The largest value of each window of a signal (N, C, L) or (C, L); as MaxPool2d."""

    dims = 1


class AvgPool2d(Module):
    """The mean of each kernel_size window (stride: the kernel size by default), over the
    input padded with zeros (counted in the mean unless count_include_pad=False)."""

    dims = 2

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        functional._pool_args(type(self).__name__, self.dims, kernel_size, stride, padding, 1)
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, C, H, W) or (C, H, W) → the mean of each window."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional._avg_pool(f"avg_pool{self.dims}d", self.dims, x, self.kernel_size,
                                    self.stride, self.padding, self.ceil_mode,
                                    self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        """Window, stride and padding, shown in the repr."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(AvgPool2d):
    """The mean of each window of a signal (N, C, L) or (C, L); as AvgPool2d."""

    dims = 1

    def __init__(self, kernel_size: Size, stride: Size | None = None, padding: Size = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class Flatten(Module):
    """Axes start_dim..end_dim merged into one: (N, C, H, W) → (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """x with axes start_dim..end_dim merged into one (the values unchanged)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.flatten(self.start_dim, self.end_dim)
