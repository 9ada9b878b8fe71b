"""The gradient-check experiment: how good is a numeric gradient, and when does it lie?

Central differences approximate ∂C/∂w by (C(w + eps) − C(w − eps)) / 2·eps. Two errors
pull in opposite directions as eps shrinks:
  - truncation error, from the curve not being a straight line, falls like eps²;
  - rounding error, from subtracting two nearly equal numbers, grows like (machine eps)/eps.
On a log-log plot the total makes a V. Its bottom sits near eps ≈ 1e-5 in float64, whose
machine epsilon is 2e-16, with errors around 1e-10; in float32 (machine epsilon 1e-7) it
sits near eps ≈ 1e-2, and even there the error is around 1e-4, a million times worse: that
is why gradcheck wants float64. Below eps ≈ 1e-7 float32 cannot even represent w + eps ≠ w.

Then it shows gradcheck catching a custom op whose backward is wrong.

    python examples/gradient_check.py [--plot PATH]   # out/gradient_check.png by default

The plot puts eps on a log axis shrinking from left to right: truncation error on the
left (large eps), rounding error on the right (small eps).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu import Function, GradcheckError, Tensor, gradcheck, nn, numeric_jacobian

EPSILONS = np.logspace(-1, -12, 12)


def small_network_problem(dtype: type) -> tuple[nn.Module, Tensor, Tensor]:
    """A 6 → 5 → 3 sigmoid network, a batch of 4 inputs and one-hot targets."""
    rng = np.random.default_rng(0)
    model = nn.MLP([6, 5, 3], seed=1, dtype=dtype)
    x = Tensor(rng.random((4, 6)), dtype=dtype)
    y = Tensor(np.eye(3)[[0, 2, 1, 0]], dtype=dtype)
    return model, x, y


def analytic_gradients() -> list[np.ndarray]:
    """The backward pass's gradients in float64: the reference every numeric one is held to."""
    model, x, y = small_network_problem(np.float64)
    nn.mse_loss(model(x), y).backward()
    return [p.grad.data for p in model.parameters()]


def numeric_error(dtype: type, eps: float, reference: list[np.ndarray]) -> float:
    """Relative error ‖numeric − analytic‖ / ‖analytic‖ over all parameters."""
    model, x, y = small_network_problem(dtype)
    params = model.parameters()
    numeric = numeric_jacobian(lambda *_: nn.mse_loss(model(x), y), params, eps=eps)
    difference = np.concatenate([(n - r).ravel() for n, r in zip(numeric, reference,
                                                                  strict=True)])
    scale = np.concatenate([r.ravel() for r in reference])
    return float(np.linalg.norm(difference) / np.linalg.norm(scale))


def sweep() -> dict[str, list[float]]:
    """The relative error of the numeric gradient at each eps, float32 and float64."""
    reference = analytic_gradients()
    errors: dict[str, list[float]] = {}
    print(f"{'eps':>8}  {'float32 error':>14}  {'float64 error':>14}")
    for dtype in (np.float32, np.float64):
        errors[np.dtype(dtype).name] = [numeric_error(dtype, eps, reference) for eps in EPSILONS]
    for i, eps in enumerate(EPSILONS):
        print(f"{eps:8.0e}  {errors['float32'][i]:14.3e}  {errors['float64'][i]:14.3e}")
    for name, values in errors.items():
        best = int(np.argmin(values))
        print(f"{name}: smallest error {values[best]:.1e} at eps = {EPSILONS[best]:.0e}")
    return errors


def plot(errors: dict[str, list[float]], path: Path) -> Any:
    """The V of both dtypes, eps shrinking from left to right; saved to `path` (and
    returned), or None without matplotlib."""
    try:
        from matplotlib.figure import Figure  # a Figure alone: no GUI needed to save it
    except ImportError:
        print("(install matplotlib to get the plot: pip install matplotlib)")
        return None
    figure = Figure(figsize=(7, 4.5), layout="constrained")
    axis = figure.subplots()
    for name, values in errors.items():
        axis.loglog(EPSILONS, values, "o-", label=name)
    axis.invert_xaxis()  # eps shrinks as you read: the way one tries smaller and smaller eps
    axis.set(xlabel="eps (large → small)", ylabel="relative error of the numeric gradient",
             title="central differences: truncation (left) vs rounding (right)")
    axis.grid(True, which="major", alpha=0.3)
    axis.legend()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    print(f"plot saved to {path.resolve()}")
    return figure


class BrokenSoftplus(Function):
    """softplus(x) = ln(1 + eˣ), whose derivative is σ(x)... but this backward says eˣ."""

    def forward(self, x):
        return np.logaddexp(0, x)

    def backward(self, grad, out, x):
        return grad * np.exp(x)  # wrong: should be grad · σ(x)


def show_gradcheck_catching_a_broken_op() -> None:
    x = Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True, name="x")
    print("\ngradcheck on a custom softplus whose backward returns eˣ instead of σ(x):")
    try:
        gradcheck(BrokenSoftplus.apply, [x])
    except GradcheckError as error:
        print(error)


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    """The sweep, its plot, and gradcheck catching a broken op; returns the errors."""
    parser = argparse.ArgumentParser(prog="python examples/gradient_check.py",
                                     description="numeric vs analytic gradients over eps")
    parser.add_argument("--plot", type=Path, default=Path("out") / "gradient_check.png",
                        help="where to save the plot (needs matplotlib; a relative path is "
                        "under the folder you run from) (default: %(default)s)")
    args = parser.parse_args(argv)
    errors = sweep()
    plot(errors, args.plot)
    show_gradcheck_catching_a_broken_op()
    return errors


if __name__ == "__main__":
    main()
