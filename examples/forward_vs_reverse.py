"""Why networks train by backprop: forward mode and reverse mode, measured.

A Jacobian of f: Rⁿ → Rᵐ can be built a column at a time (forward mode: push a direction
eⱼ through the ops, J·eⱼ, n passes) or a row at a time (reverse mode: pull eᵢ back,
eᵢᵀ·J, m passes). So forward costs ~n passes and reverse ~m. A network's cost has n =
13,002 inputs (its parameters) and m = 1 output: one backward pass gives the whole
gradient, forward mode needs 13,002 passes. This example times both:

1. jacfwd and jacrev of f(x) = tanh(A·x) for n, m ∈ {1, 10, 100, 1000};
2. the seed network's gradient by forward mode (13,002 tangent passes) against one
   backward pass;
3. a Hessian-vector product of its cost (forward over reverse) in units of one gradient;
4. per-example gradient norms with vmap(grad) against a Python loop.

    python examples/forward_vs_reverse.py [--plot PATH] [--sizes 1 10 100 1000]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import Tensor, func, nn
from tinygrad_edu import functional as F

SIZES = [1, 10, 100, 1000]


def seconds(call: Callable[[], Any], at_least: float = 0.05) -> float:
    """The time of one call, the best of a few (calls repeated for at least `at_least` s)."""
    best, spent, calls = float("inf"), 0.0, 0
    while spent < at_least or calls < 3:
        start = time.perf_counter()
        call()
        took = time.perf_counter() - start
        best, spent, calls = min(best, took), spent + took, calls + 1
    return best


def jacobian_times(sizes: list[int]) -> dict[str, np.ndarray]:
    """Seconds for jacfwd and jacrev of tanh(A·x), A of shape (m, n), over every n and m."""
    times = {"jacfwd": np.zeros((len(sizes), len(sizes))),
             "jacrev": np.zeros((len(sizes), len(sizes)))}
    rng = np.random.default_rng(0)
    for i, n in enumerate(sizes):
        for j, m in enumerate(sizes):
            a = Tensor(rng.standard_normal((m, n)) / np.sqrt(n))
            x = Tensor(rng.standard_normal(n))

            def f(v: Tensor, a: Tensor = a) -> Tensor:
                return (a @ v).tanh()

            forward, reverse = func.jacfwd(f)(x), func.jacrev(f)(x)
            assert np.allclose(forward.data, reverse.data)  # the same matrix, two ways
            times["jacfwd"][i, j] = seconds(lambda f=f, x=x: func.jacfwd(f)(x), 0.02)
            times["jacrev"][i, j] = seconds(lambda f=f, x=x: func.jacrev(f)(x), 0.02)
    return times


def print_jacobian_table(sizes: list[int], times: dict[str, np.ndarray]) -> None:
    print("Jacobian of tanh(A·x): Rⁿ → Rᵐ, milliseconds (forward mode: n passes; reverse: m)")
    print(f"{'n':>6} {'m':>6} {'jacfwd':>10} {'jacrev':>10}  faster")
    for i, n in enumerate(sizes):
        for j, m in enumerate(sizes):
            fwd, rev = times["jacfwd"][i, j] * 1e3, times["jacrev"][i, j] * 1e3
            print(f"{n:6d} {m:6d} {fwd:10.2f} {rev:10.2f}  {'forward' if fwd < rev else 'reverse'}")


def seed_network() -> tuple[list[Tensor], Callable[..., Tensor], Tensor, Tensor]:
    """The 784 → 16 → 16 → 10 sigmoid network's parameters and its cost as a function."""
    model = nn.MLP([784, 16, 16, 10], seed=0, dtype=np.float64)
    rng = np.random.default_rng(1)
    x = Tensor(rng.random((32, 784)))
    y = Tensor(np.eye(10)[rng.integers(0, 10, 32)])
    params = [Tensor(p.data) for p in model.parameters()]

    def cost(*ps: Tensor, x: Tensor = x, y: Tensor = y) -> Tensor:
        a = x
        for w, b in zip(ps[0::2], ps[1::2], strict=True):
            a = F.linear(a, w, b).sigmoid()  # a(l) = σ(W a(l−1) + b)
        return F.mse_loss(a, y)

    return params, cost, x, y


def gradient_both_ways(params: list[Tensor], cost: Callable[..., Tensor]) -> tuple[float, float]:
    """Seconds for the whole gradient: one backward pass, and 13,002 tangent passes."""
    every = tuple(range(len(params)))
    backward = func.grad(cost, every)
    by_reverse = backward(*params)
    start = time.perf_counter()
    by_forward = func.jacfwd(cost, every)(*params)  # one column per parameter
    forward_seconds = time.perf_counter() - start
    for r, f in zip(by_reverse, by_forward, strict=True):
        assert np.allclose(r.data, f.data, rtol=1e-9, atol=1e-12)
    return seconds(lambda: backward(*params)), forward_seconds


