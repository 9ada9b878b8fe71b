"""Every op's backward against central differences, over hypothesis-drawn shapes and values.

Float64, eps 1e-6, rtol 1e-4 / atol 1e-6. `gradcheck` compares whole Jacobians, which holds
every vector–Jacobian product at once (a random output gradient included); the test below
`test_vjp_with_random_output_gradient` does the VJP form of the recipe explicitly too.
"""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from test_inplace_and_conversions import EVERY_OP_INDEXING
from test_losses import EVERY_OP_LOSSES
from test_ops_elementwise import EVERY_OP_ELEMENTWISE
from test_ops_products import EVERY_OP_PRODUCTS
from test_ops_reduce import EVERY_OP_REDUCE
from test_ops_shape import EVERY_OP_SHAPE

from tinygrad_edu import Function, Tensor, func, grad, gradcheck, gradgradcheck, no_grad, ops
from tinygrad_edu import functional as F
from tinygrad_edu.testing import (
    broadcastable_shapes,
    matmul_shapes,
    shapes,
    tensor_pairs,
    tensors,
)

TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}


def check(fn, *inputs):
    assert gradcheck(fn, list(inputs), **TIGHT)


def far_from(x: Tensor, value: float, margin: float = 1e-3) -> bool:
    return bool(np.all(np.abs(x.data - value) > margin))


# --- elementwise binary ops, with broadcasting ------------------------------------------
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
}


@pytest.mark.parametrize("name", BINARY)
@given(pair=tensor_pairs(broadcastable_shapes()))
def test_binary_op_with_broadcasting(name, pair):
    a, b = pair
    if name == "div":
        assume(far_from(b, 0.0, 0.1))
    check(BINARY[name], a, b)


@given(pair=tensor_pairs(broadcastable_shapes(), min_value=0.2, max_value=3.0))
def test_pow_tensor_exponent(pair):
    base, exponent = pair
    check(lambda a, b: a ** b, base, exponent)


@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5])
@given(x=tensors(min_value=0.2, max_value=4.0))
def test_pow_number_exponent(exponent, x):
    check(lambda t: t ** exponent, x)


@given(x=tensors())
def test_numbers_on_either_side(x):
    assume(far_from(x, 0.0, 0.1))
    check(lambda t: 3.0 - t * 2.0 + 1.5 / t + (t + 4.0) / 2.0 - (-t), x)
    check(lambda t: 2.0 ** (t / 5.0), x)


@given(x=tensors())
def test_numpy_arrays_on_either_side(x):
    constant = np.linspace(-1.0, 2.0, x.shape[-1])
    check(lambda t: constant * t + t * constant - constant / (t * t + 1.0) + (t - constant), x)


# --- unary ops --------------------------------------------------------------------------
@given(x=tensors())
def test_sigmoid(x):
    check(lambda t: t.sigmoid(), x)


@given(x=tensors())
def test_tanh(x):
    check(lambda t: t.tanh(), x)


@given(x=tensors())
def test_relu_away_from_kink(x):
    assume(far_from(x, 0.0))
    check(lambda t: t.relu(), x)


@given(x=tensors())
def test_exp(x):
    check(lambda t: t.exp(), x)


@given(x=tensors(min_value=0.05, max_value=5.0))
def test_log_away_from_pole(x):
    check(lambda t: t.log(), x)


@given(x=tensors())
def test_neg(x):
    check(lambda t: -t, x)


@given(x=tensors())
def test_clone(x):
    check(lambda t: t.clone() * t, x)


# --- matrix products --------------------------------------------------------------------
@given(pair=tensor_pairs(matmul_shapes()))
def test_matmul_all_shape_kinds(pair):
    a, b = pair
    check(lambda x, y: x @ y, a, b)


@given(x=tensors(shapes(2, 3)), data=st.data())
def test_linear_op(x, data):
    outputs = data.draw(st.integers(1, 4))
    weight = data.draw(tensors((outputs, x.shape[-1])))
    bias = data.draw(tensors((outputs,)))
    check(lambda a, w, b: F.linear(a, w, b), x, weight, bias)
    check(lambda a, w: F.linear(a, w), x, weight)


