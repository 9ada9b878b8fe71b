"""Language models of names, makemore's way: from a table of bigram counts to a small GPT,
each model a short nn.Module written as a PyTorch user writes it, one training loop for all.
Runs offline on the 32,033 names shipped in the package (or any file, one item a line).

    python examples/names.py                          # the default: an MLP, about a minute
    python examples/names.py --model bigram           # counting, and gradient descent finding it
    python examples/names.py --model gru --max-steps 10000 --sample 20
    python examples/names.py --text words.txt         # your own items, one a line
    python examples/names.py --save run.npz           # ... then --resume run.npz goes on
    python -m tinygrad_edu.names                      # the same file, pip-installed

Every word is one training example: the model reads `.emma` and must predict `emma.` at
each position (`.` is the end token, which also starts a word). The loss is the mean
negative log-likelihood per character, in nats, over 1,000 held-out words (10% of the
words if there are fewer than 10,000). The last line printed is the test loss.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import Tensor, datasets, nn, no_grad, optim
from tinygrad_edu import functional as F
from tinygrad_edu.digits import example

flagship = example("mnist")  # the digit example: its usage line and help formatter

MODELS = ("bigram", "mlp", "rnn", "gru", "lstm", "transformer")
# The default run: the MLP reaches ≤ 2.15 on the names in under a minute on a laptop core.
DEFAULT_MODEL, DEFAULT_STEPS = "mlp", 4000
# Zero-initialised bigram logits need to travel far (log-probabilities of −5 and below):
# 5e-4 per step would take tens of thousands of steps, so the bigram takes bigger ones.
DEFAULT_LR = {"bigram": 0.01}


# ----------------------------------------------------------------------------- the models
# Each maps indices (batch, T) to logits (batch, T, vocabulary): a prediction of the next
# character at every position, reading only the positions before it.

class Bigram(nn.Module):
    """A table: the logits of the next character given only the current one."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.logits = nn.Parameter(np.zeros((vocab_size, vocab_size), np.float32))

    def forward(self, idx: Tensor) -> Tensor:
        return F.embedding(idx, self.logits)  # row idx of the table, at every position


class MLP(nn.Module):
    """Bengio et al. 2003: the embeddings of the `block_size` characters before each
    position, side by side, through one tanh layer. Before a word's start it reads a
    "blank" token (index vocab_size), as makemore's."""

    def __init__(self, vocab_size: int, block_size: int, n_embd: int = 64,
                 n_hidden: int = 64) -> None:
        super().__init__()
        self.block_size, self.blank = block_size, vocab_size
        self.wte = nn.Embedding(vocab_size + 1, n_embd)  # (+1: the blank token)
        self.mlp = nn.Sequential(nn.Linear(block_size * n_embd, n_hidden), nn.Tanh(),
                                 nn.Linear(n_hidden, vocab_size))

    def forward(self, idx: Tensor) -> Tensor:
        batch, T = idx.shape
        blank = self.wte(Tensor(np.full((batch, self.block_size), self.blank)))
        emb = tg.cat([blank, self.wte(idx)], dim=1)  # (batch, block_size + T, n_embd)
        # position t reads the block_size embeddings before it, the nearest first
        windows = [emb[:, self.block_size - k:self.block_size - k + T]
                   for k in range(self.block_size)]
        return self.mlp(tg.cat(windows, dim=-1))


class Recurrent(nn.Module):
    """An RNN, GRU or LSTM over the embeddings, starting from a learned hidden state."""

    def __init__(self, kind: str, vocab_size: int, n_embd: int = 64, n_hidden: int = 64
                 ) -> None:
        super().__init__()
        layer = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}[kind]
        self.kind = kind
        self.start = nn.Parameter(np.zeros((1, 1, n_hidden), np.float32))
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.rnn = layer(n_embd, n_hidden, batch_first=True)
        self.lm_head = nn.Linear(n_hidden, vocab_size)

    def forward(self, idx: Tensor) -> Tensor:
        h0 = self.start.expand(1, idx.shape[0], self.start.shape[-1])
        state = (h0, tg.zeros_like(h0)) if self.kind == "lstm" else h0
        out, _ = self.rnn(self.wte(idx), state)  # (batch, T, n_hidden)
        return self.lm_head(out)


