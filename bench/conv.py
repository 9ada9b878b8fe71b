"""Time one training step of examples/conv_digits.py's LeNet: tinygrad_edu against PyTorch.

One step = forward (two convolutions, ReLU, max-pooling, linear), cross-entropy, backward,
Adam's update, from the same starting weights; the systems' weights after one step are
checked equal first. Eager and replayed (tg.jit) steps are timed, and PyTorch's CPU step
when it is installed, each in a process of its own, in interleaved blocks; the table gives
medians in milliseconds, each system's time over PyTorch's, and the page faults per step
(memory the system had to hand out afresh; the README says why they matter here).

    OPENBLAS_NUM_THREADS=1 python bench/conv.py           # batch 32 and 128
    python bench/conv.py --quick                          # fewer, shorter blocks
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
from timing import interleaved_blocks, serve_blocks

from tinygrad_edu import Tensor, nn, optim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from conv_digits import flagship, lenet

LR = 1e-3


def make_data(batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(batch)
    return rng.random((batch, 1, 28, 28), dtype=np.float32), rng.integers(0, 10, batch)


def tinygrad_step(model: nn.Module, x: np.ndarray, y: np.ndarray, replay: bool
                  ) -> Callable[[], None]:
    optimizer = optim.Adam(model.parameters(), lr=LR)
    run = flagship.make_train_step(model, optimizer, "cross-entropy", replay)  # the example's
    inputs, labels = Tensor(x), Tensor(y)
    return lambda: run(inputs, labels)


def torch_step(state: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
               ) -> tuple[Callable[[], None], Callable[[], dict[str, np.ndarray]]] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    tn = torch.nn
    model = tn.Sequential(tn.Conv2d(1, 8, 5, padding=2), tn.ReLU(), tn.MaxPool2d(2),
                          tn.Conv2d(8, 16, 5), tn.ReLU(), tn.MaxPool2d(2), tn.Flatten(),
                          tn.Linear(16 * 5 * 5, 10))
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    optimizer = torch.optim.Adam(model.parameters(), lr=LR)
    inputs, labels = torch.from_numpy(x), torch.from_numpy(y)

    def step() -> None:
        optimizer.zero_grad()
        loss = tn.functional.cross_entropy(model(inputs), labels)
        loss.backward()
        optimizer.step()

    return step, lambda: {k: v.detach().numpy() for k, v in model.state_dict().items()}


def check_same_step(batch: int) -> None:
    """One step of each system from the same weights must leave (nearly) the same weights."""
    x, y = make_data(batch)
    eager, replayed = lenet(0), lenet(0)
    replayed.load_state_dict(eager.state_dict())
    state = eager.state_dict()
    tinygrad_step(eager, x, y, replay=False)()
    tinygrad_step(replayed, x, y, replay=True)()  # (recorded: replays are tested in tests/)
    if any(not np.array_equal(eager.state_dict()[k], replayed.state_dict()[k]) for k in state):
        sys.exit("the jit step's weights differ from the eager step's")
    torch_run = torch_step(state, x, y)
    if torch_run is not None:
        torch_run[0]()
        for key, value in torch_run[1]().items():
            if not np.allclose(eager.state_dict()[key], value, rtol=1e-3, atol=1e-5):
                sys.exit(f"{key} differs from PyTorch's after one step")


def build_step(system: str, batch: int) -> Callable[[], None]:
    """One system's training step on the benchmark's batch, from lenet(0)'s weights."""
    x, y = make_data(batch)
    if system == "pytorch":
        torch_run = torch_step(lenet(0).state_dict(), x, y)
        assert torch_run is not None, "measure() asks for pytorch only when it is installed"
        return torch_run[0]
    return tinygrad_step(lenet(0), x, y, replay=system == "replay")


def worker(system: str, batch: int, connection: Connection) -> None:
    """Runs in a process of its own: builds the step, then times blocks when asked."""
    step = build_step(system, batch)
    for _ in range(3):  # warm up (and let the replay record)
        step()
    serve_blocks(step, connection)


def measure(batch: int, blocks: int, seconds_per_block: float) -> dict[str, tuple[float, float]]:
    """Median ms and page faults per step for each system, each in its own process.

    Separate processes, because numpy's speed here depends on the memory allocator's state
    (see the README): in one process, one system's arrays change when the allocator hands
    memory back to the system, and so the other system's page faults. Blocks still take
    turns, so a slow moment of the machine hits every system alike."""
    systems = ["eager", "replay"] + (["pytorch"] if importlib.util.find_spec("torch") else [])
    samples = interleaved_blocks(worker, systems, batch, blocks, seconds_per_block)
    return {system: (statistics.median(s for s, _ in values) * 1e3,
                     statistics.median(f for _, f in values))
            for system, values in samples.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark one LeNet training step")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 128])
    args = parser.parse_args(argv)
    if min(args.batches) < 1:
        parser.error(f"--batches: each batch size must be at least 1, got {args.batches}")
    blocks, per_block = (3, 0.2) if args.quick else (11, 0.5)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"{os.cpu_count()} cores")
    print(f"{'batch':>5} {'pytorch ms':>11} {'eager ms':>9} {'ratio':>6} {'replay ms':>10} "
          f"{'ratio':>6}   page faults per step: pytorch, eager, replay")
    for batch in args.batches:
        check_same_step(batch)
        results = measure(batch, blocks, per_block)
        torch_ms, torch_faults = results.get("pytorch", (float("nan"), float("nan")))
        row = f"{batch:>5} {torch_ms:11.2f}"
        for system in ("eager", "replay"):
            row += f" {results[system][0]:9.2f} {results[system][0] / torch_ms:6.2f}"
        row += (f"   {torch_faults:.0f}, {results['eager'][1]:.0f}, "
                f"{results['replay'][1]:.0f}")
        print(row, flush=True)


if __name__ == "__main__":
    main()
