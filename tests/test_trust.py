"""No silent wrong answers: each case here once gave a wrong number or a broken state.

Each test names the case; it either gets PyTorch's result now or a clear error.
"""

import gzip
import http.server
import socket
import struct
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import assume, find, given, settings

import tinygrad_edu as tg
from tinygrad_edu import Tensor, datasets, gradcheck, nn, no_grad, optim, viz
from tinygrad_edu.datasets import DatasetError
from tinygrad_edu.testing import PROGRAM_OPS, programs


# --- 1. type promotion --------------------------------------------------------------------
def test_integer_tensor_times_a_float_is_a_float():
    result = Tensor.arange(5) * 0.5
    assert result.dtype == np.float32
    np.testing.assert_array_equal(result.data, [0, 0.5, 1, 1.5, 2])
    assert (Tensor.arange(3) + 0.5).tolist() == [0.5, 1.5, 2.5]
    assert (0.5 * Tensor.arange(3)).tolist() == [0, 0.5, 1]
    assert (1 - Tensor.arange(2) * 0.25).tolist() == [1, 0.75]


def test_uint8_pixels_scale_to_floats():
    pixels = Tensor(np.array([0, 128, 255], np.uint8))
    scaled = pixels * (1 / 255)
    assert scaled.dtype == np.float32
    np.testing.assert_allclose(scaled.data, [0, 128 / 255, 1], rtol=1e-6)
    assert (pixels / 255).dtype == np.float32


def test_promotion_follows_pytorch():
    ints, floats32 = Tensor.arange(3), Tensor([1.0, 2.0, 3.0])
    assert (ints + 1).dtype == np.int64  # int stays int
    assert (ints / 2).dtype == np.float32  # true division makes floats
    assert (ints / 2).tolist() == [0, 0.5, 1]
    assert (ints ** 0.5).dtype == np.float32
    assert (ints + floats32).dtype == np.float32  # not numpy's float64
    assert (floats32 * np.float64(2)).dtype == np.float32  # a number does not widen
    assert (floats32 + Tensor(np.ones(3))).dtype == np.float64  # a float64 tensor does
    assert (Tensor(np.array([True, False])) + 1).dtype == np.int64
    assert (ints.sigmoid()).dtype == np.float32
    assert (ints < 1.5).tolist() == [True, True, False]


def test_a_plain_number_takes_a_float_tensors_dtype_on_either_side():
    # a float tensor and a Python int or float: the tensor's dtype, and the values of the
    # number made an array of that dtype (PyTorch's rule for a plain number)
    for dtype in (np.float16, np.float32, np.float64):
        x = Tensor(np.array([1.5, -2.0, 0.0], dtype))
        for number in (0.5, 3, -7, 2**62 if dtype != np.float16 else 2**10, 1 / 3):
            expected = np.array(number, dtype)
            for result, values in ((x * number, x.data * expected),
                                   (number - x, expected - x.data),
                                   (x / number, x.data / expected)):
                assert result.dtype == dtype, (dtype, number)
                np.testing.assert_array_equal(result.data, values)
    with pytest.raises(TypeError, match="cannot combine"):  # beyond int64: as before
        Tensor([1.0]) * 10**30
    assert (Tensor([1.0]) * True).dtype == np.float32  # (a bool: the general way)


def test_promotion_matches_torch_where_installed(torch):
    cases = [(np.arange(3), 0.5), (np.arange(3, dtype=np.int32), 2), (np.array([1, 2], np.uint8),
             1 / 255), (np.array([True, False]), 3), (np.ones(2, np.float32), np.ones(2)),
             (np.arange(2), np.array(0.5)), (np.ones(2, np.float32), np.array(2.0))]
    for array, other in cases:
        ours = Tensor(array) * (Tensor(other) if isinstance(other, np.ndarray) else other)
        theirs = torch.from_numpy(array) * (torch.from_numpy(other) if isinstance(
            other, np.ndarray) else other)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch."), (array, other)
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-6)


