"""Reductions: sums, products, maxima, variances, norms, log-sum-exp, running sums, and the
composites built on them (mean, softmax, the normalization of batch and layer norm).

Read it in three parts: the ops (one class each, forward and gradient side by side); the
functions PyTorch also has as `torch.X` (`var`, `norm`, `amax`, …: they check the
arguments, say what went wrong in PyTorch's terms, then run an op); last, the few whose
names are also Python builtins (`sum`, `max`, `min`, `any`, `all`), which the Tensor
methods implement and `tg.` forwards to.

A `dim` is PyTorch's name for numpy's `axis`; out of range it raises PyTorch's IndexError
naming the op the user called. `dim=()` reduces every axis, as PyTorch 2.13 does (numpy
would reduce none).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import _reduced_shape, exp, expand, permute, values
from tinygrad_edu.tensor import (
    Function,
    MaxResult,
    Tensor,
    _describe,
    derived,
    normalize_dim,
    normalize_dims,
)

__all__ = [
    "CumSum", "LogSoftmaxOp", "LogSumExp", "Max", "Norm", "Prod", "Std", "Sum", "Var",
    "amax", "amin", "argmax", "argmin", "cumsum", "extreme", "log_softmax", "logsumexp",
    "mean", "norm", "normalize", "prod", "reduce_axes", "softmax", "std", "total_dtype",
    "var",
]

# The functions of `torch.X` this file adds, for `tg.X` (the last five are Python builtins'
# names: they are defined at the end, outside __all__, so a star import never hides the
# builtins).
TORCH_FUNCTIONS = (
    "amax", "amin", "argmax", "argmin", "cumsum", "log_softmax", "logsumexp", "mean", "norm",
    "prod", "softmax", "std", "var", "sum", "max", "min", "any", "all",
)


# ----------------------------------------------------------------------------------------
# The ops
# ----------------------------------------------------------------------------------------


class Sum(Function):
    """Σ of x over axis (all axes by default)."""

    def forward(self, x, axis=None, keepdims=False, dtype=None):
        self.axis, self.keepdims = axis, keepdims
        # (numpy's ufunc reduce directly: x.sum adds a wrapper; dtype=int64 for small ints)
        return np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)

    # ∂(Σᵢ xᵢ)/∂xⱼ = 1: every summed element gets the output's gradient
    def backward(self, grad, out, x):
        if not self.keepdims:
            grad = grad.reshape(_reduced_shape(x.shape, self.axis))
        return expand(grad, x.shape)

    # d(Σᵢ xᵢ) = Σᵢ dxᵢ
    def jvp(self, tangents, out, x):
        return tangents[0].sum(axis=self.axis, keepdims=self.keepdims)


class Max(Function):
    """The largest element of x over axis (all axes by default)."""

    def forward(self, x, axis=None, keepdims=False, nan_takes_gradient=False):
        self.axis, self.keepdims, self.nan_takes_gradient = axis, keepdims, nan_takes_gradient
        return np.max(x, axis=axis, keepdims=keepdims)

    # ∂max(x)/∂xⱼ = 1 for the largest element (1/k each when k elements tie), else 0.
    # A NaN is the largest: PyTorch's max() gives the NaNs the gradient (split evenly); its
    # amax makes the whole slice's gradient NaN (no element equals NaN): both are kept.
    def backward(self, grad, out, x):
        shape = _reduced_shape(x.shape, self.axis)
        return expand(grad.reshape(shape), x.shape) * self._shares(out, x)

    # dmax(x) = Σⱼ shareⱼ dxⱼ: the largest element's tangent (the mean of the tied ones')
    def jvp(self, tangents, out, x):
        return (tangents[0] * self._shares(out, x)).sum(axis=self.axis, keepdims=self.keepdims)

    def _shares(self, out, x):
        """Each element's share of the maximum: 1/k for the k largest (tied), else 0."""
        largest = values(x) == values(out).reshape(_reduced_shape(x.shape, self.axis))
        if self.nan_takes_gradient and np.isnan(values(out)).any():
            largest |= np.isnan(values(x))
        ties = np.add.reduce(largest, axis=self.axis, keepdims=True)
        with np.errstate(invalid="ignore"):  # 0/0 = NaN in a NaN slice, as PyTorch's amax
            share = largest / ties
        return share.astype(x.dtype, copy=False)


