"""New reduce ops (issue 20): gradient checks over drawn shapes, PyTorch's values and
gradients (float32 and float64), and the errors wrong inputs get.

`EVERY_OP_REDUCE` gives each op of ops/reduce.py added here its entry in test_op_gradients'
test_op_gradients' EVERY_OP (op → (a function that runs it, its input shapes, a floor)).
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from tinygrad_edu import Tensor, gradcheck, gradgradcheck, ops, tensor
from tinygrad_edu import functional as F
from tinygrad_edu.ops import reduce as R
from tinygrad_edu.testing import tensors

EVERY_OP_REDUCE: dict = {
    ops.Prod: (lambda a: a.prod(1), [(2, 3)]),
    ops.Var: (lambda a: a.var(1), [(2, 3)]),
    ops.Std: (lambda a: a.std(0, keepdim=True), [(3, 2)]),
    ops.Norm: (lambda a: a.norm(dim=1), [(2, 3)]),
    ops.LogSumExp: (lambda a: a.logsumexp(1), [(2, 3)]),
    ops.CumSum: (lambda a: a.cumsum(1), [(2, 3)]),
}

TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}


def check(fn, *inputs, second_order=False):
    assert gradcheck(fn, list(inputs), **TIGHT)
    if second_order:
        assert gradgradcheck(fn, list(inputs), atol=1e-5, rtol=1e-3)


@st.composite
def dims_of(draw, x, allow_tuple=True):
    """None, one dim (maybe negative) or, when allowed, a tuple of distinct dims."""
    one = st.integers(-x.ndim, x.ndim - 1)
    kinds = [st.none(), one]
    if allow_tuple:
        kinds.append(st.lists(st.integers(0, x.ndim - 1), min_size=1, max_size=x.ndim,
                              unique=True).map(tuple))
    return draw(st.one_of(*kinds))


def reduced_count(x, dim):
    if dim is None:
        return x.size
    dims = dim if isinstance(dim, tuple) else (dim,)
    return int(np.prod([x.shape[d] for d in dims]))


# --- gradient checks over drawn shapes and dims (float64) ---------------------------------
@given(x=tensors(), data=st.data())
def test_var_and_std(x, data):
    dim, keepdim = data.draw(dims_of(x)), data.draw(st.booleans())
    correction = data.draw(st.sampled_from([0, 1, 2, 0.5]))
    assume(reduced_count(x, dim) > correction)
    check(lambda t: t.var(dim, keepdim=keepdim, correction=correction), x, second_order=True)
    spread = np.var(x.data, axis=dim)
    assume(np.all(spread > 1e-2))  # √ has a kink at 0
    check(lambda t: t.std(dim, keepdim=keepdim, correction=correction), x, second_order=True)


@pytest.mark.parametrize("p", [2, "fro", 1, 3, math.inf, -math.inf])
@given(x=tensors(), data=st.data())
def test_norm(p, x, data):
    dim, keepdim = data.draw(dims_of(x, allow_tuple=p != "fro")), data.draw(st.booleans())
    if p in (math.inf, -math.inf):  # the largest (smallest) |x| must not tie: every |x|
        # distinct, 0.05 apart in a drawn order, with the drawn signs (an assume() that
        # waits for such values rejects too many of hypothesis's simple ones)
        ranks = np.array(data.draw(st.permutations(range(x.size)))).reshape(x.shape)
        x.data[...] = np.where(x.data >= 0, 1.0, -1.0) * (0.2 + 0.05 * ranks)
    assume(np.all(np.abs(x.data) > 1e-2))  # |x| has a kink at 0
    check(lambda t: t.norm(p, dim, keepdim), x, second_order=p in (2, "fro", 3))


@given(x=tensors(), data=st.data())
def test_prod_also_with_zeros(x, data):
    dim = data.draw(st.one_of(st.none(), st.integers(-x.ndim, x.ndim - 1)))
    keepdim = data.draw(st.booleans())
    zeros = data.draw(st.lists(st.integers(0, x.size - 1), max_size=3))
    x.data.reshape(-1)[zeros] = 0.0  # a polynomial: smooth at 0 too, so no assume
    check(lambda t: t.prod(dim, keepdim=keepdim), x, second_order=True)


@given(x=tensors(min_value=-20, max_value=20), data=st.data())
def test_logsumexp(x, data):
    dim, keepdim = data.draw(dims_of(x)), data.draw(st.booleans())
    assume(dim is not None)
    check(lambda t: t.logsumexp(dim, keepdim), x, second_order=True)


@given(x=tensors(), data=st.data())
def test_cumsum(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda t: t.cumsum(dim) * t, x, second_order=True)


def far_from_ties(array, dim):
    """No two values of a reduced slice within 1e-3 of each other (a tie is a kink)."""
    dims = tuple(range(array.ndim)) if dim is None else dim if isinstance(dim, tuple) else (
        dim,)
    moved = np.moveaxis(array, dims, tuple(range(-len(dims), 0)))
    ordered = np.sort(moved.reshape(*moved.shape[:array.ndim - len(dims)], -1), axis=-1)
    return ordered.shape[-1] < 2 or bool(np.all(np.diff(ordered, axis=-1) > 1e-3))


@given(x=tensors(), data=st.data())
def test_amax_amin_and_max_with_dim(x, data):
    dim, keepdim = data.draw(dims_of(x)), data.draw(st.booleans())
    assume(far_from_ties(x.data, dim))
    check(lambda t: t.amax(dim, keepdim), x)
    check(lambda t: t.amin(dim, keepdim), x)
    if isinstance(dim, int):
        check(lambda t: t.max(dim, keepdim).values, x)
        check(lambda t: t.min(dim, keepdim)[0], x)


@given(x=tensors(), data=st.data())
def test_softmax_second_order(x, data):
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check(lambda t: t.softmax(dim), x, second_order=True)


# --- PyTorch's values and gradients --------------------------------------------------------
CASES = {  # name → (ours, PyTorch's), each run on the same array
    "var": (lambda t: t.var(), lambda t: t.var()),
    "var dim": (lambda t: t.var(1, keepdim=True), lambda t: t.var(1, keepdim=True)),
    "var dims corr 0": (lambda t: t.var((0, 2), correction=0), lambda t: t.var((0, 2),
                                                                                 correction=0)),
    "var unbiased=False": (lambda t: t.var(-1, False), lambda t: t.var(-1, False)),
    "var bool first": (lambda t: t.var(False), lambda t: t.var(False)),
    "std": (lambda t: t.std(), lambda t: t.std()),
    "std dims": (lambda t: t.std(dim=(1, 2), correction=2), lambda t: t.std(dim=(1, 2),
                                                                           correction=2)),
    "norm": (lambda t: t.norm(), lambda t: t.norm()),
    "norm 1": (lambda t: t.norm(1, dim=1), lambda t: t.norm(1, dim=1)),
    "norm inf": (lambda t: t.norm(math.inf, dim=(0, 2)), lambda t: t.norm(math.inf,
                                                                          dim=(0, 2))),
    "norm -inf": (lambda t: t.norm(-math.inf, 2, True), lambda t: t.norm(-math.inf, 2, True)),
    "norm fro": (lambda t: t.norm("fro", dim=(0, 1)), lambda t: t.norm("fro", dim=(0, 1))),
    "norm 3": (lambda t: t.norm(3, -1), lambda t: t.norm(3, -1)),
    "prod": (lambda t: t.prod(), lambda t: t.prod()),
    "prod dim": (lambda t: t.prod(1, True), lambda t: t.prod(1, True)),
    "logsumexp": (lambda t: t.logsumexp((0, 2)), lambda t: t.logsumexp((0, 2))),
    "logsumexp big": (lambda t: (t * 1e3).logsumexp(-1), lambda t: (t * 1e3).logsumexp(-1)),
    "amax": (lambda t: t.amax(), lambda t: t.amax()),
    "amax dims": (lambda t: t.amax((0, 1), True), lambda t: t.amax((0, 1), True)),
    "amin": (lambda t: t.amin(1), lambda t: t.amin(1)),
    "max": (lambda t: t.max(), lambda t: t.max()),
    "min dim": (lambda t: t.min(1)[0], lambda t: t.min(1)[0]),
    "max dim keepdim": (lambda t: t.max(2, True).values, lambda t: t.max(2, True).values),
    "cumsum": (lambda t: t.cumsum(1), lambda t: t.cumsum(1)),
    "cumsum -1": (lambda t: t.cumsum(-1), lambda t: t.cumsum(-1)),
    "sum dim=()": (lambda t: t.sum(dim=()), lambda t: t.sum(dim=())),
    "mean": (lambda t: t.mean((0, 2)), lambda t: t.mean((0, 2))),
    "softmax": (lambda t: t.softmax(dim=1), lambda t: t.softmax(dim=1)),
    "log_softmax": (lambda t: t.log_softmax(dim=0), lambda t: t.log_softmax(dim=0)),
}


def compare(torch, ours, theirs, array, seed=0):
    """Values, dtype and gradients (for a random output gradient) equal to PyTorch's."""
    x = Tensor(array, requires_grad=True)
    t = torch.tensor(array, requires_grad=True)
    out, expected = ours(x), theirs(t)
    assert str(out.dtype) == str(expected.dtype).removeprefix("torch.")
    assert out.shape == tuple(expected.shape)
    tolerance = {"rtol": 1e-5, "atol": 1e-6} if array.dtype == np.float32 else {"rtol": 1e-12}
    np.testing.assert_allclose(out.data, expected.detach().numpy(), **tolerance)
    v = np.random.default_rng(seed).standard_normal(out.shape).astype(array.dtype)
    out.backward(v)
    expected.backward(torch.tensor(v))
    assert x.grad.dtype == array.dtype
    np.testing.assert_allclose(x.grad.data, t.grad.numpy(), **tolerance)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES)
