"""Images: windows out into columns (im2col) and back (col2im), convolution, pooling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import add_bias, permute, values
from tinygrad_edu.tensor import Function, Tensor

__all__ = [
    "Conv2dOp", "Fold", "MaxPool2dOp", "Unfold", "avg_pool2d", "conv_input_gradient",
    "conv_output_size", "fold", "unfold",
]


# ----------------------------------------------------------------------------------------
# Images: windows out into columns (im2col) and back (col2im), max pooling
# ----------------------------------------------------------------------------------------
# A convolution slides a kH×kW window over each image and takes a weighted sum of what it
# sees. Unfold copies every window's values into one column, so all those sums become one
# matrix product (a 1-channel 4×4 image, 3×3 windows, stride 1: 2×2 places):
#
#     image            window at place 0     columns: one per place, 9 values each
#     a b c d          a b c                  place:  0  1  2  3
#     e f g h    →     e f g          →             a  b  e  f
#     i j k l          i j k                        b  c  f  g
#     m n o p                                       …  …  …  …
#                                                   k  l  o  p
#
#     weight (out, C·kH·kW) @ columns (N, C·kH·kW, places) = (N, out, places) → (N, out, 2, 2)
#
# Each image gets its own block of columns, so the batch is a stack of N matrices and `@`
# multiplies the same weights into every one of them (the layout of PyTorch's F.unfold).
# The result is already in (N, out, H, W) order: no transpose, no copy.
#
# Fold is the reverse: it adds each column's values back into the window they came from
# (where windows overlap, they add up). That is exactly Unfold's gradient, and Unfold is
# Fold's, so a convolution built from them can be differentiated twice. Conv2d below is
# one op made of these steps (unfold, product, bias; in backward, products and fold).


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """How many window positions fit along one axis."""
    return (size + 2 * padding - kernel) // stride + 1


def _windows(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int],
             writeable: bool = False) -> np.ndarray:
    """A view (N, C, outH, outW, kH, kW) of every window of x (N, C, H, W), no copy: numpy's
    stride tricks step through the same memory in window-sized hops."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw) = kernel, stride
    sn, sc, sy, sx = x.strides
    shape = (n, c, (h - kh) // sh + 1, (w - kw) // sw + 1, kh, kw)
    return np.lib.stride_tricks.as_strided(x, shape, (sn, sc, sy * sh, sx * sw, sy, sx),
                                           writeable=writeable)


def unfold(x: Any, kernel: tuple[int, int], stride: tuple[int, int],
           padding: tuple[int, int]) -> Any:
    """Unfold for an array or a Tensor."""
    if isinstance(x, Tensor):
        return Unfold.apply(x, kernel=kernel, stride=stride, padding=padding)
    return Unfold().forward(x, kernel, stride, padding)


def fold(columns: Any, shape: tuple[int, ...], kernel: tuple[int, int],
         stride: tuple[int, int], padding: tuple[int, int]) -> Any:
    """Fold for an array or a Tensor."""
    if isinstance(columns, Tensor):
        return Fold.apply(columns, shape=shape, kernel=kernel, stride=stride, padding=padding)
    return Fold().forward(columns, shape, kernel, stride, padding)


class Unfold(Function):
    """(N, C, H, W) → (N, C·kH·kW, places): each window of each image as a column (im2col)."""

    def forward(self, x, kernel, stride, padding):
        self.shape, self.kernel, self.stride, self.padding = x.shape, kernel, stride, padding
        (ph, pw) = padding
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        windows = _windows(padded, kernel, stride)  # (any memory layout: strides are read)
        n, c, oh, ow, kh, kw = windows.shape
        return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)

    # each pixel was copied into every window covering it: its gradient sums those copies
    def backward(self, grad, out, x):
        return fold(grad, self.shape, self.kernel, self.stride, self.padding)