def test_none_and_strings_are_type_errors():
    with pytest.raises(TypeError, match="add: cannot combine a tensor with NoneType None"):
        Tensor.ones(2) + None
    with pytest.raises(TypeError, match="mul: .*str 'x'"):
        Tensor.ones(2) * "x"
    with pytest.raises(TypeError, match=r"Tensor: data must be real numbers.*str 'abc'"):
        Tensor("abc")
    with pytest.raises(TypeError, match="complex"):
        Tensor(np.array([1 + 2j]))
    with pytest.raises(TypeError, match="Tensor"):
        Tensor([[1, 2], [3]])  # ragged


# --- 2. in-place changes between forward and backward -------------------------------------
def test_an_in_place_change_of_a_saved_input_is_caught():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with no_grad():
        x.mul_(3)
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*'mul'.*version 1, 'mul' saw "
                                           r"version 0"):
        y.backward()


def test_a_change_of_a_saved_output_is_caught():
    x = Tensor([0.5, -1.0], requires_grad=True)
    s = x.sigmoid()  # sigmoid's gradient reads its own output
    with no_grad():
        s.mul_(2)
    with pytest.raises(RuntimeError, match="'sigmoid'.*changed in place"):
        s.sum().backward()


def test_a_change_through_a_view_is_caught():
    base = Tensor(np.arange(6.0))
    view = base.reshape(2, 3)
    w = Tensor(np.ones(6), requires_grad=True)
    y = (w * base).sum()
    view.add_(1)  # the same memory as base
    assert base._version == view._version == 1
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_changes_before_the_op_ran_are_fine():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with no_grad():
        x.add_(1)
    (x * x).sum().backward()
    assert x.grad.tolist() == [4.0, 6.0]


def test_an_optimizer_step_bumps_the_version():
    w = Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    opt.step()
    assert w._version == 1
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


def test_in_place_methods_follow_pytorch():
    x = Tensor([1.0, 2.0])
    assert x.add_(1).tolist() == [2, 3] and x.sub_(1, alpha=2).tolist() == [0, 1]
    assert x.mul_(Tensor([5.0, 5.0])).tolist() == [0, 5] and x.div_(5).tolist() == [0, 1]
    assert x.fill_(7).tolist() == [7, 7] and x.zero_().tolist() == [0, 0]
    assert x.copy_(np.array([3, 4])).tolist() == [3, 4] and x.dtype == np.float32
    assert x._version == 7
    leaf = Tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="add_: a leaf tensor that requires grad.*no_grad"):
        leaf.add_(1)
    with pytest.raises(RuntimeError, match="mul_: this tensor .* made by 'mul'"):
        (leaf * 2).mul_(2)
    with pytest.raises(TypeError, match="add_: the result would be float32.*int64"):
        Tensor.arange(3).add_(0.5)
    with pytest.raises(ValueError, match=r"add_: an operand of shape \(3,\) does not broadcast "
                                         r"to the tensor's shape \(2,\)"):
        Tensor([1.0, 2.0]).add_(np.ones(3))


def test_data_writes_bypass_the_counter_as_documented():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    x.data[:] = 5  # like PyTorch's .data: not seen, so backward uses the new values
    y.backward()
    assert x.grad.tolist() == [10.0, 10.0]
    assert ".data" in Tensor.__doc__ and "from_numpy" in Tensor.__doc__


# --- 3. grad mode and observers are per thread --------------------------------------------
def test_no_grad_in_another_thread_does_not_stop_this_one():
    stop, lost = threading.Event(), []

    def toggle():
        while not stop.is_set():
            with no_grad():
                pass

    other = threading.Thread(target=toggle)
    other.start()
    x = Tensor([1.0], requires_grad=True)
    try:
        lost = [i for i in range(20_000) if not (x * 2).requires_grad]
    finally:
        stop.set()
        other.join()
    assert lost == []


