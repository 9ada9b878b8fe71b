"""optim: a few steps of each optimizer against the update formulas written out in numpy."""

import numpy as np
import pytest

from tinygrad_edu import Tensor, optim


def quadratic_problem():
    """C(w) = Σ (w ⊙ a − t)², a gradient that changes with w, in float64."""
    a = np.array([[1.0, -2.0], [0.5, 3.0]])
    t = np.array([[0.3, 0.1], [-0.2, 0.4]])
    w = Tensor(np.array([[0.5, -0.5], [1.0, 0.2]]), requires_grad=True)

    def gradient(w_values):
        return 2 * (w_values * a - t) * a

    def backward():
        ((w * Tensor(a) - Tensor(t)) ** 2).sum().backward()

    return w, gradient, backward


def run(optimizer, w, backward, steps=4):
    for _ in range(steps):
        optimizer.zero_grad()
        backward()
        optimizer.step()
    return w.data


def test_sgd_plain():
    w, gradient, backward = quadratic_problem()
    expected = w.data.copy()
    for _ in range(4):
        expected = expected - 0.1 * gradient(expected)
    np.testing.assert_allclose(run(optim.SGD([w], lr=0.1), w, backward), expected, rtol=1e-12)


def test_sgd_momentum_and_weight_decay():
    w, gradient, backward = quadratic_problem()
    expected, velocity = w.data.copy(), None
    for _ in range(4):
        g = gradient(expected) + 0.01 * expected
        velocity = g if velocity is None else 0.9 * velocity + g
        expected = expected - 0.05 * velocity
    sgd = optim.SGD([w], lr=0.05, momentum=0.9, weight_decay=0.01)
    np.testing.assert_allclose(run(sgd, w, backward), expected, rtol=1e-12)


def test_adam():
    w, gradient, backward = quadratic_problem()
    expected, m, v = w.data.copy(), 0.0, 0.0
    for t in range(1, 5):
        g = gradient(expected)
        m = 0.8 * m + 0.2 * g
        v = 0.99 * v + 0.01 * g * g
        expected = expected - 0.01 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.99 ** t)) + 1e-8)
    adam = optim.Adam([w], lr=0.01, betas=(0.8, 0.99))
    np.testing.assert_allclose(run(adam, w, backward), expected, rtol=1e-12)


@pytest.mark.parametrize("make", [lambda p: optim.SGD(p, lr=0.1),
                                  lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: optim.Adam(p, lr=0.1)])
def test_a_parameter_listed_twice_is_updated_once(make):
    once, twice = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    for w, params in ((once, [once]), (twice, [twice, twice])):
        opt = make(params)
        (w * 3).sum().backward()
        opt.step()
    np.testing.assert_array_equal(once.data, twice.data)


def test_parameters_without_grad_are_left_alone():
    w, unused = Tensor([1.0], requires_grad=True), Tensor([5.0], requires_grad=True)
    opt = optim.SGD([w, unused], lr=0.1)
    (w * 2).sum().backward()
    opt.step()
    assert unused.data[0] == 5.0 and w.data[0] == pytest.approx(0.8)


def test_zero_grad_and_bad_arguments():
    w = Tensor([1.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * 2).sum().backward()
    opt.zero_grad()
    assert w.grad is None
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([w], lr=-1)  # (lr=0 is allowed, as in PyTorch)
    with pytest.raises(ValueError, match="empty"):
        optim.Adam([])
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