class LogSoftmaxOp(Function):
    """log softmax(x)ᵢ = xᵢ − log Σⱼ e^xⱼ, along axis."""

    name = "log_softmax"

    # log softmax(x)ᵢ = xᵢ − log Σⱼ e^xⱼ, computed as (xᵢ − m) − log Σⱼ e^(xⱼ − m) with
    # m = max x so no exponent is positive: x = ±1e4 neither overflows nor makes NaN.
    def forward(self, x, axis=-1):
        self.axis = axis
        if not x.size:  # nothing to normalize (np.max has no value for an empty axis)
            return x.copy()
        shifted = x - np.max(x, axis=axis, keepdims=True)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    # ∂C/∂xᵢ = gᵢ − softmaxᵢ · Σⱼ gⱼ, with softmax = e^out from the saved output
    def backward(self, grad, out, x):
        return grad - exp(out) * grad.sum(axis=self.axis, keepdims=True)

    # d log softmax(x)ᵢ = dxᵢ − Σⱼ softmaxⱼ dxⱼ
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        return dx - (exp(out) * dx).sum(axis=self.axis, keepdims=True)


class LogSumExp(Function):
    """log Σⱼ e^xⱼ over axis (all axes by default), without overflow."""

    # log Σⱼ e^xⱼ = m + log Σⱼ e^(xⱼ − m) with m = max x: no exponent is positive, so it
    # neither overflows nor loses the largest term. (m = 0 where the max is ±∞ or the
    # slice is empty: an all −∞ slice gives −∞, as PyTorch.)
    def forward(self, x, axis=None, keepdims=False):
        self.axis, self.keepdims = axis, keepdims
        top = np.max(x, axis=axis, keepdims=True, initial=-np.inf)
        top[~np.isfinite(top)] = 0
        with np.errstate(divide="ignore"):  # log 0 = −∞ for an empty or all −∞ slice
            total = np.log(np.add.reduce(np.exp(x - top), axis=axis, keepdims=True)) + top
        return total if keepdims else np.squeeze(total, axis=axis)

    # ∂/∂xᵢ log Σⱼ e^xⱼ = e^(xᵢ − out) = softmax(x)ᵢ, from the saved output
    def backward(self, grad, out, x):
        shape = _reduced_shape(x.shape, self.axis)
        with np.errstate(invalid="ignore"):  # −∞ − (−∞) = NaN where out is ±∞, as PyTorch
            return exp(x - out.reshape(shape)) * grad.reshape(shape)

    # d log Σⱼ e^xⱼ = Σᵢ softmax(x)ᵢ dxᵢ
    def jvp(self, tangents, out, x):
        shape = _reduced_shape(x.shape, self.axis)
        with np.errstate(invalid="ignore"):  # (as backward: NaN where out is ±∞)
            softmax = exp(x - out.reshape(shape))
        return (softmax * tangents[0]).sum(axis=self.axis, keepdims=self.keepdims)


class Prod(Function):
    """∏ of x over axis (all axes by default)."""

    def forward(self, x, axis=None, keepdims=False, dtype=None):
        self.axis, self.keepdims = axis, keepdims
        return np.prod(x, axis=axis, keepdims=keepdims, dtype=dtype)

    # ∂(∏ⱼ xⱼ)/∂xᵢ = ∏_{j≠i} xⱼ, the product of the others: computed without dividing by
    # xᵢ, so zeros are right (one zero: only it gets a gradient; two or more: none does)
    def backward(self, grad, out, x):
        return self._others(x) * grad.reshape(_reduced_shape(x.shape, self.axis))

    # d∏ⱼ xⱼ = Σᵢ (∏_{j≠i} xⱼ) dxᵢ  (the product rule, one term per factor)
    def jvp(self, tangents, out, x):
        return (self._others(x) * tangents[0]).sum(axis=self.axis, keepdims=self.keepdims)

    def _others(self, x):
        """∏_{j≠i} xⱼ over the reduced axis, for every i."""
        if self.axis is None:  # over all elements: as one long axis
            return _products_of_others(x.reshape(-1), 0).reshape(x.shape)
        return _products_of_others(x, self.axis)


