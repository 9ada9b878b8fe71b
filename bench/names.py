"""Time one training step of each names model (examples/names.py): ours, eager and replayed
with tg.jit, against PyTorch CPU running the same architecture.

One step = the forward pass on a batch of 32 names (16 positions each), the cross-entropy
over the characters (padding ignored), zero_grad, backward and an AdamW step (makemore's
betas 0.9/0.99, weight decay 0.01; lr 5e-4, 0.01 for the bigram), with makemore's sizes
(embedding 64, hidden 64; the transformer 4 layers, 64 wide, 4 heads). The batches are
drawn from the names before timing and taken in turn, so no system pays for data loading.
The PyTorch models are written here, module for module the example's, and start from our
weights: one step of each system is checked to give the same loss and weights first.
Then each system runs in a process of its own, one thread (OPENBLAS_NUM_THREADS=1,
torch.set_num_threads(1)), in interleaved blocks; the table gives medians in ms a step
and our time over PyTorch's (the issue's goals: ≤ 1.0× for bigram, MLP, RNN and GRU,
≤ 1.5× for the transformer).

    python bench/names.py                          # every model
    python bench/names.py --quick --models mlp gru # fewer, shorter blocks
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # (before numpy: also in the workers)

import argparse
import importlib.util
import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np
from timing import interleaved_blocks, median_ms, serve_blocks

import tinygrad_edu as tg
from tinygrad_edu import Tensor, optim
from tinygrad_edu.digits import example

names = example("names")  # examples/names.py: its models, data and training step

MODELS = names.MODELS
GOALS = {"bigram": 1.0, "mlp": 1.0, "rnn": 1.0, "gru": 1.0, "transformer": 1.5}
BATCH, BATCHES = 32, 64  # batch size, and how many distinct batches the steps cycle through
BETAS, EPS, WEIGHT_DECAY = (0.9, 0.99), 1e-8, 0.01


def setup(kind: str) -> tuple[Any, Any, list[tuple[np.ndarray, np.ndarray]]]:
    """The example's options and data, and the batches every system steps through."""
    args = names.parse_args(["--model", kind, "--no-figure"])
    data = names.load_data(args)
    rng = np.random.default_rng(0)
    return args, data, [data.train.batch(rng, BATCH) for _ in range(BATCHES)]


def our_model(kind: str) -> tuple[Any, Any, Any, list[tuple[np.ndarray, np.ndarray]]]:
    """The example's model with weights from seed 0, its options, data and the batches."""
    args, data, batches = setup(kind)
    tg.manual_seed(0)
    model = names.build_model(kind, len(data.vocabulary), data.block_size, args)
    return model, args, data, batches


