"""The compiled replay (issue 25, part 2): a record runs as generated Python over arrays
allocated once, each op's numpy calls in eager's order, so every number is eager's bit for
bit; buffers are reused by liveness; what escapes (.grad, returned tensors) is new at every
call; `code()` shows the function, `nbytes` its arrays, `reset()` frees them."""

import gc
import threading
import weakref

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor, compiled, nn, optim
from tinygrad_edu import functional as F

SEED_SIZES = [784, 16, 16, 10]


def seed_batches(dtype, steps, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    for i in range(steps):
        size = batch if i % 7 else 1  # now and then another shape: a second record
        x = rng.random((size, SEED_SIZES[0])).astype(dtype)
        yield Tensor(x), Tensor(np.eye(10, dtype=dtype)[rng.integers(0, 10, size)])


def train_seed_network(use_jit, dtype, make_optimizer, steps=100, schedule=None, clip=None):
    model = nn.MLP(SEED_SIZES, seed=0, dtype=dtype)
    optimizer = make_optimizer(model)
    scheduler = schedule(optimizer) if schedule else None

    def train_step(x, y):
        loss = nn.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        if clip:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss

    step = tg.jit(train_step) if use_jit else train_step
    losses = []
    for x, y in seed_batches(dtype, steps):
        losses.append(step(x, y).item())
        if scheduler:
            scheduler.step()
    grads = [p.grad.data.copy() for p in model.parameters()]
    return [p.data.copy() for p in model.parameters()], grads, losses, step


OPTIMIZERS = {
    "sgd": lambda m: optim.SGD(m.parameters(), lr=0.5),
    "sgd-groups": lambda m: optim.SGD([{"params": m[0].parameters(), "lr": 0.3},
                                       {"params": m[2].parameters()},
                                       {"params": m[4].parameters(), "lr": 1.0}], lr=0.5),
    "sgd-momentum": lambda m: optim.SGD(m.parameters(), lr=0.5, momentum=0.9,
                                        weight_decay=1e-4),
    "adam": lambda m: optim.Adam(m.parameters(), lr=0.01),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_the_seed_network_replays_bit_for_bit_over_100_steps(dtype, name):
    eager = train_seed_network(False, dtype, OPTIMIZERS[name])
    replayed = train_seed_network(True, dtype, OPTIMIZERS[name])
    assert replayed[2] == eager[2]  # the losses
    for a, b in zip(eager[0] + eager[1], replayed[0] + replayed[1], strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert len(replayed[3].records) == 2


def test_plain_sgd_with_a_schedule_and_clipping_replays_bit_for_bit():
    """The inlined SGD step reads lr at every call (a schedule changes it between calls)."""
    def schedule(optimizer):
        return optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.7)

    def sgd(m):
        return optim.SGD(m.parameters(), lr=0.8)

    eager = train_seed_network(False, np.float32, sgd, 60, schedule, clip=0.5)
    replayed = train_seed_network(True, np.float32, sgd, 60, schedule, clip=0.5)
    assert replayed[2] == eager[2]
    assert all(np.array_equal(a, b) for a, b in zip(eager[0], replayed[0], strict=True))


@pytest.mark.parametrize("order", ["no zero_grad", "zero_grad after backward",
                                   ".grad kept between calls"])
def test_plain_sgd_reads_each_grad_when_the_step_did_not_just_fill_it(order):
    # the update takes the gradients the replay put into empty .grads as they are
    # (fresh_grads); gradients added into old ones, or cleared before step(), are looked up
    def run(use_jit):
        model = nn.MLP([6, 4, 3], seed=1)
        optimizer = optim.SGD(model.parameters(), lr=0.2)

        def step(x, y):
            loss = nn.mse_loss(model(x), y)
            loss.backward()
            if order == "zero_grad after backward":
                optimizer.zero_grad()
            optimizer.step()
            return loss

        step = tg.jit(step) if use_jit else step
        rng = np.random.default_rng(6)
        kept = []
        for i in range(6):
            if order != "no zero_grad" and i % 2 == 0:
                optimizer.zero_grad()
            step(Tensor(rng.random((3, 6)).astype(np.float32)),
                 Tensor(rng.random((3, 3)).astype(np.float32)))
            if order == ".grad kept between calls":
                kept.append(model[0].weight.grad)  # (a later step adds into it)
        return [p.data.copy() for p in model.parameters()], [
            None if g is None else g.data.copy() for g in kept]

    (eager, eager_kept), (replayed, replayed_kept) = run(False), run(True)
    assert all(np.array_equal(a, b) for a, b in zip(eager, replayed, strict=True))
    assert all(np.array_equal(a, b) for a, b in zip(eager_kept, replayed_kept, strict=True))


def test_an_sgd_setting_changed_between_calls_takes_effect():
    """lr made a numpy float64 (a strong scalar: lr·g in float64), then momentum switched on
    after recording: each call computes what SGD.update computes."""
    def run(use_jit):
        model = nn.MLP([6, 5, 3], seed=1)
        optimizer = optim.SGD(model.parameters(), lr=0.2)

        def step(x, y):
            optimizer.zero_grad()
            nn.mse_loss(model(x), y).backward()
            optimizer.step()

        step = tg.jit(step) if use_jit else step
        rng = np.random.default_rng(2)
        for i in range(8):
            if i == 2:
                optimizer.param_groups[0]["lr"] = np.float64(0.3)
            if i == 4:
                optimizer.param_groups[0]["momentum"] = 0.9
            step(Tensor(rng.random((3, 6)).astype(np.float32)),
                 Tensor(rng.random((3, 3)).astype(np.float32)))
        return [p.data.copy() for p in model.parameters()]

    assert all(np.array_equal(a, b) for a, b in zip(run(False), run(True), strict=True))


# --- each kernel against eager, bit for bit ----------------------------------------------
def layer(x):  # a weight and a bias that get gradients
    rng = np.random.default_rng(x.shape[-1])
    w = Tensor(rng.standard_normal((3, x.shape[-1])).astype(x.dtype), requires_grad=True)
    b = Tensor(rng.standard_normal(3).astype(x.dtype), requires_grad=True)
    return F.linear(x, w, b), (w, b)


STEPS = {  # name → (step body on x: (loss, tensors whose .grad to compare), kernels used)
    "linear-sigmoid-mse": (lambda x, h, y: nn.mse_loss(h.sigmoid(), y), ["LinearOp",
                                                                          "SigmoidOp",
                                                                          "MSELossOp"]),
    "tanh-sum": (lambda x, h, y: (h.tanh() * y).sum(), ["TanhOp", "Mul", "Sum"]),
    "relu-mse-sum": (lambda x, h, y: nn.mse_loss(h.relu(), y, reduction="sum"),
                     ["ReLUOp", "MSELossOp"]),
    "broadcast-add-sub-mul": (lambda x, h, y: ((h - y[0]) * (y + h[:1]) + 2).sum(axis=0,
                                                                                  keepdims=True)
                              .sum(), ["Add", "Sub", "Mul", "Sum"]),
    "neg-mean": (lambda x, h, y: (-(h * h)).mean(), ["Neg"]),
    "log-softmax": (lambda x, h, y: F.cross_entropy(h, y.argmax(dim=1)), ["LogSoftmaxOp"]),
    "3-d-linear": (lambda x, h, y: (h.sigmoid() * y.reshape(2, 2, 3)).sum(), ["LinearOp"]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(STEPS))
def test_each_kernel_gives_eagers_bits(name, dtype):
    body, kernels = STEPS[name]
    x0 = Tensor(np.ones((4, 5), dtype))
    _, params = layer(x0)
    forget = optim.SGD(params, lr=0.0)  # (its zero_grad is replayed; `p.grad = None` is not)

    def step(x, y):
        w, b = params
        h = F.linear(x.reshape(2, 2, 5) if name == "3-d-linear" else x, w, b)
        forget.zero_grad()
        loss = body(x, h, y)
        loss.backward()
        return loss, h

    replayed = tg.jit(step)
    rng = np.random.default_rng(3)
    for _ in range(4):
        x = Tensor((rng.standard_normal((4, 5)) * 3).astype(dtype))
        y = Tensor(rng.random((4, 3)).astype(dtype))
        loss, h = step(x, y)
        grads = [p.grad.data.copy() for p in params]
        loss_r, h_r = replayed(x, y)
        assert np.array_equal(loss.data, loss_r.data) and loss.dtype == loss_r.dtype
        assert np.array_equal(h.data, h_r.data)
        assert all(np.array_equal(g, p.grad.data) for g, p in zip(grads, params, strict=True))
    source = replayed.code(x, y)
    for kernel in kernels:  # a kernel's lines say which method they mirror
        assert f"({kernel}.forward)" in source, kernel
        assert f"({kernel}.backward)" in source, kernel


def same_bits(a, b):  # (np.array_equal takes -0.0 for 0.0 and no NaN for equal)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a.view(np.uint8),
                                                                        b.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_log_softmax_over_many_short_rows_gives_eagers_bits(dtype):
    # 128 rows of 10: the kernel takes the maxima from a transposed copy (max_by_columns);
    # rows whose maximum is +0 or -0 or NaN go back to eager's order, which picks the sign
    weights = Tensor(np.random.default_rng(5).standard_normal((128, 10)).astype(dtype))

    def step(x):
        out = F.log_softmax(x, dim=-1)
        (out * weights).sum().backward()
        return out

    replayed = tg.jit(step)
    rng = np.random.default_rng(4)
    for case in ("random", "zeros", "nan", "random"):
        values = (rng.standard_normal((128, 10)) * 3).astype(dtype)
        if case == "zeros":  # maxima of +0 and -0, with both in some rows
            values[::2] = -np.abs(values[::2])
            values[::2, 3] = 0.0
            values[1::4] = -0.0
            values[3::4, ::2] = 0.0
        if case == "nan":
            values[7, 2] = np.nan
            values[9, :] = -np.nan
        x, x_replayed = (Tensor(values.copy(), requires_grad=True) for _ in range(2))
        with np.errstate(invalid="ignore"):
            out, out_replayed = step(x), replayed(x_replayed)
        assert same_bits(out.data, out_replayed.data), case
        assert same_bits(x.grad.data, x_replayed.grad.data), case
    assert "copyto(" in replayed.code(x)  # (the transposed maxima were used)


def lenet():
    rng = np.random.default_rng(0)
    return nn.Sequential(nn.Conv2d(1, 4, 5, padding=2, seed=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 6, 5, seed=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(6 * 5 * 5, 10, seed=rng))


def test_the_lenet_replays_bit_for_bit_over_100_steps():
    def run(use_jit):
        model = lenet()
        optimizer = optim.Adam(model.parameters(), lr=1e-3)

        def step(x, y):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            optimizer.step()
            return loss

        step = tg.jit(step) if use_jit else step
        rng = np.random.default_rng(4)
        losses = [step(Tensor(rng.random((2, 1, 28, 28), dtype=np.float32)),
                       Tensor(rng.integers(0, 10, 2))).item() for _ in range(100)]
        return losses, model.state_dict()

    (eager_losses, eager), (replayed_losses, replayed) = run(False), run(True)
    assert eager_losses == replayed_losses
    assert all(np.array_equal(eager[k], replayed[k]) for k in eager)


IMAGE_CASES = {  # name → (convolution's options, pooling's options, batch)
    "lenet-like": (dict(padding=1), dict(kernel_size=2), 3),  # (pools tile the image)
    "no-padding-overlapping-pools": (dict(), dict(kernel_size=3, stride=2), 2),
    "stride-dilation-no-bias": (dict(stride=2, dilation=2, padding=1, bias=False),
                                dict(kernel_size=2, stride=1), 2),
    "pools-leave-pixels-out": (dict(padding=1), dict(kernel_size=2, dilation=2), 1),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(IMAGE_CASES))
def test_convolution_and_max_pooling_kernels_give_eagers_bits(name, dtype):
    """Conv2dOp and MaxPool2dOp replay by kernels (unfold into a buffer kept for backward,
    the input's gradient and the pooling's masks in buffers): every number as eager's, over
    several steps, with the input's own gradient, ties and a NaN in the pooled values."""
    conv_options, pool_options, batch = IMAGE_CASES[name]
    rng = np.random.default_rng(7)
    conv = nn.Conv2d(2, 3, 3, seed=rng, dtype=dtype, **conv_options)
    weights = list(conv.parameters())
    forget = optim.SGD(weights, lr=0.0)

    def step(x):
        forget.zero_grad()
        pooled = F.max_pool2d(F.relu(conv(x)), **pool_options)
        loss = (pooled * pooled).sum()
        loss.backward()
        return loss, pooled

    inputs = []  # (made first: requires_grad_ on a new tensor makes records record again)
    for i in range(4):
        values = rng.standard_normal((batch, 2, 12, 12)).astype(dtype)
        if i == 2:
            values[:, :, :, 4:] = 0.5  # ties: many windows with equal largest values
        inputs.append([Tensor(values.copy(), requires_grad=True) for _ in range(2)])
    replayed = tg.jit(step)
    for i, (x, x_replayed) in enumerate(inputs):
        if i == 3:  # a NaN in the pooled values (relu keeps it)
            conv.weight.data[0, 0, 0, 0] = np.nan
        with np.errstate(invalid="ignore"):
            loss, pooled = step(x)
            grads = [p.grad.data.copy() for p in weights]
            loss_r, pooled_r = replayed(x_replayed)
        assert same_bits(np.reshape(loss.data, 1), np.reshape(loss_r.data, 1))
        assert same_bits(pooled.data, pooled_r.data)
        assert same_bits(x.grad.data, x_replayed.grad.data)
        assert all(same_bits(g, p.grad.data) for g, p in zip(grads, weights, strict=True))
    assert len(replayed.records) == 1  # (recorded once, replayed three times)
    source = replayed.code(x_replayed)
    for kernel in ("Conv2dOp", "MaxPool2dOp"):  # kernels ran, not the ops' methods
        assert f"({kernel}.forward)" in source and f"({kernel}.backward)" in source


def test_a_broken_convolution_kernel_gives_other_numbers(monkeypatch):
    """The exactness tests above can fail: a kernel that adds the input's gradient in
    another order (offsets reversed) is caught."""
    original = compiled.conv_input_gradient_into

    def reversed_offsets(dz, weight, stride, padding, dilation, *buffers):
        result = original(dz, weight, stride, padding, dilation, *buffers)
        return result[:, :, ::-1].copy()  # (the rows swapped: wrong on purpose)

    monkeypatch.setitem(compiled.NUMPY, "conv_input_gradient_into", reversed_offsets)
    conv = nn.Conv2d(2, 3, 3, padding=1, seed=np.random.default_rng(1))

    def step(x):
        conv.zero_grad()
        (conv(x) ** 2).sum().backward()

    x = Tensor(np.random.default_rng(2).standard_normal((2, 2, 6, 6)).astype(np.float32),
               requires_grad=True)
    replayed = tg.jit(step)
    replayed(x)  # records
    expected = x.grad.data.copy()
    x.grad = None
    replayed(x)
    assert not np.array_equal(expected, x.grad.data)


def test_a_broken_max_pooling_kernel_gives_other_numbers(monkeypatch):
    """Overlapping windows (3×3, stride 2) each add their share into a pixel; a kernel that
    wrote instead of adding (as for windows apart) loses shares, and is caught."""
    original = compiled.max_pool2d_backward_into

    def as_if_apart(grad, out, x, kernel, stride, dilation, here, taken, product, *rest):
        return original(grad, out, x, kernel, stride, dilation, here, taken, None, *rest)

    values = np.zeros((1, 1, 5, 5), np.float32)
    values[0, 0, 2, 2] = 1.0  # the largest value of all four windows: four shares

    def step(x):
        (F.max_pool2d(x, kernel_size=3, stride=2) * 3).sum().backward()

    def pixel_gradients(x):  # the recording's (eager) and the replay's
        replayed, seen = tg.jit(step), []
        for _ in range(2):
            x.grad = None
            replayed(x)
            seen.append(float(x.grad.data[0, 0, 2, 2]))
        return seen

    x = Tensor(values, requires_grad=True)
    assert pixel_gradients(x) == [12, 12]  # 4 shares of 3
    monkeypatch.setitem(compiled.NUMPY, "max_pool2d_backward_into", as_if_apart)
    assert pixel_gradients(x) == [12, 3]  # (one share: the broken kernel ran)


# --- buffers -----------------------------------------------------------------------------
def deep_network(width=32, depth=12, batch=64):
    model = nn.MLP([width] * (depth + 1), seed=0, dtype=np.float64, activation="tanh")
    x = Tensor(np.random.default_rng(5).standard_normal((batch, width)))
    return model, x


def test_buffers_are_reused_after_their_last_use():
    model, x = deep_network()

    @tg.jit
    def step(x):
        model.zero_grad()
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss

    step(x)
    one = x.data.nbytes  # (batch, width) float64: what each activation takes
    # Each of the 12 layers makes z and tanh(z) going forward and two gradients coming back
    # (48 values of this size). The tanh outputs live until backward (their gradient reads
    # them); each z dies at its tanh, each gradient at the next layer back.
    assert step.nbytes <= (12 + 3) * one
    assert step(x).item() == step.function(x).item()


def test_a_value_whose_buffer_is_reused_too_early_gives_wrong_numbers(monkeypatch):
    """Break liveness on purpose: every buffer is free again right after it is written,
    so two live values share one. The allocator's own check refuses it; without the check,
    the replay's numbers are wrong."""
    model, x = deep_network()

    def step(x):
        model.zero_grad()
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss

    def too_early(plans, roots):  # each value "last used" by the step that writes it
        return {w: i for i, plan in enumerate(plans) for w in plan.writes}

    monkeypatch.setattr(compiled, "last_uses", too_early)
    with pytest.raises(RuntimeError, match="share a buffer while both are live"):
        tg.jit(step)(x)
    monkeypatch.setattr(compiled, "check_buffers", lambda *args: None)

    def gradients(run):
        run(x)
        return [p.grad.data.copy() for p in model.parameters()]

    expected = gradients(step)
    broken = tg.jit(step)
    broken(x)  # records (eagerly)
    assert not all(np.array_equal(a, b)  # the replay reads values overwritten meanwhile
                   for a, b in zip(expected, gradients(broken), strict=True))
    monkeypatch.undo()
    fixed = tg.jit(step)
    fixed(x)
    assert all(np.array_equal(a, b) for a, b in zip(expected, gradients(fixed), strict=True))


def test_grads_and_returned_tensors_are_new_at_every_call():
    model = nn.MLP([5, 4, 3], seed=0, dtype=np.float64)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @tg.jit
    def step(x):
        optimizer.zero_grad()
        hidden = model[1](model[0](x))
        loss = (model[2](hidden) ** 2).sum()
        loss.backward()
        optimizer.step()
        return loss, hidden, Tensor(7.0)

    rng = np.random.default_rng(6)
    x = Tensor(rng.random((2, 5)))
    step(x)
    loss, hidden, constant = step(x)
    kept = [loss.data.copy(), hidden.data.copy()]
    grads = [p.grad for p in model.parameters()]
    grad_values = [g.data.copy() for g in grads]
    constant.data[...] = 0  # a changed constant must not change the next call's
    _, hidden2, constant2 = step(Tensor(rng.random((2, 5))))
    assert np.array_equal(loss.data, kept[0]) and np.array_equal(hidden.data, kept[1])
    assert not np.array_equal(hidden2.data, kept[1]) and constant2.item() == 7.0
    assert all(np.array_equal(g.data, v) for g, v in zip(grads, grad_values, strict=True))
    assert all(p.grad is not g for p, g in zip(model.parameters(), grads, strict=True))


def test_the_seed_gradient_is_copied_into_grad():
    """backward's seed (a constant of the record) passed on unchanged to two leaves."""
    a, b = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
    forget = optim.SGD([a, b], lr=0.0)

    @tg.jit
    def step(x):
        forget.zero_grad()
        (a + b + x).backward()

    step(Tensor(1.0))
    step(Tensor(1.0))
    a.grad.data[...] = 100  # must not reach the next replay's seed
    step(Tensor(1.0))
    assert a.grad.item() == 1.0 and b.grad.item() == 1.0


def test_two_threads_replaying_the_seed_network_get_their_own_results():
    model = nn.MLP([20, 16, 16, 10], seed=0, dtype=np.float64)
    for p in model.parameters():
        p.requires_grad_(False)

    def step(x):
        loss = (model(x) ** 2).sum()
        loss.backward()
        return loss

    rng = np.random.default_rng(7)
    inputs = {t: [rng.standard_normal((3, 20)) for _ in range(15)] for t in range(3)}
    expected = {}
    for t, arrays in inputs.items():
        for i, array in enumerate(arrays):
            x = Tensor(array, requires_grad=True)
            loss = step(x)
            expected[t, i] = (loss.item(), x.grad.data.copy())
    replayed = tg.jit(step)
    replayed(Tensor(inputs[0][0], requires_grad=True))
    wrong = []

    def worker(t):
        for i, array in enumerate(inputs[t]):
            x = Tensor(array, requires_grad=True)
            loss = replayed(x)
            value, grad = expected[t, i]
            if loss.item() != value or not np.array_equal(x.grad.data, grad):
                wrong.append((t, i))

    threads = [threading.Thread(target=worker, args=(t,)) for t in inputs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == [] and len(replayed.records) == 1


# --- what changes from call to call --------------------------------------------------------
def test_shapes_that_depend_on_values_are_computed_as_eager_does():
    def step(x):
        picked = x[x > 0] * 2  # as many values as are positive
        rows = F.one_hot((x > 0).sum(dim=1)).float()  # num_classes from the largest count
        return picked.tanh().sum() + rows.sum(), picked

    replayed = tg.jit(step)
    for values in ([1.0, -1.0, 2.0, 3.0], [1.0, 1.0, 2.0, -3.0], [-1.0, -1.0, -2.0, 3.0]):
        x = Tensor(np.array(values).reshape(2, 2))
        (total, picked), (total_r, picked_r) = step(x), replayed(x)
        assert total.item() == total_r.item() and np.array_equal(picked.data, picked_r.data)


def test_a_parameter_replaced_by_another_dtype_records_again():
    model = nn.MLP([3, 2], seed=0)
    step = tg.jit(lambda x: model(x).sum())
    x = Tensor(np.ones((2, 3), np.float32))
    step(x)
    step(x)
    for p in model.parameters():  # (as .double() would, without telling the model)
        p.data = p.data.astype(np.float64)
    result = step(x)
    assert result.dtype == model(x).sum().dtype and result.item() == model(x).sum().item()


def test_ops_without_kernels_call_their_own_methods():
    def step(x):
        return (F.gelu(x) + F.softplus(x * 3)).sum()

    replayed = tg.jit(step)
    x = Tensor(np.linspace(-2, 2, 6))
    replayed(x)
    assert replayed(x).item() == step(x).item()
    source = replayed.code(x)
    assert "(calls SoftplusOp.forward)" in source and "(Mul.forward)" in source


# --- code(), nbytes, reset() ------------------------------------------------------------------
def jitted_seed_step():
    """The seed network's plain-SGD training step, jitted (float32)."""
    model = nn.MLP(SEED_SIZES, seed=0)
    optimizer = optim.SGD(model.parameters(), lr=0.1)

    @tg.jit
    def train_step(x, y):
        loss = nn.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    return train_step


def test_code_shows_the_function_a_replay_runs():
    train_step = jitted_seed_step()

    x, y = next(seed_batches(np.float32, 2, batch=10))
    with pytest.raises(KeyError, match="call it once"):
        train_step.code(x, y)
    train_step(x, y)
    source = train_step.code(x, y=y)
    assert "\ndef replay(a0, a1):" in source and "global " in source  # (the guards)
    assert "dot(v0, " in source and "(SigmoidOp.backward)" in source
    assert "SGD.step" in source and source.count("._grad = wrap(") == 6  # six new .grad
    compile(source, "<code>", "exec")  # it is Python


def test_nbytes_and_reset_free_the_buffers():
    train_step = jitted_seed_step()

    x, y = next(seed_batches(np.float32, 2, batch=1000))
    train_step(x, y)
    record = next(iter(train_step.records.values()))
    assert train_step.nbytes == record.nbytes > 0
    one_activation = 1000 * 16 * 4
    assert train_step.nbytes < 12 * one_activation  # (every value apart: 29 of them)
    buffer = weakref.ref(next(iter(compiled_buffers(train_step))))
    train_step.reset()
    del record
    gc.collect()
    assert train_step.nbytes == 0 and buffer() is None


def compiled_buffers(step):
    """The buffers bound to a record's function (arrays among its globals)."""
    record = next(iter(step.records.values()))
    return [value for value in record.run.__globals__.values()
            if isinstance(value, np.ndarray) and value.base is not None]


def test_a_derived_value_whose_shape_follows_its_values_is_computed_or_refused():
    """A value computed outside the graph is tried on zeros and ones when compiling: one
    whose shape changes (x[x > 0]) is computed by the ops' own methods at every call; one
    the probe cannot catch (x[x != 0.5]) has its shape checked at every call and raises."""
    from tinygrad_edu.tensor import derived

    def step(x, keep):
        kept = derived(keep, x)
        return (kept * 2).tanh().sum()

    def positive(a):
        return a[a > 0]

    def not_half(a):
        return a[a != 0.5]

    replayed = tg.jit(step)
    for values in ([1.0, 2.0, 3.0], [4.0, -5.0, 6.0], [-1.0, -2.0, 3.0]):
        x = Tensor(values)
        assert replayed(x, positive).item() == step(x, positive).item()
    replayed(Tensor([1.0, 2.0, 3.0]), not_half)
    assert replayed(Tensor([4.0, 5.0, 6.0]), not_half).item() == step(
        Tensor([4.0, 5.0, 6.0]), not_half).item()
    with pytest.raises(compiled.ShapeChangedError, match=r"gave shape \(2,\).*\(3,\)"):
        replayed(Tensor([4.0, 0.5, 6.0]), not_half)
