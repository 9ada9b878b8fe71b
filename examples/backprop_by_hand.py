"""Backprop by hand: the digit network's gradients from the lessons' formulas in plain numpy,
side by side with what tinygrad_edu's backward() computes. They agree to float64 precision.

For a batch of digits as rows, each layer l computes z(l) = a(l−1) W(l)ᵀ + b(l) and
a(l) = σ(z(l)); the cost is C = mean over all elements of (a(L) − y)². Going backwards:

    δ(L)  = ∂C/∂z(L) = ∂C/∂a(L) ⊙ σ'(z(L)),  with ∂C/∂a(L) = 2(a(L) − y)/(batch·10)
    ∂C/∂W(l) = δ(l)ᵀ a(l−1)        (entry j,k: Σ over the batch of δ_j · a(l−1)_k)
    ∂C/∂b(l) = Σ over the batch of δ(l)
    δ(l−1) = (δ(l) W(l)) ⊙ σ'(z(l−1)),  σ'(z) = σ(z)(1 − σ(z)) = a(1 − a)

    python examples/backprop_by_hand.py
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu import Tensor, datasets, nn, viz


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-z))


def gradients_by_hand(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray
                      ) -> dict[str, np.ndarray]:
    """∂C/∂(every weight and bias) with the formulas above: forward, then back layer by layer."""
    layers = [("0.weight", "0.bias"), ("2.weight", "2.bias"), ("4.weight", "4.bias")]
    activations = [x]
    for w, b in layers:
        activations.append(sigmoid(activations[-1] @ params[w].T + params[b]))
    output = activations[-1]
    dC_da = 2 * (output - y) / output.size
    grads = {}
    for index in reversed(range(len(layers))):
        a, a_previous = activations[index + 1], activations[index]
        delta = dC_da * a * (1 - a)  # δ(l) = ∂C/∂a(l) ⊙ σ'(z(l))
        w, b = layers[index]
        grads[w] = delta.T @ a_previous  # ∂C/∂W(l) = δ(l)ᵀ a(l−1)
        grads[b] = delta.sum(axis=0)  # ∂C/∂b(l) = Σ δ(l)
        dC_da = delta @ params[w]  # ∂C/∂a(l−1) = δ(l) W(l)
    return grads


def main() -> float:
    images, labels = datasets.mnist_sample()
    x = datasets.to_inputs(images[::500], dtype=np.float64)  # ten digits, one of each
    y = datasets.one_hot(labels[::500], dtype=np.float64)
    model = nn.MLP([784, 16, 16, 10], seed=0, dtype=np.float64)
    nn.mse_loss(model(Tensor(x)), Tensor(y)).backward()
    by_hand = gradients_by_hand(model.state_dict(), x, y)
    print(f"{'parameter':<10} {'shape':<10} {'max |∂C/∂θ|':>12} {'max |hand − backward|':>22}")
    worst = 0.0
    for name, p in model.named_parameters():
        difference = float(np.abs(by_hand[name] - p.grad.data).max())
        worst = max(worst, difference)
        print(f"{name:<10} {p.shape!s:<10} {np.abs(p.grad.data).max():12.3e} "
              f"{difference:22.3e}")
    print(f"largest difference over all 13,002 gradients: {worst:.1e} (float64 rounding)")
    print()
    rows = viz.explain_chain_rule(model, x[3], y[3])
    print(viz.format_chain_rule(rows))
    return worst


if __name__ == "__main__":
    main()
