"""tg.func, the transforms of torch.func: jvp, vjp, grad, grad_and_value, jacrev, jacfwd,
hessian, hvp and vmap.

First without PyTorch: each transform against central differences or a formula, with
several arguments and outputs, argnums and has_aux; the compositions (forward over
reverse equals reverse over reverse, a Hessian–vector product equals H·v); results used
in a loss and differentiated again (create_graph), checked numerically; errors at the API
boundary; no caller's array changed, results in memory of their own; vmap's in_dims and
out_dims. Then against torch.func (tests marked `torch`): the lessons' digit network
(784→16→16→10 sigmoid MLP, squared error), a GRU and an attention model, in float64 and
float32.
"""

import numpy as np
import pytest

from tinygrad_edu import Tensor, func, nn, no_grad
from tinygrad_edu import functional as F
from tinygrad_edu.nn.recurrent import gru_step

RNG_SEED = 0


def rand(*shape, seed=RNG_SEED, dtype=np.float64):
    return Tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def central(f, xs, vs, eps=1e-6):
    """(f(x + εv) − f(x − εv)) / 2ε for every output of f (a Tensor or a tuple): the
    directional derivative J·v by central differences, in float64."""
    def at(sign):
        with no_grad():
            out = f(*[Tensor(x.data + sign * eps * v.data) for x, v in zip(xs, vs, strict=True)])
        return [o.data for o in (out if isinstance(out, tuple) else (out,))]
    plus, minus = at(1), at(-1)
    return [(p - m) / (2 * eps) for p, m in zip(plus, minus, strict=True)]


def close(a, b, rtol=1e-7, atol=1e-9):
    np.testing.assert_allclose(np.asarray(a.data if isinstance(a, Tensor) else a),
                               np.asarray(b.data if isinstance(b, Tensor) else b),
                               rtol=rtol, atol=atol)


# Functions made of the ops every transform can go through (Add, Sub, Mul, sigmoid,
# linear, sum: their forward rules came first), and of a wider choice for the rest.
def two_in_two_out(x, y):
    """(x ⊙ σ(y) − y, Σ x²·y): two arguments of one shape, a tensor and a scalar out."""
    return x * y.sigmoid() - y, (x * x * y).sum()


def layer(x, w, b):
    """σ(x Wᵀ + b): one layer of the lessons' network."""
    return F.linear(x, w, b).sigmoid()


def cost(x, w, b):
    """Σ (σ(x Wᵀ + b) − 1)²: a scalar."""
    d = layer(x, w, b) - 1.0
    return (d * d).sum()


LAYER_SHAPES = [(2, 3), (4, 3), (4,)]


def layer_args(seed=0):
    return [rand(*s, seed=seed + i) for i, s in enumerate(LAYER_SHAPES)]


# ----------------------------------------------------------------------------------------
# jvp
# ----------------------------------------------------------------------------------------
def test_jvp_of_two_arguments_and_two_outputs_matches_central_differences():
    x, y = rand(2, 3, seed=1), rand(2, 3, seed=2)
    dx, dy = rand(2, 3, seed=3), rand(2, 3, seed=4)
    (out, total), (d_out, d_total) = func.jvp(two_in_two_out, (x, y), (dx, dy))
    expected = two_in_two_out(x, y)
    close(out, expected[0], 0, 0)
    close(total, expected[1], 0, 0)
    numeric = central(two_in_two_out, [x, y], [dx, dy])
    close(d_out, numeric[0])
    close(d_total, numeric[1])
    assert d_out.shape == (2, 3) and d_total.shape == ()
    assert not out.requires_grad and not d_out.requires_grad  # nothing asked for a graph


def test_jvp_of_a_layer_by_each_argument_adds_up():
    args = layer_args()
    tangents = [rand(*s, seed=10 + i) for i, s in enumerate(LAYER_SHAPES)]
    _, together = func.jvp(layer, tuple(args), tuple(tangents))
    close(together, central(layer, args, tangents)[0])
    parts = []
    for i in range(3):  # one argument moves at a time: the sum is the whole (linearity)
        zero = [Tensor(np.zeros(s)) for s in LAYER_SHAPES]
        zero[i] = tangents[i]
        parts.append(func.jvp(layer, tuple(args), tuple(zero))[1].data)
    close(together, sum(parts))


def test_jvp_with_has_aux_returns_aux_third_cut_from_the_graph():
    x, v = rand(3), rand(3, seed=1)
    out, tangent, aux = func.jvp(lambda t: ((t * t).sum(), t * 2), (x,), (v,), has_aux=True)
    close(out, (x.data ** 2).sum(), 1e-12)
    close(tangent, 2 * (x.data * v.data).sum(), 1e-12)
    close(aux, 2 * x.data, 0, 0)
    assert not aux.requires_grad


def test_jvp_of_an_output_that_does_not_depend_on_the_input_is_zero():
    x, c = rand(3), rand(3, seed=1)
    _, (d_same, d_constant) = func.jvp(lambda t: (t * 1.0, c * 2.0), (x,), (rand(3, seed=2),))
    close(d_same, rand(3, seed=2), 0, 0)
    assert d_constant.shape == (3,) and np.all(d_constant.data == 0)


def test_jvp_tangents_take_the_primals_dtype():
    x = rand(3, dtype=np.float32)
    _, t = func.jvp(lambda a: a * a, (x,), (Tensor(np.ones(3)),))  # a float64 tangent
    assert t.dtype == np.float32


def test_push_tangents_over_a_recorded_graph():
    x = rand(3).requires_grad_()
    y = (x * x).sigmoid()
    (dy,) = func.push_tangents([y], [x], [np.ones(3)])
    s = 1 / (1 + np.exp(-x.data ** 2))
    close(dy, s * (1 - s) * 2 * x.data, 1e-12)


# ----------------------------------------------------------------------------------------
# vjp
# ----------------------------------------------------------------------------------------
def test_vjp_with_two_outputs_takes_a_tuple_of_cotangents_and_is_the_adjoint_of_jvp():
    x, y = rand(2, 3, seed=1), rand(2, 3, seed=2)
    outputs, vjp_fn = func.vjp(two_in_two_out, x, y)
    u = (rand(2, 3, seed=5), rand(seed=6))
    gx, gy = vjp_fn(u)
    v = (rand(2, 3, seed=3), rand(2, 3, seed=4))
    _, jv = func.jvp(two_in_two_out, (x, y), v)
    # ⟨u, J v⟩ = ⟨Jᵀ u, v⟩
    left = sum(float((a.data * b.data).sum()) for a, b in zip(u, jv, strict=True))
    right = float((gx.data * v[0].data).sum() + (gy.data * v[1].data).sum())
    assert left == pytest.approx(right, rel=1e-12)
    close(outputs[0], two_in_two_out(x, y)[0], 0, 0)


