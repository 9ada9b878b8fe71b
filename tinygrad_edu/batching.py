"""vmap's batching rules: one call of a function on a whole batch instead of one per item.

Inside `func.vmap`, a batched argument is a `Batched` tensor: its `value` holds every
item's values along a first, hidden axis, and its `shape` is one item's (what the function
sees). Every op on a Batched tensor comes here (`Function.apply` hands it over) and runs
its **batching rule**: the same op, or a few, on the values with the batch axis in front.
An elementwise op just needs the item axes lined up (`x + y` of shapes (B, 3) and (3,)
broadcasts as it should); a reduction over axis k of an item reduces axis k + 1 of the
values; a matrix product turns into a batched product. The rules call ordinary ops on
ordinary tensors, so the graph that backward() walks is an ordinary graph of the whole
batch, and vmap composes with grad and backward() for free.

Ops without a rule here run once per item and are stacked (the loop fallback), so every
op works inside vmap; `NATIVE` lists the ops that batch natively. What cannot be batched
at all — reading a batched tensor's values in Python (`.data`, `.item()`, `if x > 0`),
backward() inside the function, changing a batched tensor in place — raises
`NotBatchableError`, and vmap then runs the function once per item instead.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import itertools
import math
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeGuard

import numpy as np

from tinygrad_edu import ops, utils
from tinygrad_edu.ops.shape import stack
from tinygrad_edu.tensor import Function, Tensor

engine = importlib.import_module("tinygrad_edu.tensor")  # (tg.tensor is the function)

__all__ = ["NATIVE", "Batched", "NotBatchableError", "RandomnessError", "is_batched",
           "level_of"]


class NotBatchableError(Exception):
    """The function does something that cannot run on a whole batch at once (it reads a
    batched tensor's values in Python, say): vmap falls back to one call per item."""


class RandomnessError(RuntimeError):
    """A random draw inside a function that vmap maps with randomness="error"."""

    def __init__(self) -> None:
        super().__init__(
            "vmap: random numbers were drawn inside a function mapped with "
            "randomness='error' (the default, as in PyTorch); pass randomness='different' "
            "to give each item its own numbers, or 'same' for one draw every item shares")


def draws(randomness: str) -> contextlib.AbstractContextManager[None]:
    """What a random draw does while a function runs under vmap: "error" raises
    RandomnessError; "different" and "same" draw (see `Batching` for the batched call)."""
    return _Refusing(RandomnessError if randomness == "error" else None)


class _Refusing:
    """While inside: a random draw raises `refusal` (None: draws as usual). A class, not a
    generator: vmap enters one at every call (about 1 µs less, measured)."""

    def __init__(self, refusal: type[Exception] | None) -> None:
        self.refusal = refusal

    def __enter__(self) -> None:
        self.outer = utils._randomness.refused  # (an outer vmap's refusal stays: stricter)
        utils._randomness.refused = self.outer or self.refusal

    def __exit__(self, *exc: object) -> None:
        utils._randomness.refused = self.outer


class Batched(Tensor):
    """A tensor inside vmap: `value` holds the items along its first axis (of size
    `batch_size`); `shape`, `ndim`, `dtype` describe one item, as the function expects.

    They are fields, set once when the tensor is made (every op inside vmap looks at
    them, some several times: a field is read without a call); `.data` gives only the
    item's shape and dtype, and reading the numbers raises NotBatchableError."""

    __slots__ = ("_item", "batch_size", "dtype", "level", "ndim", "shape", "value")
    value: Tensor  # every item's values, the batch axis first
    level: int  # which vmap made it (vmap inside vmap: the inner one has the higher level)
    batch_size: int  # how many items: the length of the values' first axis
    shape: tuple[int, ...]  # type: ignore[assignment]  # one item's (Tensor's are properties)
    ndim: int  # type: ignore[assignment]
    dtype: np.dtype  # type: ignore[assignment]
    _item: _ItemValues | None  # what .data gives, once asked

    def __init__(self, value: Tensor, level: int) -> None:  # (no Tensor.__init__)
        self.value, self.level = value, level
        values = value.data  # (for a Batched value: an outer vmap's item description)
        shape = values.shape
        self.batch_size, self.shape, self.ndim, self.dtype = (
            shape[0], shape[1:], len(shape) - 1, values.dtype)
        self._grad = self._ctx = self._hooks = self._versions = self.name = self._item = None
        self._retains_grad = False
        self._created = next(engine._creation_counter)

    @property
    def data(self) -> Any:  # type: ignore[override]
        """One item's shape and dtype (code may look at them); reading the numbers raises
        NotBatchableError, and vmap runs the function once per item instead. (Made at the
        first look: many batched tensors are never asked.)"""
        if self._item is None:
            self._item = _ItemValues(self.shape, self.dtype)
        return self._item

    @property
    def requires_grad(self) -> bool:  # type: ignore[override]
        """Whether the values require grad (the graph is the values' graph)."""
        return self.value.requires_grad

    def numel(self) -> int:
        """One item's number of elements."""
        return math.prod(self.shape)

    def __len__(self) -> int:
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def backward(self, *args: Any, **kwargs: Any) -> None:
        """Not inside vmap: raises NotBatchableError (vmap then runs once per item)."""
        raise NotBatchableError("backward() was called inside vmap")

    def detach(self) -> Tensor:
        """The items cut from the graph, still batched (the same memory)."""
        return Batched(self.value.detach(), self.level)

    def __repr__(self) -> str:
        return f"Batched(shape={self.shape}, batch_size={self.batch_size}, level={self.level})"


class _ItemValues:
    """What `.data` of a Batched tensor gives: the shape and dtype of one item (code that
    looks at them runs as usual); anything that reads numbers raises NotBatchableError."""

    __slots__ = ("dtype", "ndim", "shape")

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype) -> None:
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    def __getattr__(self, name: str) -> Any:  # (.T, .sum(), .copy(), … of the numbers)
        raise NotBatchableError(f"'.data.{name}' of a batched tensor inside vmap")


