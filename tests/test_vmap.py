"""vmap's batching rules (tinygrad_edu/batching.py): a function runs once on the whole batch.

Each case runs vmap natively with the per-item fallbacks switched off (a rule that falls
back to the loop, or a function vmap would run once per item, fails the test), and
compares values — and gradients through vmap — with the loop of one call per item. Then
vmap(grad): per-example gradients in one backward pass, equal to the loop's; what cannot
be batched (values read in Python, random draws, backward inside) runs once per item and
gives the loop's results.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_edu as tg
from tinygrad_edu import Tensor, batching, func, nn
from tinygrad_edu import functional as F


def rand(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape))


ONE_CALL_PER_ITEM = func._vmap_loop


def loop(f, args, in_dims):
    """The reference: f once per item, stacked (what vmap did before it batched)."""
    dims = func._in_dims(in_dims, args)
    return ONE_CALL_PER_ITEM(f, args, dims, func._batch_size(args, dims), 0, {})


@pytest.fixture
def natively(monkeypatch):
    """vmap with no way back to one call per item: neither for an op nor for the function."""
    def refuse(*args, **kwargs):
        raise AssertionError("ran once per item instead of batching natively")
    monkeypatch.setattr(batching, "_loop", refuse)
    monkeypatch.setattr(func, "_vmap_loop", refuse)


def as_tuple(out):
    return out if isinstance(out, tuple) else (out,)


def check(f, args, in_dims=0, rtol=1e-12):
    """vmap(f) equals the loop, and so do the gradients of Σ outputs·weights through it."""
    leaves = [Tensor(a.data.copy(), requires_grad=True) if isinstance(a, Tensor) else a
              for a in args]
    got = as_tuple(func.vmap(f, in_dims=in_dims)(*leaves))
    expected = as_tuple(loop(f, args, in_dims))
    assert len(got) == len(expected)
    for g, e in zip(got, expected, strict=True):
        assert g.shape == e.shape and g.dtype == e.dtype
        np.testing.assert_allclose(g.data, e.data, rtol=rtol, atol=1e-14)
    if not any(g.requires_grad for g in got):
        return
    weights = [np.random.default_rng(7).standard_normal(g.shape) for g in got]
    total = sum((g * Tensor(w)).sum() for g, w in zip(got, weights, strict=True)
                if g.requires_grad)
    total.backward()
    for a, leaf in zip(args, leaves, strict=True):
        if not isinstance(a, Tensor):
            continue
        item_leaves = Tensor(a.data.copy(), requires_grad=True)
        replaced = [item_leaves if x is a else x for x in args]
        reference = as_tuple(loop(f, replaced, in_dims))
        (sum((r * Tensor(w)).sum() for r, w in zip(reference, weights, strict=True)
             if r.requires_grad)).backward()
        if item_leaves.grad is None:
            assert leaf.grad is None or not leaf.grad.data.any()
        else:
            np.testing.assert_allclose(leaf.grad.data, item_leaves.grad.data, rtol=1e-10,
                                       atol=1e-12)


x5x3, y3, m4x3 = rand(5, 3), rand(5, 3, seed=1), rand(4, 3, seed=2)
CASES = {
    # elementwise: item axes line up with unbatched operands of more axes
    "add, unbatched of more axes": (lambda a, m: a + m, (x5x3, m4x3), (0, None)),
    "mul, two batched of different ranks": (lambda a, b: a.reshape(3, 1) * b,
                                            (x5x3, y3), 0),
    "sub, div, pow, neg": (lambda a, b: (-(a - b) / (b * b + 1.0)) ** 2, (x5x3, y3), 0),
    "maximum, minimum, clamp": (lambda a, b: tg.maximum(a, b) + tg.minimum(a, b)
                                + a.clamp(-0.5, 0.5), (x5x3, y3), 0),
    "where": (lambda a, b: tg.where(np.array([True, False, True]), a, b), (x5x3, y3), 0),
    "activations": (lambda a: a.sigmoid() + a.tanh() + a.relu() + F.leaky_relu(a, 0.1)
                    + F.elu(a) + F.softplus(a) + F.gelu(a), (x5x3,), 0),
    "exp, log, sqrt, abs, sin, cos": (lambda a: (a.exp() + a.abs().log1p() + (a * a).sqrt()
                                                  + a.sin() * a.cos()), (x5x3,), 0),
    "cast": (lambda a: a.float().double() * 2.0, (x5x3,), 0),
    # reductions: axis k of an item is axis k + 1 of the batch
    "sum of all": (lambda a: a.sum(), (rand(4, 2, 3),), 0),
    "sum over axes": (lambda a: a.sum(axis=0) + a.sum(axis=(0, -1), keepdims=True).sum(),
                      (rand(4, 2, 3),), 0),
    "mean, var, std": (lambda a: a.mean(axis=-1) + a.var(axis=-1) + a.std(),
                       (rand(4, 2, 3),), 0),
    "max, logsumexp, log_softmax": (lambda a: a.max(axis=1) + a.max() + a.logsumexp(axis=-1)
                                    + F.log_softmax(a, dim=-1).sum(axis=-1),
                                    (rand(4, 2, 3),), 0),
    "prod, cumsum": (lambda a: a.prod(axis=1) + a.cumsum(axis=-1).sum(axis=1),
                     (rand(4, 2, 3),), 0),
    # shapes: the batch axis stays in front
    "reshape, permute, T": (lambda a: a.reshape(6, -1).T.reshape(1, 2, 3).permute(2, 0, 1),
                            (rand(4, 2, 3),), 0),
    "expand": (lambda a: a.reshape(1, 3).expand(2, 3) * 1.0, (x5x3,), 0),
    "basic indexing": (lambda a: a[None, 1:, ::-1] + a[..., 0:1][None], (rand(4, 2, 3),), 0),
    "index by an array": (lambda a: a[np.array([2, 0, 2])], (x5x3,), 0),
    "index by a mask": (lambda a: a[np.array([True, False, True])], (x5x3,), 0),
    "cat, stack with unbatched": (lambda a, m: tg.cat([a.reshape(1, 3), m], dim=0)
                                  + tg.stack([a, a], dim=0).sum(), (x5x3, m4x3), (0, None)),
    "flip": (lambda a: a.flip(0) * a, (rand(4, 2, 3),), 0),
    # values outside the graph (comparisons, argmax, detach): item by item, no gradient
    "comparison, argmax, detach": (lambda a: (a > 0).double() * a + a.argmax(-1).double()
                                   + a.detach() * a, (x5x3,), 0),
    # products
    "vector @ unbatched matrix": (lambda a, w: a @ w, (x5x3, rand(3, 4, seed=3)), (0, None)),
    "unbatched matrix @ vector": (lambda w, a: w @ a, (m4x3, x5x3), (None, 0)),
    "vector @ vector": (lambda a, b: a @ b, (x5x3, y3), 0),
    "matrix @ matrix, both batched": (lambda a, b: a @ b, (rand(5, 2, 3), rand(5, 3, 4)), 0),
    "unbatched stack @ batched matrix": (lambda s, b: s @ b, (rand(2, 4, 3), rand(5, 3, 2)),
                                         (None, 0)),
    "batched stack @ unbatched vector": (lambda a, v: a @ v, (rand(5, 2, 4, 3), y3[0]),
                                         (0, None)),
    "linear, one weight": (lambda a, w, b: F.linear(a, w, b), (x5x3, m4x3, rand(4, seed=4)),
                           (0, None, None)),
    "linear on rows": (lambda a, w: F.linear(a, w), (rand(5, 2, 6, 3), m4x3), (0, None)),
    "linear, a weight per item": (lambda a, w, b: F.linear(a, w, b),
                                  (x5x3, rand(5, 4, 3), rand(5, 4)), 0),
    "linear, a weight per item, rows": (lambda a, w: F.linear(a, w),
                                        (rand(5, 2, 3), rand(5, 4, 3)), 0),
    # losses and images
    "mse_loss mean, sum, none": (lambda a, b: F.mse_loss(a, b) + F.mse_loss(a, b, reduction="sum")
                                 + F.mse_loss(a, b, reduction="none").sum(), (x5x3, y3), 0),
    "mse_loss of one number per item": (lambda a, b: F.mse_loss(a[1], b[1])
                                        + F.mse_loss(a[0], b[0], reduction="sum"), (x5x3, y3), 0),
    "conv2d and max_pool2d": (lambda a, w: F.max_pool2d(F.conv2d(a, w, padding=1), 2),
                              (rand(3, 2, 1, 4, 4), rand(2, 1, 3, 3, seed=5)), (0, None)),
}


@pytest.mark.parametrize("name", CASES)
def test_op_batches_natively_and_equals_the_loop(name, natively):
    f, args, in_dims = CASES[name]
    check(f, args, in_dims)


def test_in_dims_and_out_dims_move_the_batch_axis(natively):
    xs = rand(3, 5)  # batched along axis 1
    out = func.vmap(lambda a: a * 2.0, in_dims=1, out_dims=-1)(xs)
    np.testing.assert_array_equal(out.data, xs.data * 2.0)
    shared = func.vmap(lambda a, w: (a * w, w * 2.0), in_dims=(0, None), out_dims=(0, None))
    _, twice = shared(xs, rand(5))
    assert twice.shape == (5,)


def test_nested_vmap_batches_both_levels(natively):
    xs, ys = rand(2, 3), rand(4, 3, seed=1)
    out = func.vmap(lambda a: func.vmap(lambda b: (a * b).sum())(ys))(xs)
    np.testing.assert_allclose(out.data, xs.data @ ys.data.T, rtol=1e-12)


def seed_network_cost(*args):
    """The digit network's squared-error cost of one example (x, y), weights first."""
    *params, x, y = args
    a = x[None]
    for w, b in zip(params[0::2], params[1::2], strict=True):
        a = F.linear(a, w, b).sigmoid()  # a(l) = σ(W a(l−1) + b)
    return F.mse_loss(a, y[None])


