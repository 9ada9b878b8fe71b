"""Elementwise ops: arithmetic with numpy broadcasting (gradients summed back with
`sum_to_shape`), casts and copies, activations and other functions of one value.
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops import cast, log, sum_to_shape, values
from tinygrad_edu.tensor import Function

__all__ = [
    "Add", "Cast", "Clone", "Div", "Exp", "Log", "Mul", "Neg", "Pow", "ReLUOp", "SigmoidOp",
    "Sub", "TanhOp",
]


# ----------------------------------------------------------------------------------------
# Elementwise arithmetic (numpy broadcasting; gradients summed back with sum_to_shape)
# ----------------------------------------------------------------------------------------


class Add(Function):
    def forward(self, x, y):
        return x + y

    # ∂(x + y)/∂x = 1, ∂(x + y)/∂y = 1
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Sub(Function):
    def forward(self, x, y):
        return x - y

    # ∂(x − y)/∂x = 1, ∂(x − y)/∂y = −1
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(-grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Mul(Function):
    def forward(self, x, y):
        return x * y

    # ∂(x·y)/∂x = y, ∂(x·y)/∂y = x
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad * y, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(grad * x, y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Div(Function):
    def forward(self, x, y):
        return x / y

    # ∂(x/y)/∂x = 1/y, ∂(x/y)/∂y = −x/y²
    def backward(self, grad, out, x, y):
        dx = sum_to_shape(grad / y, x.shape) if self.needs_input_grad[0] else None
        dy = sum_to_shape(-grad * x / (y * y), y.shape) if self.needs_input_grad[1] else None
        return dx, dy


class Pow(Function):
    def forward(self, x, y):
        return x ** y

    # ∂(xʸ)/∂x = y·xʸ⁻¹, ∂(xʸ)/∂y = xʸ·ln x. At x = 0 both formulas meet 0·∞, which numpy
    # makes NaN; the limits, as PyTorch takes them, are 0: for y = 0 (x⁰ = 1 is constant)
    # and for x = 0 with y ≥ 0 (0ʸ is 0 or 1 whatever y does). So where y = 0 the exponent
    # y − 1 becomes 0 (y·x⁰ = 0), and where x = 0 ≤ y, ln x reads ln 1 = 0.
    def backward(self, grad, out, x, y):
        dx = dy = None
        if self.needs_input_grad[0]:
            exponent = y - 1 + (values(y) == 0)
            dx = sum_to_shape(grad * y * x ** exponent, x.shape)
        if self.needs_input_grad[1]:
            base = x + ((values(x) == 0) & (values(y) >= 0))
            dy = sum_to_shape(grad * out * log(base), y.shape)
        return dx, dy


class Neg(Function):
    def forward(self, x):
        return -x

    # ∂(−x)/∂x = −1
    def backward(self, grad, out, x):
        return -grad


class Clone(Function):
    def forward(self, x):
        return x.copy()

    # a copy passes the gradient through unchanged: ∂x/∂x = 1
    def backward(self, grad, out, x):
        return grad


class Cast(Function):
    def forward(self, x, dtype):
        return x.astype(dtype)

    # the values pass through unchanged; only the gradient goes back to the input's dtype
    def backward(self, grad, out, x):
        return cast(grad, x.dtype)


# ----------------------------------------------------------------------------------------
# Activations and other elementwise functions
# ----------------------------------------------------------------------------------------


class SigmoidOp(Function):
    # σ(z) = 1 / (1 + e⁻ᶻ), computed as ½(1 + tanh(z/2)), the same function: tanh never
    # overflows, so z = ±1e4 gives 0 and 1 without warnings, and it is one fast ufunc.
    # (Outputs below ~1e-8 round to 0 in float32; the gradient there is ~0 either way.)
    def forward(self, z):
        return 0.5 * np.tanh(0.5 * z) + 0.5

    # dσ/dz = σ(z)(1 − σ(z)), from the saved output: no second exp
    def backward(self, grad, out, z):
        return grad * out * (1 - out)


class TanhOp(Function):
    def forward(self, x):
        return np.tanh(x)

    # d tanh(x)/dx = 1 − tanh²(x), from the saved output
    def backward(self, grad, out, x):
        return grad * (1 - out * out)


class ReLUOp(Function):
    def forward(self, x):
        return np.maximum(x, 0)  # (not x·[x > 0]: −inf·0 would be NaN)

    # d relu(x)/dx = 1 where x > 0, else 0 (we take 0 at the kink x = 0, as PyTorch);
    # x > 0 exactly where the saved output is > 0, so nothing else is kept
    def backward(self, grad, out, x):
        return grad * (values(out) > 0)


class Exp(Function):
    def forward(self, x):
        return np.exp(x)

    # d eˣ/dx = eˣ, the saved output
    def backward(self, grad, out, x):
        return grad * out


class Log(Function):
    def forward(self, x):
        return np.log(x)

    # d ln x/dx = 1/x
    def backward(self, grad, out, x):
        return grad / x