def test_vjp_of_one_output_takes_one_cotangent_and_can_be_called_again():
    args = layer_args()
    out, vjp_fn = func.vjp(layer, *args)
    first = vjp_fn(Tensor(np.ones(out.shape)))
    again = vjp_fn(Tensor(np.ones(out.shape)))
    assert isinstance(first, tuple) and len(first) == 3
    for a, b, x in zip(first, again, args, strict=True):
        assert a.shape == x.shape
        close(a, b, 0, 0)
    w_grad = first[1]
    s = out.data
    close(w_grad, (s * (1 - s)).T @ args[0].data, 1e-12)


def test_vjp_with_has_aux():
    x = rand(3)
    out, vjp_fn, aux = func.vjp(lambda t: (t * 3.0, t.sum()), x, has_aux=True)
    close(out, x.data * 3, 0, 0)
    (g,) = vjp_fn(Tensor(np.ones(3)))
    close(g, np.full(3, 3.0), 0, 0)
    close(aux, x.data.sum(), 0, 0)


# ----------------------------------------------------------------------------------------
# grad and grad_and_value
# ----------------------------------------------------------------------------------------
def test_grad_by_an_int_and_by_a_tuple_of_argnums():
    args = layer_args()
    g0 = func.grad(cost)(*args)
    gw = func.grad(cost, argnums=1)(*args)
    gb = func.grad(cost, argnums=-1)(*args)
    together = func.grad(cost, argnums=(0, 2, 1))(*args)
    assert isinstance(g0, Tensor) and isinstance(together, tuple) and len(together) == 3
    for g, x in zip(together, (args[0], args[2], args[1]), strict=True):
        assert g.shape == x.shape and g.dtype == x.dtype
    close(together[0], g0, 0, 0)
    close(together[1], gb, 0, 0)
    close(together[2], gw, 0, 0)
    rng = np.random.default_rng(3)
    for i, g in enumerate((g0, gw, gb)):  # ⟨∇C, v⟩ = C'(x; v)
        v = [Tensor(np.zeros(s)) for s in LAYER_SHAPES]
        v[i] = Tensor(rng.standard_normal(LAYER_SHAPES[i]))
        assert float((g.data * v[i].data).sum()) == pytest.approx(
            float(central(cost, args, v)[0]), rel=1e-7)


def test_grad_with_has_aux_and_grad_and_value():
    args = layer_args()
    g, aux = func.grad(lambda *a: (cost(*a), layer(*a)), has_aux=True)(*args)
    close(g, func.grad(cost)(*args), 0, 0)
    close(aux, layer(*args), 0, 0)
    assert not aux.requires_grad
    g2, value = func.grad_and_value(cost, argnums=(1, 2))(*args)
    close(value, cost(*args), 0, 0)
    close(g2[0], func.grad(cost, 1)(*args), 0, 0)
    (g3, (value3, aux3)) = func.grad_and_value(lambda *a: (cost(*a), a[0] * 2), has_aux=True)(
        *args)
    close(g3, func.grad(cost)(*args), 0, 0)
    close(value3, value, 0, 0)
    close(aux3, args[0].data * 2, 0, 0)


def test_grad_of_an_argument_the_cost_does_not_use_is_zero():
    g = func.grad(lambda a, b: (a * a).sum(), argnums=1)(rand(3), rand(2))
    assert g.shape == (2,) and np.all(g.data == 0)


def test_grad_accepts_a_one_element_cost_of_any_shape():
    g = func.grad(lambda a: (a * a).sum().reshape(1, 1))(rand(3))
    close(g, 2 * rand(3).data, 1e-12)


def test_non_differentiated_arguments_are_passed_as_they_are():
    seen = {}

    def f(x, scale, label):
        seen["label"] = label
        return (x * scale).sum()

    g = func.grad(f)(rand(3), 2.5, "hello")
    close(g, np.full(3, 2.5), 0, 0)
    assert seen["label"] == "hello"


# ----------------------------------------------------------------------------------------
# jacrev, jacfwd: shapes, structure, agreement
# ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("jac", [func.jacrev, func.jacfwd], ids=["jacrev", "jacfwd"])
def test_jacobian_of_a_layer_by_each_argument(jac):
    args = layer_args()
    jx, jw, jb = jac(layer, argnums=(0, 1, 2))(*args)
    assert jx.shape == (2, 4, 2, 3) and jw.shape == (2, 4, 4, 3) and jb.shape == (2, 4, 4)
    rng = np.random.default_rng(7)
    for i, jacobian in enumerate((jx, jw, jb)):
        v = [Tensor(np.zeros(s)) for s in LAYER_SHAPES]
        v[i] = Tensor(rng.standard_normal(LAYER_SHAPES[i]))
        axes = len(LAYER_SHAPES[i])
        product = np.tensordot(jacobian.data, v[i].data, axes=axes)
        close(product, central(layer, args, v)[0])


@pytest.mark.parametrize("jac", [func.jacrev, func.jacfwd], ids=["jacrev", "jacfwd"])
def test_jacobian_of_two_outputs_by_two_arguments_nests_outputs_outside(jac):
    x, y = rand(2, 3, seed=1), rand(2, 3, seed=2)
    (j_out, j_total) = jac(two_in_two_out, argnums=(0, 1))(x, y)
    assert isinstance(j_out, tuple) and isinstance(j_total, tuple)
    assert j_out[0].shape == (2, 3, 2, 3) and j_total[1].shape == (2, 3)
    other = (func.jacfwd if jac is func.jacrev else func.jacrev)(two_in_two_out, (0, 1))(x, y)
    for mine, theirs in zip((*j_out, *j_total), (*other[0], *other[1]), strict=True):
        close(mine, theirs, 1e-12, 1e-14)


@pytest.mark.parametrize("jac", [func.jacrev, func.jacfwd], ids=["jacrev", "jacfwd"])
def test_jacobian_with_has_aux(jac):
    x = rand(3)
    j, aux = jac(lambda t: (t * t, t.sum()), has_aux=True)(x)
    close(j, np.diag(2 * x.data), 1e-12)
    close(aux, x.data.sum(), 0, 0)
    assert not aux.requires_grad


def test_jacrev_and_jacfwd_of_a_scalar_function():
    args = layer_args()
    close(func.jacrev(cost, 1)(*args), func.grad(cost, 1)(*args), 1e-12)
    close(func.jacfwd(cost, 1)(*args), func.grad(cost, 1)(*args), 1e-12)


