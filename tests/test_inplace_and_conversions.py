"""PyTorch's in-place spellings (`+=`, `t[i] = v`), conversions (`float(t)`, `np.asarray(t)`,
`.to("cpu")`), `tg.grad(grad_outputs=)`, accumulation across threads, and the raw errors
replaced by ones that say what to do (issue 20)."""

import sys
import threading

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck, gradgradcheck, nn, no_grad, ops
from tinygrad_edu.testing import tensors

# op → (a function that runs it, its input shapes): merged into test_op_gradients' EVERY_OP
EVERY_OP_INDEXING = {
    ops.SetItem: (lambda x, v: ops.SetItem.apply(x, v, index=(slice(0, 2), np.array([0, 2]))),
                  [(3, 4), (2,)]),
}


# --- += -= *= /= are in place ------------------------------------------------------------
def _trained(model_parameters, step):
    before = [p.data.copy() for p in model_parameters]
    step()
    return [float(np.abs(p.data - b).max()) for p, b in zip(model_parameters, before,
                                                             strict=True)]


def test_the_hand_written_sgd_loop_changes_the_flagships_parameters():
    model = nn.MLP([4, 3, 2], seed=0)
    x, y = Tensor(np.ones((5, 4))), Tensor(np.zeros((5, 2)))
    nn.mse_loss(model(x), y).backward()
    params = list(model.parameters())
    ids = [id(p) for p in params]

    def step():
        with no_grad():
            for p in model.parameters():
                p -= 0.5 * p.grad  # PyTorch: p changes in place (here it used to rebind p)

    changes = _trained(params, step)
    assert all(c > 0 for c in changes)
    assert [id(p) for p in model.parameters()] == ids  # the same objects, changed


def test_in_place_operators_on_bare_tensors_keep_the_object_and_bump_the_version():
    w = Tensor(np.arange(4.0), requires_grad=True)
    alias = w
    with no_grad():
        w += 1
        w *= 2
        w -= Tensor(np.ones(4))
        w /= 2
        w **= 2
    assert w is alias and w._version == 5
    np.testing.assert_allclose(w.data, (((np.arange(4.0) + 1) * 2 - 1) / 2) ** 2)


def test_in_place_operators_follow_the_rules_of_add_():
    w = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"-= \(sub_\): a leaf tensor that requires grad"):
        w -= 1
    counts = tg.tensor([1, 2, 3])
    with pytest.raises(TypeError, match=r"/= \(div_\): the result would be float32.*int64"):
        counts /= 2
    h = Tensor(np.ones(3), requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"\+= \(add_\): this tensor .* made by 'mul'"):
        h += 1
    wide = Tensor(np.ones(3)).expand(2, 3)
    with pytest.raises(RuntimeError, match=r"add_: .*share one element.*clone\(\)"):
        wide.add_(1)


def test_a_graph_that_saved_a_tensor_refuses_after_augmented_assignment():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    a = Tensor(np.array([3.0, 4.0]))
    y = (x * a).sum()
    a *= 2  # a is not part of the graph's parameters, but mul saved it
    with pytest.raises(RuntimeError, match="changed in place"):
        y.backward()


# --- t[index] = value --------------------------------------------------------------------
INDICES = [
    1, slice(0, 2), np.array([0, 2]), (Ellipsis, 1), (0, np.array([0, 2])), (None, 1),
    (slice(None), slice(1, None)), (np.array([0, 3]), np.array([1, 2])),
]


def _value_shape(index):
    return np.empty((4, 3))[index].shape


@pytest.mark.parametrize("index", INDICES, ids=repr)
def test_setitem_outside_a_graph_writes_in_place_as_numpy_and_bumps_the_version(index):
    x = Tensor(np.zeros((4, 3)))
    value = np.arange(np.prod(_value_shape(index)), dtype=float).reshape(_value_shape(index))
    expected = np.zeros((4, 3))
    expected[index] = value
    x[index] = Tensor(value)
    np.testing.assert_array_equal(x.data, expected)
    assert x._version == 1


def test_setitem_with_a_mask_a_number_and_a_broadcast_value():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    x[x > 2] = 0.0
    x[:, 0] = Tensor([7.0])
    np.testing.assert_array_equal(x.data, [[7, 1, 2], [7, 0, 0]])


