"""Language models of names, makemore's way: from a table of bigram counts to a small GPT,
each model a short nn.Module written as a PyTorch user writes it, one training loop for all.
Runs offline on the 32,033 names shipped in the package (or any file, one item a line).

    python examples/names.py                          # the default: an MLP, about a minute
    python examples/names.py --model bigram           # counting, and gradient descent finding it
    python examples/names.py --model gru --max-steps 10000 --sample 20
    python examples/names.py --model bigram mlp transformer   # several, one figure
    python examples/names.py --text words.txt         # your own items, one a line
    python examples/names.py --text play.txt --stream --block-size 64   # running text
    python examples/names.py --save run.npz           # ... then --resume run.npz goes on
    python -m tinygrad_edu.names                      # the same file, pip-installed

Every word is one training example: the model reads `.emma` and must predict `emma.` at
each position (`.` is the end token, which also starts a word). The loss is the mean
negative log-likelihood per character, in nats, over 1,000 held-out words (10% of the
words if there are fewer than 10,000). With --stream the text is one long sequence
instead: the model reads windows of --block-size characters, the last 10% held out. The
last line printed is the test loss.

With matplotlib it saves a figure (out/names_training.png unless --figure names another
path): the test loss of each model run over the steps, and the diagnostics of the lesson
on activations and gradients (tinygrad_edu.viz.layer_stats): histograms of each watched
layer's outputs and of their gradients after training, and the log10 update-to-data
ratio of each weight matrix at every step, beside the rule of thumb (1e-3).
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import Tensor, datasets, nn, no_grad, optim, viz
from tinygrad_edu import functional as F
from tinygrad_edu.digits import example
from tinygrad_edu.utils import atomic_write_bytes

flagship = example("mnist")  # the digit example: its usage line and help formatter

MODELS = ("bigram", "mlp", "rnn", "gru", "lstm", "transformer")
# The default run: the MLP reaches ≤ 2.15 on the names in under a minute on a laptop core.
DEFAULT_MODEL, DEFAULT_STEPS = "mlp", 4000
# Zero-initialised bigram logits need to travel far (log-probabilities of −5 and below):
# 5e-4 per step would take tens of thousands of steps, so the bigram takes bigger ones.
DEFAULT_LR = {"bigram": 0.01}
DEFAULT_STREAM_BLOCK = 32  # characters a model reads at once in running text (--stream)
FIGURE = flagship.OUT / "names_training.png"


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

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """`size` words drawn at random (with replacement): x (size, T), y (size·T,)."""
        rows = rng.integers(0, len(self), size)
        return self.x[rows], self.y[rows].ravel()

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(current, next) indices at every position the loss counts: `.e`, `em`, … `a.`"""
        return scored_pairs(self)


def scored_pairs(part: Words | Stream) -> tuple[np.ndarray, np.ndarray]:
    """(current, next) indices at every position the test loss scores in `part`."""
    counted = part.y != -1
    return part.x[counted], part.y[counted]