def _products_of_others(x: Any, axis: int) -> Any:
    """∏_{j≠i} xⱼ along `axis`, for every i. On arrays: (product of those before i) ×
    (product of those after i), two running products. On Tensors (create_graph): a table
    whose row i is x with xᵢ replaced by 1, multiplied out, so it differentiates again."""
    if not x.size:  # (nothing to multiply: no gradient to give)
        return x * 0
    if isinstance(x, np.ndarray):
        moved = np.moveaxis(x, axis, -1)
        ones = np.ones(moved.shape[:-1] + (1,), x.dtype)
        before = np.concatenate([ones, np.cumprod(moved[..., :-1], axis=-1)], axis=-1)
        after = np.concatenate([np.cumprod(moved[..., :0:-1], axis=-1)[..., ::-1], ones], -1)
        return np.moveaxis(before * after, -1, axis)
    moved = permute(x, _to_end(axis, x.ndim))
    eye = np.eye(moved.shape[-1], dtype=x.dtype)
    table = moved.reshape(moved.shape[:-1] + (1, moved.shape[-1])) * (1 - eye) + eye
    others = Prod.apply(table, axis=table.ndim - 1)
    return permute(others, tuple(np.argsort(_to_end(axis, x.ndim))))


def _to_end(axis: int, ndim: int) -> tuple[int, ...]:
    """The axis order that moves `axis` to the end."""
    return tuple(i for i in range(ndim) if i != axis) + (axis,)


class Var(Function):
    """Σ (x − x̄)² / (N − correction) over axis (all axes by default)."""

    def forward(self, x, axis=None, keepdims=False, correction=1):
        self.axis, self.keepdims = axis, keepdims
        count = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
        self.centered = x - np.add.reduce(x, axis=axis, keepdims=True) / (count or 1)
        squares = np.add.reduce(self.centered * self.centered, axis=axis, keepdims=keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):  # N − correction ≤ 0: ∞ or NaN
            self.scale = np.float64(2.0) / np.maximum(count - correction, 0)  # (as PyTorch)
            return (squares * (self.scale / 2)).astype(x.dtype, copy=False)

    # ∂var/∂xᵢ = 2(xᵢ − x̄)/(N − correction) (the mean's own change sums to zero)
    def backward(self, grad, out, x):
        shape = _reduced_shape(x.shape, self.axis)
        with np.errstate(invalid="ignore"):  # (∞ · 0 where N − correction = 0)
            return self._centered(x) * (grad.reshape(shape) * self.scale.astype(x.dtype))

    # dvar = Σᵢ 2(xᵢ − x̄) dxᵢ / (N − correction)
    def jvp(self, tangents, out, x):
        moved = (self._centered(x) * tangents[0]).sum(axis=self.axis, keepdims=self.keepdims)
        with np.errstate(invalid="ignore"):  # (∞ · 0 where N − correction = 0)
            return moved * self.scale.astype(x.dtype)

    def _centered(self, x):
        """x − x̄: saved by forward, recomputed from a Tensor so it joins the graph."""
        if isinstance(x, Tensor):
            return x - x.mean(axis=self.axis, keepdims=True)
        return self.centered


class Std(Var):
    """√var: the standard deviation over axis (all axes by default)."""

    def forward(self, x, axis=None, keepdims=False, correction=1):
        return np.sqrt(super().forward(x, axis, keepdims, correction))

    # ∂std/∂x = ∂var/∂x / (2 std), and 0 where std = 0 (all equal), as PyTorch
    def backward(self, grad, out, x):
        zero = values(out) == 0
        return super().backward(grad / (2 * out + zero) * ~zero, out, x)

    # dstd = dvar / (2 std), and 0 where std = 0 (as backward)
    def jvp(self, tangents, out, x):
        zero = values(out) == 0
        return super().jvp(tangents, out, x) / (2 * out + zero) * ~zero


