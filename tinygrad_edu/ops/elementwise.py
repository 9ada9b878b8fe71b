"""Elementwise ops: arithmetic with numpy broadcasting (gradients summed back with
`sum_to_shape`), casts and copies, functions of one value (abs, sqrt, sin, log1p, …), and at
the end the functions PyTorch also has as `torch.X` (`tg.clamp`, …). The activations
(sigmoid, tanh, relu, gelu, …) are in activations.py.

Read it in three parts: arithmetic of two values (with max/min and clamp); functions of one
value; the `torch.X` functions, which check their arguments and then run an op.

numpy warns where PyTorch quietly gives ±inf or NaN (log of a negative number, 1/0,
exp(1000), sin(∞)); the ops that can meet such values run under `_as_pytorch`, which
silences those warnings for that call only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import cast, log, sum_to_shape, tangent_sum, values
from tinygrad_edu.tensor import Function, Tensor, _describe

__all__ = [
    "Abs", "Add", "Cast", "Clamp", "Clone", "Cos", "Div", "Exp", "Expm1", "Log", "Log1p",
    "Maximum", "Minimum", "Mul", "Neg", "Pow", "Reciprocal", "Rsqrt", "Sign", "Sin", "Sqrt",
    "Sub",
    "clamp", "clamp_max", "clamp_min", "clip", "cos", "expm1", "log1p", "maximum", "minimum",
    "reciprocal", "rsqrt", "sign", "sin", "sqrt", "square",
]

# The functions of `torch.X` this file adds, for `tg.X` (`abs` is a Python builtin's name:
# it is defined at the end, outside __all__, so a star import never hides the builtin;
# torch.exp and torch.log are left to the Tensor methods: ops' `exp`/`log` are the helpers
# every backward uses).
TORCH_FUNCTIONS = (
    "clamp", "clamp_max", "clamp_min", "clip", "cos", "expm1", "log1p", "maximum", "minimum",
    "reciprocal", "rsqrt", "sign", "sin", "sqrt", "square", "abs",
)


# A decorator: the call runs with numpy's divide/invalid/overflow warnings off (each call
# makes its own setting, so threads never share one). It costs ~1.5 µs a call (measured),
# which is why the ops of the MLP's hot path (sigmoid, linear, mse) do without it: their
# formulas never meet such values.
_as_pytorch = np.errstate(divide="ignore", invalid="ignore", over="ignore")


# ----------------------------------------------------------------------------------------
# Elementwise arithmetic (numpy broadcasting; gradients summed back with sum_to_shape)
# ----------------------------------------------------------------------------------------


class Add(Function):
    """out = x + y, elementwise (numpy broadcasting)."""

    def forward(self, x, y):
        return x + y

    # ∂(x + y)/∂x = 1, ∂(x + y)/∂y = 1
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy

    # d(x + y) = dx + dy
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        return tangent_sum(out.shape, dx, dy)


class Sub(Function):
    """out = x − y, elementwise (numpy broadcasting)."""

    def forward(self, x, y):
        return x - y

    # ∂(x − y)/∂x = 1, ∂(x − y)/∂y = −1
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(-grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy

    # d(x − y) = dx − dy
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        return tangent_sum(out.shape, dx, None if dy is None else -dy)


class Mul(Function):
    """out = x · y, elementwise (numpy broadcasting)."""

    def forward(self, x, y):
        return x * y

    # ∂(x·y)/∂x = y, ∂(x·y)/∂y = x
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad * y, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(grad * x, y.shape) if self.needs_input_grad[1] else None
        return dx, dy

    # d(x·y) = dx·y + x·dy  (the product rule)
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        return tangent_sum(out.shape, None if dx is None else dx * y,
                           None if dy is None else x * dy)


class Div(Function):
    """out = x / y, elementwise (numpy broadcasting): x/0 = ±∞, 0/0 = NaN, as PyTorch."""

    @_as_pytorch  # x/0 = ±∞, 0/0 = NaN
    def forward(self, x, y):
        return x / y

    # ∂(x/y)/∂x = 1/y, ∂(x/y)/∂y = −x/y²
    @_as_pytorch
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad / y, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(-grad * x / (y * y), y.shape) if self.needs_input_grad[1] else None
        return dx, dy

    # d(x/y) = dx/y − x·dy/y²
    @_as_pytorch
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        return tangent_sum(out.shape, None if dx is None else dx / y,
                           None if dy is None else -dy * x / (y * y))


class Pow(Function):
    """out = xʸ, elementwise (numpy broadcasting)."""

    @_as_pytorch  # 0⁻¹ = ∞, (−8)^(1/3) = NaN (real powers of negative numbers)
    def forward(self, x, y):
        return x ** y

    # ∂(xʸ)/∂x = y·xʸ⁻¹, ∂(xʸ)/∂y = xʸ·ln x. At x = 0 both formulas meet 0·∞, which numpy
    # makes NaN; the limits, as PyTorch takes them, are 0: for x = y = 0 (y·x⁻¹ with y = 0)
    # and for x = 0 ≤ y (0ʸ is 0 or 1 whatever y does). So where x = y = 0 the exponent
    # y − 1 becomes 0 (y·x⁰ = 0), and where x = 0 ≤ y, ln x reads ln 1 = 0.
    # Only at x = 0: elsewhere y·xʸ⁻¹ stays as it is, so differentiated again (create_graph)
    # the mixed derivative ∂²(xʸ)/∂x∂y = xʸ⁻¹(1 + y·ln x) is exact, 1/x at y = 0.
    # (PyTorch gives 0 there: it replaces the exponent wherever y = 0.) For x < 0, ln x is
    # NaN, so ∂(xʸ)/∂y and the mixed derivative are NaN, as ∂/∂y is in PyTorch.
    @_as_pytorch
    def backward(self, grad, out, x, y):
        dx = dy = None
        if self.needs_input_grad[0]:
            dx = sum_to_shape(grad * y * x ** _pow_exponent(x, y), x.shape)
        if self.needs_input_grad[1]:
            dy = sum_to_shape(grad * out * log(_pow_base(x, y)), y.shape)
        return dx, dy

    # d(xʸ) = y·xʸ⁻¹ dx + xʸ·ln x dy, with backward's limits at x = 0
    @_as_pytorch
    def jvp(self, tangents, out, x, y):
        dx, dy = tangents
        return tangent_sum(out.shape,
                           None if dx is None else dx * y * x ** _pow_exponent(x, y),
                           None if dy is None else dy * out * log(_pow_base(x, y)))


def _pow_exponent(x: Any, y: Any) -> Any:
    """y − 1, the exponent of ∂(xʸ)/∂x, but 0 where x = y = 0 (so y·x⁰ = 0, the limit)."""
    return y - 1 + ((values(y) == 0) & (values(x) == 0))


def _pow_base(x: Any, y: Any) -> Any:
    """x, whose ln gives ∂(xʸ)/∂y = xʸ·ln x, but 1 where x = 0 ≤ y (ln 1 = 0, the limit)."""
    return x + ((values(x) == 0) & (values(y) >= 0))


class Maximum(Function):
    """out = max(x, y), elementwise (numpy broadcasting; NaN where either is NaN)."""

    def forward(self, x, y):
        return np.maximum(x, y)  # (a NaN in either gives NaN, as PyTorch)

    # ∂max(x, y)/∂x = 1 where x > y, 0 where x < y, and a tie x = y splits the gradient ½, ½
    # (as PyTorch). Where a NaN makes the comparisons false, both inputs get it whole.
    def backward(self, grad, out, x, y):
        return _shares(self, grad, x, y, loses=np.less)

    # d max(x, y) = dx where x > y, dy where x < y, ½(dx + dy) on a tie: backward's shares
    def jvp(self, tangents, out, x, y):
        return _shared_tangent(tangents, out, x, y, loses=np.less)


class Minimum(Function):
    """out = min(x, y), elementwise (numpy broadcasting; NaN where either is NaN)."""

    def forward(self, x, y):
        return np.minimum(x, y)

    # ∂min(x, y)/∂x = 1 where x < y, 0 where x > y, ½ each on a tie (as Maximum)
    def backward(self, grad, out, x, y):
        return _shares(self, grad, x, y, loses=np.greater)

    # d min(x, y) = dx where x < y, dy where x > y, ½(dx + dy) on a tie: backward's shares
    def jvp(self, tangents, out, x, y):
        return _shared_tangent(tangents, out, x, y, loses=np.greater)


def _shares(op: Function, grad: Any, x: Any, y: Any, loses: Any) -> tuple[Any, Any]:
    """The gradients of max/min: each input's share is 1 − [it loses] − ½·[tie]."""
    a, b = values(x), values(y)
    dx = dy = None
    if op.needs_input_grad[0]:
        dx = sum_to_shape(grad * _share(a, b, loses), x.shape)
    if op.needs_input_grad[1]:
        dy = sum_to_shape(grad * _share(b, a, loses, a.dtype), y.shape)
    return dx, dy


