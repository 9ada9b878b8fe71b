"""Making tensors, as PyTorch's factory functions do: `tg.zeros(2, 3)`, `tg.full((2, 3), 7)`,
`tg.zeros_like(x)`, `tg.linspace(0, 1, 5)`, `tg.from_numpy(a)`, `tg.randint(0, 10, (3,))`,
`tg.multinomial(probs, 1)`, `tg.one_hot(labels, 10)`, …

They take PyTorch's arguments: a size as `zeros(2, 3)` or `zeros((2, 3))`, and the keywords
`dtype=` (a numpy dtype; floats are float32 unless it says otherwise), `requires_grad=` and
`device=` (accepted when it names the CPU: this library runs on numpy). The random ones
draw from the generator `tg.manual_seed` seeds, or from `generator=` / `seed=` (an int or
a numpy Generator), so a seeded program draws the same numbers every run.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.tensor import (
    DEFAULT_DTYPE,
    Tensor,
    _describe,
    _new_shape,
    check_device,
    derived,
)
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None
_NUMBER = (bool, int, float, np.bool_, np.integer, np.floating)

__all__ = [
    "arange", "empty", "eye", "from_numpy", "full", "full_like", "linspace", "multinomial",
    "one_hot", "ones", "ones_like", "rand", "rand_like", "randint", "randn", "randn_like",
    "zeros", "zeros_like",
]


# ----------------------------------------------------------------------------------------
# The arguments every factory shares
# ----------------------------------------------------------------------------------------
def _dtype(op: str, dtype: Any, default: Any = DEFAULT_DTYPE) -> np.dtype:
    """`dtype=` as a numpy dtype (the default when None), or a TypeError naming the op."""
    if dtype is None:
        return np.dtype(default)
    try:
        chosen = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: dtype {dtype!r} is not a numpy dtype; give e.g. np.float32, "
                        "np.int64 or 'float64'") from None
    if chosen.kind not in "biuf":
        raise TypeError(f"{op}: dtype {chosen} is not a real number type; tensors hold bool, "
                        "int or float")
    return chosen


def _float_dtype(op: str, dtype: Any, default: Any = DEFAULT_DTYPE) -> np.dtype:
    """As `_dtype`, for random samples, which are floats."""
    chosen = _dtype(op, dtype, default)
    if chosen.kind != "f":
        raise TypeError(f"{op}: samples of this distribution are floats, dtype {chosen} is "
                        "not a float type (pass dtype=np.float32; randint draws integers)")
    return chosen


def _seed(op: str, generator: Seed, seed: Seed) -> np.random.Generator:
    """The numpy Generator to draw from: `generator=` (PyTorch's name) or `seed=`."""
    if generator is not None and seed is not None:
        raise TypeError(f"{op}: give generator= or seed=, not both")
    return random_generator(seed if generator is None else generator)


def _size(op: str, size: Any) -> tuple[int, ...]:
    """A size given as one argument: a tuple or list of lengths (or a single length)."""
    return _new_shape(op, (size,))


def _number(op: str, name: str, value: Any) -> Any:
    """A number argument (a one-element Tensor gives its value), or a TypeError."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.item()
    if not isinstance(value, _NUMBER):
        raise TypeError(f"{op}: {name} must be a number, got {_describe(value)}")
    return value


def _source(op: str, input: Any) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a `*_like` function copies."""
    if not isinstance(input, (Tensor, np.ndarray)):
        raise TypeError(f"{op}: input must be a Tensor, got {_describe(input)}")
    return input.shape, input.dtype


# ----------------------------------------------------------------------------------------
# Constant tensors (the Tensor classmethods, with PyTorch's keywords)
# ----------------------------------------------------------------------------------------
def zeros(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor of zeros: `zeros(2, 3)` or `zeros((2, 3))`."""
    check_device("zeros", device)
    return Tensor.zeros(*_new_shape("zeros", size), dtype=_dtype("zeros", dtype),
                        requires_grad=requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of ones: `ones(2, 3)` or `ones((2, 3))`."""
    check_device("ones", device)
    return Tensor.ones(*_new_shape("ones", size), dtype=_dtype("ones", dtype),
                       requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """A tensor whose values are not to be read before they are set (PyTorch leaves them
    unspecified; here they are zeros, so a mistake cannot show old memory)."""
    check_device("empty", device)
    return Tensor.zeros(*_new_shape("empty", size), dtype=_dtype("empty", dtype),
                        requires_grad=requires_grad)


def full(size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor of `size` filled with `fill_value`; its dtype follows the value as in
    PyTorch (a bool: bool, an int: int64, a float: float32) unless dtype= says."""
    check_device("full", device)
    value = _number("full", "fill_value", fill_value)
    default = (np.bool_ if isinstance(value, (bool, np.bool_)) else
               np.int64 if isinstance(value, (int, np.integer)) else DEFAULT_DTYPE)
    data = np.full(_size("full", size), value, _dtype("full", dtype, default))
    return Tensor(data, requires_grad=requires_grad)


def eye(n: int, m: int | None = None, *, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    """The n×m identity matrix (n×n without m)."""
    check_device("eye", device)
    _new_shape("eye", (n,) if m is None else (n, m))
    return Tensor.eye(n, m, dtype=_dtype("eye", dtype), requires_grad=requires_grad)


def arange(start: Any, end: Any = None, step: Any = 1, *, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """Evenly spaced values in [start, end): `arange(5)` is 0 … 4; all-integer arguments
    give int64, others float32, as in PyTorch."""
    check_device("arange", device)
    if end is None:  # arange(end)
        start, end = 0, start
    first, last = _number("arange", "start", start), _number("arange", "end", end)
    stride = _number("arange", "step", step)
    if stride == 0:
        raise ValueError("arange: step must be nonzero")
    if (last - first) * stride < 0:
        raise ValueError(f"arange: from {first} to {last} with step {stride} never arrives: "
                         "the step's sign must point from start to end")
    chosen = None if dtype is None else _dtype("arange", dtype)
    return Tensor.arange(first, last, stride, dtype=chosen, requires_grad=requires_grad)


def linspace(start: Any, end: Any, steps: int, *, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    """`steps` evenly spaced values from start to end, both included (float32 by default)."""
    check_device("linspace", device)
    first, last = _number("linspace", "start", start), _number("linspace", "end", end)
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise (ValueError if isinstance(steps, (int, np.integer)) else TypeError)(
            f"linspace: steps must be a whole number ≥ 0, got {_describe(steps)}")
    count = int(steps)
    # As PyTorch: the first half counts up from start and the second half down from end,
    # so both ends are exact and the spacing is symmetric (one step: just start).
    index = np.arange(count)
    spacing = (last - first) / max(count - 1, 1)
    values = np.where(index < max(count // 2, 1), first + spacing * index,
                      last - spacing * (count - 1 - index))
    return Tensor(values.astype(_dtype("linspace", dtype)), requires_grad=requires_grad)


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing the array's memory and keeping its dtype (changing one changes the
    other), as torch.from_numpy."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy array, got {_describe(ndarray)}; "
                        "tg.tensor(...) makes a tensor of lists and numbers")
    if ndarray.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: an array of {ndarray.dtype} cannot be a tensor; "
                        "tensors hold bool, int or float")
    return Tensor(ndarray)


# ----------------------------------------------------------------------------------------
# Copying another tensor's shape (and dtype, unless dtype= is given)
# ----------------------------------------------------------------------------------------
def zeros_like(input: Any, *, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    """Zeros of input's shape and dtype."""
    return _filled_like("zeros_like", input, 0, dtype, device, requires_grad)


def ones_like(input: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """Ones of input's shape and dtype."""
    return _filled_like("ones_like", input, 1, dtype, device, requires_grad)


def full_like(input: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    """`fill_value` in input's shape and dtype (cast to it: 2.7 in an int tensor is 2)."""
    value = _number("full_like", "fill_value", fill_value)
    return _filled_like("full_like", input, value, dtype, device, requires_grad)


def _filled_like(op: str, input: Any, value: Any, dtype: Any, device: Any,
                 requires_grad: bool) -> Tensor:
    check_device(op, device)
    shape, own = _source(op, input)
    return Tensor(np.full(shape, value, _dtype(op, dtype, own)), requires_grad=requires_grad)


def rand_like(input: Any, *, generator: Seed = None, seed: Seed = None, dtype: Any = None,
              device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1) in input's shape and (float) dtype."""
    check_device("rand_like", device)
    shape, own = _source("rand_like", input)
    return rand(shape, generator=_seed("rand_like", generator, seed),
                dtype=_float_dtype("rand_like", dtype, own), requires_grad=requires_grad)


def randn_like(input: Any, *, generator: Seed = None, seed: Seed = None, dtype: Any = None,
               device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples in input's shape and (float) dtype."""
    check_device("randn_like", device)
    shape, own = _source("randn_like", input)
    return randn(shape, generator=_seed("randn_like", generator, seed),
                 dtype=_float_dtype("randn_like", dtype, own), requires_grad=requires_grad)


# ----------------------------------------------------------------------------------------
# Random tensors
# ----------------------------------------------------------------------------------------
def rand(*size: Any, generator: Seed = None, seed: Seed = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Samples of the uniform distribution on [0, 1): `rand(2, 3)`."""
    check_device("rand", device)
    return Tensor.rand(*_new_shape("rand", size), dtype=_float_dtype("rand", dtype),
                       seed=_seed("rand", generator, seed), requires_grad=requires_grad)


def randn(*size: Any, generator: Seed = None, seed: Seed = None, dtype: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Samples of the standard normal distribution N(0, 1): `randn(2, 3)`."""
    check_device("randn", device)
    return Tensor.randn(*_new_shape("randn", size), dtype=_float_dtype("randn", dtype),
                        seed=_seed("randn", generator, seed), requires_grad=requires_grad)


def randint(low: Any, high: Any = None, size: Any = None, *, generator: Seed = None,
            seed: Seed = None, dtype: Any = None, device: Any = None,
            requires_grad: bool = False) -> Tensor:
    """Whole numbers drawn uniformly from [low, high), int64: `randint(0, 10, (3,))`, or
    `randint(10, (3,))` with low = 0, as in PyTorch."""
    check_device("randint", device)
    if size is None and isinstance(high, (tuple, list)):  # randint(high, size)
        low, high, size = 0, low, high
    elif high is None:  # randint(high, size=…)
        low, high = 0, low
    if size is None:
        raise TypeError("randint: give a size, e.g. randint(0, 10, (3,))")
    for name, value in (("low", low), ("high", high)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)):
            raise TypeError(f"randint: {name} must be a whole number, got {_describe(value)}")
    if low >= high:
        raise RuntimeError(f"randint: low ({low}) must be below high ({high}): the numbers "
                           "are drawn from [low, high)")
    shape = _size("randint", size)
    numbers = _seed("randint", generator, seed).integers(low, high, shape, dtype=np.int64)
    return Tensor(numbers.astype(_dtype("randint", dtype, np.int64)),
                  requires_grad=requires_grad)


def multinomial(input: Any, num_samples: int, replacement: bool = False, *,
                generator: Seed = None, seed: Seed = None) -> Tensor:
    """Indices drawn from the distribution(s) in `input`, as torch.multinomial.

    `input` holds non-negative weights (they need not sum to 1): one distribution (1-D,
    giving `num_samples` indices) or one per row (2-D, giving a row of indices each). With
    `replacement=False` an index is drawn at most once per row. Returns int64.
    """
    probs = _distributions(input, num_samples, replacement)
    rng = _seed("multinomial", generator, seed)
    rows = np.atleast_2d(probs).astype(np.float64)
    if replacement:  # each draw: where a uniform number falls among the cumulative weights
        drawn = np.empty((len(rows), num_samples), np.int64)
        for row, weights in zip(drawn, rows, strict=True):
            cumulative = np.cumsum(weights)
            row[:] = np.searchsorted(cumulative, rng.random(num_samples) * cumulative[-1],
                                     side="right")
            np.minimum(row, np.flatnonzero(weights)[-1], out=row)  # (a rounded-up last draw)
    else:  # exponential clocks of rates p: the order they ring in is a draw without
        with np.errstate(divide="ignore"):  # replacement (PyTorch's method too)
            keys = rows / rng.exponential(size=rows.shape)
        drawn = np.argsort(-keys, axis=-1, kind="stable")[:, :num_samples].astype(np.int64)
    return Tensor(drawn if probs.ndim == 2 else drawn[0])


def _distributions(input: Any, num_samples: int, replacement: bool) -> np.ndarray:
    """multinomial's weights as an array, with PyTorch's checks of them."""
    if not isinstance(input, (Tensor, np.ndarray)):
        raise TypeError(f"multinomial: input must be a Tensor of weights, got "
                        f"{_describe(input)}")
    probs = input.data if isinstance(input, Tensor) else input
    if probs.dtype.kind != "f":
        raise RuntimeError(f"multinomial: the weights must be floats, got {probs.dtype}; "
                           "convert first, e.g. x.float()")
    if probs.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: the weights must be 1-D (one distribution) or 2-D "
                           f"(one per row), got shape {probs.shape}")
    if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool):
        raise TypeError(f"multinomial: num_samples must be a whole number, got "
                        f"{_describe(num_samples)}")
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot draw {num_samples} samples; num_samples "
                           "must be ≥ 1")
    if not replacement and num_samples > probs.shape[-1]:
        raise RuntimeError(f"multinomial: cannot draw {num_samples} samples without "
                           f"replacement from {probs.shape[-1]} categories; pass "
                           "replacement=True or draw fewer")
    if not np.all(np.isfinite(probs)) or np.any(probs < 0):
        raise RuntimeError("multinomial: the weights contain inf, nan or a negative number; "
                           "they must be finite and ≥ 0")
    if (probs.ndim == 1 or len(probs)) and np.any(probs.sum(axis=-1) <= 0):
        raise RuntimeError("multinomial: a distribution's weights sum to 0; each row needs "
                           "a positive weight")
    return probs


# ----------------------------------------------------------------------------------------
# One-hot rows from class indices
# ----------------------------------------------------------------------------------------
def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """Class indices as one-hot rows, as F.one_hot: shape (*tensor.shape, num_classes),
    int64, a 1 at each index. num_classes=-1 takes the largest index + 1."""
    if not isinstance(tensor, (Tensor, np.ndarray)):
        raise TypeError(f"one_hot: tensor must be a Tensor of class indices, got "
                        f"{_describe(tensor)}")
    labels = tensor.data if isinstance(tensor, Tensor) else tensor
    if labels.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: class indices must be integers, got {labels.dtype}; "
                           "make them with tg.tensor([...]) or convert, e.g. x.to(np.int64)")
    if not isinstance(num_classes, (int, np.integer)) or isinstance(num_classes, bool):
        raise TypeError(f"one_hot: num_classes must be a whole number, got "
                        f"{_describe(num_classes)}")
    if num_classes == -1 and labels.size == 0:
        raise RuntimeError("one_hot: cannot infer the number of classes from an empty "
                           "tensor; pass num_classes=")
    if num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be ≥ 0 (or -1), got {num_classes}")
    source = tensor if isinstance(tensor, Tensor) else Tensor._wrap(labels)
    # derived: a jit replay computes the rows (and makes the checks) from its own labels
    return derived(lambda values: _one_hot_rows(values, num_classes), source)


def _one_hot_rows(labels: np.ndarray, num_classes: int) -> np.ndarray:
    if num_classes == -1:
        num_classes = int(labels.max()) + 1
    if labels.size and labels.min() < 0:
        raise RuntimeError(f"one_hot: class values must be ≥ 0, got {labels.min()}")
    if labels.size and labels.max() >= num_classes:
        raise RuntimeError(f"one_hot: class values must be smaller than num_classes = "
                           f"{num_classes}, got {labels.max()}")
    return np.eye(num_classes, dtype=np.int64)[labels]