class Norm(Function):
    """‖x‖ₚ = (Σᵢ |xᵢ|ᵖ)^(1/p) over axis (all axes by default); p = ∞: max |xᵢ|."""

    def forward(self, x, p=2.0, axis=None, keepdims=False):
        self.p, self.axis, self.keepdims = p, axis, keepdims
        size = np.abs(x)
        if p == np.inf:
            return np.max(size, axis=axis, keepdims=keepdims)
        if p == -np.inf:
            return np.min(size, axis=axis, keepdims=keepdims)
        if p == 0:  # the count of nonzero elements
            return np.add.reduce(x != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
        if p == 1:
            return np.add.reduce(size, axis=axis, keepdims=keepdims)
        if p == 2:
            return np.sqrt(np.add.reduce(x * x, axis=axis, keepdims=keepdims))
        with np.errstate(divide="ignore"):  # p < 0 with a zero: 0^p = ∞, and ∞^(1/p) = 0
            return np.add.reduce(size ** p, axis=axis, keepdims=keepdims) ** (1 / p)

    # ∂‖x‖ₚ/∂xᵢ = sign(xᵢ)·(|xᵢ|/‖x‖ₚ)^(p−1): sign(x) for p = 1, x/‖x‖ for p = 2; for p = ±∞
    # the largest (smallest) |xᵢ| takes it, ties split evenly; 0 where ‖x‖ = 0 (PyTorch's)
    def backward(self, grad, out, x):
        shape = _reduced_shape(x.shape, self.axis)
        grad, out, sign = grad.reshape(shape), out.reshape(shape), np.sign(values(x))
        zero = values(out) == 0
        if self.p == 0:  # a count: flat almost everywhere
            return expand(grad, x.shape) * 0
        if self.p == 1:
            return expand(grad, x.shape) * sign
        if self.p == 2:
            return x * (grad / (out + zero))  # (x = 0 wherever ‖x‖ = 0)
        if np.isinf(self.p):
            chosen = np.abs(values(x)) == values(out)
            share = chosen / np.maximum(np.add.reduce(chosen, self.axis, keepdims=True), 1)
            return expand(grad, x.shape) * (sign * share)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (x * sign / (out + zero)) ** (self.p - 1)
        return ratio * (grad * ~zero) * sign

    # d‖x‖ₚ = Σᵢ sign(xᵢ)·(|xᵢ|/‖x‖ₚ)^(p−1) dxᵢ, with backward's choices at 0 and for p = ±∞
    def jvp(self, tangents, out, x):
        dx, sign = tangents[0], np.sign(values(x))
        if self.p == 0:  # a count: flat almost everywhere
            return None
        if self.p == 1:
            return (dx * sign).sum(axis=self.axis, keepdims=self.keepdims)
        if self.p == 2:  # Σ xᵢ dxᵢ / ‖x‖ (x = 0 wherever ‖x‖ = 0)
            moved = (x * dx).sum(axis=self.axis, keepdims=self.keepdims)
            return moved / (out + (values(out) == 0))
        norm = out.reshape(_reduced_shape(x.shape, self.axis))
        zero = values(norm) == 0
        if np.isinf(self.p):
            chosen = np.abs(values(x)) == values(norm)
            share = chosen / np.maximum(np.add.reduce(chosen, self.axis, keepdims=True), 1)
            return (dx * (sign * share)).sum(axis=self.axis, keepdims=self.keepdims)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (x * sign / (norm + zero)) ** (self.p - 1)
        return (ratio * (dx * ~zero) * sign).sum(axis=self.axis, keepdims=self.keepdims)


class CumSum(Function):
    """The running sum along axis: `out[j] = x[0] + x[1] + … + x[j]`."""

    def forward(self, x, axis=0, dtype=None):
        self.axis = axis
        return np.cumsum(x, axis=axis, dtype=dtype)

    # ∂yⱼ/∂xᵢ = 1 for j ≥ i: xᵢ gets the sum of the gradients from i to the end, a running
    # sum taken backwards
    def backward(self, grad, out, x):
        backwards = (slice(None),) * self.axis + (slice(None, None, -1),)
        flipped = grad[backwards]
        summed = CumSum.apply(flipped, axis=self.axis) if isinstance(grad, Tensor) else \
            np.cumsum(flipped, axis=self.axis)
        return summed[backwards]

    # d cumsum(x) = cumsum(dx)
    def jvp(self, tangents, out, x):
        dx = tangents[0]
        if isinstance(dx, Tensor):
            return CumSum.apply(dx, axis=self.axis)
        return np.cumsum(dx, axis=self.axis)


# ----------------------------------------------------------------------------------------
# The functions of torch.X: arguments checked as PyTorch checks them, then the ops above
# ----------------------------------------------------------------------------------------


def reduce_axes(op: str, dim: Any, ndim: int) -> tuple[int, ...] | None:
    """PyTorch's `dim` as numpy's `axis`: None (every axis) for None and for `()` (as
    PyTorch 2.13), else the positions; IndexError for a dim out of range."""
    if dim is None or (isinstance(dim, (tuple, list)) and len(dim) == 0):
        return None
    axes = normalize_dims(op, dim, ndim)
    return axes if ndim else None  # (a 0-d tensor takes dim 0 and −1: nothing to reduce)


def _one_axis(op: str, dim: Any, ndim: int) -> int | None:
    """One dim (ops that take a single axis: prod, cumsum, argmax, softmax)."""
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be one integer here (as in PyTorch), got {dim!r}; "
                        "reduce one axis at a time")
    position = normalize_dim(op, dim, ndim)
    return position if ndim else None


