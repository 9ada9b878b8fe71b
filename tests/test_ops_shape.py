"""New shape ops (issue 20): gradient checks over drawn shapes, PyTorch's values and
gradients (float32 and float64), and the errors wrong inputs get.

`EVERY_OP_SHAPE` gives each op of ops/shape.py and ops/select.py added here its entry in
test_op_gradients' EVERY_OP (op → (a function that runs it, its input shapes, a floor)).
The composites (stack, split, masked_fill, sort, …) have no class of their own: they are
checked below over drawn shapes and against PyTorch, as the ops are.
"""

import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from torch_compare import assert_matches_torch

import tinygrad_edu as tg
from tinygrad_edu import Tensor, gradcheck, gradgradcheck, ops
from tinygrad_edu.testing import shapes, tensors

TIGHT = {"eps": 1e-6, "rtol": 1e-4, "atol": 1e-6}
MASK = np.array([True, False, True])

EVERY_OP_SHAPE: dict = {
    ops.Cat: (lambda a, b: ops.cat([a, b], 1), [(2, 3), (2, 2)]),
    ops.Where: (lambda a, b: ops.where(Tensor(MASK), a, b), [(2, 3), (3,)]),
    ops.Gather: (lambda a: a.gather(1, tg.tensor([[0, 0, 2], [1, 0, 1]])), [(2, 3)]),
    ops.Flip: (lambda a: a.flip(0, 1), [(2, 3)]),
    ops.Roll: (lambda a: a.roll((1, -2), (0, 1)), [(2, 3)]),
}


def check(fn, *inputs):
    """gradcheck, and gradgradcheck: these ops are linear, so their backward is too, and its
    graph (create_graph=True) must carry the output gradient through correctly."""
    assert gradcheck(fn, list(inputs), **TIGHT)
    assert gradgradcheck(fn, list(inputs), **TIGHT)


def dim_of(x: Tensor):
    return st.integers(-x.ndim, x.ndim - 1)


def distinct_along(x: Tensor, dim: int, margin: float = 1e-3) -> bool:
    """No two values closer than `margin` along `dim` (a tie is a kink of sort and topk)."""
    ordered = np.sort(x.data, axis=dim)
    return bool(np.all(np.diff(ordered, axis=dim) > margin))


# --- gradients over drawn shapes (float64) ------------------------------------------------
@given(x=tensors(shapes(1, 3)), data=st.data())
def test_cat_and_stack(x, data):
    dim = data.draw(dim_of(x))
    other_shape = list(x.shape)
    other_shape[dim] = data.draw(st.integers(1, 3))
    y = data.draw(tensors(tuple(other_shape)))
    check(lambda a, b: ops.cat([a, b, a], dim), x, y)
    same = data.draw(tensors(x.shape))
    new_dim = data.draw(st.integers(-x.ndim - 1, x.ndim))
    check(lambda a, b: ops.stack([a, b, a], new_dim), x, same)


@given(x=tensors(shapes(1, 3)), data=st.data())
def test_split_chunk_and_unbind(x, data):
    dim = data.draw(dim_of(x))
    size = data.draw(st.integers(1, 4))

    def weighted(pieces):  # each piece scaled differently, so a mixed-up gradient shows
        return ops.cat([(p * (i + 1)).reshape(-1) for i, p in enumerate(pieces)])

    check(lambda a: weighted(a.split(size, dim)), x)
    check(lambda a: weighted(a.chunk(size, dim)), x)
    check(lambda a: weighted(a.unbind(dim)), x)
    sections = data.draw(st.lists(st.integers(0, 2), min_size=1, max_size=3))
    sections[-1] += x.shape[dim] - sum(sections)
    assume(sections[-1] >= 0)
    check(lambda a: weighted(a.split(sections, dim)), x)


