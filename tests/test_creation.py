"""Making tensors (tinygrad_edu/creation.py): PyTorch's factory functions, their dtypes and
values against PyTorch's, seeding as `tg.manual_seed`, and the errors wrong inputs get."""

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu import Tensor
from tinygrad_edu import creation as C


def same_dtype(ours: Tensor, theirs) -> bool:
    """Our numpy dtype is PyTorch's (which prints as 'torch.float32')."""
    return ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))


# --- constant tensors: shapes, dtypes and values as PyTorch's --------------------------------
# (ours, PyTorch's): the same call in both spellings
AGAINST_TORCH = {
    "zeros": (lambda: C.zeros(2, 3), lambda T: T.zeros(2, 3)),
    "zeros_tuple": (lambda: C.zeros((2, 3), dtype=np.int32), lambda T: T.zeros((2, 3),
                                                                             dtype=T.int32)),
    "zeros_scalar": (lambda: C.zeros(()), lambda T: T.zeros(())),
    "zeros_empty": (lambda: C.zeros(0, 3), lambda T: T.zeros(0, 3)),
    "ones": (lambda: C.ones([2, 1], dtype=np.float64), lambda T: T.ones([2, 1],
                                                                       dtype=T.float64)),
    "empty": (lambda: C.empty(2, 3).shape, lambda T: T.empty(2, 3).shape),
    "full_int": (lambda: C.full((2,), 3), lambda T: T.full((2,), 3)),
    "full_bool": (lambda: C.full((2, 2), True), lambda T: T.full((2, 2), True)),
    "full_float": (lambda: C.full([3], -1.5), lambda T: T.full([3], -1.5)),
    "full_dtype": (lambda: C.full((2,), 2.7, dtype=np.int64), lambda T: T.full((2,), 2.7,
                                                                              dtype=T.int64)),
    "eye": (lambda: C.eye(3), lambda T: T.eye(3)),
    "eye_rectangle": (lambda: C.eye(2, 4, dtype=np.int64), lambda T: T.eye(2, 4,
                                                                          dtype=T.int64)),
    "arange": (lambda: C.arange(5), lambda T: T.arange(5)),
    "arange_step": (lambda: C.arange(1, 10, 3), lambda T: T.arange(1, 10, 3)),
    "arange_down": (lambda: C.arange(5, -3, -2), lambda T: T.arange(5, -3, -2)),
    "arange_float": (lambda: C.arange(0, 1, 0.25), lambda T: T.arange(0, 1, 0.25)),
    "arange_dtype": (lambda: C.arange(4, dtype=np.float64), lambda T: T.arange(
        4, dtype=T.float64)),
    "linspace_int_dtype": (lambda: C.linspace(-7, 10, 6, dtype=np.int64),
                           lambda T: T.linspace(-7, 10, 6, dtype=T.int64)),
    "linspace_one": (lambda: C.linspace(2, 5, 1), lambda T: T.linspace(2, 5, 1)),
    "linspace_none": (lambda: C.linspace(2, 5, 0), lambda T: T.linspace(2, 5, 0)),
    "zeros_like": (lambda: C.zeros_like(tg.tensor([1, 2], dtype=np.int32)),
                   lambda T: T.zeros_like(T.tensor([1, 2], dtype=T.int32))),
    "ones_like_dtype": (lambda: C.ones_like(tg.tensor([1, 2]), dtype=np.float64),
                        lambda T: T.ones_like(T.tensor([1, 2]), dtype=T.float64)),
    "full_like_truncates": (lambda: C.full_like(tg.tensor([1, 2]), 2.7),
                            lambda T: T.full_like(T.tensor([1, 2]), 2.7)),
    "full_like_float": (lambda: C.full_like(Tensor(np.ones((2, 2))), 0.5),
                        lambda T: T.full_like(T.ones(2, 2, dtype=T.float64), 0.5)),
    "one_hot": (lambda: C.one_hot(tg.tensor([0, 2, 1])),
                lambda T: T.nn.functional.one_hot(T.tensor([0, 2, 1]))),
    "one_hot_classes": (lambda: C.one_hot(tg.tensor([[0, 1], [3, 0]]), 5),
                        lambda T: T.nn.functional.one_hot(T.tensor([[0, 1], [3, 0]]), 5)),
    "one_hot_scalar": (lambda: C.one_hot(tg.tensor(2), 3),
                       lambda T: T.nn.functional.one_hot(T.tensor(2), 3)),
    "one_hot_empty": (lambda: C.one_hot(tg.tensor(np.zeros(0, np.int64)), 3),
                      lambda T: T.nn.functional.one_hot(T.zeros(0, dtype=T.int64), 3)),
}