# ----------------------------------------------------------------------------------------
# Compositions: second derivatives
# ----------------------------------------------------------------------------------------
def test_hessian_forward_over_reverse_equals_reverse_over_reverse_and_forward_over_forward():
    args = layer_args()
    h = func.hessian(cost, argnums=1)(*args)
    assert h.shape == (4, 3, 4, 3)
    rr = func.jacrev(func.jacrev(cost, 1), 1)(*args)
    ff = func.jacfwd(func.jacfwd(cost, 1), 1)(*args)
    rf = func.jacrev(func.jacfwd(cost, 1), 1)(*args)
    for other in (rr, ff, rf):
        close(h, other, 1e-10, 1e-12)
    flat = h.data.reshape(12, 12)
    close(flat, flat.T, 1e-10, 1e-12)  # second derivatives commute


def test_hessian_of_a_cubic_is_its_formula():
    # C = Σ x_i³ + x_0 x_1: H = diag(6x) + the off-diagonal ones at (0, 1) and (1, 0)
    x = rand(3)
    h = func.hessian(lambda t: (t * t * t).sum() + (t[0] * t[1]))(x)
    expected = np.diag(6 * x.data)
    expected[0, 1] = expected[1, 0] = 1
    close(h, expected, 1e-12, 1e-12)


def test_jacfwd_of_jacrev_equals_jacrev_of_jacrev_for_a_vector_function():
    x = rand(3)
    f = lambda t: (t * t).sigmoid() * t  # noqa: E731
    fr = func.jacfwd(func.jacrev(f))(x)
    rr = func.jacrev(func.jacrev(f))(x)
    ff = func.jacfwd(func.jacfwd(f))(x)
    assert fr.shape == (3, 3, 3)
    close(fr, rr, 1e-10, 1e-12)
    close(ff, rr, 1e-10, 1e-12)


def test_hessian_by_two_arguments_gives_the_blocks():
    args = layer_args()
    blocks = func.hessian(cost, argnums=(1, 2))(*args)
    assert blocks[0][1].shape == (4, 3, 4) and blocks[1][0].shape == (4, 4, 3)
    close(blocks[0][1], np.moveaxis(blocks[1][0].data, 0, 2), 1e-10, 1e-12)  # symmetry
    close(blocks[0][0], func.hessian(cost, 1)(*args), 1e-12, 1e-14)


def test_hvp_forward_over_reverse_equals_the_hessian_times_v():
    args = layer_args()
    v = rand(4, 3, seed=9)
    value, hv = func.hvp(lambda w: cost(args[0], w, args[2]), args[1], v)
    h = func.hessian(cost, 1)(*args).data.reshape(12, 12)  # forward over reverse
    close(hv, (h @ v.data.reshape(12)).reshape(4, 3), 1e-10, 1e-12)
    rr = func.jacrev(func.jacrev(cost, 1), 1)(*args).data.reshape(12, 12)
    close(hv, (rr @ v.data.reshape(12)).reshape(4, 3), 1e-10, 1e-12)  # reverse over reverse
    close(value, cost(*args), 0, 0)
    assert not value.requires_grad and not hv.requires_grad


def test_hvp_with_tuples_of_primals_and_tangents():
    args = layer_args()
    vs = tuple(rand(*s, seed=20 + i) for i, s in enumerate(LAYER_SHAPES))
    _, products = func.hvp(cost, tuple(args), vs)
    assert isinstance(products, tuple) and len(products) == 3
    # H·v by each argument = the jvp of the gradient, by central differences of it
    gradient = lambda *a: func.grad(cost, argnums=(0, 1, 2))(*a)  # noqa: E731
    numeric = central(gradient, args, vs, eps=1e-5)
    for p, n in zip(products, numeric, strict=True):
        close(p, n, 1e-6, 1e-8)


def test_hvp_at_once_equals_jvp_of_grad_and_stays_differentiable_in_captured_weights():
    # hvp's direct path (one gradient graph, one tangent pass) against jvp(grad(f)),
    # the general composition, with a weight the function captures that requires grad
    args = layer_args()
    w = Tensor(args[1].data.copy(), requires_grad=True)
    v = rand(*args[0].shape, seed=9)
    f = lambda x: cost(x, w, args[2])  # noqa: E731
    value, hv = func.hvp(f, args[0], v)
    _, reference = func.jvp(func.grad(f), (args[0],), (v,))
    close(hv, reference, 1e-12, 1e-14)
    close(value, f(args[0]), 0, 0)
    hv.sum().backward()  # H·v depends on w: its gradient reaches w, as jvp(grad)'s does
    direct = w.grad.data.copy()
    w.grad = None
    reference.sum().backward()
    close(direct, w.grad, 1e-10, 1e-12)
    _, zero = func.hvp(lambda x: x.sum() * 0.0 + 1.0, args[0], v)  # a linear cost: H = 0
    close(zero, np.zeros(args[0].shape), 0, 0)


def test_hvp_of_a_primal_that_requires_grad_stays_differentiable_in_it():
    # a primal that requires grad (and hvp inside another transform) takes the composed
    # path, jvp of grad_and_value: H·v is then a function of x that backward() reaches,
    # with the third derivatives jvp(grad(f)) gives, and the value f(x)
    args = layer_args()
    v = rand(*args[0].shape, seed=9)
    f = lambda t: cost(t, args[1], args[2])  # noqa: E731
    x = Tensor(args[0].data.copy(), requires_grad=True)
    value, hv = func.hvp(f, x, v)
    assert hv.requires_grad
    x_ref = Tensor(args[0].data.copy(), requires_grad=True)
    _, reference = func.jvp(func.grad(f), (x_ref,), (v,))
    close(hv, reference, 1e-12, 1e-14)
    close(value, f(args[0]), 0, 0)
    hv.sum().backward()
    reference.sum().backward()
    close(x.grad, x_ref.grad, 1e-10, 1e-12)
    # inside another transform: the Jacobian of H·v by x is the third derivative along v
    third = func.jacrev(lambda t: func.hvp(f, t, v)[1])(args[0])
    close(third.sum(axis=(0, 1)), x_ref.grad, 1e-10, 1e-12)


def test_grad_of_grad_and_vmap_of_jacrev():
    # d/dx (d/dx Σ x³) summed = 6x
    x = rand(3)
    gg = func.grad(lambda t: func.grad(lambda s: (s * s * s).sum())(t).sum())(x)
    close(gg, 6 * x.data, 1e-12)
    xs = rand(4, 3, seed=2)
    per_item = func.vmap(func.jacrev(lambda t: t * t))(xs)
    assert per_item.shape == (4, 3, 3)
    for i in range(4):
        close(per_item[i], np.diag(2 * xs.data[i]), 1e-12)


