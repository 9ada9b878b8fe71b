"""Checking gradients against numbers: central differences, Jacobians, gradcheck.

The analytic gradient comes from `backward()`. The numeric one needs no calculus at all:
nudge one input element by ±eps and watch the output move,

    ∂f/∂xᵢ ≈ (f(x + eps·eᵢ) − f(x − eps·eᵢ)) / (2·eps),

whose error shrinks like eps² (truncation) until rounding, which grows like 1/eps, takes
over. In float64 eps ≈ 1e-6 sits near the bottom of that V; in float32 no eps is good,
which is why checks run in float64.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.tensor import Tensor, enable_grad, grad, is_grad_enabled, no_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "jacobian", "numeric_jacobian"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


TensorFunction = Callable[..., Tensor]


class GradcheckError(AssertionError):
    """Raised by `gradcheck` / `gradgradcheck` when analytic and numeric gradients differ."""


def _as_inputs(inputs: Tensor | Sequence[Any]) -> tuple[Any, ...]:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _differentiable(inputs: tuple[Any, ...]) -> list[int]:
    """Positions of the inputs we differentiate with respect to."""
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _evaluate(fn: TensorFunction, inputs: tuple[Any, ...]) -> np.ndarray:
    """fn(*inputs) as a float64 array, recording no graph."""
    with no_grad():
        out = fn(*inputs)
    return np.array(out.data if isinstance(out, Tensor) else out, dtype=np.float64)


def _numeric_jacobians(fn: TensorFunction, inputs: Tensor | Sequence[Any],
                       eps: float = 1e-6) -> list[np.ndarray]:
    """Central-difference Jacobians of `fn`, one per input that requires grad.

    Each has shape `output.shape + input.shape`: entry [i..., j...] ≈ ∂out[i...]/∂x[j...].
    The inputs are nudged in place and restored exactly afterwards.
    """
    inputs = _as_inputs(inputs)
    output_shape = _evaluate(fn, inputs).shape
    jacobians = []
    for position in _differentiable(inputs):
        x = inputs[position].data
        jacobian = np.zeros(output_shape + x.shape)
        for index in np.ndindex(x.shape):
            original = x[index].copy()
            x[index] = original + eps
            plus = _evaluate(fn, inputs)
            x[index] = original - eps
            minus = _evaluate(fn, inputs)
            x[index] = original
            jacobian[(...,) + index] = (plus - minus) / (2 * eps)
        jacobians.append(jacobian)
    return jacobians


def _analytic_jacobians(fn: TensorFunction, inputs: Tensor | Sequence[Any]
                        ) -> list[np.ndarray]:
    """Jacobians from backward, one per input that requires grad (shapes as above).

    One backward pass per output element: seeding the output gradient with the unit vector
    eᵢ gives row i of the Jacobian, ∂out[i]/∂x, for every input at once.
    """
    inputs = _as_inputs(inputs)
    positions = _differentiable(inputs)
    out = fn(*inputs)
    jacobians = [np.zeros(out.shape + inputs[p].shape) for p in positions]
    if not out.requires_grad:  # nothing depends on the inputs: all zero
        return jacobians
    for index in np.ndindex(out.shape):
        seed = np.zeros(out.shape, out.dtype)
        seed[index] = 1
        grads = grad(out, [inputs[p] for p in positions], seed, retain_graph=True,
                     allow_unused=True)
        for jacobian, g in zip(jacobians, grads, strict=True):
            if g is not None:
                jacobian[index] = g.data
    return jacobians


def jacobian(fn: TensorFunction, x: Tensor | Sequence[Tensor]) -> Any:
    """The Jacobian of `fn` at `x` from backward, shape `fn(x).shape + x.shape`; for a list
    of inputs, `fn(*inputs)`'s Jacobian with respect to each, as a list."""
    if isinstance(x, Tensor):
        return _analytic_jacobians(fn, [_with_grad(x)])[0]
    return _analytic_jacobians(fn, [_with_grad(t) for t in x])


def numeric_jacobian(fn: TensorFunction, x: Tensor | Sequence[Tensor], eps: float = 1e-6
                     ) -> Any:
    """The same Jacobian(s) by central differences (each input nudged by ±eps in turn)."""
    if isinstance(x, Tensor):
        return _numeric_jacobians(fn, [_with_grad(x)], eps)[0]
    return _numeric_jacobians(fn, [_with_grad(t) for t in x], eps)


def _with_grad(x: Tensor) -> Tensor:
    return x if x.requires_grad else Tensor(x.data, requires_grad=True)


def _warn_if_not_float64(inputs: tuple[Any, ...], check: str) -> None:
    for position in _differentiable(inputs):
        if inputs[position].dtype != np.float64:
            warnings.warn(
                f"{check}: input {position} is {inputs[position].dtype}, not float64. Central "
                "differences divide a tiny change by a tiny eps; float32 keeps ~7 digits, so "
                "its rounding error (~1e-7/eps) swamps the gradient and the check fails for "
                "no fault of backward. Pass float64 tensors (dtype=np.float64).",
                stacklevel=3)


