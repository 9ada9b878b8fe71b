"""Time single ops, forward and backward: tinygrad_edu against the same numpy written by hand.

Each op runs on (64, 128, 64) float32 inputs (64 sequences of 128 steps with 64 features:
a small transformer's activations). One step is the op forward, then backward from a random
output gradient (as the rest of a network would pass it), leaving each input's gradient; the
hand-written numpy step computes the same value and the same gradients with the formulas
written out. Both steps' results are checked equal before anything is timed. A new op should
cost at most a small constant over the numpy it wraps: the goal is a ratio ≤ 1.5 at this size.

The two take turns in blocks (so drifts in machine speed hit both), after a warm-up; the
table gives the median µs per step, tinygrad_edu's time over numpy's, and the page faults
per step of each. At this size most of a gap is page faults: glibc hands freed memory back
to the system, and the library, which keeps gradients in `.grad` and copies the output
gradient given to backward(), touches fresh pages each step (docs/speed.md says more).
`MALLOC_TOP_PAD_=67108864` keeps 64 MB of freed memory and removes them.

    OPENBLAS_NUM_THREADS=1 python bench/ops.py              # the table
    MALLOC_TOP_PAD_=67108864 OPENBLAS_NUM_THREADS=1 python bench/ops.py   # without the faults
    python bench/ops.py --quick                             # fewer, shorter blocks
    python bench/ops.py --ops einsum var --shape 8 16 8     # some ops, another size
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from timing import block

import tinygrad_edu as tg
from tinygrad_edu import Tensor

SHAPE = (64, 128, 64)
Arrays = list[np.ndarray]
Result = tuple[np.ndarray, Arrays]  # (the op's value, the gradient of each input)


def tg_function(name: str) -> Callable[..., Any]:
    """tg.cat, tg.where, … (looked up when a step runs, so the script loads without them;
    until tg exports a name, the same function from tinygrad_edu.ops)."""
    found = getattr(tg, name, None) or getattr(tg.ops, name, None)
    if found is None:
        raise AttributeError(f"bench/ops.py: tinygrad_edu has no {name} (tg.{name})")
    return found


@dataclass
class Case:
    """One op: its inputs (the first `differentiable` get gradients; the rest are constants
    such as an index or a condition), the op in tinygrad_edu, and the op by hand in numpy."""

    make_inputs: Callable[[np.random.Generator, tuple[int, ...]], Arrays]
    differentiable: int
    library: Callable[..., Tensor]  # (tensors…, constants…) → output
    by_hand: Callable[..., Result]  # (grad, arrays…) → (output, gradients)


def _floats(count: int) -> Callable[[np.random.Generator, tuple[int, ...]], Arrays]:
    """`count` standard normal float32 inputs of the shape asked for."""
    return lambda rng, shape: [rng.standard_normal(shape, np.float32) for _ in range(count)]


# --- the ops written by hand in numpy: forward, then ∂C/∂input from ∂C/∂out = g ----------
def cat_by_hand(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> Result:
    out = np.concatenate([a, b], axis=1)
    return out, [g[:, :a.shape[1]], g[:, a.shape[1]:]]  # each input's rows of g


def where_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> Arrays:
    return [*_floats(2)(rng, shape), rng.random(shape) > 0.5]


def where_by_hand(g: np.ndarray, a: np.ndarray, b: np.ndarray, condition: np.ndarray
                  ) -> Result:
    zero = np.zeros((), g.dtype)
    return np.where(condition, a, b), [np.where(condition, g, zero), np.where(condition, zero, g)]


def gather_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> Arrays:
    return [rng.standard_normal(shape, np.float32), rng.integers(0, shape[-1], shape)]


def gather_by_hand(g: np.ndarray, x: np.ndarray, index: np.ndarray) -> Result:
    grid = np.indices(index.shape[:-1] + (1,), sparse=True)[:-1]  # the other axes' positions
    gradient = np.zeros_like(x)
    np.add.at(gradient, (*grid, index), g)  # each picked place gets g, repeats adding up
    return np.take_along_axis(x, index, axis=-1), [gradient]


def einsum_inputs(rng: np.random.Generator, shape: tuple[int, ...]) -> Arrays:
    b, i, j = shape
    return [rng.standard_normal((b, i, j), np.float32), rng.standard_normal((b, j, i), np.float32)]


def einsum_by_hand(g: np.ndarray, a: np.ndarray, b: np.ndarray) -> Result:
    out = np.einsum("bij,bjk->bik", a, b, optimize=True)
    return out, [np.einsum("bik,bjk->bij", g, b, optimize=True),
                 np.einsum("bij,bik->bjk", a, g, optimize=True)]


def var_by_hand(g: np.ndarray, x: np.ndarray) -> Result:
    n = x.shape[-1]
    centered = x - x.mean(axis=-1, keepdims=True)
    out = np.square(centered).sum(axis=-1) / (n - 1)  # Σ (x − x̄)² / (N − 1)
    return out, [g[..., None] * centered * (2 / (n - 1))]


def logsumexp_by_hand(g: np.ndarray, x: np.ndarray) -> Result:
    top = x.max(axis=-1, keepdims=True)
    exps = np.exp(x - top)
    total = exps.sum(axis=-1, keepdims=True)
    out = (top + np.log(total))[..., 0]
    return out, [g[..., None] * (exps / total)]  # ∂/∂x logsumexp = softmax(x)


CASES = {
    "cat": Case(_floats(2), 2, lambda a, b: tg_function("cat")([a, b], 1), cat_by_hand),
    "where": Case(where_inputs, 2, lambda a, b, c: tg_function("where")(Tensor(c), a, b),
                  where_by_hand),
    "gather": Case(gather_inputs, 1, lambda x, index: x.gather(-1, tg.tensor(index)),
                   gather_by_hand),
    "einsum": Case(einsum_inputs, 2, lambda a, b: tg_function("einsum")("bij,bjk->bik", a, b),
                   einsum_by_hand),
    "var": Case(_floats(1), 1, lambda x: x.var(-1), var_by_hand),
    "logsumexp": Case(_floats(1), 1, lambda x: x.logsumexp(-1), logsumexp_by_hand),
}


# ----------------------------------------------------------------------------------------
# The two steps, checked equal
# ----------------------------------------------------------------------------------------
def steps(case: Case, shape: tuple[int, ...], seed: int = 0
          ) -> tuple[Callable[[], Result], Callable[[], Result]]:
    """(tinygrad_edu's step, numpy's step) on the same inputs and output gradient."""
    rng = np.random.default_rng(seed)
    arrays = case.make_inputs(rng, shape)
    leaves = [Tensor(a, requires_grad=True) for a in arrays[:case.differentiable]]
    constants = arrays[case.differentiable:]
    with tg.no_grad():
        out_shape = case.library(*leaves, *constants).shape
    grad = rng.standard_normal(out_shape, np.float32)

    def library_step() -> Result:
        for leaf in leaves:
            leaf.grad = None
        out = case.library(*leaves, *constants)
        out.backward(grad)
        return out.data, [leaf.grad.data for leaf in leaves]

    return library_step, lambda: case.by_hand(grad, *arrays)


def owning(numpy_step: Callable[[], Result]) -> Callable[[], Result]:
    """The hand-written step with each input gradient in memory of its own, as a `.grad`
    must be: cat's by hand are views of the output gradient (free), while the library
    may not hand a caller's array (or a view of it) out as a leaf's .grad — changing one
    in place would change the other. Gradients the step computed afresh stay as they are."""
    def step() -> Result:
        out, grads = numpy_step()
        return out, [g.copy() if g.base is not None else g for g in grads]

    return step


def check(name: str, shape: tuple[int, ...]) -> None:
    """tinygrad_edu's value and gradients must equal the hand-written ones (float32)."""
    library_step, numpy_step = steps(CASES[name], shape)
    (out, grads), (expected, expected_grads) = library_step(), numpy_step()
    for what, mine, theirs in [("value", out, expected),
                               *(("gradient", a, b) for a, b in zip(grads, expected_grads,
                                                                    strict=True))]:
        if mine.shape != theirs.shape or mine.dtype != theirs.dtype or not np.allclose(
                mine, theirs, rtol=1e-4, atol=1e-5):
            sys.exit(f"bench/ops.py: {name}'s {what} differs from the hand-written one at "
                     f"shape {shape} ({mine.shape} {mine.dtype} against {theirs.shape} "
                     f"{theirs.dtype})")


