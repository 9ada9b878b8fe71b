"""Functions on tensors that layers and losses are made of (PyTorch's `nn.functional`).

`nn` builds on these; they are also there for networks written by hand.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.creation import one_hot
from tinygrad_edu.tensor import Recording, Tensor, _describe, check_values, no_grad
from tinygrad_edu.utils import random_generator

__all__ = [
    "avg_pool1d", "avg_pool2d", "batch_norm", "binary_cross_entropy",
    "binary_cross_entropy_with_logits", "conv1d", "conv2d", "cross_entropy", "dropout", "elu",
    "embedding", "gelu", "huber_loss", "l1_loss", "layer_norm", "leaky_relu", "linear",
    "log_softmax", "logsigmoid", "max_pool1d", "max_pool2d", "mse_loss", "nll_loss", "one_hot",
    "relu", "scaled_dot_product_attention", "sigmoid", "silu", "smooth_l1_loss", "softmax",
    "softplus", "tanh",
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
# Losses (checked here, at the API boundary; the math is in ops/losses.py). Each takes
# reduction='mean' (the average), 'sum' or 'none' (one loss per element or sample).
# ----------------------------------------------------------------------------------------
def mse_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """ℓ = (x − y)², elementwise, then reduced (the mean by default).

    With reduction="sum" and one sample this is the lessons' C = Σⱼ (a(L)ⱼ − yⱼ)².
    """
    x, y = _regression_pair("mse_loss", input, target, reduction)
    if reduction == "none":
        return (x - y).square()
    return ops.MSELossOp.apply(x, y, reduction=reduction)


def l1_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean") -> Tensor:
    """ℓ = |x − y|, elementwise, then reduced."""
    x, y = _regression_pair("l1_loss", input, target, reduction)
    return ops.reduce_loss((x - y).abs(), reduction)


def smooth_l1_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """ℓ = ½(x − y)²/β where |x − y| < β, |x − y| − ½β beyond (the L1 loss for β = 0)."""
    x, y = _regression_pair("smooth_l1_loss", input, target, reduction)
    beta = _loss_number("smooth_l1_loss", "beta", beta)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss: beta must be ≥ 0, got {beta}")
    if beta == 0:
        return ops.reduce_loss((x - y).abs(), reduction)
    return ops.reduce_loss(ops.huber(x - y, beta) / beta, reduction)


def huber_loss(input: Tensor, target: Tensor | np.ndarray, reduction: str = "mean",
               delta: float = 1.0) -> Tensor:
    """ℓ = ½(x − y)² where |x − y| ≤ δ, δ(|x − y| − ½δ) beyond."""
    x, y = _regression_pair("huber_loss", input, target, reduction)
    delta = _loss_number("huber_loss", "delta", delta)
    if delta <= 0:
        raise RuntimeError(f"huber_loss: delta must be > 0, got {delta}")
    return ops.reduce_loss(ops.huber(x - y, delta), reduction)


def binary_cross_entropy(input: Tensor, target: Tensor | np.ndarray,
                         weight: Tensor | None = None, *, reduction: str = "mean") -> Tensor:
    """`ℓ = −w·[y·ln x + (1 − y)·ln(1 − x)]` for probabilities x and targets y in `[0, 1]`, each
    log clamped at −100 (as PyTorch: x = 0 or 1 costs 100, not infinity)."""
    op = "binary_cross_entropy"
    x, y = _binary_pair(op, input, target, reduction)
    for name, t in (("input", x), ("target", y)):
        if not np.all((t.data >= 0) & (t.data <= 1)):
            raise RuntimeError(f"{op}: all elements of {name} should be between 0 and 1, got "
                               f"values from {t.data.min()} to {t.data.max()} "
                               "(for logits use binary_cross_entropy_with_logits)")
    losses = ops.BinaryCrossEntropyOp.apply(x, y)
    w = _broadcast_weight(op, "weight", weight, x)
    return ops.reduce_loss(losses if w is None else losses * w, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor | np.ndarray,
                                     weight: Tensor | None = None, *, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """`ℓ = −w·[p·y·ln σ(x) + (1 − y)·ln(1 − σ(x))]` for logits x: binary cross-entropy of
    σ(x), computed from x itself so it stays exact and finite for any |x|. `pos_weight` p
    (broadcast along the last axis: one per class) weighs the positive targets."""
    op = "binary_cross_entropy_with_logits"
    x, y = _binary_pair(op, input, target, reduction)
    p = _broadcast_weight(op, "pos_weight", pos_weight, x)
    losses = ops.binary_cross_entropy_with_logits(x, y, p)
    w = _broadcast_weight(op, "weight", weight, x)
    return ops.reduce_loss(losses if w is None else losses * w, reduction)


def nll_loss(input: Tensor, target: Tensor | np.ndarray | list[int], weight: Tensor | None = None,
             *, ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """ℓₙ = −w_{yₙ}·x_{n,yₙ}: minus the log-probability x (N, C), (C,) or (N, C, d₁, …) of
    each target class yₙ, times that class's weight; targets equal to `ignore_index` count
    for nothing. 'mean' divides by the sum of the counted targets' weights."""
    op = "nll_loss"
    _check_loss_call(op, input, reduction)
    classes = _class_count(op, input)
    weights = _class_weights(op, weight, classes)
    labels, _ = _class_labels(op, input, target, classes, ignore_index)
    return ops.NLLLossOp.apply(input, target=labels, weight=weights, ignore_index=ignore_index,
                               reduction=reduction)