@given(data=st.data())
def test_where_and_masked_fill_with_broadcasting(data):
    shape_a, shape_b, shape_c = data.draw(st.sampled_from([
        ((2, 3), (3,), (2, 1)), ((4,), (2, 1), (1, 4)), ((1, 3), (2, 1, 3), (3,))]))
    a, b = data.draw(tensors(shape_a)), data.draw(tensors(shape_b))
    flags = data.draw(st.lists(st.booleans(), min_size=math.prod(shape_c),
                               max_size=math.prod(shape_c)))
    condition = Tensor(np.array(flags).reshape(shape_c))
    check(lambda x, y: ops.where(condition, x, y), a, b)
    check(lambda x: ops.where(condition, x, 2.5), a)
    check(lambda x: ops.where(condition, -1, x), b)
    check(lambda x: x.masked_fill(condition, -7.0), a)
    value = Tensor(np.array(0.5), requires_grad=True)
    check(lambda x, v: x.masked_fill(condition, v), a, value)


@given(x=tensors(shapes(2, 4)), diagonal=st.integers(-3, 3))
def test_tril_and_triu(x, diagonal):
    check(lambda a: a.tril(diagonal), x)
    check(lambda a: a.triu(diagonal), x)


@given(x=tensors(shapes(1, 3)), data=st.data())
def test_gather_index_select_and_take_along_dim(x, data):
    dim = data.draw(dim_of(x))
    length = x.shape[dim]
    index_shape = tuple(data.draw(st.integers(1, n)) if axis != dim % x.ndim else
                        data.draw(st.integers(1, 4)) for axis, n in enumerate(x.shape))
    index = tg.tensor(np.asarray(data.draw(st.lists(
        st.integers(0, length - 1), min_size=math.prod(index_shape),
        max_size=math.prod(index_shape)))).reshape(index_shape).astype(np.int64))
    check(lambda a: a.gather(dim, index), x)  # repeated indices add up in the gradient
    vector = tg.tensor(data.draw(st.lists(st.integers(0, length - 1), min_size=1, max_size=5)))
    check(lambda a: a.index_select(dim, vector), x)
    ones = tuple(1 if axis != dim % x.ndim else n for axis, n in enumerate(index.shape))
    broadcast = Tensor._wrap(index.data[tuple(slice(0, n) for n in ones)] - length)  # < 0
    check(lambda a: a.take_along_dim(broadcast, dim), x)  # broadcast, negative indices
    check(lambda a: a.take_along_dim(tg.tensor([length - 1, 0])), x)  # flattened


@given(x=tensors(shapes(1, 3)), data=st.data())
def test_flip_roll_and_repeat(x, data):
    dims = data.draw(st.lists(st.integers(0, x.ndim - 1), unique=True, max_size=x.ndim))
    check(lambda a: a.flip(dims), x)
    shifts = data.draw(st.lists(st.integers(-5, 5), min_size=len(dims), max_size=len(dims)))
    if dims:
        check(lambda a: a.roll(shifts, dims), x)
    shift = data.draw(st.integers(-7, 7))
    check(lambda a: a.roll(shift), x)
    sizes = data.draw(st.lists(st.integers(0, 3), min_size=x.ndim, max_size=x.ndim + 1))
    check(lambda a: a.repeat(*sizes), x)


@given(x=tensors(shapes(1, 3)), data=st.data())
def test_sort_and_topk_away_from_ties(x, data):
    dim = data.draw(dim_of(x))
    assume(distinct_along(x, dim))
    descending, largest = data.draw(st.booleans()), data.draw(st.booleans())
    k = data.draw(st.integers(0, x.shape[dim]))
    check(lambda a: a.sort(dim, descending).values, x)
    check(lambda a: a.topk(k, dim, largest).values, x)


def test_the_gradient_goes_to_the_chosen_place_among_ties():
    x = Tensor(np.array([3.0, 1.0, 3.0, 3.0]), requires_grad=True)
    x.topk(2).values.sum().backward()
    assert x.grad.data.tolist() == [1.0, 0.0, 1.0, 0.0]  # the first two of the tied threes


# --- the shape methods: dims checked, squeeze of several dims ------------------------------
@pytest.mark.parametrize("call", [
    "x.permute(1, 2)", "x.squeeze(5)", "x.squeeze((0, 5))", "x.flatten(4)", "x.flatten(0, 2)",
    "x.transpose(0, 5)", "x.unsqueeze(3)", "x.sort(dim=2)", "x.flip(2)", "x.roll(1, 2)",
    "x.gather(2, tg.tensor([[0]]))", "ops.cat([x, x], 2)", "ops.stack([x, x], 3)",
    "x.split(1, 2)", "x.unbind(-3)",
])
def test_a_dim_out_of_range_raises_index_error_naming_the_op(call):
    x = Tensor.zeros(3, 4)
    op = call.split("(")[0].split(".")[-1]
    with pytest.raises(IndexError, match=rf"{op}: dim -?\d+ is out of range .*allowed: -\d+ "):
        eval(call, {"x": x, "tg": tg, "ops": ops})