def test_a_captured_variable_is_a_constant_for_the_inner_transform():
    # torch.func's levels: the inner jacrev differentiates by z only, y is its constant
    # (d/dz Σ y z = y), so the outer one gets d/dy y = I, not 2I ("perturbation confusion")
    y = rand(3)
    outer = func.jacrev(lambda a: func.grad(lambda z: (a * z).sum())(a))(y)
    close(outer, np.eye(3), 0, 0)
    outer = func.jacfwd(lambda a: func.grad(lambda z: (a * z).sum())(a))(y)
    close(outer, np.eye(3), 0, 0)
    w = rand(3, seed=1).requires_grad_()  # at the top level too: w given and captured
    close(func.grad(lambda z: (z * w).sum())(w), w.data, 0, 0)
    close(func.jvp(lambda z: z * w, (w,), (Tensor(np.ones(3)),))[1], w.data, 0, 0)


def test_the_same_tensor_given_twice_is_two_arguments():
    x = rand(3).requires_grad_()
    gx, gy = func.grad(lambda a, b: (a * b * b).sum(), argnums=(0, 1))(x, x)
    close(gx, x.data ** 2, 1e-12)
    close(gy, 2 * x.data ** 2, 1e-12)


# ----------------------------------------------------------------------------------------
# Results that are differentiated again (create_graph), checked numerically
# ----------------------------------------------------------------------------------------
def numeric_gradient(g, x, eps=1e-6):
    """∂g/∂x by central differences, element by element (g: array → float)."""
    out = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[i] = eps
        out[i] = (g(x + step) - g(x - step)) / (2 * eps)
    return out


def test_a_jvp_tangent_in_a_loss_gives_the_gradient_of_both_primal_and_tangent():
    x0, v0 = rand(2, 3, seed=1).data, rand(2, 3, seed=2).data
    y = rand(2, 3, seed=3)

    def loss(x, v):
        out, t = func.jvp(lambda a: two_in_two_out(a, y)[0], (x,), (v,))
        return (t * t).sum() + (out * t).sum()

    x, v = Tensor(x0.copy(), requires_grad=True), Tensor(v0.copy(), requires_grad=True)
    total = loss(x, v)
    assert total.requires_grad
    total.backward()
    plain = lambda a, b: float(loss(Tensor(a), Tensor(b)).data)  # noqa: E731
    close(x.grad, numeric_gradient(lambda a: plain(a, v0), x0), 1e-6, 1e-8)
    close(v.grad, numeric_gradient(lambda b: plain(x0, b), v0), 1e-6, 1e-8)


def test_a_tangent_depends_on_the_weights_func_captures():
    # model weights that require grad, captured by func: backward reaches them
    w = rand(4, 3, seed=1).requires_grad_()
    b = rand(4, seed=2).requires_grad_()
    x, v = rand(2, 3, seed=3), rand(2, 3, seed=4)
    _, t = func.jvp(lambda a: layer(a, w, b), (x,), (v,))
    assert t.requires_grad
    (t * t).sum().backward()
    w0 = w.data.copy()

    def plain(wa):
        _, tt = func.jvp(lambda a: layer(a, Tensor(wa), b.detach()), (x,), (v,))
        return float((tt.data ** 2).sum())

    close(w.grad, numeric_gradient(plain, w0), 1e-6, 1e-8)


def test_a_gradient_in_a_loss_gives_the_second_derivative():
    args = layer_args()
    w = Tensor(args[1].data.copy(), requires_grad=True)
    g = func.grad(cost, argnums=1)(args[0], w, args[2])
    assert g.requires_grad
    (g * g).sum().backward()

    def plain(wa):
        return float((func.grad(cost, 1)(args[0], Tensor(wa), args[2]).data ** 2).sum())

    close(w.grad, numeric_gradient(plain, args[1].data), 1e-6, 1e-8)


def test_a_vjp_with_a_cotangent_that_requires_grad_is_differentiable_by_it():
    x = rand(2, 3, seed=1)
    u = rand(2, 4, seed=2).requires_grad_()
    _, vjp_fn = func.vjp(lambda a: layer(a, *layer_args()[1:]), x)
    (gx,) = vjp_fn(u)
    assert gx.requires_grad
    (gx * gx).sum().backward()
    _, vjp_plain = func.vjp(lambda a: layer(a, *layer_args()[1:]), x)
    plain = lambda ua: float((vjp_plain(Tensor(ua))[0].data ** 2).sum())  # noqa: E731
    close(u.grad, numeric_gradient(plain, u.data), 1e-6, 1e-8)


def test_a_jacobian_and_a_hessian_in_a_loss():
    x0 = rand(3).data

    def f(t):
        return (t * t).sigmoid() * t

    x = Tensor(x0.copy(), requires_grad=True)
    j = func.jacrev(f)(x)
    h = func.hessian(lambda t: f(t).sum())(x)
    ((j * j).sum() + (h * h).sum()).backward()

    def plain(a):
        t = Tensor(a)
        return float((func.jacrev(f)(t).data ** 2).sum()
                     + (func.hessian(lambda s: f(s).sum())(t).data ** 2).sum())

    close(x.grad, numeric_gradient(plain, x0), 1e-6, 1e-8)


def test_transforms_work_under_no_grad_and_give_plain_results():
    x = rand(3).requires_grad_()
    with no_grad():
        g = func.grad(lambda t: (t * t).sum())(x)
        _, t = func.jvp(lambda t: t * t, (x,), (Tensor(np.ones(3)),))
    close(g, 2 * x.data, 1e-12)
    close(t, 2 * x.data, 1e-12)
    assert not g.requires_grad and not t.requires_grad


# ----------------------------------------------------------------------------------------
# The caller's arrays are never changed; results own their memory
# ----------------------------------------------------------------------------------------
def test_no_transform_changes_a_callers_array():
    args = layer_args()
    x, y = rand(2, 3, seed=1), rand(2, 3, seed=2)
    tangents = (rand(2, 3, seed=3), rand(2, 3, seed=4))
    u = rand(2, 4, seed=5)
    everything = [*args, x, y, *tangents, u]
    before = [t.data.copy() for t in everything]
    func.jvp(two_in_two_out, (x, y), tangents)
    _, vjp_fn = func.vjp(layer, *args)
    vjp_fn(u)
    func.grad(cost, argnums=(0, 1, 2))(*args)
    func.jacrev(layer, (0, 1))(*args)
    func.jacfwd(layer, (0, 1))(*args)
    func.hessian(cost, 2)(*args)
    func.hvp(lambda a, b: two_in_two_out(a, b)[1], (x, y), tangents)
    func.vmap(func.grad(lambda a: (a * a).sum()))(x)
    for t, b in zip(everything, before, strict=True):
        assert np.array_equal(t.data, b)
        assert t.grad is None


