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
from tinygrad_edu.testing import (
    broadcastable_shapes,
    matmul_shapes,
    shapes,
    tensor_pairs,
    tensors,
)


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


# --- PyTorch's arguments -------------------------------------------------------------------
@pytest.mark.torch
@pytest.mark.parametrize("name", ["gradcheck", "gradgradcheck"])
def test_the_checks_take_pytorchs_arguments_and_defaults(name):
    """Every argument we take is PyTorch's, with its default, keyword-only where PyTorch's
    is (what we leave out is about sparse or complex tensors, devices and memory layout)."""
    import inspect

    torch = pytest.importorskip("torch")
    ours = inspect.signature(getattr(tg, name)).parameters
    theirs = inspect.signature(getattr(torch.autograd, name)).parameters
    for parameter in ours.values():
        assert parameter.name in theirs, parameter.name
        assert parameter.default == theirs[parameter.name].default, parameter.name
        assert parameter.kind == theirs[parameter.name].kind, parameter.name
    left_out = set(theirs) - set(ours)
    assert left_out <= {"check_grad_dtypes", "masked", "gen_non_contig_grad_outputs"}


def test_tolerances_are_keyword_only_as_in_pytorch():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError):
        gradcheck(lambda t: t * 2, [x], 1e-6)


# --- fast mode: uᵀJv instead of the whole Jacobian ---------------------------------------
@given(x=tensors(min_value=0.5, max_value=3.0))
def test_fast_mode_catches_a_wrong_backward(x):
    with pytest.raises(GradcheckError, match=r"fast_mode.*\n.*uᵀ·J·v"):
        gradcheck(WrongSquare.apply, [x], fast_mode=True)
    assert not gradcheck(lambda t: t * t.detach(), [x], fast_mode=True, raise_exception=False)


def test_fast_mode_reports_the_full_jacobians_of_the_failing_pair():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True, name="x")
    y = Tensor(np.array([0.5, -1.0]), requires_grad=True, name="y")
    with pytest.raises(GradcheckError) as caught:
        gradcheck(lambda a, b: (a.sum() * b, WrongSquare.apply(a)), [x, y], fast_mode=True)
    message = str(caught.value)
    assert message.startswith("gradcheck (fast_mode): gradient mismatch for input 0 (x) of "
                              "shape (3,), output 1 of shape (3,)")
    assert "∂out1[2]/∂x[2]: analytic 3, numeric 6" in message  # the slow details follow


@given(pair=tensor_pairs(matmul_shapes()))
def test_fast_mode_passes_on_right_gradients(pair):
    assert gradcheck(lambda a, b: (a @ b).sigmoid(), list(pair), fast_mode=True)


def test_fast_mode_passes_on_the_seed_network():
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.random((3, 12))), Tensor(np.eye(3)[[0, 1, 2]])
    params = seed_network_parameters((12, 4, 4, 3), rng)
    assert gradcheck(lambda *p: seed_network_cost(x, y, *p), params, fast_mode=True,
                     atol=1e-7, rtol=1e-5)


def test_fast_mode_calls_the_function_far_fewer_times():
    x = Tensor(np.random.default_rng(0).standard_normal((20, 20)), requires_grad=True)
    calls = []

    def f(t):
        calls.append(t)
        return (t @ t).tanh()

    for fast_mode, most in [(True, 3), (False, 801)]:  # once recorded, then x ± eps·v;
        calls.clear()  # or x[i] ± eps for each of the 400 elements
        assert gradcheck(f, [x], fast_mode=fast_mode, check_undefined_grad=False)
        assert len(calls) == most


# --- forward mode (jvp rules) -------------------------------------------------------------
class ForgetfulMul(ops.Mul):
    """x·y whose jvp forgets the product rule's second term: d(x·y) = dx·y (+ x·dy)."""

    def jvp(self, tangents, out, x, y):
        dx, _forgotten = tangents
        return None if dx is None else dx * y


class SlightlyAffineMul(ops.Mul):
    """x·y whose jvp adds 1e-7 to every tangent: within atol, but not linear (a zero
    tangent must give a zero tangent)."""

    def jvp(self, tangents, out, x, y):
        return super().jvp(tangents, out, x, y) + 1e-7


