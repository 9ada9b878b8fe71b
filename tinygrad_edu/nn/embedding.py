"""Embedding: a table of learned vectors, one row per token id (PyTorch's `nn.Embedding`).

`Embedding(27, 10)` holds `weight` of shape (27, 10); for ids of any shape, `emb(ids)` is
`weight[ids]`, shape `ids.shape + (10,)` — the first layer of makemore's MLP and of a GPT.
It is the same as one-hot vectors times the table (`one_hot(ids) @ weight`) without making
the one-hot vectors: so the gradient of a row is the sum of the output gradients at every
place its id occurs, which indexing's backward does (a scatter-add).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn import init
from tinygrad_edu.nn.module import Module, Parameter, _not_a_tensor
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor, check_device, no_grad

__all__ = ["Embedding"]


class Embedding(Module):
    """A lookup table: `weight` (num_embeddings, embedding_dim), starting from N(0, 1) as
    PyTorch's. With `padding_idx`, that row starts at zero and is never trained (its
    gradient is zero): the id that fills out short sequences."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None,
                 max_norm: float | None = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False,
                 _weight: Tensor | np.ndarray | None = None, _freeze: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        check_device("Embedding", device)
        functional._refuse_embedding_options("Embedding", max_norm, scale_grad_by_freq, sparse)
        self.num_embeddings = functional.whole_number(num_embeddings, "num_embeddings", "Embedding")
        self.embedding_dim = functional.whole_number(embedding_dim, "embedding_dim", "Embedding")
        self.padding_idx = functional._padding_index("Embedding", padding_idx, num_embeddings)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:  # N(0, 1), the padding row zero (PyTorch's reset_parameters)
            self.weight = Parameter(np.empty(shape, dtype or DEFAULT_DTYPE), name="weight")
            init.normal_(self.weight)
            if self.padding_idx is not None:
                with no_grad():
                    self.weight[self.padding_idx] = 0
        else:  # given values, kept as they are (from_pretrained)
            values = np.array(_weight.data if isinstance(_weight, Tensor) else _weight,
                              dtype=dtype)
            if values.shape != shape:
                raise ValueError(f"Embedding: _weight must have shape {shape}, got "
                                 f"{values.shape}")
            self.weight = Parameter(values, requires_grad=not _freeze, name="weight")

    @classmethod
    def from_pretrained(cls, embeddings: Tensor | np.ndarray, freeze: bool = True,
                        padding_idx: int | None = None, max_norm: float | None = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> Embedding:
        """An Embedding holding a copy of `embeddings` (rows, dim); with freeze=True (the
        default, as PyTorch) its weight is not trained."""
        shape = np.shape(embeddings.data if isinstance(embeddings, Tensor) else embeddings)
        if len(shape) != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D (rows, dim), "
                             f"got shape {shape}")
        return cls(shape[0], shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq,
                   sparse, _weight=embeddings, _freeze=freeze)

    def forward(self, input: Tensor) -> Tensor:
        """Integer ids of any shape → their rows, shape `ids.shape + (embedding_dim,)`."""
        if not isinstance(input, Tensor):
            raise _not_a_tensor(self, input)
        return functional._embedding("Embedding", input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        """`27, 10` (and the padding_idx if any), as PyTorch prints it."""
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        return text if self.padding_idx is None else f"{text}, padding_idx={self.padding_idx}"
