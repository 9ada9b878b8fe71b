"""Hypothesis strategies for gradient-check experiments on your own ops and networks.

Needs `hypothesis` (`pip install "tinygrad-edu[testing]"`). Example:

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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError("tinygrad_edu.testing needs hypothesis: pip install hypothesis "
                      "(or the testing extra: pip install \"tinygrad-edu[testing]\")") from err

from tinygrad_edu.tensor import Tensor, no_grad

__all__ = ["PROGRAM_OPS", "Program", "arrays", "broadcastable_shapes", "matmul_shapes",
           "programs", "shapes", "tensor_pairs", "tensors"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


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


# ----------------------------------------------------------------------------------------
# Whole random programs: bugs also live in how ops compose
# ----------------------------------------------------------------------------------------
# name → (how many operands, the op written with the public API). Every op keeps each
# value broadcastable to one common shape, so any two values can meet in a binary op, and
# none has a kink (no relu, no max), so central differences apply everywhere.
ProgramOp = tuple[int, Callable[..., Tensor]]

PROGRAM_OPS: dict[str, ProgramOp] = {
    "add": (2, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b),
    "div": (2, lambda a, b: a / (1 + b * b)),  # never divides by 0
    "pow": (1, lambda a: a ** 2),
    "scale": (1, lambda a: 0.5 * a),
    "neg": (1, lambda a: -a),
    "sigmoid": (1, lambda a: a.sigmoid()),
    "tanh": (1, lambda a: a.tanh()),
    "sum": (1, lambda a: a.sum(axis=-1, keepdims=True)),
    "mean": (1, lambda a: a.mean(axis=0, keepdims=True)),
    "softmax": (1, lambda a: a.softmax(axis=-1)),
    "log_softmax": (1, lambda a: a.log_softmax(axis=-1)),
    "flip": (1, lambda a: a[..., ::-1]),  # a slice with a negative step
    "gather": (1, lambda a: a[..., [i % a.shape[-1] for i in (1, 0, 1, 2)[:a.shape[-1]]]]),
    "reshape": (1, lambda a: a.reshape(-1).reshape(a.shape)),
}
"""The ops `programs` draws from: name → (how many operands, the op as a function)."""


@dataclass
class Program:
    """A random computation over a few inputs: step k computes value len(inputs) + k from
    earlier values (reused freely, so diamonds and shared subexpressions arise). Call it
    with the inputs to run it; `repr` prints it as code."""

    inputs: list[Tensor]
    steps: list[tuple[str, tuple[int, ...]]]
    ops: dict[str, ProgramOp]

    def __call__(self, *inputs: Tensor) -> Tensor:
        """Run the steps on `inputs`; returns the last value."""
        values = list(inputs)
        for name, operands in self.steps:
            values.append(self.ops[name][1](*(values[i] for i in operands)))
        return values[-1]

    def largest_value(self) -> float:
        """The largest |value| the program computes on its inputs: huge values (a square of
        a square of …) make central differences meaningless, so checks skip those."""
        with no_grad():
            values = list(self.inputs)
            for name, operands in self.steps:
                values.append(self.ops[name][1](*(values[i] for i in operands)))
        return max(float(np.max(np.abs(v.data), initial=0.0)) for v in values)

    def __repr__(self) -> str:
        """The program as lines of code: v0 = input of shape (2,), v1 = tanh(v0), …"""
        lines = [f"v{i} = input of shape {t.shape}" for i, t in enumerate(self.inputs)]
        for k, (name, operands) in enumerate(self.steps, start=len(self.inputs)):
            lines.append(f"v{k} = {name}({', '.join(f'v{i}' for i in operands)})")
        return "Program:\n  " + "\n  ".join(lines)


@st.composite
def programs(draw: Any, max_steps: int = 12, max_inputs: int = 3, max_side: int = 3,
             ops: dict[str, ProgramOp] | None = None) -> Program:
    """Random programs of 1–`max_steps` ops over 1–`max_inputs` float64 inputs whose shapes
    broadcast together. Pass `ops` (name → (arity, function)) to fuzz your own ops among
    the built-in ones: `programs(ops={**PROGRAM_OPS, "softplus": (1, my_softplus)})`.

        @given(programs())
        def test_backward_of_whole_programs(program):
            assume(program.largest_value() < 1e4)
            assert gradcheck(program, program.inputs)
    """
    ops = PROGRAM_OPS if ops is None else ops
    count = draw(st.integers(1, max_inputs))
    input_shapes = draw(broadcastable_shapes(count, min_dims=1, max_dims=3, max_side=max_side))
    inputs = [draw(tensors(shape, min_value=-2.0, max_value=2.0)) for shape in input_shapes]
    steps = []
    names = sorted(ops)
    for k in range(draw(st.integers(1, max_steps))):
        name = draw(st.sampled_from(names))
        available = st.integers(0, count + k - 1)
        operands = tuple(draw(available) for _ in range(ops[name][0]))
        steps.append((name, operands))
    return Program(inputs, steps, ops)
