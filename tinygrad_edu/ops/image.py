"""Images: windows out into columns (im2col) and back (col2im), convolution, pooling.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import add_bias, permute, tangent_sum, values
from tinygrad_edu.ops.shape import cat
from tinygrad_edu.tensor import Function, Tensor

__all__ = [
    "Conv2dOp", "Fold", "MaxPool2dOp", "Unfold", "avg_pool2d", "conv_input_gradient",
    "conv_output_size", "fold", "max_pool2d_indices", "pool_output_size", "unfold",
]

Pair = tuple[int, int]
ONE: Pair = (1, 1)  # no dilation: a window's taps side by side


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
#
# Two options change only which pixels a window reads:
# - dilation d spreads a window's taps d pixels apart (a 3-tap kernel with d = 2 reads
#   pixels 0, 2, 4): the window view steps d pixels per tap instead of one.
# - groups G splits the channels into G groups, each convolved with its own weights only:
#   the columns of group g are rows g·C/G·kH·kW … of the unfolded matrix, so a reshape to
#   (N, G, C/G·kH·kW, places) and one batched product per group do it.


def conv_output_size(size: int, kernel: int, stride: int, padding: int,
                     dilation: int = 1) -> int:
    """How many window positions fit along one axis (a dilated window spans d·(k − 1) + 1)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _windows(x: np.ndarray, kernel: Pair, stride: Pair, dilation: Pair = ONE,
             writeable: bool = False) -> np.ndarray:
    """A view (N, C, outH, outW, kH, kW) of every window of x (N, C, H, W), no copy: numpy's
    stride tricks step through the same memory in window-sized hops (and `dilation`
    pixels from one tap to the next)."""
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (dh, dw) = kernel, stride, dilation
    sn, sc, sy, sx = x.strides
    shape = (n, c, conv_output_size(h, kh, sh, 0, dh), conv_output_size(w, kw, sw, 0, dw),
             kh, kw)
    return np.lib.stride_tricks.as_strided(x, shape, (sn, sc, sy * sh, sx * sw, sy * dh, sx * dw),
                                           writeable=writeable)


def unfold(x: Any, kernel: Pair, stride: Pair, padding: Pair, dilation: Pair = ONE) -> Any:
    """Unfold for an array or a Tensor."""
    if isinstance(x, Tensor):
        return Unfold.apply(x, kernel=kernel, stride=stride, padding=padding, dilation=dilation)
    return Unfold().forward(x, kernel, stride, padding, dilation)


def fold(columns: Any, shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair,
         dilation: Pair = ONE) -> Any:
    """Fold for an array or a Tensor."""
    if isinstance(columns, Tensor):
        return Fold.apply(columns, shape=shape, kernel=kernel, stride=stride, padding=padding,
                          dilation=dilation)
    return Fold().forward(columns, shape, kernel, stride, padding, dilation)


class Unfold(Function):
    """(N, C, H, W) → (N, C·kH·kW, places): each window of each image as a column (im2col)."""

    def forward(self, x, kernel, stride, padding, dilation=ONE):
        self.shape, self.kernel, self.stride = x.shape, kernel, stride
        self.padding, self.dilation = padding, dilation
        (ph, pw) = padding
        padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw))) if ph or pw else x
        windows = _windows(padded, kernel, stride, dilation)  # (any layout: strides are read)
        n, c, oh, ow, kh, kw = windows.shape
        return windows.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * kh * kw, oh * ow)

    # each pixel was copied into every window covering it: its gradient sums those copies
    def backward(self, grad, out, x):
        return fold(grad, self.shape, self.kernel, self.stride, self.padding, self.dilation)

    # d unfold(x) = unfold(dx): a copy of pixels into columns is linear
    def jvp(self, tangents, out, x):
        return unfold(tangents[0], self.kernel, self.stride, self.padding, self.dilation)