def our_step(kind: str, use_jit: bool) -> tuple[Callable[[], Any], Any]:
    """The example's own training step (make_train_step), on the batches in turn."""
    model, args, _, batches = our_model(kind)
    optimizer = optim.AdamW(model.parameters(), lr=names.learning_rate(args, kind),
                            betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    train_step = names.make_train_step(model, optimizer, None, use_jit)
    tensors = [(Tensor(x), Tensor(y)) for x, y in batches]
    turn = 0

    def step() -> Any:
        nonlocal turn
        x, y = tensors[turn % BATCHES]
        turn += 1
        return train_step(x, y)

    return step, model


# ------------------------------------------------------------------ the same models in PyTorch

def torch_models() -> dict[str, Any]:
    """The example's five model classes, written in PyTorch (imported only here)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Bigram(nn.Module):
        def __init__(self, vocab_size: int, block_size: int) -> None:
            super().__init__()
            self.logits = nn.Parameter(torch.zeros(vocab_size, vocab_size))

        def forward(self, idx: Any) -> Any:
            return self.logits[idx]

    class MLP(nn.Module):
        def __init__(self, vocab_size: int, block_size: int, n_embd: int = 64,
                     n_hidden: int = 64) -> None:
            super().__init__()
            self.block_size, self.blank = block_size, vocab_size
            self.wte = nn.Embedding(vocab_size + 1, n_embd)
            self.mlp = nn.Sequential(nn.Linear(block_size * n_embd, n_hidden), nn.Tanh(),
                                     nn.Linear(n_hidden, vocab_size))

        def forward(self, idx: Any) -> Any:
            batch, T = idx.shape
            blank = self.wte(torch.full((batch, self.block_size), self.blank))
            emb = torch.cat([blank, self.wte(idx)], dim=1)
            windows = [emb[:, self.block_size - k:self.block_size - k + T]
                       for k in range(self.block_size)]
            return self.mlp(torch.cat(windows, dim=-1))

    class Recurrent(nn.Module):
        def __init__(self, kind: str, vocab_size: int, n_embd: int = 64,
                     n_hidden: int = 64) -> None:
            super().__init__()
            layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
            self.kind = kind
            self.start = nn.Parameter(torch.zeros(1, 1, n_hidden))
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.rnn = layer(n_embd, n_hidden, batch_first=True)
            self.lm_head = nn.Linear(n_hidden, vocab_size)

        def forward(self, idx: Any) -> Any:
            h0 = self.start.expand(1, idx.shape[0], self.start.shape[-1]).contiguous()
            state = (h0, torch.zeros_like(h0)) if self.kind == "lstm" else h0
            out, _ = self.rnn(self.wte(idx), state)
            return self.lm_head(out)

    class CausalSelfAttention(nn.Module):
        def __init__(self, n_embd: int, n_head: int) -> None:
            super().__init__()
            self.n_head = n_head
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.c_proj = nn.Linear(n_embd, n_embd)

        def forward(self, x: Any) -> Any:
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                       for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class Block(nn.Module):
        def __init__(self, n_embd: int, n_head: int) -> None:
            super().__init__()
            self.ln_1 = nn.LayerNorm(n_embd)
            self.attn = CausalSelfAttention(n_embd, n_head)
            self.ln_2 = nn.LayerNorm(n_embd)
            self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd),
                                     nn.GELU(approximate="tanh"),
                                     nn.Linear(4 * n_embd, n_embd))

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class Transformer(nn.Module):
        def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4,
                     n_embd: int = 64, n_head: int = 4) -> None:
            super().__init__()
            self.wte = nn.Embedding(vocab_size, n_embd)
            self.wpe = nn.Embedding(block_size, n_embd)
            self.blocks = nn.Sequential(*[Block(n_embd, n_head) for _ in range(n_layer)])
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

        def forward(self, idx: Any) -> Any:
            x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
            return self.lm_head(self.ln_f(self.blocks(x)))

    return {"bigram": Bigram, "mlp": MLP, "recurrent": Recurrent,
            "transformer": Transformer}


def torch_step(kind: str) -> tuple[Callable[[], Any], Any]:
    """The same step in PyTorch, from our starting weights, on the same batches."""
    import torch
    from torch.nn import functional as F

    torch.set_num_threads(1)
    ours, args, data, batches = our_model(kind)
    classes = torch_models()
    vocab_size, block_size = len(data.vocabulary), data.block_size
    if kind in ("rnn", "gru", "lstm"):
        model = classes["recurrent"](kind, vocab_size)
    else:
        model = classes[kind](vocab_size, block_size)
    model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in ours.state_dict().items()})
    optimizer = torch.optim.AdamW(model.parameters(), lr=names.learning_rate(args, kind),
                                  betas=BETAS, eps=EPS, weight_decay=WEIGHT_DECAY)
    tensors = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in batches]
    turn = 0

    def step() -> Any:
        nonlocal turn
        x, y = tensors[turn % BATCHES]
        turn += 1
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y, ignore_index=-1)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    return step, model


def check_same_step(kind: str) -> None:
    """Three steps of each system from the same weights: eager and jit give the same
    losses and weights exactly; PyTorch the same gradients at the first step and the same
    losses (to float32 rounding). (Not PyTorch's weights after: where a gradient is rounding
    noise, as the attention's key bias's, whose exact gradient is 0, Adam turns the noise
    into steps of ±lr.)"""
    losses, grads, weights = {}, {}, {}
    for system in ("eager", "jit", "pytorch"):
        step, model = torch_step(kind) if system == "pytorch" else our_step(kind,
                                                                          system == "jit")
        losses[system] = [float(step().item())]
        grads[system] = {name: np.array(p.grad.numpy() if system == "pytorch"
                                         else p.grad.data) for name, p in model.named_parameters()}
        losses[system] += [float(step().item()) for _ in range(2)]
        weights[system] = {name: p.data for name, p in model.named_parameters()
                           } if system != "pytorch" else {}
    if losses["jit"] != losses["eager"]:
        sys.exit(f"{kind}: the jitted step's losses {losses['jit']} differ from eager's "
                 f"{losses['eager']}")
    for name, value in weights["eager"].items():
        if not np.array_equal(weights["jit"][name], value):
            sys.exit(f"{kind}: the jitted step leaves other weights in {name}")
    if not np.allclose(losses["pytorch"], losses["eager"], rtol=1e-5, atol=1e-6):
        sys.exit(f"{kind}: PyTorch's losses {losses['pytorch']} differ from ours "
                 f"{losses['eager']}")
    for name, value in grads["eager"].items():
        theirs = grads["pytorch"][name]
        if not np.allclose(theirs, value, rtol=1e-4, atol=1e-5 * np.abs(value).max()):
            sys.exit(f"{kind}: PyTorch's gradient of {name} differs from ours")


def worker(system: str, kind: str, connection: Connection) -> None:
    """Runs in a process of its own: builds the step, then times blocks when asked."""
    step = torch_step(kind)[0] if system == "pytorch" else our_step(kind, system == "jit")[0]
    for _ in range(5):  # warm up (and, for jit, record)
        step()
    serve_blocks(step, connection)


def measure(kind: str, blocks: int, seconds_per_block: float) -> dict[str, float]:
    """Median ms a step of each system, each in its own process, blocks taking turns."""
    return median_ms(interleaved_blocks(worker, ["pytorch", "eager", "jit"], kind, blocks,
                                 seconds_per_block))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="one AdamW training step of each names "
                                     "model: ours (eager, tg.jit) against PyTorch CPU")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter blocks")
    parser.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS),
                        help="which models to time (default: all)")
    args = parser.parse_args(argv)
    if importlib.util.find_spec("torch") is None:
        sys.exit("bench/names.py compares with PyTorch: pip install torch (CPU) first")
    import torch

    blocks, per_block = (3, 0.2) if args.quick else (11, 0.5)
    print(f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, torch "
          f"{torch.__version__} with 1 thread, numpy {np.__version__}, {os.cpu_count()} "
          f"cores; batch {BATCH}, AdamW; {blocks} blocks of ~{per_block} s per system")
    print(f"{'model':<12} {'pytorch ms':>10} {'eager ms':>9} {'ratio':>6} {'jit ms':>7} "
          f"{'ratio':>6} {'goal':>5}")
    for kind in args.models:
        check_same_step(kind)
        ms = measure(kind, blocks, per_block)
        goal = f"{GOALS[kind]:5.1f}" if kind in GOALS else f"{'-':>5}"
        print(f"{kind:<12} {ms['pytorch']:10.2f} {ms['eager']:9.2f} "
              f"{ms['eager'] / ms['pytorch']:6.2f} {ms['jit']:7.2f} "
              f"{ms['jit'] / ms['pytorch']:6.2f} {goal}", flush=True)


if __name__ == "__main__":
    main()
