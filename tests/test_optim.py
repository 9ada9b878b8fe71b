"""optim: the update formulas written out in numpy; every optimizer and option against
PyTorch over 50 steps with gradients that come and go; parameter groups; state_dict both
ways; the checks at construction and in step(); inside tg.jit."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, optim


def quadratic_problem():
    """C(w) = Σ (w ⊙ a − t)², a gradient that changes with w, in float64."""
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    t = np.array([[0.3, 0.1], [-0.2, 0.4]])
    w = Tensor(np.array([[0.5, -0.5], [1.0, 0.2]]), requires_grad=True)

    def gradient(w_values):
        return 2 * (w_values * a - t) * a

    def backward():
        ((w * Tensor(a) - Tensor(t)) ** 2).sum().backward()

    return w, gradient, backward


def run(optimizer, w, backward, steps=4):
    for _ in range(steps):
        optimizer.zero_grad()
        backward()
        optimizer.step()
    return w.data


def test_sgd_plain():
    w, gradient, backward = quadratic_problem()
    expected = w.data.copy()
    for _ in range(4):
        expected = expected - 0.1 * gradient(expected)
    np.testing.assert_allclose(run(optim.SGD([w], lr=0.1), w, backward), expected, rtol=1e-12)


def test_sgd_momentum_and_weight_decay():
    w, gradient, backward = quadratic_problem()
    expected, velocity = w.data.copy(), None
    for _ in range(4):
        g = gradient(expected) + 0.01 * expected
        velocity = g if velocity is None else 0.9 * velocity + g
        expected = expected - 0.05 * velocity
    sgd = optim.SGD([w], lr=0.05, momentum=0.9, weight_decay=0.01)
    np.testing.assert_allclose(run(sgd, w, backward), expected, rtol=1e-12)


def test_adam():
    w, gradient, backward = quadratic_problem()
    expected, m, v = w.data.copy(), 0.0, 0.0
    for t in range(1, 5):
        g = gradient(expected)
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        expected = expected - 0.01 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
    adam = optim.Adam([w], lr=0.01, betas=(0.8, 0.99))
    np.testing.assert_allclose(run(adam, w, backward), expected, rtol=1e-12)


def test_parameters_without_grad_are_left_alone():
    w, unused = Tensor([1.0], requires_grad=True), Tensor([5.0], requires_grad=True)
    opt = optim.SGD([w, unused], lr=0.1)
    (w * 2).sum().backward()
    opt.step()
    assert unused.data[0] == 5.0 and w.data[0] == pytest.approx(0.8)


def test_zero_grad_and_bad_arguments():
    w = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([w], lr=-1)  # (lr=0 is allowed, as in PyTorch)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)


# ----------------------------------------------------------------------------------------
# Against PyTorch: every optimizer and option, 50 steps, gradients that come and go
# ----------------------------------------------------------------------------------------
SHAPES = [(3, 4), (4,), (2, 3)]
OPTIONS = {
    "SGD": (0.1, [{}, {"momentum": 0.9}, {"momentum": 0.9, "dampening": 0.3},
                  {"momentum": 0.9, "nesterov": True}, {"weight_decay": 0.1},
                  {"maximize": True},
                  {"momentum": 0.8, "nesterov": True, "weight_decay": 0.01, "maximize": True}]),
    "Adam": (0.01, [{}, {"betas": (0.8, 0.99)}, {"betas": (0.3, 0.4)}, {"weight_decay": 0.1},
                    {"amsgrad": True}, {"maximize": True}, {"eps": 1e-3},
                    {"betas": (0.7, 0.9), "weight_decay": 0.1, "amsgrad": True,
                     "maximize": True}]),
    "AdamW": (0.01, [{}, {"weight_decay": 0.5}, {"amsgrad": True, "maximize": True}]),
    "RMSprop": (0.01, [{}, {"alpha": 0.3}, {"centered": True}, {"momentum": 0.9},
                       {"weight_decay": 0.1}, {"maximize": True},
                       {"centered": True, "momentum": 0.5, "weight_decay": 0.1,
                        "maximize": True}]),
    "Adagrad": (0.1, [{}, {"lr_decay": 0.1}, {"weight_decay": 0.1},
                      {"initial_accumulator_value": 0.5}, {"eps": 1e-6}, {"maximize": True},
                      {"lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.2,
                       "maximize": True}]),
}
CASES = [(name, lr, options) for name, (lr, all_options) in OPTIONS.items()
         for options in all_options]


def case_id(case):
    name, _, options = case
    return name + "".join(f"-{k}={v}" for k, v in options.items())


def has_gradient(step, i):
    """Parameter 2 gets its first gradient at step 6; the others skip some steps."""
    return step >= 6 if i == 2 else (step + i) % 3 != 1


def gradient(rng_values, values):
    """A gradient that depends on the parameter (so the paths must agree to stay equal)."""
    return rng_values + values - 0.1 * values ** 3


def make_pair(name, lr, options, dtype, torch):
    rng = np.random.default_rng(1)
    start = [rng.standard_normal(shape).astype(dtype) for shape in SHAPES]
    mine = [Tensor(a.copy(), requires_grad=True) for a in start]
    theirs = [torch.tensor(a.copy(), requires_grad=True) for a in start]

    def groups(params):  # two groups: the second with its own learning rate
        return [{"params": params[:2]}, {"params": params[2:], "lr": lr / 2}]

    ours = getattr(optim, name)(groups(mine), lr=lr, **options)
    reference = getattr(torch.optim, name)(groups(theirs), lr=lr, **options)
    return mine, theirs, ours, reference


def run_both(mine, theirs, ours, reference, torch, steps, seed=2, start_step=0):
    rng = np.random.default_rng(seed)
    for step in range(start_step, start_step + steps):
        noise = [rng.standard_normal(shape) for shape in SHAPES]
        for i, (p, q) in enumerate(zip(mine, theirs, strict=True)):
            if has_gradient(step, i):
                p.grad = Tensor(gradient(noise[i], p.data).astype(p.dtype))
                q.grad = torch.from_numpy(gradient(noise[i], q.detach().numpy())
                                          .astype(p.dtype))
            else:
                p.grad, q.grad = None, None
        ours.step()
        reference.step()


def assert_same(mine, theirs, dtype):
    """Equal to float64 rounding (1e-12) or float32's (1e-6), relative to each tensor's
    largest value (PyTorch's kernels fuse multiply-adds: an element that passed near zero
    keeps an error of one rounding at the tensor's scale)."""
    rtol = 1e-12 if dtype == np.float64 else 1e-6
    for p, q in zip(mine, theirs, strict=True):
        expected = q.detach().numpy()
        np.testing.assert_allclose(p.data, expected, rtol=rtol,
                                   atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_optimizer_and_option_matches_pytorch_over_50_steps(case, dtype, torch):
    mine, theirs, ours, reference = make_pair(*case, dtype, torch)
    run_both(mine, theirs, ours, reference, torch, steps=50)
    assert_same(mine, theirs, dtype)
    assert all(p.dtype == dtype for p in mine)


def test_adam_counts_steps_per_parameter():
    """A parameter whose first gradient comes at step 6 gets the full first step, lr·sign(g)
    (the bias corrections of its own step 1), not one corrected as if at step 6."""
    early, late = Tensor([0.0], requires_grad=True), Tensor([0.0], requires_grad=True)
    adam = optim.Adam([early, late], lr=0.01)
    for step in range(6):
        early.grad = Tensor(np.array([1.0], dtype=np.float32))
        late.grad = Tensor(np.array([2.0], dtype=np.float32)) if step == 5 else None
        adam.step()
    assert late.item() == pytest.approx(-0.01, rel=1e-6)
    assert adam.state[late]["step"] == 1 and adam.state[early]["step"] == 6


# ----------------------------------------------------------------------------------------
# state_dict: PyTorch's layout, both ways
# ----------------------------------------------------------------------------------------
def to_torch(value, torch):
    if isinstance(value, np.ndarray):
        return torch.from_numpy(value.copy())
    if isinstance(value, dict):
        return {k: to_torch(v, torch) for k, v in value.items()}
    if isinstance(value, list):
        return [to_torch(v, torch) for v in value]
    return value


def from_torch(value, torch):
    if isinstance(value, torch.Tensor):
        return value.detach().numpy().copy()
    if isinstance(value, dict):
        return {k: from_torch(v, torch) for k, v in value.items()}
    if isinstance(value, list):
        return [from_torch(v, torch) for v in value]
    return value


EXCHANGED = [("SGD", 0.1, {"momentum": 0.9, "nesterov": True}),
             ("Adam", 0.01, {"amsgrad": True}), ("AdamW", 0.01, {}),
             ("RMSprop", 0.01, {"centered": True, "momentum": 0.5}),
             ("Adagrad", 0.1, {"lr_decay": 0.01})]


@pytest.mark.parametrize("case", EXCHANGED, ids=case_id)
def test_state_dict_has_pytorchs_layout_and_moves_both_ways(case, torch):
    dtype = np.float64
    mine, theirs, ours, reference = make_pair(*case, dtype, torch)
    run_both(mine, theirs, ours, reference, torch, steps=10)
    state, their_state = ours.state_dict(), reference.state_dict()
    assert state["state"].keys() == their_state["state"].keys()
    for index, entry in state["state"].items():
        assert entry.keys() == their_state["state"][index].keys()
        assert entry.get("step", np.float32(0)).dtype == np.float32  # as PyTorch's tensor
    switches = {"foreach", "fused", "capturable", "differentiable"}
    for group, their_group in zip(state["param_groups"], their_state["param_groups"],
                                  strict=True):
        assert group.keys() == their_group.keys() - switches
        assert group["params"] == their_group["params"]

    # ours → a fresh PyTorch optimizer, PyTorch's → a fresh one of ours; then 10 more steps
    mine2, theirs2, ours2, reference2 = make_pair(*case, dtype, torch)
    for p, q, p2, q2 in zip(mine, theirs, mine2, theirs2, strict=True):
        p2.data[...] = q.detach().numpy()
        with torch.no_grad():
            q2.copy_(torch.from_numpy(p.data))
    ours2.load_state_dict(from_torch(their_state, torch))
    reference2.load_state_dict(to_torch(state, torch))
    run_both(mine, theirs, ours, reference, torch, steps=10, seed=3, start_step=10)
    run_both(mine2, theirs2, ours2, reference2, torch, steps=10, seed=3, start_step=10)
    for p, p2, q, q2 in zip(mine, mine2, theirs, theirs2, strict=True):
        np.testing.assert_allclose(p2.data, q.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(q2.detach().numpy(), p.data, rtol=1e-12, atol=1e-12)


def test_load_state_dict_checks_everything_first():
    w, b = Tensor(np.ones((2, 2)), requires_grad=True), Tensor(np.ones(2), requires_grad=True)
    adam = optim.Adam([w, b], lr=0.1)
    w.grad, b.grad = Tensor(np.ones((2, 2))), Tensor(np.ones(2))
    adam.step()
    before = adam.state_dict()
    sgd = optim.SGD([w, b], lr=0.1, momentum=0.9)
    sgd.step()
    wrong_shape = adam.state_dict()
    wrong_shape["state"][1]["exp_avg"] = np.zeros(3)
    bad = [(sgd.state_dict(), "momentum_buffer"),
           (wrong_shape, r"parameter 1's 'exp_avg' has shape \(3,\)"),
           ({"state": {}, "param_groups": []}, "0 parameter group"),
           ({"state": {}, "param_groups": [{"params": [0]}]}, "1 parameters in the state, 2"),
           ({"state": {5: {}}, "param_groups": [{"params": [0, 1]}]}, "parameter 5"),
           ({"state": {}, "param_groups": [{"params": [0, 1], "lr": -1.0}]}, "lr must be"),
           ({"weights": 1}, "'state' and 'param_groups'")]
    for state, message in bad:
        with pytest.raises(ValueError, match=message):
            adam.load_state_dict(state)
        after = adam.state_dict()
        assert after["param_groups"] == before["param_groups"]
        for index, entry in before["state"].items():
            for key, value in entry.items():
                np.testing.assert_array_equal(after["state"][index][key], value)


def test_state_dict_is_a_copy_and_loading_copies():
    w = Tensor(np.ones(3), requires_grad=True)
    sgd = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = Tensor(np.ones(3))
    sgd.step()
    state = sgd.state_dict()
    state["state"][0]["momentum_buffer"][...] = 7
    assert sgd.state[w]["momentum_buffer"][0] == 1
    sgd.load_state_dict(state)
    state["state"][0]["momentum_buffer"][...] = 9
    assert sgd.state[w]["momentum_buffer"][0] == 7


# ----------------------------------------------------------------------------------------
# Parameter groups and settings
# ----------------------------------------------------------------------------------------
def test_parameter_groups_take_their_own_settings_and_the_defaults():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    sgd = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "tag": "head"}], lr=0.1,
                    momentum=0.9)
    assert [g["lr"] for g in sgd.param_groups] == [0.1, 0.5]
    assert sgd.param_groups[1]["momentum"] == 0.9 and sgd.param_groups[1]["tag"] == "head"
    assert sgd.defaults["lr"] == 0.1
    a.grad, b.grad = Tensor([1.0]), Tensor([1.0])
    sgd.step()
    assert (a.item(), b.item()) == pytest.approx((0.9, 0.5))
    sgd.param_groups[0]["lr"] = 0.0  # takes effect at the next step
    sgd.step()
    assert a.item() == pytest.approx(0.9)
    c = Tensor([1.0], requires_grad=True)
    sgd.add_param_group({"params": [c], "momentum": 0.0})
    assert sgd.param_groups[2]["lr"] == 0.1 and sgd.param_groups[2]["momentum"] == 0.0
    with pytest.raises(ValueError, match="more than one parameter group"):
        sgd.add_param_group({"params": [a]})
    with pytest.raises(AttributeError, match="different learning rates"):
        _ = sgd.lr
    sgd.lr = 0.2  # (a convenience: sets every group's rate)
    assert {g["lr"] for g in sgd.param_groups} == {0.2} and sgd.lr == 0.2
    assert "SGD([1 parameters" in repr(sgd)


