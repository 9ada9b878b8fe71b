"""Hypothesis strategies for gradient-check experiments on your own ops and networks.

Needs `hypothesis` (`pip install "tinygrad-edu[dev]"`). Example:

    from hypothesis import given
    from tinygrad_edu import gradcheck
    from tinygrad_edu.testing import tensors, broadcastable_shapes

    @given(tensors())
    def test_my_op(x):
        assert gradcheck(lambda t: my_op(t), [x])

    @given(broadcastable_shapes().flatmap(lambda pair: st.tuples(*map(tensors, pair))))
    def test_my_binary_op(xy):
        assert gradcheck(my_binary_op, list(xy))

Values are bounded (−5..5 by default), never NaN, inf or subnormal, and float64, which is
what central differences need.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("tinygrad_edu.testing needs hypothesis: pip install hypothesis "
                      "(or the dev extra: pip install \"tinygrad-edu[dev]\")") from err

from tinygrad_edu.tensor import Tensor

Shape = tuple[int, ...]


def shapes(min_dims: int = 1, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[Shape]:
    """Array shapes: 1–3 axes of size 1–4 by default."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(shape: Shape | st.SearchStrategy[Shape] | None = None, dtype: Any = np.float64,
           min_value: float = -5.0, max_value: float = 5.0) -> st.SearchStrategy[np.ndarray]:
    """numpy arrays of bounded, finite, normal floats."""
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False, width=np.dtype(dtype).itemsize * 8)
    return hnp.arrays(dtype, shapes() if shape is None else shape, elements=elements)


def tensors(shape: Shape | st.SearchStrategy[Shape] | None = None, dtype: Any = np.float64,
            min_value: float = -5.0, max_value: float = 5.0,
            requires_grad: bool = True) -> st.SearchStrategy[Tensor]:
    """Tensors of the given (or a drawn) shape, ready to be gradient-checked."""
    return arrays(shape, dtype, min_value, max_value).map(
        lambda a: Tensor(a, requires_grad=requires_grad))


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 1, max_dims: int = 3,
                         max_side: int = 4) -> st.SearchStrategy[tuple[Shape, ...]]:
    """Tuples of shapes that broadcast together under numpy's rules, e.g. (2, 3) and (3,)."""
    return hnp.mutually_broadcastable_shapes(num_shapes=num_shapes, min_dims=min_dims,
                                             max_dims=max_dims, max_side=max_side).map(
        lambda drawn: drawn.input_shapes)


@st.composite
def matmul_shapes(draw: Any, max_side: int = 4, batched: bool = True) -> tuple[Shape, Shape]:
    """Shape pairs `a @ b` accepts: vector·vector, matrix·vector, vector·matrix,
    matrix·matrix and (when `batched`) batches that broadcast, e.g. (2, 1, 3, 4) @ (5, 4, 2)."""
    side = st.integers(1, max_side)
    n, k, m = draw(side), draw(side), draw(side)
    kinds = ["vv", "mv", "vm", "mm"] + (["batched"] if batched else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "vv":
        return (k,), (k,)
    if kind == "mv":
        return (n, k), (k,)
    if kind == "vm":
        return (k,), (k, m)
    if kind == "mm":
        return (n, k), (k, m)
    batch_a, batch_b = draw(broadcastable_shapes(2, min_dims=0, max_dims=2, max_side=3))
    return batch_a + (n, k), batch_b + (k, m)


def tensor_pairs(shape_pairs: st.SearchStrategy[tuple[Shape, Shape]], **options: Any
                 ) -> st.SearchStrategy[tuple[Tensor, Tensor]]:
    """Two tensors drawn for a drawn pair of shapes: `tensor_pairs(matmul_shapes())`."""
    return shape_pairs.flatmap(lambda pair: st.tuples(tensors(pair[0], **options),
                                                      tensors(pair[1], **options)))
