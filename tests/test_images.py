"""Images and signals, as PyTorch takes them: unbatched inputs, Conv2d/Conv1d with groups,
dilation and padding='same'|'valid', pooling with padding, dilation, ceil_mode and
indices, BatchNorm1d over signals, Dropout(p=1), empty batches; values and every gradient
against PyTorch (float32 and float64), gradchecks in float64, a Conv1d stack's state_dict
moved both ways, and wrong inputs named by argument."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch_compare import assert_matches_torch

from tinygrad_edu import Tensor, gradcheck, gradgradcheck, nn
from tinygrad_edu import functional as F
from tinygrad_edu.testing import arrays

# (PyTorch warns that its padding='same' with an even kernel copies the input; ours does not)
pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same'")
TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}
DTYPES = [np.float32, np.float64]

# --- convolution: every option against PyTorch ------------------------------------------
# (input shape, weight shape, bias?, options)
CONV2D_CASES = [
    ((2, 4, 7, 6), (6, 2, 3, 2), True, {"groups": 2}),
    ((2, 3, 7, 6), (3, 1, 3, 3), True, {"groups": 3, "padding": 1}),  # depthwise
    ((2, 2, 9, 8), (3, 2, 3, 2), True, {"dilation": (2, 3), "stride": (1, 2)}),
    ((1, 4, 8, 8), (4, 2, 3, 3), False, {"groups": 2, "dilation": 2, "padding": 2,
                                        "stride": 2}),
    ((2, 2, 6, 5), (3, 2, 3, 3), True, {"padding": "same"}),
    ((2, 2, 6, 5), (3, 2, 4, 2), True, {"padding": "same", "dilation": (1, 3)}),  # odd pads
    ((2, 2, 6, 5), (4, 1, 2, 3), True, {"padding": "same", "groups": 2}),
    ((2, 2, 6, 5), (3, 2, 3, 3), True, {"padding": "valid"}),
    ((2, 6, 5), (3, 2, 3, 3), True, {"padding": 1}),  # unbatched (C, H, W)
    ((4, 6, 5), (4, 2, 2, 2), False, {"groups": 2, "dilation": 2, "padding": "same"}),
]




@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "w_shape", "bias", "options"), CONV2D_CASES)
def test_conv2d_options_match_pytorch(torch, dtype, x_shape, w_shape, bias, options):
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])
    assert_matches_torch(lambda x, w, *b: F.conv2d(x, w, *b, **options),
                         lambda t, x, w, *b: t.nn.functional.conv2d(x, w, *b, **options),
                         shapes, dtype, torch)


CONV1D_CASES = [
    ((2, 3, 9), (4, 3, 3), True, {}),
    ((2, 3, 9), (4, 3, 3), True, {"stride": 2, "padding": 1}),
    ((2, 4, 11), (6, 2, 2), True, {"dilation": 4, "groups": 2}),  # WaveNet's causal taps
    ((2, 2, 8), (2, 2, 2), True, {"dilation": 2, "padding": "same"}),
    ((2, 2, 8), (2, 2, 4), False, {"padding": "same"}),  # odd total padding: 1 left, 2 right
    ((3, 10), (4, 3, 3), True, {"padding": "valid", "dilation": 3}),  # unbatched (C, L)
    ((2, 4, 7), (4, 1, 3), True, {"groups": 4, "padding": (1,), "stride": (2,)}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("x_shape", "w_shape", "bias", "options"), CONV1D_CASES)
def test_conv1d_options_match_pytorch(torch, dtype, x_shape, w_shape, bias, options):
    shapes = [x_shape, w_shape] + ([(w_shape[0],)] if bias else [])
    assert_matches_torch(lambda x, w, *b: F.conv1d(x, w, *b, **options),
                         lambda t, x, w, *b: t.nn.functional.conv1d(x, w, *b, **options),
                         shapes, dtype, torch)


@settings(max_examples=25)
@given(data=st.data())
def test_grouped_dilated_convolution_gradients(data):
    groups, dilation = data.draw(st.integers(1, 3)), (data.draw(st.integers(1, 3)),
                                                      data.draw(st.integers(1, 2)))
    per_group, out_per_group = data.draw(st.integers(1, 2)), data.draw(st.integers(1, 2))
    kernel = (data.draw(st.integers(1, 3)), data.draw(st.integers(1, 3)))
    padding = data.draw(st.sampled_from([0, 1, (2, 0), "same"]))
    stride = 1 if padding == "same" else data.draw(st.integers(1, 2))
    span = [d * (k - 1) + 1 for d, k in zip(dilation, kernel, strict=True)]
    x = data.draw(arrays((2, groups * per_group, span[0] + 1, span[1] + 2)))
    weight = data.draw(arrays((groups * out_per_group, per_group, *kernel)))
    bias = data.draw(arrays((groups * out_per_group,)))
    inputs = [Tensor(a, requires_grad=True) for a in (x, weight, bias)]
    assert gradcheck(lambda a, w, b: F.conv2d(a, w, b, stride, padding, dilation, groups),
                     inputs, **TIGHT)


def test_grouped_dilated_convolution_differentiates_twice():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((1, 4, 6, 5)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 2, 2, 2)), requires_grad=True)
    assert gradgradcheck(lambda a, b: F.conv2d(a, b, None, 1, "same", 2, 2), [x, w])
    signal = Tensor(rng.standard_normal((2, 2, 7)), requires_grad=True)
    taps = Tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    assert gradgradcheck(lambda a, b: F.conv1d(a, b, None, 2, 1, 3), [signal, taps])


# --- pooling -----------------------------------------------------------------------------
MAX_POOL2D_CASES = [
    ((2, 2, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((2, 2, 7, 6), {"kernel_size": 2, "ceil_mode": True}),
    ((1, 2, 8, 7), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1),
                    "ceil_mode": True}),
    ((1, 2, 9, 9), {"kernel_size": 3, "dilation": 2, "stride": 2, "padding": 1}),
    ((1, 2, 9, 8), {"kernel_size": 2, "dilation": (2, 3), "stride": 1}),  # overlapping
    ((2, 5, 5), {"kernel_size": 2, "ceil_mode": True}),  # unbatched (C, H, W)
    ((2, 5, 5), {"kernel_size": 3, "stride": 1, "padding": 1, "return_indices": True}),
    ((2, 2, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True,
                    "dilation": 2, "return_indices": True}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "options"), MAX_POOL2D_CASES)
def test_max_pool2d_options_match_pytorch(torch, dtype, shape, options):
    assert_matches_torch(lambda x: F.max_pool2d(x, **options),
                         lambda t, x: t.nn.functional.max_pool2d(x, **options),
                         [shape], dtype, torch)


AVG_POOL2D_CASES = [
    ((2, 2, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1}),
    ((2, 2, 7, 6), {"kernel_size": 3, "stride": 2, "padding": 1, "count_include_pad": False}),
    ((2, 2, 7, 6), {"kernel_size": 2, "ceil_mode": True}),
    ((1, 2, 8, 7), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1),
                    "ceil_mode": True}),
    ((1, 2, 8, 7), {"kernel_size": (3, 2), "stride": (2, 3), "padding": (1, 1),
                    "ceil_mode": True, "count_include_pad": False}),
    ((1, 2, 8, 7), {"kernel_size": 3, "padding": 1, "divisor_override": 2}),
    ((2, 5, 5), {"kernel_size": 2, "stride": 1}),  # unbatched
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "options"), AVG_POOL2D_CASES)
def test_avg_pool2d_options_match_pytorch(torch, dtype, shape, options):
    assert_matches_torch(lambda x: F.avg_pool2d(x, **options),
                         lambda t, x: t.nn.functional.avg_pool2d(x, **options),
                         [shape], dtype, torch)


POOL1D_CASES = [
    ("max_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1,
                               "ceil_mode": True, "return_indices": True}),
    ("max_pool1d", (3, 9), {"kernel_size": 2, "dilation": 3}),
    ("avg_pool1d", (2, 3, 9), {"kernel_size": 3, "stride": 2, "padding": 1,
                               "count_include_pad": False, "ceil_mode": True}),
    ("avg_pool1d", (3, 8), {"kernel_size": 2}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "shape", "options"), POOL1D_CASES)
def test_pool1d_matches_pytorch(torch, dtype, name, shape, options):
    assert_matches_torch(lambda x: getattr(F, name)(x, **options),
                         lambda t, x: getattr(t.nn.functional, name)(x, **options),
                         [shape], dtype, torch)


@pytest.mark.parametrize("options", [case[1] for case in MAX_POOL2D_CASES[:5]])
def test_padded_dilated_ceil_max_pool_gradients_and_second_derivatives(options):
    shape = (1, 2, 9, 9)
    order = np.random.default_rng(1).permutation(int(np.prod(shape)))  # no ties
    x = Tensor(order.reshape(shape) * 0.25 - 10, requires_grad=True)
    assert gradcheck(lambda a: F.max_pool2d(a, **options), [x], **TIGHT)
    assert gradgradcheck(lambda a: F.max_pool2d(a, **options) ** 2, [x])


@pytest.mark.parametrize("options", [case[1] for case in AVG_POOL2D_CASES])
def test_padded_ceil_avg_pool_gradients(options):
    x = Tensor(np.random.default_rng(2).standard_normal((1, 2, 8, 7)), requires_grad=True)
    assert gradcheck(lambda a: F.avg_pool2d(a, **options), [x], **TIGHT)


def test_max_pool_indices_point_at_the_maximum_of_each_window():
    x = Tensor(np.arange(25.0).reshape(1, 1, 5, 5))
    values, indices = nn.MaxPool2d(2, ceil_mode=True, return_indices=True)(x)
    np.testing.assert_array_equal(values.data, [[[[6, 8, 9], [16, 18, 19], [21, 23, 24]]]])
    np.testing.assert_array_equal(indices.data, values.data.astype(np.int64))
    assert indices.dtype == np.int64 and not indices.requires_grad


# --- the layers: PyTorch's arguments, repr, weights and numbers ---------------------------
LAYERS = [
    ("Conv2d", (4, 6, 3), {"groups": 2, "dilation": 2, "padding": "same"}, (2, 4, 7, 7)),
    ("Conv2d", (3, 2, (3, 2)), {"stride": 2, "padding": (1, 0), "bias": False}, (3, 8, 7)),
    ("Conv2d", (2, 4, 3), {"padding": "valid"}, (1, 2, 5, 5)),
    ("Conv1d", (4, 4, 3), {"groups": 4, "dilation": 3, "padding": "same"}, (2, 4, 12)),
    ("Conv1d", (2, 3, 2), {"stride": 2, "padding": 1}, (2, 9)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 2, 8, 8)),
    ("MaxPool2d", (2,), {"dilation": 2, "return_indices": True}, (2, 7, 7)),
    ("MaxPool1d", (3,), {"stride": 2, "padding": 1, "return_indices": True}, (2, 2, 9)),
    ("AvgPool2d", (3,), {"stride": 2, "padding": 1, "count_include_pad": False},
     (2, 2, 8, 8)),
    ("AvgPool2d", (2,), {"ceil_mode": True, "divisor_override": 3}, (2, 5, 5)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 2, 8)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("name", "args", "options", "shape"), LAYERS)
def test_layers_match_pytorch_with_its_weights(torch, dtype, name, args, options, shape):
    mine = {"dtype": dtype} if name.startswith("Conv") else {}
    ours = getattr(nn, name)(*args, **options, **mine)
    theirs = getattr(torch.nn, name)(*args, **options)
    theirs = theirs.to(getattr(torch, np.dtype(dtype).name))
    state = {k: v.detach().numpy() for k, v in theirs.state_dict().items()}
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in state.items()}
    ours.load_state_dict(state)
    if name.startswith(("Conv", "MaxPool")):  # (AvgPool1d shows tuples: PyTorch's quirk)
        assert repr(ours) == repr(theirs)

    def ours_fn(x, *params):
        return ours(x)

    def theirs_fn(t, x, *params):
        return theirs(x)

    assert_matches_torch(ours_fn, theirs_fn, [shape], dtype, torch)
    if name.startswith("Conv"):  # the parameters' gradients too
        x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
        ours(Tensor(x)).sum().backward()
        theirs(torch.from_numpy(x)).sum().backward()
        for (key, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                    strict=True):
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-5, atol=1e-5,
                                       err_msg=key)


def test_conv_weights_start_as_pytorchs_distribution_with_groups():
    layer = nn.Conv2d(8, 4, 3, groups=4, seed=0)
    assert layer.weight.shape == (4, 2, 3, 3)
    bound = 1 / np.sqrt(2 * 3 * 3)  # fan_in counts one group's channels
    assert np.abs(layer.weight.data).max() <= bound
    assert np.abs(layer.weight.data).max() > 0.9 * bound


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3), (4, 3, 5)])
def test_batch_norm_1d_on_features_and_signals_matches_pytorch(torch, dtype, shape):
    ours = nn.BatchNorm1d(3, momentum=0.2, dtype=dtype)
    theirs = torch.nn.BatchNorm1d(3, momentum=0.2).to(getattr(torch, np.dtype(dtype).name))
    rng = np.random.default_rng(4)
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        with torch.no_grad():
            q.copy_(torch.from_numpy(p.data + rng.uniform(0.5, 1, p.shape).astype(dtype)))
        p.data[:] = q.detach().numpy()
    assert_matches_torch(lambda x: ours(x), lambda t, x: theirs(x), [shape], dtype, torch)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-6)
    ours.eval()
    theirs.eval()
    assert_matches_torch(lambda x: ours(x), lambda t, x: theirs(x), [shape], dtype, torch)


def test_batch_norm_1d_gradients_on_signals():
    x = Tensor(np.random.default_rng(5).standard_normal((3, 2, 4)), requires_grad=True)
    w = Tensor(np.array([0.7, 1.3]), requires_grad=True)
    b = Tensor(np.array([0.1, -0.2]), requires_grad=True)
    assert gradcheck(lambda a, c, d: F.batch_norm(a, None, None, c, d, True), [x, w, b],
                     **TIGHT)


def test_dropout_with_p_one_drops_everything_as_pytorch(torch):
    x = Tensor(np.array([1.0, -2.0, np.nan, np.inf]), requires_grad=True)
    y = nn.Dropout(1.0)(x)
    expected = torch.nn.Dropout(1.0)(torch.tensor(x.data)).numpy()  # [0, 0, nan, nan]
    np.testing.assert_array_equal(y.data, expected)
    y[:2].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0, 0, 0, 0])
    assert np.array_equal(nn.Dropout(1.0).eval()(x).data, x.data, equal_nan=True)


@pytest.mark.parametrize(("p", "error", "message"), [
    (1.5, ValueError, r"between 0 and 1, but got 1.5"),
    (-0.5, ValueError, r"between 0 and 1, but got -0.5"),
    ("0.5", TypeError, r"p must be a float, got str"),
])
def test_dropout_probability_outside_zero_to_one_is_refused(p, error, message):
    with pytest.raises(error, match=rf"^Dropout: .*{message}"):
        nn.Dropout(p)
    with pytest.raises(error, match=rf"^dropout: .*{message}"):
        F.dropout(Tensor(np.ones(3)), p)


# --- an empty batch, as PyTorch: empty outputs, zero gradients ------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("layer", "shape"), [
    (lambda dtype: nn.Conv2d(2, 3, 3, padding=1, dtype=dtype), (0, 2, 5, 5)),
    (lambda dtype: nn.Conv2d(4, 6, 3, groups=2, dilation=2, dtype=dtype), (0, 4, 6, 6)),
    (lambda dtype: nn.Conv1d(2, 3, 3, padding="same", dtype=dtype), (0, 2, 7)),
])
def test_a_convolution_over_an_empty_batch_gives_zero_gradients(torch, dtype, layer, shape):
    ours = layer(dtype)
    x = Tensor(np.zeros(shape, dtype), requires_grad=True)
    y = ours(x)
    theirs = getattr(torch.nn, type(ours).__name__)(
        *(ours.in_channels, ours.out_channels, ours.kernel_size), padding=ours.padding,
        dilation=ours.dilation, groups=ours.groups).to(getattr(torch, np.dtype(dtype).name))
    t = torch.zeros(shape, dtype=theirs.weight.dtype, requires_grad=True)
    expected = theirs(t)
    assert y.shape == tuple(expected.shape) and y.dtype == dtype
    y.sum().backward()
    expected.sum().backward()
    assert x.grad.shape == shape
    for p, q in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert p.grad.dtype == dtype
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())  # zeros


# --- a Conv1d stack's state_dict moves to PyTorch and back --------------------------------
def conv1d_stack(nn_, **dtype):
    """Conv1d → ReLU → dilated Conv1d → BatchNorm1d → flatten → Linear, in either library."""
    return nn_.Sequential(nn_.Conv1d(3, 8, 3, padding=1, **dtype), nn_.ReLU(),
                          nn_.Conv1d(8, 8, 3, dilation=2, padding="same", groups=2, **dtype),
                          nn_.BatchNorm1d(8, **dtype), nn_.Flatten(),
                          nn_.Linear(8 * 12, 5, **dtype))


def test_a_conv1d_stack_state_dict_moves_to_pytorch_and_back(torch):
    ours, theirs = conv1d_stack(nn, dtype=np.float64), conv1d_stack(torch.nn).double()
    rng = np.random.default_rng(6)
    ours[3](Tensor(rng.standard_normal((4, 8, 12))))  # running statistics that are not 0, 1
    state = ours.state_dict()
    assert set(state) == set(theirs.state_dict())
    theirs.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    x = rng.standard_normal((3, 3, 12))
    for mode in ("train", "eval"):  # the batch's statistics, then the running ones
        getattr(ours, mode)()
        getattr(theirs, mode)()
        _same_outputs_and_gradients(ours, theirs, x, torch)
    back = conv1d_stack(nn, dtype=np.float64)
    back.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    back.eval()
    _same_outputs_and_gradients(back, theirs, x, torch)


def _same_outputs_and_gradients(ours, theirs, x, torch):
    for p in ours.parameters():
        p.grad = None
    theirs.zero_grad()
    mine, reference = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, expected = ours(mine), theirs(reference)
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-10)
    v = np.random.default_rng(7).standard_normal(out.shape)
    (out * Tensor(v)).sum().backward()
    (expected * torch.from_numpy(v)).sum().backward()
    np.testing.assert_allclose(mine.grad.data, reference.grad.numpy(), rtol=1e-10, atol=1e-10)
    for (key, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters(),
                                strict=True):
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-10, atol=1e-10,
                                   err_msg=key)


# --- wrong inputs, named by argument --------------------------------------------------------
@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: nn.Conv2d(1, 2, kernel_size=3.0), TypeError,
     r"^Conv2d: kernel_size must be an int or a tuple of 2 ints, got 3.0"),
    (lambda: nn.Conv2d(1.0, 2, 3), TypeError, r"^Conv2d: in_channels must be an int, got float"),
    (lambda: nn.Conv2d(1, 2.0, 3), TypeError, r"^Conv2d: out_channels must be an int"),
    (lambda: nn.Conv2d(1, 2, 3, stride=1.0), TypeError, r"^Conv2d: stride must be an int"),
    (lambda: nn.Conv2d(1, 2, 3, padding=(1.0, 1)), TypeError, r"^Conv2d: padding must be"),
    (lambda: nn.Conv1d(1, 2, (3, 3)), TypeError,
     r"^Conv1d: kernel_size must be an int, got \(3, 3\)"),
    (lambda: nn.Conv2d(3, 2, 3, groups=2), ValueError,
     r"^Conv2d: in_channels must be divisible by groups, got in_channels=3, groups=2"),
    (lambda: nn.Conv2d(2, 3, 3, groups=2), ValueError, r"out_channels must be divisible"),
    (lambda: nn.Conv2d(2, 2, 3, stride=2, padding="same"), ValueError,
     r"padding='same' is not supported for strided convolutions"),
    (lambda: nn.Conv2d(2, 2, 3, padding="full"), ValueError,
     r"padding must be an int, a tuple, 'valid' or 'same', got 'full'"),
    (lambda: nn.Conv2d(2, 2, 3, padding_mode="reflect"), NotImplementedError,
     r"padding_mode='reflect' is not supported"),
    (lambda: nn.MaxPool2d(3.0), TypeError, r"^MaxPool2d: kernel_size must be an int"),
    (lambda: nn.MaxPool2d(3, padding=2), ValueError,
     r"^MaxPool2d: padding 2 must be at most half the kernel size 3"),
    (lambda: nn.AvgPool2d(2, divisor_override=0)(Tensor(np.ones((1, 2, 2)))), ValueError,
     r"avg_pool2d: divisor_override must be an int ≥ 1"),
    (lambda: F.conv2d(Tensor(np.ones((1, 4, 5, 5))), Tensor(np.ones((2, 1, 3, 3))),
                      groups=2), ValueError,
     r"conv2d: input of shape \(1, 4, 5, 5\) has 4 channels, but weight of shape "
     r"\(2, 1, 3, 3\) with groups=2 expects 2"),
    (lambda: F.conv1d(Tensor(np.ones((1, 2, 5))), Tensor(np.ones((2, 2, 3))), dilation=3),
     ValueError, r"conv1d: kernel \(3,\) with dilation \(3,\) spans \(7,\), larger than "
                 r"the \(padded\) input \(5,\)"),
    (lambda: nn.Conv1d(2, 3, 3)(Tensor(np.ones((2, 3, 5), np.float32))), ValueError,
     r"Conv1d\(2, 3.*expects input of shape \(2, L\) or \(N, 2, L\), got \(2, 3, 5\)"),
    (lambda: nn.Conv2d(2, 3, 3)(Tensor(np.ones((2, 5), np.float32))), ValueError,
     r"expects input of shape \(2, H, W\) or \(N, 2, H, W\), got \(2, 5\)"),
    (lambda: nn.MaxPool2d(2)(Tensor(np.ones((3, 5)))), ValueError,
     r"max_pool2d: expects input of shape \(N, C, H, W\) or \(C, H, W\), got \(3, 5\)"),
    (lambda: nn.BatchNorm1d(3)(Tensor(np.ones((2, 3, 4, 5)))), ValueError,
     r"BatchNorm1d\(3.*\(N, C\) or \(N, C, L\) with C = 3, got \(2, 3, 4, 5\)"),
    (lambda: nn.LayerNorm(4.0), TypeError,
     r"^LayerNorm: normalized_shape must be an int or a tuple of ints"),
    (lambda: F.layer_norm(Tensor(np.ones((3, 4))), (4.0,)), TypeError,
     r"^layer_norm: normalized_shape must be an int or a tuple of ints .*got \(4.0,\)"),
    (lambda: F.layer_norm(Tensor(np.ones((3, 4))), 3), ValueError,
     r"layer_norm: input of shape \(3, 4\) does not end in normalized_shape \(3,\)"),
])
def test_wrong_inputs_are_named_by_argument(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_layer_norm_takes_an_int_as_nn_layer_norm_does(torch):
    x = np.random.default_rng(8).standard_normal((3, 4))
    expected = torch.nn.functional.layer_norm(torch.tensor(x), (4,)).numpy()
    np.testing.assert_allclose(F.layer_norm(Tensor(x), 4).data, expected, rtol=1e-10)
    assert nn.LayerNorm(4).normalized_shape == (4,)
    np.testing.assert_allclose(nn.LayerNorm(4, dtype=np.float64)(Tensor(x)).data, expected,
                               rtol=1e-10)


@st.composite
def pooling_options(draw):
    """An input of distinct values (no ties) and pooling options whose window fits."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = (draw(st.integers(0, kernel[0] // 2)), draw(st.integers(0, kernel[1] // 2)))
    size = [draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 8))
            for k, d, p in zip(kernel, dilation, padding, strict=True)]
    shape = (draw(st.integers(1, 2)), 2, *size)
    order = draw(st.permutations(range(int(np.prod(shape)))))
    x = np.array(order, np.float64).reshape(shape) * 0.5 - 3
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    return x, {"kernel_size": kernel, "stride": stride, "padding": padding,
               "ceil_mode": draw(st.booleans())}, dilation, draw(st.booleans())


@settings(max_examples=40)
@given(pooling_options())
def test_pooling_with_drawn_options_matches_pytorch(torch, problem):
    x, options, dilation, count_include_pad = problem
    cases = [(F.max_pool2d, torch.nn.functional.max_pool2d,
              {**options, "dilation": dilation, "return_indices": True}),
             (F.avg_pool2d, torch.nn.functional.avg_pool2d,
              {**options, "count_include_pad": count_include_pad})]
    for ours_fn, theirs_fn, kwargs in cases:
        ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = ours_fn(ours, **kwargs), theirs_fn(theirs, **kwargs)
        # (a dilated window can fall wholly in the padding: −∞, and an index PyTorch makes
        # up past the image's edge; such windows are left out)
        assume(np.isfinite(expected[0].detach().numpy() if isinstance(expected, tuple)
                           else expected.detach().numpy()).all())
        if isinstance(out, tuple):  # (values, indices)
            np.testing.assert_array_equal(out[1].data, expected[1].numpy())
            out, expected = out[0], expected[0]
        np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12)
        v = np.random.default_rng(0).standard_normal(out.shape)
        (out * Tensor(v)).sum().backward()
        (expected * torch.from_numpy(v)).sum().backward()
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), rtol=1e-12, atol=1e-12)