def test_squeeze_of_a_tuple_of_dims_drops_those_of_length_one():
    x = Tensor.zeros(1, 3, 1, 2)
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert x.squeeze((0, 1)).shape == (3, 1, 2)  # (1 has length 3: kept, as PyTorch)
    assert x.squeeze(()).shape == x.shape
    assert x.squeeze(-2).shape == (1, 3, 2)
    assert Tensor(np.array(5.0)).squeeze(0).shape == ()


def test_permute_and_expand_with_the_wrong_number_of_dims():
    x = Tensor.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"permute: \(1,\) names 1 axes.*\(2, 3\) has 2"):
        x.permute(1)
    with pytest.raises(ValueError, match=r"permute: dim \(1, 1\) names an axis twice"):
        x.permute(1, 1)
    with pytest.raises(RuntimeError, match=r"expand: sizes \(3,\) for a tensor of shape"):
        x.expand(3)
    with pytest.raises(RuntimeError, match="new axes, in front, cannot be -1"):
        x.expand(-1, 2, 3)
    assert x.expand(4, -1, 3).shape == (4, 2, 3)
    assert x.transpose(0, -1).shape == (3, 2) and Tensor.zeros(3).transpose().shape == (3,)


# --- what each op returns: shapes, dtypes, views and copies -------------------------------
def test_split_chunk_and_unbind_give_pytorchs_pieces():
    x = Tensor(np.arange(10.0).reshape(5, 2))
    assert [p.shape for p in x.split(2)] == [(2, 2), (2, 2), (1, 2)]
    assert [p.shape for p in x.split([1, 4])] == [(1, 2), (4, 2)]
    assert [p.shape for p in x.split(7)] == [(5, 2)]
    assert [p.shape for p in x.chunk(3)] == [(2, 2), (2, 2), (1, 2)]
    assert [p.shape for p in Tensor.zeros(6).chunk(4)] == [(2,), (2,), (2,)]  # 3, not 4
    assert [p.shape for p in Tensor.zeros(0).chunk(3)] == [(0,), (0,), (0,)]
    assert [p.shape for p in Tensor.zeros(0).split(2)] == [(0,)]
    assert [p.shape for p in Tensor.zeros(0).split(0)] == [(0,)]
    assert [p.tolist() for p in x.unbind(1)] == [[0, 2, 4, 6, 8], [1, 3, 5, 7, 9]]


def test_cat_promotes_dtypes_and_skips_empty_vectors():
    ints, floats = tg.tensor([[1, 2]]), Tensor(np.zeros((1, 2), np.float64))
    assert ops.cat([ints, floats]).dtype == np.float64
    assert ops.cat([tg.tensor([[True]]), Tensor(np.zeros((1, 1), np.int16))]).dtype == np.int16
    assert ops.stack([ints, Tensor(np.zeros((1, 2), np.float16))]).dtype == np.float16
    assert ops.cat([Tensor.zeros(2, 3), Tensor.zeros(0)]).shape == (2, 3)  # PyTorch's old rule
    assert ops.concat([ints, ints], axis=1).shape == ops.concatenate([ints, ints], 1).shape


def test_where_promotes_as_pytorch_and_gives_indices_for_a_condition_alone():
    condition = Tensor(MASK)
    assert ops.where(condition, 1, 2).dtype == np.int64
    assert ops.where(condition, 1.0, 2).dtype == np.float32
    assert ops.where(condition, Tensor(np.zeros(3, np.float16)), 2.5).dtype == np.float16
    assert ops.where(condition, tg.tensor([1, 2, 3]), 0.5).dtype == np.float32
    assert Tensor.zeros(3).where(condition, 5).tolist() == [0, 5, 0]
    (indices,) = ops.where(condition)
    assert indices.tolist() == [0, 2] and indices.dtype == np.int64


