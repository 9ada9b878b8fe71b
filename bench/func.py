"""Forward mode and the transforms of tinygrad_edu.func, timed on the seed network's cost
(784 → 16 → 16 → 10, sigmoid, squared error; 13,002 parameters), each against the pass it
is measured by, and torch.func doing the same in the same run (when torch is installed).

    OPENBLAS_NUM_THREADS=1 python bench/func.py               # float32, batch 32
    OPENBLAS_NUM_THREADS=1 python bench/func.py --dtype float64 --batch 1 --blocks 40

Rows (median over interleaved blocks of the ratio in each block):
- jvp: one tangent pass in a random direction of all 13,002 parameters, against one
  forward pass (recording the graph, as a training step's forward does);
- hvp: H·v by forward over reverse, against one gradient (forward + backward);
- vmap(grad): the B per-example gradients, against one gradient of the batch's mean cost.
Before timing, each transform's result is checked against the plain computation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu import Tensor, func, nn
from tinygrad_edu import functional as F

SIZES = [784, 16, 16, 10]


def network(dtype: Any, batch: int) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    model = nn.MLP(SIZES, seed=0, dtype=dtype)
    rng = np.random.default_rng(0)
    x = rng.random((batch, SIZES[0])).astype(dtype)
    y = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], batch)]
    return [p.data.copy() for p in model.parameters()], x, y


def ours(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
         ) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    """name → (the transform, the pass it is measured against)."""
    weights = [Tensor(p) for p in params]
    leaves = [Tensor(p, requires_grad=True) for p in params]
    direction = [Tensor(np.random.default_rng(1).standard_normal(p.shape).astype(p.dtype))
                 for p in params]
    data, labels = Tensor(x), Tensor(y)

    def cost(*ps: Tensor, inputs: Tensor = data, targets: Tensor = labels) -> Tensor:
        a = inputs
        for w, b in zip(ps[0::2], ps[1::2], strict=True):
            a = F.linear(a, w, b).sigmoid()  # a(l) = σ(W a(l−1) + b)
        return F.mse_loss(a, targets)

    def one_example(*args: Tensor) -> Tensor:
        return cost(*args[:-2], inputs=args[-2][None], targets=args[-1][None])

    def gradient() -> None:
        for p in leaves:
            p.grad = None
        cost(*leaves).backward()

    per_example = func.vmap(func.grad(one_example, tuple(range(len(params)))),
                            in_dims=(None,) * len(params) + (0, 0))
    return {
        "jvp": (lambda: func.jvp(cost, tuple(weights), tuple(direction)),
                lambda: cost(*leaves)),
        "hvp": (lambda: func.hvp(cost, tuple(weights), tuple(direction)), gradient),
        "vmap(grad)": (lambda: per_example(*weights, data, labels), gradient),
    }


def theirs(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
           ) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]] | None:
    try:
        import torch
        import torch.func as tf
    except ImportError:
        return None
    torch.set_num_threads(1)
    weights = [torch.from_numpy(p.copy()) for p in params]
    leaves = [w.clone().requires_grad_() for w in weights]
    direction = [torch.from_numpy(np.random.default_rng(1).standard_normal(p.shape)
                                  .astype(p.dtype)) for p in params]
    data, labels = torch.from_numpy(x), torch.from_numpy(y)

    def cost(*ps: Any, inputs: Any = data, targets: Any = labels) -> Any:
        a = inputs
        for w, b in zip(ps[0::2], ps[1::2], strict=True):
            a = torch.sigmoid(torch.nn.functional.linear(a, w, b))
        return ((a - targets) ** 2).mean()  # (mse_loss: torch.func's jvp of its grad fails)

    def one_example(*args: Any) -> Any:
        return cost(*args[:-2], inputs=args[-2][None], targets=args[-1][None])

    def gradient() -> None:
        for p in leaves:
            p.grad = None
        cost(*leaves).backward()

    every = tuple(range(len(params)))
    per_example = tf.vmap(tf.grad(one_example, every), in_dims=(None,) * len(params) + (0, 0))
    hvp = lambda: tf.jvp(lambda *ps: tf.grad(cost, every)(*ps), tuple(weights),  # noqa: E731
                         tuple(direction))
    return {
        "jvp": (lambda: tf.jvp(cost, tuple(weights), tuple(direction)), lambda: cost(*leaves)),
        "hvp": (hvp, gradient),
        "vmap(grad)": (lambda: per_example(*weights, data, labels), gradient),
    }


def check(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
    """Each transform against the same number computed plainly (float64 of the inputs)."""
    params64 = [p.astype(np.float64) for p in params]
    cases = ours(params64, x.astype(np.float64), y.astype(np.float64))
    direction = [np.random.default_rng(1).standard_normal(p.shape) for p in params64]
    leaves = [Tensor(p, requires_grad=True) for p in params64]
    data = Tensor(x.astype(np.float64))
    labels = Tensor(y.astype(np.float64))
    a = data
    for w, b in zip(leaves[0::2], leaves[1::2], strict=True):
        a = F.linear(a, w, b).sigmoid()
    F.mse_loss(a, labels).backward()
    gradient = np.concatenate([p.grad.data.ravel() for p in leaves])
    eps = 1e-6  # J·v ≈ (C(θ + eps·v) − C(θ − eps·v)) / 2eps, and H·v from gradients alike
    _, moved = cases["jvp"][0]()
    assert abs(moved.item() - float(gradient @ np.concatenate([d.ravel() for d in direction]))
               ) < 1e-8 * max(1.0, abs(moved.item()))
    per_example = cases["vmap(grad)"][0]()
    mean = np.concatenate([g.data.mean(axis=0).ravel() for g in per_example])
    assert np.allclose(mean, gradient, rtol=1e-9, atol=1e-12)
    _, product = cases["hvp"][0]()
    ahead = _gradient_at(params64, direction, eps, data, labels)
    behind = _gradient_at(params64, direction, -eps, data, labels)
    numeric = (ahead - behind) / (2 * eps)
    exact = np.concatenate([h.data.ravel() for h in product])
    assert np.allclose(exact, numeric, rtol=1e-4, atol=1e-7)


def _gradient_at(params: list[np.ndarray], direction: list[np.ndarray], step: float,
                 data: Tensor, labels: Tensor) -> np.ndarray:
    leaves = [Tensor(p + step * d, requires_grad=True) for p, d in zip(params, direction,
                                                                        strict=True)]
    a = data
    for w, b in zip(leaves[0::2], leaves[1::2], strict=True):
        a = F.linear(a, w, b).sigmoid()
    F.mse_loss(a, labels).backward()
    return np.concatenate([p.grad.data.ravel() for p in leaves])


def seconds(call: Callable[[], Any], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        call()
    return (time.perf_counter() - start) / repeats


def measure(cases: dict[str, tuple[Callable[[], Any], Callable[[], Any]]], blocks: int
            ) -> dict[str, tuple[float, float, float]]:
    """name → (median seconds of the transform, of its reference pass, median ratio)."""
    result = {}
    for name, (transform, reference) in cases.items():
        repeats = max(1, int(0.05 / seconds(transform, 2)))
        ratios, ts, rs = [], [], []
        for _ in range(blocks):
            t, r = seconds(transform, repeats), seconds(reference, repeats)
            ts.append(t)
            rs.append(r)
            ratios.append(t / r)
        result[name] = statistics.median(ts), statistics.median(rs), statistics.median(ratios)
    return result


GOALS = {"jvp": 3.0, "hvp": 5.0, "vmap(grad)": 3.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--blocks", type=int, default=20)
    args = parser.parse_args()
    params, x, y = network(np.dtype(args.dtype), args.batch)
    check(params, x, y)
    print(f"seed network, {args.dtype}, batch {args.batch}, {args.blocks} blocks; "
          "ratio = transform / the pass it is measured against (median of blocks)")
    systems = {"tinygrad_edu": ours(params, x, y), "torch.func": theirs(params, x, y)}
    for system, cases in systems.items():
        if cases is None:
            print(f"  {system}: not installed")
            continue
        for name, (t, r, ratio) in measure(cases, args.blocks).items():
            against = "one forward" if name == "jvp" else "one gradient"
            goal = f"  (goal ≤ {GOALS[name]:.0f})" if system == "tinygrad_edu" else ""
            print(f"  {system:12s} {name:11s} {t * 1e6:9.1f} µs   {against:12s} "
                  f"{r * 1e6:8.1f} µs   ratio {ratio:6.2f}{goal}")


if __name__ == "__main__":
    main()