def _reads_numbers(self: _ItemValues, *args: Any, **kwargs: Any) -> Any:
    raise NotBatchableError("a batched tensor's values were read inside vmap")


for _method in ("__array__", "__getitem__", "__setitem__", "__iter__", "__len__", "__bool__",
                "__float__", "__int__", "__index__", "__eq__", "__ne__", "__lt__", "__le__",
                "__gt__", "__ge__", "__add__", "__radd__", "__sub__", "__rsub__", "__mul__",
                "__rmul__", "__truediv__", "__rtruediv__", "__neg__", "__pow__", "__matmul__",
                "__iadd__", "__isub__", "__imul__", "__itruediv__", "__array_ufunc__",
                "__array_function__"):
    setattr(_ItemValues, _method, _reads_numbers)


# ----------------------------------------------------------------------------------------
# Entering vmap: Function.apply hands ops with a Batched input to `run`
# ----------------------------------------------------------------------------------------
_levels = itertools.count(1)
_running = 0  # how many vmaps run now, in all threads: the hooks stay while one does
_running_lock = threading.Lock()


_REFUSALS = {"error": RandomnessError, "different": NotBatchableError, "same": None}


class Batching:
    """`with Batching(randomness) as level:` while the function runs on the whole batch,
    ops check their inputs for Batched tensors. Gives the level of this vmap (vmap inside
    vmap: a higher one). A random draw raises RandomnessError ("error"),
    NotBatchableError ("different": one draw would be shared, so vmap runs once per
    item), or is shared by every item ("same")."""

    def __init__(self, randomness: str) -> None:
        self.refusing = _Refusing(_REFUSALS[randomness])

    def __enter__(self) -> int:
        global _running
        with _running_lock:
            _running += 1
            engine._set_batching(run, run_derived)
        self.refusing.__enter__()
        self.level = next(_levels)
        return self.level

    def __exit__(self, *exc: object) -> None:
        global _running
        captured.discard(self.level)
        self.refusing.__exit__()
        with _running_lock:
            _running -= 1
            if _running == 0:
                engine._set_batching(None, None)


