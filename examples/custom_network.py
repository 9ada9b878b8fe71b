"""A network built by hand from Tensors and ops: no nn.Linear, no optimizer class.

The same digits as examples/mnist.py, written the way the lessons write it: weight matrices
W(l) of shape (outputs, inputs) and bias vectors b(l), each layer a(l) = σ(W(l) a(l−1) + b(l)),
the cost C = mean (a(L) − y)², and the step w ← w − η ∂C/∂w done in a loop.

Change anything: add a layer, swap sigmoid for tanh, add a skip connection. backward()
follows whatever you write.

    python examples/custom_network.py [--epochs 15] [--test-dir path/to/mnist]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from tinygrad_edu import Tensor, datasets, no_grad


def make_layer(fan_in: int, fan_out: int, rng: np.random.Generator) -> tuple[Tensor, Tensor]:
    """W (fan_out, fan_in) with Xavier-uniform values, b (fan_out,) zeros."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    weights = Tensor(rng.uniform(-limit, limit, (fan_out, fan_in)), requires_grad=True,
                     dtype=np.float32)
    biases = Tensor(np.zeros(fan_out), requires_grad=True, dtype=np.float32)
    return weights, biases


def forward(layers: list[tuple[Tensor, Tensor]], x: Tensor) -> Tensor:
    """a(l) = σ(W(l) a(l−1) + b(l)) for each layer. x holds one digit per row, so the
    column-vector formula W a becomes the row form a Wᵀ."""
    a = x
    for weights, biases in layers:
        a = (a @ weights.T + biases).sigmoid()
    return a


def main(argv: list[str] | None = None) -> float:
    """Train the hand-built network; returns its test accuracy."""
    parser = argparse.ArgumentParser(prog="python examples/custom_network.py",
                                     description="a network from plain Tensors and ops",
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--epochs", type=int, default=15, help="passes over the digits")
    parser.add_argument("--lr", type=float, default=15.0, help="learning rate η")
    parser.add_argument("--batch-size", type=int, default=10, help="digits per step")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed for the starting weights and the shuffling")
    parser.add_argument("--test-dir", type=Path, help="folder with the t10k-* test files; "
                        "then all 5,000 embedded digits train (without it: 4,000 train, the "
                        "last 1,000 test)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    images, labels = datasets.mnist_sample()
    if args.test_dir:
        test_images, test_labels = datasets.load_image_label_dir(args.test_dir)
    else:  # the sample is shipped shuffled (400 of each digit, then 100 of each)
        test_images, test_labels = images[4000:], labels[4000:]
        images, labels = images[:4000], labels[:4000]

    layers = [make_layer(784, 16, rng), make_layer(16, 16, rng), make_layer(16, 10, rng)]
    parameters = [p for layer in layers for p in layer]
    inputs, targets = datasets.to_inputs(images), datasets.one_hot(labels)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        for x, y in datasets.iterate_batches(inputs, targets, batch_size=args.batch_size,
                                             shuffle=True, seed=rng):
            cost = ((forward(layers, Tensor(x)) - Tensor(y)) ** 2).mean()
            for p in parameters:
                p.grad = None
            cost.backward()
            with no_grad():  # the step itself is not part of any graph
                for p in parameters:
                    p.sub_(args.lr * p.grad)  # in place: w ← w − lr·∂C/∂w
        with no_grad():
            guesses = forward(layers, Tensor(datasets.to_inputs(test_images))).data.argmax(1)
        accuracy = float(np.mean(guesses == test_labels))
        print(f"epoch {epoch + 1:2d}  last batch cost {cost.item():.4f}  test {accuracy:6.2%}")
    print(f"test accuracy {accuracy:.2%} on {len(test_labels):,} digits, "
          f"{time.perf_counter() - started:.1f}s")
    return accuracy


if __name__ == "__main__":
    main()
