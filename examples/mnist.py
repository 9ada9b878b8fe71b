"""Train the lessons' digit network: 784 → 16 → 16 → 10, sigmoid everywhere, squared error,
stochastic gradient descent. Runs offline on the 5,000 real digits shipped in the package.
Two additions to the lessons' recipe: each epoch shifts every training digit by up to a
pixel (--no-augment turns it off), and the learning rate falls to ×0.3 after 60% of the
epochs and to ×0.1 after 80%.

    python examples/mnist.py                              # 4,000 to train, 1,000 held out
    python examples/mnist.py --test-dir path/to/mnist     # all 5,000 to train, test on the
                                                          # t10k-* files in that folder
    python examples/mnist.py --data ~/mnist               # full MNIST (downloaded if missing)
    python -m tinygrad_edu.digits                         # the same file, pip-installed

Each epoch prints the cost, training and test accuracy and the time. With matplotlib it
saves a figure (out/mnist_training.png, under the folder it is run from, unless --figure
names another path) and prints where: the cost curve, what the 16 first-layer neurons
look for, and digits it got wrong.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_edu as tg
from tinygrad_edu import Tensor, datasets, nn, no_grad, optim

Split = tuple[np.ndarray, np.ndarray]  # uint8 images (n, 28, 28), labels (n,)


# Learning rates that reach ≥ 90% on the real 10,000 MNIST test digits with the default
# 40 epochs, measured for each cost and optimizer (README, "Other settings"). Squared error
# with SGD takes a big step because the cost is averaged over the 10 outputs, and the
# sigmoid's gradient is at most 1/4; Adam scales its own steps, so it wants small ones.
DEFAULT_LR = {("mse", "sgd"): 15.0, ("cross-entropy", "sgd"): 0.5,
              ("mse", "adam"): 0.01, ("cross-entropy", "adam"): 0.003}
OUT = Path("out")  # where pictures go unless you name a path (.gitignore covers it)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows "(default: …)" where it informs: not for on-off switches (`--no-augment`'s
    default True would read as "no augmenting by default") nor for options without a
    value by default, whose help text says in words what happens without them."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.nargs == 0 or action.default is None:
            return action.help
        return super()._get_help_string(action)


def command(script: str) -> str:
    """How this example was started, for the usage line: `python -m tinygrad_edu.digits`
    when pip-installed, else `python examples/<script>` as from the repository."""
    main_spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if main_spec is not None and main_spec.name.startswith("tinygrad_edu"):
        return f"python -m {main_spec.name}"
    return f"python examples/{script}"


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its help text."""
    parser = argparse.ArgumentParser(prog=command("mnist.py"),
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=HelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[784, 16, 16, 10],
                        help="layer sizes, input first: 784 pixels in, 10 digits out")
    parser.add_argument("--epochs", type=int, default=40,
                        help="passes over the training digits")
    parser.add_argument("--batch-size", type=int, default=10,
                        help="digits per gradient step")
    parser.add_argument("--lr", type=float, default=None,
                        help="learning rate at the start (×0.3 after 60%% of the epochs, ×0.1 "
                        "after 80%%) (default: per loss and optimizer, each measured to reach "
                        "90%% on the real test set: "
                        + ", ".join(f"{loss}+{opt} {lr:g}"
                                    for (loss, opt), lr in DEFAULT_LR.items()) + ")")
    parser.add_argument("--loss", choices=["mse", "cross-entropy"], default="mse",
                        help="squared error on sigmoid outputs (the lessons'), or "
                        "cross-entropy on the last layer's weighted sums")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd",
                        help="plain gradient descent, or Adam")
    parser.add_argument("--compare-jit", action="store_true",
                        help="first time one epoch eagerly and one replayed, and compare")
    add_common_options(parser, OUT / "mnist_training.png")
    return parser


