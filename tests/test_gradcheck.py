"""gradcheck / gradgradcheck / jacobian as users see them: they pass on right gradients
and, just as important, fail on wrong ones with a message a learner can act on."""

import itertools

import numpy as np
import pytest
from custom_ops import Cube
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Function, GradcheckError, Tensor, gradcheck, gradgradcheck, ops
from tinygrad_edu import functional as F
from tinygrad_edu.testing import matmul_shapes, shapes, tensor_pairs, tensors


class WrongSquare(Function):
    """x², with a backward that forgot the factor 2."""

    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        return grad * x  # should be 2x


class FrozenCube(Function):
    """x³ whose backward is right once but uses a slope frozen at forward time (a plain
    array), so differentiating the backward again misses the slope's own dependence on x."""

    def forward(self, x):
        self.slope = 3 * x * x
        return x ** 3

    def backward(self, grad, out, x):
        return grad * self.slope


# --- gradcheck must be able to fail -------------------------------------------------------
@given(x=tensors(min_value=0.5, max_value=3.0))
def test_gradcheck_catches_a_custom_op_with_a_wrong_backward(x):
    with pytest.raises(GradcheckError):
        gradcheck(WrongSquare.apply, [x])
    assert gradcheck(WrongSquare.apply, [x], raise_exception=False) is False


@given(x=tensors(min_value=0.5, max_value=3.0))
def test_gradcheck_catches_a_gradient_cut_by_detach(x):
    assert not gradcheck(lambda t: t * t.detach(), [x], raise_exception=False)


@given(x=tensors(min_value=0.5, max_value=3.0))
def test_gradcheck_catches_a_gradient_off_by_a_factor_of_two(x):
    class DoubledSigmoid(ops.SigmoidOp):
        def backward(self, grad, out, z):
            return 2 * super().backward(grad, out, z)

    assert not gradcheck(lambda t: DoubledSigmoid.apply(t) * 3, [x], raise_exception=False)


def test_the_failure_message_names_input_index_and_values():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(WrongSquare.apply, [x])
    message = str(caught.value)
    assert "input 0 (x) of shape (3,)" in message
    assert "∂out[2]/∂x[2]: analytic 3, numeric 6" in message
    assert "worst absolute error 3" in message and "worst relative error 0.5" in message


def test_gradcheck_warns_about_float32():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float32, not float64"):
        gradcheck(lambda t: t * 2, [x], atol=1e-2, rtol=1e-2, eps=1e-2)


def test_gradcheck_needs_an_input_that_requires_grad():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, [Tensor(np.ones(2))])


# --- gradcheck passes on right gradients ----------------------------------------------------
@given(pair=tensor_pairs(matmul_shapes()))
def test_gradcheck_passes_on_matmul_with_any_output_shape(pair):
    assert gradcheck(lambda a, b: a @ b, list(pair))


@given(x=tensors(min_value=0.5, max_value=3.0))
def test_gradcheck_passes_on_an_honest_custom_op(x):
    assert gradcheck(Cube.apply, [x])


def seed_network_parameters(sizes, rng):
    params = []
    for fan_in, fan_out in itertools.pairwise(sizes):
        params.append(Tensor(rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in),
                             requires_grad=True))
        params.append(Tensor(rng.standard_normal(fan_out), requires_grad=True))
    return params


def seed_network_cost(x, y, *params):
    a = x
    for w, b in zip(params[0::2], params[1::2], strict=True):
        a = F.linear(a, w, b).sigmoid()  # a(l) = σ(W a(l−1) + b)
    return F.mse_loss(a, y)


@pytest.mark.parametrize("sizes", [(12, 4, 4, 3), (784, 16, 16, 10)])
def test_gradcheck_passes_on_the_seed_network(sizes):
    """The digit network's shape; the full 784→16→16→10 Jacobian is 13,002 columns, so it
    is checked on its smaller layers' parameters and a shrunk copy checks all of them."""
    rng = np.random.default_rng(0)
    x = Tensor(rng.random((3, sizes[0])))
    y = Tensor(np.eye(sizes[-1])[[0, 1, 2]])
    params = seed_network_parameters(sizes, rng)
    if sizes[0] == 784:  # differentiate all but the 12,544 first-layer weights
        params[0].requires_grad = False
    assert gradcheck(lambda *p: seed_network_cost(x, y, *p), params, atol=1e-7, rtol=1e-5)


# --- jacobian ----------------------------------------------------------------------------
@given(x=tensors(shapes(1, 2)), data=st.data())
def test_jacobian_matches_its_numeric_counterpart(x, data):
    w = data.draw(tensors((3, x.shape[-1]), requires_grad=False))
    f = lambda t: (t @ w.T).tanh()  # noqa: E731
    analytic, numeric = tg.jacobian(f, x), tg.numeric_jacobian(f, x)
    assert analytic.shape == f(x).shape + x.shape
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_jacobian_of_a_linear_map_is_the_matrix():
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    x = Tensor(np.array([0.5, -0.5]))
    np.testing.assert_allclose(tg.jacobian(lambda t: Tensor(w) @ t, x), w)


# --- gradgradcheck ------------------------------------------------------------------------
@given(x=tensors())
def test_gradgradcheck_on_sigmoid_and_tanh(x):
    assert gradgradcheck(lambda t: t.sigmoid(), [x])
    assert gradgradcheck(lambda t: t.tanh(), [x])


@given(x=tensors(shapes(2, 2)), data=st.data())
def test_gradgradcheck_on_matmul_then_sigmoid(x, data):
    w = data.draw(tensors((x.shape[-1], 3)))
    assert gradgradcheck(lambda a, b: (a @ b).sigmoid(), [x, w], atol=1e-6, rtol=1e-4)


@given(x=tensors(), data=st.data())
def test_gradgradcheck_on_log_softmax(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    assert gradgradcheck(lambda t: t.log_softmax(axis=axis), [x], atol=1e-6, rtol=1e-4)


@given(x=tensors(min_value=0.5, max_value=3.0))
def test_gradgradcheck_catches_a_backward_that_is_not_differentiable(x):
    assert gradcheck(FrozenCube.apply, [x])  # first order is right...
    assert not gradgradcheck(FrozenCube.apply, [x], raise_exception=False)  # ...second is not
    assert gradgradcheck(Cube.apply, [x])