class Fold(Function):
    """(N, C·kH·kW, places) → (N, C, H, W): columns added back into their windows (col2im)."""

    def forward(self, columns, shape, kernel, stride, padding):
        self.kernel, self.stride, self.padding = kernel, stride, padding
        n, c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw) = kernel, stride, padding
        oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
        blocks = columns.reshape(n, c, kh, kw, oh, ow)
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), columns.dtype)
        windows = _windows(padded, kernel, stride, writeable=True)  # its windows, written to
        for i, j in np.ndindex(kh, kw):  # one strided add per kernel offset: kH·kW in all
            windows[..., i, j] += blocks[:, :, i, j]  # (one offset's windows never overlap)
        return padded[:, :, ph:ph + h, pw:pw + w]  # (a view: the inside, not copied)

    # Fold adds each column into its window; reading the windows out again is its gradient
    def backward(self, grad, out, columns):
        return unfold(grad, self.kernel, self.stride, self.padding)


def conv_input_gradient(dz: np.ndarray, weight: np.ndarray, shape: tuple[int, ...],
                        stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """∂C/∂x of a convolution: fold(Wᵀ · ∂C/∂z), with the batch as the last axis.

    Fold adds kH·kW blocks into the image, each a strided slice. In (N, C, H, W) order
    numpy's innermost loop runs along one window row (outW numbers, 10 in the LeNet's
    second layer) and the loop overhead dominates. With the image laid out (C, H, W, N),
    a row of windows and the batch are adjacent in memory, so each add runs over
    outW·N numbers at a time: the same sums, measured 3.8 against 7.5 ms at batch 128.
    """
    n, c, h, w = shape
    out_channels, _, kh, kw = weight.shape
    (sh, sw), (ph, pw) = stride, padding
    oh, ow = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    dz_last = dz.transpose(1, 2, 0).reshape(out_channels, -1)  # (out, places·N)
    weight_last = weight.transpose(2, 3, 1, 0).reshape(-1, out_channels)  # (kH·kW·C, out)
    blocks = (weight_last @ dz_last).reshape(kh, kw, c, oh, ow, n)  # Wᵀ·∂C/∂z, column-wise
    padded = np.zeros((c, h + 2 * ph, w + 2 * pw, n), blocks.dtype)
    for i, j in np.ndindex(kh, kw):  # offset (i, j) of every window at once
        padded[:, i:i + sh * (oh - 1) + 1:sh, j:j + sw * (ow - 1) + 1:sw] += blocks[i, j]
    return np.ascontiguousarray(padded[:, ph:ph + h, pw:pw + w].transpose(3, 0, 1, 2))


class Conv2dOp(Function):
    """z = weight ⋆ x + bias: the windows out as columns (Unfold), one matrix product.
    x (N, C, H, W), weight (out, C, kH, kW), bias (out,) → (N, out, outH, outW).

    One op rather than Unfold, matmul and add, so that the columns live only inside it
    (see backward) and the bias is added in place."""

    def forward(self, x, weight, bias=None, *, stride, padding):
        self.stride, self.padding = stride, padding
        out_channels, _, kh, kw = weight.shape
        oh = conv_output_size(x.shape[2], kh, stride[0], padding[0])
        ow = conv_output_size(x.shape[3], kw, stride[1], padding[1])
        columns = unfold(x, (kh, kw), stride, padding)  # (N, C·kH·kW, places)
        z = weight.reshape(out_channels, -1) @ columns  # (N, out, places): a product per image
        if bias is not None:
            z = add_bias(z, bias.reshape(out_channels, 1))  # one per channel, at every place
        return z.reshape(x.shape[0], out_channels, oh, ow)

    # with z = W·columns + b per image: ∂C/∂W = Σ_images ∂C/∂z · columnsᵀ,
    # ∂C/∂x = fold(Wᵀ · ∂C/∂z) (each column's share back to its window), ∂C/∂b = Σ ∂C/∂z
    def backward(self, grad, out, x, weight, bias=None):
        needs = self.needs_input_grad
        out_channels, _, kh, kw = weight.shape
        dz = grad.reshape(grad.shape[0], out_channels, -1)  # (N, out, places)
        flat_weight = weight.reshape(out_channels, -1)
        dx = dw = None
        if needs[0] and isinstance(grad, Tensor):  # under create_graph: recorded ops
            dx = fold(flat_weight.T @ dz, x.shape, (kh, kw), self.stride, self.padding)
        elif needs[0]:  # the same sum, laid out for speed (see conv_input_gradient)
            dx = conv_input_gradient(dz, weight, x.shape, self.stride, self.padding)
        if needs[1]:  # the columns are unfolded again rather than kept from forward: they
            # are the step's largest arrays (C·kH·kW numbers per output place), and holding
            # them until backward made the LeNet's step 1.25× slower (fresh memory pages)
            columns = unfold(x, (kh, kw), self.stride, self.padding)
            dw = (dz @ columns.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        if bias is None:
            return dx, dw
        return dx, dw, dz.sum(axis=(0, 2)) if needs[2] else None


class MaxPool2dOp(Function):
    """The largest value of each kH×kW window of x (N, C, H, W), `stride` apart."""

    name = "max_pool2d"

    # The largest value of each window: a running maximum over the kH·kW offsets, each a
    # strided view of every window at once (no copy of the windows is made). A NaN in a
    # window makes its maximum NaN, as in PyTorch.
    def forward(self, x, kernel, stride):
        self.kernel, self.stride = kernel, stride
        windows = _windows(x, kernel, stride)  # (N, C, oh, ow, kH, kW), a view
        largest = windows[..., 0, 0].copy()
        for i, j in list(np.ndindex(*kernel))[1:]:
            np.maximum(largest, windows[..., i, j], out=largest)
        return largest

    # ∂max/∂x = 1 at each window's largest value (the first one where several are equal,
    # as PyTorch), 0 elsewhere. Offset by offset, the windows whose largest value sits at
    # that offset pass their gradient to that pixel; where windows overlap, shares add up.
    def backward(self, grad, out, x):
        places = self._first_largest(values(x), values(out))
        if isinstance(grad, Tensor):  # under create_graph: the same sum, as recorded ops
            return self._recorded_backward(grad, places, x.shape)
        dx = np.zeros_like(x)
        dx_windows = _windows(dx, self.kernel, self.stride, writeable=True)
        apart = all(s >= k for s, k in zip(self.stride, self.kernel, strict=True))
        for (i, j), here in places:
            if apart:  # windows that do not overlap own their pixels: write, no add needed
                np.multiply(grad, here, out=dx_windows[..., i, j])  # (half the time)
            else:
                dx_windows[..., i, j] += grad * here
        return dx

    def _first_largest(self, x, largest):
        """For each kernel offset (i, j), which windows have their first largest value
        there (row by row): one bool per window. (A window with several NaNs: the first;
        PyTorch takes the last. The cost is NaN either way.)"""
        windows = _windows(x, self.kernel, self.stride)
        taken = np.zeros(largest.shape, bool)  # windows whose largest value was found
        has_nan = bool(np.isnan(largest).any())  # a NaN is its window's maximum (NaN ≠ NaN)
        places = []
        for i, j in np.ndindex(*self.kernel):
            here = windows[..., i, j] == largest
            if has_nan:
                here |= np.isnan(windows[..., i, j])
            here &= ~taken
            taken |= here
            places.append(((i, j), here))
        return places

    def _recorded_backward(self, grad, places, shape):
        """The gradient as a column per window (zero except at its largest value), folded
        back into the image: ops that can be differentiated again."""
        n, c, oh, ow = grad.shape
        (kh, kw) = self.kernel
        at_max = np.stack([here for _, here in places], axis=-1).reshape(n, c, oh, ow, kh, kw)
        spread = grad.reshape(n, c, oh, ow, 1, 1) * at_max
        columns = permute(spread, (0, 1, 4, 5, 2, 3)).reshape(n, c * kh * kw, oh * ow)
        return Fold.apply(columns, shape=shape, kernel=self.kernel, stride=self.stride,
                          padding=(0, 0))



def avg_pool2d(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """The mean of each window: every channel's windows as columns, averaged, so the
    gradient is spread evenly over the window."""
    n, c, h, w = x.shape
    columns = Unfold.apply(x.reshape(n * c, 1, h, w), kernel=kernel, stride=stride,
                           padding=(0, 0))
    oh = conv_output_size(h, kernel[0], stride[0], 0)
    ow = conv_output_size(w, kernel[1], stride[1], 0)
    return columns.mean(axis=1).reshape(n, c, oh, ow)