def add_common_options(parser: argparse.ArgumentParser, figure: Path) -> None:
    """The options every digit example shares (conv_digits.py too): seed, data, output."""
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the starting weights, shuffling and shifts")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="train on the digits as they are (by default each epoch shifts "
                        "every training digit by up to a pixel in each direction)")
    parser.add_argument("--no-jit", dest="jit", action="store_false",
                        help="run every step eagerly (by default the step is recorded once "
                        "and replayed with tg.jit: the same numbers, faster)")
    parser.add_argument("--data", type=Path, help="folder for full MNIST (downloaded if "
                        "missing) instead of the embedded 5,000-digit sample")
    parser.add_argument("--test-dir", type=Path, help="folder with a separate test set "
                        "(t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz); then all "
                        "5,000 embedded digits train (without it: 4,000 train, 1,000 test)")
    parser.add_argument("--save", type=Path, help="write the trained weights here (.npz; "
                        "by default they are not saved)")
    parser.add_argument("--figure", type=Path, default=figure,
                        help="where to save the figure (needs matplotlib); a relative path "
                        "is under the folder you run from")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked before any training starts (a bad one exits with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = argument_problem(args)
    if problem:
        parser.error(problem)  # before any training: nothing is lost
    if args.lr is None:
        args.lr = DEFAULT_LR[args.loss, args.optimizer]
    return args


def argument_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the options, checked before training starts, or None."""
    if args.epochs < 1:
        return f"--epochs must be at least 1, got {args.epochs}"
    if args.batch_size < 1:
        return f"--batch-size must be at least 1, got {args.batch_size}"
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        return f"--lr must be a positive number, got {args.lr}"
    if len(args.sizes) < 2 or min(args.sizes) < 1 or args.sizes[0] != 784 or args.sizes[-1] != 10:
        return (f"--sizes must start with 784 (28×28 pixels), end with 10 (digits) and have "
                f"no size below 1, got {args.sizes}")
    for option, path in (("--save", args.save), ("--figure", args.figure)):
        if path is not None and path != OUT / path.name:  # (out/ itself is made on demand)
            problem = unwritable(path)
            if problem:
                return f"{option} {path}: {problem}"
    return None


def unwritable(path: Path) -> str | None:
    """Why a file could not be written at `path`, or None if it can."""
    folder = path.parent
    if path.is_dir():
        return "is a folder; name a file"
    if not folder.is_dir():
        return f"the folder {folder} does not exist"
    if not os.access(folder, os.W_OK):
        return f"the folder {folder} is not writable"
    return None


def load_splits(args: argparse.Namespace) -> tuple[Split, Split, str]:
    """Training and test digits, and a sentence saying where they came from."""
    if args.data is not None:
        train = datasets.mnist("train", root=args.data)
        test = (datasets.load_image_label_dir(args.test_dir) if args.test_dir
                else datasets.mnist("test", root=args.data))
        return train, test, f"full MNIST from {args.data}"
    images, labels = datasets.mnist_sample()
    if args.test_dir is not None:
        test = datasets.load_image_label_dir(args.test_dir)
        return (images, labels), test, f"5,000 embedded digits; test set from {args.test_dir}"
    # The sample is shipped shuffled, 400 of each digit first and 100 of each last, so the
    # plain split is a fair one (the same digits held out whatever the seed)
    return ((images[:4000], labels[:4000]), (images[4000:], labels[4000:]),
            "embedded sample: 4,000 digits to train, 1,000 held out")


def build(args: argparse.Namespace) -> tuple[nn.Module, optim.Optimizer]:
    """The network and its optimizer, as the options say."""
    # Cross-entropy takes raw weighted sums (logits): no sigmoid on the last layer.
    output_activation = "sigmoid" if args.loss == "mse" else None
    model = nn.MLP(args.sizes, output_activation=output_activation, seed=args.seed)
    if args.optimizer == "adam":
        return model, optim.Adam(model.parameters(), lr=args.lr)
    return model, optim.SGD(model.parameters(), lr=args.lr)


def learning_rate(base: float, epoch: int, epochs: int) -> float:
    """Big steps first, smaller ones to settle: ×0.3 after 60% and ×0.1 after 80%."""
    if epoch >= 0.8 * epochs:
        return base * 0.1
    if epoch >= 0.6 * epochs:
        return base * 0.3
    return base


def targets(labels: np.ndarray, loss: str) -> Tensor:
    """What the cost compares against: one-hot rows y (squared error) or class indices."""
    if loss == "mse":
        return Tensor(datasets.one_hot(labels))
    return Tensor(labels.astype(np.int64))


def make_train_step(model: nn.Module, optimizer: optim.Optimizer, loss: str, use_jit: bool
                    ) -> Callable[[Tensor, Tensor], Tensor]:
    """One step of gradient descent on a batch. With `use_jit` it is recorded on its first
    call and replayed afterwards (tg.jit): the same numbers, without rebuilding the graph."""

    def train_step(x: Tensor, target: Tensor) -> Tensor:
        optimizer.zero_grad()
        if loss == "mse":  # C = mean over the batch of Σⱼ (a(L)ⱼ − yⱼ)², scaled by 1/10
            cost = nn.mse_loss(model(x), target)
        else:
            cost = nn.cross_entropy(model(x), target)
        cost.backward()
        optimizer.step()
        return cost

    return tg.jit(train_step) if use_jit else train_step


@no_grad()
def predict(model: nn.Module, images: np.ndarray) -> np.ndarray:
    """The most active output neuron for each image: the network's guess."""
    return model(Tensor(datasets.to_inputs(images))).data.argmax(axis=1)


def train_epoch(train_step: Callable[[Tensor, Tensor], Tensor], train: Split,
                args: argparse.Namespace, rng: np.random.Generator) -> float:
    """One pass over the training digits (shifted afresh); returns the mean cost."""
    images, labels = train
    if args.augment:
        images = datasets.random_shift(images, 1, seed=rng)
    inputs = datasets.to_inputs(images)
    batches = datasets.iterate_batches(inputs, labels, batch_size=args.batch_size,
                                       shuffle=True, seed=rng)
    total, count = 0.0, 0
    for x, y in _progress(batches, -(-len(inputs) // args.batch_size)):
        loss = train_step(Tensor(x), targets(y, args.loss))
        total, count = total + loss.item() * len(x), count + len(x)
    return total / count


def compare_jit(args: argparse.Namespace, train: Split) -> None:
    """One epoch eagerly and one replayed, from the same start: times and weights.
    (An untimed epoch first: the very first steps of a process pay for warming up.)"""
    seconds, weights = {}, {}
    for use_jit in (False, False, True):
        model, optimizer = build(args)
        step = make_train_step(model, optimizer, args.loss, use_jit)
        start = time.perf_counter()
        train_epoch(step, train, args, np.random.default_rng(args.seed))
        seconds[use_jit] = time.perf_counter() - start
        weights[use_jit] = model.state_dict()
    same = all(np.array_equal(weights[False][k], weights[True][k]) for k in weights[False])
    print(f"one epoch: eager {seconds[False]:.2f}s, replayed (tg.jit) {seconds[True]:.2f}s, "
          f"{seconds[False] / seconds[True]:.2f}× faster; "
          f"{'identical' if same else 'DIFFERENT'} weights")


def in_notebook() -> bool:
    """True inside a Jupyter kernel (%run examples/mnist.py in a notebook)."""
    return "ipykernel" in sys.modules


def _progress(batches, total: int):
    try:
        from tqdm.auto import tqdm  # a widget in notebooks, text in a terminal
    except ImportError:
        return batches
    quiet = not (sys.stderr.isatty() or in_notebook())  # (no bars in logs and pipes)
    return tqdm(batches, total=total, leave=False, unit="batch", disable=quiet)


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train and test as the options say; returns the test accuracy and the seconds."""
    args = parse_args(argv)
    train, test, source = load_splits(args)
    if args.compare_jit:
        compare_jit(args, train)
    model, optimizer = build(args)
    train_step = make_train_step(model, optimizer, args.loss, args.jit)
    rng = np.random.default_rng(args.seed)
    print(f"{source}\nnetwork {' → '.join(map(str, args.sizes))}, "
          f"{model.num_parameters():,} parameters, {args.loss} cost, {args.optimizer}, "
          f"lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs")
    history: list[float] = []
    started = time.perf_counter()
    for epoch in range(args.epochs):
        optimizer.lr = learning_rate(args.lr, epoch, args.epochs)
        epoch_start = time.perf_counter()
        history.append(train_epoch(train_step, train, args, rng))
        train_accuracy = np.mean(predict(model, train[0]) == train[1])
        test_accuracy = np.mean(predict(model, test[0]) == test[1])
        print(f"epoch {epoch + 1:3d}  cost {history[-1]:.4f}  train {train_accuracy:6.2%}  "
              f"test {test_accuracy:6.2%}  {time.perf_counter() - epoch_start:5.2f}s",
              flush=True)
    seconds = time.perf_counter() - started
    print(f"test accuracy {test_accuracy:.2%} on {len(test[1]):,} digits after "
          f"{seconds:.1f}s of training")
    if args.save:
        nn.save(model, args.save)
        print(f"weights saved to {written(args.save)}")
    save_figure(model, history, test, args.figure)
    return {"test_accuracy": float(test_accuracy), "seconds": seconds}


def plot_mistakes(figure: Any, cells: list[Any], test: Split, guesses: np.ndarray) -> None:
    """Digits the network got wrong, one per grid cell, titled label→guess."""
    for cell, index in zip(cells, np.flatnonzero(guesses != test[1]), strict=False):
        axis = figure.add_subplot(cell)
        axis.imshow(test[0][index], cmap="gray_r")
        axis.set_title(f"{test[1][index]}→{guesses[index]}", fontsize=9)
        axis.set_axis_off()


def save_figure(model: nn.Module, history: list[float], test: Split, path: Path) -> None:
    """Cost curve, the 16 first-layer neurons' weights as 28×28 images, and mistakes."""
    figure = new_figure(path, (13, 5.5))
    if figure is None:
        return
    # A 3 × 12 grid: the cost curve top left, the 16 neurons (2 rows of 8) top right,
    # a row of mistakes at the bottom.
    grid = figure.add_gridspec(3, 12)
    curve = figure.add_subplot(grid[:2, :4])
    curve.plot(range(1, len(history) + 1), history)
    curve.set(xlabel="epoch", ylabel="cost", title="cost while training")
    weights = model.parameters()[0].data  # (16, 784): row j = neuron j's weights
    limit = np.abs(weights[:16]).max()  # one symmetric scale: white is 0 in every picture
    for j, row in enumerate(weights[:16]):
        axis = figure.add_subplot(grid[j // 8, 4 + j % 8])
        axis.imshow(row.reshape(28, 28), cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_axis_off()
    plot_mistakes(figure, [grid[2, k] for k in range(12)], test, predict(model, test[0]))
    figure.suptitle("first-layer neurons' weights (red +, blue −) · bottom: label→guess mistakes")
    save_and_show(figure, path)


def new_figure(path: Path, size: tuple[float, float]) -> Any:
    """A matplotlib Figure of `size` inches, with the folder of `path` made (out/ by
    default); None, and how to install matplotlib, without it. A Figure on its own, not
    through pyplot: saving it needs no GUI, and it leaves matplotlib's backend alone (a
    notebook's later plots still show inline)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        print("(install matplotlib to get a figure: pip install matplotlib)")
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    return Figure(figsize=size, layout="constrained")


def written(path: Path) -> Path:
    """The full path of a file just written: where to find it, wherever this was run from
    (a relative path is under the current folder, which a pip user may not expect)."""
    return path.resolve()


def save_and_show(figure: Any, path: Path) -> None:
    """Save the figure and say where; in a notebook also show it in the cell (a bare
    Figure has no notebook display of its own)."""
    figure.savefig(path, dpi=90)
    print(f"figure saved to {written(path)}")
    if in_notebook():
        from IPython.display import Image, display

        display(Image(filename=str(path)))


if __name__ == "__main__":
    main()