def _describe_mismatch(check: str, position: int, x: Tensor, analytic: np.ndarray,
                       numeric: np.ndarray, out_shape: tuple[int, ...], atol: float,
                       rtol: float) -> str:
    error = np.abs(analytic - numeric)
    relative = error / np.maximum(np.abs(numeric), np.finfo(np.float64).tiny)
    excess = error - (atol + rtol * np.abs(numeric))
    worst = tuple(int(i) for i in np.unravel_index(np.argmax(excess), analytic.shape))
    out_index, in_index = list(worst[:len(out_shape)]), list(worst[len(out_shape):])
    label = f"input {position}" + (f" ({x.name})" if x.name else "") + f" of shape {x.shape}"
    message = (f"{check}: gradient mismatch for {label}\n"
               f"  at ∂out{out_index}/∂x{in_index}: analytic {analytic[worst]:.8g}, "
               f"numeric {numeric[worst]:.8g}\n"
               f"  worst absolute error {error.max():.3g}, worst relative error "
               f"{relative.max():.3g} (allowed: atol {atol:g} + rtol {rtol:g} × |numeric|)")
    if analytic.size <= 64:  # small enough to read whole
        rows = (-1, x.data.size)
        message += (f"\n  analytic Jacobian (rows: outputs, columns: inputs):\n"
                    f"{analytic.reshape(rows)}\n  numeric Jacobian:\n{numeric.reshape(rows)}")
    return message


def gradcheck(fn: TensorFunction, inputs: Tensor | Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True) -> bool:
    """Check backward's gradients of `fn` against central differences.

    For every input that requires grad, the Jacobian from backward must equal the numeric
    one within `atol + rtol·|numeric|`, element by element. `fn` may return a tensor of any
    shape. Use float64 inputs. On a mismatch, raises `GradcheckError` naming the input, the
    element and both values (or returns False when `raise_exception=False`).
    """
    inputs = _as_inputs(inputs)
    _warn_if_not_float64(inputs, "gradcheck")
    positions = _differentiable(inputs)
    if not positions:
        raise ValueError("gradcheck: no input requires grad, so there is nothing to check")
    analytic = _analytic_jacobians(fn, inputs)
    numeric = _numeric_jacobians(fn, inputs, eps)
    out_shape = _evaluate(fn, inputs).shape
    for position, a, n in zip(positions, analytic, numeric, strict=True):
        if not np.allclose(a, n, rtol=rtol, atol=atol):
            if raise_exception:
                raise GradcheckError(_describe_mismatch("gradcheck", position, inputs[position],
                                                        a, n, out_shape, atol, rtol))
            return False
    return True


def gradgradcheck(fn: TensorFunction, inputs: Tensor | Sequence[Any],
                  grad_output: Tensor | None = None, eps: float = 1e-6, atol: float = 1e-5,
                  rtol: float = 1e-3, raise_exception: bool = True,
                  seed: int = 0) -> bool:
    """Check second-order gradients: gradcheck of the backward pass itself.

    The backward pass is a function too: given the inputs x and an output gradient v it
    returns vᵀ·∂fn/∂x. Recorded with `create_graph=True` it has its own backward, which
    this checks against central differences, with respect to both x and v. `grad_output`
    is v (random, from `seed`, when not given).
    """
    inputs = _as_inputs(inputs)
    _warn_if_not_float64(inputs, "gradgradcheck")
    positions = _differentiable(inputs)
    if grad_output is None:
        out_shape = _evaluate(fn, inputs).shape
        values = np.random.default_rng(seed).standard_normal(out_shape)
        grad_output = Tensor(values, requires_grad=True, dtype=np.float64)

    def first_derivatives(*args: Any) -> Tensor:
        # vᵀ·∂fn/∂x for each differentiable x, flattened and joined. While gradcheck takes
        # its analytic Jacobian this is recorded (create_graph); while it nudges inputs for
        # the numeric one, grad mode is off and only the values are computed.
        *fn_inputs, v = args
        recording = is_grad_enabled()
        with enable_grad():
            out = fn(*fn_inputs)
            grads = grad(out, [fn_inputs[p] for p in positions], v if recording else v.data,
                         create_graph=recording, allow_unused=True)
        flat = [g.reshape(-1) if g is not None
                else Tensor(np.zeros(fn_inputs[p].size), dtype=np.float64)
                for g, p in zip(grads, positions, strict=True)]
        return _concat(flat)

    return gradcheck(first_derivatives, (*inputs, grad_output), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)


def _concat(parts: list[Tensor]) -> Tensor:
    """Join 1-D tensors end to end, differentiably (scatter each into its slice)."""
    total = sum(p.size for p in parts)
    result: Tensor | None = None
    start = 0
    for part in parts:
        placed = ops.IndexAdd.apply(part, index=slice(start, start + part.size), shape=(total,))
        result = placed if result is None else result + placed
        start += part.size
    assert result is not None, "_concat needs at least one part"
    return result