class CausalSelfAttention(nn.Module):
    """Multi-head attention where each position sees itself and the positions before."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.n_head = n_head
        self.c_attn = nn.Linear(n_embd, 3 * n_embd)  # query, key, value at once
        self.c_proj = nn.Linear(n_embd, n_embd)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.reshape(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))  # (B, heads, T, head size)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """A transformer block: attention, then a position-wise MLP, each around a residual."""

    def __init__(self, n_embd: int, n_head: int) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd)
        self.attn = CausalSelfAttention(n_embd, n_head)
        self.ln_2 = nn.LayerNorm(n_embd)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd), nn.GELU(approximate="tanh"),
                                 nn.Linear(4 * n_embd, n_embd))

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """A small GPT: token and position embeddings, `n_layer` blocks, a final LayerNorm."""

    def __init__(self, vocab_size: int, block_size: int, n_layer: int = 4, n_embd: int = 64,
                 n_head: int = 4) -> None:
        super().__init__()
        self.wte = nn.Embedding(vocab_size, n_embd)
        self.wpe = nn.Embedding(block_size, n_embd)
        self.blocks = nn.Sequential(*[Block(n_embd, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(n_embd)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False)

    def forward(self, idx: Tensor) -> Tensor:
        positions = Tensor(np.arange(idx.shape[1]))
        x = self.wte(idx) + self.wpe(positions)
        return self.lm_head(self.ln_f(self.blocks(x)))


def build_model(kind: str, vocab_size: int, block_size: int, args: argparse.Namespace
                ) -> nn.Module:
    """The model named by --model, with makemore's sizes unless the options change them."""
    if kind == "bigram":
        return Bigram(vocab_size)
    if kind == "mlp":
        return MLP(vocab_size, block_size, args.n_embd, args.n_hidden)
    if kind == "transformer":
        return Transformer(vocab_size, block_size, args.n_layer, args.n_embd, args.n_head)
    return Recurrent(kind, vocab_size, args.n_embd, args.n_hidden)


# ------------------------------------------------------------------------------ the data

class Words:
    """Words as rows of indices: x = `.emma` and y = `emma.`, padded to `block_size`
    (x with the end token, y with −1, which the loss ignores)."""

    def __init__(self, words: list[str], vocabulary: datasets.CharVocabulary,
                 block_size: int) -> None:
        self.words = words
        self.x = np.zeros((len(words), block_size), np.int64)
        self.y = np.full((len(words), block_size), -1, np.int64)
        for row, word in enumerate(words):
            ids = vocabulary.encode(word)
            self.x[row, 1:len(ids) + 1] = ids
            self.y[row, :len(ids) + 1] = [*ids, vocabulary.END]

    def __len__(self) -> int:
        return len(self.words)


def load_words(args: argparse.Namespace) -> tuple[list[str], str]:
    """The items and a sentence saying where they came from."""
    if args.text is not None:
        return datasets.text_lines(args.text), f"{args.text}"
    return datasets.names(), "the 32,033 names shipped in the package"