class Fold(Function):
    """(N, C·kH·kW, places) → (N, C, H, W): columns added back into their windows (col2im)."""

    def forward(self, columns, shape, kernel, stride, padding, dilation=ONE):
        self.kernel, self.stride, self.padding, self.dilation = kernel, stride, padding, dilation
        n, c, h, w = shape
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
        oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
        blocks = columns.reshape(n, c, kh, kw, oh, ow)
        padded = np.zeros((n, c, h + 2 * ph, w + 2 * pw), columns.dtype)
        windows = _windows(padded, kernel, stride, dilation, writeable=True)  # written to
        for i, j in np.ndindex(kh, kw):  # one strided add per kernel offset: kH·kW in all
            windows[..., i, j] += blocks[:, :, i, j]  # (one offset's windows never overlap)
        return padded[:, :, ph:ph + h, pw:pw + w]  # (a view: the inside, not copied)

    # Fold adds each column into its window; reading the windows out again is its gradient
    def backward(self, grad, out, columns):
        return unfold(grad, self.kernel, self.stride, self.padding, self.dilation)

    # d fold(columns) = fold(d columns): adding columns into windows is linear
    def jvp(self, tangents, out, columns):
        return fold(tangents[0], out.shape, self.kernel, self.stride, self.padding,
                    self.dilation)


def conv_input_gradient(dz: np.ndarray, weight: np.ndarray, shape: tuple[int, ...],
                        stride: Pair, padding: Pair, dilation: Pair = ONE,
                        groups: int = 1) -> np.ndarray:
    """∂C/∂x of a convolution: fold(Wᵀ · ∂C/∂z), with the batch as the last axis.

    Fold adds kH·kW blocks into the image, each a strided slice. In (N, C, H, W) order
    numpy's innermost loop runs along one window row (outW numbers, 10 in the LeNet's
    second layer) and the loop overhead dominates. With the image laid out (C, H, W, N),
    a row of windows and the batch are adjacent in memory, so each add runs over
    outW·N numbers at a time: the same sums, measured 3.8 against 7.5 ms at batch 128.
    `dz` is (N, out, places); each group's weights meet only its own outputs.
    """
    n, c, h, w = shape
    out_channels, group_channels, kh, kw = weight.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    oh, ow = conv_output_size(h, kh, sh, ph, dh), conv_output_size(w, kw, sw, pw, dw)
    per_group = out_channels // groups
    dz_last = dz.transpose(1, 2, 0).reshape(groups, per_group, oh * ow * n)  # (G, out/G, places·N)
    weight_last = (weight.reshape(groups, per_group, group_channels, kh, kw)  # per group,
                   .transpose(0, 3, 4, 2, 1).reshape(groups, -1, per_group))  # (kH·kW·C/G, out/G)
    blocks = (weight_last @ dz_last).reshape(groups, kh, kw, group_channels, oh, ow, n)
    if groups == 1:
        blocks = blocks[0]  # (kH, kW, C, oH, oW, N): Wᵀ·∂C/∂z, column-wise
    else:  # the groups' channels side by side again
        blocks = blocks.transpose(1, 2, 0, 3, 4, 5, 6).reshape(kh, kw, c, oh, ow, n)
    padded = np.zeros((c, h + 2 * ph, w + 2 * pw, n), blocks.dtype)
    return fold_columns(blocks, padded, stride, padding, dilation, shape)


def fold_columns(blocks: np.ndarray, padded: np.ndarray, stride: Pair, padding: Pair,
                 dilation: Pair, shape: tuple[int, ...],
                 dx: np.ndarray | None = None) -> np.ndarray:
    """conv_input_gradient's fold: each kernel offset's values (blocks: kH, kW, C, oH, oW,
    N) added into the image at that offset of every window, in `padded` (zeros of shape
    C, H + 2·pH, W + 2·pW, N); then the image without its border, as (N, C, H, W): a new
    array, or written into `dx` (a jit replay's buffer)."""
    h, w = shape[2:]
    kh, kw, _, oh, ow, _ = blocks.shape
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    for i, j in np.ndindex(kh, kw):  # offset (i, j) of every window at once
        top, left = i * dh, j * dw
        window = padded[:, top:top + sh * (oh - 1) + 1:sh, left:left + sw * (ow - 1) + 1:sw]
        np.add(window, blocks[i, j], out=window)  # (+= would also assign the slice back)
    inside = padded[:, ph:ph + h, pw:pw + w].transpose(3, 0, 1, 2)
    if dx is None:
        return np.ascontiguousarray(inside)
    np.copyto(dx, inside)
    return dx


