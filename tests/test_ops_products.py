"""New products ops (issue 20): gradient checks over drawn shapes, PyTorch's values and
gradients (float32 and float64), and the errors wrong inputs get.

`EVERY_OP_PRODUCTS` gives each op of ops/products.py added here its entry in
test_op_gradients' EVERY_OP (op → (a function that runs it, its input shapes, a floor)).
The function and method forms (tg.add, x.mm, x.div, …) have no class of their own: they call
the operators' ops, which is tested below, and are compared with PyTorch as the ops are.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from torch_compare import assert_matches_torch

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck, gradgradcheck, ops
from tinygrad_edu.testing import broadcastable_shapes, shapes, tensor_pairs, tensors

TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}

EVERY_OP_PRODUCTS: dict = {
    ops.Einsum: (lambda a, b: ops.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 2)]),
    # floor(a/b) is flat between its jumps: its own gradient is 0, so multiply by a to see
    # a gradient that is not (∂/∂a = floor(a/b), ∂/∂b = 0)
    ops.DivRounding: (lambda a, b: ops.div(a, b, rounding_mode="floor") * a,
                      [(2, 3), (3,), 0.5]),
}


def check(fn, *inputs):
    """gradcheck, and gradgradcheck: einsum is linear in each operand, so its gradient is a
    product too, and the graph of that gradient (create_graph=True) must be right."""
    assert gradcheck(fn, list(inputs), **TIGHT)
    assert gradgradcheck(fn, list(inputs), **TIGHT)


def side():
    return st.integers(1, 3)


# --- einsum's gradients over drawn shapes (float64) ---------------------------------------
@given(b=side(), i=side(), j=side(), k=side(), data=st.data())
def test_einsum_batched_and_chained_matrix_products(b, i, j, k, data):
    x, y = data.draw(tensors((b, i, j))), data.draw(tensors((b, j, k)))
    check(lambda p, q: ops.einsum("bij,bjk->bik", p, q), x, y)
    check(lambda p, q: ops.einsum("bij,bjk", p, q), x, y)  # the implicit output: 'bik'
    z = data.draw(tensors((k, i)))
    check(lambda p, q, r: ops.einsum("bij,bjk,ki->b", p, q, r), x, y, z)


@given(x=tensors(shapes(1, 3)), data=st.data())
def test_einsum_of_one_operand_keeps_any_of_its_axes_in_any_order(x, data):
    letters = "abc"[:x.ndim]
    kept = "".join(data.draw(st.lists(st.sampled_from(letters), unique=True)))
    check(lambda t: ops.einsum(f"{letters}->{kept}", t), x)


@given(pair=tensor_pairs(broadcastable_shapes()))
def test_einsum_broadcasts_the_axes_under_an_ellipsis_and_axes_of_length_one(pair):
    check(lambda a, b: ops.einsum("...,...->...", a, b), *pair)
    check(lambda a, b: ops.einsum("...i,...i->...", a, b), *pair)


@given(n=side(), m=side(), data=st.data())
def test_einsum_diagonals_traces_and_letters_one_operand_has(n, m, data):
    square, cube = data.draw(tensors((n, n))), data.draw(tensors((n, n, m)))
    check(lambda t: ops.einsum("ii->i", t), square)
    check(lambda t: ops.einsum("ii", t), square)
    check(lambda t: ops.einsum("iij->ji", t), cube)
    other = data.draw(tensors((m,)))
    check(lambda a, b: ops.einsum("ij,k->ik", a, b), square, other)  # j: only a; k: only b


@given(pair=tensor_pairs(broadcastable_shapes()), alpha=st.floats(-3, 3))
def test_add_and_sub_with_alpha_over_drawn_shapes(pair, alpha):
    check(lambda a, b: a.add(b, alpha=alpha), *pair)
    check(lambda a, b: ops.sub(a, b, alpha=alpha), *pair)


@given(b=side(), n=side(), k=side(), m=side(), data=st.data())
def test_mm_and_bmm_over_drawn_shapes(b, n, k, m, data):
    check(lambda x, y: x.mm(y), data.draw(tensors((n, k))), data.draw(tensors((k, m))))
    check(lambda x, y: ops.bmm(x, y), data.draw(tensors((b, n, k))),
          data.draw(tensors((b, k, m))))


def test_einsum_of_empty_operands_gives_pytorchs_zeros():
    a = Tensor(np.zeros((0, 3)), requires_grad=True)
    b = Tensor(np.ones((3, 2)), requires_grad=True)
    out = ops.einsum("ij,jk", a, b)
    assert out.shape == (0, 2)
    total = ops.einsum("ij,jk->", a, b)
    assert total.item() == 0.0
    total.backward()
    assert a.grad.shape == (0, 3) and not b.grad.data.any()


def test_einsum_gradients_have_the_inputs_dtype_and_shape():
    for dtype in (np.float32, np.float64):
        a = Tensor(np.ones((3, 1), dtype), requires_grad=True)
        b = Tensor(np.ones((3, 4), dtype), requires_grad=True)
        ops.einsum("ij,ij->i", a, b).sum().backward()
        assert a.grad.shape == (3, 1) and a.grad.dtype == dtype
        np.testing.assert_array_equal(a.grad.data, np.full((3, 1), 4.0))


def test_einsum_for_large_operands_takes_numpys_optimized_path_with_the_same_numbers():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, 32, 16)), rng.standard_normal((8, 16, 32))
    ours = ops.einsum("bij,bjk->bik", Tensor(x), Tensor(y))
    np.testing.assert_allclose(ours.data, x @ y, rtol=1e-12)


# --- the function and method forms call the operators' ops ---------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rows, cols", [(16, 784), (784, 16), (4, 3)])
def test_outer_products_of_a_stack_are_each_one_product(rows, cols, dtype):
    """The product of (B, n, 1) and (B, 1, m) — per-example weight gradients — by einsum
    for small ones and by a BLAS product padded with a zero term for large ones: every
    element is the single product x·y, exactly, infinities and NaNs included."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, rows, 1)).astype(dtype)
    b = rng.standard_normal((3, 1, cols)).astype(dtype)
    a[0, 0, 0], a[1, 1, 0], b[2, 0, 2] = np.inf, np.nan, -np.inf
    got = ops.products._product(a, b)
    assert got.shape == (3, rows, cols) and got.dtype == dtype
    np.testing.assert_array_equal(got, a * b)