def test_a_recursive_no_grad_function_restores_grad_mode():
    @no_grad()
    def depth(n):
        assert not tg.is_grad_enabled()
        return depth(n - 1) if n else 0

    depth(3)
    assert tg.is_grad_enabled()
    with no_grad(), tg.enable_grad():
        assert tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_anomaly_in_another_thread_does_not_raise_here():
    inside, done, failures = threading.Event(), threading.Event(), []

    def watch():
        with tg.detect_anomaly():
            inside.set()
            done.wait(5)

    other = threading.Thread(target=watch)
    other.start()
    inside.wait(5)
    try:
        with np.errstate(divide="ignore"):
            Tensor([0.0], requires_grad=True).log()  # -inf, but not under our anomaly check
        with viz.trace() as steps:
            pass
        assert steps.steps == []
    except Exception as err:  # pragma: no cover - the failure being tested for
        failures.append(err)
    finally:
        done.set()
        other.join()
    assert failures == []


# --- 4. every parameter registered, none lost ---------------------------------------------
def test_parameters_are_found_at_any_depth():
    class Blocks(nn.Module):
        def __init__(self):
            self.blocks = [[nn.Linear(2, 2)], {"head": (nn.Linear(2, 1),)}]

    model = Blocks()
    assert [name for name, _ in model.named_parameters()] == [
        "blocks.0.0.weight", "blocks.0.0.bias", "blocks.1.head.0.weight", "blocks.1.head.0.bias"]
    assert model.num_parameters() == 6 + 3


def test_a_plain_tensor_over_a_parameter_is_refused():
    layer = nn.Linear(2, 2)
    with pytest.raises(TypeError, match=r"Linear.weight: cannot assign Tensor over a Parameter"):
        layer.weight = Tensor(np.ones((2, 2)))
    assert len(layer.parameters()) == 2
    layer.weight = nn.Parameter(np.ones((2, 2), np.float32))  # a Parameter is fine
    layer.bias = None  # and so is None, as in PyTorch
    assert len(layer.parameters()) == 1


def test_sequential_keeps_the_names_it_is_given():
    layer = nn.Linear(2, 2)
    layer.weight.name = "mine"
    nn.Sequential(layer)
    assert layer.weight.name == "mine"
    assert nn.MLP([2, 2])[0].weight.name == "0.weight"  # an MLP names its own layers


# --- 5. loading is all or nothing ---------------------------------------------------------
def test_a_bad_value_in_a_later_key_changes_nothing():
    model = nn.MLP([2, 2, 2], seed=0)
    before = {k: v.copy() for k, v in model.state_dict().items()}
    for bad in (np.array([["a", "b"], ["c", "d"]]), np.ones((2, 2), complex),
                np.array([[None, 1], [2, 3]], object)):
        state = nn.MLP([2, 2, 2], seed=1).state_dict()
        state["2.weight"] = bad
        with pytest.raises(TypeError, match="'2.weight' holds"):
            model.load_state_dict(state)
        for key, value in model.state_dict().items():
            np.testing.assert_array_equal(value, before[key])


def test_loading_writes_in_place_and_bumps_the_version():
    model = nn.MLP([2, 2], seed=0)
    weight = model[0].weight
    model.load_state_dict(nn.MLP([2, 2], seed=1).state_dict())
    assert model[0].weight is weight and weight._version == 1
    np.testing.assert_array_equal(weight.data, nn.MLP([2, 2], seed=1)[0].weight.data)


def test_save_errors_name_the_users_path(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"cannot write .*nowhere/w.npz: the folder "):
        nn.save(nn.Linear(2, 2), tmp_path / "nowhere" / "w.npz")


def test_saving_through_a_symlink_writes_its_target(tmp_path):
    target, link = tmp_path / "real.npz", tmp_path / "link.npz"
    target.write_bytes(b"")
    link.symlink_to(target)
    nn.save(nn.Linear(2, 2, seed=0), link)
    assert link.is_symlink() and target.stat().st_size > 0
    nn.load(nn.Linear(2, 2), target)


# --- 6. edge values as PyTorch ------------------------------------------------------------
def test_relu_of_minus_infinity_is_zero():
    assert Tensor([-np.inf, -1.0, 2.0]).relu().tolist() == [0, 0, 2]


