"""See the graph: one neuron a = σ(w·x + b) and a 2-layer network, drawn, then traced.

Writes neuron.dot and mlp.dot into out/ (and .svg beside them when Graphviz is installed), and
prints the backward trace of the network: each op, the shapes, the size of the gradient
arriving and of the gradients it passes on, and the line that created it.

    python examples/see_the_graph.py [--out DIR]      # out/ by default
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from tinygrad_edu import Tensor, nn, viz
from tinygrad_edu.datasets import atomic_write_bytes


def one_neuron() -> Tensor:
    w = Tensor([0.8, -0.5, 0.3], requires_grad=True, name="w")
    x = Tensor([1.0, 0.5, -1.0], name="x")
    b = Tensor(0.1, requires_grad=True, name="b")
    z = (w * x).sum() + b
    z.name = "z"
    a = z.sigmoid()
    a.name = "a"
    return a


def write(tensor: Tensor, folder: Path, stem: str) -> list[Path]:
    """The graph as DOT text, and as SVG when Graphviz is there."""
    written = [folder / f"{stem}.dot"]
    atomic_write_bytes(written[0], viz.to_dot(tensor, show_values=True).encode())
    try:
        written.append(viz.draw(tensor, folder / f"{stem}.svg", show_values=True))
    except RuntimeError as err:
        print(f"({err})")
    return written


def main(argv: list[str] | None = None) -> viz.Trace:
    parser = argparse.ArgumentParser(prog="python examples/see_the_graph.py",
                                     description="draw and trace small graphs")
    parser.add_argument("--out", type=Path, default=Path("out"),
                        help="folder for the .dot and .svg files (made if missing)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)

    neuron = one_neuron()
    neuron.backward(retain_graph=True)  # keep the graph to draw it with gradients
    print("wrote", ", ".join(str(p.resolve()) for p in write(neuron, args.out, "neuron")))

    model = nn.MLP([4, 3, 2], seed=0)
    x = Tensor(np.array([[0.0, 0.5, 1.0, 0.5]]), dtype=np.float32, name="x")
    y = Tensor(np.array([[1.0, 0.0]]), dtype=np.float32, name="y")
    with viz.trace() as steps:
        cost = nn.mse_loss(model(x), y)
        cost.name = "C"
        print("wrote", ", ".join(str(p.resolve()) for p in write(cost, args.out, "mlp")))
        cost.backward()
    print("\nbackward trace of the 2-layer network, in the order backward ran:")
    print(steps)
    return steps


if __name__ == "__main__":
    main()