def seed_network(batch=6):
    model = nn.MLP([12, 5, 4, 3], seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    params = [Tensor(p.data.copy()) for p in model.parameters()]
    return params, Tensor(rng.random((batch, 12))), Tensor(np.eye(3)[rng.integers(0, 3, batch)])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_vmap_of_grad_gives_per_example_gradients_in_one_pass(natively, dtype):
    params, x, y = seed_network()
    params = [p.to(dtype) for p in params]
    x, y = x.to(dtype), y.to(dtype)
    argnums = tuple(range(len(params)))
    grads = func.vmap(func.grad(seed_network_cost, argnums),
                      in_dims=(None,) * len(params) + (0, 0))(*params, x, y)
    for b in range(x.shape[0]):
        one = func.grad(seed_network_cost, argnums)(*params, x[b], y[b])
        for g, e in zip(grads, one, strict=True):
            assert g.dtype == dtype
            np.testing.assert_allclose(g.data[b], e.data, rtol=1e-5 if dtype == np.float32
                                       else 1e-12, atol=1e-7)


def test_vmap_of_grad_takes_the_gradients_directly_with_the_general_paths_numbers(
        natively, monkeypatch):
    """vmap(grad(f)) with the batch axis first calls _per_item itself, skipping grad's
    function: the same numbers, bit for bit, as grad called inside vmap (the general
    path), and out_dims elsewhere goes the general way."""
    params, x, y = seed_network()
    argnums = tuple(range(len(params)))
    dims = (None,) * len(params) + (0, 0)
    taken = []
    direct_path, walk = func._gradients_at_once, func._walk
    monkeypatch.setattr(func, "_walk", lambda *a: pytest.fail("walked the graph for captured "
                                                              "weights, but none met the batch"))
    monkeypatch.setattr(func, "_gradients_at_once",
                        lambda *a: taken.append(1) or direct_path(*a))
    direct = func.vmap(func.grad(seed_network_cost, argnums), in_dims=dims)(*params, x, y)
    assert taken == [1]
    monkeypatch.setattr(func, "_walk", walk)
    inner = func.grad(seed_network_cost, argnums)
    general = func.vmap(lambda *a: inner(*a), in_dims=dims)(*params, x, y)
    moved = func.vmap(inner, in_dims=dims, out_dims=1)(*params, x, y)
    assert taken == [1]
    for d, g, m in zip(direct, general, moved, strict=True):
        np.testing.assert_array_equal(d.data, g.data)
        np.testing.assert_array_equal(np.moveaxis(d.data, 0, 1), m.data)
        assert not d.requires_grad
    one = func.vmap(func.grad(seed_network_cost, 4), in_dims=dims)(*params, x, y)  # an int
    np.testing.assert_allclose(one.data, direct[4].data, rtol=1e-12)  # (the other layers
    # then share one weight: another product, rounded its own way)


def test_per_example_gradients_of_a_shared_weight_in_any_memory_order(natively):
    """An unbatched weight becomes B rows over its one memory (contiguous or not, read-only
    or not): each item's gradient is its own, and the weight is left as it was."""
    xs, ys = rand(6, 4), rand(6, 3, seed=1)
    weight = rand(4, 3, seed=2)
    read_only = weight.data.copy()
    read_only.flags.writeable = False
    for w in (weight, Tensor(np.ascontiguousarray(weight.data.T)).T, Tensor(read_only)):
        before = w.data.copy()

        def cost(w, x, y):
            return F.mse_loss(F.linear(x[None], w.T).sigmoid(), y[None])

        grads = func.vmap(func.grad(cost), in_dims=(None, 0, 0))(w, xs, ys)
        for b in range(6):
            np.testing.assert_allclose(grads.data[b], func.grad(cost)(w, xs[b], ys[b]).data,
                                       rtol=1e-12)
        np.testing.assert_array_equal(w.data, before)


def test_grad_with_aux_grad_and_value_and_batched_parameters(natively):
    ws, xs = rand(4, 3), rand(4, 3, seed=1)  # a weight per item, as in_dims 0 says

    def cost(w, x):
        z = (w * x).sum()
        return z * z, z

    grads, aux = func.vmap(func.grad(cost, has_aux=True))(ws, xs)
    z = (ws.data * xs.data).sum(axis=1)
    np.testing.assert_allclose(grads.data, 2 * z[:, None] * xs.data, rtol=1e-12)
    np.testing.assert_allclose(aux.data, z, rtol=1e-12)
    grads, values = func.vmap(func.grad_and_value(lambda w, x: cost(w, x)[0]))(ws, xs)
    np.testing.assert_allclose(grads.data, 2 * z[:, None] * xs.data, rtol=1e-12)
    np.testing.assert_allclose(values.data, z * z, rtol=1e-12)


def test_per_example_gradients_stay_differentiable_in_a_captured_weight(natively):
    w = Tensor(np.random.default_rng(3).standard_normal(3), requires_grad=True)
    xs = rand(5, 3)
    per_example = func.vmap(func.grad(lambda x: ((x * w).sigmoid() ** 2).sum()))(xs)
    (per_example * per_example).sum().backward()
    native = w.grad.data.copy()
    w.grad = None
    looped = loop(func.grad(lambda x: ((x * w).sigmoid() ** 2).sum()), (xs,), 0)
    (looped * looped).sum().backward()
    np.testing.assert_allclose(native, w.grad.data, rtol=1e-12)


def test_what_cannot_batch_runs_once_per_item_with_the_loops_results():
    xs = rand(4, 3)
    calls = []

    def reads_values(a):
        calls.append(1)
        return a * 2.0 if a.sum().item() > 0 else a * -1.0  # Python control flow on a value

    out = func.vmap(reads_values)(xs)
    expected = [x * 2.0 if x.sum() > 0 else -x for x in xs.data]
    np.testing.assert_allclose(out.data, expected)
    assert len(calls) == 1 + 4  # the attempt at once, then once per item

    def calls_backward(a):
        leaf = Tensor(a.data, requires_grad=True)
        (leaf * leaf).sum().backward()
        return leaf.grad

    np.testing.assert_allclose(func.vmap(calls_backward)(xs).data, 2 * xs.data)


def test_randomness_error_by_default_different_and_same_as_pytorch():
    xs = Tensor(np.ones((4, 1000)))
    drop = lambda a: F.dropout(a, 0.5, training=True)  # noqa: E731
    with pytest.raises(RuntimeError, match="randomness='error' .* pass randomness="):
        func.vmap(drop)(xs)  # PyTorch's default: a draw inside vmap is an error
    tg.manual_seed(0)
    different = func.vmap(drop, randomness="different")(xs)
    tg.manual_seed(0)
    expected = loop(drop, (xs,), 0)  # each item its own mask, drawn in order
    np.testing.assert_array_equal(different.data, expected.data)
    assert not np.array_equal(different.data[0], different.data[1])
    tg.manual_seed(0)
    same = func.vmap(drop, randomness="same")(xs)
    assert all(np.array_equal(same.data[0], row) for row in same.data)
    reads_values = lambda a: drop(a) * float(a.sum() > 0)  # noqa: E731  (runs per item)
    tg.manual_seed(0)
    same_per_item = func.vmap(reads_values, randomness="same")(xs)
    assert all(np.array_equal(same_per_item.data[0], row) for row in same_per_item.data)
    with pytest.raises(ValueError, match="randomness must be one of 'error', 'different', "
                                         "'same', got 'random'"):
        func.vmap(drop, randomness="random")


def test_an_error_inside_names_one_items_shapes():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)|\(4,\).*\(3,\)|shapes"):
        func.vmap(lambda a, b: a @ b, in_dims=(0, None))(rand(5, 3), rand(4))