def cross_entropy(input: Tensor, target: Tensor | np.ndarray | list[int],
                  weight: Tensor | None = None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """ℓₙ = −Σ_c w_c·y_{n,c}·log softmax(xₙ)_c for logits x (N, C), (C,) or (N, C, d₁, …).

    `target` is either class indices (N,) / () / (N, d₁, …), y = one_hot(target), with
    `ignore_index` for targets that count for nothing and 'mean' divided by the sum of the
    counted targets' weights; or class probabilities of the input's shape, 'mean' divided by
    the number of samples. `label_smoothing` ε mixes in the uniform distribution:
    y ← (1 − ε)·y + ε/C.
    """
    op = "cross_entropy"
    _check_loss_call(op, input, reduction)
    classes = _class_count(op, input)
    weights = _class_weights(op, weight, classes)
    smoothing = _loss_number(op, "label_smoothing", label_smoothing)
    if not 0 <= smoothing <= 1:
        raise RuntimeError(f"{op}: label_smoothing must be between 0.0 and 1.0, got {smoothing}")
    if _are_probabilities(input, target):
        if ignore_index >= 0:
            raise RuntimeError(f"{op}: ignore_index is not supported for a target of class "
                               f"probabilities (got ignore_index={ignore_index})")
        x, y = input._operands(target, op)
        return ops.soft_cross_entropy(x, y, weights, smoothing, reduction)
    labels, some_ignored = _class_labels(op, input, target, classes, ignore_index)
    if input.ndim == 2 and weights is None and not smoothing and not some_ignored:
        return ops.cross_entropy(input, labels, reduction)  # the common case: one log-softmax
    log_probabilities = input.log_softmax(axis=0 if input.ndim == 1 else 1)
    return ops.NLLLossOp.apply(log_probabilities, target=labels, weight=weights,
                               ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=smoothing)


def _check_loss_call(op: str, input: Any, reduction: Any) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}; pass "
                        "Tensor(x) instead of x")
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; use "
                         "'none', 'mean' or 'sum'")