@pytest.mark.parametrize(("x", "y", "dx", "dy"), [
    (0.0, 0.0, 0.0, 0.0),  # x**y at (0, 0)
    (0.0, 2.0, 0.0, 0.0),  # 0**y
    (2.0, 0.0, 0.0, np.log(2.0)),  # x**0
    (0.0, -1.0, -np.inf, -np.inf),  # a true pole stays one
])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_pow_gradients_at_zero(x, y, dx, dy):
    a = Tensor([x], requires_grad=True, dtype=np.float64)
    b = Tensor([y], requires_grad=True, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        (a ** b).sum().backward()
    assert a.grad.item() == dx and b.grad.item() == pytest.approx(dy)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # 0 ** −0.5 is inf, in both libraries
def test_pow_gradients_match_torch_where_installed(torch):
    base, exponent = np.array([0.0, 0.0, 2.0, 0.0, 3.0]), np.array([0.0, 2.0, 0.0, 0.5, 1.5])
    a, b = (Tensor(v, requires_grad=True) for v in (base, exponent))
    (a ** b).sum().backward()
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (base, exponent))
    (ta ** tb).sum().backward()
    np.testing.assert_allclose(a.grad.data, ta.grad.numpy())
    np.testing.assert_allclose(b.grad.data, tb.grad.numpy())


def test_means_over_no_elements_are_nan():
    empty = Tensor(np.zeros((0, 2)))
    assert np.isnan(empty.mean().item())
    assert np.isnan(nn.mse_loss(empty, Tensor(np.zeros((0, 2)))).item())


def test_an_integer_and_an_index_array_apart_index_as_pytorch():
    x = Tensor(np.arange(60.0).reshape(4, 3, 5), requires_grad=True)
    picked = x[0, :, np.array([0, 1])]
    assert picked.shape == (3, 2)
    np.testing.assert_array_equal(picked.data, x.data[0][:, [0, 1]])
    picked.sum().backward()
    assert x.grad.data[0, :, :2].sum() == 6 and x.grad.data.sum() == 6


# --- 7. hooks and grad() ------------------------------------------------------------------
def test_a_hook_returning_the_wrong_shape_is_refused():
    x = Tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: Tensor(1.0))  # would broadcast silently into .grad
    with pytest.raises(RuntimeError, match=r"returned a gradient of shape \(\) for a tensor of "
                                           r"shape \(2,\)"):
        (x * 2).sum().backward()


def test_grad_takes_a_single_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    (dx,) = tg.grad((x * x).sum(), x)
    assert dx.tolist() == [2.0, 4.0]


# --- 8. data files and downloads ----------------------------------------------------------
def _idx_header(shape):
    return bytes([0, 0, 8, len(shape)]) + struct.pack(f">{len(shape)}I", *shape)


def test_a_gzip_bomb_is_read_only_as_far_as_its_header_says(tmp_path):
    bomb = tmp_path / "bomb.idx.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as file:
        file.write(_idx_header((10, 28, 28)))
        for _ in range(200):  # 200 MB of zeros, about 200 kB compressed
            file.write(bytes(1 << 20))
    assert bomb.stat().st_size < 1_000_000
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError, match="more data than its header promises"):
            datasets.read_idx(bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000


def test_a_huge_declared_size_is_refused_with_the_right_number(tmp_path):
    path = tmp_path / "huge.idx"
    path.write_bytes(_idx_header((2**32 - 1,) * 4))
    with pytest.raises(DatasetError, match="340,282,366,604,025,813,516,997,721,482,669,850,625"
                                           " bytes.*max_bytes"):
        datasets.read_idx(path)


def test_images_and_labels_of_different_counts_name_both_files(tmp_path):
    datasets.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((3, 28, 28), np.uint8))
    datasets.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros((2,), np.uint8))
    with pytest.raises(DatasetError, match=r"t10k-images.*\(3, 28, 28\).*t10k-labels.*\(2,\)"):
        datasets.load_image_label_dir(tmp_path)


def test_one_hot_refuses_labels_out_of_range():
    with pytest.raises(ValueError, match=r"one_hot: labels must lie in \[0, 10\).* -1"):
        datasets.one_hot(np.array([-1]))
    with pytest.raises(ValueError, match="10"):
        datasets.one_hot(np.array([10]))