def level_of(values: Sequence[Any]) -> tuple[int, int]:
    """(level, batch size) of the innermost vmap that batches one of the values; (0, 0)
    when none is batched."""
    level = size = 0
    for t in values:  # (one plain loop: every op inside vmap passes here)
        if type(t) is Batched and t.level > level:
            level, size = t.level, t.batch_size
    return level, size


def run(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any]) -> Tensor | None:
    """The op on a batch, by its rule (or once per item); None if no input is batched."""
    level, size = level_of(inputs)
    if level == 0:
        return None
    if level not in captured:  # a tensor from outside that requires grad meets the batch?
        for t in inputs:
            if not is_batched(t, level) and t.requires_grad:
                captured.add(level)
                break
    return RULES.get(cls, _loop)(cls, inputs, params, size, level)


captured: set[int] = set()
"""The levels of the vmaps running now whose ops met a tensor that requires grad and is
not batched there (a weight the function captured, or made from one): grad inside vmap
looks for such weights in its graph only then (their gradients must stay differentiable
in them), and skips the walk otherwise."""


def run_derived(compute: Callable[..., np.ndarray], sources: Sequence[Tensor]) -> Tensor | None:
    """A value computed outside the graph (a comparison, a mask, argmax; see tensor.derived)
    from batched sources: computed item by item (numpy only, no gradient), then stacked."""
    level, size = level_of(sources)
    if level == 0:
        return None
    items = [compute(*[t.value.data[b] if is_batched(t, level) else t.data
                       for t in sources]) for b in range(size)]
    return Batched(Tensor._wrap(np.stack(items)), level)


Rule = Callable[[type[Function], Sequence[Tensor], dict[str, Any], int, int], Tensor]


def is_batched(t: Any, level: int) -> TypeGuard[Batched]:
    """Is t batched by the vmap of this level? (A tensor batched by an outer vmap counts
    as unbatched here: its own rules run when the ops below reach it.)"""
    return type(t) is Batched and t.level == level  # (nothing subclasses Batched)


def _whole(t: Tensor, size: int, level: int) -> Tensor:
    """t with the batch axis in front: its values, or an unbatched t repeated size times."""
    if is_batched(t, level):
        return t.value
    return ops.Expand.apply(t.reshape(1, *t.shape), shape=(size, *t.shape))


def _loop(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
          level: int) -> Tensor:
    """The fallback: the op on each item, the results stacked (correct for every op)."""
    items = [cls.apply(*[t.value[b] if is_batched(t, level) else t for t in inputs], **params)
             for b in range(size)]
    return Batched(stack(items), level)


# ----------------------------------------------------------------------------------------
# The rules
# ----------------------------------------------------------------------------------------
def _padded(t: Tensor, ndim: int, level: int) -> Tensor:
    """A batched t's values with ones after the batch axis, up to `ndim` item axes: then
    numpy's broadcasting (from the right) lines them up with unbatched operands."""
    if not is_batched(t, level):
        return t
    if t.ndim == ndim:
        return t.value
    return t.value.reshape(t.value.shape[0], *(1,) * (ndim - t.ndim), *t.shape)


def _elementwise(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any],
                 size: int, level: int) -> Tensor:
    # out[b] = op(x[b], y[b]): the same op, item axes aligned, the batch axis in front
    if len(inputs) == 1 and not params:  # (σ(x), eˣ, …: the op on the values as they are)
        return Batched(cls.apply(inputs[0].value), level)  # type: ignore[attr-defined]
    ndim = max([t.ndim for t in inputs] + [np.ndim(v) for v in params.values()
                                            if isinstance(v, np.ndarray)])
    return Batched(cls.apply(*[_padded(t, ndim, level) for t in inputs], **params), level)


