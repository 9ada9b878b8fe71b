"""Checkpoints (tg.save / tg.load) and nn.save / nn.load: nested structures kept with their
dtypes and shapes, no pickle, training that resumes bit for bit, and files that are not
what they claim refused with an error naming the file, the model unchanged."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn, optim
from tinygrad_edu.nn.serialization import load_checkpoint, save_checkpoint
from tinygrad_edu.optim import lr_scheduler


def test_tg_save_and_load_are_the_checkpoint_functions():
    assert tg.save is save_checkpoint and tg.load is load_checkpoint


def test_a_nested_structure_comes_back_with_its_types_dtypes_and_shapes(tmp_path):
    obj = {
        "epoch": 7, "loss": 0.25, "best": float("inf"), "gap": float("nan"), "done": False,
        "name": "run-3 ✓", "nothing": None, "big": 2 ** 80, "pair": (1, "a"),
        "nested": [{"x": [1, 2.5, None]}, ()],
        3: "an int key", (1, 2): "a tuple key", 0.5: "a float key",
        "arrays": [np.arange(6, dtype=np.int8).reshape(2, 3), np.zeros((0, 4), np.float16),
                   np.array(True), np.array([1 + 2j]), np.array(["ab", "c"]),
                   np.arange(3, dtype=np.uint64), np.ones((2, 1, 2), np.float64)[:, :, ::2]],
        "scalars": [np.float32(1.5), np.int64(-3)],
        "tensors": [Tensor(np.ones((2, 2), np.float32), requires_grad=True),
                    Tensor(np.arange(3.0)), nn.Parameter(np.zeros(2))],
        "milestones": Counter({10: 1, 20: 2}),
    }
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(obj, path)
    back = load_checkpoint(path)
    assert list(back) == list(obj)
    for key in ("epoch", "loss", "best", "done", "name", "nothing", "big", "pair", "nested",
                3, (1, 2), 0.5):
        assert back[key] == obj[key] and type(back[key]) is type(obj[key])
    assert np.isnan(back["gap"])
    for mine, theirs in zip(back["arrays"], obj["arrays"], strict=True):
        assert mine.dtype == theirs.dtype and mine.shape == theirs.shape
        np.testing.assert_array_equal(mine, theirs)
    for mine, theirs in zip(back["scalars"], obj["scalars"], strict=True):
        assert type(mine) is type(theirs) and mine == theirs
    for mine, theirs in zip(back["tensors"], obj["tensors"], strict=True):
        assert type(mine) is type(theirs) and mine.requires_grad == theirs.requires_grad
        assert mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine.data, theirs.data)
    assert back["milestones"] == {10: 1, 20: 2}


def test_the_file_is_a_npz_without_pickle_and_the_same_object_gives_the_same_bytes(tmp_path):
    obj = {"w": np.arange(4.0), "step": 3}
    save_checkpoint(obj, tmp_path / "a.npz")
    save_checkpoint(obj, tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    with np.load(tmp_path / "a.npz", allow_pickle=False) as archive:  # numpy reads it as is
        assert set(archive.files) == {"structure.json", "0"}
        np.testing.assert_array_equal(archive["0"], obj["w"])
    assert b"pickle" not in (tmp_path / "a.npz").read_bytes()


@pytest.mark.parametrize(("obj", "error", "message"), [
    ({"f": lambda x: x}, TypeError, r"obj\['f'\] is a function"),
    ({"model": nn.Linear(2, 2)}, TypeError, r"obj\['model'\] is a Linear \(save its state_dict"),
    ([{1, 2}], TypeError, r"obj\[0\] is a set"),
    ({"a": np.array([object()])}, TypeError, "array of Python objects"),
    ({Tensor([1.0]): 1}, TypeError, "has a key of type Tensor"),
])
def test_what_a_checkpoint_cannot_hold_is_refused_and_nothing_is_written(obj, error, message,
                                                                       tmp_path):
    path = tmp_path / "checkpoint.npz"
    save_checkpoint({"old": 1}, path)
    before = path.read_bytes()
    with pytest.raises(error, match=message):
        save_checkpoint(obj, path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == [path.name]


def test_a_cycle_is_refused(tmp_path):
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="contains itself"):
        save_checkpoint(loop, tmp_path / "loop.npz")
    shared = [1, 2]
    save_checkpoint([shared, shared], tmp_path / "shared.npz")  # (shared, not a cycle: fine)
    assert load_checkpoint(tmp_path / "shared.npz") == [[1, 2], [1, 2]]


def test_paths_in_the_wrong_place_are_named(tmp_path):
    with pytest.raises(TypeError, match=r"path must be a file name, got dict; write tg.save\("):
        save_checkpoint("x.npz", {"a": 1})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint({}, tmp_path / "missing" / "x.npz")


# ----------------------------------------------------------------------------------------
# Resuming: 2N steps straight = N steps, save, load into fresh objects, N more
# ----------------------------------------------------------------------------------------
def warmup_cosine(optimizer):
    return lr_scheduler.SequentialLR(optimizer, [
        lr_scheduler.LinearLR(optimizer, start_factor=0.1, total_iters=3),
        lr_scheduler.CosineAnnealingLR(optimizer, T_max=20)], milestones=[3])


SETUPS = {
    "sgd-momentum": (lambda ps: optim.SGD(ps, lr=0.5, momentum=0.9, nesterov=True), None),
    "adam": (lambda ps: optim.Adam(ps, lr=0.01, amsgrad=True), None),
    "adamw-cosine": (lambda ps: optim.AdamW(ps, lr=0.01, weight_decay=0.1), warmup_cosine),
}


def fresh(setup, dtype):
    make_optimizer, make_schedule = SETUPS[setup]
    model = nn.Sequential(nn.Linear(4, 8, dtype=dtype), nn.Tanh(), nn.Linear(8, 3, dtype=dtype))
    optimizer = make_optimizer(model.parameters())
    return model, optimizer, make_schedule(optimizer) if make_schedule else None


def train(model, optimizer, schedule, steps, start):
    for step in range(start, start + steps):
        rng = np.random.default_rng(step)  # each step's batch depends on the step only
        x = Tensor(rng.standard_normal((6, 4)).astype(model[0].weight.dtype))
        y = Tensor(rng.standard_normal((6, 3)).astype(model[0].weight.dtype))
        loss = nn.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        if schedule is not None:
            schedule.step()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("setup", SETUPS)
def test_training_resumes_bit_for_bit(setup, dtype, tmp_path):
    n = 6
    tg.manual_seed(0)
    straight = fresh(setup, dtype)
    train(*straight, steps=2 * n, start=0)

    tg.manual_seed(0)
    first = fresh(setup, dtype)
    train(*first, steps=n, start=0)
    model, optimizer, schedule = first
    save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "scheduler": schedule.state_dict() if schedule else None,
                     "epoch": n, "seed": 0}, tmp_path / "checkpoint.npz")

    tg.manual_seed(123)  # other starting weights: everything must come from the file
    model, optimizer, schedule = fresh(setup, dtype)
    checkpoint = load_checkpoint(tmp_path / "checkpoint.npz")
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    if schedule is not None:
        schedule.load_state_dict(checkpoint["scheduler"])
    train(model, optimizer, schedule, steps=n, start=checkpoint["epoch"])

    for a, b in zip(straight[0].parameters(), model.parameters(), strict=True):
        assert a.dtype == b.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)
    assert straight[1].param_groups[0]["lr"] == optimizer.param_groups[0]["lr"]


# ----------------------------------------------------------------------------------------
# Files that are not what they claim
# ----------------------------------------------------------------------------------------
def small_checkpoint(path):
    model = nn.Linear(3, 2)
    optimizer = optim.Adam(model.parameters(), lr=0.1)
    model(Tensor(np.ones((1, 3)))).sum().backward()
    optimizer.step()
    save_checkpoint({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                     "epoch": 1}, path)
    return load_checkpoint(path)


def test_every_single_byte_change_and_every_truncation_is_refused_naming_the_file(tmp_path):
    good = tmp_path / "run.npz"
    expected = small_checkpoint(good)
    payload = good.read_bytes()
    bad = tmp_path / "bad.npz"
    escaped = []
    for position in range(len(payload)):
        flipped = bytearray(payload)
        flipped[position] ^= 1 << (position % 8)  # one bit, a different one each byte
        bad.write_bytes(bytes(flipped))
        try:
            load_checkpoint(bad)
            escaped.append(position)
        except ValueError as err:
            assert str(bad) in str(err)
    assert not escaped, f"{len(escaped)} of {len(payload)} changed bytes were not noticed"
    for size in [0, 1, 4, 30, len(payload) // 2, len(payload) - 90, len(payload) - 1]:
        bad.write_bytes(payload[:size])
        with pytest.raises(ValueError, match=f"{bad}.*(empty|damaged|not a checkpoint)"):
            load_checkpoint(bad)
    back = load_checkpoint(good)  # the good file is still fine
    np.testing.assert_array_equal(back["model"]["weight"], expected["model"]["weight"])


def test_a_damaged_file_leaves_the_model_unchanged(tmp_path):
    model = nn.MLP([3, 4, 2])
    path = tmp_path / "model.npz"
    nn.save(model, path)
    payload = path.read_bytes()
    other = nn.MLP([3, 4, 2], seed=5)
    before = [p.data.copy() for p in other.parameters()]
    for position in range(0, len(payload), 37):
        flipped = bytearray(payload)
        flipped[position] ^= 0x10
        path.write_bytes(bytes(flipped))
        with pytest.raises(ValueError, match=str(path)):
            nn.load(other, path)
        assert all(np.array_equal(a, p.data) for a, p in zip(before, other.parameters(),
                                                              strict=True))


@pytest.mark.parametrize(("content", "message"), [
    (b"epoch,loss\n1,0.5\n", r"is not a checkpoint: it is a text file \(it starts 'epoch,loss"),
    (b"", "is not a checkpoint: it is empty"),
    (b"\x80\x04\x95", r"is not a checkpoint: it looks like a pickle \(torch.save\?\)"),
    (b"\x93NUMPY\x01\x00", "is not a checkpoint: it is a single .npy array"),
    (b"PK\x03\x04garbage", "is damaged or not a checkpoint"),
])
def test_files_that_are_not_checkpoints(content, message, tmp_path):
    path = tmp_path / "notes.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"tg.load: {path} {message}"):
        load_checkpoint(path)
    model = nn.Linear(2, 2)
    before = model.weight.data.copy()
    with pytest.raises(ValueError, match=f"nn.load: {path}"):
        nn.load(model, path)
    np.testing.assert_array_equal(model.weight.data, before)


def test_a_directory_and_a_missing_file(tmp_path):
    with pytest.raises(IsADirectoryError, match=f"tg.load: {tmp_path} is a directory"):
        load_checkpoint(tmp_path)
    with pytest.raises(FileNotFoundError, match="nn.load: .*nowhere.npz does not exist"):
        nn.load(nn.Linear(2, 2), tmp_path / "nowhere.npz")


def test_another_models_checkpoint_names_the_keys_and_changes_nothing(tmp_path):
    path = tmp_path / "mlp.npz"
    nn.save(nn.MLP([3, 4, 2]), path)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 3))
    before = [p.data.copy() for p in model.parameters()]
    with pytest.raises(ValueError, match=f"nn.load: {path} does not fit this Sequential: "
                                         r".*'2.weight' has shape \(2, 4\)"):
        nn.load(model, path)
    other = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(RuntimeError, match=rf"{path} .*unexpected keys \['2.weight', '2.bias'\]"):
        nn.load(other, path)
    with pytest.raises(RuntimeError, match=r"missing keys \[\], unexpected keys \['2.weight'"):
        other.load_state_dict(load_checkpoint(path))  # the checkpoint read as a dict
    assert all(np.array_equal(a, p.data) for a, p in zip(before, model.parameters(),
                                                          strict=True))
    missing, unexpected = other.load_state_dict(load_checkpoint(path), strict=False)
    assert (missing, unexpected) == ([], ["2.weight", "2.bias"])


def test_nn_save_and_numpys_own_npz_read_back(tmp_path):
    model = nn.MLP([3, 4, 2])
    nn.save(model, tmp_path / "model.npz")
    state = load_checkpoint(tmp_path / "model.npz")  # a dict of arrays, by name
    assert list(state) == list(model.state_dict())
    fresh_model = nn.MLP([3, 4, 2], seed=9)
    fresh_model.load_state_dict(state)
    assert all(np.array_equal(a.data, b.data)
               for a, b in zip(model.parameters(), fresh_model.parameters(), strict=True))
    np.savez(tmp_path / "plain.npz", **model.state_dict())  # numpy's own, no checksum
    nn.load(fresh_model, tmp_path / "plain.npz")
    save_checkpoint(model.state_dict(), tmp_path / "state.npz")  # a tg.save'd state_dict
    nn.load(fresh_model, tmp_path / "state.npz")
    save_checkpoint({"model": model.state_dict()}, tmp_path / "run.npz")
    with pytest.raises(ValueError, match="is a checkpoint, not one module's parameters"):
        nn.load(fresh_model, tmp_path / "run.npz")
    assert Path(tmp_path / "model.npz").read_bytes().endswith(
        b"tinygrad_edu sha256:" + Path(tmp_path / "model.npz").read_bytes()[-64:])