def test_linear_with_an_integer_product_and_a_float_bias_adds_without_truncating():
    # the bias is added in place only when that keeps z's dtype (before: numpy's casting error)
    z = F.linear(Tensor(np.ones((2, 3), np.int64)), Tensor(np.ones((4, 3), np.int64)),
                 Tensor(np.full(4, 0.5, np.float32)))
    assert z.dtype.kind == "f" and np.all(z.data == 3.5)


# --- reductions -------------------------------------------------------------------------
def axes_for(x: Tensor):
    return st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1))


@given(x=tensors(), data=st.data())
def test_sum(x, data):
    axis, keepdims = data.draw(axes_for(x)), data.draw(st.booleans())
    check(lambda t: t.sum(axis=axis, keepdims=keepdims), x)


@given(x=tensors(shapes(2, 3)))
def test_sum_over_several_axes(x):
    check(lambda t: t.sum(axis=(0, -1)), x)


@given(x=tensors(), data=st.data())
def test_mean(x, data):
    axis, keepdims = data.draw(axes_for(x)), data.draw(st.booleans())
    check(lambda t: t.mean(axis=axis, keepdims=keepdims), x)


@given(x=tensors(), data=st.data())
def test_max_without_ties(x, data):
    axis, keepdims = data.draw(axes_for(x)), data.draw(st.booleans())
    top = np.max(x.data, axis=axis, keepdims=True)
    assume(np.all(np.sum(x.data == top, axis=axis) == 1))  # a tie is a kink
    runner_up = np.where(x.data == top, -np.inf, x.data).max(axis=axis, keepdims=True)
    assume(np.all(top - runner_up > 1e-3))  # and so is a near-tie, for central differences
    check(lambda t: t.max(axis=axis, keepdims=keepdims), x)


@given(x=tensors(), data=st.data())
def test_softmax_and_log_softmax(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda t: t.softmax(axis=axis), x)
    check(lambda t: t.log_softmax(axis=axis), x)


@given(pair=tensor_pairs(shapes().map(lambda s: (s, s))))
def test_mse_loss(pair):
    prediction, target = pair
    check(lambda p, y: F.mse_loss(p, y), prediction, target)
    check(lambda p, y: F.mse_loss(p, y, reduction="sum"), prediction, target)


# --- shape ops and indexing -------------------------------------------------------------
@given(x=tensors())
def test_reshape_and_flatten(x):
    check(lambda t: t.reshape(-1), x)
    check(lambda t: t.reshape(x.shape[::-1]), x)
    check(lambda t: t.flatten(), x)


@given(x=tensors(shapes(2, 3)), data=st.data())
def test_transpose_permute_and_dot_t(x, data):
    order = data.draw(st.permutations(range(x.ndim)))
    check(lambda t: t.permute(*order), x)
    check(lambda t: t.T, x)
    check(lambda t: t.transpose(0, -1), x)


@given(x=tensors(), data=st.data())
def test_indexing_with_slices(x, data):
    stop = data.draw(st.integers(1, x.shape[0]))
    step = data.draw(st.integers(1, 2))
    check(lambda t: t[:stop:step], x)
    check(lambda t: t[..., -1], x)


@given(x=tensors(), data=st.data())
def test_indexing_with_repeated_integer_arrays(x, data):
    index = data.draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=1, max_size=6))
    check(lambda t: t[np.array(index)], x)  # repeats add up in the gradient


@given(x=tensors(shapes(2, 2)), data=st.data())
def test_indexing_with_a_pair_of_integer_arrays(x, data):
    rows = data.draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=1, max_size=5))
    columns = [r % x.shape[1] for r in rows]
    check(lambda t: t[np.array(rows), np.array(columns)], x)


