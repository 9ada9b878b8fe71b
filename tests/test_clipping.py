"""nn.utils: clip_grad_norm_, clip_grad_value_, parameters_to_vector and
vector_to_parameters against PyTorch's; clipping inside tg.jit never frozen."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn
from tinygrad_edu.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)

SHAPES = [(3, 4), (4,), (2, 3), (5,)]


def pair(dtype, torch, scale=1.0, without_grad=(3,)):
    """The same parameters and gradients here and in torch (parameter 3 without one)."""
    rng = np.random.default_rng(0)
    mine, theirs = [], []
    for i, shape in enumerate(SHAPES):
        p = Tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
        q = torch.tensor(p.data.copy(), requires_grad=True)
        if i not in without_grad:
            g = (scale * rng.standard_normal(shape)).astype(dtype)
            p.grad, q.grad = Tensor(g.copy()), torch.from_numpy(g.copy())
        mine.append(p)
        theirs.append(q)
    return mine, theirs


def tolerance(dtype):
    return {"rtol": 1e-6, "atol": 1e-7} if dtype == np.float32 else {"rtol": 1e-12}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, float("inf"), "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 1e3])
def test_clip_grad_norm_matches_pytorch(dtype, norm_type, max_norm, torch):
    mine, theirs = pair(dtype, torch)
    total = clip_grad_norm_(mine, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, Tensor) and total.shape == () and total.dtype == dtype
    np.testing.assert_allclose(total.item(), expected.item(), **tolerance(dtype))
    for p, q in zip(mine, theirs, strict=True):
        if q.grad is None:
            assert p.grad is None
        else:
            assert p.grad.dtype == dtype
            np.testing.assert_allclose(p.grad.data, q.grad.numpy(), **tolerance(dtype))


def test_clip_grad_norm_scales_down_only_and_returns_the_norm_before():
    w = Tensor(np.zeros(2), requires_grad=True)
    w.grad = Tensor(np.array([3.0, 4.0]))
    assert clip_grad_norm_(w, 10.0).item() == 5.0 and w.grad.tolist() == [3.0, 4.0]
    assert clip_grad_norm_([w], 1.0).item() == 5.0
    np.testing.assert_allclose(w.grad.data, [0.6, 0.8], rtol=1e-6)
    assert clip_grad_norm_([Tensor([1.0])], 1.0).item() == 0.0  # no gradient: norm 0


def test_clip_grad_norm_nonfinite(torch):
    mine, theirs = pair(np.float64, torch)
    mine[0].grad.data[0, 0] = np.inf
    theirs[0].grad[0, 0] = float("inf")
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(mine, 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_(mine, 1.0)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert total.item() == expected.item() == float("inf")
    for p, q in zip(mine[:3], theirs[:3], strict=True):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_clip_grad_value_matches_pytorch(dtype, torch):
    mine, theirs = pair(dtype, torch, scale=2.0)
    assert clip_grad_value_(mine, 0.7) is None
    torch.nn.utils.clip_grad_value_(theirs, 0.7)
    for p, q in zip(mine[:3], theirs[:3], strict=True):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    assert np.abs(mine[0].grad.data).max() == dtype(0.7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_parameters_to_vector_and_back_match_pytorch(dtype, torch):
    mine, theirs = pair(dtype, torch)
    vec = parameters_to_vector(mine)
    their_vec = torch.nn.utils.parameters_to_vector(theirs)
    np.testing.assert_array_equal(vec.data, their_vec.detach().numpy())
    weights = np.linspace(-1, 1, vec.shape[0]).astype(dtype)
    for p, q in zip(mine, theirs, strict=True):
        p.grad, q.grad = None, None
    (vec * Tensor(weights)).sum().backward()  # differentiable, as PyTorch's
    (their_vec * torch.from_numpy(weights)).sum().backward()
    for p, q in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(p.grad.data, q.grad.numpy())

    new = np.arange(vec.shape[0], dtype=dtype)
    vector_to_parameters(Tensor(new), mine)
    with torch.no_grad():
        torch.nn.utils.vector_to_parameters(torch.from_numpy(new.copy()), theirs)
    for p, q in zip(mine, theirs, strict=True):
        np.testing.assert_array_equal(p.data, q.detach().numpy())


def test_wrong_inputs_are_refused_and_change_nothing():
    model = nn.MLP([3, 2])
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(TypeError, match=r"pass its parameters: model.parameters\(\)"):
        clip_grad_norm_(model, 1.0)
    with pytest.raises(TypeError, match="max_norm must be a number, got str"):
        clip_grad_norm_(model.parameters(), "1.0")
    with pytest.raises(ValueError, match="max_norm must be ≥ 0"):
        clip_grad_norm_(model.parameters(), -1.0)
    with pytest.raises(TypeError, match="parameter 0 is ndarray, not a Tensor"):
        clip_grad_value_([np.ones(2)], 1.0)
    with pytest.raises(TypeError, match="expected a Tensor"):
        vector_to_parameters(np.zeros(8), model.parameters())
    with pytest.raises(ValueError, match=r"shape \(7,\); the parameters hold 8 values"):
        vector_to_parameters(Tensor(np.zeros(7)), model.parameters())
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters(),
                                                          strict=True))
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)


def make_step(model, optimizer, clip):
    def step(x, y):
        loss = nn.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        result = clip(model.parameters())
        optimizer.step()
        return loss if result is None else (loss, result)

    return step


@pytest.mark.parametrize("clip", [lambda ps: clip_grad_norm_(ps, 0.05, norm_type=1),
                                  lambda ps: clip_grad_value_(ps, 0.001)],
                         ids=["norm", "value"])
def test_clipping_inside_jit_gives_eagers_numbers_over_100_steps(clip):
    def train(use_jit):
        model = nn.MLP([4, 6, 2], seed=1, dtype=np.float64)
        optimizer = tg.optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
        step = make_step(model, optimizer, clip)
        step = tg.jit(step) if use_jit else step
        rng = np.random.default_rng(0)
        outputs = []
        for _ in range(100):
            x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 2))
            result = step(Tensor(x), Tensor(y))
            outputs.append([r.item() for r in result] if isinstance(result, tuple)
                           else [result.item()])
        return [p.data.copy() for p in model.parameters()], outputs

    (eager, eager_out), (replayed, replayed_out) = train(False), train(True)
    assert eager_out == replayed_out
    assert all(np.array_equal(a, b) for a, b in zip(eager, replayed, strict=True))


def test_an_op_on_a_grad_inside_a_jit_step_is_refused():
    model = nn.Linear(3, 1)

    @tg.jit
    def step(x):
        loss = model(x).sum()
        model.zero_grad()
        loss.backward()
        return (model.weight.grad * model.weight.grad).sum()  # would be frozen

    with pytest.raises(RuntimeError, match="a .grad made by its own backward"):
        step(Tensor(np.ones((2, 3))))