def test_values_and_gradients_match_torch(torch, case, dtype):
    array = np.random.default_rng(1).uniform(-2, 2, (3, 4, 5)).astype(dtype)
    compare(torch, *CASES[case], array)


TRICKY = {  # name → (array, ours, PyTorch's)
    "prod, one zero": ([[0.0, 2.0, 5.0], [1.0, 2.0, 3.0]], lambda t: t.prod(), None),
    "prod, two zeros": ([[0.0, 2.0, 0.0], [1.0, 2.0, 3.0]], lambda t: t.prod(), None),
    "prod dim, zeros": ([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]], lambda t: t.prod(1), None),
    "prod dim 0, zeros": ([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0]], lambda t: t.prod(0), None),
    "norm at 0": ([[0.0, 0.0], [3.0, -4.0]], lambda t: t.norm(dim=1), None),
    "norm of zeros": ([0.0, 0.0, 0.0], lambda t: t.norm(), None),
    "norm 1 at 0": ([0.0, 2.0, -1.0], lambda t: t.norm(1), None),
    "norm inf ties": ([[-3.0, 1.0, 3.0], [1.0, 2.0, 3.0]], lambda t: t.norm(math.inf), None),
    "std of equal values": ([[2.0, 2.0], [1.0, 3.0]], lambda t: t.std(1), None),
    "var of one value": ([2.0], lambda t: t.var(), None),
    "amax ties": ([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], lambda t: t.amax(1), None),
    "amin ties, all": ([[1.0, 3.0, 1.0], [1.0, 2.0, 5.0]], lambda t: t.amin(), None),
    "max() ties": ([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], lambda t: t.max(), None),
    "min() ties": ([[1.0, 3.0, 1.0], [1.0, 2.0, 5.0]], lambda t: t.min(), None),
    "max(dim) ties": ([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]], lambda t: t.max(1).values, None),
    "min(dim) ties": ([[1.0, 3.0, 1.0], [1.0, 1.0, 5.0]], lambda t: t.min(0).values, None),
    "max() NaN": ([1.0, math.nan, 3.0], lambda t: t.max(), None),
    "max() two NaNs": ([math.nan, 1.0, math.nan], lambda t: t.max(), None),
    "min() NaN": ([[1.0, math.nan, 3.0], [1.0, 2.0, 3.0]], lambda t: t.min(), None),
    "max(dim) NaN": ([[math.nan, 1.0, math.nan], [1.0, 2.0, 3.0]], lambda t: t.max(1)[0],
                     None),
    "amax NaN row": ([[1.0, math.nan, 3.0], [1.0, 2.0, 3.0]], lambda t: t.amax(1), None),
    "amin NaN row": ([[1.0, math.nan, 3.0], [1.0, 2.0, 3.0]], lambda t: t.amin(1), None),
    "logsumexp −inf": ([[-math.inf, -math.inf], [1.0, -math.inf]], lambda t: t.logsumexp(1),
                       None),
    "logsumexp +inf": ([math.inf, 1.0], lambda t: t.logsumexp(0), None),
    "logsumexp empty": (np.zeros((3, 0)), lambda t: t.logsumexp(1), None),
    "softmax empty": (np.zeros((3, 0)), lambda t: t.softmax(dim=1), None),
    "log_softmax empty": (np.zeros((0, 3)), lambda t: t.log_softmax(dim=1), None),
    "max(0) of (3, 0)": (np.zeros((3, 0)), lambda t: t.max(0).values, None),
    "prod empty": (np.zeros((3, 0)), lambda t: t.prod(1), None),
    "0-d softmax": (np.array(1.5), lambda t: t.softmax(dim=0), None),
    "0-d max(0)": (np.array(1.5), lambda t: t.max(0)[0], None),
    "0-d cumsum": (np.array(1.5), lambda t: t.cumsum(0), None),
    "0-d sum(0)": (np.array(1.5), lambda t: t.sum(0), None),
}