def count_model_nll(train: list[str], test: list[str], vocabulary: datasets.CharVocabulary
                    ) -> float:
    """The bigram model by counting: P(next | current) = (count + 1) / row total, and its
    mean negative log-likelihood per character over `test` (end token included)."""
    def pairs(words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(current, next) indices of every bigram of the words, `.e`, `em`, … `a.`"""
        ends = [vocabulary.END]
        pair_list = [pair for word in words
                     for pair in itertools.pairwise(ends + vocabulary.encode(word) + ends)]
        current, following = np.array(pair_list).T
        return current, following

    counts = np.ones((len(vocabulary), len(vocabulary)))  # +1: no probability is zero
    np.add.at(counts, pairs(train), 1)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[pairs(test)].mean())


# -------------------------------------------------------------------------- the options

def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its help text."""
    parser = argparse.ArgumentParser(prog=flagship.command("names.py"),
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=flagship.HelpFormatter)
    parser.add_argument("--model", choices=MODELS, default=DEFAULT_MODEL, help="which model")
    parser.add_argument("--max-steps", type=int, default=None,
                        help=f"gradient steps (default: {DEFAULT_STEPS}, or until "
                        "--time-limit if that is given)")
    parser.add_argument("--time-limit", type=float, default=None,
                        help="stop training after this many seconds")
    parser.add_argument("--batch-size", type=int, default=32, help="words per step")
    parser.add_argument("--lr", type=float, default=None,
                        help="AdamW's learning rate (default: 5e-4, 0.01 for the bigram)")
    parser.add_argument("--weight-decay", type=float, default=0.01, help="AdamW's")
    parser.add_argument("--clip", type=float, default=None,
                        help="clip the gradients' total norm to this (default: no clipping)")
    parser.add_argument("--n-embd", type=int, default=64, help="embedding width")
    parser.add_argument("--n-hidden", type=int, default=64,
                        help="hidden width (mlp, rnn, gru, lstm)")
    parser.add_argument("--n-layer", type=int, default=4, help="transformer blocks")
    parser.add_argument("--n-head", type=int, default=4, help="transformer heads")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the split, the starting weights, batches and samples")
    parser.add_argument("--eval-every", type=int, default=500,
                        help="print the test loss every this many steps")
    parser.add_argument("--sample", type=int, default=10, help="names to sample at the end")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature: below 1 safer, above 1 wilder")
    parser.add_argument("--text", type=Path,
                        help="train on this UTF-8 file, one item a line, instead of the names")
    parser.add_argument("--save", type=Path,
                        help="write a checkpoint (model, optimizer, step) here at the end")
    parser.add_argument("--resume", type=Path, help="go on from a checkpoint of --save")
    parser.add_argument("--no-jit", dest="jit", action="store_false",
                        help="run every step eagerly (by default the step is replayed with "
                        "tg.jit: the same numbers, faster)")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked before any training starts (a bad one exits with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = argument_problem(args)
    if problem:
        parser.error(problem)
    if args.lr is None:
        args.lr = DEFAULT_LR.get(args.model, 5e-4)
    if args.max_steps is None and args.time_limit is None:
        args.max_steps = DEFAULT_STEPS
    return args


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, or None."""
    positive = {"--max-steps": args.max_steps, "--batch-size": args.batch_size,
                "--eval-every": args.eval_every, "--n-embd": args.n_embd,
                "--n-hidden": args.n_hidden, "--n-layer": args.n_layer,
                "--n-head": args.n_head}
    for option, value in positive.items():
        if value is not None and value < 1:
            return f"{option} must be at least 1, got {value}"
    if args.sample < 0:
        return f"--sample must be 0 or more, got {args.sample}"
    for option, value in (("--lr", args.lr), ("--time-limit", args.time_limit),
                          ("--temperature", args.temperature), ("--clip", args.clip)):
        if value is not None and not (math.isfinite(value) and value > 0):
            return f"{option} must be a positive number, got {value}"
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        return f"--weight-decay must be 0 or more, got {args.weight_decay}"
    if args.model == "transformer" and args.n_embd % args.n_head:
        return f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head}"
    if args.resume is not None and not args.resume.is_file():
        return f"--resume {args.resume}: no such file"
    if args.save is not None and (args.save.is_dir() or not args.save.parent.is_dir()):
        return f"--save {args.save}: name a file in an existing folder"
    if args.text is not None:
        try:
            datasets.text_lines(args.text)
        except datasets.DatasetError as err:
            return f"--text: {err}"
    return None


# ------------------------------------------------------------------------ the training

def make_train_step(model: nn.Module, optimizer: optim.Optimizer, clip: float | None,
                    use_jit: bool) -> Any:
    """One AdamW step on a batch (x, y); recorded once and replayed with `use_jit`."""

    def train_step(x: Tensor, y: Tensor) -> Tensor:  # x (batch, T), y (batch·T,)
        logits = model(x)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y, ignore_index=-1)
        optimizer.zero_grad()
        loss.backward()
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)
        optimizer.step()
        return loss

    return tg.jit(train_step) if use_jit else train_step


@no_grad()
def evaluate(model: nn.Module, data: Words, batch_size: int = 500) -> float:
    """Mean negative log-likelihood per character (nats) over all the words of `data`."""
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        x, y = data.x[start:start + batch_size], data.y[start:start + batch_size]
        logits = model(Tensor(x))
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor(y.reshape(-1)),
                                 ignore_index=-1, reduction="sum").item()
        count += int((y != -1).sum())
    return total / count


@no_grad()
def sample(model: nn.Module, count: int, block_size: int, vocabulary: datasets.CharVocabulary,
           temperature: float, rng: np.random.Generator) -> list[str]:
    """`count` new words, one character at a time from the end token, each drawn from the
    model's softmax(logits / temperature); a word ends at the end token."""
    idx = np.zeros((count, 1), np.int64)
    for _ in range(block_size - 1):
        logits = model(Tensor(idx)).data[:, -1, :] / temperature
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        cumulative = probs.cumsum(axis=1)
        draws = (rng.random((count, 1)) * cumulative[:, -1:] > cumulative).sum(axis=1)
        idx = np.concatenate([idx, np.minimum(draws, probs.shape[1] - 1)[:, None]], axis=1)
    return [vocabulary.decode(row[1:]) for row in idx]


def progress(total: int | None) -> Any:
    """A tqdm bar on a terminal (if tqdm is installed), else None."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, leave=False, unit="step", disable=not sys.stderr.isatty())


def checkpoint(model: nn.Module, optimizer: optim.Optimizer, step: int, kind: str,
               rng: np.random.Generator) -> dict[str, Any]:
    """Everything a bit-for-bit resume needs: weights, AdamW's moments, the step and the
    state of the batch sampler."""
    return {"model": kind, "weights": model.state_dict(), "optimizer": optimizer.state_dict(),
            "step": step, "rng": rng.bit_generator.state}


def resume(path: Path, model: nn.Module, optimizer: optim.Optimizer, kind: str,
           rng: np.random.Generator) -> int:
    """Load a checkpoint of `checkpoint` into the model, optimizer and sampler; its step."""
    saved = tg.load(path)
    if saved.get("model") != kind:
        raise SystemExit(f"--resume {path}: a checkpoint of a {saved.get('model')} model, "
                         f"not of --model {kind}")
    model.load_state_dict(saved["weights"])
    optimizer.load_state_dict(saved["optimizer"])
    rng.bit_generator.state = saved["rng"]
    return int(saved["step"])


def train(args: argparse.Namespace, model: nn.Module, train_set: Words, test_set: Words,
          rng: np.random.Generator) -> tuple[int, float]:
    """The loop shared by every model; returns the steps done and the seconds spent."""
    optimizer = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay,
                            betas=(0.9, 0.99), eps=1e-8)  # makemore's betas
    step = resume(args.resume, model, optimizer, args.model, rng) if args.resume else 0
    train_step = make_train_step(model, optimizer, args.clip, args.jit)
    end = step + args.max_steps if args.max_steps is not None else None
    bar, started = progress(args.max_steps), time.perf_counter()
    while end is None or step < end:
        if args.time_limit is not None and time.perf_counter() - started >= args.time_limit:
            break
        rows = rng.integers(0, len(train_set), args.batch_size)
        loss = train_step(Tensor(train_set.x[rows]), Tensor(train_set.y[rows].ravel()))
        step += 1
        if bar is not None:
            bar.update()
        if step % args.eval_every == 0:
            message = (f"step {step:6d}  train loss {loss.item():.4f}  "
                       f"test loss {evaluate(model, test_set):.4f}  "
                       f"{time.perf_counter() - started:6.1f} s")
            print(message if bar is None else f"\r{message}", flush=True)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - started
    if args.save is not None:
        tg.save(checkpoint(model, optimizer, step, args.model, rng), args.save)
        print(f"checkpoint saved to {args.save.resolve()}")
    return step, seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and test as the options say; returns the test loss, steps and seconds."""
    args = parse_args(argv)
    words, source = load_words(args)
    vocabulary = datasets.CharVocabulary(words)
    block_size = max(len(word) for word in words) + 1  # the longest word and its end token
    train_words, test_words = datasets.split_words(words, seed=args.seed)
    train_set, test_set = (Words(w, vocabulary, block_size) for w in (train_words, test_words))
    tg.manual_seed(args.seed)  # the starting weights
    model = build_model(args.model, len(vocabulary), block_size, args)
    print(f"{source}: {len(train_words):,} to train, {len(test_words):,} held out; "
          f"{len(vocabulary)} symbols, block size {block_size}\n"
          f"{args.model}: {model.num_parameters():,} parameters, AdamW lr {args.lr}, "
          f"weight decay {args.weight_decay}, batch {args.batch_size}")
    rng = np.random.default_rng(args.seed)  # batches (saved with a checkpoint)
    steps, seconds = train(args, model, train_set, test_set, rng)
    test_loss = evaluate(model, test_set)
    result: dict[str, Any] = {"test_loss": test_loss, "steps": steps, "seconds": seconds}
    if args.model == "bigram":
        result["count_loss"] = count_model_nll(train_words, test_words, vocabulary)
        print(f"bigram by counting (counts + 1): test loss {result['count_loss']:.4f}; "
              f"by gradient descent: {test_loss:.4f}")
    if args.sample:
        names = sample(model, args.sample, block_size, vocabulary, args.temperature,
                       np.random.default_rng(args.seed + 1))
        known = set(train_words)
        print(f"{args.sample} samples (temperature {args.temperature:g}), "
              f"{sum(name in known for name in names)} of them in the training set:")
        print("  " + " ".join(name or "(empty)" for name in names))
        result["samples"] = names
    print(f"test loss: {test_loss:.4f} after {steps} steps ({seconds:.1f} s)")
    return result


if __name__ == "__main__":
    main()
