"""The engine: known results, graph walking, accumulation, graph release, modes, errors."""

import warnings

import numpy as np
import pytest
from custom_ops import Cube

import tinygrad_edu as tg
from tinygrad_edu import Function, Tensor, no_grad
from tinygrad_edu.viz import topological_order


# --- plain-number results worked out by hand ---------------------------------------------
def test_expression_with_relu_and_reuse():
    x = Tensor(-4.0, requires_grad=True)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    assert y.item() == -20.0
    assert x.grad.item() == 46.0


def test_diamond():
    a = Tensor(2.0, requires_grad=True)
    b = Tensor(3.0, requires_grad=True)
    c, d = a + b, a * b
    e, f = c + d, c * d
    (e + f).backward()
    assert a.grad.item() == 25.0
    assert b.grad.item() == 19.0


def test_same_tensor_used_twice_adds_both_paths():
    a = Tensor(1.5, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_node_reuse_in_a_larger_graph():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    shared = x.sigmoid()
    y = (shared * shared + shared.exp() + shared).sum()
    y.backward()
    s = 1 / (1 + np.exp(-x.data))
    expected = (2 * s + np.exp(s) + 1) * s * (1 - s)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


# --- graph walking ------------------------------------------------------------------------
def test_chain_of_100000_ops_backpropagates():
    x = Tensor(1.0, requires_grad=True, dtype=np.float64)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** 100_000, rel=1e-9)


def test_topological_order_puts_inputs_first():
    a = Tensor(1.0, requires_grad=True)
    b = a * 2
    c = b + a
    d = c * b
    order = topological_order(d)
    position = {id(t): i for i, t in enumerate(order)}
    assert position[id(a)] < position[id(b)] < position[id(c)] < position[id(d)]
    assert len(order) == 4


# --- accumulation, release, retain_graph -------------------------------------------------
def test_grad_accumulates_across_backward_calls():
    x = Tensor(3.0, requires_grad=True)
    (x * x).backward()
    (x * x).backward()
    assert x.grad.item() == 12.0


def test_second_backward_on_a_freed_graph_says_retain_graph():
    x = Tensor(3.0, requires_grad=True)
    y = x * x
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = Tensor(3.0, requires_grad=True)
    y = (x * x).sigmoid()
    y.backward(retain_graph=True)
    first = x.grad.item()
    y.backward()
    assert x.grad.item() == pytest.approx(2 * first)


def test_only_leaves_keep_grad_unless_retained():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    kept = (x * 2).retain_grad()
    (hidden.sum() + kept.sum() * 5).backward()
    assert hidden.grad is None
    np.testing.assert_array_equal(kept.grad.data, [5.0, 5.0])
    np.testing.assert_array_equal(x.grad.data, [13.0, 13.0])


def test_grads_of_two_leaves_are_separate_arrays():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # add hands the same gradient to both
    a.grad.data[0] = 100.0
    assert b.grad.data[0] == 1.0


def test_inputs_not_requiring_grad_get_none():
    x = Tensor([1.0, 2.0])
    w = Tensor([3.0, 4.0], requires_grad=True)
    (x * w).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0])


# --- modes --------------------------------------------------------------------------------
def test_no_grad_as_context_manager_and_decorator():
    x = Tensor(2.0, requires_grad=True)
    with no_grad():
        y = x * x
    assert not y.requires_grad and y.is_leaf

    @no_grad()
    def square(t):
        return t * t

    assert not square(x).requires_grad
    assert (x * x).requires_grad  # and it is back on afterwards
    assert tg.is_grad_enabled()


def test_detach_cuts_the_graph():
    x = Tensor(3.0, requires_grad=True)
    (x * x.detach()).backward()
    assert x.grad.item() == 3.0


def test_create_graph_gives_second_derivatives():
    x = Tensor([0.5, -1.0], requires_grad=True, dtype=np.float64)
    y = (x ** 3).sum()
    (dx,) = tg.grad(y, [x], create_graph=True)
    np.testing.assert_allclose(dx.data, 3 * x.data ** 2)
    dx.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_hessian_vector_product_of_sigmoid_network():
    x = Tensor(np.array([0.3, -0.2, 0.7]), requires_grad=True)
    w = Tensor(np.array([[1.0, -2.0, 0.5], [0.3, 0.2, -1.0]]), requires_grad=True)
    f = lambda t: (w @ t).sigmoid().sum()  # noqa: E731
    (g,) = tg.grad(f(x), [x], create_graph=True)
    v = np.array([1.0, 2.0, -1.0])
    (hv,) = tg.grad((g * v).sum(), [x])
    eps = 1e-6  # numeric H·v: the change of the gradient along v
    grad_at = lambda p: tg.grad(f(p), [p])[0].data  # noqa: E731
    numeric = (grad_at(Tensor(x.data + eps * v, requires_grad=True))
               - grad_at(Tensor(x.data - eps * v, requires_grad=True))) / (2 * eps)
    np.testing.assert_allclose(hv.data, numeric, rtol=1e-6, atol=1e-9)


def test_plain_backward_builds_no_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (x.sigmoid() * x).sum().backward()
    assert x.grad.is_leaf and not x.grad.requires_grad