def test_method_forms_record_the_same_ops_as_the_operators():
    x, y = Tensor([[1.0, 2.0]], requires_grad=True), Tensor([[3.0], [4.0]], requires_grad=True)
    recorded = {
        ops.Add: [x.add(y), ops.add(x, y), x.add(y, alpha=2)],
        ops.Sub: [x.sub(y), ops.sub(x, y, alpha=2)],
        ops.Mul: [x.mul(y), ops.mul(x, y)],
        ops.Div: [x.div(y), ops.div(x, y)],
        ops.Pow: [x.pow(2), ops.pow(x, y)],
        ops.Neg: [x.neg(), ops.neg(x)],
        ops.MatMul: [x.mm(y), ops.mm(x, y), ops.matmul(x, y), x.reshape(1, 1, 2).bmm(
            y.reshape(1, 2, 1))],
        ops.DivRounding: [x.div(y, rounding_mode="trunc"), ops.div(x, y, rounding_mode="floor")],
    }
    for op, results in recorded.items():
        for result in results:
            assert isinstance(result._ctx, op), (op, result)
    np.testing.assert_array_equal(x.add(y, alpha=2).data, (x + 2 * y).data)
    np.testing.assert_array_equal(ops.sub(x, y, alpha=-3).data, (x + 3 * y).data)


def test_function_forms_take_a_number_first_as_the_operators_do():
    t = Tensor([1.0, 2.0])
    np.testing.assert_array_equal(ops.sub(10, t).data, (10 - t).data)
    np.testing.assert_array_equal(ops.add(1, t, alpha=3).data, (1 + 3 * t).data)
    np.testing.assert_array_equal(ops.pow(2, t).data, (2 ** t).data)
    np.testing.assert_array_equal(ops.div(3, t).data, (3 / t).data)
    assert ops.add(2, 3).dtype == np.int64 and ops.add(2, 3).item() == 5  # as torch.add(2, 3)