@pytest.mark.parametrize("requires_grad", [False, True])
def test_returned_tangents_and_gradients_own_their_memory(requires_grad):
    x = rand(2, 3).requires_grad_(requires_grad)
    y = rand(2, 3, seed=1).requires_grad_(requires_grad)
    v = rand(2, 3, seed=2)
    given = [x.data, y.data, v.data]

    def free(*results):
        for i, r in enumerate(results):
            assert not any(np.may_share_memory(r.data, a) for a in given)
            assert not any(np.may_share_memory(r.data, o.data) for o in results[:i])

    free(func.jvp(lambda a: a, (x,), (v,))[1])  # the identity: J·v = v
    free(func.jvp(lambda a: a.reshape(3, 2), (x,), (v,))[1])  # a view of v
    free(*func.vjp(lambda a: a, x)[1](v))  # Jᵀu = u
    free(*func.vjp(lambda a, b: a + b, x, y)[1](v))  # add: one gradient for both
    free(*func.grad(lambda a, b: (a + b).sum(), argnums=(0, 1))(x, y))
    free(*func.vmap(func.grad(lambda a, b: (a + b).sum(), argnums=(0, 1)))(x, y))  # per item
    free(func.vmap(func.grad(lambda a, b: (a * b).sum()), in_dims=(None, 0))(x[0], y))


# ----------------------------------------------------------------------------------------
# Errors at the API boundary: each names the transform and the argument
# ----------------------------------------------------------------------------------------
X = rand(3)
ERRORS = {
    "func not callable": (lambda: func.grad(3), TypeError, r"grad: func must be a function"),
    "jacrev func": (lambda: func.jacrev("f"), TypeError, r"jacrev: func must be a function"),
    "vmap func": (lambda: func.vmap(None), TypeError, r"vmap: func must be a function"),
    "primals not a tuple": (lambda: func.jvp(lambda a: a, X, (X,)), TypeError,
                            r"jvp: primals must be a tuple of Tensors .*write \(primal,\)"),
    "tangents not a tuple": (lambda: func.jvp(lambda a: a, (X,), X), TypeError,
                             r"jvp: tangents must be a tuple"),
    "tangent not a tensor": (lambda: func.jvp(lambda a: a, (X,), ("v",)), TypeError,
                             r"jvp: tangent 0 must be a Tensor, got str"),
    "tangent count": (lambda: func.jvp(lambda a: a, (X,), (X, X)), ValueError,
                      r"jvp: 1 primals need as many tangents, got 2"),
    "tangent shape": (lambda: func.jvp(lambda a: a, (X,), (rand(2),)), ValueError,
                      r"jvp: tangent 0 has shape \(2,\), its primal \(3,\)"),
    "primal not a tensor": (lambda: func.jvp(lambda a: a, ([1.0],), (X,)), TypeError,
                            r"jvp: argument 0 must be a Tensor to differentiate by, got list"),
    "integer primal": (lambda: func.grad(lambda a: a.sum())(Tensor(np.arange(3))), TypeError,
                       r"grad: argument 0 has dtype int64; only floating-point"),
    "grad of a vector": (lambda: func.grad(lambda a: a * 2)(X), RuntimeError,
                         r"grad: func must return a Tensor of one element .*shape \(3,\)"),
    "grad of a tuple": (lambda: func.grad(lambda a: (a.sum(), a.sum()))(X), RuntimeError,
                        r"grad: func must return a Tensor of one element"),
    "grad_and_value names itself": (lambda: func.grad_and_value(lambda a: a)(X),
                                    RuntimeError, r"grad_and_value: func must return"),
    "output not a tensor": (lambda: func.jacrev(lambda a: 3.0)(X), TypeError,
                            r"jacrev: func must return a Tensor or a tuple of Tensors, got "
                            r"float"),
    "has_aux not a pair": (lambda: func.grad(lambda a: a.sum(), has_aux=True)(X), TypeError,
                           r"grad: with has_aux=True, func must return a pair \(output, aux\)"),
    "jvp has_aux not a pair": (lambda: func.jvp(lambda a: (a, a, a), (X,), (X,),
                                                has_aux=True),
                               TypeError, r"jvp: with has_aux=True, func must return a pair"),
    "argnums out of range": (lambda: func.grad(lambda a: a.sum(), argnums=1)(X), ValueError,
                             r"grad: argnums 1 is out of range for 1 positional arguments"),
    "negative argnums out of range": (lambda: func.jacfwd(lambda a: a, argnums=-2)(X),
                                      ValueError, r"jacfwd: argnums -2 is out of range"),
    "argnums not an int": (lambda: func.grad(lambda a: a.sum(), argnums=[0]), TypeError,
                           r"grad: argnums must be an int or a non-empty tuple of ints, "
                           r"got \[0\]"),
    "argnums bool": (lambda: func.jacrev(lambda a: a, argnums=True), TypeError,
                     r"jacrev: argnums must be an int"),
    "argnums empty": (lambda: func.jacrev(lambda a: a, argnums=()), TypeError,
                      r"jacrev: argnums must be an int or a non-empty tuple"),
    "argnums repeated": (lambda: func.grad(lambda a: a.sum(), argnums=(0, 0)), ValueError,
                         r"grad: argnums must not repeat a position, got \(0, 0\)"),
    "argnums repeated through a negative": (
        lambda: func.grad(lambda a, b: a.sum(), argnums=(0, -2))(X, X), ValueError,
        r"grad: argnums \(0, -2\) names one of the 2 arguments twice"),
    "vjp without primals": (lambda: func.vjp(lambda: X), TypeError, r"vjp: give at least one"),
    "hvp tangent shape": (lambda: func.hvp(lambda a: a.sum(), X, rand(2)), ValueError,
                          r"hvp: tangent 0 has shape \(2,\), its primal \(3,\)"),
    "hvp of a vector": (lambda: func.hvp(lambda a: a * 2, X, X), RuntimeError,
                        r"hvp: func must return a Tensor of one element"),
}


@pytest.mark.parametrize("case", ERRORS)
def test_error(case):
    call, kind, message = ERRORS[case]
    with pytest.raises(kind, match=message):
        call()