@pytest.mark.parametrize("index", INDICES + ["mask"], ids=repr)
def test_a_recorded_setitem_matches_pytorch(torch, index):
    rng = np.random.default_rng(1)
    a, weights = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    mask = a > 0
    index = mask if isinstance(index, str) else index
    v = rng.standard_normal(_value_shape(index))
    for dtype in (np.float32, np.float64):
        ours_a, ours_v = (Tensor(t.astype(dtype), requires_grad=True) for t in (a, v))
        h = ours_a * 2
        h[index] = ours_v * 3
        (h * Tensor(weights.astype(dtype))).sum().backward()
        ta, tv = (torch.tensor(t.astype(dtype), requires_grad=True) for t in (a, v))
        torch_index = tuple(torch.tensor(i) if isinstance(i, np.ndarray) else i for i in
                            (index if isinstance(index, tuple) else (index,)))
        th = ta * 2
        th[torch_index if len(torch_index) > 1 else torch_index[0]] = tv * 3
        (th * torch.tensor(weights.astype(dtype))).sum().backward()
        np.testing.assert_allclose(h.data, th.detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours_a.grad.data, ta.grad.numpy(), rtol=1e-6)
        np.testing.assert_allclose(ours_v.grad.data, tv.grad.numpy(), rtol=1e-6)
        assert ours_a.grad.dtype == dtype


def test_writing_a_value_that_requires_grad_into_a_plain_tensor_is_recorded():
    v = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    x = Tensor(np.zeros((2, 2)))
    x[1] = v
    assert not x.is_leaf and x.requires_grad
    (x * Tensor([[1.0, 1.0], [3.0, 5.0]])).sum().backward()
    np.testing.assert_array_equal(v.grad.data, [3.0, 5.0])


@given(x=tensors(), data=st.data())
def test_the_recorded_write_has_the_right_gradient_for_drawn_shapes(x, data):
    stop = data.draw(st.integers(1, x.shape[0]))
    value = data.draw(tensors(x[:stop].shape))

    def write(a, v):
        out = a * 1.0
        out[:stop] = v * v
        return out

    assert gradcheck(write, [x, value])
    assert gradgradcheck(write, [x, value])


def test_setitem_refusals_say_what_to_do():
    p = Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(RuntimeError, match="setitem: a leaf tensor that requires grad"):
        p[0] = 2.0
    with no_grad():
        p[0] = 2.0  # as an optimizer would: allowed
    assert p.data[0] == 2.0
    view = (Tensor(np.ones((2, 2)), requires_grad=True) * 1)[0]
    with pytest.raises(RuntimeError, match="view of another one.*clone"):
        view[0] = 5.0
    x = Tensor(np.ones(3))
    with pytest.raises(IndexError, match=r"setitem: index 5 is out of bounds.*shape \(3,\)"):
        x[5] = 1.0
    with pytest.raises(ValueError, match="setitem"):
        x[:2] = np.ones(3)


def test_an_op_that_used_the_old_value_refuses_instead_of_a_wrong_gradient():
    x = Tensor(np.ones(3), requires_grad=True)
    h = x * 2
    before = h.sum()
    h[0] = 5.0
    with pytest.raises(RuntimeError, match="changed in place"):
        (before + h.sum()).backward()


# --- conversions -------------------------------------------------------------------------
def test_python_numbers_and_numpy_arrays_from_tensors():
    t = Tensor([2.5])
    assert float(t) == 2.5 and int(t) == 2 and bool(Tensor([1.0]))
    array = np.asarray(Tensor(np.arange(3.0)))
    assert array.dtype == np.float64 and array.tolist() == [0.0, 1.0, 2.0]
    assert np.asarray([Tensor(1.0), Tensor(2.0)]).tolist() == [1.0, 2.0]
    with pytest.raises(ValueError, match="only a one-element tensor"):
        float(Tensor([1.0, 2.0]))


def test_devices_the_cpu_is_accepted_and_others_refused():
    t = Tensor([1.0])
    assert t.to("cpu") is t and t.cpu() is t and t.device == "cpu"
    assert t.to("cpu", np.float64).dtype == np.float64
    assert t.to(device="cpu", dtype=np.float64).dtype == np.float64
    assert t.to(Tensor(np.zeros(1))).dtype == np.float64
    for call in (lambda: t.to("cuda"), lambda: t.cuda(), lambda: t.to("mps")):
        with pytest.raises(ValueError, match="runs on numpy, on the CPU"):
            call()