def _shared_tangent(tangents: Any, out: Any, x: Any, y: Any, loses: Any) -> Any:
    """The tangent of max/min: each input's tangent times its share (as _shares)."""
    a, b = values(x), values(y)
    dx, dy = tangents
    return tangent_sum(out.shape, None if dx is None else dx * _share(a, b, loses),
                       None if dy is None else dy * _share(b, a, loses, a.dtype))


def _share(a: np.ndarray, b: np.ndarray, loses: Any, dtype: Any = None) -> np.ndarray:
    """1 − [a loses to b] − ½·[a = b]: 1, 0, ½ on a tie, and 1 where a NaN makes every
    comparison false (in `dtype`, a's by default)."""
    return (1.0 - loses(a, b) - 0.5 * (a == b)).astype(a.dtype if dtype is None else dtype)


class Clamp(Function):
    """out = min(max(x, low), high), elementwise (numpy broadcasting)."""

    def forward(self, x, low, high):
        return np.minimum(np.maximum(x, low), high)  # low > high gives high, as PyTorch

    # ∂out/∂x = 1 where low ≤ x ≤ high (the bounds included, as PyTorch), 0 outside; below
    # low the gradient goes to low, above high to high, and where low > high (the output is
    # high) to high. A NaN compares false everywhere: no input gets a gradient.
    def backward(self, grad, out, x, low, high):
        masks = _clamp_masks(x, low, high)
        return [sum_to_shape(grad * mask, t.shape) if needed else None
                for needed, mask, t in zip(self.needs_input_grad, masks, (x, low, high),
                                           strict=True)]

    # d clamp = dx inside [low, high], d low below low, d high above high (backward's masks)
    def jvp(self, tangents, out, x, low, high):
        return tangent_sum(out.shape, *(None if t is None else t * mask for t, mask in
                                        zip(tangents, _clamp_masks(x, low, high),
                                            strict=True)))


