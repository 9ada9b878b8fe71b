"""Replay (tg.jit): identical numbers to eager, new records for new shapes, refusals."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, no_grad, optim
from tinygrad_edu.jit import JitWarning


def batches(dtype, steps, batch=8, sizes=(12, 10)):
    rng = np.random.default_rng(0)
    for i in range(steps):
        size = batch if i % 5 else 3  # now and then a smaller batch: a second record
        x = rng.random((size, sizes[0])).astype(dtype)
        yield x, np.eye(sizes[1], dtype=dtype)[rng.integers(0, sizes[1], size)]


def train(use_jit, make_optimizer, dtype, steps=100):
    model = nn.MLP([12, 8, 8, 10], seed=0, dtype=dtype)
    optimizer = make_optimizer(model.parameters())

    def train_step(x, y):
        optimizer.zero_grad()
        loss = nn.mse_loss(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    step = tg.jit(train_step) if use_jit else train_step
    losses = [step(Tensor(x), Tensor(y)).item() for x, y in batches(dtype, steps)]
    return [p.data.copy() for p in model.parameters()], losses, step


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make_optimizer", [
    lambda p: optim.SGD(p, lr=0.5),  # (the plain step: written out in the compiled replay)
    lambda p: optim.SGD(p, lr=0.5, momentum=0.9, weight_decay=1e-4),
    lambda p: optim.Adam(p, lr=0.01)], ids=["sgd", "sgd-momentum", "adam"])
def test_replay_leaves_exactly_the_eager_parameters(dtype, make_optimizer):
    eager, eager_losses, _ = train(False, make_optimizer, dtype)
    replayed, replayed_losses, step = train(True, make_optimizer, dtype)
    assert len(step.records) == 2  # batch 8 and the smaller batch 3
    assert replayed_losses == eager_losses
    for a, b in zip(eager, replayed, strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)


def custom_network(use_jit):
    """Shared weights (W used twice), a diamond (h feeds two branches), bare Tensors."""
    rng = np.random.default_rng(1)
    w = Tensor(rng.standard_normal((6, 6)) * 0.3, requires_grad=True)
    b = Tensor(np.zeros(6), requires_grad=True)
    optimizer = optim.SGD([w, b], lr=0.1, momentum=0.5)

    def step(x, y):
        optimizer.zero_grad()
        h = (x @ w.T + b).sigmoid()
        out = (h @ w.T).tanh() * h + h.sigmoid()  # w again, and h along three paths
        loss = ((out - y) ** 2).mean()
        loss.backward()
        optimizer.step()
        return loss

    step = tg.jit(step) if use_jit else step
    losses = [step(Tensor(rng.random((4, 6))), Tensor(rng.random((4, 6)))).item()
              for _ in range(100)]
    return w.data.copy(), b.data.copy(), losses


def test_shared_weights_and_a_diamond_replay_exactly():
    eager, replayed = custom_network(False), custom_network(True)
    assert np.array_equal(eager[0], replayed[0]) and np.array_equal(eager[1], replayed[1])
    assert eager[2] == replayed[2]


def test_the_returned_loss_is_a_tensor_of_this_calls_value():
    model = nn.MLP([3, 2], seed=0)
    step = tg.jit(lambda x, y: nn.mse_loss(model(x), y))
    x, y = Tensor(np.ones((2, 3))), Tensor(np.zeros((2, 2)))
    first = step(x, y)
    second = step(Tensor(np.zeros((2, 3))), y)  # a replay, on new values
    assert isinstance(second, Tensor)
    assert second.item() == pytest.approx(nn.mse_loss(model(Tensor(np.zeros((2, 3)))), y).item())
    assert second.item() != first.item()


def test_gradients_only_with_no_optimizer():
    model = nn.MLP([4, 3, 2], seed=0)

    def gradients(x, y):
        model.zero_grad()
        nn.mse_loss(model(x), y).backward()

    step = tg.jit(gradients)
    rng = np.random.default_rng(2)
    for _ in range(3):
        x, y = rng.random((5, 4)), rng.random((5, 2))
        step(Tensor(x), Tensor(y))
        replayed = [p.grad.data.copy() for p in model.parameters()]
        gradients(Tensor(x), Tensor(y))
        assert all(np.array_equal(a, p.grad.data)
                   for a, p in zip(replayed, model.parameters(), strict=True))


def test_gradients_that_are_not_none_accumulate_as_in_eager():
    def run(use_jit):
        model = nn.MLP([4, 2], seed=0)
        optimizer = optim.SGD(model.parameters(), lr=0.1)

        def step(x, y):  # no zero_grad: gradients add up over calls, as in eager
            nn.mse_loss(model(x), y).backward()
            optimizer.step()

        step = tg.jit(step) if use_jit else step
        model[0].weight.grad = Tensor(np.ones((2, 4), np.float32))  # a gradient from outside
        for i in range(4):
            step(Tensor(np.full((3, 4), float(i))), Tensor(np.ones((3, 2))))
        return [p.data.copy() for p in model.parameters()]

    assert all(np.array_equal(a, b) for a, b in zip(run(False), run(True), strict=True))


def test_evaluation_under_no_grad():
    model = nn.MLP([4, 3, 2], seed=0)

    @tg.jit
    @no_grad()
    def evaluate(x):
        return model(x)

    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.random((6, 4)).astype(np.float32)
        with no_grad():
            expected = model(Tensor(x)).data
        assert np.array_equal(evaluate(Tensor(x)).data, expected)
    assert len(evaluate.records) == 1


def test_labels_used_as_an_index_are_read_anew():
    model = nn.MLP([4, 3], seed=0, output_activation=None)
    step = tg.jit(lambda x, labels: nn.cross_entropy(model(x), labels))
    x = Tensor(np.ones((2, 4)))
    for labels in ([0, 1], [2, 2], [1, 0]):
        tensor = Tensor(np.array(labels))
        assert step(x, tensor).item() == pytest.approx(
            nn.cross_entropy(model(x), np.array(labels)).item())


def test_load_state_dict_keeps_a_record_valid_and_replacing_a_parameter_re_records():
    model = nn.MLP([3, 2], seed=0)
    step = tg.jit(lambda x: model(x))
    x = Tensor(np.ones((1, 3)))
    step(x)
    model.load_state_dict(nn.MLP([3, 2], seed=5).state_dict())  # in place
    assert np.array_equal(step(x).data, model(x).data) and len(step.records) == 1
    model[0].weight = nn.Parameter(np.zeros((2, 3), np.float32))  # a new Parameter
    assert np.array_equal(step(x).data, model(x).data)


def test_one_tensor_passed_twice_gets_a_record_of_its_own():
    """Recorded with step(x, x), the ops cannot tell the two arguments apart: a call with
    two different tensors must not replay that record (it computed step(y, y))."""
    def step(a, b):
        return (a * 2 + b).sum()

    replayed = tg.jit(step)
    x, y = Tensor([1.0, 2.0]), Tensor([10.0, 20.0])
    assert replayed(x, x).item() == step(x, x).item() == 9.0
    assert replayed(x, y).item() == step(x, y).item() == 36.0
    assert replayed(y, y).item() == step(y, y).item() and len(replayed.records) == 2


def test_numbers_after_the_tensors_are_part_of_the_key():
    step = tg.jit(lambda x, scale, mode: (x * scale).sum() if mode == "sum" else x * scale)
    x = Tensor([1.0, 2.0])
    assert step(x, 2.0, "sum").item() == step(x, 2.0, "sum").item() == 6.0  # (a replay)
    assert step(x, 3.0, "sum").item() == 9.0 and step(x, 3.0, "keep").tolist() == [3.0, 6.0]
    assert len(step.records) == 3


def test_a_new_shape_gets_its_own_record():
    model = nn.MLP([3, 2], seed=0)
    step = tg.jit(lambda x: model(x))
    for rows in (4, 4, 1, 4, 1):
        step(Tensor(np.ones((rows, 3))))
    assert len(step.records) == 2


# --- what a record cannot honour is refused -----------------------------------------------
def one_layer_step(extra=None):
    model = nn.MLP([3, 2], seed=0)

    def step(x):
        model.zero_grad()
        out = model(x)
        if extra:
            extra(out, model)
        out.sum().backward()

    return model, tg.jit(step)


@pytest.mark.parametrize(("extra", "message"), [
    (lambda out, model: out.retain_grad(), "retain_grad"),
    (lambda out, model: out.register_hook(lambda g: g), "hooks"),
    (lambda out, model: tg.grad(out.sum(), model.parameters(), retain_graph=True),
     "grad: tg.grad"),
    (lambda out, model: model[0].bias.detach().add_(1), "in-place changes inside a jit step"),
])
def test_what_a_record_cannot_see_is_refused(extra, message):
    _, step = one_layer_step(extra)
    with pytest.raises(RuntimeError, match=message):
        step(Tensor(np.ones((2, 3))))
    assert not step.records


def test_a_hook_added_after_recording_is_refused_not_skipped():
    model, step = one_layer_step()
    step(Tensor(np.ones((2, 3))))
    model[0].weight.register_hook(lambda g: g * 2)
    with pytest.raises(RuntimeError, match="hook on a leaf"):
        step(Tensor(np.ones((2, 3))))


@pytest.mark.parametrize("watch", [tg.detect_anomaly, tg.viz.trace])
def test_observers_active_while_recording_are_refused(watch):
    _, step = one_layer_step()
    with watch(), pytest.raises(RuntimeError, match="detect_anomaly.*trace"):
        step(Tensor(np.ones((2, 3))))


def test_reading_values_inside_the_step_warns_that_they_are_frozen():
    model = nn.MLP([3, 1], seed=0)

    @tg.jit
    def step(x):
        out = model(x).sum()
        return out * 2 if out.item() > 0 else out  # a branch on a value: frozen

    with pytest.warns(JitWarning, match=r"item\(\).*every replay reuses"):
        step(Tensor(np.ones((1, 3))))


def test_plain_arrays_and_python_results_are_refused():
    step = tg.jit(lambda x: x * 2)
    with pytest.raises(TypeError, match="pass arrays as Tensor"):
        step(np.ones(2))
    with pytest.raises(TypeError, match="returned float"):
        tg.jit(lambda x: (x * 2).sum().item())(Tensor(np.ones(2)))


def test_a_jit_step_called_inside_another_becomes_part_of_its_record():
    def run(use_jit):
        model = nn.MLP([3, 2], seed=0)
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        wrap = tg.jit if use_jit else (lambda f: f)
        inner = wrap(lambda x: nn.mse_loss(model(x), Tensor(np.zeros((2, 2)))))

        @wrap
        def outer(x):
            optimizer.zero_grad()
            inner(x).backward()
            optimizer.step()

        for i in range(3):
            outer(Tensor(np.full((2, 3), float(i))))
        return model.state_dict()

    eager, replayed = run(False), run(True)
    assert all(np.array_equal(eager[k], replayed[k]) for k in eager)


@pytest.mark.parametrize("variant", ["reshaped", "ignore_index", "spatial"])
def test_labels_computed_inside_the_step_are_read_anew_at_every_replay(variant):
    """An op's output used as a later op's parameter (cross_entropy's labels after a
    reshape) is followed at every replay; it was frozen at the recorded batch before."""
    def run(use_jit):
        tg.manual_seed(0)
        layer = nn.Linear(4, 5)

        def step(x, y):
            out = layer(x)
            if variant == "reshaped":
                return tg.functional.cross_entropy(out, y.reshape(-1))
            if variant == "ignore_index":
                return tg.functional.cross_entropy(out, y.reshape(-1), ignore_index=-1)
            logits = out.reshape(2, 3, 5).transpose(1, 2)
            return tg.functional.cross_entropy(logits, y.reshape(2, 3))

        step = tg.jit(step) if use_jit else step
        rng = np.random.default_rng(1)
        losses = []
        for i in range(4):
            labels = rng.integers(0, 5, (6, 1))
            labels[i] = -1 if variant == "ignore_index" else labels[i]
            x = Tensor(rng.normal(size=(6, 4)).astype(np.float32))
            losses.append(step(x, tg.tensor(labels)).item())
        return losses

    assert run(False) == run(True)  # exactly eager's numbers