@pytest.mark.parametrize("name", AGAINST_TORCH)
def test_values_and_dtypes_equal_pytorchs(name, torch):
    ours, theirs = AGAINST_TORCH[name]
    result, reference = ours(), theirs(torch)
    if isinstance(result, tuple):  # (shapes only: the values of empty are unspecified)
        assert result == tuple(reference)
        return
    assert result.shape == tuple(reference.shape) and same_dtype(result, reference)
    np.testing.assert_array_equal(result.data, reference.numpy())


@pytest.mark.parametrize(("start", "end", "steps"), [(0, 1, 5), (-3.3, 7.1, 50), (1e3, -2.7, 101),
                                                      (0.1, 0.7, 2), (2, 2, 4)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linspace_equals_pytorchs_with_both_ends_exact(start, end, steps, dtype, torch):
    ours = C.linspace(start, end, steps, dtype=dtype)
    theirs = torch.linspace(start, end, steps, dtype=getattr(torch, np.dtype(dtype).name))
    assert same_dtype(ours, theirs) and ours.shape == (steps,)
    scale = max(abs(start), abs(end))  # (rounding errors are of the ends' size, also near 0)
    precision = 1e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=precision, atol=precision * scale)
    assert ours.data[0] == dtype(start) and ours.data[-1] == dtype(end)
    assert C.linspace(start, end, steps).dtype == np.float32  # floats are float32 by default


def test_factories_take_requires_grad_and_the_cpu_as_device():
    for device in (None, "cpu", "cpu:0"):
        x = C.ones(2, 3, device=device, requires_grad=True)
        assert x.requires_grad and x.is_leaf
    (C.full((2,), 3.0, requires_grad=True) * 2).sum().backward()
    for make in (C.zeros_like, C.ones_like, C.rand_like, C.randn_like):
        assert make(Tensor([1.0, 2.0]), requires_grad=True, device="cpu").requires_grad


def test_from_numpy_shares_memory_and_keeps_the_dtype():
    for dtype in (np.float64, np.float16, np.int32, np.uint8, np.bool_):
        array = np.zeros(3, dtype)
        t = C.from_numpy(array)
        assert t.dtype == dtype and np.shares_memory(t.data, array)
        array[1] = 1
        assert t.data[1] == 1  # changing the array changes the tensor


def test_the_like_functions_copy_shape_and_dtype_unless_told():
    x = Tensor(np.ones((2, 3), np.float64))
    for made in (C.zeros_like(x), C.ones_like(x), C.full_like(x, 7), C.rand_like(x),
                 C.randn_like(x)):
        assert made.shape == (2, 3) and made.dtype == np.float64 and not made.requires_grad
    assert C.rand_like(x, dtype=np.float32).dtype == np.float32
    assert C.zeros_like(tg.tensor([True])).dtype == np.bool_


# --- random tensors: seeded as tg.manual_seed, generator= or seed= --------------------------
RANDOM = {
    "rand": lambda **seed: C.rand(2, 3, **seed),
    "randn": lambda **seed: C.randn((2, 3), **seed),
    "randint": lambda **seed: C.randint(0, 100, (2, 3), **seed),
    "rand_like": lambda **seed: C.rand_like(Tensor(np.ones((2, 3))), **seed),
    "randn_like": lambda **seed: C.randn_like(Tensor(np.ones((2, 3))), **seed),
    "multinomial": lambda **seed: C.multinomial(Tensor(np.ones((2, 50))), 3, **seed),
    "Tensor.multinomial": lambda **seed: Tensor(np.ones(50)).multinomial(40, True, **seed),
}


@pytest.mark.parametrize("name", RANDOM)
def test_random_tensors_are_seeded_as_manual_seed_and_by_seed_or_generator(name):
    draw = RANDOM[name]
    tg.manual_seed(3)
    first = draw().data
    tg.manual_seed(3)
    np.testing.assert_array_equal(draw().data, first)
    assert not np.array_equal(draw().data, first)  # the stream moves on
    np.testing.assert_array_equal(draw(seed=5).data, draw(generator=5).data)
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(draw(generator=rng_a).data, draw(seed=rng_b).data)
    with pytest.raises(TypeError, match=f"{name.removeprefix('Tensor.')}: give generator= or "
                       "seed=, not both"):
        draw(seed=1, generator=2)


def test_randint_takes_pytorchs_three_spellings_and_gives_int64():
    for made in (C.randint(10, (3, 4)), C.randint(3, 10, (3, 4)), C.randint(3, 10, size=(3, 4)),
                 C.randint(10, size=(3, 4))):
        assert made.shape == (3, 4) and made.dtype == np.int64
    many = C.randint(3, 7, (10_000,), seed=0).data
    assert set(np.unique(many)) == {3, 4, 5, 6}  # [low, high): high itself never
    assert C.randint(0, 2, (3,), dtype=np.float32).dtype == np.float32


def test_rand_and_randn_draw_from_their_distributions():
    uniform, normal = C.rand(100_000, seed=0).data, C.randn(100_000, seed=0).data
    assert uniform.dtype == normal.dtype == np.float32
    assert 0 <= uniform.min() and uniform.max() < 1 and abs(uniform.mean() - 0.5) < 0.01
    assert abs(normal.mean()) < 0.02 and abs(normal.std() - 1) < 0.02


# --- multinomial -------------------------------------------------------------------------------
def test_multinomial_with_replacement_draws_each_index_as_often_as_its_weight_says():
    weights = np.array([0.0, 1.0, 3.0, 6.0])  # need not sum to 1
    drawn = C.multinomial(Tensor(weights), 100_000, replacement=True, seed=0)
    assert drawn.dtype == np.int64 and drawn.shape == (100_000,)
    frequencies = np.bincount(drawn.data, minlength=4) / drawn.numel()
    assert frequencies[0] == 0  # a weight of 0 is never drawn
    np.testing.assert_allclose(frequencies, weights / weights.sum(), atol=0.01)


def test_multinomial_without_replacement_draws_each_index_once_heavier_ones_first():
    weights = np.tile([[5.0, 0.0, 1.0, 4.0]], (20_000, 1))  # one distribution per row
    drawn = C.multinomial(Tensor(weights), 3, seed=0).data
    assert drawn.shape == (20_000, 3) and drawn.dtype == np.int64
    assert all(len(set(row)) == 3 for row in drawn[:500])
    assert not np.any(drawn == 1)  # weight 0: never while a positive weight is left
    first = np.bincount(drawn[:, 0], minlength=4) / len(drawn)
    np.testing.assert_allclose(first, [0.5, 0.0, 0.1, 0.4], atol=0.015)
    # with every positive weight used up, PyTorch goes on with the zero ones, and so do we
    np.testing.assert_array_equal(C.multinomial(Tensor([0.0, 0.0, 1.0]), 3, seed=0).data[0], 2)


def test_multinomial_gives_a_row_of_indices_per_distribution_as_pytorch(torch):
    probabilities = np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]], np.float32)
    for replacement in (False, True):
        ours = Tensor(probabilities).multinomial(1, replacement)
        theirs = torch.from_numpy(probabilities).multinomial(1, replacement)
        assert same_dtype(ours, theirs)
        np.testing.assert_array_equal(ours.data, theirs.numpy())  # (certain outcomes)
    assert C.multinomial(Tensor(np.ones((0, 3))), 2).shape == (0, 2)