# --- tg.grad(grad_outputs=) ----------------------------------------------------------------
def test_grad_with_grad_outputs_and_several_outputs_matches_pytorch(torch):
    values, v = np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.5, 2.0])
    x = Tensor(values, requires_grad=True)
    (ours,) = tg.grad([x * x, x.exp().sum()], [x], grad_outputs=[v, None])
    tx = torch.tensor(values, requires_grad=True)
    (theirs,) = torch.autograd.grad([tx * tx, tx.exp().sum()], [tx],
                                    grad_outputs=[torch.tensor(v), None])
    np.testing.assert_allclose(ours.data, theirs.numpy())
    (single,) = tg.grad(x * x, x, grad_outputs=v)
    np.testing.assert_allclose(single.data, 2 * values * v)
    with pytest.raises(ValueError, match="2 outputs need as many grad_outputs"):
        tg.grad([x * x, x * 2], [x], grad_outputs=[v])


# --- threads ---------------------------------------------------------------------------------
@pytest.fixture
def fast_thread_switching():
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: races show up
    yield
    sys.setswitchinterval(interval)


def _in_threads(target, count=2):
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_two_threads_backward_on_one_graph_lose_no_accumulation(fast_thread_switching):
    x = Tensor(np.ones(3), requires_grad=True)
    y = (x * 2).sum()

    def run():
        for _ in range(50):
            y.backward(retain_graph=True)

    _in_threads(run)
    np.testing.assert_array_equal(x.grad.data, [200.0, 200.0, 200.0])


def test_the_thread_that_loses_the_race_gets_the_freed_graph_message(fast_thread_switching):
    errors = []
    for _ in range(50):
        x = Tensor(np.ones(3), requires_grad=True)
        y = (x.exp() * 2).sum()

        def once(y=y):
            try:
                y.backward()
            except Exception as err:  # any error but the freed-graph one is the bug looked for
                errors.append(err)

        _in_threads(once)
    assert errors  # each pair: one of the two finds the graph freed
    assert all(isinstance(e, RuntimeError) and "already freed" in str(e) for e in errors)


# --- errors that used to be numpy's ----------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda: len(Tensor(1.0)), TypeError, r"len\(\) of a 0-d tensor; use \.item\(\)"),
    (lambda: Tensor(1.0)[0], IndexError, r"invalid index of a 0-d tensor; use \.item\(\)"),
    (lambda: Tensor.zeros(-1), ValueError, r"zeros: size -1 is negative"),
    (lambda: Tensor.randn(2, 2.5), TypeError, r"randn: sizes must be whole numbers"),
    (lambda: tg.tensor([2**63]), OverflowError, r"outside the range of int64"),
    (lambda: tg.tensor([2**64]), OverflowError, r"outside the range of int64"),
    (lambda: tg.tensor([True]) - tg.tensor([True]), TypeError, r"sub: .*boolean subtract.*\^"),
    (lambda: -tg.tensor([True]), TypeError, r"neg: .*boolean negative.*~"),
    (lambda: ~Tensor([1.0]), TypeError, r"~ \(bitwise_not\): needs bool or integer"),
    (lambda: Tensor(np.ones((2, 2)))[[[0, 1], [1, 0]]], TypeError,
     r"a list holding lists.*x\[tuple\(seq\)\]"),
])
def test_raw_errors_now_say_what_to_do(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_masks_combine_with_the_bitwise_operators():
    m = tg.tensor([True, False, True])
    np.testing.assert_array_equal((~m).data, [False, True, False])
    np.testing.assert_array_equal((m & ~m).data, [False, False, False])
    np.testing.assert_array_equal((m | tg.tensor([False, True, False])).data, [True] * 3)
    np.testing.assert_array_equal(m.logical_not().data, [False, True, False])


# --- .grad is checked when assigned, as PyTorch --------------------------------------------
@pytest.mark.parametrize("value, error, message", [
    (Tensor(np.ones(4, np.float32)), ValueError, r"shape \(4,\) to a tensor of shape \(3, 4\)"),
    (np.ones((3, 4), np.float32), TypeError, r"type ndarray .* assign a Tensor"),
    (Tensor(np.ones((3, 4))), TypeError, r"float64 gradient to a float32 tensor"),
])
def test_assigning_a_gradient_that_does_not_fit_is_refused(value, error, message):
    p = nn.Parameter(np.zeros((3, 4), np.float32))
    with pytest.raises(error, match=message):
        p.grad = value
    assert p.grad is None
    p.grad = Tensor(np.ones((3, 4), np.float32))  # a fitting one, and None, are taken
    assert p.grad.shape == (3, 4)
    p.grad = None
    assert p.grad is None