# --- compositions -----------------------------------------------------------------------
@given(x=tensors(shapes(2, 2)), data=st.data())
def test_small_network(x, data):
    w = data.draw(tensors((3, x.shape[-1])))
    b = data.draw(tensors((3,)))
    check(lambda a, w_, b_: ((a @ w_.T + b_).sigmoid() * 2).tanh().mean(), x, w, b)


@given(x=tensors(), seed=st.integers(0, 2**32 - 1))
def test_vjp_with_random_output_gradient(x, seed):
    """The recipe's own form: backward(v) against central differences of v·f(x)."""
    v = np.random.default_rng(seed).standard_normal(x.shape)
    f = lambda t: (t * t).sigmoid() * t.tanh()  # noqa: E731
    f(x).backward(v)
    eps = 1e-6
    numeric = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        saved = x.data[index]
        x.data[index] = saved + eps
        plus = np.vdot(v, f(x).data)
        x.data[index] = saved - eps
        minus = np.vdot(v, f(x).data)
        x.data[index] = saved
        numeric[index] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(x.grad.data, numeric, rtol=1e-4, atol=1e-6)


@given(x=tensors())
def test_gradient_has_input_shape_and_dtype(x):
    for dtype in (np.float32, np.float64):
        t = Tensor(x.data.astype(dtype), requires_grad=True)
        ((t.sigmoid() * 3).sum() + t.max()).backward()
        assert t.grad.shape == t.shape
        assert t.grad.dtype == dtype


# --- every op in ops/ has a gradient check ------------------------------------------------
def _values(shape, low=-2.0, high=2.0, seed=0):
    return Tensor(np.random.default_rng(seed).uniform(low, high, shape), requires_grad=True)


