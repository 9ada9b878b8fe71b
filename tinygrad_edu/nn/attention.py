"""Attention and Transformer blocks, with PyTorch's names, arguments, parameter names and
numbers: MultiheadAttention, TransformerEncoderLayer, TransformerEncoder.

The attention itself (scores, mask, softmax, weighted sum) is
`functional.scaled_dot_product_attention`; here are the projections around it, the heads,
PyTorch's mask conventions and the residual blocks of a Transformer.

Two mask conventions, both PyTorch's: in `F.scaled_dot_product_attention` a bool mask
marks with True the keys that *take part*; in `MultiheadAttention` and the Transformer
layers (`attn_mask`, `key_padding_mask`, `src_mask`) True marks the keys to *leave out*.
A float mask is added to the scores in both (−inf leaves a key out).
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn.linear import Linear
from tinygrad_edu.nn.module import Module, ModuleList, Parameter, _not_a_tensor
from tinygrad_edu.nn.normalization import Dropout, LayerNorm
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None

__all__ = ["MultiheadAttention", "TransformerEncoder", "TransformerEncoderLayer"]


# ----------------------------------------------------------------------------------------
# Multi-head attention
# ----------------------------------------------------------------------------------------
class MultiheadAttention(Module):
    """Attention with `num_heads` heads, as `torch.nn.MultiheadAttention`.

    Query, key and value are projected by `in_proj_weight` (3·E, E) — rows 0…E−1 make q,
    E…2E−1 make k, 2E…3E−1 make v — and `in_proj_bias` (3·E,); each is split into heads
    of E/num_heads features that attend separately; the heads' outputs are joined and
    projected by `out_proj` (a Linear). Inputs are (L, N, E) (sequence first, PyTorch's
    default), (N, L, E) with `batch_first=True`, or unbatched (L, E).

    Only key and value of embed_dim features are supported (kdim = vdim = embed_dim),
    without add_bias_kv or add_zero_attn; other values raise an error.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0,
                 bias: bool = True, add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 *, dtype: Any = DEFAULT_DTYPE, seed: Seed = None) -> None:
        _check_sizes(embed_dim, num_heads, kdim, vdim, add_bias_kv, add_zero_attn)
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first  # (a probability, as PyTorch)
        rng = random_generator(seed)
        limit = np.sqrt(6.0 / (embed_dim + 3 * embed_dim))  # xavier_uniform_, as PyTorch
        weight = rng.uniform(-limit, limit, (3 * embed_dim, embed_dim))
        self.in_proj_weight = Parameter(weight.astype(dtype), name="in_proj_weight")
        self.in_proj_bias = (Parameter(np.zeros(3 * embed_dim, dtype), name="in_proj_bias")
                             if bias else None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, seed=rng, dtype=dtype)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        """(attention output, attention weights or None), as PyTorch.

        Output: (L, N, E), or (N, L, E) with batch_first, or (L, E) unbatched. Weights
        (with `need_weights`): (N, L, S) averaged over the heads, or (N, num_heads, L, S)
        with `average_attn_weights=False` (unbatched: without N).

        `key_padding_mask` (N, S): True (or −inf) leaves that key out for every query, as
        for padding. `attn_mask` (L, S) or (N·num_heads, L, S): True (or −inf) leaves key s
        out for query l. `is_causal` is a hint that `attn_mask` is the causal mask (which
        must still be given, as PyTorch requires).

        A query that is left no key at all gets NaN with `need_weights=True` and zeros
        with `need_weights=False`, exactly as PyTorch (two different code paths there).
        """
        batched = self._check_inputs(query, key, value)
        query, key, value = self._batch_first(query, key, value, batched)
        batch, length, source_length = query.shape[0], query.shape[1], key.shape[1]
        mask = self._merged_mask(attn_mask, key_padding_mask, batched, batch, length,
                                 source_length, query.dtype)
        if is_causal and attn_mask is None:
            raise RuntimeError("MultiheadAttention: is_causal=True needs the causal attn_mask "
                               "as well (PyTorch's rule); build it with "
                               "tg.ones(L, L).triu(1).bool() (True = left out)")
        causal_hint = is_causal and key_padding_mask is None and not need_weights
        q, k, v = (self._split_heads(x) for x in self._project(query, key, value))
        dropout_p = self.dropout if self.training else 0.0
        if need_weights:
            output, weights = self._attention_with_weights(q, k, v, mask, dropout_p)
        else:  # PyTorch's other path: the fused function (fully masked rows give zeros)
            output = functional.scaled_dot_product_attention(
                q, k, v, None if causal_hint else mask, dropout_p, is_causal=causal_hint)
        output = self.out_proj(self._join_heads(output))  # (N, L, E)
        output = self._restore_layout(output, batched)
        if not need_weights:
            return output, None
        if average_attn_weights:
            weights = weights.mean(1)  # (N, H, L, S) → (N, L, S)
        return output, weights if batched else weights.squeeze(0)

    # --- the steps of forward, in order ---------------------------------------------------
    def _batch_first(self, query: Tensor, key: Tensor, value: Tensor, batched: bool
                     ) -> tuple[Tensor, Tensor, Tensor]:
        """Each input as (N, L, E): unbatched ones get a batch of one, sequence-first ones
        are transposed. (Identity is kept: self-attention's one tensor stays one.)"""
        def arrange(x: Tensor) -> Tensor:
            if not batched:
                return x.unsqueeze(0)
            return x if self.batch_first else x.transpose(0, 1)
        same_kv = key is value
        same_qk = query is key
        query = arrange(query)
        key = query if same_qk else arrange(key)
        return query, key, key if same_kv else arrange(value)

    def _project(self, query: Tensor, key: Tensor, value: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v = query·W_qᵀ + b_q, key·W_kᵀ + b_k, value·W_vᵀ + b_v, each (N, ·, E);
        the three W are the three row blocks of in_proj_weight."""
        e, weight, bias = self.embed_dim, self.in_proj_weight, self.in_proj_bias
        if query is key and key is value:  # self-attention: one product for all three
            q, k, v = functional.linear(query, weight, bias).split(e, dim=-1)
            return q, k, v
        biases = (None, None, None) if bias is None else (bias[:e], bias[e:2 * e], bias[2 * e:])
        return (functional.linear(query, weight[:e], biases[0]),
                functional.linear(key, weight[e:2 * e], biases[1]),
                functional.linear(value, weight[2 * e:], biases[2]))

    def _split_heads(self, x: Tensor) -> Tensor:
        """(N, L, E) → (N, H, L, E/H): each head gets its own slice of the features."""
        batch, length, _ = x.shape
        return x.reshape(batch, length, self.num_heads, self.head_dim).transpose(1, 2)

    def _join_heads(self, x: Tensor) -> Tensor:
        """(N, H, L, E/H) → (N, L, E): the heads' outputs side by side."""
        batch, _, length, _ = x.shape
        return x.transpose(1, 2).reshape(batch, length, self.embed_dim)

    def _attention_with_weights(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None,
                                dropout_p: float) -> tuple[Tensor, Tensor]:
        """The attention written out, to hand back its weights (PyTorch computes it so when
        need_weights=True, with a plain softmax: a fully masked row is NaN)."""
        scaled_q = q * float(np.sqrt(1.0 / self.head_dim))  # (N, H, L, E/H)
        scores = scaled_q @ k.transpose(-2, -1)  # (N, H, L, E/H) @ (N, H, E/H, S) → (N, H, L, S)
        if mask is not None:
            scores = scores + mask  # −inf where a key is left out
        weights = scores.softmax(-1)  # (N, H, L, S), each row sums to 1
        if dropout_p > 0:  # (the weights handed back are the dropped ones, as PyTorch's)
            weights = functional._attention_dropout(weights, dropout_p)
        return weights @ v, weights  # (N, H, L, S) @ (N, H, S, E/H) → (N, H, L, E/H)

    def _restore_layout(self, output: Tensor, batched: bool) -> Tensor:
        """(N, L, E) back to the caller's layout: (L, N, E), (N, L, E) or (L, E)."""
        if not batched:
            return output.squeeze(0)
        return output if self.batch_first else output.transpose(0, 1)

    # --- masks and checks -----------------------------------------------------------------
    def _merged_mask(self, attn_mask: Any, key_padding_mask: Any, batched: bool, batch: int,
                     length: int, source_length: int, dtype: np.dtype) -> Tensor | None:
        """attn_mask and key_padding_mask as one float mask added to the scores (N|1, H|1,
        L|1, S), −inf where a key is left out: PyTorch's merge."""
        if (attn_mask is not None and key_padding_mask is not None
                and _mask_dtype(attn_mask) != _mask_dtype(key_padding_mask)):
            warnings.warn("MultiheadAttention: mismatched key_padding_mask and attn_mask "
                          "dtypes are deprecated in PyTorch; use the same dtype for both",
                          stacklevel=3)
        heads = self.num_heads
        merged = None
        if attn_mask is not None:
            allowed = {2: (length, source_length), 3: (batch * heads, length, source_length)}
            float_mask = _float_mask(self, "attn_mask", attn_mask, allowed, dtype)
            merged = (float_mask if float_mask.ndim == 2  # (L, S)
                      else float_mask.reshape(batch, heads, length, source_length))
        if key_padding_mask is not None:
            shape = (batch, source_length) if batched else (source_length,)
            padding = _float_mask(self, "key_padding_mask", key_padding_mask,
                                  {len(shape): shape}, dtype)
            padding = padding.reshape(batch, 1, 1, source_length)  # same keys for each query
            merged = padding if merged is None else merged + padding
        return merged

    def _check_inputs(self, query: Any, key: Any, value: Any) -> bool:
        """Tensors of matching sizes, all batched (3-D) or all unbatched (2-D); returns
        whether they are batched."""
        for name, x in (("query", query), ("key", key), ("value", value)):
            if not isinstance(x, Tensor):
                raise _not_a_tensor(self, x, name)
        shapes = f"query {query.shape}, key {key.shape}, value {value.shape}"
        if query.ndim not in (2, 3) or not query.ndim == key.ndim == value.ndim:
            raise AssertionError(f"MultiheadAttention: query, key and value must all be 3-D "
                                 f"(batched) or all 2-D (unbatched), got {shapes}")
        if query.shape[-1] != self.embed_dim or key.shape != value.shape:
            raise AssertionError(f"MultiheadAttention: expects query with embed_dim="
                                 f"{self.embed_dim} features and key and value of one shape "
                                 f"(kdim = vdim = embed_dim), got {shapes}")
        batch_axis = 0 if self.batch_first else 1
        if query.ndim == 3 and query.shape[batch_axis] != key.shape[batch_axis]:
            raise AssertionError(f"MultiheadAttention: query and key have different batch "
                                 f"sizes (axis {batch_axis}, batch_first={self.batch_first}): "
                                 f"{shapes}")
        if not query.dtype == key.dtype == value.dtype == self.in_proj_weight.dtype:
            raise TypeError(f"MultiheadAttention: query, key and value must have the layer's "
                            f"dtype {self.in_proj_weight.dtype}, got {query.dtype}, "
                            f"{key.dtype} and {value.dtype}")
        return query.ndim == 3


def _check_sizes(embed_dim: Any, num_heads: Any, kdim: Any, vdim: Any, add_bias_kv: bool,
                 add_zero_attn: bool) -> None:
    """MultiheadAttention's constructor arguments, each named when wrong."""
    for name, size in (("embed_dim", embed_dim), ("num_heads", num_heads)):
        if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size <= 0:
            raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {size!r}")
    if embed_dim % num_heads:
        raise AssertionError(f"MultiheadAttention: embed_dim must be divisible by num_heads, "
                             f"got embed_dim={embed_dim} and num_heads={num_heads}")
    for name, size in (("kdim", kdim), ("vdim", vdim)):
        if size is not None and size != embed_dim:
            raise NotImplementedError(
                f"MultiheadAttention: {name}={size} differs from embed_dim={embed_dim}, which "
                f"is not supported; project key and value to {embed_dim} features first "
                f"(nn.Linear({size}, {embed_dim})) and leave {name} out")
    if add_bias_kv or add_zero_attn:
        raise NotImplementedError("MultiheadAttention: add_bias_kv and add_zero_attn are not "
                                  "supported; leave them False")


def _mask_dtype(mask: Any) -> Any:
    return mask.dtype if isinstance(mask, Tensor) else None


def _float_mask(layer: Module, name: str, mask: Any, shapes: dict[int, tuple[int, ...]],
                dtype: np.dtype) -> Tensor:
    """A MultiheadAttention mask as the float mask added to the scores: True → −inf,
    False → 0 (PyTorch's convention for this layer); a float mask as it is. `shapes` maps
    each allowed number of dimensions to the shape it must have."""
    where = f"{type(layer).__name__}: {name}"
    if not isinstance(mask, Tensor):
        raise _not_a_tensor(layer, mask, name)
    if mask.dtype != np.bool_ and mask.dtype.kind != "f":
        raise AssertionError(f"{where} must be bool (True = left out) or float (added to "
                             f"the scores), got {mask.dtype}")
    if mask.dtype.kind == "f" and mask.dtype != dtype:
        raise TypeError(f"{where}: a float mask must have the query's dtype {dtype}, got "
                        f"{mask.dtype}")
    if shapes.get(mask.ndim) != mask.shape:
        wanted = " or ".join(str(s) for s in shapes.values())
        raise RuntimeError(f"{where} has shape {mask.shape}, but should be {wanted}")
    if mask.dtype == np.bool_:
        return Tensor(np.where(mask.data, -np.inf, 0.0).astype(dtype))
    return mask


# ----------------------------------------------------------------------------------------
# Transformer encoder
# ----------------------------------------------------------------------------------------
class TransformerEncoderLayer(Module):
    """One Transformer encoder block, as `torch.nn.TransformerEncoderLayer`: self-attention,
    then a feed-forward network (linear1, activation, dropout, linear2), each inside a
    residual connection with a LayerNorm: after it (`norm_first=False`, the original
    Transformer, PyTorch's default) or before it (`norm_first=True`, as GPT-2).

        norm_first=False:  x = norm1(x + sa(x));  x = norm2(x + ff(x))
        norm_first=True:   x = x + sa(norm1(x));  x = x + ff(norm2(x))
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, *,
                 dtype: Any = DEFAULT_DTYPE, seed: Seed = None) -> None:
        rng = random_generator(seed)
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, dtype=dtype, seed=rng)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, seed=rng, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, seed=rng, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = _layer_norm(d_model, layer_norm_eps, bias, dtype)
        self.norm2 = _layer_norm(d_model, layer_norm_eps, bias, dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        """src (S, N, E), (N, S, E) with batch_first, or (S, E) → the same shape.
        `src_mask` and `src_key_padding_mask` are MultiheadAttention's `attn_mask` and
        `key_padding_mask` (True = left out)."""
        if not isinstance(src, Tensor):
            raise _not_a_tensor(self, src, "src")
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
        return self.norm2(x + self._ff_block(x))

    def _sa_block(self, x: Tensor, attn_mask: Tensor | None,
                  key_padding_mask: Tensor | None, is_causal: bool) -> Tensor:
        """Self-attention: every position attends to every (unmasked) position of x."""
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        """The position-wise feed-forward network: linear2(dropout(activation(linear1(x))))."""
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def _layer_norm(size: int, eps: float, bias: bool, dtype: Any) -> LayerNorm:
    """LayerNorm(size, eps), without its bias when `bias=False` (PyTorch's LayerNorm(bias=))."""
    norm = LayerNorm(size, eps=eps, dtype=dtype)
    if not bias:
        norm.bias = None
    return norm


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    """"relu" → F.relu, "gelu" → F.gelu, a callable (a function or a Module) as it is."""
    if activation == "relu":
        return functional.relu
    if activation == "gelu":
        return functional.gelu
    if callable(activation) and not isinstance(activation, str):
        return activation
    raise RuntimeError(f"TransformerEncoderLayer: activation should be 'relu', 'gelu' or a "
                       f"callable, not {activation!r}")


class TransformerEncoder(Module):
    """`num_layers` copies of `encoder_layer` applied in turn, then `norm` if given, as
    `torch.nn.TransformerEncoder`. Each copy has its own parameters (PyTorch deep-copies
    the layer too), named "layers.0.…", "layers.1.…".

    `enable_nested_tensor` and `mask_check` are accepted for PyTorch's signature; they
    only choose PyTorch's faster paths and change no numbers.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        if not isinstance(encoder_layer, Module):
            raise TypeError(f"TransformerEncoder: encoder_layer must be a Module "
                            f"(a TransformerEncoderLayer), got {type(encoder_layer).__name__}")
        if isinstance(num_layers, bool) or not isinstance(num_layers, (int, np.integer)) \
                or num_layers < 1:
            raise ValueError(f"TransformerEncoder: num_layers must be a positive int, got "
                             f"{num_layers!r}")
        self.layers = ModuleList(_fresh_copy(encoder_layer) for _ in range(num_layers))
        self.num_layers, self.norm = num_layers, norm
        self.enable_nested_tensor, self.mask_check = enable_nested_tensor, mask_check

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        """src through every layer with the same masks (True = left out), then `norm`."""
        if not isinstance(src, Tensor):
            raise _not_a_tensor(self, src, "src")
        output = src
        for layer in self.layers:
            output = layer(output, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                           is_causal=bool(is_causal))
        return output if self.norm is None else self.norm(output)


def _fresh_copy(layer: Module) -> Module:
    """A deep copy of `layer` with its own parameters, but sharing the random generators it
    holds (a copied generator would give every copy the same dropout masks)."""
    generators = {id(value): value for module in layer.modules()
                  for value in vars(module).values() if isinstance(value, np.random.Generator)}
    return copy.deepcopy(layer, memo=generators)
