"""One training step of the seed network, eager, in two versions of tinygrad_edu at once:
a git revision (loaded as a renamed copy) against the working tree, interleaved in one
process, so a speed change is measured in the same run rather than across noisy runs.

    OPENBLAS_NUM_THREADS=1 python bench/compare.py 910cd02            # B = 1, 10, 32
    OPENBLAS_NUM_THREADS=1 python bench/compare.py HEAD~3 --batches 128 1000 --blocks 100
    OPENBLAS_NUM_THREADS=1 python bench/compare.py HEAD~1 --lenet --batches 32 128 \
        --blocks 20 --steps 5                                        # examples/conv_digits' net
"""

from __future__ import annotations

import argparse
import importlib
import io
import re
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from step import LR, SIZES, make_data

ROOT = Path(__file__).resolve().parents[1]


def load_revision(revision: str) -> Any:
    """tinygrad_edu as it was at `revision`, imported as `tinygrad_edu_at_rev`."""
    done = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "tinygrad_edu"],
                          capture_output=True)
    if done.returncode:
        sys.exit(f"compare: git cannot read tinygrad_edu at {revision!r}: "
                 f"{done.stderr.decode().strip()}")
    archive = done.stdout
    folder = Path(tempfile.mkdtemp()) / "tinygrad_edu_at_rev"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            if member.isfile() and member.name.endswith(".py"):
                source = tar.extractfile(member).read().decode()
                target = folder / Path(member.name).relative_to("tinygrad_edu")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(re.sub(r"\btinygrad_edu\b", "tinygrad_edu_at_rev", source))
            elif member.isfile():  # the embedded data, unchanged
                target = folder / Path(member.name).relative_to("tinygrad_edu")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(tar.extractfile(member).read())
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module("tinygrad_edu_at_rev")


def eager_step(lib: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """One SGD step of the seed network (squared error), built from `lib`."""
    model = lib.nn.MLP(SIZES, seed=0, dtype=x.dtype)
    optimizer = lib.optim.SGD(model.parameters(), lr=LR)
    return training_step(model, optimizer, lib.nn.mse_loss, lib.Tensor(x), lib.Tensor(y))


def lenet_step(lib: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """One Adam step of examples/conv_digits.py's LeNet, built from `lib`'s layers."""
    nn = lib.nn
    lib.manual_seed(0)  # the same starting weights in both versions
    model = nn.Sequential(nn.Conv2d(1, 8, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Conv2d(8, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(16 * 5 * 5, 10))
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    return training_step(model, optimizer, nn.functional.cross_entropy,
                         lib.Tensor(x.reshape(-1, 1, 28, 28)), y)


def training_step(model: Any, optimizer: Any, loss_of: Callable[[Any, Any], Any],
                  inputs: Any, targets: Any) -> Callable[[], None]:
    """forward, cost, backward, update: the step both systems are timed on."""
    def step() -> None:
        loss = loss_of(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return step


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="eager step: a revision against now")
    parser.add_argument("revision", help="a git revision, e.g. 910cd02 or HEAD~2")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 10, 32])
    parser.add_argument("--blocks", type=int, default=300, help="interleaved blocks")
    parser.add_argument("--steps", type=int, default=30, help="steps per block")
    parser.add_argument("--lenet", action="store_true", help="the conv example's step")
    args = parser.parse_args(argv)
    import tinygrad_edu as now

    then = load_revision(args.revision)
    print(f"eager step, {args.revision} against the working tree, float32, "
          f"{args.blocks} blocks of {args.steps} steps")
    for batch in args.batches:
        x, y = make_data(batch, np.float32)
        make = eager_step
        if args.lenet:
            make, y = lenet_step, np.argmax(y, axis=1)
        steps = {"then": make(then, x, y), "now": make(now, x, y)}
        for step in steps.values():
            for _ in range(10 if args.lenet else 200):
                step()
        samples: dict[str, list[float]] = {name: [] for name in steps}
        for _ in range(args.blocks):
            for name, step in steps.items():
                start = time.perf_counter()
                for _ in range(args.steps):
                    step()
                samples[name].append((time.perf_counter() - start) / args.steps)
        median = {k: statistics.median(v) for k, v in samples.items()}
        least = {k: min(v) for k, v in samples.items()}
        print(f"  B={batch:5d}  then {median['then'] * 1e6:8.1f} µs  now "
              f"{median['now'] * 1e6:8.1f} µs  now/then {median['now'] / median['then']:.3f} "
              f"(minimum {least['now'] / least['then']:.3f})", flush=True)


if __name__ == "__main__":
    main()