def test_custom_function():
    x = Tensor([2.0, -1.0], requires_grad=True, dtype=np.float64)
    Cube.apply(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [12.0, 3.0])
    assert tg.gradcheck(Cube.apply, [x])


def test_max_ties_share_the_gradient():
    x = Tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.5, 0.5, 0.0])


# --- dtypes -------------------------------------------------------------------------------
def test_dtypes_follow_pytorch():
    assert Tensor([1, 2]).dtype == np.float32
    assert Tensor(3).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.arange(3)).dtype == np.int64
    assert (Tensor([1.0]) * 2.5).dtype == np.float32


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        Tensor(np.arange(3), requires_grad=True)


def test_mixed_dtypes_give_gradients_in_each_inputs_dtype():
    a = Tensor([1.0, 2.0], requires_grad=True)  # float32
    b = Tensor(np.array([3.0, 4.0]), requires_grad=True)  # float64
    out = (a * b).sum()
    assert out.dtype == np.float64
    out.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_constructors():
    assert Tensor.zeros(2, 3).shape == (2, 3)
    assert Tensor.ones((2,), dtype=np.float64).dtype == np.float64
    np.testing.assert_array_equal(Tensor.eye(2).data, np.eye(2))
    assert Tensor.arange(4).dtype == np.int64
    assert Tensor.arange(0, 1, 0.25).shape == (4,)
    np.testing.assert_array_equal(Tensor.randn(3, seed=1).data, Tensor.randn(3, seed=1).data)
    r = Tensor.rand(2, 2, seed=np.random.default_rng(0), requires_grad=True)
    assert r.requires_grad and 0 <= r.data.min() and r.data.max() < 1


def test_repr_names_the_op():
    x = Tensor([1.0, 2.0], requires_grad=True)
    assert "grad_fn=sigmoid" in repr(x.sigmoid())
    assert "requires_grad=True" in repr(x)


def test_numpy_array_on_the_left():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


# --- bad input: clear errors at the API boundary ------------------------------------------
def test_matmul_shape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3\).*\(4, 5\)"):
        Tensor.ones(2, 3) @ Tensor.ones(4, 5)


def test_broadcast_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"add.*\(2, 3\) and \(4,\)"):
        Tensor.ones(2, 3) + Tensor.ones(4)


def test_reshape_mismatch_names_op_and_shapes():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\)"):
        Tensor.ones(2, 3).reshape(4)


def test_backward_needs_grad_for_non_scalars():
    y = Tensor.ones(2, 2, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"not a scalar.*\(2, 2\)"):
        y.backward()


def test_backward_grad_of_wrong_shape():
    y = Tensor.ones(2, 2, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"backward.*\(3,\).*\(2, 2\)"):
        y.backward(np.ones(3))


def test_a_custom_op_returning_a_wrong_shape_is_named():
    class Broken(Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad, out, x):
            return grad.sum()

    with pytest.raises(RuntimeError, match=r"broken.backward.*shape"):
        Broken.apply(Tensor.ones(3, requires_grad=True)).sum().backward()


# --- numerics: stable at ±1e4 --------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("op", ["sigmoid", "tanh", "softmax", "log_softmax"])
def test_stable_at_large_inputs(op, dtype):
    x = Tensor(np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]], dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning fails the test
        out = getattr(x, op)()
        (out * Tensor(np.array([[1.0, 2.0, 3.0]], dtype))).sum().backward()
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad.data))
    if op == "sigmoid":
        np.testing.assert_array_equal(out.data, [[0, 0.5, 1], [1, 1, 0]])
    if op == "softmax":
        np.testing.assert_allclose(out.data, [[0, 0, 1], [0.5, 0.5, 0]], atol=1e-7)
    if op == "log_softmax":
        np.testing.assert_allclose(out.data[0], [-2e4, -1e4, 0])


def test_sigmoid_values_match_the_definition():
    z = np.linspace(-30, 30, 61)
    np.testing.assert_allclose(Tensor(z).sigmoid().data, 1 / (1 + np.exp(-z)), rtol=1e-12,
                               atol=1e-16)


def test_every_way_of_making_a_tensor_sets_every_field():
    from tinygrad_edu import nn

    for t in (Tensor([1.0]), Tensor._wrap(np.ones(2)), nn.Parameter(np.ones(2)), Tensor(2.0) * 3):
        for field in Tensor.__slots__:
            if field != "__weakref__":
                getattr(t, field)  # AttributeError if one was never set


def test_grad_runs_only_the_ops_that_lead_to_its_inputs():
    """As torch.autograd.grad: a part of the graph freed by an earlier backward() that does
    not lead to the inputs asked for is not walked (it raised the freed-graph error); a part
    that may lead to them still raises it."""
    w = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = (w * 3).sigmoid()
    h.sum().backward()  # frees h's graph
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    (gx,) = tg.grad((x * h).sum(), [x])
    np.testing.assert_array_equal(gx.data, h.data)
    with pytest.raises(RuntimeError, match="already freed by an earlier backward"):
        tg.grad((x * h).sum(), [w])
