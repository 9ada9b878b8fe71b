"""Functions on tensors that layers and losses are made of (PyTorch's `nn.functional`).

`nn` builds on these; they are also there for networks written by hand.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.creation import one_hot
from tinygrad_edu.tensor import Recording, Tensor, no_grad
from tinygrad_edu.utils import random_generator

__all__ = [
    "avg_pool2d", "batch_norm", "conv2d", "cross_entropy", "dropout", "elu", "gelu",
    "layer_norm", "leaky_relu", "linear", "log_softmax", "logsigmoid", "max_pool2d",
    "mse_loss", "one_hot", "relu", "sigmoid", "silu", "softmax", "softplus", "tanh",
]


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """z = x Wᵀ + b: the weighted sums of a layer for a batch of rows x (one op)."""
    if bias is None:
        return ops.LinearOp.apply(x, weight)
    return ops.LinearOp.apply(x, weight, bias)


def sigmoid(x: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ)."""
    return x.sigmoid()


def relu(x: Tensor) -> Tensor:
    """max(x, 0)."""
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    """tanh(x)."""
    return x.tanh()


# The activations of 2020s networks (the math, with stable numerics, in ops/activations.py)
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x), Φ the standard normal distribution function (approximate='tanh': PyTorch's
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))))."""
    return ops.gelu(input, approximate)


def silu(input: Tensor) -> Tensor:
    """x·σ(x), also called swish."""
    return ops.silu(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ln(1 + e^(βx))/β, a smooth relu; x itself where βx > threshold."""
    return ops.softplus(input, beta, threshold)