def test_masked_fill_with_minus_infinity_passes_no_gradient_to_masked_places():
    scores = Tensor(np.random.default_rng(0).standard_normal((3, 3)), requires_grad=True)
    causal = Tensor(np.tri(3, dtype=bool))
    weights = scores.masked_fill(~causal, float("-inf")).softmax(-1)
    (weights * Tensor(np.arange(9.0).reshape(3, 3))).sum().backward()
    assert np.all(weights.data[~causal.data] == 0) and np.isfinite(scores.grad.data).all()
    assert np.all(scores.grad.data[~causal.data] == 0)
    assert tg.tensor([1, 2, 3]).masked_fill(Tensor(MASK), 1.7).tolist() == [1, 2, 1]


def test_sort_keeps_ties_in_order_and_puts_nan_last():
    x = Tensor(np.array([3.0, 1.0, 3.0, np.nan, 3.0]))
    assert x.sort().indices.tolist() == [1, 0, 2, 4, 3]
    assert x.sort(descending=True).indices.tolist() == [3, 0, 2, 4, 1]
    assert x.argsort(descending=True).tolist() == [3, 0, 2, 4, 1]
    values, indices = tg.tensor([[True, False]]).sort(dim=1)
    assert values.tolist() == [[False, True]] and indices.dtype == np.int64


def test_flip_is_a_copy_and_a_split_piece_is_a_view_as_in_pytorch():
    x = Tensor(np.arange(4.0))
    flipped, (first, _) = x.flip(0), x.split(2)
    with tg.no_grad():
        flipped.add_(10)
        first.add_(100)
    assert x.tolist() == [100, 101, 2, 3]


def test_repeat_tiles_as_pytorch():
    x = Tensor(np.array([[1.0, 2.0]]))
    assert x.repeat(2, 2).tolist() == [[1, 2, 1, 2], [1, 2, 1, 2]]
    assert x.repeat(2, 1, 1).shape == (2, 1, 2) and x.repeat((0, 3)).shape == (0, 6)
    assert np.array_equal(x.repeat(3, 2).data, np.tile(x.data, (3, 2)))


# --- PyTorch's values and gradients ---------------------------------------------------------
INDEX = np.array([[0, 2, 2, 1], [1, 1, 0, 0], [2, 0, 1, 2]])
CAUSAL = np.tri(4, dtype=bool)