# --- wrong inputs ----------------------------------------------------------------------------
@pytest.mark.parametrize(("call", "error", "message"), [
    ("C.zeros(-1)", ValueError, r"zeros: size -1 is negative; sizes must be ≥ 0"),
    ("C.ones(2, -3)", ValueError, r"ones: size -3 is negative"),
    ("C.empty(2.5)", TypeError, r"empty: sizes must be whole numbers, got float 2.5"),
    ("C.full((2, -1), 1.0)", ValueError, r"full: size -1 is negative"),
    ("C.full((2,), 'a')", TypeError, r"full: fill_value must be a number, got str 'a'"),
    ("C.eye(-1)", ValueError, r"eye: size -1 is negative"),
    ("C.rand(-2)", ValueError, r"rand: size -2 is negative"),
    ("C.randn(2, 'x')", TypeError, r"randn: sizes must be whole numbers"),
    ("C.zeros(2, device='cuda')", ValueError, r"zeros: device 'cuda' is not available: "
     "tinygrad_edu runs on numpy, on the CPU"),
    ("C.randn_like(Tensor([1.0]), device='cuda:0')", ValueError, r"randn_like: device 'cuda:0' "
     "is not available"),
    ("C.zeros(2, dtype='text')", TypeError, r"zeros: dtype 'text' is not a numpy dtype"),
    ("C.ones(2, dtype=np.complex64)", TypeError, r"ones: dtype complex64 is not a real number "
     "type"),
    ("C.rand(2, dtype=np.int64)", TypeError, r"rand: samples of this distribution are floats, "
     "dtype int64 is not a float type"),
    ("C.rand_like(tg.tensor([1, 2]))", TypeError, r"rand_like: samples of this distribution "
     "are floats, dtype int64"),
    ("C.zeros(2, requires_grad=True, dtype=np.int64)", TypeError, r"only floating-point "
     "tensors can require grad"),
    ("C.zeros_like([1, 2])", TypeError, r"zeros_like: input must be a Tensor, got list"),
    ("C.arange(0, 5, 0)", ValueError, r"arange: step must be nonzero"),
    ("C.arange(5, 0)", ValueError, r"arange: from 5 to 0 with step 1 never arrives"),
    ("C.arange('a')", TypeError, r"arange: end must be a number, got str 'a'"),  # arange(end)
    ("C.arange(0, 2, [1])", TypeError, r"arange: step must be a number, got list"),
    ("C.linspace(0, 1, -1)", ValueError, r"linspace: steps must be a whole number ≥ 0, got int -1"),
    ("C.linspace(0, 1, 2.5)", TypeError, r"linspace: steps must be a whole number ≥ 0, got "
     "float 2.5"),
    ("C.from_numpy([1, 2])", TypeError, r"from_numpy: expected a numpy array, got list"),
    ("C.from_numpy(np.array(['a']))", TypeError, r"from_numpy: an array of <U1 cannot be a "
     "tensor"),
    ("C.randint(5, 5, (2,))", RuntimeError, r"randint: low \(5\) must be below high \(5\)"),
    ("C.randint(2.5, (2,))", TypeError, r"randint: high must be a whole number, got float 2.5"),
    ("C.randint(10)", TypeError, r"randint: give a size, e.g. randint\(0, 10, \(3,\)\)"),
    ("C.randint(0, 10, (-1,))", ValueError, r"randint: size -1 is negative"),
    ("C.multinomial(Tensor([0.2, 0.8]), 3)", RuntimeError, r"multinomial: cannot draw 3 samples "
     "without replacement from 2 categories; pass replacement=True"),
    ("C.multinomial(Tensor([0.2, 0.8]), 0)", RuntimeError, r"multinomial: cannot draw 0 samples"),
    ("C.multinomial(Tensor([0.2, 0.8]), 1.0)", TypeError, r"multinomial: num_samples must be a "
     "whole number, got float 1.0"),
    ("C.multinomial(Tensor([0.2, -0.8]), 1)", RuntimeError, r"multinomial: the weights contain "
     "inf, nan or a negative number"),
    ("C.multinomial(Tensor([np.nan, 1.0]), 1)", RuntimeError, r"the weights contain inf, nan"),
    ("C.multinomial(Tensor([[1.0, 1.0], [0.0, 0.0]]), 1)", RuntimeError,
     r"multinomial: a distribution's weights sum to 0"),
    ("C.multinomial(Tensor(np.zeros((2, 0))), 1, True)", RuntimeError, r"weights sum to 0"),
    ("C.multinomial(tg.tensor([1, 2]), 1)", RuntimeError, r"multinomial: the weights must be "
     "floats, got int64"),
    ("C.multinomial(Tensor(np.ones((2, 2, 2))), 1)", RuntimeError, r"multinomial: the weights "
     r"must be 1-D \(one distribution\) or 2-D \(one per row\), got shape \(2, 2, 2\)"),
    ("C.multinomial([0.5, 0.5], 1)", TypeError, r"multinomial: input must be a Tensor of "
     "weights, got list"),
    ("Tensor(1.0).multinomial(1)", RuntimeError, r"multinomial: the weights must be 1-D"),
    ("C.one_hot(tg.tensor([0, -2, 1]), 5)", RuntimeError, r"one_hot: class values must be ≥ 0, "
     "got -2"),
    ("C.one_hot(tg.tensor([0, 2, 1]), 2)", RuntimeError, r"one_hot: class values must be "
     "smaller than num_classes = 2, got 2"),
    ("C.one_hot(Tensor([0.0, 1.0]))", RuntimeError, r"one_hot: class indices must be integers, "
     "got float32; make them with tg.tensor"),
    ("C.one_hot(tg.tensor([True]))", RuntimeError, r"class indices must be integers, got bool"),
    ("C.one_hot(tg.tensor(np.zeros(0, np.int64)))", RuntimeError, r"one_hot: cannot infer the "
     "number of classes from an empty tensor; pass num_classes="),
    ("C.one_hot(tg.tensor([0]), 2.0)", TypeError, r"one_hot: num_classes must be a whole "
     "number, got float 2.0"),
    ("C.one_hot([0, 1])", TypeError, r"one_hot: tensor must be a Tensor of class indices, got "
     "list"),
])
def test_wrong_inputs_get_errors_naming_the_op(call, error, message):
    with pytest.raises(error, match=message):
        eval(call, {"C": C, "Tensor": Tensor, "tg": tg, "np": np})


def test_one_hot_accepts_any_integer_dtype_and_gives_int64():
    # (PyTorch takes int64 only; numpy labels often come as int32 or uint8, so we take those)
    for dtype in (np.int32, np.uint8, np.int64):
        made = C.one_hot(Tensor(np.array([1, 0], dtype)), 3)
        assert made.dtype == np.int64
        np.testing.assert_array_equal(made.data, [[0, 1, 0], [1, 0, 0]])