def hvp_in_gradients(params: list[Tensor], cost: Callable[..., Tensor]) -> tuple[float, float]:
    """Seconds for H·v (forward over reverse) and for one gradient."""
    rng = np.random.default_rng(2)
    v = tuple(Tensor(rng.standard_normal(p.shape)) for p in params)
    every = tuple(range(len(params)))
    return (seconds(lambda: func.hvp(cost, tuple(params), v)),
            seconds(lambda: func.grad(cost, every)(*params)))


def per_example_norms(params: list[Tensor], cost: Callable[..., Tensor], x: Tensor,
                      y: Tensor) -> tuple[np.ndarray, float, float]:
    """‖∇C(xᵢ)‖ for each example: vmap(grad) against a loop of grad calls."""
    every = tuple(range(len(params)))

    def one(*args: Tensor) -> Tensor:
        return cost(*args[:-2], x=args[-2][None], y=args[-1][None])

    gradient = func.grad(one, every)
    mapped = func.vmap(gradient, in_dims=(None,) * len(params) + (0, 0))

    def by_vmap() -> np.ndarray:
        grads = mapped(*params, x, y)
        return np.sqrt(sum((g.data.reshape(len(x), -1) ** 2).sum(axis=1) for g in grads))

    def by_loop() -> np.ndarray:
        norms = []
        for i in range(len(x)):
            grads = gradient(*params, x[i], y[i])
            norms.append(np.sqrt(sum((g.data ** 2).sum() for g in grads)))
        return np.array(norms)

    norms = by_vmap()
    assert np.allclose(norms, by_loop())
    return norms, seconds(by_vmap), seconds(by_loop)


def plot(sizes: list[int], times: dict[str, np.ndarray], path: Path) -> Any:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(install matplotlib to get the plot: pip install matplotlib)")
        return None
    figure, (by_n, by_m) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    middle = len(sizes) // 2
    for name, style in (("jacfwd", "o-"), ("jacrev", "s--")):
        by_n.loglog(sizes, times[name][:, middle] * 1e3, style, label=name)
        by_m.loglog(sizes, times[name][middle, :] * 1e3, style, label=name)
    by_n.set(xlabel=f"n, inputs (m = {sizes[middle]} outputs)", ylabel="milliseconds",
             title="forward mode grows with n")
    by_m.set(xlabel=f"m, outputs (n = {sizes[middle]} inputs)",
             title="reverse mode grows with m")
    for axes in (by_n, by_m):
        axes.legend()
        axes.grid(True, which="both", alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    print(f"plot saved to {path.resolve()}")
    return figure


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python examples/forward_vs_reverse.py",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--plot", type=Path, default=Path("out/forward_vs_reverse.png"),
                        help="where to save the figure (default: %(default)s)")
    parser.add_argument("--sizes", type=int, nargs="+", default=SIZES,
                        help="the n and m to time (default: %(default)s)")
    args = parser.parse_args(argv)
    times = jacobian_times(args.sizes)
    print_jacobian_table(args.sizes, times)
    plot(args.sizes, times, args.plot)

    params, cost, x, y = seed_network()
    count = sum(p.numel() for p in params)
    backward, forward = gradient_both_ways(params, cost)
    print(f"\nThe seed network's gradient ({count:,} parameters, batch {len(x)}):\n"
          f"  one backward pass   {backward * 1e3:9.2f} ms\n"
          f"  {count:,} jvps       {forward * 1e3:9.2f} ms   ({forward / backward:,.0f}× "
          "— why networks train by backprop)")
    hvp, gradient = hvp_in_gradients(params, cost)
    print(f"A Hessian-vector product (forward over reverse): {hvp * 1e3:.2f} ms = "
          f"{hvp / gradient:.1f} gradients; the Hessian itself would be {count:,}² numbers")
    norms, mapped, looped = per_example_norms(params, cost, x, y)
    print(f"Per-example gradient norms ({len(x)} examples, from {norms.min():.3f} to "
          f"{norms.max():.3f}): vmap(grad) {mapped * 1e3:.2f} ms, a loop of grad "
          f"{looped * 1e3:.2f} ms")
    return {"times": times, "backward": backward, "forward": forward, "hvp": hvp,
            "gradient": gradient, "norms": norms}


if __name__ == "__main__":
    main()
