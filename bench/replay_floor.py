"""The least a replay built on tinygrad_edu's own op methods can cost (the issue-11 floor).

One training step of the seed network, with the op instances' forward and backward called in
straight-line code: no graph, no list of closures, no checks. Two variants against the
hand-written numpy step, interleaved: keeping what users see (`.grad` Tensors filled, the
optimizer object's step()), and raw arrays (the update written out, no `.grad`). Whatever a
replay does on top of these calls, its ratio cannot go below them.

    OPENBLAS_NUM_THREADS=1 python bench/replay_floor.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
from step import LR, SIZES, make_data, numpy_step

from tinygrad_edu import Tensor, nn, ops, optim


def floor_steps(model: nn.MLP, x: np.ndarray, y: np.ndarray
                ) -> tuple[Callable[[], None], Callable[[], None]]:
    """(step keeping .grad and the optimizer, step on raw arrays) for `model`."""
    optimizer = optim.SGD(model.parameters(), lr=LR)
    params = model.parameters()
    linears = [ops.LinearOp(), ops.LinearOp(), ops.LinearOp()]
    sigmoids = [ops.SigmoidOp(), ops.SigmoidOp(), ops.SigmoidOp()]
    loss = ops.MSELossOp()
    linears[0].needs_input_grad = [False, True, True]  # the pixels need no gradient
    linears[1].needs_input_grad = linears[2].needs_input_grad = [True, True, True]
    for op in sigmoids:
        op.needs_input_grad = [True]
    loss.needs_input_grad = [True, False]
    seed = np.array(1, x.dtype)

    def gradients() -> list[np.ndarray]:
        a, saved = x, []
        for linear, sigmoid, (w, b) in zip(linears, sigmoids, zip(params[::2], params[1::2],
                                                                   strict=True), strict=True):
            z = linear.forward(a, w.data, b.data)
            out = sigmoid.forward(z)
            saved.append((a, w.data, b.data, z, out))
            a = out
        cost = loss.forward(a, y, reduction="mean")
        grad, _ = loss.backward(seed, cost, a, y)
        grads: list[np.ndarray] = []
        for linear, sigmoid, (a_in, w, b, z, out) in zip(linears[::-1], sigmoids[::-1],
                                                        saved[::-1], strict=True):
            dz = sigmoid.backward(grad, out, z)
            grad, dw, db = linear.backward(dz, z, a_in, w, b)
            grads = [dw, db, *grads]
        return grads

    def keeping_what_users_see() -> None:
        grads = gradients()
        optimizer.zero_grad()
        for p, g in zip(params, grads, strict=True):
            p.grad = Tensor._wrap(g)
        optimizer.step()

    def raw_arrays() -> None:
        for p, g in zip(params, gradients(), strict=True):
            p.data -= LR * g

    return keeping_what_users_see, raw_arrays


def block(step: Callable[[], None], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    print(f"{'batch':>5} {'numpy µs':>9} {'.grad + optimizer':>18} {'raw arrays':>11}")
    for batch in (1, 10, 32, 128, 1000):
        x, y = make_data(batch, np.float32)
        state = nn.MLP(SIZES, seed=0).state_dict()
        kept, raw = floor_steps(nn.MLP(SIZES, seed=0), x, y)
        _, raw = floor_steps(nn.MLP(SIZES, seed=0), x, y)
        steps = {"numpy": numpy_step([state[k].copy() for k in state], x, y), "kept": kept,
                 "raw": raw}
        repeats = {}
        for name, step in steps.items():
            for _ in range(20):
                step()
            repeats[name] = max(5, int(0.05 / block(step, 20)))
        samples: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(40):
            for name, step in steps.items():
                samples[name].append(block(step, repeats[name]))
        median = {k: statistics.median(v) for k, v in samples.items()}
        print(f"{batch:>5} {median['numpy'] * 1e6:9.1f} {median['kept'] / median['numpy']:18.2f} "
              f"{median['raw'] / median['numpy']:11.2f}", flush=True)


if __name__ == "__main__":
    main()
