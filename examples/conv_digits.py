"""A small convolutional network (a LeNet) on the same digits as the flagship MLP, trained
as the flagship is: each epoch shifts every training digit by up to a pixel (--no-augment
turns it off), and the learning rate falls to ×0.3 after 60% of the epochs and to ×0.1
after 80%.

    conv 5×5 (1 → 8 channels, padded) → ReLU → max-pool 2×2        28×28 → 14×14
    conv 5×5 (8 → 16 channels)        → ReLU → max-pool 2×2        14×14 → 5×5
    flatten (400) → linear → 10 scores, cross-entropy, Adam

Each first-layer filter is a 5×5 weight pattern slid over the whole image, so the network
looks for the same stroke everywhere, where the MLP's neurons each learn one picture of
the whole digit. Nielsen's book ends with such networks (its chapter 6).

    python examples/conv_digits.py                                # 4,000 train, 1,000 held out
    python examples/conv_digits.py --test-dir path/to/mnist       # all 5,000; real test set

It also trains the flagship MLP (784 → 16 → 16 → 10) on the same digits and prints both
accuracies (--no-mlp to skip). With matplotlib it saves a figure (out/conv_digits.png
unless --figure names another path) and prints where: the first layer's filters as images
and digits the network got wrong.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
from pathlib import Path
from types import ModuleType

import numpy as np

from tinygrad_edu import Tensor, datasets, nn, no_grad, optim

Split = tuple[np.ndarray, np.ndarray]


def _beside_this_file(name: str) -> ModuleType:
    """The example `name`.py in this file's folder, however this one was started: a script,
    `tinygrad_edu.examples` when pip-installed, or loaded by path (tests, bench/)."""
    spec = importlib.util.spec_from_file_location(f"{name}_example", Path(__file__).with_name(
        f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


flagship = _beside_this_file("mnist")  # examples/mnist.py: options, steps, figures


def build_parser() -> argparse.ArgumentParser:
    """The command-line options, each with its help text."""
    parser = argparse.ArgumentParser(prog=flagship.command("conv_digits.py"),
                                     description=__doc__.split("\n\n")[0],
                                     formatter_class=flagship.HelpFormatter)
    parser.add_argument("--epochs", type=int, default=12, help="passes over the training digits")
    parser.add_argument("--batch-size", type=int, default=32, help="digits per gradient step")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam's learning rate at the "
                        "start (×0.3 after 60%% of the epochs, ×0.1 after 80%%)")
    parser.add_argument("--no-mlp", dest="mlp", action="store_false",
                        help="train the LeNet alone (by default the flagship MLP is trained "
                        "after it on the same digits, and both accuracies are printed)")
    flagship.add_common_options(parser, flagship.OUT / "conv_digits.png")
    return parser


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options, checked before any training starts (a bad one exits with a message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = None
    if args.epochs < 1 or args.batch_size < 1:
        problem = f"--epochs and --batch-size must be at least 1, got {args.epochs}, " \
                  f"{args.batch_size}"
    elif not (math.isfinite(args.lr) and args.lr > 0):
        problem = f"--lr must be a positive number, got {args.lr}"
    for option, path in (("--save", args.save), ("--figure", args.figure)):
        if problem is None and path is not None and path != flagship.OUT / path.name:
            trouble = flagship.unwritable(path)
            problem = f"{option} {path}: {trouble}" if trouble else None
    if problem:
        parser.error(problem)
    return args


def lenet(seed: int) -> nn.Sequential:
    """The network of the docstring: 2 convolutions, 2 poolings, one linear layer."""
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Conv2d(1, 8, 5, padding=2, seed=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 5, seed=rng), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 5 * 5, 10, init="lecun", seed=rng))


def images(pixels: np.ndarray) -> np.ndarray:
    """uint8 digits (n, 28, 28) → float32 (n, 1, 28, 28) in [0, 1]: one channel each."""
    return (pixels[:, None] / 255.0).astype(np.float32)


@no_grad()
def predict(model: nn.Module, pixels: np.ndarray) -> np.ndarray:
    """The highest score of each digit, a batch at a time."""
    return np.concatenate([model(Tensor(images(pixels[i:i + 500]))).data.argmax(axis=1)
                           for i in range(0, len(pixels), 500)])


def train(args: argparse.Namespace, train_split: Split, test: Split
          ) -> tuple[nn.Module, float, float]:
    """Train the LeNet; return it, its test accuracy and the seconds it took."""
    model = lenet(args.seed)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    step = flagship.make_train_step(model, optimizer, "cross-entropy", args.jit)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        optimizer.lr = flagship.learning_rate(args.lr, epoch, args.epochs)
        pixels, labels = train_split
        if args.augment:
            pixels = datasets.random_shift(pixels, 1, seed=rng)
        batches = datasets.iterate_batches(images(pixels), labels.astype(np.int64),
                                           batch_size=args.batch_size, shuffle=True, seed=rng)
        costs = [step(Tensor(x), Tensor(y)).item() for x, y in
                 flagship._progress(batches, -(-len(labels) // args.batch_size))]
        accuracy = float(np.mean(predict(model, test[0]) == test[1]))
        print(f"epoch {epoch + 1:3d}  cost {np.mean(costs):.4f}  test {accuracy:6.2%}  "
              f"{time.perf_counter() - started:5.1f}s", flush=True)
    return model, accuracy, time.perf_counter() - started


def main(argv: list[str] | None = None) -> dict[str, float]:
    """Train the LeNet (and the MLP beside it); returns their test accuracies and seconds."""
    args = parse_args(argv)
    train_split, test, source = flagship.load_splits(args)
    model = lenet(args.seed)
    print(f"{source}\n{model}\n{model.num_parameters():,} parameters, cross-entropy, Adam "
          f"lr {args.lr}, batch {args.batch_size}, {args.epochs} epochs")
    model, accuracy, seconds = train(args, train_split, test)
    result = {"test_accuracy": accuracy, "seconds": seconds}
    print(f"LeNet: test accuracy {accuracy:.2%} on {len(test[1]):,} digits after "
          f"{seconds:.1f}s of training")
    if args.mlp:
        mlp = flagship.main(["--epochs", "40", "--seed", str(args.seed), "--figure",
                             str(args.figure.with_name("mnist_for_comparison.png"))]
                            + (["--test-dir", str(args.test_dir)] if args.test_dir else [])
                            + (["--data", str(args.data)] if args.data else []))
        result["mlp_test_accuracy"] = mlp["test_accuracy"]
        print(f"\nsame digits, same test set: LeNet {accuracy:.2%} ({model.num_parameters():,} "
              f"parameters), MLP {mlp['test_accuracy']:.2%} (13,002 parameters)")
    if args.save:
        nn.save(model, args.save)
        print(f"weights saved to {flagship.written(args.save)}")
    save_figure(model, test, args.figure)
    return result


def save_figure(model: nn.Sequential, test: Split, path: Path) -> None:
    """The 8 first-layer filters as 5×5 images, and digits the network got wrong."""
    figure = flagship.new_figure(path, (12, 3.6))
    if figure is None:
        return
    grid = figure.add_gridspec(2, 12)
    filters = model[0].weight.data[:, 0]  # (8, 5, 5): what each first-layer filter looks for
    limit = np.abs(filters).max()
    for k, kernel in enumerate(filters):
        axis = figure.add_subplot(grid[0, k])
        axis.imshow(kernel, cmap="RdBu_r", vmin=-limit, vmax=limit)
        axis.set_axis_off()
        axis.set_title(f"filter {k}", fontsize=8)
    flagship.plot_mistakes(figure, [grid[1, k] for k in range(12)], test,
                           predict(model, test[0]))
    figure.suptitle("top: the first layer's 5×5 filters (red +, blue −) · bottom: "
                    "label→guess mistakes")
    flagship.save_and_show(figure, path)


if __name__ == "__main__":
    sys.exit(None if main() else 1)
