"""Every differentiable op: one class each, its forward and its gradient side by side.

An op whose name is also a layer's (nn.Linear, nn.Sigmoid, …) ends in "Op": `SigmoidOp`
is the math, `nn.Sigmoid` the layer that calls it. Every op with several inputs computes
only the gradients `needs_input_grad` asks for, in the same pattern.

Notation: an op computes `out` from its inputs; `grad` is ∂C/∂out, the gradient of the final
result C (usually the cost) with respect to that output. `backward` returns ∂C/∂input for
each input: the chain rule, ∂C/∂x = ∂C/∂out · ∂out/∂x, one link at a time.

Each backward is written once and runs on two kinds of values: numpy arrays in a plain
`backward()` (fast, builds nothing), and Tensors under `backward(create_graph=True)`, where
the gradient computation is itself recorded so it can be differentiated again. That works
because the formulas use only operators, `.T`, `.reshape`, `.sum` and the helpers below,
which both kinds of value understand.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.tensor import Function, Tensor

# ----------------------------------------------------------------------------------------
# Helpers the gradients share (each works on numpy arrays and on Tensors)
# ----------------------------------------------------------------------------------------


def sum_to_shape(grad: Any, shape: tuple[int, ...]) -> Any:
    """Undo broadcasting: sum `grad` over the axes numpy stretched to reach its shape.

    If x of shape (3,) was broadcast against (2, 3), each x[j] was used twice, so its
    gradient is the sum of both uses: sum over the new leading axis. Axes of size 1 that
    were stretched are summed too, keeping the axis. Every op with broadcasting uses this.
    """
    if grad.shape == shape:
        return grad
    new_axes = grad.ndim - len(shape)
    stretched = tuple(new_axes + i for i, n in enumerate(shape)
                      if n == 1 and grad.shape[new_axes + i] != 1)
    summed = grad.sum(axis=tuple(range(new_axes)) + stretched, keepdims=True)
    return summed.reshape(shape)


def expand(grad: Any, shape: tuple[int, ...]) -> Any:
    """Broadcast `grad` to `shape` (the gradient of a sum copies back to every element)."""
    if isinstance(grad, Tensor):
        return Expand.apply(grad, shape=shape)
    return np.broadcast_to(grad, shape)


def exp(value: Any) -> Any:
    """e^value for an array or a Tensor."""
    return value.exp() if isinstance(value, Tensor) else np.exp(value)


def log(value: Any) -> Any:
    """ln(value) for an array or a Tensor."""
    return value.log() if isinstance(value, Tensor) else np.log(value)


def values(value: Any) -> Any:
    """The numbers of an array or a Tensor, as an array (for masks such as `y == 0`)."""
    return value.data if isinstance(value, Tensor) else value


def scatter_add(grad: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """A zero array of `shape` with `grad` added at `index`; repeated indices add up."""
    if isinstance(grad, Tensor):
        return IndexAdd.apply(grad, index=index, shape=shape)
    full = np.zeros(shape, grad.dtype)
    np.add.at(full, index, grad)
    return full


def cast(value: Any, dtype: Any) -> Any:
    """An array or a Tensor in another dtype."""
    return value.to(dtype) if isinstance(value, Tensor) else value.astype(dtype)


def permute(value: Any, axes: tuple[int, ...]) -> Any:
    """An array or a Tensor with its axes reordered."""
    return value.permute(*axes) if isinstance(value, Tensor) else value.transpose(axes)


def scalar(grad: Any) -> Any:
    """A one-element gradient as a plain number (one ufunc call to scale an array by it);
    a Tensor stays a Tensor, so a graph of the backward records it."""
    return grad if isinstance(grad, Tensor) else float(grad)


def saved_difference(a: Any, b: Any, saved: np.ndarray) -> Any:
    """a − b: the array forward saved, or recomputed from Tensors under create_graph, so
    that the difference is part of the recorded graph."""
    return a - b if isinstance(a, Tensor) else saved


def add_bias(z: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """z + bias, written into z (no new array) when that keeps z's dtype; an integer z
    meeting a float bias becomes a new float array, as `+` would make it."""
    if bias.dtype != z.dtype and np.result_type(z, bias) != z.dtype:  # (the common case,
        return z + bias  # equal dtypes, decided by one comparison: this is the MLP's hot path)
    z += bias
    return z


def sum_rows(grad: Any) -> Any:
    """Σ over axis 0 (numpy's ufunc reduce directly: `.sum` adds a Python-level wrapper
    that costs ~1 µs, a lot at batch size 1)."""
    return grad.sum(axis=0) if isinstance(grad, Tensor) else np.add.reduce(grad, axis=0)


def _reduced_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape of a reduction over `axis` with keepdims=True."""
    axes = range(len(shape)) if axis is None else np.atleast_1d(axis) % max(len(shape), 1)
    return tuple(1 if i in set(axes) else n for i, n in enumerate(shape))


