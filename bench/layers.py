"""Time forward + backward of sequence layers: tinygrad_edu against PyTorch's CPU layers.

Three networks, each from the same starting weights in both systems: a 2-layer LSTM and a
2-layer GRU (batch 32, sequence 16, input and hidden size 64, time-major input that
requires grad) and a 4-layer TransformerEncoder (batch 32, sequence 16, d_model 64, 4
heads, feed-forward 256, batch_first, dropout 0 so both compute the same numbers). One step
= the forward pass, the sum of the output, and backward (gradients cleared first). The
outputs and every gradient are checked equal first; then each system runs in a process of
its own, in interleaved blocks, and the table gives medians in milliseconds and our time
over PyTorch's (goals: 2.5× for the recurrent nets, 2× for the Transformer).

    OPENBLAS_NUM_THREADS=1 python bench/layers.py          # all three
    python bench/layers.py --quick --nets lstm             # fewer, shorter blocks
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from timing import interleaved_blocks, median_ms, serve_blocks

import tinygrad_edu as tg
from tinygrad_edu import Tensor, nn

BATCH, SEQ, HIDDEN, HEADS, FEEDFORWARD = 32, 16, 64, 4, 256
GOALS = {"lstm": 2.5, "gru": 2.5, "transformer": 2.0}


def make_input(net: str) -> np.ndarray:
    shape = (BATCH, SEQ, HIDDEN) if net == "transformer" else (SEQ, BATCH, HIDDEN)
    return np.random.default_rng(1).standard_normal(shape).astype(np.float32)


def ours(net: str) -> nn.Module:
    """Our network, its weights drawn from seed 0."""
    tg.manual_seed(0)
    if net == "lstm":
        return nn.LSTM(HIDDEN, HIDDEN, num_layers=2)
    if net == "gru":
        return nn.GRU(HIDDEN, HIDDEN, num_layers=2)
    layer = nn.TransformerEncoderLayer(HIDDEN, HEADS, dim_feedforward=FEEDFORWARD,
                                       dropout=0.0, batch_first=True)
    return nn.TransformerEncoder(layer, num_layers=4)


def theirs(net: str, state: dict[str, np.ndarray]) -> Any:
    """PyTorch's network of the same shape, with our weights loaded."""
    import torch

    tn = torch.nn
    if net == "lstm":
        model = tn.LSTM(HIDDEN, HIDDEN, num_layers=2)
    elif net == "gru":
        model = tn.GRU(HIDDEN, HIDDEN, num_layers=2)
    else:
        layer = tn.TransformerEncoderLayer(HIDDEN, HEADS, dim_feedforward=FEEDFORWARD,
                                           dropout=0.0, batch_first=True)
        model = tn.TransformerEncoder(layer, num_layers=4, enable_nested_tensor=False)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in state.items()})
    return model


def first(output: Any) -> Any:
    """The output sequence: recurrent layers return (output, state)."""
    return output[0] if isinstance(output, tuple) else output


def our_step(net: str) -> tuple[Callable[[], Any], nn.Module, Tensor]:
    model, x = ours(net), Tensor(make_input(net), requires_grad=True)

    def step() -> Any:
        model.zero_grad()
        x.grad = None
        output = first(model(x))
        output.sum().backward()
        return output

    return step, model, x


def torch_step(net: str) -> tuple[Callable[[], Any], Any, Any]:
    import torch

    torch.set_num_threads(1)
    model = theirs(net, ours(net).state_dict())
    x = torch.from_numpy(make_input(net)).requires_grad_()

    def step() -> Any:
        model.zero_grad(set_to_none=True)
        x.grad = None
        output = first(model(x))
        output.sum().backward()
        return output

    return step, model, x


def check_same_step(net: str) -> None:
    """One step of each system must give (nearly) the same output and gradients."""
    step, model, x = our_step(net)
    output = step()
    their_step, their_model, their_x = torch_step(net)
    their_output = their_step()
    close = {"rtol": 1e-3, "atol": 1e-4}
    if not np.allclose(output.data, their_output.detach().numpy(), **close):
        sys.exit(f"{net}: the output differs from PyTorch's")
    if not np.allclose(x.grad.data, their_x.grad.numpy(), **close):
        sys.exit(f"{net}: the input's gradient differs from PyTorch's")
    theirs_by_name = dict(their_model.named_parameters())
    for name, p in model.named_parameters():
        if not np.allclose(p.grad.data, theirs_by_name[name].grad.numpy(), **close):
            sys.exit(f"{net}: the gradient of {name} differs from PyTorch's")


def worker(system: str, net: str, connection: Connection) -> None:
    """Runs in a process of its own: builds the step, then times blocks when asked."""
    step = torch_step(net)[0] if system == "pytorch" else our_step(net)[0]
    for _ in range(3):  # warm up
        step()
    serve_blocks(step, connection)


def measure(net: str, blocks: int, seconds_per_block: float) -> dict[str, float]:
    """Median ms per step of each system, each in its own process, blocks taking turns
    (so a slow moment of the machine hits both alike)."""
    return median_ms(interleaved_blocks(worker, ["pytorch", "tinygrad_edu"], net, blocks,
                                 seconds_per_block))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="benchmark forward + backward of LSTM, GRU "
                                     "and TransformerEncoder against PyTorch")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    parser.add_argument("--nets", nargs="+", choices=list(GOALS), default=list(GOALS),
                        help="which networks to time (default: all three)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        sys.exit("bench/layers.py compares with PyTorch: pip install torch (CPU) first")
    blocks, per_block = (3, 0.2) if args.quick else (11, 0.5)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', '(unset)')}, "
          f"{os.cpu_count()} cores; batch {BATCH}, sequence {SEQ}, size {HIDDEN}")
    print(f"{'network':<12} {'pytorch ms':>11} {'ours ms':>8} {'ratio':>6} {'goal':>5}")
    for net in args.nets:
        if net == "transformer" and not hasattr(nn, "TransformerEncoder"):
            print(f"{net:<12} skipped: nn.TransformerEncoder does not exist yet", flush=True)
            continue
        check_same_step(net)
        results = measure(net, blocks, per_block)
        ratio = results["tinygrad_edu"] / results["pytorch"]
        print(f"{net:<12} {results['pytorch']:11.2f} {results['tinygrad_edu']:8.2f} "
              f"{ratio:6.2f} {GOALS[net]:5.1f}", flush=True)


if __name__ == "__main__":
    main()
