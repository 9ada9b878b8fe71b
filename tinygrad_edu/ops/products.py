"""Matrix products: matmul and the linear layer's z = x Wᵀ + b as one op.
"""

from __future__ import annotations

from tinygrad_edu.ops import add_bias, sum_rows, sum_to_shape
from tinygrad_edu.tensor import Function

__all__ = [
    "LinearOp", "MatMul",
]


# ----------------------------------------------------------------------------------------
# Matrix products
# ----------------------------------------------------------------------------------------


def _matmul_shape_check(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    if not a or not b:
        raise ValueError(f"{op}: both operands need at least 1 dimension, got {a} and {b}")
    inner_b = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner_b:
        raise ValueError(f"{op}: shapes {a} and {b} do not match: {a[-1]} columns "
                         f"against {inner_b} rows")


class MatMul(Function):
    def forward(self, a, b):
        _matmul_shape_check("matmul", a.shape, b.shape)
        return a @ b

    # for out = A B: ∂C/∂A = ∂C/∂out · Bᵀ and ∂C/∂B = Aᵀ · ∂C/∂out. A 1-D operand is
    # treated as a row (on the left) or a column (on the right) vector, as numpy does;
    # batch axes that were broadcast are summed back.
    def backward(self, grad, out, a, b):
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        grad2 = grad.reshape(out.shape[:-1] + (1,) + out.shape[-1:]) if a.ndim == 1 else grad
        grad2 = grad2.reshape(grad2.shape + (1,)) if b.ndim == 1 else grad2
        da = db = None
        if self.needs_input_grad[0]:
            da = sum_to_shape(grad2 @ b2.swapaxes(-1, -2), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = sum_to_shape(a2.swapaxes(-1, -2) @ grad2, b2.shape).reshape(b.shape)
        return da, db


class LinearOp(Function):
    """z = x Wᵀ + b for a batch of rows x: the weighted sums of a layer, one op.

    W has shape (outputs, inputs), each row one neuron's weights, as in z(l) = W a(l−1) + b
    of the lessons (written for a column a; a batch stores its samples as rows, hence Wᵀ).
    One op instead of matmul, transpose and add: three graph nodes' bookkeeping saved on
    the hottest path, and W's gradient comes out in W's own memory order.
    """

    def forward(self, x, weight, bias=None):
        try:
            z = x @ weight.T
            if bias is not None:
                z = add_bias(z, bias)
        except ValueError:  # explained here, only when it happens (no cost otherwise)
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape "
                f"{weight.shape} and bias of shape {getattr(bias, 'shape', None)} (needs "
                f"input.shape[-1] == weight.shape[1] and bias of shape ({weight.shape[0]},))"
            ) from None
        return z

    # ∂C/∂x = ∂C/∂z · W,  ∂C/∂W = (∂C/∂z)ᵀ · x  (so ∂C/∂w_jk = Σ ∂C/∂z_j · a_k),  ∂C/∂b = Σ ∂C/∂z
    def backward(self, grad, out, x, weight, bias=None):
        needs = self.needs_input_grad
        dx = grad @ weight if needs[0] else None
        if x.ndim != 2:  # extra batch axes: every row is one sample
            grad, x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        dw = grad.T @ x if needs[1] else None
        if bias is None:
            return dx, dw
        return dx, dw, sum_rows(grad) if needs[2] else None