class Stream:
    """Running text as one sequence of indices: a batch is windows of `block_size`
    characters at random places, x = text[i : i+T] and y = text[i+1 : i+T+1]. `x` and `y`
    cut the whole text into windows end to end, for the test loss."""

    def __init__(self, ids: np.ndarray, block_size: int) -> None:
        self.ids, self.block_size = ids, block_size
        count = (len(ids) - 1) // block_size
        self.x = ids[:count * block_size].reshape(count, block_size)
        self.y = ids[1:count * block_size + 1].reshape(count, block_size)
        self.offsets = np.arange(block_size)

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        """`size` windows starting at random characters: x (size, T), y (size·T,)."""
        starts = rng.integers(0, len(self.ids) - self.block_size, size)[:, None] + self.offsets
        return self.ids[starts], self.ids[starts + 1].ravel()

    def pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(current, next) indices of every two characters in a row."""
        return self.ids[:-1], self.ids[1:]


class Data:
    """What every model of a run trains and is tested on: where it came from (for the
    first line printed), the vocabulary, the block size, the two parts, and (items only)
    the words of each part, which samples are checked against."""

    def __init__(self, source: str, vocabulary: datasets.CharVocabulary, block_size: int,
                 train: Words | Stream, test: Words | Stream,
                 train_words: list[str] | None = None, test_words: list[str] | None = None
                 ) -> None:
        self.source, self.vocabulary, self.block_size = source, vocabulary, block_size
        self.train, self.test = train, test
        self.train_words, self.test_words = train_words or [], test_words or []

    @property
    def stream(self) -> bool:
        """Whether this is running text (--stream) rather than items."""
        return isinstance(self.train, Stream)

    def describe(self) -> str:
        """A line: how much trains, how much is held out, symbols, block size."""
        unit = "characters" if self.stream else ""
        held = "held out (the last 10%)" if self.stream else "held out"
        return (f"{self.source}: {len(self.train.ids) if self.stream else len(self.train):,} "
                f"{unit + ' ' if unit else ''}to train, "
                f"{len(self.test.ids) if self.stream else len(self.test):,} {held}; "
                f"{len(self.vocabulary)} symbols, block size {self.block_size}")


class DataError(ValueError):
    """The data and the options do not fit together (reported before any training)."""


def load_words(args: argparse.Namespace) -> tuple[list[str], str]:
    """The items and a sentence saying where they came from."""
    if args.text is not None:
        return datasets.text_lines(args.text), f"{args.text}"
    return datasets.names(), "the 32,033 names shipped in the package"


def load_data(args: argparse.Namespace) -> Data:
    """The items (or the running text with --stream), split, encoded and cut to the
    block size; a block size that does not fit raises DataError saying why."""
    if args.stream:
        return load_stream(args)
    words, source = load_words(args)
    vocabulary = datasets.CharVocabulary(words)
    longest = max(words, key=len)
    block_size = len(longest) + 1  # the longest word and its end token
    if args.block_size is not None and args.block_size != block_size:
        relation = "larger than" if args.block_size > block_size else "shorter than"
        raise DataError(
            f"--block-size {args.block_size} is {relation} the longest item + its end token "
            f"({block_size}: {longest!r}); items are read whole, one a row, so the block "
            "size is that (leave --block-size out), or add --stream to read the file as "
            "running text cut into blocks")
    train_words, test_words = datasets.split_words(words, seed=args.seed)
    return Data(source, vocabulary, block_size, Words(train_words, vocabulary, block_size),
                Words(test_words, vocabulary, block_size), train_words, test_words)


def load_stream(args: argparse.Namespace) -> Data:
    """--text FILE --stream: the whole text, newlines included, the last 10% held out."""
    text = args.text.read_text(encoding="utf-8")  # (argument_problem read it already)
    used = set(text)
    end = next(chr(code) for code in range(0x110000) if chr(code) not in used)
    vocabulary = datasets.CharVocabulary([text], end_token=end)  # (end: never in the text)
    ids = np.array(vocabulary.encode(text), np.int64)
    cut = len(ids) - max(1, len(ids) // 10)
    block_size = DEFAULT_STREAM_BLOCK if args.block_size is None else args.block_size
    for part, count in (("held-out text (the last 10%)", len(ids) - cut),
                        ("training text (the first 90%)", cut)):
        if block_size + 1 > count:
            raise DataError(
                f"--block-size {block_size} is larger than the {part} of {args.text}: "
                f"{count:,} characters, and a block needs block size + 1 (the characters "
                f"to read and the next one of each); give a block size of at most "
                f"{max(1, min(cut, len(ids) - cut) - 1)}, or a longer text")
    return Data(f"{args.text} as running text", vocabulary, block_size,
                Stream(ids[:cut], block_size), Stream(ids[cut:], block_size))


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

    return count_model_nll_of_pairs(pairs(train), pairs(test), len(vocabulary))


def count_model_nll_of_pairs(train: tuple[np.ndarray, np.ndarray],
                             test: tuple[np.ndarray, np.ndarray], size: int) -> float:
    """`count_model_nll` from (current, next) index pairs: counted in `train`, scored on
    `test` (running text has pairs but no words)."""
    counts = np.ones((size, size))  # +1: no probability is zero
    np.add.at(counts, train, 1)
    log_p = np.log(counts / counts.sum(axis=1, keepdims=True))
    return float(-log_p[test].mean())


# -------------------------------------------------------------------------- the options

def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its help text."""
    parser = argparse.ArgumentParser(prog=flagship.command("names.py"),
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=flagship.HelpFormatter)
    parser.add_argument("--model", dest="models", choices=MODELS, nargs="+",
                        default=None, metavar="MODEL",
                        help=f"which model: {', '.join(MODELS)}; name several to train each "
                        "in turn and draw their test losses together (default: mlp)")
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
    parser.add_argument("--sample", type=int, default=10,
                        help="names to sample at the end (with --stream: passages)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="sampling temperature: below 1 safer, above 1 wilder")
    parser.add_argument("--text", type=Path,
                        help="train on this UTF-8 file, one item a line, instead of the names")
    parser.add_argument("--stream", action="store_true",
                        help="read --text as running text (newlines included) cut into "
                        "blocks of --block-size characters, not as one item a line")
    parser.add_argument("--block-size", type=int, default=None,
                        help="characters a model reads at once (default: the longest item "
                        f"+ 1; with --stream, {DEFAULT_STREAM_BLOCK})")
    parser.add_argument("--prompt", default=None,
                        help="start every sample with these characters (a name's beginning; "
                        "with --stream, the text to continue)")
    parser.add_argument("--save", type=Path,
                        help="write a checkpoint (model, optimizer, step) here at the end")
    parser.add_argument("--resume", type=Path, help="go on from a checkpoint of --save")
    parser.add_argument("--no-jit", dest="jit", action="store_false",
                        help="run every step eagerly (by default the step is replayed with "
                        "tg.jit: the same numbers, faster)")
    parser.add_argument("--figure", type=Path, default=FIGURE,
                        help="where to save the figure (needs matplotlib); a relative path "
                        "is under the folder you run from")
    parser.add_argument("--no-figure", dest="draw", action="store_false",
                        help="no figure, and no diagnostics recorded for it")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked before any training starts (a bad one exits with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.models = args.models or [DEFAULT_MODEL]
    args.prompt = args.prompt or ""
    problem = argument_problem(args)
    if problem:
        parser.error(problem)
    args.model = args.models[0]  # (one model at a time from here on: see main)
    if args.max_steps is None and args.time_limit is None:
        args.max_steps = DEFAULT_STEPS
    return args


def learning_rate(args: argparse.Namespace, kind: str) -> float:
    """--lr, or the model's default."""
    return args.lr if args.lr is not None else DEFAULT_LR.get(kind, 5e-4)


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, or None."""
    positive = {"--max-steps": args.max_steps, "--batch-size": args.batch_size,
                "--eval-every": args.eval_every, "--n-embd": args.n_embd,
                "--n-hidden": args.n_hidden, "--n-layer": args.n_layer,
                "--n-head": args.n_head, "--block-size": args.block_size}
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
    if "transformer" in args.models and args.n_embd % args.n_head:
        return f"--n-embd {args.n_embd} must be divisible by --n-head {args.n_head}"
    if len(args.models) > 1 and (args.save or args.resume):
        return (f"--save and --resume take one --model at a time, got {len(args.models)} "
                f"({' '.join(args.models)})")
    if args.resume is not None and not args.resume.is_file():
        return f"--resume {args.resume}: no such file"
    if args.save is not None and (args.save.is_dir() or not args.save.parent.is_dir()):
        return f"--save {args.save}: name a file in an existing folder"
    if args.draw and args.figure != FIGURE:  # (out/ itself is made on demand)
        problem = flagship.unwritable(args.figure)
        if problem:
            return f"--figure {args.figure}: {problem}"
    if args.stream and args.text is None:
        return "--stream reads running text: give the file with --text FILE"
    if args.text is not None:
        try:
            datasets.text_lines(args.text)
        except datasets.DatasetError as err:
            if args.stream and "holds no items" in str(err):
                return (f"--text {args.text}: the file is empty (or only whitespace); "
                        "--stream needs running text to cut into blocks")
            return f"--text: {err}"
    return None


def data_problem(args: argparse.Namespace, data: Data) -> str | None:
    """What does not fit between the options and the data loaded, or None."""
    unknown = sorted(set(args.prompt) - set(data.vocabulary.chars))
    if unknown:
        return (f"--prompt {args.prompt!r}: {', '.join(repr(c) for c in unknown)} "
                f"{'is' if len(unknown) == 1 else 'are'} not in the vocabulary of "
                f"{data.source} ({''.join(data.vocabulary.chars)!r}); a model can only be "
                "given characters it was trained on")
    room = data.block_size - (0 if data.stream else 1)  # (items: a start token first)
    if len(args.prompt) >= room:
        return (f"--prompt is {len(args.prompt)} characters, but the block size is "
                f"{data.block_size}: leave room for at least one new character")
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
           temperature: float, rng: np.random.Generator, prompt: str = "",
           stream: bool = False) -> list[str]:
    """`count` new words, one character at a time from the end token (then `prompt`), each
    drawn from the model's softmax(logits / temperature); a word ends at the end token.
    With `stream`, `count` passages of `block_size` new characters continuing `prompt`
    (a newline when it is empty and the text has one), the model reading the last
    `block_size` characters."""
    if stream:
        start = prompt or ("\n" if "\n" in vocabulary.stoi else vocabulary.chars[0])
        first, steps = vocabulary.encode(start), block_size
    else:
        first, steps = [vocabulary.END, *vocabulary.encode(prompt)], block_size - 1 - len(prompt)
    idx = np.tile(np.array(first, np.int64), (count, 1))
    for _ in range(steps):
        logits = model(Tensor(idx[:, -block_size:])).data[:, -1, :] / temperature
        if stream:  # the end token never occurs in running text: never drawn
            logits[:, vocabulary.END] = -np.inf
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        cumulative = probs.cumsum(axis=1)
        draws = (rng.random((count, 1)) * cumulative[:, -1:] > cumulative).sum(axis=1)
        idx = np.concatenate([idx, np.minimum(draws, probs.shape[1] - 1)[:, None]], axis=1)
    if stream:
        return ["".join(vocabulary.itos[i] for i in row) for row in idx]
    return [vocabulary.decode(row[1:]) for row in idx]


def progress(total: int | None) -> Any:
    """A tqdm bar on a terminal (if tqdm is installed), else None."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, leave=False, unit="step", disable=not sys.stderr.isatty())


def checkpoint(model: nn.Module, optimizer: optim.Optimizer, step: int, kind: str,
               rng: np.random.Generator, vocabulary: datasets.CharVocabulary | None = None
               ) -> dict[str, Any]:
    """Everything a bit-for-bit resume needs: weights, AdamW's moments, the step and the
    state of the batch sampler; and the symbols the model reads, to check a resume's data."""
    saved = {"model": kind, "weights": model.state_dict(), "optimizer": optimizer.state_dict(),
             "step": step, "rng": rng.bit_generator.state}
    if vocabulary is not None:
        saved["vocabulary"] = symbols(vocabulary)
    return saved


def symbols(vocabulary: datasets.CharVocabulary) -> str:
    """The vocabulary as one string, index 0 (the end token) first."""
    return "".join(vocabulary.itos[i] for i in range(len(vocabulary)))


def resume(path: Path, model: nn.Module, optimizer: optim.Optimizer, kind: str,
           rng: np.random.Generator, vocabulary: datasets.CharVocabulary | None = None) -> int:
    """Load a checkpoint of `checkpoint` into the model, optimizer and sampler; its step.
    A checkpoint of another model, or of data with other characters, is refused."""
    saved = tg.load(path)
    if saved.get("model") != kind:
        raise SystemExit(f"--resume {path}: a checkpoint of a {saved.get('model')} model, "
                         f"not of --model {kind}")
    if vocabulary is not None and "vocabulary" in saved \
            and str(saved["vocabulary"]) != symbols(vocabulary):
        theirs, ours = set(str(saved["vocabulary"])[1:]), set(vocabulary.chars)
        outside = "".join(sorted(ours - theirs))
        raise SystemExit(
            f"--resume {path}: the checkpoint's model reads {len(theirs) + 1} symbols "
            f"({str(saved['vocabulary'])[1:]!r} and the end token), this data has "
            f"{len(vocabulary)}"
            + (f", {outside!r} of them outside those" if outside else
               f" ({''.join(vocabulary.chars)!r})")
            + "; resume with the --text (and --stream) it was trained on")
    model.load_state_dict(saved["weights"])
    optimizer.load_state_dict(saved["optimizer"])
    rng.bit_generator.state = saved["rng"]
    return int(saved["step"])


class Run:
    """One model's training: what the figure and the summary need — the steps and seconds,
    the test loss at each evaluation (step, loss), the lesson's diagnostics (with the
    figure) and, for the bigram, the count model's test loss."""

    def __init__(self, kind: str, stats: viz.LayerStats | None = None) -> None:
        self.kind, self.stats = kind, stats
        self.steps, self.seconds = 0, 0.0
        self.curve: list[tuple[int, float]] = []
        self.count_loss: float | None = None


# Which layers' outputs the figure's histograms show: the nonlinearities, as the lesson's
# (an MLP's tanh, a transformer's GELUs, a recurrent layer's hidden states); the bigram has
# no layer inside: its logits.
WATCHED = (nn.Tanh, nn.GELU, nn.RNN, nn.GRU, nn.LSTM)


def diagnostics(model: nn.Module) -> viz.LayerStats:
    """A recorder of the activations-and-gradients lesson for the watched layers."""
    kinds = {type(m) for m in model.modules()}
    return viz.layer_stats(model, WATCHED if any(issubclass(k, WATCHED) for k in kinds)
                           else [""])


def train(args: argparse.Namespace, model: nn.Module, train_set: Words | Stream,
          test_set: Words | Stream, rng: np.random.Generator, run: Run | None = None,
          vocabulary: datasets.CharVocabulary | None = None) -> tuple[int, float]:
    """The loop shared by every model; returns the steps done and the seconds spent. With
    `run`, records the test loss at each evaluation in `run.curve` and, if `run.stats`,
    the update-to-data ratio of the steps (each measured as a whole, jitted or not)."""
    kind = run.kind if run is not None else args.model
    optimizer = optim.AdamW(model.parameters(), lr=learning_rate(args, kind),
                            weight_decay=args.weight_decay,
                            betas=(0.9, 0.99), eps=1e-8)  # makemore's betas
    step = resume(args.resume, model, optimizer, kind, rng, vocabulary) if args.resume else 0
    train_step = make_train_step(model, optimizer, args.clip, args.jit)
    stats = run.stats if run is not None else None
    # the update of every step up to 500 steps, else of 500 spread evenly (measuring one
    # costs a copy of every weight: 8% of the MLP's step)
    every = max(1, (args.max_steps or 5000) // 500)
    if run is not None:
        run.curve.append((step, evaluate(model, test_set)))
    end = step + args.max_steps if args.max_steps is not None else None
    bar, started = progress(args.max_steps), time.perf_counter()
    while end is None or step < end:
        if args.time_limit is not None and time.perf_counter() - started >= args.time_limit:
            break
        x, y = train_set.batch(rng, args.batch_size)
        if stats is not None and (step + 1) % every == 0:
            with stats.measure_update(step + 1):
                loss = train_step(Tensor(x), Tensor(y))
        else:
            loss = train_step(Tensor(x), Tensor(y))
        step += 1
        if bar is not None:
            bar.update()
        if step % args.eval_every == 0:
            test_loss = evaluate(model, test_set)
            if run is not None:
                run.curve.append((step, test_loss))
            message = (f"step {step:6d}  train loss {loss.item():.4f}  "
                       f"test loss {test_loss:.4f}  "
                       f"{time.perf_counter() - started:6.1f} s")
            print(message if bar is None else f"\r{message}", flush=True)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - started
    if args.save is not None:
        tg.save(checkpoint(model, optimizer, step, kind, rng, vocabulary), args.save)
        print(f"checkpoint saved to {args.save.resolve()}")
    return step, seconds


def capture_layers(model: nn.Module, stats: viz.LayerStats, data: Data, seed: int) -> None:
    """One eager forward and backward on 32 training items (drawn with a generator of
    their own: the training's is left as it was) with the watched layers recorded; the
    gradients are then cleared. Items are cut to a common length, all kept by those drawn:
    the padding after a word would add outputs nobody reads and gradients of exactly 0."""
    rng = np.random.default_rng(seed)
    if data.stream:
        x, y = data.train.batch(rng, 32)
    else:
        assert isinstance(data.train, Words)
        lengths = (data.train.y != -1).sum(axis=1)  # characters + end token
        keep = int(np.median(lengths))
        rows = rng.choice(np.flatnonzero(lengths >= keep), 32)
        x, y = data.train.x[rows, :keep], data.train.y[rows, :keep].ravel()
    with stats.capture():
        logits = model(Tensor(x))
        F.cross_entropy(logits.reshape(-1, logits.shape[-1]), Tensor(y),
                        ignore_index=-1).backward()
    model.zero_grad()


def run_model(args: argparse.Namespace, kind: str, data: Data) -> tuple[Run, dict[str, Any]]:
    """Build, train, test and sample one model; prints all but the last line."""
    tg.manual_seed(args.seed)  # the starting weights
    model = build_model(kind, len(data.vocabulary), data.block_size, args)
    print(f"{kind}: {model.num_parameters():,} parameters, AdamW lr {learning_rate(args, kind)}, "
          f"weight decay {args.weight_decay}, batch {args.batch_size}")
    run = Run(kind, stats=diagnostics(model) if args.draw else None)
    rng = np.random.default_rng(args.seed)  # batches (saved with a checkpoint)
    run.steps, run.seconds = train(args, model, data.train, data.test, rng, run,
                                   data.vocabulary)
    test_loss = evaluate(model, data.test)
    if run.curve[-1][0] != run.steps:
        run.curve.append((run.steps, test_loss))
    if run.stats is not None:
        capture_layers(model, run.stats, data, args.seed + 2)
    result: dict[str, Any] = {"test_loss": test_loss, "steps": run.steps,
                              "seconds": run.seconds, "curve": run.curve}
    if kind == "bigram":
        run.count_loss = result["count_loss"] = count_model_nll_of_pairs(
            data.train.pairs(), scored_pairs(data.test), len(data.vocabulary))
        print(f"bigram by counting (counts + 1): test loss {result['count_loss']:.4f}; "
              f"by gradient descent: {test_loss:.4f}")
    if args.sample:
        texts = sample(model, args.sample, data.block_size, data.vocabulary, args.temperature,
                       np.random.default_rng(args.seed + 1), args.prompt, data.stream)
        if data.stream:
            print(f"{args.sample} samples of {data.block_size} characters (temperature "
                  f"{args.temperature:g}; ⏎ is a newline):")
            print("\n".join("  " + text.replace("\n", "⏎ ") for text in texts))
        else:
            known = set(data.train_words)
            print(f"{args.sample} samples (temperature {args.temperature:g}), "
                  f"{sum(name in known for name in texts)} of them in the training set:")
            print("  " + " ".join(name or "(empty)" for name in texts))
        result["samples"] = texts
    return run, result


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Train and test each model the options name; returns the last one's test loss,
    steps and seconds (and, under "runs", every model's)."""
    args = parse_args(argv)
    try:
        data = load_data(args)
        problem = data_problem(args, data)
    except DataError as err:
        problem = str(err)
    if problem:
        build_parser().error(problem)  # before any training: nothing is lost
    print(data.describe())
    runs, results = [], {}
    for number, kind in enumerate(args.models, start=1):
        args.model = kind
        run, result = run_model(args, kind, data)
        runs.append(run)
        results[kind] = result
        if number == len(args.models) and args.draw:
            save_figure(runs, data, args.figure)
        print(f"test loss: {result['test_loss']:.4f} after {run.steps} steps "
              f"({run.seconds:.1f} s)")
    return {**result, "runs": results}


# ----------------------------------------------------------------------------- the figure

def save_figure(runs: list[Run], data: Data, path: Path) -> Any:
    """Left: each model's test loss over the steps. Then a row per model: the histograms of
    the watched layers' outputs and of their gradients after training, and the log10
    update-to-data ratio of each weight matrix at every step (tinygrad_edu.viz)."""
    figure = flagship.new_figure(path, (17, 1.0 + 3.6 * len(runs)))
    if figure is None:
        return None
    grid = figure.add_gridspec(len(runs), 4, width_ratios=[1.1, 1, 1, 1.2])
    curves = figure.add_subplot(grid[:, 0])
    for run in runs:
        steps, losses = zip(*run.curve, strict=True)
        line, = curves.plot(steps, losses, marker=".", label=f"{run.kind}: {losses[-1]:.4f}")
        if run.count_loss is not None:
            curves.axhline(run.count_loss, color=line.get_color(), linestyle=":",
                           label=f"bigram by counting: {run.count_loss:.4f}")
    curves.set(xlabel="step", ylabel="test loss (nats per character)",
               title=f"test loss ({len(data.test):,} held-out "
               f"{'windows' if data.stream else 'items'})")
    curves.legend(fontsize=8)
    for row, run in enumerate(runs):
        if run.stats is None:
            continue
        panels = [figure.add_subplot(grid[row, column]) for column in (1, 2, 3)]
        run.stats.plot_activations(panels[0])
        run.stats.plot_gradients(panels[1])
        run.stats.plot_update_ratios(panels[2])
        for panel in panels:
            panel.set_title(f"{run.kind}: {panel.get_title()}"
                            + (f" after {run.steps} steps" if panel is not panels[2] else ""),
                            fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    atomic_write_bytes(path, buffer.getvalue())  # (never a half-written picture)
    print(f"figure saved to {path.resolve()}")
    if flagship.in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))
    return figure


if __name__ == "__main__":
    main()