def _clamp_masks(x: Any, low: Any, high: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where clamp's output is x, low, high: [low ≤ x ≤ high], [x < low < high],
    [x > high or high < low]; a NaN anywhere compares false, so it is in none of them."""
    x, low, high = values(x), values(low), values(high)
    return (x >= low) & (x <= high), (x < low) & (low < high), (x > high) | (high < low)


class Neg(Function):
    """out = −x, elementwise."""

    def forward(self, x):
        return -x

    # ∂(−x)/∂x = −1
    def backward(self, grad, out, x):
        return -grad

    # d(−x) = −dx
    def jvp(self, tangents, out, x):
        return -tangents[0]


class Clone(Function):
    """out = a copy of x: the same values in memory of its own."""

    def forward(self, x):
        return x.copy()

    # a copy passes the gradient through unchanged: ∂x/∂x = 1
    def backward(self, grad, out, x):
        return grad

    # d copy(x) = dx
    def jvp(self, tangents, out, x):
        return tangents[0]


class Cast(Function):
    """out = x converted to `dtype` (the values unchanged where the dtype can hold them)."""

    def forward(self, x, dtype):
        return x.astype(dtype)

    # the values pass through unchanged; only the gradient goes back to the input's dtype
    def backward(self, grad, out, x):
        return cast(grad, x.dtype)

    # d cast(x) = dx in out's dtype; an integer output is flat, tangent 0 (as PyTorch)
    def jvp(self, tangents, out, x):
        if not np.issubdtype(out.dtype, np.inexact):
            return None
        return cast(tangents[0], out.dtype)


# ----------------------------------------------------------------------------------------
# Functions of one value
# ----------------------------------------------------------------------------------------


class Abs(Function):
    """out = |x|, elementwise."""

    def forward(self, x):
        return np.abs(x)

    # d|x|/dx = sign(x): −1, 0 at the kink x = 0 (as PyTorch), 1; and 0 for a NaN
    def backward(self, grad, out, x):
        return grad * _sign(values(x))

    # d|x| = sign(x) dx (0 at the kink and for a NaN, as backward)
    def jvp(self, tangents, out, x):
        return tangents[0] * _sign(values(x))


class Sign(Function):
    """out = sign(x): −1, 0 or 1, elementwise (0 for NaN, as PyTorch)."""

    def forward(self, x):
        return _sign(x)

    # sign is flat wherever it has a slope: d sign(x)/dx = 0
    def backward(self, grad, out, x):
        return grad * 0

    # d sign(x) = 0: no tangent (a zero one)
    def jvp(self, tangents, out, x):
        return None


class Sqrt(Function):
    """out = √x, elementwise (NaN for x < 0)."""

    @_as_pytorch  # √(negative) = NaN
    def forward(self, x):
        return np.sqrt(x)

    # d√x/dx = 1 / (2√x), from the saved output (∞ at x = 0, as PyTorch)
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad / (2 * out)

    # d√x = dx / (2√x)
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] / (2 * out)


class Rsqrt(Function):
    """out = 1/√x, elementwise."""

    @_as_pytorch  # 1/√0 = ∞
    def forward(self, x):
        return 1 / np.sqrt(x)

    # d x^(−½)/dx = −½·x^(−3/2) = −½·out³
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad * -0.5 * out * out * out

    # d x^(−½) = −½·out³ dx
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] * -0.5 * out * out * out


class Reciprocal(Function):
    """out = 1/x, elementwise."""

    @_as_pytorch  # 1/0 = ∞
    def forward(self, x):
        return 1 / x

    # d(1/x)/dx = −1/x² = −out²
    @_as_pytorch
    def backward(self, grad, out, x):
        return -grad * (out * out)

    # d(1/x) = −out² dx
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return -tangents[0] * (out * out)


class Sin(Function):
    """out = sin x, elementwise (x in radians)."""

    @_as_pytorch  # sin(∞) = NaN
    def forward(self, x):
        return np.sin(x)

    # d sin x/dx = cos x
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad * _cos(x)

    # d sin x = cos x dx
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] * _cos(x)


class Cos(Function):
    """out = cos x, elementwise (x in radians)."""

    @_as_pytorch
    def forward(self, x):
        return np.cos(x)

    # d cos x/dx = −sin x
    @_as_pytorch
    def backward(self, grad, out, x):
        return -grad * _sin(x)

    # d cos x = −sin x dx
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return -tangents[0] * _sin(x)


class Exp(Function):
    """out = eˣ, elementwise."""

    @_as_pytorch  # e¹⁰⁰⁰ = ∞
    def forward(self, x):
        return np.exp(x)

    # d eˣ/dx = eˣ, the saved output
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad * out

    # d eˣ = eˣ dx, the saved output
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] * out


class Log(Function):
    """out = ln x, elementwise (−∞ at 0, NaN below, as PyTorch)."""

    @_as_pytorch  # ln 0 = −∞, ln(negative) = NaN
    def forward(self, x):
        return np.log(x)

    # d ln x/dx = 1/x
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad / x

    # d ln x = dx / x
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] / x


class Log1p(Function):
    """out = ln(1 + x), elementwise, exact for tiny x."""

    @_as_pytorch  # ln(1 + x) is −∞ at x = −1 and NaN below
    def forward(self, x):
        return np.log1p(x)  # exact for tiny x, where log(1 + x) would round 1 + x

    # d ln(1 + x)/dx = 1/(1 + x)
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad / (1 + x)

    # d ln(1 + x) = dx / (1 + x)
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] / (1 + x)


class Expm1(Function):
    """out = eˣ − 1, elementwise, exact for tiny x."""

    @_as_pytorch
    def forward(self, x):
        return np.expm1(x)  # eˣ − 1, exact for tiny x

    # d(eˣ − 1)/dx = eˣ = out + 1, from the saved output (as PyTorch)
    @_as_pytorch
    def backward(self, grad, out, x):
        return grad * (out + 1)

    # d(eˣ − 1) = (out + 1) dx
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] * (out + 1)


def _sign(x: np.ndarray) -> np.ndarray:
    """−1, 0 or 1 as PyTorch's sign: [x > 0] − [x < 0], so a NaN has sign 0 (numpy's is
    NaN); integers stay integers and bools stay bools."""
    if x.dtype == np.bool_:
        return x.copy()
    return (x > 0).astype(x.dtype) - (x < 0)


def _sin(value: Any) -> Any:
    return value.sin() if isinstance(value, Tensor) else np.sin(value)


def _cos(value: Any) -> Any:
    return value.cos() if isinstance(value, Tensor) else np.cos(value)


# ----------------------------------------------------------------------------------------
# The functions of torch.X: arguments checked here, in PyTorch's terms, then an op
# ----------------------------------------------------------------------------------------


def square(input: Tensor) -> Tensor:
    """x², as x·x (integers stay integers, as PyTorch)."""
    return _tensor("square", input) * input


def sqrt(input: Tensor) -> Tensor:
    """√x, elementwise (NaN for x < 0, as PyTorch)."""
    return _tensor("sqrt", input).sqrt()


def rsqrt(input: Tensor) -> Tensor:
    """1/√x, elementwise."""
    return _tensor("rsqrt", input).rsqrt()


def reciprocal(input: Tensor) -> Tensor:
    """1/x, elementwise (integers become float32)."""
    return _tensor("reciprocal", input).reciprocal()


def sin(input: Tensor) -> Tensor:
    """sin x, elementwise (x in radians)."""
    return _tensor("sin", input).sin()


def cos(input: Tensor) -> Tensor:
    """cos x, elementwise (x in radians)."""
    return _tensor("cos", input).cos()


def log1p(input: Tensor) -> Tensor:
    """ln(1 + x), exact for tiny x."""
    return _tensor("log1p", input).log1p()


def expm1(input: Tensor) -> Tensor:
    """eˣ − 1, exact for tiny x."""
    return _tensor("expm1", input).expm1()


def sign(input: Tensor) -> Tensor:
    """−1, 0 or 1 (0 for NaN, as PyTorch); its gradient is 0."""
    return _tensor("sign", input).sign()


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """The larger of each pair (broadcast); a tie shares the gradient equally."""
    return Maximum.apply(*_tensor("maximum", input)._operands(other, "maximum"))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """The smaller of each pair (broadcast); a tie shares the gradient equally."""
    return Minimum.apply(*_tensor("minimum", input)._operands(other, "minimum"))


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Each element limited to [min, max]: the bounds are numbers or Tensors (broadcast),
    either may be None; where min > max the result is max, as PyTorch."""
    x = _tensor("clamp", input)
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    low = high = None
    if min is not None:
        x, low = x._operands(_bound("clamp", "min", min), "clamp")
    if max is not None:
        x, high = x._operands(_bound("clamp", "max", max), "clamp")
    low = _unbounded("clamp", x.dtype, -1) if low is None else low.to(x.dtype)
    high = _unbounded("clamp", x.dtype, 1) if high is None else high
    return Clamp.apply(x, low, high)