def test_a_rounded_division_passes_a_zero_gradient_of_the_inputs_dtype_and_shape():
    x = Tensor([[5.0, -7.0, 3.5]], requires_grad=True, dtype=np.float64)
    y = Tensor([2.0, 2.0, -2.0], requires_grad=True, dtype=np.float64)
    out = x.div(y, rounding_mode="floor")
    np.testing.assert_array_equal(out.data, [[2.0, -4.0, -2.0]])
    (out * 3).sum().backward()
    assert x.grad.shape == x.shape and x.grad.dtype == np.float64
    assert not x.grad.data.any() and not y.grad.data.any()
    assert gradgradcheck(lambda a, b: a.div(b, rounding_mode="trunc") * a * a,
                         [Tensor([[2.5, -1.2]], requires_grad=True, dtype=np.float64),
                          Tensor([0.7, 0.9], requires_grad=True, dtype=np.float64)], **TIGHT)


# --- values and gradients equal PyTorch's (float32 and float64) ----------------------------
# name → (ours, PyTorch's, input shapes): the same code in both spellings
AGAINST_TORCH = {
    "einsum_bmm": (lambda a, b: ops.einsum("bij,bjk->bik", a, b),
                   lambda T, a, b: T.einsum("bij,bjk->bik", a, b), [(2, 3, 4), (2, 4, 5)]),
    "einsum_implicit": (lambda a, b: ops.einsum("ij,jk", a, b),
                        lambda T, a, b: T.einsum("ij,jk", a, b), [(2, 3), (3, 4)]),
    "einsum_list": (lambda a, b: ops.einsum("ij, kj", [a, b]),
                    lambda T, a, b: T.einsum("ij, kj", [a, b]), [(2, 3), (4, 3)]),
    "einsum_sorted_output": (lambda a, b: ops.einsum("bB,Ba", a, b),
                             lambda T, a, b: T.einsum("bB,Ba", a, b), [(2, 4), (4, 3)]),
    "einsum_capitals_first": (lambda a: ops.einsum("aB", a), lambda T, a: T.einsum("aB", a),
                              [(2, 3)]),
    "einsum_outer": (lambda a, b: ops.einsum("i,j", a, b), lambda T, a, b: T.einsum("i,j", a, b),
                     [(2,), (3,)]),
    "einsum_dot": (lambda a, b: ops.einsum("i,i->", a, b),
                   lambda T, a, b: T.einsum("i,i->", a, b), [(4,), (4,)]),
    "einsum_diagonal": (lambda a: ops.einsum("ii->i", a), lambda T, a: T.einsum("ii->i", a),
                        [(3, 3)]),
    "einsum_trace": (lambda a: ops.einsum("ii", a), lambda T, a: T.einsum("ii", a), [(3, 3)]),
    "einsum_batched_diagonal": (lambda a: ops.einsum("...ii->...i", a),
                                lambda T, a: T.einsum("...ii->...i", a), [(2, 3, 3)]),
    "einsum_ellipsis_broadcast": (lambda a, b: ops.einsum("...ij,...jk", a, b),
                                  lambda T, a, b: T.einsum("...ij,...jk", a, b),
                                  [(1, 3, 4), (6, 4, 5)]),
    "einsum_ellipsis_summed": (lambda a: ops.einsum("...ij->ij", a),
                               lambda T, a: T.einsum("...ij->ij", a), [(2, 3, 4)]),
    "einsum_length_one": (lambda a, b: ops.einsum("ij,ij->i", a, b),
                          lambda T, a, b: T.einsum("ij,ij->i", a, b), [(3, 1), (3, 4)]),
    "einsum_three": (lambda a, b, c: ops.einsum("ij,jk,kl->il", a, b, c),
                     lambda T, a, b, c: T.einsum("ij,jk,kl->il", a, b, c),
                     [(2, 3), (3, 4), (4, 2)]),
    "einsum_only_one_has": (lambda a, b: ops.einsum("ij,k->ik", a, b),
                            lambda T, a, b: T.einsum("ij,k->ik", a, b), [(2, 3), (4,)]),
    "einsum_attention": (lambda q, k: ops.einsum("bhqd,bhkd->bhqk", q, k).softmax(-1),
                         lambda T, q, k: T.einsum("bhqd,bhkd->bhqk", q, k).softmax(-1),
                         [(2, 2, 3, 4), (2, 2, 5, 4)]),
    "mm": (lambda a, b: a.mm(b), lambda T, a, b: a.mm(b), [(2, 3), (3, 4)]),
    "tg.mm": (lambda a, b: ops.mm(a, b), lambda T, a, b: T.mm(a, b), [(2, 3), (3, 4)]),
    "bmm": (lambda a, b: a.bmm(b), lambda T, a, b: a.bmm(b), [(2, 3, 4), (2, 4, 5)]),
    "tg.bmm": (lambda a, b: ops.bmm(a, b), lambda T, a, b: T.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    "tg.matmul": (lambda a, b: ops.matmul(a, b), lambda T, a, b: T.matmul(a, b),
                  [(2, 3, 4), (4,)]),
    "add": (lambda a, b: a.add(b), lambda T, a, b: a.add(b), [(2, 3), (3,)]),
    "add_alpha": (lambda a, b: a.add(b, alpha=2.5), lambda T, a, b: a.add(b, alpha=2.5),
                  [(2, 3), (3,)]),
    "tg.add_number_first": (lambda a: ops.add(2.0, a, alpha=3),
                            lambda T, a: T.add(2.0, a, alpha=3), [(2, 3)]),
    "sub_alpha": (lambda a, b: a.sub(b, alpha=-0.5), lambda T, a, b: a.sub(b, alpha=-0.5),
                  [(2, 3), (2, 1)]),
    "tg.sub": (lambda a, b: ops.sub(a, b), lambda T, a, b: T.sub(a, b), [(2, 3), (3,)]),
    "mul": (lambda a, b: a.mul(b), lambda T, a, b: a.mul(b), [(2, 3), (3,)]),
    "tg.mul_number": (lambda a: ops.mul(a, 1.5), lambda T, a: T.mul(a, 1.5), [(2, 3)]),
    "div": (lambda a, b: a.div(b * b + 1), lambda T, a, b: a.div(b * b + 1), [(2, 3), (3,)]),
    "div_floor": (lambda a, b: a.div(b, rounding_mode="floor") + a,
                  lambda T, a, b: a.div(b, rounding_mode="floor") + a, [(2, 3), (3,)]),
    "div_trunc": (lambda a, b: ops.div(a, b, rounding_mode="trunc") + b,
                  lambda T, a, b: T.div(a, b, rounding_mode="trunc") + b, [(2, 3), (3,)]),
    "pow": (lambda a, b: (a * a + 0.5).pow(b), lambda T, a, b: (a * a + 0.5).pow(b),
            [(2, 3), (3,)]),
    "tg.pow_number_first": (lambda a: ops.pow(2, a), lambda T, a: T.pow(2, a), [(2, 3)]),
    "neg": (lambda a: a.neg(), lambda T, a: a.neg(), [(2, 3)]),
    "tg.neg": (lambda a: ops.neg(a), lambda T, a: T.neg(a), [(2, 3)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", AGAINST_TORCH)
def test_values_and_gradients_equal_pytorchs(name, dtype, torch):
    ours, theirs, input_shapes = AGAINST_TORCH[name]
    assert_matches_torch(ours, theirs, input_shapes, dtype, torch)


PROMOTIONS = [  # (ours, PyTorch's): the result's dtype and values must agree
    (lambda: tg.tensor([3, -7]).add(0.5), lambda T: T.tensor([3, -7]).add(0.5)),
    (lambda: tg.tensor([3, -7]).add(tg.tensor([2]), alpha=3),
     lambda T: T.tensor([3, -7]).add(T.tensor([2]), alpha=3)),
    (lambda: tg.tensor([3, -7]).div(tg.tensor([2, 2])),
     lambda T: T.tensor([3, -7]).div(T.tensor([2, 2]))),
    (lambda: tg.tensor([7, -7, 7, -7, 0]).div(tg.tensor([2, 2, -2, -2, 3]), rounding_mode="floor"),
     lambda T: T.tensor([7, -7, 7, -7, 0]).div(T.tensor([2, 2, -2, -2, 3]), rounding_mode="floor")),
    (lambda: tg.tensor([7, -7, 7, -7, 0]).div(tg.tensor([2, 2, -2, -2, 3]), rounding_mode="trunc"),
     lambda T: T.tensor([7, -7, 7, -7, 0]).div(T.tensor([2, 2, -2, -2, 3]), rounding_mode="trunc")),
    (lambda: tg.tensor([7, -7]).div(2.5, rounding_mode="floor"),
     lambda T: T.tensor([7, -7]).div(2.5, rounding_mode="floor")),
    (lambda: Tensor([5.0, -7.0, 0.0, -0.5]).div(Tensor([0.0, 2, 0, 2]), rounding_mode="trunc"),
     lambda T: T.tensor([5.0, -7.0, 0.0, -0.5]).div(T.tensor([0.0, 2, 0, 2]),
                                                    rounding_mode="trunc")),
    (lambda: Tensor([5.0, -7.0, 0.0]).div(Tensor([0.0, 2.0, 0.0]), rounding_mode="floor"),
     lambda T: T.tensor([5.0, -7.0, 0.0]).div(T.tensor([0.0, 2.0, 0.0]), rounding_mode="floor")),
    (lambda: ops.add(2, tg.tensor([1, 2])), lambda T: T.add(2, T.tensor([1, 2]))),
    (lambda: ops.mul(tg.tensor([True, False]), 2), lambda T: T.mul(T.tensor([True, False]), 2)),
    (lambda: ops.add(tg.tensor([True]), tg.tensor([True]), alpha=True),
     lambda T: T.add(T.tensor([True]), T.tensor([True]), alpha=True)),
    (lambda: Tensor(np.ones(2)).mul(Tensor([2.0])), lambda T: T.ones(2, dtype=T.float64).mul(
        T.tensor([2.0]))),
    (lambda: ops.einsum("i,i->i", tg.tensor([1, 2]), tg.tensor([3, 4])),
     lambda T: T.einsum("i,i->i", T.tensor([1, 2]), T.tensor([3, 4]))),
    (lambda: tg.tensor([[1, 2]]).mm(tg.tensor([[3], [4]])),
     lambda T: T.tensor([[1, 2]]).mm(T.tensor([[3], [4]]))),
]


@pytest.mark.filterwarnings("error")  # x/0 gives ±inf or nan quietly, as in PyTorch
@pytest.mark.parametrize("case", range(len(PROMOTIONS)))
def test_method_forms_promote_and_round_as_pytorch(case, torch):
    ours, theirs = PROMOTIONS[case]
    result, reference = ours(), theirs(torch)
    assert result.dtype == np.dtype(str(reference.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(result.data, reference.numpy())


def test_mixed_dtypes_in_einsum_mm_and_bmm_promote_as_the_operators():
    # PyTorch refuses mixed dtypes here; `@` promotes in both libraries, and so do these
    a32, a64 = Tensor(np.ones((2, 2), np.float32)), Tensor(np.ones((2, 2), np.float64))
    assert a32.mm(a64).dtype == (a32 @ a64).dtype == np.float64
    assert ops.einsum("ij,jk", a32, tg.tensor([[1, 2], [3, 4]])).dtype == np.float32


# --- wrong inputs ----------------------------------------------------------------------------
X, Y = Tensor(np.ones((3, 3))), Tensor(np.ones((3, 2)))


@pytest.mark.parametrize(("call", "error", "message"), [
    ("ops.einsum('ij,jk', X)", ValueError,
     r"einsum: the equation 'ij,jk' has subscripts for 2 operand\(s\) but 1 were given"),
    ("ops.einsum('ij,jk->', X, Y, X)", ValueError, r"subscripts for 2 operand\(s\) but 3"),
    ("ops.einsum('ijk,jk', X, Y)", ValueError,
     r"einsum: operand 0 has 2 dimension\(s\) \(shape \(3, 3\)\) but its subscripts 'ijk' in "
     r"'ijk,jk' name 3, and there is no '...' for the rest"),
    ("ops.einsum('...ijk', X)", ValueError, r"operand 0 has 2 dimension\(s\).*name 3"),
    ("ops.einsum('i1', X)", ValueError, r"einsum: invalid subscript '1' in 'i1': subscripts are "
     "the letters a–z and A–Z"),
    ("ops.einsum('i.j', X)", ValueError, r"einsum: 'i.j' has a '.' that is not part of one '...'"),
    ("ops.einsum('ij->j->i', X)", ValueError, r"einsum: the equation 'ij->j->i' has more than "
     "one '->'"),
    ("ops.einsum('ij->ii', X)", ValueError, r"einsum: output subscript 'i' appears twice in "
     "'ij->ii'"),
    ("ops.einsum('ij->k', X)", ValueError, r"einsum: output subscript 'k' of 'ij->k' does not "
     "appear in any operand's subscripts"),
    ("ops.einsum('ij,jk', X, Tensor(np.ones((4, 2))))", ValueError,
     r"einsum: subscript 'j' of 'ij,jk' has length 4 in operand 1 \(shape \(4, 2\)\) but 3 in "
     r"operand 0 \(shape \(3, 3\)\); lengths must match \(or be 1, which broadcasts\)"),
    ("ops.einsum('ii->i', Tensor(np.ones((3, 4))))", ValueError,
     r"einsum: subscript 'i' is repeated in operand 0 \(shape \(3, 4\)\) with different "
     "lengths 3 and 4"),
    ("ops.einsum('...i,...i', Tensor(np.ones((2, 3))), Tensor(np.ones((4, 3))))", ValueError,
     r"einsum: an axis under '...' of '...i,...i' has length 4 in operand 1"),
    ("ops.einsum(X, 'ij')", TypeError, r"einsum: the equation must be a string such as "
     "'ij,jk->ik', got Tensor"),
    ("ops.einsum('ij,jk', X, [[1.0]])", TypeError, r"einsum: operand 1 is list \[\[1.0\]\]; "
     r"give Tensors \(or numpy arrays\)"),
    ("ops.einsum('ij')", ValueError, r"einsum: no operands were given for the equation 'ij'"),
    ("X.mm(Tensor(np.ones(3)))", RuntimeError, r"mm: mat2 must be a matrix \(2-D\), got shape "
     r"\(3,\); matmul \(@\) takes vectors and batches"),
    ("ops.mm(Tensor(np.ones((2, 3, 3))), X)", RuntimeError, r"mm: input must be a matrix \(2-D\)"),
    ("X.mm(Tensor(np.ones((4, 5))))", RuntimeError, r"mm: shapes \(3, 3\) and \(4, 5\) cannot be "
     r"multiplied \(3x3 and 4x5\): input's 3 columns against mat2's 4 rows"),
    ("X.bmm(X)", RuntimeError, r"bmm: input must be a batch of matrices \(3-D\), got shape "
     r"\(3, 3\)"),
    ("Tensor(np.ones((2, 3, 4))).bmm(Tensor(np.ones((3, 4, 5))))", RuntimeError,
     r"bmm: input of shape \(2, 3, 4\) needs mat2 of shape \(2, 4, m\), got \(3, 4, 5\)"),
    ("Tensor(np.ones((2, 3, 4))).bmm(Tensor(np.ones((2, 5, 5))))", RuntimeError,
     r"bmm: input of shape \(2, 3, 4\) needs mat2 of shape \(2, 4, m\), got \(2, 5, 5\)"),
    ("tg.tensor([1, 2]).add(1, alpha=0.5)", RuntimeError, r"add: alpha=0.5 is a float but the "
     r"result is an integer tensor \(int64\); give an integer alpha, or convert first"),
    ("X.sub(1, alpha=True)", RuntimeError, r"sub: alpha=True with a result of float64: a bool "
     "alpha goes only with bool tensors"),
    ("ops.add(tg.tensor([True]), tg.tensor([True]), alpha=2)", RuntimeError,
     r"add: alpha=2 with a result of bool"),
    ("X.add(1, alpha='2')", TypeError, r"add: alpha must be a number, got str '2'"),
    ("X.add('a')", TypeError, r"add: cannot combine a tensor with str 'a'"),
    ("ops.add('a', 2)", TypeError, r"add: input must be a Tensor or a number, got str 'a'"),
    ("ops.neg([1.0])", TypeError, r"neg: input must be a Tensor or a number, got list"),
    ("X.div(2, rounding_mode='round')", RuntimeError, r"div: rounding_mode must be None, 'trunc' "
     "or 'floor', got 'round'"),
    ("tg.tensor([5, 7]).div(tg.tensor([0, 2]), rounding_mode='floor')", RuntimeError,
     r"div: integer division by zero \(rounding_mode='floor'\); floats give ±inf instead"),
    ("tg.tensor([True]).div(tg.tensor([True]), rounding_mode='trunc')", NotImplementedError,
     r"div: rounding_mode='trunc' needs numbers, not bool tensors"),
])
def test_wrong_inputs_get_errors_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        eval(call, {"X": X, "Y": Y, "Tensor": Tensor, "tg": tg, "ops": ops, "np": np})