def test_a_parameter_listed_twice_is_refused():
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(ValueError, match="parameter 1 .* is listed twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [w]}, {"params": [w]}])


@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda w, m: optim.SGD([w * 2], lr=0.1), ValueError, "can't optimize a non-leaf Tensor"),
    (lambda w, m: optim.SGD(m, lr=0.1), TypeError, r"pass its parameters: SGD\(model.param"),
    (lambda w, m: optim.Adam(m.parameters(), betas=(0.9,)), ValueError,
     r"betas must be a pair \(beta1, beta2\), got 1 value"),
    (lambda w, m: optim.Adam([w], betas=0.9), TypeError, "betas must be a pair"),
    (lambda w, m: optim.SGD([w], lr="0.1"), TypeError, "SGD: lr must be a number, got str"),
    (lambda w, m: optim.SGD([w], lr=Tensor(0.1)), TypeError, r"write .item\(\)"),
    (lambda w, m: optim.AdamW([], lr=0.1), ValueError, "empty parameter list"),
    (lambda w, m: optim.SGD(w, lr=0.1), TypeError, r"write SGD\(\[tensor\]"),
    (lambda w, m: optim.SGD({w}, lr=0.1), TypeError, "ordered collection"),
    (lambda w, m: optim.SGD([w], lr=0.1, nesterov=True), ValueError, "Nesterov momentum"),
    (lambda w, m: optim.SGD([w], lr=0.1, nesterov=1), TypeError, "nesterov must be True"),
    (lambda w, m: optim.RMSprop([w], alpha=1.5), ValueError, r"alpha must be in \[0, 1\]"),
    (lambda w, m: optim.Adagrad([w], lr_decay=-1), ValueError, "lr_decay must be"),
    (lambda w, m: optim.SGD([{"params": [w], "lr": -1}]), ValueError, "lr must be"),
    (lambda w, m: optim.SGD([{"lr": 0.1}]), ValueError, "needs 'params'"),
    (lambda w, m: optim.SGD([w, {"params": [w]}]), TypeError, "must be Tensors"),
])
def test_bad_settings_are_refused_naming_the_argument(make, error, message):
    w = Tensor([1.0], requires_grad=True)
    with pytest.raises(error, match=message):
        make(w, nn.MLP([2, 2]))