def _axis(axis: Any, ndim: int) -> Any:
    """An item's axis (or axes) as the values' axis: one further right (the batch is 0)."""
    if isinstance(axis, tuple):
        return tuple(a % ndim + 1 for a in axis)
    return axis % ndim + 1


def _reduction(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any],
               size: int, level: int) -> Tensor:
    # out[b] = reduce(x[b], axis): the reduction over the same axes of each item
    x, = inputs
    axis = params.get("axis", _DEFAULT_AXIS[cls])
    if axis is None and cls in _NONE_MEANS_ALL and x.ndim > 0:
        axis = tuple(range(x.ndim))
    if axis is None or x.ndim == 0:  # (a 0-d item: let the op say what it says per item)
        return _loop(cls, inputs, params, size, level)
    return Batched(cls.apply(x.value, **{**params, "axis": _axis(axis, x.ndim)}), level)  # type: ignore[attr-defined]


def _reshape(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
             level: int) -> Tensor:
    # out[b] = x[b].reshape(shape)
    x, = inputs
    return Batched(cls.apply(x.value, shape=(size, *params["shape"])), level)  # type: ignore[attr-defined]


def _permute(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
             level: int) -> Tensor:
    # out[b] = x[b].permute(axes): the batch axis stays first
    x, = inputs
    axes = (0, *(_axis(a, x.ndim) for a in params["axes"]))
    return Batched(cls.apply(x.value, axes=axes), level)  # type: ignore[attr-defined]


def _expand(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
            level: int) -> Tensor:
    # out[b] = x[b] broadcast to shape
    x, = inputs
    shape = tuple(params["shape"])
    return Batched(cls.apply(_padded(x, len(shape), level), shape=(size, *shape)), level)


def _getitem(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
             level: int) -> Tensor:
    # out[b] = x[b][index]: the index with a whole slice in front for the batch axis
    x, = inputs
    index = params["index"] if isinstance(params["index"], tuple) else (params["index"],)
    arrays = [i for i in index if isinstance(i, (np.ndarray, list))]
    if arrays and (len(arrays) > 1 or any(isinstance(i, (int, np.integer)) for i in index)):
        return _loop(cls, inputs, params, size, level)  # (numpy would move the picked
        # axes to the front)
    return Batched(cls.apply(x.value, index=(slice(None), *index)), level)  # type: ignore[attr-defined]


def _cat(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
         level: int) -> Tensor:
    # out[b] = cat(x[b], y[b], …) along the same axis
    ndim = inputs[0].ndim
    values = [_whole(t, size, level) for t in inputs]
    return Batched(cls.apply(*values, axis=_axis(params["axis"], ndim)), level)


def _matmul(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
            level: int) -> Tensor:
    # out[b] = a[b] @ b[b]: vectors made matrices (numpy's rule), then a batched product
    a, b = inputs
    a_vector, b_vector = a.ndim == 1, b.ndim == 1
    a2 = _unsqueezed(a, -2, level) if a_vector else a  # (k,) → (1, k)
    b2 = _unsqueezed(b, -1, level) if b_vector else b  # (k,) → (k, 1)
    ndim = max(a2.ndim, b2.ndim)  # (stacks of matrices line up from the right)
    product = cls.apply(_padded(a2, ndim, level), _padded(b2, ndim, level))
    shape = product.shape[:-2] + product.shape[-2 + a_vector:product.ndim - b_vector]
    return Batched(product.reshape(*shape) if a_vector or b_vector else product, level)


def _unsqueezed(t: Tensor, axis: int, level: int) -> Tensor:
    """t with a new axis of size 1 (axis counted from the end of an item's shape)."""
    shape = list(t.shape)
    shape.insert(len(shape) + axis + 1, 1)
    if is_batched(t, level):
        return Batched(t.value.reshape(t.value.shape[0], *shape), level)
    return t.reshape(*shape)


