"""Checking gradients against numbers: central differences, Jacobians, gradcheck.

The analytic gradient comes from `backward()`. The numeric one needs no calculus at all:
nudge one input element by ±eps and watch the output move,

    ∂f/∂xᵢ ≈ (f(x + eps·eᵢ) − f(x − eps·eᵢ)) / (2·eps),

whose error shrinks like eps² (truncation) until rounding, which grows like 1/eps, takes
over. In float64 eps ≈ 1e-6 sits near the bottom of that V; in float32 no eps is good,
which is why checks run in float64.

`gradcheck` takes torch.autograd.gradcheck's arguments and makes the same checks:

- backward (`check_backward_ad`): backward's Jacobian equals the numeric one, element by
  element. That costs one backward pass per output element and two calls of the function
  per input element. `fast_mode=True` compares one number per input and output instead,
  uᵀ·J·v for random u (shaped like the output) and v (like the input): backward gives uᵀJ
  in one pass, a single central difference along v gives J·v. A wrong Jacobian gives
  another number: uᵀ·(error)·v = 0 for random u and v has probability 0.
- reentrancy (`nondet_tol`): backward run twice on the same graph gives the same gradients.
- forward mode (`check_forward_ad`): each op's `jvp` rule, J·v from
  `tinygrad_edu.func.push_tangents`, against the same numeric Jacobian (or J·v).
- zero output gradients (`check_undefined_grad`): give zero input gradients, no crash.
- batches (`check_batched_grad`, `check_batched_forward_grad`): `tinygrad_edu.func.vmap`
  over several cotangents (tangents) gives what they give one by one.
"""

from __future__ import annotations

import contextlib
import numbers
import warnings
from collections.abc import Callable, Iterator, Sequence
from functools import cached_property, partial
from typing import Any

import numpy as np

from tinygrad_edu import func as transforms
from tinygrad_edu.tensor import Tensor, _describe, enable_grad, grad, is_grad_enabled, no_grad