def _loss_number(op: str, name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {value!r}")
    return float(value)


def _regression_pair(op: str, input: Any, target: Any, reduction: Any) -> tuple[Tensor, Tensor]:
    """Input and target in one dtype and one shape: different shapes that broadcast are
    broadcast with PyTorch's warning (usually a mistake: (N,) against (N, 1) gives N × N)."""
    _check_loss_call(op, input, reduction)
    x, y = input._operands(target, op)
    if x.data.shape != y.data.shape:
        try:
            shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise RuntimeError(f"{op}: input of shape {x.shape} and target of shape {y.shape} "
                               "do not broadcast together; give them the same shape") from None
        warnings.warn(f"{op}: using a target size {y.shape} that is different to the input "
                      f"size {x.shape}. This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", UserWarning,
                      stacklevel=3)
        x, y = x.expand(*shape), y.expand(*shape)
    return x, y


def _binary_pair(op: str, input: Any, target: Any, reduction: Any) -> tuple[Tensor, Tensor]:
    """Input and target of one shape (the binary cross-entropies do not broadcast)."""
    _check_loss_call(op, input, reduction)
    x, y = input._operands(target, op)
    if x.data.shape != y.data.shape:
        raise ValueError(f"{op}: target size {y.shape} must be the same as input size "
                         f"{x.shape} (this loss does not broadcast)")
    return x, y


def _broadcast_weight(op: str, name: str, weight: Any, x: Tensor) -> Tensor | None:
    """A weight that broadcasts to the input's shape, as a constant Tensor of its dtype."""
    if weight is None:
        return None
    w = _loss_constant(op, name, weight)
    if not _broadcasts_to(w.shape, x.shape):
        raise RuntimeError(f"{op}: {name} of shape {w.shape} does not broadcast to the "
                           f"input's shape {x.shape}")
    return w if w.dtype == x.dtype else w.to(x.dtype)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _loss_constant(op: str, name: str, value: Any) -> Tensor:
    """A weight argument as a Tensor that asks for no gradient (PyTorch gives none)."""
    if isinstance(value, str):
        raise TypeError(f"{op}: {name} must be a Tensor, got {value!r}; pass "
                        f"reduction={value!r} by name")
    t = value if isinstance(value, Tensor) else Tensor(value)
    if t.requires_grad:
        raise RuntimeError(f"{op}: {name} requires grad, but {op} is not differentiable with "
                           f"respect to {name} (as in PyTorch); pass {name}.detach()")
    return t


def _class_count(op: str, input: Tensor) -> int:
    """C: the size of the class axis (axis 1, or 0 for one sample's scores)."""
    if input.ndim == 0:
        raise ValueError(f"{op}: input must be scores of shape (N, C), (C,) or (N, C, d1, …), "
                         "got a 0-d tensor")
    return input.shape[0 if input.ndim == 1 else 1]


def _class_weights(op: str, weight: Any, classes: int) -> np.ndarray | None:
    if weight is None:
        return None
    w = _loss_constant(op, "weight", weight).data
    if w.shape != (classes,):
        raise RuntimeError(f"{op}: weight must hold one number per class, shape ({classes},), "
                           f"got shape {w.shape}")
    return w


def _are_probabilities(input: Tensor, target: Any) -> bool:
    """Whether the target holds class probabilities: floats of the input's shape."""
    values = target.data if isinstance(target, Tensor) else np.asarray(target)
    return values.dtype.kind == "f" and values.shape == input.shape


def _class_labels(op: str, input: Tensor, target: Any, classes: int,
                  ignore_index: int) -> tuple[np.ndarray, bool]:
    """The target as an integer array of the input's shape without the class axis (the very
    array given, so a jit replay reads new labels), and whether some equal ignore_index."""
    labels = target.data if isinstance(target, Tensor) else np.asarray(target)
    expected = () if input.ndim == 1 else input.shape[:1] + input.shape[2:]
    if labels.dtype.kind not in "iu":
        raise ValueError(f"{op}: target must hold integer class indices of shape {expected} "
                         f"(or class probabilities of the input's shape {input.shape}), got "
                         f"{labels.dtype} of shape {labels.shape}")
    if labels.shape != expected:
        raise ValueError(f"{op}: input of shape {input.shape} needs target of shape {expected}"
                         f" (class indices), got {labels.shape}")
    if not labels.size:
        return labels, False
    some_ignored = _labels_ignored(op, labels, classes, ignore_index)
    if Recording.active is not None and isinstance(target, Tensor):  # a jit step: every
        def same_path(values: np.ndarray) -> None:  # replay checks its own labels too
            if _labels_ignored(op, values, classes, ignore_index) != some_ignored:
                raise RuntimeError(
                    f"jit: {op} was recorded with {'some' if some_ignored else 'no'} labels "
                    f"equal to ignore_index ({ignore_index}) and this call has "
                    f"{'none' if some_ignored else 'some'}: the record computes the other "
                    "case; call step.reset() first or run the step without jit")
        check_values(same_path, target)
    return labels, some_ignored


def _labels_ignored(op: str, labels: np.ndarray, classes: int, ignore_index: int) -> bool:
    """Whether some labels equal ignore_index; a label outside [0, classes) is an error."""
    low, high = labels.min(), labels.max()
    if 0 <= low and high < classes and not 0 <= ignore_index < classes:
        return False  # (the common case: two passes over the labels, as ever)
    ignored = labels == ignore_index
    outside = ((labels < 0) | (labels >= classes)) & ~ignored
    if outside.any():
        raise ValueError(f"{op}: labels must lie in [0, {classes}) or equal ignore_index "
                         f"({ignore_index}), got {labels[outside].flat[0]}")
    return bool(ignored.any())


# ----------------------------------------------------------------------------------------
# Embedding
# ----------------------------------------------------------------------------------------
def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Row `weight[i]` for every id i of `input` (integers of any shape): `weight[input]`,
    shape `input.shape + (embedding_dim,)`. A row's gradient adds up over every place its
    id occurs (indexing scatter-adds); the row `padding_idx` gets none."""
    _refuse_embedding_options("embedding", max_norm, scale_grad_by_freq, sparse)
    return _embedding("embedding", input, weight, padding_idx)


def _embedding(op: str, ids: Tensor, weight: Tensor, padding_idx: int | None) -> Tensor:
    """F.embedding for the function and the layer (`op` names the one called in errors)."""
    if not isinstance(ids, Tensor) or not isinstance(weight, Tensor):
        wrong = ("input", ids) if not isinstance(ids, Tensor) else ("weight", weight)
        raise TypeError(f"{op}: {wrong[0]} must be a Tensor, got {type(wrong[1]).__name__}")
    if weight.ndim != 2:
        raise ValueError(f"{op}: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {weight.shape}")
    rows = weight.shape[0]
    padding = _padding_index(op, padding_idx, rows)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers (int64 or int32), got {ids.dtype}; "
                        "convert with ids.to(np.int64)")
    def in_range(values: np.ndarray) -> None:  # (a jit replay checks its own ids too)
        if values.size and (values.min() < 0 or values.max() >= rows):
            bad = values.min() if values.min() < 0 else values.max()
            raise IndexError(f"{op}: index {bad} is out of range for {rows} embeddings "
                             f"(indices must lie in [0, {rows - 1}])")

    check_values(in_range, ids)
    if padding is not None:  # the padding row read from a detached copy: no gradient reaches
        is_padding = np.arange(rows)[:, None] == padding  # it (a mask of rows, not of ids,
        weight = ops.where(Tensor(is_padding), weight.detach(), weight)  # so jit replays it)
    return weight[ids.data]  # (*ids.shape, embedding_dim); backward scatter-adds


def _padding_index(op: str, padding_idx: Any, rows: int) -> int | None:
    """padding_idx as a row number in [0, rows) (negative counts from the end), or None."""
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, np.integer)):
        raise TypeError(f"{op}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -rows <= padding_idx < rows:
        raise ValueError(f"{op}: padding_idx must be within num_embeddings ({-rows} ≤ "
                         f"padding_idx < {rows}), got {padding_idx}")
    return int(padding_idx) % rows


def _refuse_embedding_options(op: str, max_norm: float | None, scale_grad_by_freq: bool,
                              sparse: bool) -> None:
    """PyTorch's options we do not implement, refused in words (never silently ignored)."""
    if max_norm is not None:
        raise NotImplementedError(f"{op}: max_norm is not supported; renormalise the rows "
                                  "yourself under no_grad(), or leave max_norm=None")
    if scale_grad_by_freq:
        raise NotImplementedError(f"{op}: scale_grad_by_freq=True is not supported; leave it "
                                  "False")
    if sparse:
        raise NotImplementedError(f"{op}: sparse gradients are not supported; leave "
                                  "sparse=False (the dense gradient holds the same values)")



# ----------------------------------------------------------------------------------------
# Attention
# ----------------------------------------------------------------------------------------
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """softmax(q kᵀ · scale + mask) v: each query's output is an average of the values,
    weighted by how well the query matches each key.

    Shapes as PyTorch: query `(…, L, E)`, key `(…, S, E)`, value `(…, S, Ev)`, output
    `(…, L, Ev)`; the leading axes (batch, heads) broadcast. `scale` defaults to `1/√E`.

    `attn_mask` broadcasts to `(…, L, S)`: a bool mask says which keys each query may
    attend to (True = takes part, as PyTorch; note `nn.MultiheadAttention` reads bool
    masks the other way round), a float mask (query's dtype) is added to the scores
    (−inf shuts a key out). `is_causal=True` lets query i see keys 0…i only. A query whose
    keys are all masked gets zero weights and a zero output (PyTorch's "safe softmax"),
    not NaN. `dropout_p` drops attention weights while training, seeded by
    `tg.manual_seed`; pass 0.0 in evaluation (PyTorch's function has no training flag
    either).
    """
    _check_attention(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    length, source_length = query.shape[-2], key.shape[-2]
    if scale is None:
        scale = 1.0 / float(np.sqrt(query.shape[-1]))
    scores = query @ key.transpose(-2, -1) * scale  # (…, L, E) @ (…, E, S) → (…, L, S)
    if is_causal:  # query i may see keys 0…i: the lower triangle (top-left aligned)
        attn_mask = Tensor(np.tri(length, source_length, dtype=bool))
    if attn_mask is not None:
        scores = _masked_scores(scores, attn_mask)  # (…, L, S), −inf where shut out
        weights = _safe_softmax(scores)  # (…, L, S), each row sums to 1 (or is all 0)
    else:
        weights = scores.softmax(-1)  # (…, L, S), each row sums to 1
    if dropout_p > 0:
        weights = _attention_dropout(weights, dropout_p)  # (…, L, S)
    return weights @ value  # (…, L, S) @ (…, S, Ev) → (…, L, Ev)


def _masked_scores(scores: Tensor, attn_mask: Tensor) -> Tensor:
    """A bool mask shuts out the keys marked False (their score becomes −inf); a float
    mask is added as it is."""
    if attn_mask.dtype == np.bool_:
        return scores.masked_fill(~attn_mask, float("-inf"))
    return scores + attn_mask


def _safe_softmax(scores: Tensor) -> Tensor:
    """Softmax over the last axis, with rows that are −inf everywhere (a query allowed no
    key at all) giving zeros, as PyTorch's attention does. Those rows are set to 0 before
    the softmax so that no NaN appears, forward or backward, and zeroed after it."""
    shut_out = (scores == float("-inf")).all(dim=-1, keepdim=True)  # (…, L, 1)
    weights = scores.masked_fill(shut_out, 0.0).softmax(-1)
    return weights.masked_fill(shut_out, 0.0)


def _attention_dropout(weights: Tensor, p: float) -> Tensor:
    """Zero each weight with probability p and scale the rest by 1/(1 − p) (p = 1 zeroes
    them all), from the default generator (`tg.manual_seed`)."""
    if Recording.active is not None:
        raise RuntimeError("scaled_dot_product_attention: a jit step would replay the same "
                           "dropout mask every time; call the step without tg.jit, or use "
                           "dropout_p=0.0 (model.eval())")
    if p == 1:
        return weights * 0.0
    keep = random_generator(None).random(weights.shape) >= p
    return weights * (keep / (1 - p)).astype(weights.dtype)


def _check_attention(query: Any, key: Any, value: Any, attn_mask: Any, dropout_p: float,
                     is_causal: bool, enable_gqa: bool) -> None:
    """PyTorch's checks, said in words that name the function and the shapes."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
        if t.ndim < 2 or t.dtype.kind != "f":
            raise RuntimeError(f"{op}: {name} must be a float tensor of at least 2 "
                               f"dimensions (…, length, features), got {t.dtype} {t.shape}")
    if not query.dtype == key.dtype == value.dtype:
        raise RuntimeError(f"{op}: query, key and value must have one dtype, got "
                           f"{query.dtype}, {key.dtype} and {value.dtype}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"{op}: query (…, L, E), key (…, S, E) and value (…, S, Ev) must "
                           f"agree on E and S, got query {query.shape}, key {key.shape}, "
                           f"value {value.shape}")
    try:
        batch = np.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except ValueError:
        raise RuntimeError(f"{op}: the batch axes of query {query.shape}, key {key.shape} "
                           f"and value {value.shape} do not broadcast together") from None
    if not 0 <= dropout_p <= 1:
        raise RuntimeError(f"{op}: dropout_p must be between 0 and 1, got {dropout_p}")
    if enable_gqa:
        raise NotImplementedError(f"{op}: enable_gqa=True is not supported; repeat key and "
                                  "value along the head axis (k.repeat_interleave) instead")
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError(f"{op}: give attn_mask or is_causal=True, not both (the "
                               "causal mask is built for you)")
        _check_attention_mask(op, attn_mask, query, (*batch, query.shape[-2], key.shape[-2]))


def _check_attention_mask(op: str, attn_mask: Any, query: Tensor,
                          scores_shape: tuple[int, ...]) -> None:
    """A mask is a bool tensor or a float one of query's dtype that broadcasts to the
    scores' shape (…, L, S) without making it bigger."""
    if not isinstance(attn_mask, Tensor):
        raise TypeError(f"{op}: attn_mask must be a Tensor (bool or {query.dtype}), got "
                        f"{type(attn_mask).__name__}")
    if attn_mask.dtype != np.bool_ and attn_mask.dtype != query.dtype:
        raise RuntimeError(f"{op}: attn_mask must be bool (True = takes part) or float of "
                           f"query's dtype {query.dtype} (added to the scores), got "
                           f"{attn_mask.dtype}")
    try:
        fits = np.broadcast_shapes(attn_mask.shape, scores_shape) == scores_shape
    except ValueError:
        fits = False
    if not fits:
        raise RuntimeError(f"{op}: attn_mask of shape {attn_mask.shape} does not broadcast "
                           f"to the attention scores' shape (…, L, S) = {scores_shape}")


# ----------------------------------------------------------------------------------------
# Images and normalisation (checked here, at the API boundary; the math is in ops/image.py)
# ----------------------------------------------------------------------------------------
# One engine serves 1-D and 2-D: a signal (N, C, L) is an image (N, C, 1, L) of height 1,
# and an unbatched input (C, H, W) is a batch of one. The functions below add those axes,
# run the 2-D op and take them off again (reshapes, so gradients pass straight through).

def whole_number(value: Any, what: str, owner: str, smallest: int = 0) -> int:
    """An int at least `smallest`, or the error PyTorch gives, naming the op or layer and the
    argument: TypeError for a float (784.0 is not a size: says what to write), ValueError
    below `smallest`. Every size and count argument of F and nn is checked here."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        hint = f"; write {int(value)}" if isinstance(value, float) and value.is_integer() else ""
        raise TypeError(f"{owner}: {what} must be an int, got {_describe(value)}{hint}")
    if value < smallest:
        raise ValueError(f"{owner}: {what} must be an int ≥ {smallest}, got {value}")
    return int(value)


def _sizes(value: Any, count: int, what: str, op: str, smallest: int) -> tuple[int, ...]:
    """An int or a tuple of `count` ints as a tuple, each at least `smallest`."""
    if type(value) is int and value >= smallest:  # the common cases, in few steps: every
        return (value,) * count  # layer call passes through here
    if (type(value) is tuple and len(value) == count and set(map(type, value)) == {int}
            and min(value) >= smallest):
        return value
    many = value if isinstance(value, (tuple, list)) else (value,) * count
    if len(many) != count or any(isinstance(v, bool) or not isinstance(v, (int, np.integer))
                                 for v in many):
        kind = "an int" if count == 1 else f"an int or a tuple of {count} ints"
        raise TypeError(f"{op}: {what} must be {kind}, got {value!r}")
    if any(v < smallest for v in many):
        raise ValueError(f"{op}: {what} must be an int ≥ {smallest} or a tuple of them, got "
                         f"{value!r}")
    return tuple(int(v) for v in many)


def _pair(value: Any, what: str, op: str, smallest: int) -> tuple[int, int]:
    """An int or a pair of ints as a pair, each at least `smallest`."""
    return _sizes(value, 2, what, op, smallest)  # type: ignore[return-value]


def _as_image(op: str, input: Tensor, dims: int) -> Tensor:
    """input (N, C, *spatial) or unbatched (C, *spatial), as a batch of images (N, C, H, W)."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(input).__name__}")
    if input.ndim not in (dims + 1, dims + 2):
        spatial = "L" if dims == 1 else "H, W"
        raise ValueError(f"{op}: expects input of shape (N, C, {spatial}) or (C, {spatial}), "
                         f"got {input.shape}")
    x = input.unsqueeze(0) if input.ndim == dims + 1 else input
    return x.unsqueeze(2) if dims == 1 else x


def _from_image(z: Tensor, input: Tensor, dims: int) -> Tensor:
    """The inverse of `_as_image` on a result (N, C', H', W')."""
    if dims == 1:
        z = z.reshape(z.shape[:2] + z.shape[3:])
    return z.reshape(z.shape[1:]) if input.ndim == dims + 1 else z


def _check_windows(op: str, shape: tuple[int, ...], kernel: tuple[int, ...],
                   padding: tuple[int, ...], dilation: tuple[int, ...] | None = None) -> None:
    """The (dilated) kernel must fit the padded input along every spatial axis."""
    dims = len(kernel)
    dilation = dilation or (1,) * dims
    padded = tuple(n + 2 * p for n, p in zip(shape[-dims:], padding, strict=True))
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    if any(s > n for s, n in zip(span, padded, strict=True)):
        spans = f" with dilation {dilation} spans {span}," if span != kernel else " is"
        raise ValueError(f"{op}: kernel {kernel}{spans} larger than the (padded) input "
                         f"{padded} of an input of shape {shape}")


def _check_one_dtype(op: str, x: Tensor, weight: Tensor, bias: Tensor | None) -> None:
    """Input, weight and bias in one dtype, or an error saying how (PyTorch raises too)."""
    dtypes = [t.dtype for t in (x, weight, bias) if t is not None]
    if any(d != dtypes[0] for d in dtypes):
        names = ", ".join(f"{name} {d}" for name, d in zip(("input", "weight", "bias"), dtypes,
                                                               strict=False))
        raise TypeError(f"{op}: {names} must have one dtype; convert with .to(dtype) "
                        "(e.g. x.to(model_weight.dtype))")


def _conv_padding(op: str, padding: Any, kernel: tuple[int, ...], stride: tuple[int, ...],
                  dilation: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(padding on each side, outputs to drop at the start) for an int, a tuple, 'valid'
    or 'same'. 'same' pads d·(k − 1) in all, the extra one (when odd) at the end, as
    PyTorch: we pad the larger amount on both sides and drop the one output too many."""
    dims = len(kernel)
    if not isinstance(padding, str):
        return _sizes(padding, dims, "padding", op, 0), (0,) * dims
    if padding == "valid":
        return (0,) * dims, (0,) * dims
    if padding != "same":
        raise ValueError(f"{op}: padding must be an int, a tuple, 'valid' or 'same', got "
                         f"{padding!r}")
    if any(s != 1 for s in stride):
        raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                         f"(stride {stride}); pad with an int instead")
    total = tuple(d * (k - 1) for k, d in zip(kernel, dilation, strict=True))
    return tuple(t - t // 2 for t in total), tuple(t % 2 for t in total)


def _conv(op: str, dims: int, input: Tensor, weight: Tensor, bias: Tensor | None,
          stride: Any, padding: Any, dilation: Any, groups: Any) -> Tensor:
    """conv1d and conv2d: arguments checked, then one Conv2dOp (a 1-D signal as height 1)."""
    stride = _sizes(stride, dims, "stride", op, 1)
    dilation = _sizes(dilation, dims, "dilation", op, 1)
    groups = whole_number(groups, "groups", op, 1)
    x = _as_image(op, input, dims)
    if weight.ndim != dims + 2:
        layout = "k" if dims == 1 else "kH, kW"
        raise ValueError(f"{op}: weight must have shape (out, in/groups, {layout}), got "
                         f"{weight.shape}")
    kernel = tuple(weight.shape[2:])
    if x.shape[1] != weight.shape[1] * groups:
        raise ValueError(f"{op}: input of shape {input.shape} has {x.shape[1]} channels, but "
                         f"weight of shape {weight.shape} with groups={groups} expects "
                         f"{weight.shape[1] * groups}")
    if weight.shape[0] % groups:
        raise ValueError(f"{op}: weight of shape {weight.shape} has {weight.shape[0]} output "
                         f"channels, which groups={groups} does not divide")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"{op}: bias must have shape ({weight.shape[0]},), got {bias.shape}")
    padding, drop = _conv_padding(op, padding, kernel, stride, dilation)
    _check_windows(op, input.shape, kernel, padding, dilation)
    _check_one_dtype(op, x, weight, bias)
    if dims == 1:  # a 1-D kernel is a 2-D one of height 1
        weight = weight.unsqueeze(2)
        stride, padding, dilation, drop = ((1, *stride), (0, *padding), (1, *dilation),
                                           (0, *drop))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    z = ops.Conv2dOp.apply(*inputs, stride=stride, padding=padding, dilation=dilation,
                           groups=groups)
    if any(drop):  # 'same' with an odd total padding (see _conv_padding)
        z = z[:, :, drop[0]:, drop[1]:]
    return _from_image(z, input, dims)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] | str = 0,
           dilation: int | tuple[int, int] = 1, groups: int = 1) -> Tensor:
    """2-D convolution of input (N, C, H, W) or (C, H, W) with weight (out, C/groups, kH,
    kW), as PyTorch's: padding an int, a pair, 'valid' (none) or 'same' (the output as
    large as the input; stride 1 only); `dilation` spreads the kernel's taps apart;
    `groups` splits the channels into groups, each convolved with its own weights."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
           stride: int | tuple[int] = 1, padding: int | tuple[int] | str = 0,
           dilation: int | tuple[int] = 1, groups: int = 1) -> Tensor:
    """1-D convolution of input (N, C, L) or (C, L) with weight (out, C/groups, k), as
    PyTorch's (the same options as conv2d; computed as a 2-D convolution of height 1)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def _pool_args(op: str, dims: int, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any) -> tuple[tuple[int, ...], ...]:
    """kernel, stride (the kernel's by default), padding and dilation as tuples, checked
    as PyTorch does (padding at most half the kernel)."""
    kernel = _sizes(kernel_size, dims, "kernel_size", op, 1)
    step = kernel if stride is None else _sizes(stride, dims, "stride", op, 1)
    pad = _sizes(padding, dims, "padding", op, 0)
    spread = _sizes(dilation, dims, "dilation", op, 1)
    if any(p > k // 2 for p, k in zip(pad, kernel, strict=True)):
        raise ValueError(f"{op}: padding {padding!r} must be at most half the kernel size "
                         f"{kernel_size!r}")
    return kernel, step, pad, spread


def _image_args(dims: int, *args: tuple[int, ...]) -> list[tuple[int, ...]]:
    """1-D pooling arguments as 2-D ones of height 1 (`fill`: kernel, stride, padding,
    dilation in that order get 1, 1, 0, 1 for the height)."""
    if dims == 2:
        return list(args)
    return [(fill, *a) for fill, a in zip((1, 1, 0, 1), args, strict=False)]


def _max_pool(op: str, dims: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    args = _pool_args(op, dims, kernel_size, stride, padding, dilation)
    x = _as_image(op, input, dims)
    _check_windows(op, input.shape, args[0], args[2], args[3])
    kernel, step, pad, spread = _image_args(dims, *args)
    out = ops.MaxPool2dOp.apply(x, kernel=kernel, stride=step, padding=pad, dilation=spread,
                                ceil_mode=bool(ceil_mode))
    if not return_indices:
        return _from_image(out, input, dims)
    indices = ops.max_pool2d_indices(x.data, out.data, kernel, step, pad, spread,  # type: ignore[arg-type]
                                     bool(ceil_mode))
    return _from_image(out, input, dims), _from_image(Tensor(indices), input, dims)


def max_pool2d(input: Tensor, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
               dilation: int | tuple[int, int] = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Any:
    """The largest value of each window of input (N, C, H, W) or (C, H, W); stride defaults
    to the kernel size, padding adds −∞ around, ceil_mode keeps a last partial window.
    With return_indices, also where each maximum is (PyTorch's flat index h·W + w)."""
    return _max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def max_pool1d(input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, dilation: int | tuple[int] = 1,
               ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """The largest value of each window of input (N, C, L) or (C, L), as max_pool2d."""
    return _max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation,
                     ceil_mode, return_indices)


def _avg_pool(op: str, dims: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
              ceil_mode: bool, count_include_pad: bool, divisor_override: Any) -> Tensor:
    args = _pool_args(op, dims, kernel_size, stride, padding, 1)
    if divisor_override is not None:
        divisor_override = whole_number(divisor_override, "divisor_override", op, 1)
    x = _as_image(op, input, dims)
    _check_windows(op, input.shape, args[0], args[2])
    kernel, step, pad = _image_args(dims, *args[:3])
    out = ops.avg_pool2d(x, kernel, step, pad, bool(ceil_mode),  # type: ignore[arg-type]
                         bool(count_include_pad), divisor_override)
    return _from_image(out, input, dims)


def avg_pool2d(input: Tensor, kernel_size: int | tuple[int, int],
               stride: int | tuple[int, int] | None = None, padding: int | tuple[int, int] = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each window of input (N, C, H, W) or (C, H, W); padding adds zeros,
    counted in the mean unless count_include_pad=False; ceil_mode keeps a last partial
    window (its overhang never counted), divisor_override replaces the count."""
    return _avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size: int | tuple[int], stride: int | tuple[int] | None = None,
               padding: int | tuple[int] = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """The mean of each window of input (N, C, L) or (C, L), as avg_pool2d."""
    return _avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            generator: np.random.Generator | None = None) -> Tensor:
    """While training, zero each value with probability p and scale the rest by 1/(1 − p),
    so the expected value is unchanged (p = 1: all zeros); in evaluation, input as it is."""
    p = _probability("dropout", p)
    if not training or p == 0:
        return input
    if p == 1:  # everything dropped; a NaN or ∞ times 0 is NaN, silently as in PyTorch
        with np.errstate(invalid="ignore"):
            return input * 0
    if Recording.active is not None:
        raise RuntimeError("dropout: a jit step would replay the same random mask every "
                           "time; call the step without tg.jit, or use model.eval()")
    keep = random_generator(generator).random(input.shape) >= p
    return input * (keep / (1 - p)).astype(input.dtype)


def _probability(op: str, p: Any) -> float:
    """p checked to be a number in [0, 1] (PyTorch's message)."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: p must be a float, got {type(p).__name__} {p!r}")
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _normalized_shape(op: str, value: Any) -> tuple[int, ...]:
    """normalized_shape as a tuple: an int n means (n,), as nn.LayerNorm takes it."""
    many = value if isinstance(value, (tuple, list)) else (value,)
    if not many or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
                       for n in many):
        raise TypeError(f"{op}: normalized_shape must be an int or a tuple of ints ≥ 1 (the "
                        f"last axes' sizes), got {value!r}")
    return tuple(int(n) for n in many)


def layer_norm(input: Tensor, normalized_shape: int | tuple[int, ...],
               weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Normalise over the last len(normalized_shape) axes (each sample on its own), then
    scale by weight and shift by bias. normalized_shape may be an int (PyTorch's F wants
    a tuple; its nn.LayerNorm takes both)."""
    shape = _normalized_shape("layer_norm", normalized_shape)
    if tuple(input.shape[-len(shape):]) != shape:
        raise ValueError(f"layer_norm: input of shape {input.shape} does not end in "
                         f"normalized_shape {shape}")
    y = ops.normalize(input, tuple(range(-len(shape), 0)), eps)
    if weight is not None:
        y = y * weight
    return y if bias is None else y + bias


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float | None = 0.1, eps: float = 1e-5,
               batches_tracked: Tensor | None = None) -> Tensor:
    """Normalise each channel (axis 1) over the batch and every other axis ((N, C),
    (N, C, L), (N, C, H, W), …): with the batch's own mean and variance while training,
    updating the running estimates in place (the variance unbiased, as PyTorch keeps it);
    with the running estimates in evaluation."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expects input of shape (N, C, …), got {input.shape}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and t.shape != (channels,):
            raise ValueError(f"batch_norm: {name} must have shape ({channels},) for input "
                             f"of shape {input.shape}, got {t.shape}")
    axes = (0, *range(2, input.ndim))
    shape = (1, channels) + (1,) * (input.ndim - 2)
    if training or running_mean is None or running_var is None:
        if input.size // max(channels, 1) < 2:
            raise ValueError(f"batch_norm: training needs more than one value per channel, "
                             f"got input of shape {input.shape}")
        if running_mean is not None and running_var is not None:
            _update_running_stats(input, running_mean, running_var, axes, momentum,
                                  batches_tracked)
        y = ops.normalize(input, axes, eps)
    else:
        y = (input - running_mean.reshape(shape)) / (running_var.reshape(shape) + eps) ** 0.5
    if weight is not None:
        y = y * weight.reshape(shape)
    return y if bias is None else y + bias.reshape(shape)


def _update_running_stats(x: Tensor, running_mean: Tensor, running_var: Tensor,
                          axes: tuple[int, ...], momentum: float | None,
                          batches_tracked: Tensor | None) -> None:
    """running ← (1 − m)·running + m·batch (m = 1/batches for momentum=None), in place."""
    if Recording.active is not None:
        raise RuntimeError(
            "jit: batch_norm in training mode updates running_mean and running_var in place "
            "at every call, which a replay cannot repeat; jit the evaluation step after "
            "model.eval(), build the layer with track_running_stats=False, or run the "
            "training step without jit")
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