def _require_dim(op: str, dim: Any) -> None:
    if dim is None:
        raise TypeError(f"{op}: dim is required (as in PyTorch), e.g. x.{op}(dim=-1)")


def _floating(op: str, x: Tensor) -> None:
    """PyTorch's refusal of integer tensors for mean, var, std and norm."""
    if x.dtype.kind != "f":
        raise RuntimeError(f"{op}: needs a floating-point tensor, got {x.dtype} (as in "
                           f"PyTorch); convert it first: x.float().{op}(…)")


def _not_empty(op: str, x: Tensor, axes: tuple[int, ...] | None, error: type = RuntimeError
               ) -> None:
    """max, min and argmax have no value over no elements: PyTorch's errors."""
    if axes is None and x.size == 0:
        raise error(f"{op}: a tensor of shape {x.shape} has no elements, so no {op}; give "
                    "dim= to reduce over an axis of nonzero length (as PyTorch)")
    for axis in axes or ():
        if x.shape[axis] == 0:
            raise IndexError(f"{op}: dim {axis} has length 0 in a tensor of shape {x.shape}: "
                             f"there is no {op} over it (as PyTorch)")


def total_dtype(x: Tensor) -> Any:
    """bool and integer sums and products are int64, as PyTorch (numpy makes uint8 sums
    uint64, so `sum − 10` would wrap around)."""
    small = x.dtype.kind in "bi" or (x.dtype.kind == "u" and x.dtype.itemsize < 8)
    return np.int64 if small else None


def _in_float32(x: Tensor) -> bool:
    """float16 reductions accumulate in float32 (as PyTorch): 100 · 1000 already overflows
    float16, whose largest number is 65504."""
    return x.dtype == np.float16