def test_vjp_fn_checks_its_cotangents():
    _, one = func.vjp(lambda a: a * 2, X)
    with pytest.raises(ValueError, match=r"vjp_fn: cotangent 0 has shape \(2,\), output 0 "
                                         r"\(3,\)"):
        one(rand(2))
    with pytest.raises(TypeError, match=r"vjp_fn: cotangent 0 must be a Tensor, got str"):
        one("u")
    _, two = func.vjp(lambda a: (a * 2, a.sum()), X)
    with pytest.raises(TypeError, match=r"vjp_fn: func returned a tuple of 2 \(shape \(3,\), "
                                        r"shape \(\)\), so vjp_fn takes cotangents of that "
                                        r"structure, got Tensor"):
        two(X)


# ----------------------------------------------------------------------------------------
# vmap
# ----------------------------------------------------------------------------------------
def loop(f, *items):
    return np.stack([f(*i).data for i in zip(*items, strict=True)])


def test_vmap_over_the_first_axis_is_the_loop():
    xs = rand(5, 3)
    out = func.vmap(lambda t: (t * t).sum())(xs)
    close(out, (xs.data ** 2).sum(axis=1), 1e-12)


def test_vmap_in_dims_ints_none_and_negative():
    xs = rand(3, 4, seed=1)  # batched along its last axis (4 items)
    ys = rand(4, 3, seed=2)  # batched along its first
    w = rand(3, seed=3)  # shared
    f = lambda a, b, c: a * b + c  # noqa: E731
    out = func.vmap(f, in_dims=(-1, 0, None))(xs, ys, w)
    expected = np.stack([xs.data[:, i] * ys.data[i] + w.data for i in range(4)])
    close(out, expected, 1e-14)
    out = func.vmap(f, in_dims=(1, 0, None))(xs, ys, w)
    close(out, expected, 1e-14)


def test_vmap_passes_non_tensors_and_keyword_arguments_as_they_are():
    xs = rand(4, 3)
    out = func.vmap(lambda t, k, *, shift: t * k + shift, in_dims=(0, None))(xs, 2.0, shift=1.0)
    close(out, xs.data * 2 + 1, 1e-14)


def test_vmap_out_dims_ints_negative_and_per_output():
    xs = rand(4, 3)
    f = lambda t: t * 2  # noqa: E731
    close(func.vmap(f, out_dims=1)(xs), (xs.data * 2).T, 0, 0)
    close(func.vmap(f, out_dims=-1)(xs), (xs.data * 2).T, 0, 0)
    pair = func.vmap(lambda t: (t * 2, t.sum()), out_dims=(1, 0))(xs)
    assert isinstance(pair, tuple) and pair[0].shape == (3, 4) and pair[1].shape == (4,)
    close(pair[1], xs.data.sum(axis=1), 1e-14)


def test_vmap_out_dims_none_returns_an_output_that_is_the_same_for_every_item():
    xs, w = rand(4, 3), rand(3, seed=1)
    out, shared = func.vmap(lambda t: (t * w, w * 2.0), out_dims=(0, None))(xs)
    assert out.shape == (4, 3) and shared.shape == (3,)
    close(shared, w.data * 2, 0, 0)
    with pytest.raises(ValueError, match=r"vmap: out_dims is None for output 0, but it "
                                         r"differs between items"):
        func.vmap(lambda t: t * 2, out_dims=None)(xs)


def test_nested_vmap():
    xs, ys = rand(4, 3, seed=1), rand(5, 3, seed=2)
    # all pairs: an outer product of the batches
    out = func.vmap(lambda a: func.vmap(lambda b: (a * b).sum())(ys))(xs)
    close(out, xs.data @ ys.data.T, 1e-12)
    out = func.vmap(func.vmap(lambda a: a * 3.0))(rand(2, 3, 4))
    close(out, rand(2, 3, 4).data * 3, 0, 0)


def test_vmap_of_grad_is_per_example_gradients_and_grad_of_vmap_is_differentiable():
    args = layer_args()
    xs = rand(6, 3, seed=4)
    per_example = func.vmap(lambda x: func.grad(cost, argnums=1)(x.reshape(1, 3), *args[1:]),
                            )(xs)
    assert per_example.shape == (6, 4, 3)
    for i in range(6):
        close(per_example[i], func.grad(cost, 1)(xs[i:i + 1], *args[1:]), 1e-12)
    close(per_example.data.sum(0), func.grad(cost, 1)(xs, *args[1:]), 1e-12)
    # vmap inside grad: the batched cost is differentiated through the stack
    g = func.grad(lambda w: func.vmap(lambda x: cost(x.reshape(1, 3), w, args[2]))(xs).sum()
                  )(args[1])
    close(g, func.grad(cost, 1)(xs, *args[1:]), 1e-12)


VMAP_ERRORS = {
    "batch sizes differ": (lambda: func.vmap(lambda a, b: a + b)(rand(3, 2), rand(4, 2)),
                           ValueError, r"vmap: the batched arguments need one batch size, got "
                           r"argument 0: 3 \(dim 0 of shape \(3, 2\)\), argument 1: 4"),
    "in_dims count": (lambda: func.vmap(lambda a, b: a, in_dims=(0,))(X, X), ValueError,
                      r"vmap: in_dims has 1 entries for 2 arguments"),
    "in_dims out of range": (lambda: func.vmap(lambda a: a, in_dims=1)(X), ValueError,
                             r"vmap: in_dims 1 is out of range for argument 0 of shape "
                             r"\(3,\)"),
    "in_dims not an int": (lambda: func.vmap(lambda a: a, in_dims="0")(X), TypeError,
                           r"vmap: in_dims must be ints or None .* got '0' for argument 0"),
    "non-tensor batched": (lambda: func.vmap(lambda a, k: a)(X, 2.0), TypeError,
                           r"vmap: argument 1 is float 2.0, not a Tensor, and cannot be "
                           r"batched along dim 0; give it in_dims None"),
    "nothing batched": (lambda: func.vmap(lambda a: a, in_dims=None)(X), ValueError,
                        r"vmap: no argument is batched"),
    "empty batch": (lambda: func.vmap(lambda a: a)(rand(0, 3)), ValueError,
                    r"vmap: the batch is empty"),
    "output not a tensor": (lambda: func.vmap(lambda a: 1.0)(X), TypeError,
                            r"vmap: func must return a Tensor or a tuple of Tensors, got float"),
    "out_dims count": (lambda: func.vmap(lambda a: (a, a), out_dims=(0,))(X), ValueError,
                       r"vmap: out_dims has 1 entries for 2 outputs"),
    "out_dims out of range": (lambda: func.vmap(lambda a: a * 2, out_dims=2)(X), ValueError,
                              r"vmap: out_dims 2 is out of range for output 0: each item has "
                              r"shape \(\)"),
}