@pytest.mark.filterwarnings(r"ignore:var\(\)")  # (PyTorch warns: var of N = 1)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", TRICKY)
def test_zeros_ties_nans_and_empty_axes_as_torch(torch, case, dtype):
    array, fn, theirs = TRICKY[case]
    compare(torch, fn, theirs or fn, np.asarray(array, dtype))


def test_max_with_dim_returns_the_indices_as_torch(torch):
    array = np.array([[1.0, 3.0, 3.0], [math.nan, 2.0, math.nan]], np.float32)
    for op in ("max", "min"):
        for keepdim in (False, True):
            ours = getattr(Tensor(array), op)(1, keepdim)
            theirs = getattr(torch.tensor(array), op)(1, keepdim)
            assert np.array_equal(ours.indices.data, theirs.indices.numpy())
            assert ours.indices.dtype == np.int64
            np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())


@pytest.mark.parametrize("method", ["argmax", "argmin"])
def test_argmax_takes_axis_or_dim_as_torch(torch, method):
    array = np.random.default_rng(2).standard_normal((3, 4, 2))
    for kwargs in ({}, {"dim": 1}, {"axis": -1}, {"dim": 0, "keepdim": True}):
        ours = getattr(Tensor(array), method)(**kwargs)
        theirs = getattr(torch.tensor(array), method)(**kwargs)
        assert ours.dtype == np.int64 and np.array_equal(ours.data, theirs.numpy())


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.int32, np.int64])
def test_integer_and_bool_sums_give_int64_as_torch(torch, dtype):
    array = np.array([[1, 0, 1], [1, 1, 0]]).astype(dtype)
    for fn in (lambda t: t.sum(), lambda t: t.sum(1), lambda t: t.sum() - 10,
               lambda t: t.prod(1), lambda t: t.cumsum(0), lambda t: t.amax(0),
               lambda t: t.any(1), lambda t: t.all()):
        ours, theirs = fn(tensor(array)), fn(torch.tensor(array))
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        assert np.array_equal(ours.data, theirs.numpy())


