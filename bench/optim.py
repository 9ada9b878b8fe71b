"""One optimizer step over the digit network's 13,002 parameters: `tinygrad_edu.optim`
against the same update written by hand in numpy (the floor any optimizer object pays
on top of), interleaved in one process. The gradients stay fixed: only the update is timed.

    OPENBLAS_NUM_THREADS=1 python bench/optim.py                   # float32, every optimizer
    OPENBLAS_NUM_THREADS=1 python bench/optim.py --dtype float64 --blocks 100

Before timing, each pair takes a few steps from the same weights and must agree
(1e-12 in float64, 1e-5 in float32): the two sides compute the same thing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

from tinygrad_edu import Tensor, nn, optim

SIZES = [784, 16, 16, 10]  # the seed network: 13,002 parameters


def adam_by_hand(params: list[np.ndarray], grads: list[np.ndarray], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, decoupled: bool = False) -> Callable[[], None]:
    """Adam (AdamW with `decoupled`) as a learner writes it: arrays and a step counter."""
    beta1, beta2 = betas
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    t = 0

    def step() -> None:
        nonlocal t
        t += 1
        for p, g, m_i, v_i in zip(params, grads, m, v, strict=True):
            if decoupled:
                p *= 1 - lr * weight_decay
            elif weight_decay:
                g = g + weight_decay * p
            m_i *= beta1
            m_i += (1 - beta1) * g
            v_i *= beta2
            v_i += (1 - beta2) * g * g
            m_hat = m_i / (1 - beta1 ** t)
            v_hat = v_i / (1 - beta2 ** t)
            p -= lr * m_hat / (np.sqrt(v_hat) + eps)

    return step


def sgd_by_hand(params: list[np.ndarray], grads: list[np.ndarray], lr: float = 0.01,
                momentum: float = 0.9) -> Callable[[], None]:
    """SGD with momentum by hand (v = g at the first step, as PyTorch)."""
    velocity: list[np.ndarray | None] = [None] * len(params)

    def step() -> None:
        for i, (p, g) in enumerate(zip(params, grads, strict=True)):
            v = velocity[i]
            if v is None:
                v = velocity[i] = g.copy()
            else:
                v *= momentum
                v += g
            p -= lr * v

    return step


CASES = {  # name: (make the optimizer, make the hand-written step)
    "Adam": (lambda ps: optim.Adam(ps, lr=1e-3), lambda ps, gs: adam_by_hand(ps, gs)),
    "AdamW": (lambda ps: optim.AdamW(ps, lr=1e-3, weight_decay=0.01),
              lambda ps, gs: adam_by_hand(ps, gs, weight_decay=0.01, decoupled=True)),
    "SGD momentum": (lambda ps: optim.SGD(ps, lr=0.01, momentum=0.9),
                     lambda ps, gs: sgd_by_hand(ps, gs)),
}


def make_pair(name: str, dtype: type) -> tuple[Callable[[], None], Callable[[], None],
                                                list[Tensor], list[np.ndarray]]:
    """The optimizer's step and the hand-written one, from the same weights and gradients."""
    model = nn.MLP(SIZES, seed=0, dtype=dtype)
    params = model.parameters()
    rng = np.random.default_rng(0)
    for p in params:
        p.grad = Tensor(rng.standard_normal(p.shape).astype(dtype) * 0.01)
    arrays = [p.data.copy() for p in params]
    grads = [p.grad.data.copy() for p in params]
    make_optimizer, make_by_hand = CASES[name]
    return make_optimizer(params).step, make_by_hand(arrays, grads), params, arrays


def check_same(name: str, dtype: type) -> None:
    """Exit unless five steps of each side leave the same weights."""
    ours, by_hand, params, arrays = make_pair(name, dtype)
    for _ in range(5):
        ours()
        by_hand()
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    for p, a in zip(params, arrays, strict=True):
        if not np.allclose(p.data, a, rtol=rtol, atol=rtol * np.abs(a).max()):
            sys.exit(f"optim bench: {name} and the hand-written update differ")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="an optimizer step against numpy by hand")
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--blocks", type=int, default=60, help="interleaved blocks")
    parser.add_argument("--steps", type=int, default=50, help="steps per block")
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype).type
    print(f"one step over {nn.MLP(SIZES).num_parameters():,} parameters, {args.dtype}, "
          f"median of {args.blocks} blocks of {args.steps} steps")
    print(f"  {'optimizer':<14}{'numpy by hand':>15}{'optim':>12}{'optim/numpy':>13}")
    for name in CASES:
        check_same(name, dtype)
        ours, by_hand, _, _ = make_pair(name, dtype)
        samples: dict[str, list[float]] = {"numpy": [], "optim": []}
        for _ in range(args.blocks):
            for side, step in (("numpy", by_hand), ("optim", ours)):
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                samples[side].append((time.perf_counter() - start) / args.steps)
        numpy_us, optim_us = (statistics.median(samples[k]) * 1e6 for k in ("numpy", "optim"))
        print(f"  {name:<14}{numpy_us:>12.1f} µs{optim_us:>9.1f} µs{optim_us / numpy_us:>13.2f}",
              flush=True)


if __name__ == "__main__":
    main()