@given(pair=tensor_pairs(broadcastable_shapes(), min_value=0.5, max_value=3.0))
def test_check_forward_ad_catches_a_jvp_that_forgets_a_term(pair):
    a, b = pair
    assert gradcheck(ForgetfulMul.apply, [a, b])  # backward is right...
    for fast_mode in (False, True):  # ...forward mode is not, for input 1
        with pytest.raises(GradcheckError, match="forward-mode.*input 1"):
            gradcheck(ForgetfulMul.apply, [a, b], check_forward_ad=True, fast_mode=fast_mode)
        with pytest.raises(GradcheckError, match="forward-mode.*input 1"):
            gradcheck(ForgetfulMul.apply, [a, b], check_forward_ad=True, fast_mode=fast_mode,
                      check_backward_ad=False)


@given(pair=tensor_pairs(broadcastable_shapes()), fast_mode=st.booleans())
def test_check_forward_ad_passes_on_ops_with_jvp_rules(pair, fast_mode):
    a, b = pair
    w = Tensor(np.random.default_rng(0).standard_normal((3, a.shape[-1])), requires_grad=True)
    assert gradcheck(lambda s, t: ((s * t - s) + t).sigmoid().sum(), [a, b],
                     check_forward_ad=True, fast_mode=fast_mode)
    assert gradcheck(lambda s, m: F.linear(s, m).sigmoid(), [a, w], check_forward_ad=True,
                     check_batched_forward_grad=True, fast_mode=fast_mode)


def test_check_forward_ad_catches_a_jvp_that_is_not_linear():
    a, b = (Tensor(np.array([1.0, -2.0]), requires_grad=True) for _ in range(2))
    assert gradcheck(SlightlyAffineMul.apply, [a, b], check_forward_ad=True,
                     check_undefined_grad=False)  # 1e-7 is within atol...
    with pytest.raises(GradcheckError, match="zero tangent .* nonzero tangent"):
        gradcheck(SlightlyAffineMul.apply, [a, b], check_forward_ad=True)  # ...but not 0


class SquareWithoutJvp(Function):
    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        return grad * 2 * x


def test_check_forward_ad_names_an_op_without_a_jvp_rule():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert gradcheck(SquareWithoutJvp.apply, [x])
    with pytest.raises(NotImplementedError, match="check_forward_ad=True: SquareWithoutJvp "
                                                  "has no jvp"):
        gradcheck(SquareWithoutJvp.apply, [x], check_forward_ad=True)


def test_forward_and_backward_checks_cannot_both_be_off():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(ValueError, match="nothing would be checked"):
        gradcheck(lambda t: t * 2, [x], check_backward_ad=False)
    with pytest.raises(ValueError, match="check_batched_grad=True needs check_backward_ad"):
        gradcheck(lambda t: t * 2, [x], check_backward_ad=False, check_forward_ad=True,
                  check_batched_grad=True)
    with pytest.raises(ValueError, match="check_batched_forward_grad=True needs"):
        gradcheck(lambda t: t * 2, [x], check_batched_forward_grad=True)


# --- nondeterminism: backward twice must agree -------------------------------------------
class NoisySquare(Function):
    """x² whose backward adds noise of ±1e-7, as a sum in random order would: each answer
    is within tolerance of the right one, and no two are the same."""

    rng = np.random.default_rng(0)

    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        return grad * (2 * x + self.rng.uniform(-1e-7, 1e-7, x.shape))


@pytest.mark.parametrize("fast_mode", [False, True])
def test_a_nondeterministic_backward_fails_unless_nondet_tol_allows_it(fast_mode):
    x = Tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True, name="x")
    with pytest.raises(GradcheckError, match=r"not reentrant.*input 0 \(x\).*nondet_tol 0"):
        gradcheck(NoisySquare.apply, [x], fast_mode=fast_mode)
    assert not gradcheck(NoisySquare.apply, [x], fast_mode=fast_mode, raise_exception=False)
    assert gradcheck(NoisySquare.apply, [x], fast_mode=fast_mode, nondet_tol=1e-6)
    assert gradcheck(NoisySquare.apply, [x], fast_mode=fast_mode, nondet_tol=1e-6,
                     check_batched_grad=True)


