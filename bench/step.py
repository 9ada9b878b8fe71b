"""Time one training step of the seed network: tinygrad_edu vs hand-written numpy vs PyTorch.

One step = forward through 784 → 16 → 16 → 10 (sigmoid), MSE cost, backward, SGD update,
through the public API (nn.MLP, nn.mse_loss, optim.SGD), eagerly and replayed by tg.jit
(checked to leave exactly the eager weights; "record/eager" is the first, recording call
against one eager step, and "record ms" its time: recording and compiling the replay, with
Python's compile() of the replay's source included; "again ms" is a record of the same
step made again, whose source tg.jit has compiled already).
The hand-written numpy step does the same arithmetic with the formulas written out; its
weights and gradients are checked equal to tinygrad_edu's before timing. PyTorch (CPU)
runs too when it is installed. So does bench/bare_engine.py, the least a graph engine can
do for this step: its ratio is the floor for any engine of this design on this machine.

The systems take turns in blocks (so drifts in machine speed hit all of them), after a
warm-up; the table gives median µs per step and each system's ratio to hand-written numpy.

    OPENBLAS_NUM_THREADS=1 python bench/step.py            # the full table
    python bench/step.py --quick                           # under 30 s
    python bench/step.py --dtype float64 --batches 10 32   # some rows only
    python bench/step.py --graph --memory                  # also backward vs graph size, RSS
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import resource
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np
from bare_engine import bare_step

import tinygrad_edu as tg
from tinygrad_edu import Tensor, compiled, nn, optim

SIZES = [784, 16, 16, 10]
LR = 0.1


# ----------------------------------------------------------------------------------------
# The three systems, each giving a `step()` closure over its own copy of the same weights
# ----------------------------------------------------------------------------------------
def make_data(batch: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(batch)
    x = rng.random((batch, SIZES[0])).astype(dtype)  # MNIST-shaped pixels in [0, 1)
    y = np.eye(SIZES[-1], dtype=dtype)[rng.integers(0, SIZES[-1], batch)]
    return x, y


def tinygrad_step(model: nn.MLP, x: np.ndarray, y: np.ndarray, replay: bool = False
                  ) -> Callable[[], None]:
    """One eager step through the public API, or (`replay`) the same step under tg.jit."""
    optimizer = optim.SGD(model.parameters(), lr=LR)
    inputs, targets = Tensor(x), Tensor(y)

    def train_step(xb: Tensor, yb: Tensor) -> Tensor:
        loss = nn.mse_loss(model(xb), yb)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    run = tg.jit(train_step) if replay else train_step
    return lambda: run(inputs, targets)


def check_replay(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> None:
    """Ten replayed steps must leave exactly the weights of ten eager steps."""
    results = []
    for replay in (False, True):
        model = nn.MLP(SIZES, dtype=x.dtype)
        model.load_state_dict(state)
        step = tinygrad_step(model, x, y, replay)
        for _ in range(10):
            step()
        results.append(model.state_dict())
    if any(not np.array_equal(results[0][k], results[1][k]) for k in state):
        sys.exit("replay's weights differ from eager's")


def record_cost(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
                ) -> tuple[float, float]:
    """Seconds for the first (recording) call of a jit step, median of 9 fresh ones: with
    the compiled-source cache emptied first (the first record in a process), and without
    (a record made again)."""
    firsts, agains = [], []
    for _ in range(9):
        for cached, times in ((False, firsts), (True, agains)):
            if not cached:
                compiled._code_cache.clear()
            model = nn.MLP(SIZES, dtype=x.dtype)
            model.load_state_dict(state)
            step = tinygrad_step(model, x, y, replay=True)
            start = time.perf_counter()
            step()
            times.append(time.perf_counter() - start)
    return statistics.median(firsts), statistics.median(agains)


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * np.tanh(0.5 * z) + 0.5  # the same formula as tinygrad_edu's Sigmoid


def numpy_gradients(params: list[np.ndarray], x: np.ndarray, y: np.ndarray
                    ) -> tuple[float, list[np.ndarray]]:
    """Forward (with the cost, as a training loop reports it) and backward of the seed
    network with the formulas written out."""
    w1, b1, w2, b2, w3, b3 = params
    a1 = sigmoid(x @ w1.T + b1)
    a2 = sigmoid(a1 @ w2.T + b2)
    a3 = sigmoid(a2 @ w3.T + b3)
    error = a3 - y
    cost = np.vdot(error, error) / error.size  # C = mean (a − y)²
    d3 = (2.0 / a3.size) * error * a3 * (1 - a3)  # ∂C/∂z3
    d2 = (d3 @ w3) * a2 * (1 - a2)  # ∂C/∂z2
    d1 = (d2 @ w2) * a1 * (1 - a1)  # ∂C/∂z1
    return cost, [d1.T @ x, d1.sum(0), d2.T @ a1, d2.sum(0), d3.T @ a2, d3.sum(0)]


def numpy_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    def step() -> None:
        _, gradients = numpy_gradients(params, x, y)
        for p, g in zip(params, gradients, strict=True):
            p -= LR * g

    return step


def torch_step(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
               ) -> Callable[[], None] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    layers = []
    for fan_in, fan_out in itertools.pairwise(SIZES):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.Sigmoid()]
    model = torch.nn.Sequential(*layers).to(torch.from_numpy(x).dtype)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    inputs, targets = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        loss = torch.nn.functional.mse_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def check_same_gradients(model: nn.MLP, x: np.ndarray, y: np.ndarray) -> float:
    """tinygrad_edu's gradients against the hand-written ones, before any step."""
    nn.mse_loss(model(Tensor(x)), Tensor(y)).backward()
    mine = [p.grad.data for p in model.parameters()]
    model.zero_grad()
    _, theirs = numpy_gradients([p.data.copy() for p in model.parameters()], x, y)
    worst = 0.0
    for a, b in zip(mine, theirs, strict=True):
        scale = max(np.abs(b).max(), 1e-30)
        worst = max(worst, float(np.abs(a - b).max() / scale))
    return worst