def logsigmoid(input: Tensor) -> Tensor:
    """ln σ(x), finite even where σ(x) rounds to 0."""
    return ops.logsigmoid(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope·x elsewhere."""
    return ops.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, α(eˣ − 1) elsewhere."""
    return ops.elu(input, alpha)


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """e^xᵢ / Σⱼ e^xⱼ along `axis` (or PyTorch's `dim`)."""
    return x.softmax(axis, dim=dim)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """xᵢ − log Σⱼ e^xⱼ along `axis` (or PyTorch's `dim`)."""
    return x.log_softmax(axis, dim=dim)


# ----------------------------------------------------------------------------------------
# Losses (the math in ops/losses.py)
# ----------------------------------------------------------------------------------------
def mse_loss(prediction: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """Squared-error cost: mean (or sum) of (prediction − target)² over all elements.

    With reduction="sum" and one sample this is the lessons' C = Σⱼ (a(L)ⱼ − yⱼ)².
    """
    if reduction not in ("mean", "sum"):
        raise ValueError(f"mse_loss: reduction must be 'mean' or 'sum', got {reduction!r}")
    return ops.MSELossOp.apply(*prediction._operands(target, "mse_loss"), reduction=reduction)


def cross_entropy(logits: Tensor, labels: Tensor | np.ndarray | list[int],
                  reduction: str = "mean") -> Tensor:
    """−log softmax(logits)[label], averaged (or summed) over the batch.

    `logits` has shape (batch, classes); `labels` holds class indices, shape (batch,).
    """
    label_array = np.asarray(labels.data if isinstance(labels, Tensor) else labels)
    if logits.ndim != 2 or label_array.shape != (logits.shape[0],):
        raise ValueError(f"cross_entropy: logits of shape {logits.shape} need labels of "
                         f"shape ({logits.shape[0] if logits.ndim else '?'},), got "
                         f"{label_array.shape}")
    if label_array.dtype.kind not in "iu":
        raise ValueError(f"cross_entropy: labels must be integer class indices, got "
                         f"{label_array.dtype}")
    if label_array.size and (label_array.min() < 0 or label_array.max() >= logits.shape[1]):
        raise ValueError(f"cross_entropy: labels must lie in [0, {logits.shape[1]}), got "
                         f"values from {label_array.min()} to {label_array.max()}")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"cross_entropy: reduction must be 'mean' or 'sum', got {reduction!r}")
    return ops.cross_entropy(logits, label_array, reduction)


# ----------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------------------


# ----------------------------------------------------------------------------------------
# Images and normalisation (checked here, at the API boundary; the math is in ops/image.py)
# ----------------------------------------------------------------------------------------
def _pair(value: int | tuple[int, int], what: str, op: str, smallest: int) -> tuple[int, int]:
    """An int or a pair of ints as a pair, each at least `smallest`."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < smallest for v in pair):
        raise ValueError(f"{op}: {what} must be an int ≥ {smallest} or a pair of them, got "
                         f"{value!r}")
    return int(pair[0]), int(pair[1])


def _check_windows(op: str, shape: tuple[int, ...], kernel: tuple[int, int],
                   padding: tuple[int, int]) -> None:
    if len(shape) != 4:
        raise ValueError(f"{op}: expects input of shape (N, C, H, W), got {shape}")
    padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{op}: kernel {kernel} is larger than the (padded) input "
                         f"{padded} of an input of shape {shape}")


def _check_one_dtype(op: str, x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Input, weight and bias in one dtype, or an error saying how (PyTorch raises too)."""
    dtypes = [t.dtype for t in (x, weight, bias) if t is not None]
    if any(d != dtypes[0] for d in dtypes):
        names = ", ".join(f"{name} {d}" for name, d in zip(("input", "weight", "bias"), dtypes,
                                                               strict=False))
        raise TypeError(f"{op}: {names} must have one dtype; convert with .to(dtype) "
                        "(e.g. x.to(model_weight.dtype))")


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0) -> Tensor:
    """2-D convolution of x (N, C, H, W) with weight (out, C, kH, kW), as PyTorch's."""
    stride, padding = _pair(stride, "stride", "conv2d", 1), _pair(padding, "padding", "conv2d", 0)
    if weight.ndim != 4:
        raise ValueError(f"conv2d: weight must have shape (out, in, kH, kW), got {weight.shape}")
    _check_windows("conv2d", x.shape, tuple(weight.shape[2:]), padding)  # type: ignore[arg-type]
    if x.shape[1] != weight.shape[1]:
        raise ValueError(f"conv2d: input of shape {x.shape} has {x.shape[1]} channels, but "
                         f"weight of shape {weight.shape} expects {weight.shape[1]}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"conv2d: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    _check_one_dtype("conv2d", x, weight, bias)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return ops.Conv2dOp.apply(*inputs, stride=stride, padding=padding)


def max_pool2d(x: Tensor, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None) -> Tensor:
    """The largest value of each window (stride defaults to the kernel size)."""
    kernel = _pair(kernel_size, "kernel_size", "max_pool2d", 1)
    step = kernel if stride is None else _pair(stride, "stride", "max_pool2d", 1)
    _check_windows("max_pool2d", x.shape, kernel, (0, 0))
    return ops.MaxPool2dOp.apply(x, kernel=kernel, stride=step)


def avg_pool2d(x: Tensor, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None) -> Tensor:
    """The mean of each window (stride defaults to the kernel size)."""
    kernel = _pair(kernel_size, "kernel_size", "avg_pool2d", 1)
    step = kernel if stride is None else _pair(stride, "stride", "avg_pool2d", 1)
    _check_windows("avg_pool2d", x.shape, kernel, (0, 0))
    return ops.avg_pool2d(x, kernel, step)


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            generator: np.random.Generator | None = None) -> Tensor:
    """While training, zero each value with probability p and scale the rest by 1/(1 − p),
    so the expected value is unchanged; in evaluation, x as it is."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    if Recording.active is not None:
        raise RuntimeError("dropout: a jit step would replay the same random mask every "
                           "time; call the step without tg.jit, or use model.eval()")
    keep = random_generator(generator).random(x.shape) >= p
    return x * (keep / (1 - p)).astype(x.dtype)


def layer_norm(x: Tensor, normalized_shape: tuple[int, ...], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) axes (each sample on its own), then
    scale by weight and shift by bias."""
    if tuple(x.shape[-len(normalized_shape):]) != tuple(normalized_shape):
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end in "
                         f"normalized_shape {tuple(normalized_shape)}")
    y = ops.normalize(x, tuple(range(-len(normalized_shape), 0)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None, bias: Tensor | None, training: bool,
               momentum: float | None = 0.1, eps: float = 1e-5,
               batches_tracked: Tensor | None = None) -> Tensor:
    """Normalise each channel over the batch (and the image's positions): with the batch's
    own mean and variance while training, updating the running estimates in place (the
    variance unbiased, as PyTorch keeps it); with the running estimates in evaluation."""
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm: expects (N, C) or (N, C, H, W), got {x.shape}")
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if training or running_mean is None or running_var is None:
        if x.size // x.shape[1] < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, "
                             f"got input of shape {x.shape}")
        if running_mean is not None and running_var is not None:
            _update_running_stats(x, running_mean, running_var, axes, momentum,
                                  batches_tracked)
        y = ops.normalize(x, axes, eps)
    else:
        y = (x - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps) ** 0.5
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _update_running_stats(x: Tensor, running_mean: Tensor, running_var: Tensor,
                          axes: tuple[int, ...], momentum: float | None,
                          batches_tracked: Tensor | None) -> None:
    """running ← (1 − m)·running + m·batch (m = 1/batches for momentum=None), in place."""
    count = x.size // x.shape[1]
    with no_grad():
        if batches_tracked is not None:
            batches_tracked.add_(1)
        if momentum is None:  # a cumulative average over every batch so far
            m = 1.0 / float(batches_tracked.data) if batches_tracked is not None else 0.1
        else:
            m = momentum
        mean = x.data.mean(axis=axes)
        variance = x.data.var(axis=axes) * count / (count - 1)
        running_mean.mul_(1 - m).add_(mean * m)
        running_var.mul_(1 - m).add_(variance * m)
