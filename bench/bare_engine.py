"""The least a graph engine can do for the benchmark step: a yardstick, not part of the package.

bench/step.py times it beside tinygrad_edu and hand-written numpy. It has the same design
(each op makes an output that remembers the op, the op remembers its inputs; backward takes
the latest-created tensor next from a heap) and the same arithmetic as tinygrad_edu's
Linear, Sigmoid and MSELoss, and nothing else: no error checks, no hooks, no retain_grad,
no grad(), no double backward, no modules or optimizer objects, raw arrays in `.grad`.

Its ratio to numpy is the floor for any Python engine of this design on the machine at
hand; the gap between it and tinygrad_edu is what the features and the public API cost.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable

import numpy as np

_counter = itertools.count()


class Node:
    __slots__ = ("created", "data", "grad", "op", "requires_grad")

    def __init__(self, data: np.ndarray, op: Op | None = None, requires_grad: bool = True
                 ) -> None:
        self.data, self.op, self.grad, self.created = data, op, None, next(_counter)
        self.requires_grad = requires_grad


class Op:
    inputs: tuple[Node, ...]
    arrays: list[np.ndarray]
    needs_input_grad: list[bool]

    @classmethod
    def apply(cls, *inputs: Node) -> Node:
        op = cls()
        op.inputs, op.arrays = inputs, [node.data for node in inputs]
        op.needs_input_grad = [node.requires_grad for node in inputs]
        return Node(op.forward(*op.arrays), op)

    def forward(self, *arrays: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, grad: np.ndarray, out: np.ndarray, *arrays: np.ndarray) -> tuple:
        raise NotImplementedError


class LinearOp(Op):
    def forward(self, x, weight, bias):
        z = x @ weight.T
        z += bias
        return z

    def backward(self, grad, out, x, weight, bias):
        dx = grad @ weight if self.needs_input_grad[0] else None
        return dx, grad.T @ x, np.add.reduce(grad, axis=0)


class SigmoidOp(Op):
    def forward(self, z):
        return 0.5 * np.tanh(0.5 * z) + 0.5

    def backward(self, grad, out, z):
        return (grad * out * (1 - out),)


class MSELossOp(Op):
    def forward(self, prediction, target):
        self.diff = prediction - target
        return np.asarray(np.vdot(self.diff, self.diff) / prediction.size, prediction.dtype)

    def backward(self, grad, out, prediction, target):
        return self.diff * (float(grad) * 2.0 / prediction.size), None


def backward(root: Node) -> None:
    pending = {id(root): np.array(1, root.data.dtype)}
    reached = [(-root.created, root)]
    while reached:
        node = heapq.heappop(reached)[1]
        op = node.op
        grads = op.backward(pending.pop(id(node)), node.data, *op.arrays)
        for parent, grad in zip(op.inputs, grads, strict=True):
            if grad is None:
                continue
            if parent.op is None:  # a parameter
                parent.grad = grad if parent.grad is None else parent.grad + grad
            elif id(parent) in pending:
                pending[id(parent)] = pending[id(parent)] + grad
            else:
                pending[id(parent)] = grad
                heapq.heappush(reached, (-parent.created, parent))
        op.__dict__.clear()


def bare_step(params: list[np.ndarray], x: np.ndarray, y: np.ndarray, lr: float
              ) -> Callable[[], None]:
    """One training step of the seed network (weights, biases alternating in `params`)."""
    nodes = [Node(p) for p in params]
    layers = list(zip(nodes[::2], nodes[1::2], strict=True))
    inputs, targets = Node(x, requires_grad=False), Node(y, requires_grad=False)

    def step() -> None:
        a = inputs
        for weight, bias in layers:
            a = SigmoidOp.apply(LinearOp.apply(a, weight, bias))
        loss = MSELossOp.apply(a, targets)
        for p in nodes:
            p.grad = None
        backward(loss)
        for p in nodes:
            p.data -= lr * p.grad

    return step