@pytest.mark.parametrize("case", VMAP_ERRORS)
def test_vmap_error(case):
    call, kind, message = VMAP_ERRORS[case]
    with pytest.raises(kind, match=message):
        call()


# ----------------------------------------------------------------------------------------
# Against torch.func (skipped without PyTorch)
# ----------------------------------------------------------------------------------------
TOLERANCE = {np.float64: {"rtol": 1e-10, "atol": 1e-12},
             np.float32: {"rtol": 1e-5, "atol": 1e-6}}  # atol: times the largest value
DTYPES = [np.float64, np.float32]


def to_torch(torch, values):
    """Our tensors (or a tuple, nested) as torch tensors holding copies of the values."""
    if isinstance(values, (tuple, list)):
        return tuple(to_torch(torch, v) for v in values)
    return torch.from_numpy(values.data.copy())


def same(ours, theirs, dtype):
    """Equal values and structure (nested tuples), our dtype and shapes."""
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs, strict=True):
            same(a, b, dtype)
        return
    assert isinstance(ours, Tensor) and ours.shape == tuple(theirs.shape)
    assert ours.dtype == dtype
    expected = theirs.detach().numpy()
    scale = max(1.0, float(np.abs(expected).max(initial=0)))  # (sums cancel: an element
    tolerance = TOLERANCE[dtype]  # near 0 has the rounding error of the large terms)
    np.testing.assert_allclose(ours.data, expected, rtol=tolerance["rtol"],
                               atol=tolerance["atol"] * scale)


def randoms(shapes, dtype, seed):
    rng = np.random.default_rng(seed)
    return tuple(Tensor(rng.standard_normal(s).astype(dtype)) for s in shapes)


# --- the lessons' digit network: 784 → 16 → 16 → 10, sigmoid, squared error --------------
SIZES = [784, 16, 16, 10]
BATCH = 3


def digit_network(dtype):
    """nn.MLP's weights (W1, b1, W2, b2, W3, b3), a batch of inputs and targets."""
    model = nn.MLP(SIZES, seed=0, dtype=dtype)
    params = tuple(Tensor(p.data.copy()) for p in model.parameters())
    rng = np.random.default_rng(1)
    x = Tensor(rng.random((BATCH, 784)).astype(dtype))
    y = Tensor(np.eye(10, dtype=dtype)[rng.integers(0, 10, BATCH)])
    return model, params, x, y


def ours_net(x, *params):
    a = x
    for w, b in zip(params[::2], params[1::2], strict=True):
        a = F.linear(a, w, b).sigmoid()  # a(l) = σ(W(l) a(l−1) + b(l))
    return a


def ours_cost(y, x, *params):
    return F.mse_loss(ours_net(x, *params), y, reduction="sum")  # C = Σ (a(L) − y)²


def their_functions(torch):
    tf = torch.nn.functional

    def net(x, *params):
        a = x
        for w, b in zip(params[::2], params[1::2], strict=True):
            a = torch.sigmoid(tf.linear(a, w, b))
        return a

    def cost(y, x, *params):
        return tf.mse_loss(net(x, *params), y, reduction="sum")

    return net, cost