def mean(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """mean = sum / n over `dim` (all axes by default)."""
    _floating("mean", input)
    if _in_float32(input):
        return mean(input.float(), dim, keepdim).to(np.float16)
    total = Sum.apply(input, axis=reduce_axes("mean", dim, input.ndim), keepdims=keepdim)
    return total * (total.size / input.size if input.size else np.nan)


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None,
        keepdim: bool = False, *, correction: float | None = None, op: str = "var") -> Tensor:
    """Σ (x − x̄)² / (N − correction) over `dim` (all axes by default); correction 1 (the
    default, Bessel's) for the unbiased estimate, 0 for the population variance."""
    if isinstance(dim, bool):  # x.var(False): PyTorch's var(unbiased) form
        dim, unbiased = None, dim
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}: give correction= or unbiased=, not both (unbiased=True is "
                        "correction=1, unbiased=False is correction=0)")
    if correction is None:
        correction = 0 if unbiased is False else 1
    if isinstance(correction, bool) or not isinstance(correction, (int, float, np.number)):
        raise TypeError(f"{op}: correction must be a number, got {_describe(correction)}")
    _floating(op, input)
    if _in_float32(input):
        return var(input.float(), dim, None, keepdim, correction=correction, op=op).to(
            np.float16)
    kind = Std if op == "std" else Var
    return kind.apply(input, axis=reduce_axes(op, dim, input.ndim), keepdims=keepdim,
                      correction=correction)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None,
        keepdim: bool = False, *, correction: float | None = None) -> Tensor:
    """√var: arguments as `var`."""
    return var(input, dim, unbiased, keepdim, correction=correction, op="std")


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False
         ) -> Tensor:
    """The vector p-norm (Σ |xᵢ|^p)^(1/p) over `dim` (all axes by default): p = 2 (or
    'fro') the Euclidean length, 1 the sum of |x|, ∞ (−∞) the largest (smallest) |x|."""
    if isinstance(p, str):
        if p != "fro":
            raise ValueError(f"norm: p={p!r} is not supported; use p='fro', 1, 2, "
                             "float('inf') or another number (vector norms; the nuclear norm "
                             "would need singular values: np.linalg.norm(x.data, 'nuc') "
                             "gives its value without a gradient)")
        if isinstance(dim, (tuple, list)) and len(dim) > 2:
            raise ValueError(f"norm: p='fro' takes at most two dims (a matrix), got {dim}; "
                             "for a vector norm over more axes write p=2")
        p = 2.0
    if isinstance(p, bool) or not isinstance(p, (int, float, np.number)):
        raise TypeError(f"norm: p must be a number or 'fro', got {_describe(p)}")
    _floating("norm", input)
    if _in_float32(input):
        return norm(input.float(), p, dim, keepdim).to(np.float16)
    axes = reduce_axes("norm", dim, input.ndim)
    if np.isinf(p):
        _not_empty(f"norm (p={p})", input, axes)
    return Norm.apply(input, p=float(p), axis=axes, keepdims=keepdim)


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """∏ of the elements over one `dim` (all by default); integers give int64."""
    axis = None if dim is None else _one_axis("prod", dim, input.ndim)
    return Prod.apply(input, axis=axis, keepdims=keepdim and dim is not None,
                      dtype=total_dtype(input))


def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """log Σ e^x over `dim` (required, as in PyTorch), without overflow for large x."""
    _require_dim("logsumexp", dim)
    x = input if input.dtype.kind == "f" else input.float()
    return LogSumExp.apply(x, axis=reduce_axes("logsumexp", dim, x.ndim), keepdims=keepdim)


def amax(input: Tensor, dim: Any = None, keepdim: bool = False,
         *, op: str = "amax") -> Tensor:
    """The largest value over `dim` (all axes by default); tied maxima share the gradient
    equally (as PyTorch's amax). (`op`: the name errors give, e.g. max for x.max(axis=0).)"""
    axes = reduce_axes(op, dim, input.ndim)
    _not_empty(op, input, axes)
    return Max.apply(input, axis=axes, keepdims=keepdim)


def amin(input: Tensor, dim: Any = None, keepdim: bool = False,
         *, op: str = "amin") -> Tensor:
    """The smallest value, amin x = −amax(−x); arguments as `amax`."""
    axes = reduce_axes(op, dim, input.ndim)
    _not_empty(op, input, axes)
    return -Max.apply(-input, axis=axes, keepdims=keepdim)