__all__ = ["GradcheckError", "gradcheck", "gradgradcheck", "jacobian", "numeric_jacobian"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


TensorFunction = Callable[..., Any]  # returns a Tensor or a tuple of Tensors


class GradcheckError(AssertionError):
    """Raised by `gradcheck` / `gradgradcheck` when analytic and numeric gradients differ."""


# ----------------------------------------------------------------------------------------
# 1. The problem: a function, its inputs, its outputs recorded once
# ----------------------------------------------------------------------------------------
def _as_inputs(inputs: Tensor | Sequence[Any]) -> tuple[Any, ...]:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def _differentiable(inputs: tuple[Any, ...]) -> list[int]:
    """Positions of the inputs we differentiate with respect to."""
    return [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]


def _outputs(check: str, result: Any) -> tuple[Tensor, ...]:
    outputs = (result,) if isinstance(result, Tensor) else result
    if not isinstance(outputs, (tuple, list)) or not outputs or not all(
            isinstance(o, Tensor) for o in outputs):
        raise TypeError(f"{check}: func must return a Tensor or a tuple of Tensors, got "
                        f"{_describe(result)}")
    return tuple(outputs)


def _is_float(t: Tensor) -> bool:
    return bool(np.issubdtype(t.dtype, np.floating))  # integer outputs (indices) have no J


class _Problem:
    """One check: `func`, its inputs, the settings, and func's outputs recorded once with
    their graph. Every analytic check below reuses that graph (each backward keeps it,
    retain_graph=True), so func runs with grad once, and then only for numbers."""

    def __init__(self, check: str, func: TensorFunction, inputs: tuple[Any, ...],
                 eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                 nondet_tol: float = 0.0, input_names: Sequence[str | None] | None = None,
                 output_names: Sequence[str | None] | None = None) -> None:
        self.check, self.func, self.inputs = check, func, inputs
        self.eps, self.atol, self.rtol, self.nondet_tol = eps, atol, rtol, nondet_tol
        self.positions = _differentiable(inputs)
        if not self.positions:
            raise ValueError(f"{check}: no input requires grad, so there is nothing to check")
        self.xs = [inputs[p] for p in self.positions]
        with enable_grad():
            returned = func(*inputs)
        result = _outputs(check, returned)
        self.single = isinstance(returned, Tensor)  # (not a tuple: "out", not "out0")
        self.output_positions = [k for k, o in enumerate(result) if _is_float(o)]
        self.outputs = [result[k] for k in self.output_positions]
        self.input_names = input_names
        self.output_names = output_names
        self.rng = np.random.default_rng(0)  # fixed: a check that fails, fails every time

    def evaluate(self) -> list[np.ndarray]:
        """func's (float) outputs as float64 arrays, recording no graph."""
        with no_grad():
            result = _outputs(self.check, self.func(*self.inputs))
        return [np.array(result[k].data, dtype=np.float64) for k in self.output_positions]

    def input_label(self, i: int) -> str:
        position, x = self.positions[i], self.xs[i]
        name = self.input_names[position] if self.input_names else x.name
        return f"input {position}" + (f" ({name})" if name else "") + f" of shape {x.shape}"

    def output_label(self, k: int) -> str:
        if self.single:
            return ""
        position = self.output_positions[k]
        name = self.output_names[position] if self.output_names else None
        return (f", output {position}" + (f" ({name})" if name else "")
                + f" of shape {self.outputs[k].shape}")

    def pair_label(self, i: int, k: int) -> str:
        return self.input_label(i) + self.output_label(k)

    def out_symbol(self, k: int) -> str:
        return "out" if self.single else f"out{self.output_positions[k]}"

    # Random directions for fast mode: u per output (a cotangent), v per input (a tangent),
    # drawn once, so the backward and forward checks share the numeric J·v.
    @cached_property
    def us(self) -> list[np.ndarray]:
        return [_random_direction(self.rng, o.shape) for o in self.outputs]

    @cached_property
    def vs(self) -> list[np.ndarray]:
        return [_random_direction(self.rng, x.shape) for x in self.xs]

    @cached_property
    def numeric_jacobians(self) -> list[list[np.ndarray]]:
        """[input][output], each of shape output.shape + input.shape (see _numeric_jacobian)."""
        return [_numeric_jacobian(self, i) for i in range(len(self.xs))]

    @cached_property
    def numeric_jvps(self) -> list[list[np.ndarray]]:
        """[input][output]: J·v along that input's random v, by one central difference."""
        return [_numeric_jvp(self, i, v) for i, v in enumerate(self.vs)]


def _random_direction(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Uniform in [0, 1), then of unit length, as PyTorch's fast mode draws them.

    Non-negative entries make the element-wise tolerance carry over exactly: if every
    |Jᵢⱼ error| ≤ atol, then |uᵀ·error·v| ≤ atol·Σu·Σv. Unit length makes x ± eps·v a step
    of length eps, like a one-element nudge."""
    v = rng.random(shape)
    return v / (np.linalg.norm(v) or 1.0)


# ----------------------------------------------------------------------------------------
# 2. Numbers: central differences
# ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _nudging(x: Tensor) -> Iterator[np.ndarray]:
    """A writable copy of x's values, which x holds while we nudge them.

    x itself holds the copy, so func sees the nudges however it reaches x (an argument, or
    a model parameter it closes over). A copy, because the tensor may share a numpy array
    with the caller (Tensor(array) does not copy), which must not change, and which may be
    read-only. `finally`: x gets its own array back even when func raises partway.
    """
    original = x.data
    x.data = np.array(original, copy=True)
    try:
        yield x.data
    finally:
        x.data = original


def _numeric_jacobian(problem: _Problem, i: int) -> list[np.ndarray]:
    """Central-difference Jacobians of every output with respect to input i, each of shape
    `output.shape + input.shape`: entry [o..., j...] ≈ ∂out[o...]/∂x[j...]."""
    x = problem.xs[i]
    jacobians = [np.zeros(o.shape + x.shape) for o in problem.outputs]
    with _nudging(x) as values:
        for index in np.ndindex(x.shape):
            original = values[index].copy()
            values[index] = original + problem.eps
            plus = problem.evaluate()
            values[index] = original - problem.eps
            minus = problem.evaluate()
            values[index] = original
            for jacobian, p, m in zip(jacobians, plus, minus, strict=True):
                jacobian[(...,) + index] = (p - m) / (2 * problem.eps)
    return jacobians


def _numeric_jvp(problem: _Problem, i: int, v: np.ndarray) -> list[np.ndarray]:
    """J·v for every output, by one central difference along v (fast mode):
    (f(x + eps·v) − f(x − eps·v)) / (2·eps)."""
    with _nudging(problem.xs[i]) as values:
        original = values.copy()
        values[...] = original + problem.eps * v
        plus = problem.evaluate()
        values[...] = original - problem.eps * v
        minus = problem.evaluate()
    return [(p - m) / (2 * problem.eps) for p, m in zip(plus, minus, strict=True)]


# ----------------------------------------------------------------------------------------
# 3. The analytic side: backward (rows of J) and forward mode (columns of J)
# ----------------------------------------------------------------------------------------
def _vjps(output: Tensor, xs: list[Tensor], u: np.ndarray) -> list[np.ndarray]:
    """uᵀ·∂output/∂x for each x, as float64 (zeros where output does not depend on x): one
    backward pass, the graph kept for the next."""
    if not output.requires_grad:  # nothing depends on the inputs
        return [np.zeros(x.shape) for x in xs]
    grads = grad(output, xs, u.astype(output.dtype), retain_graph=True, allow_unused=True)
    return [np.zeros(x.shape) if g is None else np.array(g.data, dtype=np.float64)
            for g, x in zip(grads, xs, strict=True)]


def _unit(shape: tuple[int, ...], index: tuple[int, ...]) -> np.ndarray:
    e = np.zeros(shape)
    e[index] = 1
    return e


def _backward_jacobian(output: Tensor, xs: list[Tensor]) -> list[np.ndarray]:
    """∂output/∂x for each x, of shape output.shape + x.shape, from backward: seeding the
    output gradient with the unit vector eᵢ gives row i, ∂out[i]/∂x, for every x at once."""
    jacobians = [np.zeros(output.shape + x.shape) for x in xs]
    for index in np.ndindex(output.shape):
        for jacobian, row in zip(jacobians, _vjps(output, xs, _unit(output.shape, index)),
                                 strict=True):
            jacobian[index] = row
    return jacobians


def _backward_jacobians(problem: _Problem) -> list[list[np.ndarray]]:
    """[input][output], from backward."""
    per_output = [_backward_jacobian(o, problem.xs) for o in problem.outputs]
    return [[jacobians[i] for jacobians in per_output] for i in range(len(problem.xs))]


def _push(problem: _Problem, i: int, v: np.ndarray) -> list[Any]:
    """The outputs' tangents when input i moves along v (the other inputs stay), from the
    ops' jvp rules: one tangent pass over the recorded graph (forward mode). None: zero."""
    x = problem.xs[i]
    try:
        return transforms.push_tangents(problem.outputs, [x], [v.astype(x.dtype)])
    except NotImplementedError as err:  # an op without a jvp rule: say which check asked
        raise NotImplementedError(f"{problem.check} with check_forward_ad=True: {err}; write "
                                  "its jvp, or pass check_forward_ad=False") from err


def _jvps(problem: _Problem, i: int, v: np.ndarray) -> list[np.ndarray]:
    """J·v for every output, as float64 arrays (zeros where an output does not move)."""
    return [np.zeros(o.shape) if m is None else np.array(m, dtype=np.float64)
            for m, o in zip(_push(problem, i, v), problem.outputs, strict=True)]


def _forward_jacobian(problem: _Problem, i: int) -> list[np.ndarray]:
    """∂output/∂(input i) for every output, from forward mode: the tangent eⱼ gives
    column j, how every output moves when x[j] does."""
    x = problem.xs[i]
    jacobians = [np.zeros(o.shape + x.shape) for o in problem.outputs]
    for index in np.ndindex(x.shape):
        for jacobian, column in zip(jacobians, _jvps(problem, i, _unit(x.shape, index)),
                                    strict=True):
            jacobian[(...,) + index] = column
    return jacobians


# ----------------------------------------------------------------------------------------
# 4. Comparing, and saying what differs
# ----------------------------------------------------------------------------------------
def _number(check: str, name: str, value: Any, positive: bool = False) -> float:
    """A tolerance (or eps) must be one number. A list would broadcast across the
    Jacobian's last axis: each column its own tolerance, and a wrong element could pass."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{check}: {name} must be one number, the same for every element, "
                        f"got {_describe(value)}")
    number = float(value)
    if np.isnan(number) or number < 0 or (positive and number == 0):
        raise ValueError(f"{check}: {name} must be {'> 0' if positive else '>= 0'}, "
                         f"got {value}")
    return number


def _relative_errors(analytic: np.ndarray, numeric: np.ndarray) -> np.ndarray:
    """|a − n| / max(|a|, |n|) per element (0 where both are 0): the share of the larger
    value that is wrong, 1 when one of them is 0, up to 2 for opposite signs. It never
    blows up when the numeric value is 0, as |a − n| / |n| does (8.99e+307 with a tiny)."""
    scale = np.maximum(np.abs(analytic), np.abs(numeric))
    error = np.abs(analytic - numeric)
    return np.divide(error, scale, out=np.zeros_like(error), where=scale > 0)


def _relative_difference(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖), the one number courses' gradient checks print (Ng: below 1e-7
    the gradient is right, above 1e-3 it almost surely has a bug); 0 when both are 0."""
    total = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    return float(np.linalg.norm(analytic - numeric)) / total if total > 0 else 0.0


def _close(analytic: np.ndarray, numeric: np.ndarray, atol: float, rtol: float) -> bool:
    return bool(np.allclose(analytic, numeric, rtol=rtol, atol=atol))


def _mismatch(problem: _Problem, what: str, i: int, k: int, analytic: np.ndarray,
              numeric: np.ndarray) -> str:
    """The report on two Jacobians that differ: which input and output, then the details."""
    return (f"{problem.check}: {what} mismatch for {problem.pair_label(i, k)}\n"
            + _details(problem, i, k, analytic, numeric))


def _details(problem: _Problem, i: int, k: int, analytic: np.ndarray, numeric: np.ndarray
             ) -> str:
    """Where two Jacobians differ most, by how much, and both in full when they are small
    enough to read."""
    error = np.abs(analytic - numeric)
    allowed = problem.atol + problem.rtol * np.abs(numeric)
    outside = ~(error <= allowed)  # (NaN counts as outside)
    excess = np.where(outside, np.nan_to_num(error - allowed, nan=np.inf), -np.inf)
    worst = tuple(int(j) for j in np.unravel_index(np.argmax(excess), analytic.shape))
    out_ndim = problem.outputs[k].ndim
    relative = _relative_errors(analytic, numeric)[outside]
    message = (f"  at ∂{problem.out_symbol(k)}{list(worst[:out_ndim])}/∂x"
               f"{list(worst[out_ndim:])}: analytic {analytic[worst]:.8g}, numeric "
               f"{numeric[worst]:.8g}\n"
               f"  worst absolute error {error.max():.3g}, worst relative error "
               f"{relative.max() if relative.size else 0:.3g} (allowed: atol {problem.atol:g}"
               f" + rtol {problem.rtol:g} × |numeric|)\n"
               f"  (relative error: |analytic − numeric| / max(|analytic|, |numeric|), over "
               f"the {int(outside.sum())} of {outside.size} elements outside tolerance)\n"
               f"  relative difference ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖) = "
               f"{_relative_difference(analytic, numeric):.3g} (courses' gradient check: "
               f"below 1e-7 is right)")
    if analytic.size <= 64:  # small enough to read whole
        rows = (-1, problem.xs[i].size)
        message += (f"\n  analytic Jacobian (rows: outputs, columns: inputs):\n"
                    f"{analytic.reshape(rows)}\n  numeric Jacobian:\n{numeric.reshape(rows)}")
    return message


def _compare_jacobians(problem: _Problem, what: str, analytic: list[list[np.ndarray]]
                       ) -> None:
    """Slow mode: every element of every Jacobian, [input][output]."""
    for i, (per_output, numeric) in enumerate(zip(analytic, problem.numeric_jacobians,
                                                  strict=True)):
        for k, (a, n) in enumerate(zip(per_output, numeric, strict=True)):
            if not _close(a, n, problem.atol, problem.rtol):
                raise GradcheckError(_mismatch(problem, what, i, k, a, n))


def _fast_mismatch(problem: _Problem, what: str, i: int, k: int, analytic: Any,
                   numeric: Any, atol: float) -> str:
    """The report on a fast-mode mismatch, with the full Jacobians of that input and output
    computed for it (slow, but only on failure), as PyTorch's report does."""
    a, n = np.asarray(analytic), np.asarray(numeric)
    if a.ndim == 0:  # backward: the numbers uᵀ·J·v
        compared = (f"uᵀ·J·v for random u and v: analytic {a.item():.8g}, numeric "
                    f"{n.item():.8g}")
    else:  # forward mode: the vectors J·v
        at = tuple(int(j) for j in np.unravel_index(np.argmax(np.abs(a - n)), a.shape))
        compared = (f"J·v for a random v: at {problem.out_symbol(k)}{list(at)}, analytic "
                    f"{a[at]:.8g}, numeric {n[at]:.8g}")
    message = (f"{problem.check} (fast_mode): {what} mismatch for {problem.pair_label(i, k)}\n"
               f"  {compared} (allowed: atol {problem.atol:g}, scaled to {atol:.3g} by the "
               f"sums of the random vectors, + rtol {problem.rtol:g} × |numeric|); relative "
               f"difference {_relative_difference(a, n):.3g}\n"
               f"  the full Jacobians, computed for this report:\n")
    if what == "gradient":
        full = _backward_jacobian(problem.outputs[k], [problem.xs[i]])[0]
    else:
        full = _forward_jacobian(problem, i)[k]
    numeric_full = _numeric_jacobian(problem, i)[k]
    if _close(full, numeric_full, problem.atol, problem.rtol):
        return message + ("  they agree element by element (fast mode's sum added small "
                          "errors up): pass fast_mode=False")
    return message + _details(problem, i, k, full, numeric_full)


def _check_reentrant(problem: _Problem, i: int, first: list[np.ndarray],
                     second: list[np.ndarray]) -> None:
    """Backward run twice on the same graph and output gradient must agree: a backward
    that gives other numbers each time (random, or state kept between calls) is a bug even
    when each answer is close to the right one."""
    differs = max((float(np.max(np.abs(a - b), initial=0.0))
                   for a, b in zip(first, second, strict=True)), default=0.0)
    if not differs <= problem.nondet_tol:
        raise GradcheckError(
            f"{problem.check}: backward is not reentrant: run twice on the same inputs and "
            f"output gradient, it gave gradients for {problem.input_label(i)} that differ by "
            f"up to {differs:.3g} (nondet_tol {problem.nondet_tol:g}). A backward must give "
            "the same numbers every time; if yours cannot (it sums in a random order), pass "
            "nondet_tol=<the largest difference you accept>")


# ----------------------------------------------------------------------------------------
# 5. The checks
# ----------------------------------------------------------------------------------------
def _check_backward(problem: _Problem) -> None:
    """Slow mode: backward's whole Jacobians against central differences, then the
    same Jacobians computed again must be the same (reentrancy)."""
    first = _backward_jacobians(problem)
    _compare_jacobians(problem, "gradient", first)
    second = _backward_jacobians(problem)
    for i in range(len(problem.xs)):
        _check_reentrant(problem, i, first[i], second[i])


def _check_backward_fast(problem: _Problem) -> None:
    """Fast mode: for each output, one backward with the random cotangent u gives uᵀJ for
    every input; dotted with v it must equal u·(J·v), J·v by one central difference."""
    for k, (output, u) in enumerate(zip(problem.outputs, problem.us, strict=True)):
        first = _vjps(output, problem.xs, u)
        for i, v in enumerate(problem.vs):
            analytic = float(np.sum(first[i] * v))
            numeric = float(np.sum(u * problem.numeric_jvps[i][k]))
            atol = problem.atol * float(u.sum() * v.sum())
            if not abs(analytic - numeric) <= atol + problem.rtol * abs(numeric):
                raise GradcheckError(_fast_mismatch(problem, "gradient", i, k, analytic,
                                                    numeric, atol))
        second = _vjps(output, problem.xs, u)
        for i in range(len(problem.xs)):
            _check_reentrant(problem, i, [first[i]], [second[i]])


def _check_forward(problem: _Problem) -> None:
    """Slow mode: forward mode's whole Jacobians (a tangent pass per input element)."""
    analytic = [_forward_jacobian(problem, i) for i in range(len(problem.xs))]
    _compare_jacobians(problem, "forward-mode (jvp) derivative", analytic)


def _check_forward_fast(problem: _Problem) -> None:
    """Fast mode: J·v from one tangent pass per input, against J·v by one central
    difference; whole output-shaped vectors (forward mode needs no u)."""
    for i, v in enumerate(problem.vs):
        analytic = _jvps(problem, i, v)
        atol = problem.atol * float(v.sum())
        for k, (a, n) in enumerate(zip(analytic, problem.numeric_jvps[i], strict=True)):
            if not _close(a, n, atol, problem.rtol):
                raise GradcheckError(_fast_mismatch(problem, "forward-mode (jvp) derivative",
                                                    i, k, a, n, atol))


def _check_zero_cotangents(problem: _Problem) -> None:
    """check_undefined_grad: a zero output gradient must give zero input gradients (or
    None), not a crash. PyTorch hands backward an "undefined" gradient; our engine never
    hands backward None, so zeros are the case to check. A backward that forgets to
    multiply by `grad` fails here even when its Jacobian passed (a unit seed hides it)."""
    for k, output in enumerate(problem.outputs):
        if not output.requires_grad:
            continue
        where = f"a zero gradient for output {problem.output_positions[k]}"
        try:
            grads = grad(output, problem.xs, np.zeros(output.shape, output.dtype),
                         retain_graph=True, allow_unused=True)
        except Exception as err:
            raise GradcheckError(
                f"{problem.check}: backward failed when given {where}: "
                f"{type(err).__name__}: {err}. A zero output gradient must give zero input "
                "gradients (check_undefined_grad=False skips this check)") from err
        for i, g in enumerate(grads):
            _expect_zero(problem, f"given {where}, backward", i, g)


def _check_zero_tangents(problem: _Problem) -> None:
    """The forward-mode counterpart: a zero tangent must give zero output tangents."""
    for i, x in enumerate(problem.xs):
        try:
            moved = _push(problem, i, np.zeros(x.shape))
        except NotImplementedError:  # (a missing rule is no zero-tangent bug: said as is)
            raise
        except Exception as err:
            raise GradcheckError(
                f"{problem.check}: forward mode failed given a zero tangent for "
                f"{problem.input_label(i)}: {type(err).__name__}: {err}") from err
        for k, m in enumerate(moved):
            if m is not None and not np.all(np.asarray(m) == 0):
                raise GradcheckError(
                    f"{problem.check}: given a zero tangent for {problem.input_label(i)}, "
                    f"forward mode gave output {problem.output_positions[k]} a nonzero "
                    f"tangent (largest |value| {np.max(np.abs(m)):.3g}): a jvp must be linear "
                    "in the tangents (check_undefined_grad=False skips this check)")


def _expect_zero(problem: _Problem, given: str, i: int, g: Tensor | None) -> None:
    if g is not None and not np.all(g.data == 0):
        raise GradcheckError(
            f"{problem.check}: {given} returned a nonzero gradient for "
            f"{problem.input_label(i)} (largest |value| {np.max(np.abs(g.data)):.3g}). "
            "backward must multiply by the output gradient (∂C/∂x = grad · ∂out/∂x): zero "
            "in, zero out (check_undefined_grad=False skips this check)")


def _check_batched(problem: _Problem, what: str, per_item: Callable[[np.ndarray], Any],
                   items: list[np.ndarray], label: Callable[[int], str]) -> None:
    """vmap(per_item) over the stacked items must give each item's result, stacked."""
    expected = [np.stack(parts) for parts in zip(*(per_item(t) for t in items),
                                                 strict=True)]

    def mapped(item: Tensor) -> tuple[Tensor, ...]:
        return tuple(Tensor._wrap(r) for r in per_item(item.data))

    try:
        batched = transforms.vmap(mapped)(Tensor._wrap(np.stack(items)))
    except Exception as err:
        raise GradcheckError(f"{problem.check}: computing batched {what} with vmap failed: "
                             f"{type(err).__name__}: {err}") from err
    for j, (got, want) in enumerate(zip(batched, expected, strict=True)):
        # (a backward may differ by nondet_tol between two calls: allowed here too)
        if not np.allclose(got.data, want, rtol=1e-5, atol=1e-8 + problem.nondet_tol):
            raise GradcheckError(
                f"{problem.check}: batched {what} (vmap over {len(items)} random vectors) "
                f"differ from one by one for {label(j)}:\n  batched:\n{got.data}\n"
                f"  one by one:\n{want}")


def _check_batched_backward(problem: _Problem) -> None:
    """check_batched_grad: vmap over several cotangents u gives their vjps one by one."""
    for k, output in enumerate(problem.outputs):
        if output.requires_grad:
            us = [problem.rng.standard_normal(output.shape) for _ in range(2)]
            _check_batched(problem, "gradients", partial(_vjps, output, problem.xs), us,
                           partial(problem.pair_label, k=k))


def _check_batched_forward(problem: _Problem) -> None:
    """check_batched_forward_grad: vmap over several tangents gives their jvps one by one."""
    for i, x in enumerate(problem.xs):
        vs = [problem.rng.standard_normal(x.shape) for _ in range(2)]
        _check_batched(problem, "forward-mode derivatives", partial(_jvps, problem, i), vs,
                       partial(problem.pair_label, i))


def _warn_if_not_float64(inputs: tuple[Any, ...], check: str) -> None:
    for position in _differentiable(inputs):
        if inputs[position].dtype != np.float64:
            warnings.warn(
                f"{check}: input {position} is {inputs[position].dtype}, not float64. Central "
                "differences divide a tiny change by a tiny eps; float32 keeps ~7 digits, so "
                "its rounding error (~1e-7/eps) swamps the gradient and the check fails for "
                "no fault of backward. Pass float64 tensors (dtype=np.float64).",
                stacklevel=3)


# ----------------------------------------------------------------------------------------
# 6. The API
# ----------------------------------------------------------------------------------------
def gradcheck(func: TensorFunction, inputs: Tensor | Sequence[Any], *, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
              nondet_tol: float = 0.0, check_undefined_grad: bool = True,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False) -> bool:
    """Check the gradients of `func` against central differences, as
    `torch.autograd.gradcheck` (same arguments and defaults).

    `func(*inputs)` returns a Tensor or a tuple of Tensors, of any shapes; each (floating)
    output is checked with respect to each input that requires grad. Use float64 inputs.

    - `check_backward_ad`: the Jacobian from backward equals the numeric one within
      `atol + rtol·|numeric|`, element by element (`eps`: the nudge). With
      `fast_mode=True`, one number per input and output, uᵀ·J·v for random u and v, within
      `atol·Σu·Σv + rtol·|numeric|`: far cheaper for big inputs, as sure to catch a wrong
      Jacobian; a failure reports the full Jacobians of that input and output.
    - `nondet_tol`: backward run twice must agree within it (0: exactly).
    - `check_forward_ad`: the same comparison for forward mode (each op's `jvp`).
    - `check_undefined_grad`: zero output gradients (zero tangents) give zero input
      gradients (zero output tangents), without crashing.
    - `check_batched_grad` / `check_batched_forward_grad`: `tg.func.vmap` over several
      cotangents (tangents) gives what each gives alone.

    On a mismatch, raises `GradcheckError` naming the input, the output, the element, both
    values, the worst absolute and relative errors (relative: |analytic − numeric| /
    max(|analytic|, |numeric|), over the elements outside tolerance) and the relative
    difference ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖) that courses' gradient
    checks print; returns False instead with `raise_exception=False`.
    """
    inputs = _as_inputs(inputs)
    _warn_if_not_float64(inputs, "gradcheck")
    return _gradcheck("gradcheck", func, inputs, eps, atol, rtol, raise_exception, nondet_tol,
                      check_undefined_grad, check_batched_grad, check_batched_forward_grad,
                      check_forward_ad, check_backward_ad, fast_mode)


def _gradcheck(check: str, func: TensorFunction, inputs: tuple[Any, ...], eps: float,
               atol: float, rtol: float, raise_exception: bool, nondet_tol: float,
               check_undefined_grad: bool, check_batched_grad: bool,
               check_batched_forward_grad: bool, check_forward_ad: bool,
               check_backward_ad: bool, fast_mode: bool,
               input_names: Sequence[str | None] | None = None,
               output_names: Sequence[str | None] | None = None) -> bool:
    _check_options(check, check_forward_ad, check_backward_ad, check_batched_grad,
                   check_batched_forward_grad)
    problem = _Problem(check, func, inputs, _number(check, "eps", eps, positive=True),
                       _number(check, "atol", atol), _number(check, "rtol", rtol),
                       _number(check, "nondet_tol", nondet_tol), input_names, output_names)
    try:
        # In PyTorch's order: the Jacobians, then the checks that need a working backward
        if check_backward_ad:
            (_check_backward_fast if fast_mode else _check_backward)(problem)
        if check_forward_ad:
            (_check_forward_fast if fast_mode else _check_forward)(problem)
            if check_undefined_grad:
                _check_zero_tangents(problem)
        if check_batched_forward_grad:
            _check_batched_forward(problem)
        if check_backward_ad and check_batched_grad:
            _check_batched_backward(problem)
        if check_backward_ad and check_undefined_grad:
            _check_zero_cotangents(problem)
    except GradcheckError:
        if raise_exception:
            raise
        return False
    return True


def _check_options(check: str, forward: bool, backward: bool, batched: bool,
                   batched_forward: bool) -> None:
    if not (forward or backward):
        raise ValueError(f"{check}: check_forward_ad and check_backward_ad are both False: "
                         "nothing would be checked")
    if batched and not backward:
        raise ValueError(f"{check}: check_batched_grad=True needs check_backward_ad=True "
                         "(it batches backward passes)")
    if batched_forward and not forward:
        raise ValueError(f"{check}: check_batched_forward_grad=True needs "
                         "check_forward_ad=True (it batches forward-mode passes)")


def gradgradcheck(func: TensorFunction, inputs: Tensor | Sequence[Any],
                  grad_outputs: Tensor | Sequence[Tensor | None] | None = None, *,
                  eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_batched_grad: bool = False,
                  check_fwd_over_rev: bool = False, check_rev_over_rev: bool = True,
                  fast_mode: bool = False) -> bool:
    """Check second-order gradients: gradcheck of the backward pass itself, as
    `torch.autograd.gradgradcheck` (same arguments and defaults).

    The backward pass is a function too: given the inputs x and output gradients v it
    returns vᵀ·∂func/∂x for each x. Recorded with `create_graph=True` it has its own
    backward, which this checks against central differences, with respect to both x and v
    (`check_rev_over_rev`), and, with `check_fwd_over_rev=True`, forward mode over it (the
    jvp rules of the ops the backward used). `grad_outputs` is v, one per output that
    requires grad (random in [-1, 1) when not given). The other options are gradcheck's.
    """
    inputs = _as_inputs(inputs)
    _warn_if_not_float64(inputs, "gradgradcheck")
    if not (check_fwd_over_rev or check_rev_over_rev):
        raise ValueError("gradgradcheck: check_fwd_over_rev and check_rev_over_rev are both "
                         "False: nothing would be checked")
    for option, value in [("check_undefined_grad", check_undefined_grad),
                          ("check_batched_grad", check_batched_grad)]:
        if value and not check_rev_over_rev:  # (both run backward over the backward)
            raise ValueError(f"gradgradcheck: {option}=True needs check_rev_over_rev=True "
                             f"(pass {option}=False)")
    positions = _differentiable(inputs)
    with enable_grad():
        outputs = [o for o in _outputs("gradgradcheck", func(*inputs)) if o.requires_grad]
    vs = _grad_outputs(grad_outputs, outputs)

    def first_derivatives(*args: Any) -> tuple[Tensor, ...]:
        # vᵀ·∂func/∂x for each differentiable x. While gradcheck takes its analytic
        # Jacobian (grad enabled) this is recorded (create_graph); while it nudges inputs
        # for the numeric one, grad mode is off and only the values are computed.
        fn_inputs, v = args[:len(inputs)], args[len(inputs):]
        recording = is_grad_enabled()
        with enable_grad():
            outs = [o for o in _outputs("gradgradcheck", func(*fn_inputs)) if o.requires_grad]
            grads: Sequence[Any] = [None] * len(positions)
            if outs:
                grads = grad(outs, [fn_inputs[p] for p in positions],
                             [t if recording else t.data for t in v],
                             create_graph=recording, allow_unused=True)
        return tuple(Tensor(np.zeros(fn_inputs[p].shape)) if g is None else g
                     for g, p in zip(grads, positions, strict=True))

    names = [x.name if isinstance(x, Tensor) else None for x in inputs]
    names += [f"grad_outputs[{j}]" for j in range(len(vs))]
    gradient_names = [f"the gradient for input {p}" for p in positions]
    return _gradcheck("gradgradcheck", first_derivatives, (*inputs, *vs), eps, atol, rtol,
                      raise_exception, nondet_tol, check_undefined_grad, check_batched_grad,
                      False, check_fwd_over_rev, check_rev_over_rev, fast_mode,
                      input_names=names, output_names=gradient_names)


def _grad_outputs(given: Tensor | Sequence[Tensor | None] | None, outputs: list[Tensor]
                  ) -> list[Tensor]:
    """The v of vᵀ·J: the given ones (None: zeros), or random in [-1, 1) requiring grad."""
    if given is None:
        rng = np.random.default_rng(0)
        return [Tensor(rng.uniform(-1, 1, o.shape), requires_grad=True, dtype=np.float64)
                for o in outputs]
    vs = [given] if isinstance(given, Tensor) else list(given)
    if len(vs) != len(outputs):
        raise ValueError(f"gradgradcheck: func has {len(outputs)} outputs that require grad, "
                         f"so grad_outputs needs as many, got {len(vs)}")
    for j, (v, o) in enumerate(zip(vs, outputs, strict=True)):
        if v is not None and v.shape != o.shape:
            raise ValueError(f"gradgradcheck: grad_outputs[{j}] has shape {v.shape}, its "
                             f"output {o.shape}")
    return [Tensor(np.zeros(o.shape)) if v is None else v
            for v, o in zip(vs, outputs, strict=True)]


def jacobian(fn: TensorFunction, x: Tensor | Sequence[Tensor]) -> Any:
    """The Jacobian of `fn` at `x` from backward, shape `fn(x).shape + x.shape`; for a list
    of inputs, `fn(*inputs)`'s Jacobian with respect to each, as a list; for a function
    returning a tuple, a tuple of those, one per output."""
    problem = _Problem("jacobian", fn, _leaves(x))
    return _arranged(problem, _backward_jacobians(problem), isinstance(x, Tensor))


def numeric_jacobian(fn: TensorFunction, x: Tensor | Sequence[Tensor], eps: float = 1e-6
                     ) -> Any:
    """The same Jacobian(s) by central differences (each input nudged by ±eps in turn)."""
    problem = _Problem("numeric_jacobian", fn, _leaves(x),
                       eps=_number("numeric_jacobian", "eps", eps, positive=True))
    return _arranged(problem, problem.numeric_jacobians, isinstance(x, Tensor))


def _leaves(x: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    """Inputs that require grad (a tensor that does not gets a leaf sharing its values)."""
    xs = [x] if isinstance(x, Tensor) else list(x)
    return tuple(t if t.requires_grad else Tensor(t.data, requires_grad=True) for t in xs)


def _arranged(problem: _Problem, jacobians: list[list[np.ndarray]], one_input: bool) -> Any:
    """[input][output] as the caller expects: an array for one input, a list for several;
    a tuple of those, one per output, when fn returns a tuple."""
    per_output = [[jacobians[i][k] for i in range(len(jacobians))]
                  for k in range(len(problem.outputs))]
    shaped = [p[0] if one_input else p for p in per_output]
    return shaped[0] if problem.single else tuple(shaped)