class Conv2dOp(Function):
    """z = weight ⋆ x + bias: the windows out as columns (Unfold), one matrix product per
    group. x (N, C, H, W), weight (out, C/groups, kH, kW), bias (out,) → (N, out, outH, outW).

    One op rather than Unfold, matmul and add, so that the columns live only inside it
    (see backward) and the bias is added in place."""

    def forward(self, x, weight, bias=None, *, stride, padding, dilation=ONE, groups=1):
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        z = self._convolve(x, weight)  # (N, out, places)
        if bias is not None:
            z = add_bias(z, bias.reshape(-1, 1))  # one per channel, at every place
        n, out_channels, (kh, kw) = x.shape[0], weight.shape[0], weight.shape[2:]
        oh = conv_output_size(x.shape[2], kh, stride[0], padding[0], dilation[0])
        ow = conv_output_size(x.shape[3], kw, stride[1], padding[1], dilation[1])
        return z.reshape(n, out_channels, oh, ow)

    # with z = W·columns + b per image (and group): ∂C/∂W = Σ_images ∂C/∂z · columnsᵀ,
    # ∂C/∂x = fold(Wᵀ · ∂C/∂z) (each column's share back to its window), ∂C/∂b = Σ ∂C/∂z
    def backward(self, grad, out, x, weight, bias=None):
        needs, groups = self.needs_input_grad, self.groups
        n, out_channels, oh, ow = grad.shape
        kernel = tuple(weight.shape[2:])
        dz = grad.reshape(n, groups, out_channels // groups, oh * ow)  # (N, G, out/G, places)
        dx = dw = None
        if needs[0] and isinstance(grad, Tensor):  # under create_graph: recorded ops
            columns = self._by_group(weight, None).swapaxes(-1, -2) @ dz  # (N, G, ·, places)
            dx = fold(columns.reshape(n, x.shape[1] * kernel[0] * kernel[1], oh * ow), x.shape,
                      kernel, self.stride,
                      self.padding, self.dilation)
        elif needs[0]:  # the same sum, laid out for speed (see conv_input_gradient)
            dx = conv_input_gradient(dz.reshape(n, out_channels, oh * ow), weight, x.shape,
                                     self.stride, self.padding, self.dilation, groups)
        if needs[1]:  # the columns are unfolded again rather than kept from forward: they
            # are the step's largest arrays (C·kH·kW numbers per output place), and holding
            # them until backward made the LeNet's step 1.25× slower (fresh memory pages)
            columns = unfold(x, kernel, self.stride, self.padding, self.dilation)
            rows = columns.shape[1] // groups  # (sizes, not -1: N may be 0)
            columns = columns.reshape(n, groups, rows, oh * ow)  # (N, G, C/G·kH·kW, places)
            dw = (dz @ columns.swapaxes(-1, -2)).sum(axis=0).reshape(weight.shape)
        if bias is None:
            return dx, dw
        return dx, dw, grad.sum(axis=(0, 2, 3)) if needs[2] else None

    # dz = dW ⋆ x + W ⋆ dx + db  (the product rule: a convolution is bilinear in x and W)
    def jvp(self, tangents, out, x, weight, bias=None):
        dx, dw, db = (*tangents, None)[:3]
        return tangent_sum(out.shape,
                           None if dx is None else self._convolve(dx, weight).reshape(out.shape),
                           None if dw is None else self._convolve(x, dw).reshape(out.shape),
                           None if db is None else db.reshape(-1, 1, 1))

    def _convolve(self, x: Any, weight: Any) -> Any:
        """weight ⋆ x without the bias, (N, out, places), for arrays or Tensors (recorded
        ops: Unfold, reshapes, matmul)."""
        columns = unfold(x, tuple(weight.shape[2:]), self.stride, self.padding,
                         self.dilation)  # (N, C·kH·kW, places)
        if self.groups == 1:
            return weight.reshape(weight.shape[0], -1) @ columns  # one product per image
        # (G, out/G, C/G·kH·kW) @ (N, G, C/G·kH·kW, places) = (N, G, out/G, places)
        n, places = columns.shape[0], columns.shape[2]
        return self._by_group(weight, columns).reshape(n, weight.shape[0], places)

    def _by_group(self, weight: Any, columns: Any) -> Any:
        """Each group's weights as one matrix, (G, out/G, C/G·kH·kW); times each group's
        columns (N, G, C/G·kH·kW, places) if given."""
        groups, out_channels = self.groups, weight.shape[0]
        weights = weight.reshape(groups, out_channels // groups, -1)
        if columns is None:
            return weights
        n, rows, places = columns.shape
        return weights @ columns.reshape(n, groups, rows // groups, places)


# ----------------------------------------------------------------------------------------
# Pooling: the largest value, or the mean, of each window
# ----------------------------------------------------------------------------------------
# Padding and ceil_mode both add pixels around the image that belong to no one: max
# pooling fills them with −∞ (never the largest), average pooling with 0 (and then counts
# them in the divisor or not, count_include_pad). With ceil_mode the last window may hang
# over the right and bottom edges; PyTorch keeps it if it starts inside the image or its
# left padding, and so do we.


def pool_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Windows along one axis; with ceil_mode a last, partial window counts too."""
    span = size + 2 * padding - dilation * (kernel - 1) - 1
    count = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (count - 1) * stride >= size + padding:  # it would start in the padding
        count -= 1
    return count


def _pool_padding(shape: tuple[int, ...], kernel: Pair, stride: Pair, padding: Pair,
                  dilation: Pair, ceil_mode: bool) -> tuple[Pair, Pair]:
    """(top, left) and (bottom, right) padding: `padding` on every side, and more at the
    bottom and right where ceil_mode's last windows need it."""
    after = []
    for axis in (0, 1):
        size, k, s, p, d = (shape[2 + axis], kernel[axis], stride[axis], padding[axis],
                            dilation[axis])
        count = pool_output_size(size, k, s, p, d, ceil_mode)
        needed = (count - 1) * s + d * (k - 1) + 1  # the padded length those windows read
        after.append(max(p, needed - size - p))
    return padding, (after[0], after[1])


def _padded(x: np.ndarray, before: Pair, after: Pair, fill: float) -> np.ndarray:
    """x with `fill` around its image axes (x itself when there is nothing to add)."""
    if before == (0, 0) and after == (0, 0):
        return x
    return np.pad(x, ((0, 0), (0, 0), (before[0], after[0]), (before[1], after[1])),
                  constant_values=fill)


def _lowest(dtype: np.dtype) -> Any:
    """A value no other value of `dtype` is below: −∞ for floats."""
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


def window_maxima(windows: np.ndarray, largest: np.ndarray | None = None) -> np.ndarray:
    """The largest value of each window (N, C, oh, ow, kH, kW): the first offset's values,
    then a running maximum over the others; into `largest` when given (a jit replay's
    buffer), else a new array."""
    if largest is None:
        largest = windows[..., 0, 0].copy()
    else:
        np.copyto(largest, windows[..., 0, 0])
    for i, j in list(np.ndindex(*windows.shape[-2:]))[1:]:
        np.maximum(largest, windows[..., i, j], out=largest)
    return largest


def _first_largest(windows: np.ndarray, largest: np.ndarray) -> list[tuple[Pair, np.ndarray]]:
    """For each kernel offset (i, j), which windows have their first largest value there
    (row by row): one bool per window. (A window with several NaNs: the first; PyTorch
    takes the last. The cost is NaN either way.)"""
    taken = np.zeros(largest.shape, bool)  # windows whose largest value was found
    has_nan = bool(np.isnan(largest).any()) if largest.dtype.kind == "f" else False
    places = []
    for i, j in np.ndindex(*windows.shape[-2:]):
        here = windows[..., i, j] == largest  # (a NaN is its window's maximum; NaN ≠ NaN)
        if has_nan:
            here |= np.isnan(windows[..., i, j])
        here &= ~taken
        taken |= here
        places.append(((i, j), here))
    return places


class MaxPool2dOp(Function):
    """The largest value of each kH×kW window of x (N, C, H, W), `stride` apart, its taps
    `dilation` apart, over x padded with −∞ (`padding`, and ceil_mode's partial windows)."""

    name = "max_pool2d"

    # The largest value of each window: a running maximum over the kH·kW offsets, each a
    # strided view of every window at once (no copy of the windows is made). A NaN in a
    # window makes its maximum NaN, as in PyTorch.
    def forward(self, x, kernel, stride, padding=(0, 0), dilation=ONE, ceil_mode=False):
        self.kernel, self.stride, self.dilation = kernel, stride, dilation
        self.before, self.after = ((padding, padding) if padding == (0, 0) and not ceil_mode
                                   else _pool_padding(x.shape, kernel, stride, padding,
                                                      dilation, ceil_mode))
        return window_maxima(self._windows(x))  # (windows: (N, C, oh, ow, kH, kW), a view)

    # ∂max/∂x = 1 at each window's largest value (the first one where several are equal,
    # as PyTorch), 0 elsewhere. Offset by offset, the windows whose largest value sits at
    # that offset pass their gradient to that pixel; where windows overlap, shares add up.
    def backward(self, grad, out, x):
        places = _first_largest(self._windows(values(x)), values(out))
        (n, c, h, w), (top, left), (bottom, right) = x.shape, self.before, self.after
        padded_shape = (n, c, top + h + bottom, left + w + right)
        if isinstance(grad, Tensor):  # under create_graph: the same sum, as recorded ops
            return self._inside(self._recorded_backward(grad, places, padded_shape), x.shape)
        dx = np.zeros(padded_shape, x.dtype)
        dx_windows = _windows(dx, self.kernel, self.stride, self.dilation, writeable=True)
        span = [d * (k - 1) + 1 for d, k in zip(self.dilation, self.kernel, strict=True)]
        apart = all(s >= k for s, k in zip(self.stride, span, strict=True))
        for (i, j), here in places:
            if apart:  # windows that do not overlap own their pixels: write, no add needed
                np.multiply(grad, here, out=dx_windows[..., i, j])  # (half the time)
            else:
                dx_windows[..., i, j] += grad * here
        return self._inside(dx, x.shape)

    # d max(window) = dx at the window's chosen element (its first largest, as in backward)
    def jvp(self, tangents, out, x):
        n, c, h, w = x.shape
        pixel, inside = self._chosen(values(x), values(out))
        rows = np.arange(n * c).reshape(n, c, 1, 1)
        moved = tangents[0].reshape(n * c, h * w)[rows, pixel]
        return moved if inside is None else moved * inside

    def _chosen(self, x: np.ndarray, out: np.ndarray) -> tuple[np.ndarray, Any]:
        """Each window's chosen element as a flat index row·W + column into its channel's
        image, and where that element is padding (never chosen unless the whole window is
        −∞) a mask of which are inside (None when all are)."""
        (h, w), (top, left) = x.shape[2:], self.before
        oh, ow = out.shape[2:]
        row, column = np.zeros(out.shape, np.intp), np.zeros(out.shape, np.intp)
        for (i, j), here in _first_largest(self._windows(x), out):
            np.copyto(row, np.arange(oh)[:, None] * self.stride[0] + i * self.dilation[0] - top,
                      where=here)
            np.copyto(column, np.arange(ow) * self.stride[1] + j * self.dilation[1] - left,
                      where=here)
        inside = (row >= 0) & (row < h) & (column >= 0) & (column < w)
        if inside.all():
            return row * w + column, None
        return np.where(inside, row * w + column, 0), inside.astype(x.dtype)

    def _windows(self, x: np.ndarray) -> np.ndarray:
        padded = _padded(x, self.before, self.after, _lowest(x.dtype))
        return _windows(padded, self.kernel, self.stride, self.dilation)

    def _inside(self, padded: Any, shape: tuple[int, ...]) -> Any:
        """The image's own pixels of a padded gradient (the padding's share is dropped)."""
        if self.before == (0, 0) and self.after == (0, 0):
            return padded
        (top, left), (h, w) = self.before, shape[2:]
        return padded[:, :, top:top + h, left:left + w]

    def _recorded_backward(self, grad, places, shape):
        """The gradient as a column per window (zero except at its largest value), folded
        back into the padded image: ops that can be differentiated again."""
        n, c, oh, ow = grad.shape
        (kh, kw) = self.kernel
        at_max = np.stack([here for _, here in places], axis=-1).reshape(n, c, oh, ow, kh, kw)
        spread = grad.reshape(n, c, oh, ow, 1, 1) * at_max
        columns = permute(spread, (0, 1, 4, 5, 2, 3)).reshape(n, c * kh * kw, oh * ow)
        return Fold.apply(columns, shape=shape, kernel=self.kernel, stride=self.stride,
                          padding=(0, 0), dilation=self.dilation)


def max_pool2d_indices(x: np.ndarray, largest: np.ndarray, kernel: Pair, stride: Pair,
                       padding: Pair, dilation: Pair, ceil_mode: bool) -> np.ndarray:
    """Where each window's largest value is, as PyTorch's return_indices gives it: the
    flat index row·W + column within its channel's (unpadded) H×W image, int64."""
    before, after = _pool_padding(x.shape, kernel, stride, padding, dilation, ceil_mode)
    windows = _windows(_padded(x, before, after, _lowest(x.dtype)), kernel, stride, dilation)
    oh, ow = largest.shape[2:]
    indices = np.zeros(largest.shape, np.int64)
    for (i, j), here in _first_largest(windows, largest):
        rows = np.arange(oh)[:, None] * stride[0] + i * dilation[0] - before[0]
        columns = np.arange(ow)[None, :] * stride[1] + j * dilation[1] - before[1]
        np.copyto(indices, rows * x.shape[3] + columns, where=here)
    return indices


def _divisors(size: int, kernel: int, stride: int, padding: int, count: int,
              count_include_pad: bool) -> np.ndarray:
    """How many values each window along one axis averages, as PyTorch counts them: the
    window clipped to the padded image, or (count_include_pad=False) to the image."""
    start = np.arange(count) * stride - padding
    end = np.minimum(start + kernel, size + padding)  # (ceil_mode's overhang is not counted)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def avg_pool2d(x: Tensor, kernel: Pair, stride: Pair, padding: Pair = (0, 0),
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each window: every channel's windows as columns, summed and divided by
    the window's size, so the gradient is spread evenly over the window."""
    n, c, h, w = x.shape
    before, after = _pool_padding(x.shape, kernel, stride, padding, ONE, ceil_mode)
    extra = (after[0] - before[0], after[1] - before[1])  # ceil_mode's overhang: zeros
    if extra[0]:
        x = cat([x, Tensor(np.zeros((n, c, extra[0], w), x.dtype))], dim=2)
    if extra[1]:
        x = cat([x, Tensor(np.zeros((n, c, h + extra[0], extra[1]), x.dtype))], dim=3)
    columns = Unfold.apply(x.reshape(n * c, 1, *x.shape[2:]), kernel=kernel, stride=stride,
                           padding=padding)  # (N·C, kH·kW, places)
    oh = pool_output_size(h, kernel[0], stride[0], padding[0], 1, ceil_mode)
    ow = pool_output_size(w, kernel[1], stride[1], padding[1], 1, ceil_mode)
    if divisor_override is None and padding == (0, 0) and not ceil_mode:
        return columns.mean(axis=1).reshape(n, c, oh, ow)  # every window is whole
    if divisor_override is not None:
        divisors = np.full((oh, ow), divisor_override)
    else:
        divisors = np.outer(_divisors(h, kernel[0], stride[0], padding[0], oh, count_include_pad),
                            _divisors(w, kernel[1], stride[1], padding[1], ow, count_include_pad))
    return columns.sum(axis=1).reshape(n, c, oh, ow) / Tensor(divisors.astype(x.dtype))
