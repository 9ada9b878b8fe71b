"""Build a small graph, run backward, print the gradients (the engine in ten lines)."""

from tinygrad_edu import Tensor


def main() -> None:
    x = Tensor([1.0, -2.0, 3.0], requires_grad=True, name="x")
    w = Tensor([0.5, 0.25, -1.0], requires_grad=True, name="w")
    b = Tensor(0.1, requires_grad=True, name="b")
    a = ((w * x).sum() + b).sigmoid()  # one neuron: a = σ(w·x + b)
    a.backward()
    print(f"a = {a.item():.6f}")
    print("∂a/∂w =", w.grad.data, " (= σ'(z)·x)")
    print("∂a/∂x =", x.grad.data, " (= σ'(z)·w)")
    print("∂a/∂b =", b.grad.data, " (= σ'(z))")


if __name__ == "__main__":
    main()