# name → (ours, PyTorch's, input shapes): the same code in both spellings
AGAINST_TORCH = {
    "cat": (lambda a, b: ops.cat([a, b, a], 1), lambda T, a, b: T.cat([a, b, a], 1),
            [(3, 4), (3, 2)]),
    "stack": (lambda a, b: ops.stack([a, b], -1), lambda T, a, b: T.stack([a, b], -1),
              [(3, 4), (3, 4)]),
    "split": (lambda a: a.split([1, 3], 1), lambda T, a: a.split([1, 3], 1), [(3, 4)]),
    "split_size": (lambda a: a.split(3, 1), lambda T, a: a.split(3, 1), [(3, 4)]),
    "chunk": (lambda a: a.chunk(2, 0), lambda T, a: a.chunk(2, 0), [(3, 4)]),
    "unbind": (lambda a: a.unbind(-1), lambda T, a: a.unbind(-1), [(3, 4)]),
    "where": (lambda a, b: ops.where(a > b, a, b), lambda T, a, b: T.where(a > b, a, b),
              [(3, 4), (4,)]),
    "where_number": (lambda a: a.where(a > 0, 0.5), lambda T, a: a.where(a > 0, 0.5),
                     [(3, 4)]),
    "masked_fill": (lambda a: a.masked_fill(Tensor(~CAUSAL), float("-inf")).softmax(-1),
                    lambda T, a: a.masked_fill(T.from_numpy(~CAUSAL), float("-inf")).softmax(-1),
                    [(2, 4, 4)]),
    "tril": (lambda a: a.tril(-1), lambda T, a: a.tril(-1), [(2, 3, 4)]),
    "triu": (lambda a: a.triu(1), lambda T, a: a.triu(1), [(3, 4)]),
    "gather": (lambda a: a.gather(1, tg.tensor(INDEX[:, :3])),
               lambda T, a: a.gather(1, T.from_numpy(INDEX[:, :3])), [(3, 4)]),
    "index_select": (lambda a: a.index_select(0, tg.tensor([2, 0, 2])),
                     lambda T, a: a.index_select(0, T.tensor([2, 0, 2])), [(3, 4)]),
    "take_along_dim": (lambda a: a.take_along_dim(tg.tensor([[0, -1, 1]]), 1),
                       lambda T, a: a.take_along_dim(T.tensor([[0, -1, 1]]), 1), [(3, 4)]),
    "take_along_dim_flat": (lambda a: a.take_along_dim(tg.tensor([5, 0, 5])),
                            lambda T, a: a.take_along_dim(T.tensor([5, 0, 5])), [(3, 4)]),
    "flip": (lambda a: a.flip(0, 2), lambda T, a: a.flip(0, 2), [(2, 3, 4)]),
    "roll": (lambda a: a.roll((1, -5), (0, 2)), lambda T, a: a.roll((1, -5), (0, 2)),
             [(2, 3, 4)]),
    "roll_flat": (lambda a: a.roll(4), lambda T, a: a.roll(4), [(2, 3, 4)]),
    "repeat": (lambda a: a.repeat(2, 1, 3), lambda T, a: a.repeat(2, 1, 3), [(3, 4)]),
    "sort": (lambda a: a.sort(0), lambda T, a: a.sort(0), [(3, 4)]),
    "sort_descending": (lambda a: a.sort(descending=True), lambda T, a: a.sort(descending=True),
                        [(3, 4)]),
    "argsort": (lambda a: a.argsort(1, True), lambda T, a: a.argsort(1, True), [(3, 4)]),
    "topk": (lambda a: a.topk(2), lambda T, a: a.topk(2), [(3, 4)]),
    "topk_smallest": (lambda a: a.topk(3, 0, largest=False), lambda T, a: a.topk(3, 0, False),
                      [(3, 4)]),
    "squeeze": (lambda a: a.squeeze((0, 2)), lambda T, a: a.squeeze((0, 2)), [(1, 4, 1)]),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", AGAINST_TORCH)
def test_values_and_gradients_equal_pytorchs(name, dtype, torch):
    ours, theirs, input_shapes = AGAINST_TORCH[name]
    assert_matches_torch(ours, theirs, input_shapes, dtype, torch)


def test_sort_and_argsort_order_ties_as_pytorchs_stable_sort(torch):
    values = np.array([[3, 1, 3, np.nan, 2, 3, 1], [0, 0, 0, 0, 0, 0, 0]], np.float32)
    for descending in (False, True):
        ours = Tensor(values).sort(dim=1, descending=descending)
        theirs = torch.from_numpy(values).sort(dim=1, descending=descending, stable=True)
        assert ours.indices.tolist() == theirs.indices.tolist()
        np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())


def test_topk_takes_the_values_pytorch_takes(torch):
    values = np.array([1.0, 3.0, 3.0, 2.0, 3.0, np.nan], np.float32)
    for k, largest in [(2, True), (4, True), (3, False)]:
        ours = Tensor(values).topk(k, largest=largest)
        theirs = torch.from_numpy(values).topk(k, largest=largest)
        np.testing.assert_array_equal(ours.values.data, theirs.values.numpy())
        assert np.array_equal(values[ours.indices.data], ours.values.data, equal_nan=True)


def test_where_and_cat_promote_as_pytorch(torch):
    condition = np.array([True, False, True])
    for x_dtype, y in [(np.int32, 2.5), (np.float16, 2.5), (np.int64, True),
                       (np.float64, np.zeros((), np.float32)), (np.bool_, 3)]:
        x = np.ones(3, x_dtype)
        other = Tensor(y) if isinstance(y, np.ndarray) else y
        their_other = torch.from_numpy(y) if isinstance(y, np.ndarray) else y
        ours = ops.where(Tensor(condition), Tensor(x), other)
        theirs = torch.where(torch.from_numpy(condition), torch.from_numpy(x), their_other)
        assert str(ours.dtype) == str(theirs.dtype).removeprefix("torch.")
        mixed = ops.cat([Tensor(x), Tensor(np.ones(2, np.int16))])
        joined = torch.cat([torch.from_numpy(x), torch.ones(2, dtype=torch.int16)])
        assert str(mixed.dtype) == str(joined.dtype).removeprefix("torch.")