# ----------------------------------------------------------------------------------------
# Elementwise arithmetic (numpy broadcasting; gradients summed back with sum_to_shape)
# ----------------------------------------------------------------------------------------


class Add(Function):
    def forward(self, x, y):
        return x + y

    # ∂(x + y)/∂x = 1, ∂(x + y)/∂y = 1
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Sub(Function):
    def forward(self, x, y):
        return x - y

    # ∂(x − y)/∂x = 1, ∂(x − y)/∂y = −1
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(-grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Mul(Function):
    def forward(self, x, y):
        return x * y

    # ∂(x·y)/∂x = y, ∂(x·y)/∂y = x
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad * y, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(grad * x, y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Div(Function):
    def forward(self, x, y):
        return x / y

    # ∂(x/y)/∂x = 1/y, ∂(x/y)/∂y = −x/y²
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad / y, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(-grad * x / (y * y), y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Pow(Function):
    def forward(self, x, y):
        return x ** y

    # ∂(xʸ)/∂x = y·xʸ⁻¹, ∂(xʸ)/∂y = xʸ·ln x. At x = 0 both formulas meet 0·∞, which numpy
    # makes NaN; the limits, as PyTorch takes them, are 0: for y = 0 (x⁰ = 1 is constant)
    # and for x = 0 with y ≥ 0 (0ʸ is 0 or 1 whatever y does). So where y = 0 the exponent
    # y − 1 becomes 0 (y·x⁰ = 0), and where x = 0 ≤ y, ln x reads ln 1 = 0.
    def backward(self, grad, out, x, y):
        dx = dy = None
        if self.needs_input_grad[0]:
            exponent = y - 1 + (values(y) == 0)
            dx = sum_to_shape(grad * y * x ** exponent, x.shape)
        if self.needs_input_grad[1]:
            base = x + ((values(x) == 0) & (values(y) >= 0))
            dy = sum_to_shape(grad * out * log(base), y.shape)
        return dx, dy


class Neg(Function):
    def forward(self, x):
        return -x

    # ∂(−x)/∂x = −1
    def backward(self, grad, out, x):
        return -grad


class Clone(Function):
    def forward(self, x):
        return x.copy()

    # a copy passes the gradient through unchanged: ∂x/∂x = 1
    def backward(self, grad, out, x):
        return grad


class Cast(Function):
    def forward(self, x, dtype):
        return x.astype(dtype)

    # the values pass through unchanged; only the gradient goes back to the input's dtype
    def backward(self, grad, out, x):
        return cast(grad, x.dtype)


# ----------------------------------------------------------------------------------------
# Activations and other elementwise functions
# ----------------------------------------------------------------------------------------


class SigmoidOp(Function):
    # σ(z) = 1 / (1 + e⁻ᶻ), computed as ½(1 + tanh(z/2)), the same function: tanh never
    # overflows, so z = ±1e4 gives 0 and 1 without warnings, and it is one fast ufunc.
    # (Outputs below ~1e-8 round to 0 in float32; the gradient there is ~0 either way.)
    def forward(self, z):
        return 0.5 * np.tanh(0.5 * z) + 0.5

    # dσ/dz = σ(z)(1 − σ(z)), from the saved output: no second exp
    def backward(self, grad, out, z):
        return grad * out * (1 - out)


class TanhOp(Function):
    def forward(self, x):
        return np.tanh(x)

    # d tanh(x)/dx = 1 − tanh²(x), from the saved output
    def backward(self, grad, out, x):
        return grad * (1 - out * out)


class ReLUOp(Function):
    def forward(self, x):
        return np.maximum(x, 0)  # (not x·[x > 0]: −inf·0 would be NaN)

    # d relu(x)/dx = 1 where x > 0, else 0 (we take 0 at the kink x = 0, as PyTorch);
    # x > 0 exactly where the saved output is > 0, so nothing else is kept
    def backward(self, grad, out, x):
        return grad * (values(out) > 0)


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    # d eˣ/dx = eˣ, the saved output
    def backward(self, grad, out, x):
        return grad * out


class Log(Function):
    def forward(self, x):
        return np.log(x)

    # d ln x/dx = 1/x
    def backward(self, grad, out, x):
        return grad / x


# ----------------------------------------------------------------------------------------
# Matrix products
# ----------------------------------------------------------------------------------------


def _matmul_shape_check(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    if not a or not b:
        raise ValueError(f"{op}: both operands need at least 1 dimension, got {a} and {b}")
    inner_b = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner_b:
        raise ValueError(f"{op}: shapes {a} and {b} do not match: {a[-1]} columns "
                         f"against {inner_b} rows")


class MatMul(Function):
    def forward(self, a, b):
        _matmul_shape_check("matmul", a.shape, b.shape)
        return a @ b

    # for out = A B: ∂C/∂A = ∂C/∂out · Bᵀ and ∂C/∂B = Aᵀ · ∂C/∂out. A 1-D operand is
    # treated as a row (on the left) or a column (on the right) vector, as numpy does;
    # batch axes that were broadcast are summed back.
    def backward(self, grad, out, a, b):
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        grad2 = grad.reshape(out.shape[:-1] + (1,) + out.shape[-1:]) if a.ndim == 1 else grad
        grad2 = grad2.reshape(grad2.shape + (1,)) if b.ndim == 1 else grad2
        da = db = None
        if self.needs_input_grad[0]:
            da = sum_to_shape(grad2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = sum_to_shape(a2.swapaxes(-1, -2) @ grad2, b2.shape).reshape(b.shape)
        return da, db


class LinearOp(Function):
    """z = x Wᵀ + b for a batch of rows x: the weighted sums of a layer, one op.

    W has shape (outputs, inputs), each row one neuron's weights, as in z(l) = W a(l−1) + b
    of the lessons (written for a column a; a batch stores its samples as rows, hence Wᵀ).
    One op instead of matmul, transpose and add: three graph nodes' bookkeeping saved on
    the hottest path, and W's gradient comes out in W's own memory order.
    """

    def forward(self, x, weight, bias=None):
        try:
            z = x @ weight.T
            if bias is not None:
                z = add_bias(z, bias)
        except ValueError:  # explained here, only when it happens (no cost otherwise)
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape "
                f"{weight.shape} and bias of shape {getattr(bias, 'shape', None)} (needs "
                f"input.shape[-1] == weight.shape[1] and bias of shape ({weight.shape[0]},))"
            ) from None
        return z

    # ∂C/∂x = ∂C/∂z · W,  ∂C/∂W = (∂C/∂z)ᵀ · x  (so ∂C/∂w_jk = Σ ∂C/∂z_j · a_k),  ∂C/∂b = Σ ∂C/∂z
    def backward(self, grad, out, x, weight, bias=None):
        needs = self.needs_input_grad
        dx = grad @ weight if needs[0] else None
        if x.ndim != 2:  # extra batch axes: every row is one sample
            grad, x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        dw = grad.T @ x if needs[1] else None
        if bias is None:
            return dx, dw
        return dx, dw, sum_rows(grad) if needs[2] else None


# ----------------------------------------------------------------------------------------
# Reductions
# ----------------------------------------------------------------------------------------


class Sum(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        return np.add.reduce(x, axis=axis, keepdims=keepdims)  # x.sum without its wrapper

    # ∂(Σᵢ xᵢ)/∂xⱼ = 1: every summed element gets the output's gradient
    def backward(self, grad, out, x):
        if not self.keepdims:
            grad = grad.reshape(_reduced_shape(x.shape, self.axis))
        return expand(grad, x.shape)


class Max(Function):
    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        kept = np.max(x, axis=axis, keepdims=True)
        ties = x == kept
        self.share = ties / np.sum(ties, axis=axis, keepdims=True)  # ties split the gradient
        return kept if keepdims else kept.reshape(np.max(x, axis=axis).shape)

    # ∂max(x)/∂xⱼ = 1 for the largest element (1/k each when k elements tie), else 0
    def backward(self, grad, out, x):
        if not self.keepdims:
            grad = grad.reshape(_reduced_shape(x.shape, self.axis))
        return expand(grad, x.shape) * self.share


class LogSoftmax(Function):
    name = "log_softmax"

    # log softmax(x)ᵢ = xᵢ − log Σⱼ e^xⱼ, computed as (xᵢ − m) − log Σⱼ e^(xⱼ − m) with
    # m = max x so no exponent is positive: x = ±1e4 neither overflows nor makes NaN.
    def forward(self, x, axis=-1):
        self.axis = axis
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    # ∂C/∂xᵢ = gᵢ − softmaxᵢ · Σⱼ gⱼ, with softmax = e^out from the saved output
    def backward(self, grad, out, x):
        return grad - exp(out) * grad.sum(axis=self.axis, keepdims=True)


class MSELossOp(Function):
    """C = mean((prediction − target)²), or the sum: the quadratic cost of the lessons."""

    name = "mse_loss"

    def forward(self, prediction, target, reduction="mean"):
        if prediction.shape != target.shape:
            raise ValueError(f"mse_loss: prediction of shape {prediction.shape} and target "
                             f"of shape {target.shape} differ")
        count = prediction.size or np.nan  # the mean of no elements is NaN, as in PyTorch
        self.scale = 2.0 / count if reduction == "mean" else 2.0
        self.diff = prediction - target
        squared = np.vdot(self.diff, self.diff)  # Σ (a − y)², without a temporary array
        total = squared / count if reduction == "mean" else squared
        return np.asarray(total, dtype=prediction.dtype)

    # ∂C/∂a = 2(a − y)/n (mean) or 2(a − y) (sum), times ∂C/∂out; ∂C/∂y is its negative
    def backward(self, grad, out, prediction, target):
        # (the difference saved by forward, times one number: a single ufunc call)
        da = saved_difference(prediction, target, self.diff) * (scalar(grad) * self.scale)
        dy = -da if self.needs_input_grad[1] else None
        return (da if self.needs_input_grad[0] else None), dy


# ----------------------------------------------------------------------------------------
# Shape ops
# ----------------------------------------------------------------------------------------


class Reshape(Function):
    def forward(self, x, shape):
        return x.reshape(shape)

    # a reshape only relabels elements: the gradient is reshaped back
    def backward(self, grad, out, x):
        return grad.reshape(x.shape)


class Permute(Function):
    def forward(self, x, axes):
        self.axes = axes
        return x.transpose(axes)

    # permuting axes moves elements; the inverse permutation moves the gradient back
    def backward(self, grad, out, x):
        return permute(grad, tuple(np.argsort(self.axes)))


class Expand(Function):
    def forward(self, x, shape):
        return np.broadcast_to(x, shape)

    # each element was copied to several places: its gradient is the sum over them
    def backward(self, grad, out, x):
        return sum_to_shape(grad, x.shape)


class GetItem(Function):
    def forward(self, x, index):
        self.index = index
        return x[index]

    # indexing picks elements; the gradient goes back to where each came from, adding up
    # where an index repeats
    def backward(self, grad, out, x):
        return scatter_add(grad, self.index, x.shape)


class IndexAdd(Function):
    name = "index_add"

    def forward(self, values, index, shape):
        self.index = index
        return scatter_add(values, index, shape)

    # each value was added at one place: its gradient is read back from that place
    def backward(self, grad, out, values):
        return grad[self.index]


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


class Conv2d(Function):
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


class MaxPool2d(Function):
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


# ----------------------------------------------------------------------------------------
# Composite ops: built from the ones above, so their gradients come for free
# ----------------------------------------------------------------------------------------


def mean(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """mean = sum / n."""
    total = Sum.apply(x, axis=axis, keepdims=keepdims)
    return total * (total.size / x.size if x.size else np.nan)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    """softmax(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ = e^(log_softmax(x)ᵢ), stable for large |x|."""
    return LogSoftmax.apply(x, axis=axis).exp()


def avg_pool2d(x: Tensor, kernel: tuple[int, int], stride: tuple[int, int]) -> Tensor:
    """The mean of each window: every channel's windows as columns, averaged, so the
    gradient is spread evenly over the window."""
    n, c, h, w = x.shape
    columns = Unfold.apply(x.reshape(n * c, 1, h, w), kernel=kernel, stride=stride,
                           padding=(0, 0))
    oh = conv_output_size(h, kernel[0], stride[0], 0)
    ow = conv_output_size(w, kernel[1], stride[1], 0)
    return columns.mean(axis=1).reshape(n, c, oh, ow)


def normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """(x − mean) / √(var + eps) over `axes` (the biased variance, as batch and layer norm
    use it): each slice gets mean 0 and variance 1."""
    centered = x - x.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    return centered / (variance + eps) ** 0.5


def cross_entropy(logits: Tensor, labels: np.ndarray, reduction: str = "mean") -> Tensor:
    """C = −log softmax(logits)[label] per row, averaged (or summed) over the rows: pick
    each row's log-probability of its label with an index, so the gradient is
    softmax − one_hot(label) without writing it out."""
    picked = LogSoftmax.apply(logits, axis=-1)[np.arange(len(labels)), labels]
    total = -picked.sum()
    return total / len(labels) if reduction == "mean" else total