def test_native_list_names_the_batched_ops():
    assert {"add", "linear", "matmul", "sum", "getitem", "mse_loss"} <= set(batching.NATIVE)


def test_movedim_moves_one_axis_as_numpy_and_passes_the_gradient_back():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    for source, destination in [(0, -1), (2, 0), (1, 1), (-1, 1)]:
        np.testing.assert_array_equal(x.movedim(source, destination).data,
                                      np.moveaxis(x.data, source, destination))
    (x.movedim(0, -1) * Tensor(np.moveaxis(x.data, 0, -1))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, x.data)
    with pytest.raises(IndexError, match="movedim"):
        x.movedim(3, 0)


# A random chain of batched ops, native against the loop: shapes and ops drawn by hypothesis.
UNARY = [lambda a: a.sigmoid(), lambda a: a * a, lambda a: a.sum(axis=-1, keepdims=True) - a,
         lambda a: F.log_softmax(a, dim=-1), lambda a: a.T.reshape(a.shape) * 0.5,
         lambda a: a.max(axis=0) + a, lambda a: a[..., ::-1].tanh(), lambda a: a.mean() + a]
BINARY = [lambda a, b: a + b, lambda a, b: a * b.exp(), lambda a, b: (a @ b.T) @ b * 0.1,
          lambda a, b: tg.maximum(a, b)]


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 3), cols=st.integers(1, 4), batch=st.integers(1, 4),
       steps=st.lists(st.tuples(st.integers(0, len(UNARY) - 1),
                                st.integers(0, len(BINARY) - 1)), min_size=1, max_size=4),
       shared_second=st.booleans())