# --- zero ("undefined") output gradients ----------------------------------------------------
class SumOfSquaresIgnoringGrad(Function):
    """Σx², whose backward forgets to multiply by grad. Its Jacobian is right (a unit seed
    multiplies by 1); only another output gradient shows the bug."""

    def forward(self, x):
        return (x * x).sum()

    def backward(self, grad, out, x):
        return 2 * x  # should be grad · 2x


class SquareThatCannotTakeZero(Function):
    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        if not np.any(grad):
            raise ZeroDivisionError("normalizing by the largest gradient, 0")
        return grad * 2 * x


def test_check_undefined_grad_catches_a_backward_that_ignores_grad():
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True, name="x")
    assert gradcheck(SumOfSquaresIgnoringGrad.apply, [x], check_undefined_grad=False)
    with pytest.raises(GradcheckError, match=r"zero gradient for output 0, backward returned "
                                             r"a nonzero gradient for input 0 \(x\)"):
        gradcheck(SumOfSquaresIgnoringGrad.apply, [x])


def test_check_undefined_grad_catches_a_backward_that_crashes_on_zeros():
    x = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    assert gradcheck(SquareThatCannotTakeZero.apply, [x], check_undefined_grad=False)
    with pytest.raises(GradcheckError, match="backward failed when given a zero gradient.*"
                                             "ZeroDivisionError"):
        gradcheck(SquareThatCannotTakeZero.apply, [x])


# --- batches through vmap --------------------------------------------------------------------
def test_check_batched_grad_compares_vmap_with_one_by_one(monkeypatch):
    x = Tensor(np.array([[0.5, -1.0], [2.0, 0.3]]), requires_grad=True)
    y = Tensor(np.array([1.5, -0.5]), requires_grad=True)
    f = lambda a, b: (a @ b, a.sum(0) * b)  # noqa: E731
    assert gradcheck(f, [x, y], check_batched_grad=True, check_forward_ad=True,
                     check_batched_forward_grad=True)
    vmap = tg.func.vmap

    def vmap_mixing_up_the_items(fn, in_dims=0, out_dims=0):  # a wrong batching rule
        mapped = vmap(fn, in_dims, out_dims)
        return lambda batch: mapped(Tensor(batch.data[::-1].copy()))

    monkeypatch.setattr(tg.func, "vmap", vmap_mixing_up_the_items)
    assert gradcheck(f, [x, y])  # (not asked)
    with pytest.raises(GradcheckError, match=r"batched gradients .* differ from one by one "
                                             r"for input 0 of shape \(2, 2\), output 0"):
        gradcheck(f, [x, y], check_batched_grad=True)
    with pytest.raises(GradcheckError, match="batched forward-mode derivatives"):
        gradcheck(f, [x, y], check_forward_ad=True, check_batched_forward_grad=True)


# --- functions of several outputs ------------------------------------------------------------
@given(pair=tensor_pairs(broadcastable_shapes(), min_value=0.5, max_value=3.0),
       fast_mode=st.booleans())
def test_each_output_of_a_tuple_is_checked(pair, fast_mode):
    a, b = pair
    assert gradcheck(lambda s, t: (s * t, (s - t).sigmoid(), t.sum()), [a, b],
                     fast_mode=fast_mode, check_forward_ad=True)
    with pytest.raises(GradcheckError, match=r"input 0 of shape .*, output 1 of shape"):
        gradcheck(lambda s, t: (s * t, WrongSquare.apply(s) + t), [a, b], fast_mode=fast_mode)


def test_integer_outputs_are_left_out_as_in_pytorch():
    x = Tensor(np.array([[0.5, -1.0, 2.0], [3.0, 0.2, -0.4]]), requires_grad=True)
    assert gradcheck(lambda t: t.max(1), [x])  # (values, int64 indices)
    values_jacobian, = tg.jacobian(lambda t: t.max(1), x)
    assert values_jacobian.shape == (2, 2, 3)


def test_jacobian_of_a_function_with_two_outputs():
    x = Tensor(np.array([1.0, 2.0]))
    doubled, squared = tg.jacobian(lambda t: (t * 2, t * t), x)
    np.testing.assert_allclose(doubled, 2 * np.eye(2))
    np.testing.assert_allclose(squared, np.diag([2.0, 4.0]))
    np.testing.assert_allclose(tg.numeric_jacobian(lambda t: (t * 2, t * t), x)[1],
                               np.diag([2.0, 4.0]), atol=1e-8)


