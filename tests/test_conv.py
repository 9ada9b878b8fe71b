"""Layers for images: convolution, pooling, dropout, batch and layer norm.

Gradients against central differences over drawn shapes; values against PyTorch where it
is installed; state_dicts that move between the two; bad input named at the layer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck, gradgradcheck, nn
from tinygrad_edu import functional as F
from tinygrad_edu.testing import arrays

TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}


@st.composite
def conv_problems(draw):
    """x (N, C, H, W), weight (out, C, kH, kW), bias, stride, padding, where the kernel
    fits the padded input: kernel as large as the input, stride beyond the kernel and
    padding ≥ 1 all come up."""
    n, c, out = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    padding = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    kh = draw(st.integers(1, h + 2 * padding[0]))
    kw = draw(st.integers(1, w + 2 * padding[1]))
    stride = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    x = draw(arrays((n, c, h, w)))
    weight, bias = draw(arrays((out, c, kh, kw))), draw(arrays((out,)))
    return x, weight, bias, stride, padding


@given(conv_problems())
def test_conv2d_gradients(problem):
    x, weight, bias, stride, padding = problem
    inputs = [Tensor(a, requires_grad=True) for a in (x, weight, bias)]
    assert gradcheck(lambda a, w, b: F.conv2d(a, w, b, stride, padding), inputs, **TIGHT)


@given(conv_problems())
def test_conv2d_matches_pytorch(torch, problem):
    x, weight, bias, stride, padding = problem
    ours = F.conv2d(Tensor(x), Tensor(weight), Tensor(bias), stride, padding).data
    theirs = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(weight),
                                        torch.tensor(bias), stride=stride, padding=padding)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=1e-10, atol=1e-10)


def test_conv2d_and_layer_norm_differentiate_twice():
    rng = np.random.default_rng(0)
    x = Tensor(rng.standard_normal((1, 2, 4, 4)), requires_grad=True)
    w = Tensor(rng.standard_normal((2, 2, 3, 3)), requires_grad=True)
    assert gradgradcheck(lambda a, b: F.conv2d(a, b, None, 2, 1), [x, w])
    y = Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradgradcheck(lambda a: F.layer_norm(a, (4,)), [y])


@st.composite
def pool_problems(draw):
    h, w = draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kernel = (draw(st.integers(1, h)), draw(st.integers(1, w)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), h, w)
    order = draw(st.permutations(range(int(np.prod(shape)))))  # distinct values: no ties
    x = (np.array(order, np.float64).reshape(shape) - len(order) / 2) * 0.25
    return x, kernel, stride


@given(pool_problems())
def test_pooling_gradients(problem):
    x, kernel, stride = problem
    t = Tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.max_pool2d(a, kernel, stride), [t], **TIGHT)
    assert gradcheck(lambda a: F.avg_pool2d(a, kernel, stride), [t], **TIGHT)


@given(pool_problems())
def test_pooling_matches_pytorch_and_max_sends_the_gradient_to_the_first_maximum(torch, problem):
    x, kernel, stride = problem
    x = np.round(x / 2)  # many ties: PyTorch's choice (the first largest) must be ours
    for ours_fn, theirs_fn in ((F.max_pool2d, torch.nn.functional.max_pool2d),
                               (F.avg_pool2d, torch.nn.functional.avg_pool2d)):
        ours, theirs = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        out, expected = ours_fn(ours, kernel, stride), theirs_fn(theirs, kernel, stride)
        np.testing.assert_allclose(out.data, expected.detach().numpy(), atol=1e-12)
        out.sum().backward()
        expected.sum().backward()
        np.testing.assert_allclose(ours.grad.data, theirs.grad.numpy(), atol=1e-12)


def test_dropout_scales_what_it_keeps_and_passes_through_in_eval():
    layer = nn.Dropout(0.25, seed=0)
    x = Tensor(np.ones((200, 50)))
    y = layer(x).data
    assert set(np.unique(y)) == {0.0, 1 / 0.75}
    assert abs((y == 0).mean() - 0.25) < 0.02
    assert np.array_equal(layer.eval()(x).data, x.data)
    with pytest.raises(ValueError, match=r"Dropout: dropout probability has to be between 0 "
                                         r"and 1, but got 1.5"):
        nn.Dropout(1.5)


@pytest.mark.parametrize("layer_class", [nn.BatchNorm1d, nn.BatchNorm2d])
def test_batch_norm_gradients(layer_class):
    shape = (4, 3) if layer_class is nn.BatchNorm1d else (3, 2, 2, 3)
    x = Tensor(np.random.default_rng(1).standard_normal(shape), requires_grad=True)
    layer = layer_class(shape[1], dtype=np.float64)
    for p in layer.parameters():
        p.data[:] = np.random.default_rng(2).uniform(0.5, 1.5, p.shape)
    assert gradcheck(lambda a, w, b: F.batch_norm(a, None, None, w, b, True),
                     [x, layer.weight, layer.bias], **TIGHT)


def test_batch_norm_and_layer_norm_match_pytorch_in_training_and_evaluation(torch):
    rng = np.random.default_rng(3)
    ours, theirs = nn.BatchNorm2d(3, momentum=0.2), torch.nn.BatchNorm2d(3, momentum=0.2)
    for step in range(3):
        x = rng.standard_normal((4, 3, 5, 5)).astype(np.float32) * (step + 1)
        np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach(),
                                   rtol=1e-4, atol=1e-5)
    for key, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[key], value.numpy(), rtol=1e-5)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal((2, 3, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach(),
                               rtol=1e-4, atol=1e-5)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(nn.LayerNorm((3, 4))(Tensor(x)).data,
                               torch.nn.LayerNorm((3, 4))(torch.tensor(x)).detach(),
                               rtol=1e-4, atol=1e-5)


def lenet():
    return nn.Sequential(nn.Conv2d(1, 4, 5, padding=2), nn.BatchNorm2d(4), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.AvgPool2d(2),
                         nn.Flatten(), nn.Dropout(0.1), nn.Linear(6 * 2 * 2, 10),
                         nn.LayerNorm(10))


def test_a_conv_net_state_dict_moves_to_pytorch_and_back(torch):
    tn = torch.nn
    reference = tn.Sequential(tn.Conv2d(1, 4, 5, padding=2), tn.BatchNorm2d(4), tn.ReLU(),
                              tn.MaxPool2d(2), tn.Conv2d(4, 6, 3), tn.ReLU(), tn.AvgPool2d(2),
                              tn.Flatten(), tn.Dropout(0.1), tn.Linear(6 * 2 * 2, 10),
                              tn.LayerNorm(10))
    ours = lenet()
    ours(Tensor(np.random.default_rng(4).random((8, 1, 14, 14), np.float32)))  # moves stats
    state = ours.state_dict()
    assert set(state) == set(reference.state_dict())
    assert state["1.num_batches_tracked"].dtype == np.int64 and state["1.num_batches_tracked"] == 1
    reference.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    x = np.random.default_rng(5).random((3, 1, 14, 14), np.float32)
    ours.eval()
    reference.eval()
    np.testing.assert_allclose(ours(Tensor(x)).data, reference(torch.tensor(x)).detach(),
                               rtol=1e-4, atol=1e-5)
    back = lenet()
    back.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    np.testing.assert_allclose(back.eval()(Tensor(x)).data, ours(Tensor(x)).data, rtol=1e-6)


@pytest.mark.parametrize(("make", "message"), [
    (lambda: nn.Conv2d(1, 4, 3)(Tensor(np.ones((2, 3, 8, 8)))),
     r"Conv2d\(1, 4, kernel_size=\(3, 3\).*\(N, 1, H, W\), got \(2, 3, 8, 8\)"),
    (lambda: nn.Conv2d(1, 4, 3)(Tensor(np.ones((8, 8, 1)))), r"got \(8, 8, 1\)"),
    (lambda: nn.Conv2d(1, 4, 5)(Tensor(np.ones((1, 1, 3, 3)))),
     r"kernel \(5, 5\) is larger than the \(padded\) input \(3, 3\)"),
    (lambda: nn.Conv2d(1, 4, 3, stride=0), r"Conv2d: stride must be an int ≥ 1.*got 0"),
    (lambda: nn.MaxPool2d(3)(Tensor(np.ones((1, 1, 2, 2)))), r"max_pool2d: kernel \(3, 3\)"),
    (lambda: nn.BatchNorm2d(3)(Tensor(np.ones((2, 4, 5, 5)))), r"BatchNorm2d\(3.*C = 3"),
    (lambda: F.dropout(Tensor(np.ones(3)), p=-0.1),
     r"dropout: dropout probability has to be between 0 and 1, but got -0.1"),
])
def test_bad_input_names_the_layer_and_the_shapes(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_flatten_keeps_an_empty_batch_empty():
    # reshape(0, -1) cannot tell how long a row is; PyTorch gives (0, 400) here
    assert nn.Flatten()(Tensor(np.zeros((0, 16, 5, 5), np.float32))).shape == (0, 400)
    assert Tensor(np.zeros((2, 0, 3))).flatten().shape == (0,)


def test_conv2d_with_mixed_dtypes_says_which_and_how_to_convert():
    # PyTorch raises here too; the fused op would otherwise follow numpy's promotion
    layer = nn.Conv2d(1, 2, 3)  # float32 weights
    with pytest.raises(TypeError, match=r"conv2d: input float64, weight float32, bias "
                                        r"float32 must have one dtype; convert with \.to"):
        layer(Tensor(np.ones((1, 1, 4, 4), np.float64)))
    assert layer(Tensor(np.ones((1, 1, 4, 4), np.float64)).to(np.float32)).dtype == np.float32


def test_train_and_eval_switch_dropout_and_batch_norm_inside_a_network():
    model = lenet()
    x = Tensor(np.random.default_rng(6).random((4, 1, 14, 14), np.float32))
    model.eval()
    first, second = model(x).data, model(x).data
    assert np.array_equal(first, second)  # no dropout, fixed statistics
    assert model[1].num_batches_tracked.item() == 0
    model.train()
    model(x)
    assert model[1].num_batches_tracked.item() == 1


def test_jit_refuses_what_it_cannot_replay_in_a_conv_net():
    model = lenet()
    step = tg.jit(lambda x: model(x))
    with pytest.raises(RuntimeError, match=r"batch_norm in training mode.*model.eval\(\)"):
        step(Tensor(np.ones((2, 1, 14, 14), np.float32)))  # BatchNorm's running stats
    model.eval()  # no dropout, no statistics to update: replayable
    x = Tensor(np.random.default_rng(7).random((2, 1, 14, 14), np.float32))
    step(x)
    assert np.array_equal(step(x).data, model(x).data)


@settings(max_examples=15)
@given(kernel=st.integers(1, 3), stride=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_max_pool_second_derivative(kernel, stride, seed):
    """Double backward goes through the recorded path of max pooling's gradient."""
    x = Tensor(np.random.default_rng(seed).standard_normal((1, 2, 5, 5)), requires_grad=True)
    assert gradgradcheck(lambda a: F.max_pool2d(a, kernel, stride) ** 2, [x])


def test_max_pool_gradient_goes_to_the_first_of_equal_values():
    x = Tensor(np.zeros((1, 1, 2, 4)), requires_grad=True)  # every window ties at 0
    F.max_pool2d(x, 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[1, 0, 1, 0], [0, 0, 0, 0]]]])


def test_max_pool_of_a_window_with_nan_is_nan_and_its_gradient_goes_to_the_nan():
    x = Tensor([[[[1.0, np.nan, 7.0, 2.0], [3.0, 4.0, 5.0, 6.0]]]], requires_grad=True)
    out = F.max_pool2d(x, 2)
    np.testing.assert_array_equal(out.data, [[[[np.nan, 7.0]]]])  # as PyTorch: NaN wins
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, [[[[0, 1, 1, 0], [0, 0, 0, 0]]]])