def _linear(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
            level: int) -> Tensor:
    # out[b] = x[b] W[b]ᵀ + bias[b]
    x, weight, *bias = inputs
    if not (is_batched(weight, level) or (bias and is_batched(bias[0], level))):  # one W for all
        return Batched(cls.apply(x.value, weight, *bias), level)  # type: ignore[attr-defined]
    # a weight per item (per-example gradients): x[b]'s rows (M, in) through W[b]
    rows = _whole(x, size, level)
    if rows.ndim != 3:
        rows = rows.reshape(size, -1, x.shape[-1])
    z = ops.StackedLinearOp.apply(rows, *[_whole(t, size, level) for t in (weight, *bias)])
    return Batched(z if x.ndim == 2 else z.reshape(size, *x.shape[:-1], weight.shape[0]), level)


def _mse_loss(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any],
              size: int, level: int) -> Tensor:
    # out[b] = mean((a[b] − y[b])²) (or the sum): one op for the stack of items
    prediction, target = inputs
    reduction = params.get("reduction", "mean")
    if (prediction.shape != target.shape or prediction.dtype == np.float16
            or reduction not in ("mean", "sum")):
        return _loop(cls, inputs, params, size, level)  # (the op's own message; float16
        # squares add up in float32 inside the op, here they would overflow at 65504)
    costs = ops.StackedMSELossOp.apply(_whole(prediction, size, level),
                                       _whole(target, size, level), reduction=reduction)
    return Batched(costs, level)


def _flip(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
          level: int) -> Tensor:
    # out[b] = flip(x[b], dims)
    x, = inputs
    return Batched(cls.apply(x.value, dims=_axis(tuple(params["dims"]), x.ndim)), level)  # type: ignore[attr-defined]


def _image(cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any], size: int,
           level: int) -> Tensor:
    # out[b] = conv(x[b]) (or a pool): the items' images as one batch of images
    x, *rest = inputs
    if x.ndim != 4 or any(is_batched(t, level) for t in rest):  # (per-item weights: one at a time)
        return _loop(cls, inputs, params, size, level)
    images = x.value.reshape(size * x.shape[0], *x.shape[1:])  # type: ignore[attr-defined]
    out = cls.apply(images, *rest, **params)
    return Batched(out.reshape(size, x.shape[0], *out.shape[1:]), level)


_DEFAULT_AXIS: dict[type[Function], Any] = {
    cls: inspect.signature(cls.forward).parameters["axis"].default
    for cls in (ops.Sum, ops.Max, ops.LogSoftmaxOp, ops.LogSumExp, ops.Prod, ops.Var, ops.Std,
                ops.CumSum)}
_NONE_MEANS_ALL = {ops.Sum, ops.Max, ops.LogSumExp, ops.Prod, ops.Var, ops.Std}

_ELEMENTWISE = (
    ops.Add, ops.Sub, ops.Mul, ops.Div, ops.Pow, ops.Maximum, ops.Minimum, ops.Clamp,
    ops.Neg, ops.Clone, ops.Cast, ops.Abs, ops.Sign, ops.Sqrt, ops.Rsqrt, ops.Reciprocal,
    ops.Sin, ops.Cos, ops.Exp, ops.Log, ops.Log1p, ops.Expm1, ops.Where, ops.DivRounding,
    ops.SigmoidOp, ops.TanhOp, ops.ReLUOp, ops.LeakyReLUOp, ops.ELUOp, ops.SoftplusOp,
    ops.NormalCDF)

RULES: dict[type[Function], Rule] = {
    **dict.fromkeys(_ELEMENTWISE, _elementwise),
    **dict.fromkeys(_DEFAULT_AXIS, _reduction),
    ops.Reshape: _reshape, ops.Permute: _permute, ops.Expand: _expand,
    ops.GetItem: _getitem, ops.Cat: _cat, ops.Flip: _flip,
    ops.MatMul: _matmul, ops.LinearOp: _linear, ops.MSELossOp: _mse_loss,
    ops.Conv2dOp: _image, ops.MaxPool2dOp: _image,
}

NATIVE = sorted(cls.name for cls in RULES)
"""The ops that batch natively (every other op runs once per item inside vmap)."""
