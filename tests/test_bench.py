"""bench/step.py compares like with like: the three steps it times compute the same thing.

(Only correctness here; the timings themselves are printed by the script, never asserted.)
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
import bare_engine
import step

from tinygrad_edu import nn


@pytest.mark.parametrize("batch", [1, 7])
def test_tinygrad_gradients_equal_the_hand_written_ones(batch):
    x, y = step.make_data(batch, np.float64)
    model = nn.MLP(step.SIZES, seed=0, dtype=np.float64)
    assert step.check_same_gradients(model, x, y) < 1e-10


@pytest.mark.parametrize("batch", [1, 7])
def test_one_step_of_each_system_leaves_the_same_weights(batch):
    x, y = step.make_data(batch, np.float64)
    model = nn.MLP(step.SIZES, seed=0, dtype=np.float64)
    state = model.state_dict()
    by_hand = [state[k].copy() for k in state]
    bare = [state[k].copy() for k in state]
    step.tinygrad_step(model, x, y)()
    step.numpy_step(by_hand, x, y)()
    bare_engine.bare_step(bare, x, y, step.LR)()
    for p, hand, b in zip(model.parameters(), by_hand, bare, strict=True):
        assert not np.array_equal(p.data, state[p.name])  # the step did move the weights
        np.testing.assert_allclose(p.data, hand, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b, hand, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("batch", [1, 7])
def test_the_replayed_step_leaves_the_eager_weights(batch):
    x, y = step.make_data(batch, np.float32)
    state = nn.MLP(step.SIZES, seed=0).state_dict()
    step.check_replay(state, x, y)  # exits the benchmark if they differ
    model = nn.MLP(step.SIZES)
    model.load_state_dict(state)
    replayed = step.tinygrad_step(model, x, y, replay=True)
    for _ in range(3):
        replayed()
    assert not np.array_equal(model.state_dict()["0.weight"], state["0.weight"])


def test_the_conv_benchmark_compares_like_with_like():
    import conv

    conv.check_same_step(4)  # exits if eager, jit (and PyTorch, where installed) differ
    x, y = conv.make_data(4)
    model = conv.lenet(0)
    before = model.state_dict()
    conv.tinygrad_step(model, x, y, replay=True)()
    assert not np.array_equal(model.state_dict()["0.weight"], before["0.weight"])


def test_the_replay_floor_computes_the_same_gradients_as_backward():
    import replay_floor

    x, y = step.make_data(3, np.float64)
    eager, floor = (nn.MLP(step.SIZES, seed=0, dtype=np.float64) for _ in range(2))
    step.tinygrad_step(eager, x, y)()
    kept, _ = replay_floor.floor_steps(floor, x, y)
    kept()
    for a, b in zip(eager.parameters(), floor.parameters(), strict=True):
        np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-14)


def test_the_ops_benchmark_computes_what_numpy_by_hand_computes():
    import ops as ops_benchmark  # bench/ops.py

    for shape in [(2, 3, 4), (3, 1, 5)]:
        ops_benchmark.check_all(shape)  # exits if a value or gradient differs (or is missing)
    assert set(ops_benchmark.CASES) == {"cat", "where", "gather", "einsum", "var", "logsumexp"}
