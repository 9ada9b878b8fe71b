"""Activations: the functions of one value a network puts after its weighted sums
(sigmoid, tanh, relu, leaky_relu, elu, softplus, and the normal distribution function Φ of
the exact gelu, with its erfc), then the functions PyTorch has as `torch.X` and `F.X`.

Read it in two parts: the ops; the functions, which check their arguments and then run an
op or a composite built from them (silu, gelu, logsigmoid), whose gradient comes from the
ops it is made of. The arithmetic and functions of one value they build on (and
`_as_pytorch`, which silences numpy's warnings where PyTorch gives ±inf or NaN) are in
elementwise.py.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_edu.ops import exp, values
from tinygrad_edu.ops.elementwise import _as_pytorch, _tensor
from tinygrad_edu.tensor import Function, Tensor, _describe

__all__ = [
    "ELUOp", "LeakyReLUOp", "NormalCDF", "ReLUOp", "SigmoidOp", "SoftplusOp", "TanhOp",
    "elu", "gelu", "leaky_relu", "logsigmoid", "relu", "sigmoid", "silu", "softplus", "tanh",
]

# The functions of `torch.X` this file adds, for `tg.X` (the others are `F.X` only).
TORCH_FUNCTIONS = ("relu", "sigmoid", "tanh")


# ----------------------------------------------------------------------------------------
# Activations
# ----------------------------------------------------------------------------------------


class SigmoidOp(Function):
    """σ(z) = 1 / (1 + e⁻ᶻ), elementwise."""

    # σ(z) = 1 / (1 + e⁻ᶻ) = t / (1 + t) with t = eᶻ, computed in that second form: exact to
    # a few ulps in both tails, so σ(−80) is e⁻⁸⁰ and log σ stays finite with a finite
    # gradient. (½(1 + tanh(z/2)), the same function, rounds to 0 below z ≈ −17 in float32.)
    # z is capped first (σ(40) is 1.0 in float64, σ(11) in float16), so eᶻ never overflows
    # and no warning needs silencing; on a large array one look at its largest value costs
    # less than the capping pass, which then runs only if needed (16,000 values: 17 against
    # 22 µs, measured). Chosen by measurement: exp(−logaddexp(0, −z)) is 20× slower per
    # element, a sign split (e^−|z|, then np.where) 5–10×.
    def forward(self, z):
        cap = 40.0 if z.itemsize > 2 else 11.0
        uncapped = z.size > 4096 and np.maximum.reduce(z, axis=None) < cap  # (NaN: capped)
        t = np.exp(z if uncapped else np.minimum(z, cap))
        t /= t + 1  # (in place: one array fewer)
        return t

    # dσ/dz = σ(z)(1 − σ(z)), from the saved output: no second exp
    def backward(self, grad, out, z):
        return grad * out * (1 - out)

    # dσ(z) = σ(z)(1 − σ(z)) dz: the same factor, multiplying the tangent
    def jvp(self, tangents, out, z):
        return tangents[0] * out * (1 - out)


class TanhOp(Function):
    """tanh x = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ), elementwise."""

    def forward(self, x):
        return np.tanh(x)

    # d tanh(x)/dx = 1 − tanh²(x), from the saved output
    def backward(self, grad, out, x):
        return grad * (1 - out * out)

    # d tanh(x) = (1 − tanh²(x)) dx
    def jvp(self, tangents, out, x):
        return tangents[0] * (1 - out * out)


class ReLUOp(Function):
    """relu(x) = max(x, 0), elementwise."""

    def forward(self, x):
        return np.maximum(x, 0)  # (not x·[x > 0]: −inf·0 would be NaN)

    # d relu(x)/dx = 1 where x > 0, else 0 (we take 0 at the kink x = 0, as PyTorch). The
    # saved output is 0 exactly where x ≤ 0, so `out != 0` is the mask, and a NaN (whose
    # output is NaN) passes the gradient, as in PyTorch
    def backward(self, grad, out, x):
        return grad * (values(out) != 0)

    # d relu(x) = dx where x > 0 (backward's mask: out ≠ 0), else 0
    def jvp(self, tangents, out, x):
        return tangents[0] * (values(out) != 0)


class LeakyReLUOp(Function):
    """leaky_relu(x) = x where x > 0, negative_slope·x elsewhere."""

    name = "leaky_relu"

    def forward(self, x, negative_slope):
        self.slope = negative_slope
        return np.where(x > 0, x, x * negative_slope)

    # d/dx = 1 where x > 0, negative_slope elsewhere (at the kink 0 too, and for a NaN, as
    # PyTorch): a constant on each side, so the mask is a plain array
    def backward(self, grad, out, x):
        return grad * np.where(values(x) > 0, 1, self.slope).astype(out.dtype)

    # d leaky_relu(x) = dx where x > 0, negative_slope·dx elsewhere
    def jvp(self, tangents, out, x):
        return tangents[0] * np.where(values(x) > 0, 1, self.slope).astype(out.dtype)


class ELUOp(Function):
    """elu(x) = x where x > 0, α(eˣ − 1) elsewhere."""

    name = "elu"

    def forward(self, x, alpha):
        self.alpha = alpha
        return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0)))  # (no e¹⁰⁰⁰ computed)

    # d/dx = 1 where x > 0, α·eˣ where x ≤ 0 (α at the kink), and NaN for a NaN, as
    # PyTorch's vectorised kernel (its scalar one, on fewer than 16 elements, gives 1).
    # e^min(x, 0) is never ∞, so the masks never meet 0·∞.
    def backward(self, grad, out, x):
        positive = values(x) > 0
        return grad * (positive + ~positive * (self.alpha * exp(_at_most(x, 0))))

    # d elu(x) = dx where x > 0, α·eˣ dx where x ≤ 0 (as backward)
    def jvp(self, tangents, out, x):
        positive = values(x) > 0
        return tangents[0] * (positive + ~positive * (self.alpha * exp(_at_most(x, 0))))


class SoftplusOp(Function):
    """softplus(x) = ln(1 + e^(βx))/β, elementwise; x itself where βx > threshold."""

    name = "softplus"

    @_as_pytorch  # (NaN inputs)
    def forward(self, x, beta, threshold):
        self.beta, self.threshold = beta, threshold
        scaled = x * beta
        # ln(1 + e^(βx))/β = ln(e⁰ + e^(βx))/β: numpy's logaddexp never overflows. Above the
        # threshold PyTorch returns x itself (equal to float precision), so do we.
        return np.where(scaled > threshold, x, np.logaddexp(0, scaled) / beta)

    # d/dx = σ(βx) = 1 − e^(−β·out) (as e^(β·out) = 1 + e^(βx)), computed as −expm1(−β·out),
    # exact even where σ(βx) is tiny; 1 above the threshold, where out = x
    def backward(self, grad, out, x):
        above = values(x) * self.beta > self.threshold
        return grad * (above + ~above * -_expm1(out * -self.beta))

    # d softplus(x) = σ(βx) dx = −expm1(−β·out) dx; dx above the threshold
    def jvp(self, tangents, out, x):
        above = values(x) * self.beta > self.threshold
        return tangents[0] * (above + ~above * -_expm1(out * -self.beta))


class NormalCDF(Function):
    """Φ(x) = P(N(0, 1) ≤ x), the standard normal distribution function, elementwise."""

    name = "normal_cdf"

    # Φ(x) = P(N(0, 1) ≤ x) = ½·erfc(−x/√2), the exact gelu's gate (see _normal_cdf)
    def forward(self, x):
        return _normal_cdf(x)

    # dΦ/dx = φ(x) = e^(−x²/2)/√(2π), the normal density
    @_as_pytorch  # (x² overflows only past |x| ≈ 1e19 in float32, and e^(−∞) = 0 then)
    def backward(self, grad, out, x):
        return grad * exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))

    # dΦ(x) = φ(x) dx = e^(−x²/2)/√(2π) dx
    @_as_pytorch
    def jvp(self, tangents, out, x):
        return tangents[0] * exp(x * x * -0.5) * (1 / math.sqrt(2 * math.pi))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    """Φ(x) for an array, computed in float64 and returned in x's dtype: Φ(−|x|) =
    ½·erfc(|x|/√2) carries the small tail values, Φ(|x|) = 1 − Φ(−|x|) the rest."""
    z = np.minimum(np.abs(x.astype(np.float64)), 40.0) / math.sqrt(2)  # (Φ(−40) is 0)
    tail = 0.5 * _erfc(z)
    return np.where(x < 0, tail, 1 - tail).astype(x.dtype)


# erfc(z) for z ≥ 0 in Numerical Recipes' form, erfc(z) = t·exp(−z² + P(t)) with
# t = 1/(1 + z/3), but with a polynomial P of degree 16 instead of their 9: relative error
# below 3e-12 for 0 ≤ z ≤ 26.5 (where erfc reaches 1e-300), against 1.2e-7 for theirs.
# numpy has no erf; math.erfc, one element at a time, is 4–7× slower (measured on 2e3 and
# 1e5 values) and this is as accurate as float64 needs here. The coefficients
# (powers t⁰ … t¹⁶) come from interpolating ln(erfc(z)/t) + z² at 17 Chebyshev points of
# t ∈ [0.1, 1] with mpmath at 40 digits; tests/test_ops_elementwise.py checks the result
# against math.erfc.
_ERFC_COEFFICIENTS = (
    -1.6709771577221757, 0.99999598277783697, 0.4445426446057355, 0.22078849118466154,
    0.10506320556412993, -0.088768034944495144, 0.46299432447667443, -1.9748852770290446,
    5.6311068840800429, -12.79312160857002, 22.020701392134068, -28.594279297449692,
    27.478189751440798, -18.644131414608353, 8.3403044825142985, -2.1943653694966567,
    0.25684100104403151,
)


def _erfc(z: np.ndarray) -> np.ndarray:
    """The complementary error function 1 − erf(z) for z ≥ 0 (float64), accurate relative
    to its value even where that value is tiny."""
    t = 1 / (1 + z / 3)
    poly = np.full_like(t, _ERFC_COEFFICIENTS[-1])
    for coefficient in reversed(_ERFC_COEFFICIENTS[:-1]):  # Horner's rule, in place
        poly *= t
        poly += coefficient
    poly -= z * z
    return t * np.exp(poly, out=poly)


def _expm1(value: Any) -> Any:
    return value.expm1() if isinstance(value, Tensor) else np.expm1(value)


def _at_most(value: Any, bound: float) -> Any:
    """min(value, bound) for an array or a Tensor."""
    return value.clamp(max=bound) if isinstance(value, Tensor) else np.minimum(value, bound)


# ----------------------------------------------------------------------------------------
# The functions of torch.X and F.X: arguments checked here, in PyTorch's terms, then an op
# or a composite of ops (whose gradient comes from the ops it is made of)
# ----------------------------------------------------------------------------------------


def sigmoid(input: Tensor) -> Tensor:
    """σ(x) = 1 / (1 + e⁻ˣ), elementwise."""
    return _tensor("sigmoid", input).sigmoid()


def relu(input: Tensor) -> Tensor:
    """max(x, 0), elementwise."""
    return _tensor("relu", input).relu()


def tanh(input: Tensor) -> Tensor:
    """tanh x, elementwise."""
    return _tensor("tanh", input).tanh()


def silu(input: Tensor) -> Tensor:
    """x·σ(x) (also called swish)."""
    x = _float_tensor("silu", input)
    return x * x.sigmoid()


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x·Φ(x), Φ the standard normal distribution function; with approximate='tanh',
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))), as PyTorch's."""
    if not isinstance(approximate, str) or approximate not in ("none", "tanh"):
        raise RuntimeError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
    x = _float_tensor("gelu", input)
    if approximate == "tanh" and x.dtype == np.float16:  # (x³ overflows float16 past |x| ≈
        return gelu(x.float(), approximate).to(np.float16)  # 40: in float32, as PyTorch)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + inner.tanh())
    return x * NormalCDF.apply(x)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ln(1 + e^(βx))/β, smooth relu; x itself where βx > threshold, as PyTorch."""
    return SoftplusOp.apply(_float_tensor("softplus", input),
                            beta=_number("softplus", "beta", beta),
                            threshold=_number("softplus", "threshold", threshold))


def logsigmoid(input: Tensor) -> Tensor:
    """ln σ(x) = −softplus(−x), finite and exact where σ(x) itself would round to 0."""
    x = _float_tensor("logsigmoid", input)
    return -SoftplusOp.apply(-x, beta=1.0, threshold=math.inf)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, negative_slope·x elsewhere."""
    return LeakyReLUOp.apply(_float_tensor("leaky_relu", input),
                             negative_slope=_number("leaky_relu", "negative_slope",
                                                    negative_slope))


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x where x > 0, α(eˣ − 1) elsewhere."""
    return ELUOp.apply(_float_tensor("elu", input), alpha=_number("elu", "alpha", alpha))


def _float_tensor(op: str, value: Any) -> Tensor:
    """A Tensor for a function of floats: integers become float32 first."""
    x = _tensor(op, value)
    return x if x.data.dtype.kind == "f" else x.float()


def _number(op: str, name: str, value: Any) -> float:
    """A number argument as a Python float (a numpy float64 would make float32 data
    float64), or a TypeError naming the op and the argument."""
    if not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{op}: {name} must be a number, got {_describe(value)}")
    return float(value)