def check_bare_engine(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray,
                      tolerance: float) -> None:
    """One step of the bare engine must leave the same weights as one hand-written step."""
    bare = [state[k].copy() for k in state]
    by_hand = [state[k].copy() for k in state]
    bare_step(bare, x, y, LR)()
    numpy_step(by_hand, x, y)()
    for a, b in zip(bare, by_hand, strict=True):
        if not np.allclose(a, b, rtol=tolerance, atol=tolerance):
            sys.exit("the bare engine's step differs from the hand-written one")


# ----------------------------------------------------------------------------------------
# Timing
# ----------------------------------------------------------------------------------------
def time_block(step: Callable[[], None], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def measure(batch: int, dtype: type, blocks: int, seconds_per_block: float
            ) -> dict[str, float]:
    x, y = make_data(batch, dtype)
    model = nn.MLP(SIZES, seed=0, dtype=dtype)
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    difference = check_same_gradients(model, x, y)
    if difference > tolerance:
        sys.exit(f"gradients differ from the hand-written ones by {difference:.1e} "
                 f"(batch {batch}, {np.dtype(dtype).name})")
    state = model.state_dict()
    check_bare_engine(state, x, y, tolerance)
    check_replay(state, x, y)
    recording = record_cost(state, x, y)
    replay_model = nn.MLP(SIZES, dtype=dtype)
    replay_model.load_state_dict(state)
    steps = {"tinygrad_edu": tinygrad_step(model, x, y),
             "replay": tinygrad_step(replay_model, x, y, replay=True),
             "numpy": numpy_step([state[k].copy() for k in state], x, y),
             "bare": bare_step([state[k].copy() for k in state], x, y, LR)}
    torch_run = torch_step(state, x, y)
    if torch_run is not None:
        steps["pytorch"] = torch_run
    repeats = {}
    for name, step in steps.items():  # warm up, and size blocks to ~seconds_per_block
        for _ in range(20):
            step()
        one = time_block(step, 20)
        repeats[name] = max(5, int(seconds_per_block / one))
    samples: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(blocks):  # interleaved: each block runs every system once
        for name, step in steps.items():
            samples[name].append(time_block(step, repeats[name]))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    medians["record"], medians["again"] = recording
    return medians


def step_table(batches: list[int], dtypes: list[type], blocks: int, per_block: float) -> None:
    print(f"{'dtype':<8} {'batch':>5} {'numpy µs':>9} {'replay µs':>10} {'ratio':>6} "
          f"{'eager µs':>9} {'ratio':>6} {'bare µs':>8} {'ratio':>6} {'pytorch µs':>11} "
          f"{'ratio':>6}  record/eager  record ms  again ms")
    for dtype in dtypes:
        for batch in batches:
            medians = measure(batch, dtype, blocks, per_block)
            base = medians["numpy"]
            row = (f"{np.dtype(dtype).name:<8} {batch:>5} {base * 1e6:9.1f} "
                   f"{medians['replay'] * 1e6:10.1f} {medians['replay'] / base:6.2f} "
                   f"{medians['tinygrad_edu'] * 1e6:9.1f} {medians['tinygrad_edu'] / base:6.2f} "
                   f"{medians['bare'] * 1e6:8.1f} {medians['bare'] / base:6.2f}")
            if "pytorch" in medians:
                row += f" {medians['pytorch'] * 1e6:11.1f} {medians['pytorch'] / base:6.2f}"
            else:
                row += f" {'(not installed)':>18}"
            row += (f"  {medians['record'] / medians['tinygrad_edu']:12.2f}"
                    f"  {medians['record'] * 1e3:9.2f}  {medians['again'] * 1e3:8.2f}")
            print(row, flush=True)


# ----------------------------------------------------------------------------------------
# Backward time against graph size; memory over many steps
# ----------------------------------------------------------------------------------------
def graph_scaling(lengths: list[int]) -> None:
    print("\nbackward through a chain of n ops (y = y·1.0001), µs per op:")
    for n in lengths:
        x = Tensor(np.ones(4, np.float32), requires_grad=True)
        y = x
        for _ in range(n):
            y = y * 1.0001
        total = y.sum()
        start = time.perf_counter()
        total.backward()
        seconds = time.perf_counter() - start
        print(f"  n = {n:>7,}: backward {seconds * 1e3:8.1f} ms = {seconds / n * 1e6:5.2f} µs/op")


def rss_mib() -> float:
    """Resident memory now (Linux /proc), else the peak from getrusage."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_over_steps(steps: int) -> None:
    print(f"\nresident memory over {steps:,} training steps (batch 32, float32):")
    x, y = make_data(32, np.float32)
    step = tinygrad_step(nn.MLP(SIZES, seed=0), x, y)
    for done in range(steps + 1):
        if done % (steps // 5) == 0:
            print(f"  after {done:>6,} steps: {rss_mib():7.1f} MiB")
        if done < steps:
            step()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark one training step")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks (< 30 s)")
    parser.add_argument("--graph", action="store_true", help="backward time vs graph size")
    parser.add_argument("--memory", action="store_true", help="RSS over 10,000 steps")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10, 32, 128, 1000])
    parser.add_argument("--dtype", nargs="+", choices=["float32", "float64"],
                        help="the dtypes to time (default: both; float32 with --quick)")
    args = parser.parse_args(argv)
    print(f"Python {platform.python_version()}, numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"{os.cpu_count()} cores")
    blocks, per_block = (5, 0.08) if args.quick else (15, 0.25)
    dtypes = [np.float32] if args.quick else [np.float32, np.float64]
    if args.dtype:
        dtypes = [np.dtype(name).type for name in args.dtype]
    step_table(args.batches, dtypes, blocks, per_block)
    if args.graph:
        graph_scaling([1_000, 10_000, 100_000])
    if args.memory:
        memory_over_steps(10_000)


if __name__ == "__main__":
    main()