def test_float16_mean_and_mse_accumulate_in_float32_as_torch(torch):
    big = np.full(100_000, 100.0, np.float16)
    for fn in (lambda m, t: t.mean(), lambda m, t: t.var(), lambda m, t: t.std(),
               lambda m, t: t.norm(), lambda m, t: m.mse_loss(t, t * 0)):
        ours = fn(F, Tensor(big))
        theirs = fn(torch.nn.functional, torch.tensor(big))
        assert ours.dtype == np.float16
        assert np.isfinite(ours.data)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-3)


def test_any_and_all_as_torch(torch):
    array = np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0]])
    for fn in (lambda t: t.any(), lambda t: t.all(), lambda t: t.any(1),
               lambda t: t.all(0, True), lambda t: t.any(dim=()), lambda t: t.any((0, 1))):
        ours, theirs = fn(Tensor(array)), fn(torch.tensor(array))
        assert ours.dtype == np.bool_ and not ours.requires_grad
        assert np.array_equal(ours.data, theirs.numpy())


ERRORS_LIKE_TORCH = {  # the error type PyTorch raises, for the same call
    "softmax(2)": lambda t: t.softmax(2),
    "log_softmax(-3)": lambda t: t.log_softmax(-3),
    "sum(2)": lambda t: t.sum(2),
    "mean((0, 2))": lambda t: t.mean((0, 2)),
    "max(2)": lambda t: t.max(2),
    "min(-3)": lambda t: t.min(-3),
    "argmax(2)": lambda t: t.argmax(2),
    "amax(2)": lambda t: t.amax(2),
    "var(2)": lambda t: t.var(2),
    "std(2)": lambda t: t.std(2),
    "norm(dim=2)": lambda t: t.norm(dim=2),
    "prod(2)": lambda t: t.prod(2),
    "logsumexp(2)": lambda t: t.logsumexp(2),
    "cumsum(2)": lambda t: t.cumsum(2),
    "any(2)": lambda t: t.any(2),
    "max() of (0, 4)": lambda t: t[:0].max(),
    "amax() of (0, 4)": lambda t: t[:0].amax(),
    "max(0) of (0, 4)": lambda t: t[:0].max(0),
    "argmax() of (0, 4)": lambda t: t[:0].argmax(),
    "argmin(0) of (0, 4)": lambda t: t[:0].argmin(0),
    "norm(inf) of (0, 4)": lambda t: t[:0].norm(math.inf),
}


