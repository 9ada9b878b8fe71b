"""Functions on tensors that layers and losses are made of (PyTorch's `nn.functional`).

`nn` builds on these; they are also there for networks written by hand.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.tensor import Tensor


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


def softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """e^xᵢ / Σⱼ e^xⱼ along `axis` (or PyTorch's `dim`)."""
    return x.softmax(axis, dim=dim)


def log_softmax(x: Tensor, axis: int = -1, *, dim: int | None = None) -> Tensor:
    """xᵢ − log Σⱼ e^xⱼ along `axis` (or PyTorch's `dim`)."""
    return x.log_softmax(axis, dim=dim)


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