# op → (a function that runs it, its inputs): away from kinks, poles and ties
EVERY_OP = {
    ops.Add: (lambda a, b: a + b, [(2, 3), (3,)]),
    ops.Sub: (lambda a, b: a - b, [(2, 3), (2, 1)]),
    ops.Mul: (lambda a, b: a * b, [(2, 3), (3,)]),
    ops.Div: (lambda a, b: a / b, [(2, 3), (3,), 0.5]),
    ops.Pow: (lambda a, b: a ** b, [(2, 3), (3,), 0.5]),
    ops.Neg: (lambda a: -a, [(4,)]),
    ops.Clone: (lambda a: a.clone() * a, [(4,)]),
    ops.Cast: (lambda a: ops.Cast.apply(a, dtype=np.dtype(np.float64)) * a, [(4,)]),
    ops.SigmoidOp: (lambda a: a.sigmoid(), [(2, 3)]),
    ops.TanhOp: (lambda a: a.tanh(), [(2, 3)]),
    ops.ReLUOp: (lambda a: a.relu(), [(2, 3), None, 0.1]),
    ops.Exp: (lambda a: a.exp(), [(2, 3)]),
    ops.Log: (lambda a: a.log(), [(2, 3), None, 0.5]),
    ops.MatMul: (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    ops.LinearOp: (lambda x, w, b: F.linear(x, w, b), [(2, 3), (4, 3), (4,)]),
    ops.StackedLinearOp: (lambda x, w, b: ops.StackedLinearOp.apply(x, w, b),
                          [(2, 1, 3), (2, 4, 3), (2, 4)]),  # (one row each: outer products)
    ops.Sum: (lambda a: a.sum(axis=1), [(2, 3)]),
    ops.Max: (lambda a: a.max(axis=0), [(3, 2)]),
    ops.LogSoftmaxOp: (lambda a: a.log_softmax(axis=-1), [(2, 3)]),
    ops.MSELossOp: (lambda a, b: F.mse_loss(a, b), [(2, 3), (2, 3)]),
    ops.StackedMSELossOp: (lambda a, b: ops.StackedMSELossOp.apply(a, b), [(2, 3, 2), (2, 3, 2)]),
    ops.Reshape: (lambda a: a.reshape(3, 2) * 1.0, [(2, 3)]),
    ops.Permute: (lambda a: a.permute(1, 0), [(2, 3)]),
    ops.Expand: (lambda a: a.expand(4, 3), [(1, 3)]),
    ops.GetItem: (lambda a: a[np.array([0, 0, 1])], [(2, 3)]),
    ops.IndexAdd: (lambda a: ops.IndexAdd.apply(a, index=np.array([1, 1]), shape=(3, 2)),
                   [(2, 2)]),
    ops.Unfold: (lambda a: ops.Unfold.apply(a, kernel=(2, 3), stride=(1, 2), padding=(1, 0)),
                 [(2, 2, 4, 5)]),
    ops.Fold: (lambda a: ops.Fold.apply(a, shape=(1, 2, 4, 5), kernel=(2, 3), stride=(1, 2),
                                        padding=(1, 0)), [(1, 12, 10)]),
    ops.Conv2dOp: (lambda x, w, b: ops.Conv2dOp.apply(x, w, b, stride=(2, 1), padding=(1, 2)),
                 [(2, 3, 5, 4), (4, 3, 2, 3), (4,)]),
    ops.MaxPool2dOp: (lambda a: ops.MaxPool2dOp.apply(a, kernel=(2, 2), stride=(1, 2)),
                    [(2, 2, 4, 5)]),
    **EVERY_OP_ELEMENTWISE, **EVERY_OP_REDUCE, **EVERY_OP_SHAPE, **EVERY_OP_PRODUCTS,
    **EVERY_OP_INDEXING, **EVERY_OP_LOSSES,
    ops.LSTMCellOp: (lambda a, b, c: ops.LSTMCellOp.apply(a, b, c), [(2, 12), (2, 12), (2, 3)]),
    ops.LSTMLayerOp: (lambda *inputs: ops.LSTMLayerOp.apply(*inputs),
                      [(3, 2, 4), (2, 3), (2, 3), (12, 4), (12, 3), (12,)]),
}


def test_every_op_in_ops_py_has_a_gradient_check():
    defined = {c for c in vars(ops).values() if isinstance(c, type) and
               issubclass(c, Function) and c.__module__.startswith(ops.__name__ + ".")}
    assert defined == set(EVERY_OP), "give each new op an entry in EVERY_OP"


@pytest.mark.parametrize("op", list(EVERY_OP), ids=lambda op: op.__name__)
def test_the_gradient_of(op):
    fn, spec = EVERY_OP[op]
    shapes = [s for s in spec if isinstance(s, tuple)]
    low = next((s for s in spec if isinstance(s, float)), -2.0)  # a positive floor if given
    inputs = [_values(shape, low=low, seed=i) for i, shape in enumerate(shapes)]
    assert gradcheck(fn, inputs, **TIGHT)


@pytest.mark.parametrize("op", list(EVERY_OP), ids=lambda op: op.__name__)
def test_the_second_derivative_of(op):
    """Each backward, run on Tensors (create_graph), differentiated again: a backward that
    drops out of the graph (a numpy call on Tensors) gives a zero second derivative here."""
    fn, spec = EVERY_OP[op]
    shapes = [s for s in spec if isinstance(s, tuple)]
    low = next((s for s in spec if isinstance(s, float)), -2.0)
    inputs = [_values(shape, low=low, seed=i) for i, shape in enumerate(shapes)]
    assert gradgradcheck(fn, inputs, **TIGHT)


def _op_inputs(op):
    fn, spec = EVERY_OP[op]
    shapes = [s for s in spec if isinstance(s, tuple)]
    low = next((s for s in spec if isinstance(s, float)), -2.0)
    return fn, [_values(shape, low=low, seed=i) for i, shape in enumerate(shapes)]


def _directions(inputs, seed):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(x.shape) for x in inputs]