def extreme(input: Tensor, op: str, dim: Any, keepdim: bool) -> Any:
    """`max()`/`min()` of all elements (the NaNs, if any, take the gradient, as PyTorch);
    with an int `dim`, (values, indices): the values picked at argmax/argmin, so the whole
    gradient goes to the returned index, as PyTorch gives it."""
    if dim is None:
        _not_empty(op, input, None)
        if op == "max":
            return Max.apply(input, nan_takes_gradient=True)
        return -Max.apply(-input, nan_takes_gradient=True)
    find = argmax if op == "max" else argmin
    index = find(input, dim, True, op=op)  # (keeping the axis: an index array along it)
    if input.ndim == 0:
        return MaxResult((input[...], index))
    axis = normalize_dim(op, dim, input.ndim)
    picked = tuple(index.data if i == axis else np.arange(n).reshape(
        (-1,) + (1,) * (input.ndim - 1 - i)) for i, n in enumerate(input.shape))
    if keepdim:
        return MaxResult((input[picked], index))
    return MaxResult((input[picked].squeeze(axis), index.squeeze(axis)))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False,
           *, op: str = "argmax") -> Tensor:
    """The index of the largest value over `dim` (of the flattened tensor when dim is
    None; the first one of ties or NaNs); int64, no gradient."""
    return _arg_extreme(input, dim, keepdim, op, np.argmax)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False,
           *, op: str = "argmin") -> Tensor:
    """The index of the smallest value; arguments as `argmax`."""
    return _arg_extreme(input, dim, keepdim, op, np.argmin)


def _arg_extreme(x: Tensor, dim: Any, keepdim: bool, op: str, find: Any) -> Tensor:
    axis = None if dim is None else _one_axis(op, dim, x.ndim)
    _not_empty(op, x, None if axis is None else (axis,),
               IndexError if op.startswith("arg") else RuntimeError)
    keep = keepdim and dim is not None
    return derived(lambda a: np.asarray(find(a, axis=axis, keepdims=keep), dtype=np.int64), x)


def cumsum(input: Tensor, dim: int | None = None) -> Tensor:
    """The running sum along `dim` (required, as in PyTorch): yⱼ = Σ_{i≤j} xᵢ; integers
    give int64."""
    _require_dim("cumsum", dim)
    axis = _one_axis("cumsum", dim, input.ndim)
    if axis is None:  # a 0-d tensor: its own running sum
        return cumsum(input.reshape(1), 0).reshape(())
    return CumSum.apply(input, axis=axis, dtype=total_dtype(input))


def softmax(input: Tensor, dim: int = -1, *, op: str = "softmax") -> Tensor:
    """softmax(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ = e^(log_softmax(x)ᵢ), stable for large |x|."""
    return log_softmax(input, dim, op=op).exp()


def log_softmax(input: Tensor, dim: int = -1, *, op: str = "log_softmax") -> Tensor:
    """log softmax(x)ᵢ = xᵢ − log Σⱼ e^xⱼ along `dim`, stable for large |x|."""
    x = input if input.dtype.kind == "f" else input.float()
    return LogSoftmaxOp.apply(x, axis=_one_axis(op, dim, x.ndim))


def normalize(x: Tensor, axes: tuple[int, ...], eps: float) -> Tensor:
    """(x − mean) / √(var + eps) over `axes` (the biased variance, as batch and layer norm
    use it): each slice gets mean 0 and variance 1."""
    centered = x - x.mean(axis=axes, keepdims=True)
    variance = (centered * centered).mean(axis=axes, keepdims=True)
    return centered / (variance + eps) ** 0.5


# ----------------------------------------------------------------------------------------
# tg.sum, tg.max, tg.min, tg.any, tg.all: Python builtins' names, so defined last and kept
# out of __all__ (nothing above calls a builtin of these names); the Tensor methods do the
# work.
# ----------------------------------------------------------------------------------------


def sum(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Σ over `dim` (all axes by default); bool and integer tensors give int64."""
    return input.sum(dim=dim, keepdim=keepdim)


def max(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The largest element, or with `dim` (values, indices), as `torch.max`."""
    return input.max(dim, keepdim)


def min(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Any:
    """The smallest element, or with `dim` (values, indices), as `torch.min`."""
    return input.min(dim, keepdim)


def any(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether any element is nonzero, over `dim` (all axes by default)."""
    return input.any(dim, keepdim)


def all(input: Tensor, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Whether every element is nonzero, over `dim` (all axes by default)."""
    return input.all(dim, keepdim)