def test_a_function_must_return_tensors():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="func must return a Tensor or a tuple of Tensors"):
        gradcheck(lambda t: float(t.data.sum()), [x])


# --- the bugs of issue 23 ---------------------------------------------------------------
def test_inputs_come_back_unchanged_when_the_function_raises_partway():
    values = np.array([1.0, 2.0, 3.0])
    x = Tensor(values, requires_grad=True)  # shares `values`
    calls = 0

    def fails_on_the_third_call(t):
        nonlocal calls
        calls += 1
        if calls == 3:  # record, x[0] + eps, then x[0] − eps: raise
            raise RuntimeError("the function failed")
        return t * 2

    for fast_mode in (False, True):
        calls = 0
        with pytest.raises(RuntimeError, match="the function failed"):
            gradcheck(fails_on_the_third_call, [x], fast_mode=fast_mode)
        assert x.data is values
        assert values.tolist() == [1.0, 2.0, 3.0]  # not nudged by ±eps


def test_the_caller_array_is_never_written():
    values = np.array([1.0, 2.0, 3.0])
    seen = []
    x = Tensor(values, requires_grad=True)
    assert gradcheck(lambda t: seen.append(values.copy()) or t * t, [x])
    assert all(np.array_equal(s, [1.0, 2.0, 3.0]) for s in seen)


def test_an_input_on_a_read_only_array_is_checked():
    values = np.array([1.0, 2.0, 3.0])
    values.flags.writeable = False
    x = Tensor(values, requires_grad=True)
    assert gradcheck(lambda t: t.sigmoid() * t, [x])
    assert gradcheck(lambda t: t.sigmoid() * t, [x], fast_mode=True)
    with pytest.raises(GradcheckError):
        gradcheck(WrongSquare.apply, [x])


def test_a_model_parameter_the_function_closes_over_is_nudged_too():
    """func may reach an input through a closure (a layer's weight) rather than its
    argument: the tensor itself holds the nudged values."""
    w = Tensor(np.array([[1.0, 2.0], [0.5, -1.0]]), requires_grad=True)
    x = Tensor(np.array([0.3, -0.7]))
    assert gradcheck(lambda _w: (w @ x).sigmoid(), [w])


class WrongInTheLastColumn(Function):
    """x², whose backward adds 0.5 to the last element's gradient."""

    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        wrong = grad * 2 * x
        wrong[..., -1] += 0.5
        return wrong


@pytest.mark.parametrize("tolerance", [[1e-5, 1e-5, 1.0], np.array([1e-5, 1e-5, 1.0]),
                                       "1e-5", True])
def test_tolerances_must_be_one_number(tolerance):
    """A list would broadcast across the Jacobian's last axis (the input's elements): the
    wrong column would pass, with an atol of its own, 1.0."""
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    assert not gradcheck(WrongInTheLastColumn.apply, [x], raise_exception=False)
    for name in ("atol", "rtol", "eps", "nondet_tol"):
        with pytest.raises(TypeError, match=f"gradcheck: {name} must be one number"):
            gradcheck(WrongInTheLastColumn.apply, [x], **{name: tolerance})
    with pytest.raises(ValueError, match="eps must be > 0"):
        gradcheck(lambda t: t * 2, [x], eps=0.0)
    with pytest.raises(ValueError, match="atol must be >= 0"):
        gradcheck(lambda t: t * 2, [x], atol=-1.0)


def test_the_relative_error_means_something_when_the_numeric_value_is_zero():
    class ConstantWithAGradient(Function):  # out = 1, whose backward says 1e-3
        def forward(self, x):
            return x * 0 + 1

        def backward(self, grad, out, x):
            return grad * 1e-3

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(ConstantWithAGradient.apply, [x])
    message = str(caught.value)
    assert "worst relative error 1 " in message  # |1e-3 − 0| / max(1e-3, 0): all of it
    assert "e+307" not in message and "inf" not in message
    assert "over the 2 of 4 elements outside tolerance" in message


def test_the_report_gives_the_relative_difference_courses_teach():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(WrongSquare.apply, [x])
    # ‖J − 2J‖ / (‖J‖ + ‖2J‖) = 1/3 for analytic J = diag(x), numeric 2J
    assert ("relative difference ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖) = 0.333"
            in str(caught.value))