# --- errors wrong inputs get ----------------------------------------------------------------
X = Tensor.zeros(3, 4)


@pytest.mark.parametrize(("call", "error", "message"), [
    ("ops.cat([])", ValueError, r"cat: expects a non-empty list"),
    ("ops.stack([])", RuntimeError, r"stack: expects a non-empty list"),
    ("ops.cat(X)", TypeError, r"cat: expects a list or tuple of tensors, got Tensor"),
    ("ops.cat([X, 1])", TypeError, r"cat: expects tensors, got int 1 at position 1"),
    ("ops.cat([X, Tensor.zeros(3, 5)], 0)", RuntimeError,
     r"cat: sizes must match except in dim 0: tensor 0 has shape \(3, 4\), tensor 1 has "
     r"\(3, 5\)"),
    ("ops.cat([X, Tensor.zeros(4)])", RuntimeError,
     r"cat: tensors must have the same number of dimensions: .*\(3, 4\).*\(4,\)"),
    ("ops.cat([Tensor(1.0), Tensor(2.0)])", RuntimeError, "cat: tensor 0 is zero-dimensional"),
    ("ops.stack([X, Tensor.zeros(4, 3)])", RuntimeError,
     r"stack: expects tensors of equal shape, got \(3, 4\) at entry 0 and \(4, 3\) at entry 1"),
    ("X.split([1, 1], 0)", RuntimeError, r"split: the sizes \[1, 1\] must be ≥ 0 and add up "
     r"to 3, the length of dim 0 \(shape \(3, 4\)\)"),
    ("X.split([4, -1], 0)", RuntimeError, r"split: the sizes \[4, -1\] must be ≥ 0"),
    ("X.split(0)", RuntimeError, r"split: split_size must be > 0 .* got 0 for dim 0 of "
     "length 3"),
    ("X.split(1.5)", TypeError, r"split: split_size must be integers, got float 1.5"),
    ("X.chunk(0)", RuntimeError, r"chunk: chunks must be greater than 0, got 0"),
    ("Tensor(1.0).chunk(1)", RuntimeError, r"chunk: expects a tensor with at least one axis"),
    ("ops.where(X, X, X)", RuntimeError, r"where: the condition must be a bool tensor, got "
     "dtype float32"),
    ("ops.where(X > 0, X, Tensor.zeros(5))", RuntimeError,
     r"where: the shapes do not broadcast together: condition \(3, 4\), input \(3, 4\), "
     r"other \(5,\)"),
    ("ops.where(X > 0, X)", TypeError, r"where: give both input and other, or neither"),
    ("X.masked_fill(X, 1.0)", RuntimeError, "masked_fill: the condition must be a bool"),
    ("X.masked_fill(Tensor.zeros(2) > 0, 1.0)", RuntimeError,
     r"masked_fill: the shapes do not broadcast together: input \(3, 4\), mask \(2,\)"),
    ("X.masked_fill(X > 0, Tensor.zeros(2))", RuntimeError,
     r"masked_fill: value must be a number or a 0-d tensor, got a tensor of shape \(2,\)"),
    ("X.masked_fill(X > 0, 'a')", TypeError, r"masked_fill: value must be a number, got str"),
    ("tg.tensor([1]).masked_fill(tg.tensor([True]), float('-inf'))", RuntimeError,
     r"masked_fill: value -inf cannot be converted to int64"),
    ("Tensor.zeros(3).tril()", RuntimeError, r"tril: expects a tensor with at least 2 axes, "
     r"got shape \(3,\)"),
    ("X.gather(1, tg.tensor([[0, 4]]))", IndexError,
     r"gather: index 4 is out of range for dim 1 of length 4 \(allowed: 0 to 3\)"),
    ("X.gather(1, tg.tensor([[0, -1]]))", IndexError, r"gather: index -1 is out of range"),
    ("X.gather(1, tg.tensor([0, 1]))", RuntimeError, r"gather: index must have as many axes "
     r"as input: index has shape \(2,\), input \(3, 4\)"),
    ("X.gather(0, tg.tensor([[0, 1, 1, 1, 1]]))", RuntimeError,
     r"gather: index of shape \(1, 5\) is larger than input of shape \(3, 4\) on an axis "
     "other than dim 0"),
    ("X.gather(1, Tensor([[0.0]]))", RuntimeError, r"gather: index must have dtype int64 or "
     "int32, got float32"),
    ("X.gather(1, [[0]])", TypeError, r"gather: index must be a tensor of integers, got list"),
    ("X.index_select(0, tg.tensor([0, 3]))", IndexError,
     r"index_select: index 3 is out of range for dim 0 of length 3"),
    ("X.index_select(1, tg.tensor([[0]]))", IndexError, r"index_select: index must be a "
     r"vector \(1-D\), got shape \(1, 1\)"),
    ("X.index_select(1, Tensor([0.0]))", RuntimeError, "index_select: index must have dtype "
     "int64 or int32"),
    ("X.take_along_dim(Tensor(np.zeros((1, 1), np.int32)), 1)", RuntimeError,
     "take_along_dim: index must have dtype int64, got int32"),
    ("X.take_along_dim(tg.tensor([[7]]), 1)", IndexError,
     r"take_along_dim: index 7 is out of range for dim 1 of length 4 \(allowed: -4 to 3\)"),
    ("X.take_along_dim(tg.tensor([0]), 1)", RuntimeError, "take_along_dim: input and indices "
     "must have as many axes"),
    ("X.take_along_dim(tg.tensor([[0], [0]]), 1)", RuntimeError,
     r"take_along_dim: the shapes do not broadcast together: input \(3, 1\), indices \(2, 1\)"),
    ("X.flip(0, 0)", ValueError, r"flip: dim \(0, 0\) names an axis twice"),
    ("X.roll((1, 2), 0)", RuntimeError, r"roll: shifts \(1, 2\) and dims 0 must have the same "
     "length"),
    ("X.roll((1, 2))", RuntimeError, r"roll: without dims, shifts must be one number"),
    ("X.repeat(2)", RuntimeError, r"repeat: give at least one size per axis: 1 sizes for a "
     r"tensor of shape \(3, 4\)"),
    ("X.repeat(-1, 2)", RuntimeError, r"repeat: sizes must be ≥ 0, got \(-1, 2\)"),
    ("X.topk(5)", RuntimeError, r"topk: k=5 is out of range for dim -1 of length 4"),
    ("X.topk(-1)", RuntimeError, r"topk: k=-1 is out of range"),
    ("X.flatten(1, 0)", RuntimeError, r"flatten: start_dim 1 comes after end_dim 0"),
])
def test_wrong_inputs_get_errors_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        eval(call, {"X": X, "Tensor": Tensor, "tg": tg, "ops": ops, "np": np})


