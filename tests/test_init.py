"""nn.init: each initialiser's spread checked statistically against its formula (large
tensors: tolerant, yet a wrong gain or fan is far outside), fans and gains equal PyTorch's,
in place (same tensor, version up, no graph), seeded by manual_seed, wrong inputs refused."""

import math

import numpy as np
import pytest

from tinygrad_edu import Tensor, manual_seed, nn
from tinygrad_edu.nn import init

CONV = (96, 32, 3, 3)  # fan_in = 32·9 = 288, fan_out = 96·9 = 864: a mix-up of fans shows


def empty(shape=CONV, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


def assert_spread(values, variance, rel=0.03):
    """Mean ≈ 0 and variance ≈ `variance` (≥ 27,000 draws: the estimate's relative error is
    ≈ 1%, so 3% is tolerant, while a wrong √2 or fan is off by 40% or more)."""
    assert values.size >= 27_000
    assert abs(values.mean()) < 5 * math.sqrt(variance / values.size)
    assert values.var() == pytest.approx(variance, rel=rel)


# --- the formulas ---------------------------------------------------------------------------
def test_uniform_and_normal():
    t = init.uniform_(empty(), -2.0, 3.0)
    assert t.data.min() >= -2 and t.data.max() < 3 and t.data.max() > 2.99
    assert t.data.mean() == pytest.approx(0.5, abs=0.02)
    assert t.data.var() == pytest.approx(25 / 12, rel=0.03)  # (b − a)²/12
    t = init.normal_(empty(), mean=1.5, std=0.5)
    assert t.data.mean() == pytest.approx(1.5, abs=0.01)
    assert_spread(t.data - 1.5, 0.25)


@pytest.mark.parametrize("gain", [1.0, 5 / 3])
def test_xavier(gain):
    variance = gain ** 2 * 2 / (288 + 864)
    t = init.xavier_uniform_(empty(), gain=gain)
    assert_spread(t.data, variance)
    bound = gain * math.sqrt(6 / (288 + 864))
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.99 * bound
    assert_spread(init.xavier_normal_(empty(), gain=gain).data, variance)


@pytest.mark.parametrize(("kwargs", "variance"), [
    ({}, 2 / 288),  # leaky_relu with a=0: gain² = 2, fan_in
    ({"nonlinearity": "relu"}, 2 / 288),
    ({"nonlinearity": "relu", "mode": "fan_out"}, 2 / 864),
    ({"a": math.sqrt(5)}, 2 / (1 + 5) / 288),  # PyTorch's Linear and Conv: U(±1/√fan_in)
    ({"a": 0.2, "mode": "fan_out"}, 2 / (1 + 0.04) / 864),
    ({"nonlinearity": "tanh"}, (5 / 3) ** 2 / 288),
    ({"nonlinearity": "linear"}, 1 / 288),
])
def test_kaiming(kwargs, variance):
    t = init.kaiming_uniform_(empty(), **kwargs)
    assert_spread(t.data, variance)
    assert np.abs(t.data).max() <= math.sqrt(3 * variance) * (1 + 1e-6)
    assert_spread(init.kaiming_normal_(empty(), **kwargs).data, variance)


def truncated_normal_variance(mean, std, a, b):
    """The variance of N(mean, std²) truncated to [a, b], from its closed form."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    mass = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / mass
    return std ** 2 * (1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift ** 2)


@pytest.mark.parametrize(("mean", "std", "a", "b"), [
    (0.0, 1.0, -2.0, 2.0), (1.0, 2.0, 0.0, 3.0), (0.0, 0.02, -0.04, 0.04), (0.0, 1.0, 2.5, 4.0)])
def test_trunc_normal_stays_in_bounds_with_the_truncated_variance(mean, std, a, b):
    t = init.trunc_normal_(empty(), mean, std, a, b)
    assert t.data.min() >= np.float32(a) and t.data.max() <= np.float32(b)
    assert t.data.var() == pytest.approx(truncated_normal_variance(mean, std, a, b), rel=0.03)
    assert t.data.var() != pytest.approx(std ** 2, rel=0.03)  # (truncation does show)


@pytest.mark.parametrize("shape", [(64, 128), (128, 64), (16, 4, 3, 3), (50, 50)])
@pytest.mark.parametrize("gain", [1.0, 2.0])
def test_orthogonal_rows_or_columns_are_orthonormal(shape, gain):
    t = init.orthogonal_(empty(shape, np.float64), gain=gain)
    q = t.data.reshape(shape[0], -1) / gain
    small = q @ q.T if q.shape[0] <= q.shape[1] else q.T @ q  # the fewer ones are orthonormal
    np.testing.assert_allclose(small, np.eye(len(small)), atol=1e-12)


def test_orthogonal_matrices_are_not_all_alike():
    """The sign fix makes the result uniform; at least, two draws differ."""
    a, b = init.orthogonal_(empty((8, 8))), init.orthogonal_(empty((8, 8)))
    assert not np.allclose(a.data, b.data)


def test_constants_and_eye(torch):
    assert np.all(init.constant_(empty(), 0.25).data == 0.25)
    assert np.all(init.ones_(empty()).data == 1)
    assert np.all(init.zeros_(init.ones_(empty())).data == 0)
    for shape in [(3, 5), (5, 3), (4, 4)]:
        np.testing.assert_array_equal(init.eye_(empty(shape)).data, torch.eye(*shape).numpy())
    integers = Tensor(np.ones((2, 2), np.int64))
    assert init.constant_(integers, 3).data.dtype == np.int64  # (constants need no floats)


# --- PyTorch's fans and gains ----------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 4), (8, 3, 5), (8, 3, 5, 5), (2, 3, 4, 5, 6), (7, 1)])
def test_fans_are_pytorchs(torch, shape):
    expected = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert init._calculate_fan_in_and_fan_out(empty(shape)) == expected


@pytest.mark.parametrize(("nonlinearity", "param"), [
    ("linear", None), ("conv1d", None), ("conv2d", None), ("conv3d", None),
    ("conv_transpose1d", None), ("conv_transpose2d", None), ("conv_transpose3d", None),
    ("sigmoid", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
    ("leaky_relu", 0.2), ("leaky_relu", 0), ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_is_pytorchs(torch, nonlinearity, param):
    expected = torch.nn.init.calculate_gain(nonlinearity, param)
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_calculate_gain_refuses_what_pytorch_refuses(torch):
    for nonlinearity, param, message in [("swish", None, "unsupported nonlinearity 'swish'"),
                                         ("leaky_relu", True, "not a valid number"),
                                         ("leaky_relu", "0.2", "not a valid number")]:
        with pytest.raises(ValueError):
            torch.nn.init.calculate_gain(nonlinearity, param)
        with pytest.raises(ValueError, match=message):
            init.calculate_gain(nonlinearity, param)


# --- in place, without a graph, seeded ------------------------------------------------------
RANDOM = {
    "uniform_": init.uniform_, "normal_": init.normal_, "trunc_normal_": init.trunc_normal_,
    "xavier_uniform_": init.xavier_uniform_, "xavier_normal_": init.xavier_normal_,
    "kaiming_uniform_": init.kaiming_uniform_, "kaiming_normal_": init.kaiming_normal_,
    "orthogonal_": init.orthogonal_,
}
EVERY = {**RANDOM, "zeros_": init.zeros_, "ones_": init.ones_, "eye_": init.eye_,
         "constant_": lambda t: init.constant_(t, 0.5)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(EVERY))
def test_in_place_same_tensor_new_version_no_graph(name, dtype):
    weight = nn.Linear(6, 4, dtype=dtype).weight  # a leaf that requires grad, outside no_grad
    before, version = weight.data.copy(), weight._version
    assert EVERY[name](weight) is weight
    assert weight._version == version + 1 and weight._ctx is None and weight.requires_grad
    assert weight.dtype == dtype and weight.shape == (4, 6)
    assert not np.array_equal(weight.data, before)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_seeded_by_manual_seed_and_by_a_generator(name):
    manual_seed(7)
    first = RANDOM[name](empty((20, 30))).data.copy()
    manual_seed(7)
    np.testing.assert_array_equal(RANDOM[name](empty((20, 30))).data, first)
    assert not np.array_equal(RANDOM[name](empty((20, 30))).data, first)
    a = RANDOM[name](empty((20, 30)), generator=np.random.default_rng(3)).data
    b = RANDOM[name](empty((20, 30)), generator=np.random.default_rng(3)).data
    np.testing.assert_array_equal(a, b)


def test_a_graph_that_saved_the_weight_refuses_it_after_init():
    layer = nn.Linear(3, 2)
    loss = layer(Tensor(np.ones((1, 3), np.float32))).sum()
    init.xavier_uniform_(layer.weight)
    with pytest.raises(RuntimeError, match="in place"):
        loss.backward()


def test_zero_element_kaiming_warns_and_does_nothing(torch):
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(empty((0, 3)))
    with pytest.warns(UserWarning):
        torch.nn.init.kaiming_uniform_(torch.empty(0, 3))


# --- wrong inputs ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                  "kaiming_normal_"])
def test_fans_of_a_1d_tensor_are_refused_as_pytorch_refuses(torch, name):
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        getattr(torch.nn.init, name)(torch.empty(5))
    with pytest.raises(ValueError, match=r"fewer than 2 dimensions \(shape \(5,\)\).*not "
                       "biases"):
        getattr(init, name)(empty((5,)))


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda: init.eye_(empty((2, 2, 2))), ValueError, r"eye_: only tensors with 2 dimensions"),
    (lambda: init.orthogonal_(empty((4,))), ValueError, r"orthogonal_: only tensors with 2 or "
     r"more dimensions"),
    (lambda: init.kaiming_normal_(empty(), mode="fan_avg"), ValueError, r"mode 'fan_avg' not "
     r"supported"),
    (lambda: init.normal_(np.zeros(3)), TypeError, r"^nn.init.normal_: expects a Tensor.*"
     r"got ndarray"),
    (lambda: init.uniform_(Tensor(np.zeros(3, np.int64))), TypeError, r"floating-point tensor, "
     r"got int64"),
    (lambda: init.uniform_(empty(), 1.0, 0.0), ValueError, r"a ≤ b, got a=1.0, b=0.0"),
    (lambda: init.normal_(empty(), std=-1.0), ValueError, r"std must be ≥ 0"),
    (lambda: init.trunc_normal_(empty(), a=1.0, b=-1.0), ValueError, r"a < b"),
    (lambda: init.trunc_normal_(empty(), a=40.0, b=41.0), ValueError, r"holds almost none"),
    (lambda: init.calculate_gain("relu6"), ValueError, r"unsupported nonlinearity"),
])
def test_wrong_inputs(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_nn_init_is_reachable_as_in_pytorch():
    assert nn.init.xavier_uniform_ is init.xavier_uniform_
    assert set(init.__all__) >= {"uniform_", "normal_", "constant_", "zeros_", "ones_", "eye_",
                                 "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                                 "kaiming_normal_", "orthogonal_", "trunc_normal_",
                                 "calculate_gain"}