# --- gradgradcheck's new options ---------------------------------------------------------
@given(x=tensors(min_value=0.5, max_value=3.0))
def test_gradgradcheck_fast_mode_catches_a_backward_that_is_not_differentiable(x):
    assert gradgradcheck(Cube.apply, [x], fast_mode=True)
    with pytest.raises(GradcheckError, match="gradgradcheck .fast_mode.: gradient mismatch "
                                             "for input 0 .*the gradient for input 0"):
        gradgradcheck(FrozenCube.apply, [x], fast_mode=True)


@given(pair=tensor_pairs(broadcastable_shapes(), min_value=0.5, max_value=3.0))
def test_gradgradcheck_forward_over_reverse(pair):
    """check_fwd_over_rev: forward mode through the graph backward recorded (create_graph),
    so the jvp rules of the ops the backwards use; a wrong one is caught there too."""
    assert gradgradcheck(lambda a, b: a * b * a, list(pair), check_fwd_over_rev=True,
                         check_batched_grad=True)

    def with_forgetful_products(a, b):  # the same function; its backward's products forget
        return ForgetfulMul.apply(ForgetfulMul.apply(a, b), a)

    assert gradgradcheck(with_forgetful_products, list(pair))
    with pytest.raises(GradcheckError, match="forward-mode"):
        gradgradcheck(with_forgetful_products, list(pair), check_fwd_over_rev=True)


class SquareWithAGradOutOfTheGraph(Function):
    """x², whose backward takes grad's values out of the graph: right at first order, but
    its result no longer depends on grad when differentiated again."""

    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        return 2 * x * (grad.data if isinstance(grad, Tensor) else grad)


def test_gradgradcheck_takes_grad_outputs_and_names_them():
    x = Tensor(np.array([0.5, 1.0, 2.0]), requires_grad=True)
    v = Tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    assert gradgradcheck(Cube.apply, [x], [v])
    assert gradgradcheck(lambda t: (t * t, t.sigmoid()), [x], [v, None])
    assert gradcheck(SquareWithAGradOutOfTheGraph.apply, [x])
    with pytest.raises(GradcheckError, match=r"input 1 \(grad_outputs\[0\]\) of shape "
                                             r"\(3,\), output 0 \(the gradient for input 0\)"):
        gradgradcheck(SquareWithAGradOutOfTheGraph.apply, [x], [v])
    with pytest.raises(ValueError, match="grad_outputs needs as many, got 1"):
        gradgradcheck(lambda t: (t * t, t.sigmoid()), [x], [v])
    with pytest.raises(ValueError, match="check_undefined_grad=True needs check_rev_over_rev"):
        gradgradcheck(Cube.apply, [x], check_rev_over_rev=False, check_fwd_over_rev=True)
    with pytest.raises(ValueError, match="check_batched_grad=True needs check_rev_over_rev"):
        gradgradcheck(Cube.apply, [x], check_rev_over_rev=False, check_fwd_over_rev=True,
                      check_undefined_grad=False, check_batched_grad=True)
    with pytest.raises(ValueError, match="nothing would be checked"):
        gradgradcheck(Cube.apply, [x], check_rev_over_rev=False, check_undefined_grad=False)


class DoublingIgnoringGrad(Function):
    """2x, whose backward forgets to multiply by grad."""

    def forward(self, x):
        return 2 * x

    def backward(self, grad, out, x):
        return x * 0 + 2  # should be grad · 2


class SquareThroughDoubling(Function):
    """x², whose backward, on Tensors, computes 2x with DoublingIgnoringGrad: right at first
    order; the second order has the bug, which only a zero output gradient shows here."""

    def forward(self, x):
        return x * x

    def backward(self, grad, out, x):
        return grad * (DoublingIgnoringGrad.apply(x) if isinstance(x, Tensor) else 2 * x)


def test_gradgradcheck_checks_zero_output_gradients_of_the_backward():
    x = Tensor(np.array(1.5), requires_grad=True)
    v = Tensor(np.array(1.0), requires_grad=True)  # with v = 1 the slip multiplies by 1
    assert gradgradcheck(SquareThroughDoubling.apply, [x], [v], check_undefined_grad=False)
    with pytest.raises(GradcheckError, match="gradgradcheck: given a zero gradient for output "
                                             "0, backward returned a nonzero gradient"):
        gradgradcheck(SquareThroughDoubling.apply, [x], [v])