def test_a_non_leaf_that_retains_grad_is_accepted_as_in_pytorch():
    w = Tensor([1.0], requires_grad=True)
    y = (w * 2).retain_grad()
    optim.SGD([y], lr=0.1)


def test_step_checks_every_gradient_before_changing_any_parameter():
    params = [Tensor(np.ones(3), requires_grad=True) for _ in range(3)]
    sgd = optim.SGD(params, lr=0.1)
    for p in params:
        p.grad = Tensor(np.ones(3))
    params[2].grad.data = np.ones(4)  # written behind the .grad check
    with pytest.raises(ValueError, match=r"parameter 2 \(shape \(3,\).*shape \(4,\).*No param"):
        sgd.step()
    params[2].grad.data = [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="parameter 2 .* gradient of list"):
        sgd.step()
    assert all(np.array_equal(p.data, np.ones(3)) and p._version == 0 for p in params)
    with pytest.raises(ValueError, match="grad"):  # and at assignment (the Tensor's own check)
        params[0].grad = Tensor(np.ones(4))


def test_step_with_a_closure_returns_its_loss():
    w = Tensor([2.0], requires_grad=True)
    sgd = optim.SGD([w], lr=0.1)

    def closure():
        sgd.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    assert sgd.step(closure).item() == 4.0 and w.item() == pytest.approx(1.6)