def forward_derivative_error(fn, inputs, eps=1e-6):
    """|J·v by the op's jvp − (f(x + eps·v) − f(x − eps·v)) / 2eps|, largest, for a random
    direction v of every input at once, relative to the derivative's size."""
    v = _directions(inputs, seed=7)
    plain = tuple(Tensor(x.data) for x in inputs)  # (no grad: the rules run on arrays)
    _, moved = func.jvp(fn, plain, tuple(v))
    with no_grad():
        ahead = fn(*[Tensor(x.data + eps * d) for x, d in zip(inputs, v, strict=True)]).data
        behind = fn(*[Tensor(x.data - eps * d) for x, d in zip(inputs, v, strict=True)]).data
    numeric = (ahead - behind) / (2 * eps)
    return np.max(np.abs(moved.data - numeric)) / max(1.0, np.max(np.abs(numeric)))


def adjoint_error(fn, inputs):
    """⟨u, J·v⟩ − ⟨Jᵀ·u, v⟩ for random u, v: the op's jvp against its backward (inputs
    that require grad: the jvp runs on Tensors, recording a graph)."""
    v = _directions(inputs, seed=8)
    out, moved = func.jvp(fn, tuple(inputs), tuple(v))
    u = np.random.default_rng(9).standard_normal(out.shape)
    pulled = grad(fn(*inputs), inputs, grad_outputs=u, allow_unused=True)
    forward = np.sum(u * moved.data)
    reverse = sum(np.sum(p.data * d) for p, d in zip(pulled, v, strict=True) if p is not None)
    return abs(forward - reverse) / max(1.0, abs(forward))


@pytest.mark.parametrize("op", list(EVERY_OP), ids=lambda op: op.__name__)
def test_the_forward_derivative_of(op):
    """Each op's jvp against central differences in a random direction (float64)."""
    fn, inputs = _op_inputs(op)
    assert forward_derivative_error(fn, inputs) < 1e-6


@pytest.mark.parametrize("op", list(EVERY_OP), ids=lambda op: op.__name__)
def test_forward_and_reverse_rules_agree(op):
    """The adjoint test ⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩ between each op's jvp and its backward."""
    fn, inputs = _op_inputs(op)
    assert adjoint_error(fn, inputs) < 1e-10


@pytest.mark.parametrize("op", list(EVERY_OP), ids=lambda op: op.__name__)
def test_forward_over_reverse(op):
    """The Hessian of ⟨u, op(x)⟩ forward over reverse (jacfwd of jacrev: jvp rules run on
    Tensors, through the ops of each backward) equals reverse over reverse."""
    fn, inputs = _op_inputs(op)
    u = np.random.default_rng(10).standard_normal(fn(*inputs).shape)

    def weighted(*xs):
        return (fn(*xs) * Tensor(u)).sum()

    first = tuple(range(len(inputs)))
    by_forward = func.jacfwd(func.jacrev(weighted, first), first)(*inputs)
    by_reverse = func.jacrev(func.jacrev(weighted, first), first)(*inputs)
    for row_f, row_r in zip(by_forward, by_reverse, strict=True):
        for block_f, block_r in zip(row_f, row_r, strict=True):
            np.testing.assert_allclose(block_f.data, block_r.data, rtol=1e-9, atol=1e-9)


def test_a_wrong_forward_rule_is_caught():
    """A jvp that forgets the product rule's second term: both checks see it."""

    class ForgetfulMul(ops.Mul):
        def jvp(self, tangents, out, x, y):
            return tangents[0] * y  # d(x·y) = dx·y + x·dy: the x·dy term is missing

    def forgetful(a, b):
        return ForgetfulMul.apply(a, b)

    inputs = [_values((2, 3), seed=0), _values((2, 3), seed=1)]
    assert forward_derivative_error(forgetful, inputs) > 1e-2
    assert adjoint_error(forgetful, inputs) > 1e-2
    assert forward_derivative_error(lambda a, b: a * b, inputs) < 1e-6


def test_no_class_name_is_both_an_op_and_a_layer():
    """The house rule: an op named like a layer ends in Op (ops.SigmoidOp, nn.Sigmoid)."""
    from tinygrad_edu import nn

    def classes(module):
        return {name for name in dir(module) if isinstance(getattr(module, name), type)}

    assert not classes(ops) & classes(nn)