def check_all(shape: tuple[int, ...]) -> None:
    for name in CASES:
        check(name, shape)


# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------
def measure(name: str, shape: tuple[int, ...], blocks: int, seconds_per_block: float
            ) -> dict[str, tuple[float, float]]:
    """Median seconds and page faults per step of each system."""
    library_step, numpy_step = steps(CASES[name], shape)
    systems = {"numpy": numpy_step, "numpy, owned": owning(numpy_step),
               "tinygrad_edu": library_step}
    repeats = {}
    for system, step in systems.items():  # warm up, and size blocks to ~seconds_per_block
        for _ in range(3):
            step()
        repeats[system] = max(2, int(seconds_per_block / block(step, 3)[0]))
    samples: dict[str, list[tuple[float, float]]] = {system: [] for system in systems}
    for _ in range(blocks):  # interleaved: each block runs both once
        for system, step in systems.items():
            samples[system].append(block(step, repeats[system]))
    return {system: (statistics.median(s for s, _ in values),
                     statistics.median(f for _, f in values))
            for system, values in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="forward+backward of single ops vs numpy")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    parser.add_argument("--ops", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--shape", type=int, nargs=3, default=list(SHAPE))
    args = parser.parse_args(argv)
    shape = tuple(args.shape)
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"{os.cpu_count()} cores; inputs {shape} float32, forward + backward")
    blocks, per_block = (5, 0.05) if args.quick else (15, 0.2)
    for name in args.ops:
        check(name, shape)
    print("ratio: tinygrad_edu / numpy by hand; 'owned': the hand-written gradients copied "
          "where they are views of the output gradient, as a .grad must own its memory")
    print(f"{'op':<10} {'numpy µs':>10} {'owned µs':>9} {'tinygrad_edu µs':>16} {'ratio':>6} "
          f"{'/owned':>7}   page faults per step: numpy, owned, tinygrad_edu")
    for name in args.ops:
        (base, base_faults), (owned, owned_faults), (ours, our_faults) = measure(
            name, shape, blocks, per_block).values()
        print(f"{name:<10} {base * 1e6:10.1f} {owned * 1e6:9.1f} {ours * 1e6:16.1f} "
              f"{ours / base:6.2f} {ours / owned:7.2f}   {base_faults:.0f}, "
              f"{owned_faults:.0f}, {our_faults:.0f}", flush=True)


if __name__ == "__main__":
    main()
