"""A replay never returns what eager would not: values computed inside a step outside the
graph (detach, masks, comparisons, one_hot) are computed again at every replay, and the
value checks eager makes (labels, ids in range) are made again (issue 25, part 1)."""

import threading
import time

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn
from tinygrad_edu import functional as F


def inputs(calls, shape=(4, 5), seed=0):
    rng = np.random.default_rng(seed)
    return [Tensor(rng.standard_normal(shape)) for _ in range(calls)]


def same_as_eager(step, calls=5, shape=(4, 5)):
    """The step's results, eager and replayed, on `calls` different inputs."""
    replayed = tg.jit(step)
    for x in inputs(calls, shape):
        expected, got = step(x), replayed(x)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = got if isinstance(got, tuple) else (got,)
        for e, g in zip(expected, got, strict=True):
            assert e.dtype == g.dtype and np.array_equal(e.data, g.data)
    assert len(replayed.records) == 1  # the later calls were replays


MODEL = nn.Linear(5, 3, seed=0, dtype=np.float64)


@pytest.mark.parametrize("step", [
    pytest.param(lambda x: MODEL(x).detach(), id="detach"),
    pytest.param(lambda x: MODEL(x).detach() * 2 + x.sum(), id="detach-then-ops"),
    pytest.param(lambda x: x * (x > 0).float(), id="mask-from-comparison"),
    pytest.param(lambda x: (x < 0.5) & (x >= -0.5), id="logic-and"),
    pytest.param(lambda x: ~(x > 0.3) ^ (x == x.max()) | (x != x[0, 0]), id="not-xor-eq-ne"),
    pytest.param(lambda x: (x > 0).logical_and(x < 1).logical_or(x < -1), id="logical"),
    pytest.param(lambda x: ((x > 1).any(dim=1), (x > -1).all(dim=0)), id="any-all"),
    pytest.param(lambda x: x.masked_fill(x < 0, 0.0), id="masked_fill"),
    pytest.param(lambda x: tg.where(x > 0, x, x * 0.1), id="where"),
    pytest.param(lambda x: F.one_hot((x > 0).sum(dim=1), 6).float() * 2, id="one_hot"),
    pytest.param(lambda x: (x * 3).to(np.int64).to(np.float64) + x, id="cast-to-integers"),
])
def test_values_computed_outside_the_graph_are_computed_again(step):
    same_as_eager(step)