# ----------------------------------------------------------------------------------------
# Inside tg.jit: every optimizer, a schedule stepped between calls, clipping in the step
# ----------------------------------------------------------------------------------------
JIT_CASES = [("SGD", 0.1, {"momentum": 0.9, "nesterov": True, "weight_decay": 1e-3}),
             ("Adam", 0.01, {"amsgrad": True}), ("AdamW", 0.01, {"weight_decay": 0.1}),
             ("RMSprop", 0.01, {"centered": True, "momentum": 0.5}),
             ("Adagrad", 0.1, {"lr_decay": 0.01})]


def train_in_jit(use_jit, name, lr, options, steps=100):
    model = nn.MLP([4, 8, 3], seed=0, dtype=np.float64)
    optimizer = getattr(optim, name)(model.parameters(), lr=lr, **options)
    schedule = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=30)
    rng = np.random.default_rng(0)
    x, y = Tensor(rng.standard_normal((5, 4))), Tensor(rng.standard_normal((5, 3)))

    def step(x, y):
        loss = nn.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.05)
        optimizer.step()
        return loss, norm

    run = tg.jit(step) if use_jit else step
    norms = []
    for _ in range(steps):
        _, norm = run(x, y)
        norms.append(norm.item())
        schedule.step()
    return [p.data.copy() for p in model.parameters()], norms, optimizer.state_dict()


@pytest.mark.parametrize("case", JIT_CASES, ids=case_id)
def test_jit_replays_optimizers_schedules_and_clipping_exactly(case):
    eager, eager_norms, eager_state = train_in_jit(False, *case)
    replayed, replayed_norms, replayed_state = train_in_jit(True, *case)
    assert replayed_norms == eager_norms and len(set(eager_norms)) > 50  # never frozen
    assert all(np.array_equal(a, b) for a, b in zip(eager, replayed, strict=True))
    assert eager_state["param_groups"] == replayed_state["param_groups"]


def test_the_optimizer_benchmark_compares_like_with_like():
    """bench/optim.py times each optimizer against the update written in numpy; both sides
    must leave the same weights (it exits otherwise)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "bench" / "optim.py"
    spec = importlib.util.spec_from_file_location("bench_optim", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    for name in bench.CASES:
        for dtype in (np.float32, np.float64):
            bench.check_same(name, dtype)