@pytest.mark.parametrize("case", ERRORS_LIKE_TORCH)
def test_errors_have_torch_type_and_name_the_op_called(torch, case):
    call = ERRORS_LIKE_TORCH[case]
    with pytest.raises(Exception) as theirs:
        call(torch.zeros(3, 4))
    op = case.split("(")[0]
    with pytest.raises(type(theirs.value), match=rf"^{op}\b"):
        call(Tensor.zeros(3, 4))


def test_mean_of_an_integer_tensor_is_refused_as_torch(torch):
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2]).mean()
    for values in ([1, 2, 3], [True, False]):
        with pytest.raises(RuntimeError, match=r"mean: needs a floating-point .* x\.float\(\)"):
            tensor(values).mean()
    assert tensor([1, 2]).float().mean().item() == 1.5


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda t: t.var(correction=1, unbiased=True), TypeError, r"var: give correction= or "
     r"unbiased=, not both"),
    (lambda t: t.std(0, True, correction=0), TypeError, r"std: give correction= or unbiased="),
    (lambda t: t.var(correction="1"), TypeError, r"var: correction must be a number"),
    (lambda t: t.norm(p="nuc"), ValueError, r"norm: p='nuc' is not supported; use p='fro', "
     r"1, 2, float\('inf'\).*np\.linalg\.norm\(x\.data, 'nuc'\)"),
    (lambda t: t.norm(p=None), TypeError, r"norm: p must be a number or 'fro'"),
    (lambda t: t.norm("fro", dim=(0, 1, 2)), ValueError, r"norm: p='fro' takes at most two "
     r"dims .* write p=2"),
    (lambda t: tensor([1, 2]).norm(), RuntimeError, r"norm: needs a floating-point tensor, "
     r"got int64 .* x\.float\(\)\.norm"),
    (lambda t: tensor([1, 2]).var(), RuntimeError, r"var: needs a floating-point tensor"),
    (lambda t: t.cumsum(), TypeError, r"cumsum: dim is required .* x\.cumsum\(dim=-1\)"),
    (lambda t: t.logsumexp(), TypeError, r"logsumexp: dim is required"),
    (lambda t: t.prod((0, 1)), TypeError, r"prod: dim must be one integer"),
    (lambda t: t.cumsum(dim=1, axis=1), TypeError, r"cumsum: give axis= or dim=, not both"),
    (lambda t: t.sum(dim=(0, 0)), ValueError, r"sum: dim \(0, 0\) names an axis twice"),
    (lambda t: t.max(t), TypeError, r"max: for the elementwise max of two tensors write "
     r"x\.maximum\(other\)"),
    (lambda t: t.amax(1.5), TypeError, r"amax: dim must be an integer"),
])
def test_wrong_inputs_get_clear_errors(call, error, message):
    x = Tensor(np.ones((2, 3, 4)))
    with pytest.raises(error, match=message):
        call(x)


def test_the_torch_style_functions_forward_to_the_methods():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert all(hasattr(R, name) for name in R.TORCH_FUNCTIONS)
    assert R.var(x, 1).data.tolist() == x.var(1).data.tolist() == [1.0, 1.0]
    assert R.sum(x, 0).data.tolist() == [3.0, 5.0, 7.0]
    assert R.max(x, 1).indices.data.tolist() == [2, 2] and R.min(x).item() == 0.0
    assert R.any(x).item() and not R.all(x).item()
    assert R.cumsum(x, 1).data.tolist() == [[0, 1, 3], [3, 7, 12]]
    assert R.norm(x, 1).item() == 15.0 and R.prod(x + 1).item() == 720.0


def test_sum_of_no_dims_reduces_every_axis_as_torch_2_13(torch):
    x = np.arange(6.0).reshape(2, 3)
    assert Tensor(x).sum(dim=()).item() == torch.tensor(x).sum(dim=()).item() == 15.0
    assert Tensor(x).sum(axis=()).shape == ()
