"""Ops the tests define the way a user would: a Function with forward and backward."""

from tinygrad_edu import Function


class Cube(Function):
    """x³, its backward written with the input itself: right, and differentiable again."""

    def forward(self, x):
        return x ** 3

    # d x³/dx = 3x²
    def backward(self, grad, out, x):
        return grad * 3 * x * x