def clip(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """PyTorch's other name for clamp."""
    return clamp(input, min, max)


def clamp_min(input: Tensor, min: Any) -> Tensor:
    """max(x, min), with clamp's gradient (the bound itself counts as inside)."""
    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    """min(x, max), with clamp's gradient."""
    return clamp(input, max=max)


def _tensor(op: str, value: Any) -> Tensor:
    """`value`, which must be a Tensor (as PyTorch's torch.X functions require)."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {_describe(value)}; make one "
                        "with tg.tensor(...)")
    return value


def _bound(op: str, name: str, value: Any) -> Any:
    """A clamp bound: a number, an array or a Tensor."""
    if not isinstance(value, (Tensor, np.ndarray, int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number or a Tensor, got {_describe(value)}")
    return value


def _unbounded(op: str, dtype: np.dtype, side: int) -> Tensor:
    """The bound that limits nothing: ±∞, or the extreme integer of the dtype."""
    if dtype.kind == "f":
        return Tensor._wrap(np.array(side * np.inf, dtype))
    if dtype.kind in "iu":
        limits = np.iinfo(dtype)
        return Tensor._wrap(np.array(limits.max if side > 0 else limits.min, dtype))
    raise TypeError(f"{op}: a tensor of {dtype} cannot be clamped (as in PyTorch); "
                    "convert it first, e.g. x.to(np.int64)")


# ----------------------------------------------------------------------------------------
# tg.abs: a Python builtin's name, so defined last and kept out of __all__ (nothing above
# calls the builtin). (tg.exp and tg.log are Tensor.exp and Tensor.log: here those names
# are the helpers of ops/__init__.py.)
# ----------------------------------------------------------------------------------------


def abs(input: Tensor) -> Tensor:
    """|x|, elementwise (integers stay integers)."""
    return _tensor("abs", input).abs()