def test_random_chains_of_ops_batch_natively_as_the_loop(rows, cols, batch, steps,
                                                         shared_second):
    def chain(a, b):
        for u, v in steps:
            a = BINARY[v](UNARY[u](a), b)
        return a

    xs = rand(batch, rows, cols)
    second = rand(rows, cols, seed=1) if shared_second else rand(batch, rows, cols, seed=1)
    in_dims = (0, None if shared_second else 0)
    expected = loop(chain, (xs, second), in_dims)
    with pytest.MonkeyPatch.context() as patch:  # (natively, as the fixture above)
        patch.setattr(batching, "_loop", None)
        patch.setattr(func, "_vmap_loop", None)
        got = func.vmap(chain, in_dims=in_dims)(xs, second)
    np.testing.assert_allclose(got.data, expected.data, rtol=1e-12, atol=1e-12)


def test_two_threads_running_vmap_at_once_get_their_own_results():
    import threading

    xs, ys = rand(8, 5), rand(8, 5, seed=1)
    results, errors = {}, []

    def work(name, data, scale):
        try:
            for _ in range(30):
                out = func.vmap(func.grad(lambda a: ((a * scale).sigmoid() ** 2).sum()))(data)
                results.setdefault(name, []).append(out.data.copy())
        except Exception as error:  # (reported below)
            errors.append(error)

    threads = [threading.Thread(target=work, args=("x", xs, 2.0)),
               threading.Thread(target=work, args=("y", ys, -3.0))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name, data, scale in (("x", xs, 2.0), ("y", ys, -3.0)):
        expected = loop(func.grad(lambda a, s=scale: ((a * s).sigmoid() ** 2).sum()), (data,), 0)
        for got in results[name]:
            np.testing.assert_allclose(got, expected.data, rtol=1e-12)


def test_vmap_inside_a_jit_step_replays_what_eager_computes():
    # values computed outside the graph (a mask, argmax) must be recomputed at each replay:
    # inside a jit recording vmap runs once per item, whose ops and values the record notes
    def step(x):
        return func.vmap(lambda a: (a > 0).double() * a + a.argmax(-1).double())(x)

    jitted = tg.jit(step)
    for seed in range(3):
        x = rand(4, 3, seed=seed)
        np.testing.assert_array_equal(jitted(x).data, step(x).data)