def test_a_training_step_with_a_mask_trains_as_eager():
    """ReLU written by hand with a mask, inside a whole training step."""

    def run(use_jit):
        model = nn.Linear(5, 3, seed=1, dtype=np.float64)
        opt = tg.optim.SGD(model.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            z = model(x)
            loss = (z * (z > 0).float()).sum()
            loss.backward()
            opt.step()
            return loss

        step = tg.jit(step) if use_jit else step
        losses = [step(x).item() for x in inputs(6)]
        return losses, model.weight.data.copy()

    (eager_losses, eager_w), (jit_losses, jit_w) = run(False), run(True)
    assert eager_losses == jit_losses and np.array_equal(eager_w, jit_w)


def test_a_label_out_of_range_raises_on_replay_as_in_eager():
    logits = Tensor(np.zeros((2, 4)))
    step = tg.jit(lambda z, y: F.cross_entropy(z, y))
    step(logits, Tensor(np.array([1, 3])))
    with pytest.raises(ValueError, match=r"cross_entropy: labels must lie in \[0, 4\).*-1"):
        step(logits, Tensor(np.array([1, -1])))
    with pytest.raises(ValueError, match="got 4"):
        step(logits, Tensor(np.array([4, 0])))


def test_ignored_labels_appearing_on_replay_are_refused_not_miscounted():
    logits = Tensor(np.random.default_rng(0).standard_normal((3, 4)))
    step = tg.jit(lambda z, y: F.cross_entropy(z, y, ignore_index=-100))
    step(logits, Tensor(np.array([1, 3, 0])))
    with pytest.raises(RuntimeError, match="recorded with no labels equal to ignore_index"):
        step(logits, Tensor(np.array([1, -100, 0])))


def test_embedding_ids_out_of_range_raise_on_replay_as_in_eager():
    table = nn.Embedding(5, 2)
    step = tg.jit(lambda ids: table(ids).sum())
    step(Tensor(np.array([0, 4])))
    with pytest.raises(IndexError, match=r"index 5 is out of range for 5 embeddings"):
        step(Tensor(np.array([0, 5])))


def test_one_hot_of_a_negative_label_raises_on_replay_as_in_eager():
    step = tg.jit(lambda y: F.one_hot(y, 3).float())
    step(Tensor(np.array([0, 2])))
    with pytest.raises(RuntimeError, match="class values must be ≥ 0, got -1"):
        step(Tensor(np.array([0, -1])))


class SlowSquare(tg.Function):
    """x², keeping x on the op object as many ops keep what backward needs; it sleeps
    between forward and backward, so another thread runs in between."""

    def forward(self, x):
        self.x = x
        time.sleep(0.001)
        return x * x

    def backward(self, grad, out, x):
        return 2 * self.x * grad


def test_a_weight_rebound_each_call_by_requires_grad_gives_eagers_numbers():
    """The micrograd way of training, W = (W − lr·∇W).detach().requires_grad_(), rebinds a
    name the step reads to a new tensor each call. A replay reads the tensor it recorded, so
    any requires_grad_ makes records stale, even of a tensor made after every record (a
    replay of the old W here gave the first call's loss again)."""
    def losses(run_step_through):
        state = {"W": Tensor(np.ones(3), requires_grad=True)}
        x = Tensor(np.array([1.0, 2.0, 3.0]))

        def step(x):
            loss = ((state["W"] * x).sum()) ** 2
            loss.backward()
            return loss

        run, seen = run_step_through(step), []
        for _ in range(4):
            seen.append(float(run(x).data))
            w = state["W"]
            state["W"] = (w - 0.01 * w.grad).detach().requires_grad_()
        return seen

    eager = losses(lambda step: step)
    assert eager[0] > eager[1] > eager[2] > eager[3]
    assert losses(tg.jit) == eager


def test_input_gradients_with_one_input_tensor_written_each_call_replay_once():
    """What docs/replay.md tells for input gradients: one input that requires grad, each
    batch written into it, gives eager's gradients from one record."""
    layer = nn.Linear(3, 2, seed=np.random.default_rng(0))
    x, x_eager = (Tensor(np.zeros((5, 3), np.float32), requires_grad=True) for _ in range(2))

    def step(x):
        (layer(x) ** 2).sum().backward()

    replayed, records = tg.jit(step), []  # (the objects: an id could be reused)
    for values in np.random.default_rng(1).standard_normal((3, 5, 3)).astype(np.float32):
        for t, run in ((x, replayed), (x_eager, step)):
            t.data[...] = values
            t.grad = None
            layer.zero_grad()
            run(t)
        records.append(next(iter(replayed.records.values())))
        np.testing.assert_array_equal(x.grad.data, x_eager.grad.data)
    assert all(r is records[0] for r in records)


def test_two_threads_replaying_one_step_each_get_their_own_gradients():
    """Replays share op objects (what forward saved for backward): one call at a time."""

    def step(x):
        loss = SlowSquare.apply(x).sum()
        loss.backward()
        return loss

    replayed = tg.jit(step)
    wrong = []

    rng = np.random.default_rng(0)  # (made before: a new requires_grad tensor re-records)
    xs = {seed: [Tensor(rng.standard_normal(3), requires_grad=True) for _ in range(10)]
          for seed in (1, 2, 3)}
    replayed(Tensor(np.ones(3), requires_grad=True))

    def worker(seed):
        for x in xs[seed]:
            replayed(x)
            if not np.array_equal(x.grad.data, 2 * x.data):
                wrong.append(seed)

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == [] and len(replayed.records) == 1


def test_batch_norm_in_training_mode_is_refused_with_what_to_do():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    step = tg.jit(lambda x: model(x).sum())
    with pytest.raises(RuntimeError, match=r"running_mean and running_var.*model.eval\(\)"):
        step(Tensor(np.ones((5, 3))))
    model.eval()
    x = Tensor(np.random.default_rng(0).standard_normal((5, 3)))
    assert step(x).item() == model(x).sum().item()


def test_keyword_arguments_are_bound_by_position_and_lists_refused():
    step = tg.jit(lambda x, y: (x * y).sum())
    assert step(Tensor([1.0, 2.0]), y=Tensor([3.0, 4.0])).item() == 11.0
    assert step(Tensor([1.0, 2.0]), y=Tensor([1.0, 1.0])).item() == 3.0  # a replay
    with pytest.raises(TypeError, match=r"jit: argument 0 is a list.*one by one"):
        step([Tensor([1.0])], Tensor([1.0]))
    with pytest.raises(TypeError, match=r"jit: argument 1 \(dict\)|jit: argument 1 is a dict"):
        step(Tensor([1.0]), {"a": 1})


@pytest.mark.parametrize("step", [
    pytest.param(lambda x: x.argmax(dim=1), id="argmax"),
    pytest.param(lambda x: x.argmin(), id="argmin"),
    pytest.param(lambda x: x.argsort(dim=0, descending=True), id="argsort"),
    pytest.param(lambda x: x.sort(dim=1), id="sort"),
    pytest.param(lambda x: x.topk(2, dim=1), id="topk"),
    pytest.param(lambda x: x.max(dim=0), id="max-dim"),
    pytest.param(lambda x: F.one_hot(x.argmax(dim=1), 5).float() * x, id="one_hot-of-argmax"),
])
def test_indices_are_computed_again(step):
    same_as_eager(step)


def test_where_with_the_condition_alone_is_refused_when_recording():
    with pytest.raises(RuntimeError, match="jit: where.condition. gives as many indices"):
        tg.jit(lambda x: tg.where(x > 0)[0])(Tensor([1.0, -1.0]))


def test_a_cast_to_integers_has_no_gradient_as_in_pytorch():
    x = Tensor([1.5, -2.5], requires_grad=True)
    assert not x.to(np.int64).requires_grad and not (x > 0).requires_grad
    y = (x.to(np.int64).to(np.float64) * 3 + x).sum()
    y.backward()
    assert x.grad.tolist() == [1.0, 1.0]  # only the float path carries a gradient


class Stack(nn.Module):
    """Layers kept in a plain list, a ModuleList and a dict: each can be swapped."""

    def __init__(self):
        super().__init__()
        self.plain = [nn.Linear(3, 3, seed=1, dtype=np.float64)]
        self.listed = nn.ModuleList([nn.Linear(3, 3, seed=2, dtype=np.float64)])
        self.named = {"last": nn.Linear(3, 3, seed=3, dtype=np.float64)}

    def forward(self, x):
        return self.named["last"](self.listed[0](self.plain[0](x)))


@pytest.mark.parametrize("swap", [
    pytest.param(lambda m, new: m.plain.__setitem__(0, new), id="plain-list"),
    pytest.param(lambda m, new: m.listed.__setitem__(0, new), id="ModuleList"),
    pytest.param(lambda m, new: m.named.__setitem__("last", new), id="dict"),
    pytest.param(lambda m, new: m.listed[0].load_state_dict(new.state_dict()), id="load"),
    pytest.param(lambda m, new: m.listed[0].weight.requires_grad_(False), id="freeze"),
])
def test_a_layer_swapped_after_recording_is_used_by_the_next_call(swap):
    model = Stack()
    step = tg.jit(lambda x: (model(x) ** 2).sum())
    x = Tensor(np.random.default_rng(0).standard_normal((2, 3)))
    step(x)
    step(x)
    swap(model, nn.Linear(3, 3, seed=9, dtype=np.float64))
    assert step(x).item() == (model(x) ** 2).sum().item()


def test_clearing_grad_inside_a_step_is_replayed_not_skipped():
    w = Tensor(np.ones(3), requires_grad=True)

    def step(x):
        w.grad = None  # as zero_grad(set_to_none=True) does
        loss = (w * x).sum()
        loss.backward()
        return loss

    replayed = tg.jit(step)
    for x in inputs(4, shape=(3,)):
        replayed(x)
        assert np.array_equal(w.grad.data, x.data)  # this call's gradient, not a sum
    with pytest.raises(RuntimeError, match=r"jit: assigning a Tensor to .grad inside a step"):
        tg.jit(lambda x: setattr(w, "grad", Tensor(np.ones(3))))(Tensor(np.ones(3)))