def _serve_once(behaviour):
    """A loopback socket that answers each connection with `behaviour(conn)`."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(10)

    def run():
        try:
            while True:
                conn, _ = server.accept()
                behaviour(conn)
        except OSError:
            pass

    threading.Thread(target=run, daemon=True).start()
    return server, f"http://127.0.0.1:{server.getsockname()[1]}/"


def test_a_broken_or_silent_mirror_is_reported_and_skipped(tmp_path, monkeypatch, capsys):
    payload = gzip.compress(_idx_header((2,)) + bytes([3, 4]))
    name = "t10k-labels-idx1-ubyte.gz"
    monkeypatch.setitem(datasets.MNIST_FILES, name, (datasets._sha256(payload), len(payload)))

    def garbage(conn):
        conn.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
        conn.close()

    held = []

    class Good(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    good = http.server.HTTPServer(("127.0.0.1", 0), Good)
    threading.Thread(target=good.serve_forever, daemon=True).start()
    bad, bad_url = _serve_once(garbage)
    silent, silent_url = _serve_once(held.append)  # accepts, never answers
    try:
        path = datasets.ensure_file(tmp_path, name, True, [bad_url, silent_url,
                                    f"http://127.0.0.1:{good.server_port}/"], timeout=0.5)
    finally:
        good.shutdown()
        bad.close()
        silent.close()
        for conn in held:
            conn.close()
    assert path.read_bytes() == payload
    told = capsys.readouterr().err
    assert f"{bad_url} failed" in told and f"{silent_url} failed (timed out" in told


# --- 9. optimizer settings ----------------------------------------------------------------
@pytest.mark.parametrize(("make", "message"), [
    (lambda p: optim.SGD(p, lr=float("nan")), "lr must be a finite number ≥ 0, got nan"),
    (lambda p: optim.SGD(p, lr=-0.1), "lr must be"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.5), "momentum must be"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay must be"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.999)), r"betas\[0\] must be in \[0, 1\), got 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, float("nan"))), r"betas\[1\]"),
    (lambda p: optim.Adam(p, eps=0.0), "eps must be a finite number > 0"),
])
def test_optimizer_settings_are_checked(make, message):
    with pytest.raises(ValueError, match=message):
        make([Tensor([1.0], requires_grad=True)])


def test_a_zero_learning_rate_is_allowed_as_in_pytorch():
    w = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.0)
    (w * 2).sum().backward()
    opt.step()
    assert w.item() == 1.0


# --- 10. the flagship example -------------------------------------------------------------
@pytest.mark.parametrize(("options", "message"), [
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--lr", "nan"], "--lr must be a positive number"),
    (["--sizes", "784"], "--sizes must"),
])
def test_flagship_refuses_bad_options_before_training(options, message, capsys, load_example):
    with pytest.raises(SystemExit):
        load_example("mnist").main(options)
    assert message in capsys.readouterr().err


def test_flagship_checks_the_save_path_before_training(tmp_path, capsys, load_example):
    with pytest.raises(SystemExit):
        load_example("mnist").main(["--save", str(tmp_path / "missing" / "w.npz")])
    printed = capsys.readouterr()
    assert "--save" in printed.err and "does not exist" in printed.err
    assert "epoch" not in printed.out  # no training ran


def test_flagship_has_help_for_every_option(load_example):
    actions = [a for a in load_example("mnist").build_parser()._actions if a.dest != "help"]
    assert len(actions) == 14 and all(a.help for a in actions)


# --- whole random programs ----------------------------------------------------------------
@settings(max_examples=300)
@given(program=programs())
def test_backward_of_random_programs_matches_central_differences(program):
    assume(program.largest_value() < 1e4)
    assert gradcheck(program, program.inputs)


def test_random_programs_catch_a_wrong_gradient():
    class BrokenSquare(tg.Function):
        def forward(self, x):
            return x * x

        def backward(self, grad, out, x):
            return grad * x  # wrong: 2x

    def fails_its_check(program):
        try:
            gradcheck(program, program.inputs)
        except tg.GradcheckError:
            return True
        return False

    ops = {**PROGRAM_OPS, "broken": (1, BrokenSquare.apply)}
    found = find(programs(ops=ops), fails_its_check,
                 settings=settings(max_examples=300, database=None, derandomize=True))
    assert any(name == "broken" for name, _ in found.steps)