@pytest.mark.parametrize("dtype", DTYPES)
def test_digit_network_jvp_and_vjp_match_torch_func(dtype, torch):
    model, params, x, y = digit_network(dtype)
    t_net, t_cost = their_functions(torch)
    tp, tx, ty = to_torch(torch, params), to_torch(torch, x), to_torch(torch, y)
    tangents = randoms([p.shape for p in (x, *params)], dtype, seed=2)
    ours = func.jvp(ours_net, (x, *params), tangents)
    theirs = torch.func.jvp(t_net, (tx, *tp), to_torch(torch, tangents))
    same(ours, theirs, dtype)
    ours = func.jvp(lambda *a: ours_cost(y, *a), (x, *params), tangents)
    theirs = torch.func.jvp(lambda *a: t_cost(ty, *a), (tx, *tp), to_torch(torch, tangents))
    same(ours, theirs, dtype)
    (u,) = randoms([(BATCH, 10)], dtype, seed=3)
    out, vjp_fn = func.vjp(ours_net, x, *params)
    their_out, their_vjp = torch.func.vjp(t_net, tx, *tp)
    same(out, their_out, dtype)
    same(vjp_fn(u), their_vjp(to_torch(torch, u)), dtype)
    # the module itself, by its input: the same numbers
    same(func.jvp(model, (x,), tangents[:1]), torch.func.jvp(
        lambda a: t_net(a, *tp), (tx,), to_torch(torch, tangents[:1])), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_digit_network_jacobians_match_torch_func(dtype, torch):
    _, params, x, _ = digit_network(dtype)
    t_net, _ = their_functions(torch)
    tp, tx = to_torch(torch, params), to_torch(torch, x)
    # by the input and the last layer (argnums 0, 5, 6): 30 rows by jacrev
    same(func.jacrev(ours_net, argnums=(0, 5, 6))(x, *params),
         torch.func.jacrev(t_net, argnums=(0, 5, 6))(tx, *tp), dtype)
    # by the biases b1 and b3 (16 + 10 columns by jacfwd)
    same(func.jacfwd(ours_net, argnums=(2, 6))(x, *params),
         torch.func.jacfwd(t_net, argnums=(2, 6))(tx, *tp), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_digit_network_hessian_and_hvp_match_torch(dtype, torch):
    _, params, x, y = digit_network(dtype)
    _, t_cost = their_functions(torch)
    tp, tx, ty = to_torch(torch, params), to_torch(torch, x), to_torch(torch, y)
    # the cost's Hessian by b2 and by W3 (16 and 160 tangent passes through the gradient)
    same(func.hessian(lambda *p: ours_cost(y, x, *p), argnums=(3, 4))(*params),
         torch.func.hessian(lambda *p: t_cost(ty, tx, *p), argnums=(3, 4))(*tp), dtype)
    # H·v by every parameter at once, against reverse over reverse
    vs = randoms([p.shape for p in params], dtype, seed=4)
    value, products = func.hvp(lambda *p: ours_cost(y, x, *p), params, vs)
    their_value, their_products = torch.autograd.functional.hvp(
        lambda *p: t_cost(ty, tx, *p), tp, to_torch(torch, vs))
    same(value, their_value, dtype)
    same(products, their_products, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_digit_network_per_example_gradients_match_torch_vmap_of_grad(dtype, torch):
    _, params, x, y = digit_network(dtype)
    _, t_cost = their_functions(torch)
    tp, tx, ty = to_torch(torch, params), to_torch(torch, x), to_torch(torch, y)
    per_example = func.vmap(func.grad(lambda yi, xi, *p: ours_cost(yi, xi, *p),
                                      argnums=(2, 3, 4, 5, 6, 7)),
                            in_dims=(0, 0, *[None] * 6))(y, x, *params)
    theirs = torch.func.vmap(torch.func.grad(lambda yi, xi, *p: t_cost(yi, xi, *p),
                                             argnums=(2, 3, 4, 5, 6, 7)),
                             in_dims=(0, 0, *[None] * 6))(ty, tx, *tp)
    same(per_example, theirs, dtype)
    assert per_example[0].shape == (BATCH, 16, 784)


# --- a small GRU -------------------------------------------------------------------------
L, GRU_BATCH, IN, HIDDEN = 4, 2, 3, 4


def gru_pair(torch, dtype):
    ours = nn.GRU(IN, HIDDEN, dtype=dtype, seed=0)
    theirs = torch.nn.GRU(IN, HIDDEN).to(getattr(torch, np.dtype(dtype).name))
    theirs.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    return ours, theirs


def ours_gru(x, h, w_ih, w_hh, b_ih, b_hh):
    """nn.GRU's sequence, written with its step: the weights are arguments."""
    for t in range(x.shape[0]):
        h = gru_step(F.linear(x[t], w_ih, b_ih), h, w_hh, b_hh)
    return h


@pytest.mark.parametrize("dtype", DTYPES)
def test_gru_jvp_vjp_jacrev_match_torch_func(dtype, torch):
    layer_, theirs = gru_pair(torch, dtype)
    x, h0 = randoms([(L, GRU_BATCH, IN), (1, GRU_BATCH, HIDDEN)], dtype, seed=5)
    tx, th0 = to_torch(torch, (x, h0))
    # the module, by its input and initial state: (output, h_n)
    tangents = randoms([x.shape, h0.shape], dtype, seed=6)
    same(func.jvp(layer_, (x, h0), tangents),
         torch.func.jvp(theirs, (tx, th0), to_torch(torch, tangents)), dtype)
    (out, h_n), vjp_fn = func.vjp(layer_, x, h0)
    their_outputs, their_vjp = torch.func.vjp(theirs, tx, th0)
    same((out, h_n), their_outputs, dtype)
    u = randoms([out.shape, h_n.shape], dtype, seed=7)
    same(vjp_fn(u), their_vjp(to_torch(torch, u)), dtype)
    same(func.jacrev(lambda a, b: layer_(a, b)[1], argnums=(0, 1))(x, h0),
         torch.func.jacrev(lambda a, b: theirs(a, b)[1], argnums=(0, 1))(tx, th0), dtype)
    # by the weights too, against torch.func.functional_call
    names = ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    weights = tuple(Tensor(getattr(layer_, n).data.copy()) for n in names)
    tw = to_torch(torch, weights)

    def their_gru(a, b, *w):
        return torch.func.functional_call(theirs, dict(zip(names, w, strict=True)), (a, b))[1][0]

    mine = lambda a, b, *w: ours_gru(a, b[0], *w)  # noqa: E731
    all_args = (x, h0, *weights)
    all_tangents = randoms([a.shape for a in all_args], dtype, seed=8)
    same(func.jvp(mine, all_args, all_tangents),
         torch.func.jvp(their_gru, (tx, th0, *tw), to_torch(torch, all_tangents)), dtype)
    same(func.jacrev(mine, argnums=(2, 3, 4, 5))(*all_args),
         torch.func.jacrev(their_gru, argnums=(2, 3, 4, 5))(tx, th0, *tw), dtype)


# --- a small attention model -------------------------------------------------------------
ATT_BATCH, ATT_LEN, EMBED = 2, 3, 4


def ours_attention(x, wq, wk, wv, wo):
    q, k, v = F.linear(x, wq), F.linear(x, wk), F.linear(x, wv)
    return F.linear(F.scaled_dot_product_attention(q, k, v), wo).tanh()


def their_attention(torch):
    tf = torch.nn.functional

    def attention(x, wq, wk, wv, wo):
        q, k, v = tf.linear(x, wq), tf.linear(x, wk), tf.linear(x, wv)
        return torch.tanh(tf.linear(tf.scaled_dot_product_attention(q, k, v), wo))

    return attention


@pytest.mark.parametrize("dtype", DTYPES)
def test_attention_jvp_vjp_jacrev_jacfwd_match_torch_func(dtype, torch):
    shapes = [(ATT_BATCH, ATT_LEN, EMBED)] + [(EMBED, EMBED)] * 4
    x, *weights = randoms(shapes, dtype, seed=9)
    args = (x, *(w * 0.5 for w in weights))  # weights ~ N(0, 1/EMBED): tanh unsaturated
    targs = to_torch(torch, args)
    theirs = their_attention(torch)
    tangents = randoms(shapes, dtype, seed=10)
    same(func.jvp(ours_attention, args, tangents),
         torch.func.jvp(theirs, targs, to_torch(torch, tangents)), dtype)
    out, vjp_fn = func.vjp(ours_attention, *args)
    their_out, their_vjp = torch.func.vjp(theirs, *targs)
    same(out, their_out, dtype)
    (u,) = randoms([out.shape], dtype, seed=11)
    same(vjp_fn(u), their_vjp(to_torch(torch, u)), dtype)
    same(func.jacrev(ours_attention, argnums=(0, 1, 2))(*args),
         torch.func.jacrev(theirs, argnums=(0, 1, 2))(*targs), dtype)
    same(func.jacfwd(ours_attention, argnums=(0, 3))(*args),
         torch.func.jacfwd(theirs, argnums=(0, 3))(*targs), dtype)


def test_a_transform_does_not_make_jit_records_record_again():
    # the transforms' variables are leaves of their own, in no model: making them must not
    # count as a model change (each jitted step would then record again after a transform)
    import importlib
    engine = importlib.import_module("tinygrad_edu.tensor")
    args = layer_args()
    before = engine._model_changes
    func.jvp(cost, tuple(args), tuple(rand(*a.shape, seed=3) for a in args))
    func.grad(cost)(*args)
    func.hvp(lambda w: cost(args[0], w, args[2]), args[1], rand(4, 3, seed=4))
    func.vmap(func.grad(lambda x: (x * x).sum()))(rand(3, 2))
    assert engine._model_changes == before