def test_zero_dimensional_tensors_as_pytorch():
    s = Tensor(np.array(5.0))
    assert s.sort().values.shape == () and s.topk(1).indices.tolist() == 0
    assert s.gather(0, tg.tensor(0)).tolist() == 5.0 and s.flip(0).shape == ()
    assert s.repeat(2, 3).shape == (2, 3) and ops.stack([s, s]).shape == (2,)
    assert [i.tolist() for i in ops.where(Tensor(np.array(True)))] == [[0]]
    with pytest.raises(IndexError, match="unbind: a 0-d tensor has no axis"):
        s.unbind()
    with pytest.raises(IndexError, match="roll: a 0-d tensor has no dim 0"):
        s.roll(1, 0)


def test_scatter_add_of_rows_equals_numpys_add_at_with_repeats_and_negatives():
    """The embedding's gradient (rows added by an integer array, sorted and summed with
    reduceat) against np.add.at, which adds one element at a time."""
    from tinygrad_edu.ops import scatter_add

    rng = np.random.default_rng(0)
    for shape, index_shape in [((27, 27), (32, 16)), ((5,), (7,)), ((6, 3, 2), (4,))]:
        index = rng.integers(-shape[0], shape[0], index_shape)  # repeats and negatives
        grad = rng.standard_normal(index_shape + shape[1:])
        expected = np.zeros(shape)
        np.add.at(expected, index, grad)
        np.testing.assert_allclose(scatter_add(grad, index, shape), expected, rtol=1e-12,
                                   atol=1e-12)
    with pytest.raises(IndexError, match="index 5 is out of bounds for axis 0 with size 4"):
        scatter_add(np.ones((2, 3)), np.array([0, 5]), (4, 3))
