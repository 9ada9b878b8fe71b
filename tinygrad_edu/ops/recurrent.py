"""Recurrent cells' arithmetic fused into one op where composing small ops costs more in
Python than in arithmetic: the LSTM's gates (nn/recurrent.py builds the layers on it).
"""

from __future__ import annotations

import numpy as np

from tinygrad_edu.ops.activations import SigmoidOp
from tinygrad_edu.ops.shape import cat
from tinygrad_edu.tensor import Function, Tensor

__all__ = ["LSTMCellOp"]


class LSTMCellOp(Function):
    """The LSTM's gate arithmetic as one op: from the input's and the hidden state's parts
    of the gates' sums, x W_ihᵀ + b_ih and h W_hhᵀ + b_hh (batch, 4·hidden) each, for the
    gates i, f, g, o side by side, and the memory c (batch, hidden) → `[h' | c']` (batch,
    2·hidden). One op where the same math written with Tensor ops takes twelve: a step's
    time goes to Python's work per op, not to the arithmetic (bench/layers.py's LSTM ran
    1.25× faster for it)."""

    name = "lstm_cell"

    def forward(self, x_part, h_part, c):
        i, f, g, o = _activated_gates(x_part + h_part)
        c_next = f * c + i * g  # c' = f ⊙ c + i ⊙ g: keep part of the memory, write part of g
        tanh_c = np.tanh(c_next)
        self.saved = i, f, g, o, tanh_c
        return np.concatenate((o * tanh_c, c_next), axis=-1)  # h' = o ⊙ tanh(c')

    # With dh, dc the gradients of h' and c': c' reaches the cost directly and through h',
    # so dc' = dc + dh ⊙ o ⊙ (1 − tanh² c'); then di = dc' ⊙ g ⊙ i(1 − i),
    # df = dc' ⊙ c ⊙ f(1 − f), dg = dc' ⊙ i ⊙ (1 − g²), do = dh ⊙ tanh c' ⊙ o(1 − o) (each
    # gate's derivative, σ' = σ(1 − σ) and tanh' = 1 − tanh², times the sum's gradient);
    # both parts of the sums get that same gradient, and the old memory dc' ⊙ f.
    def backward(self, grad, out, x_part, h_part, c):
        i, f, g, o, tanh_c = (self.saved if isinstance(c, np.ndarray)
                              else _recomputed(x_part + h_part, c))  # (Tensors: a graph)
        hidden = c.shape[-1]
        dh, dc = grad[..., :hidden], grad[..., hidden:]
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        parts = (dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                 dh * tanh_c * o * (1 - o))
        dgates = cat(parts, -1) if isinstance(c, Tensor) else np.concatenate(parts, axis=-1)
        return dgates, dgates, dc * f


def _activated_gates(gates: np.ndarray) -> tuple[np.ndarray, ...]:
    """i, f, o = σ(their sums) (input, forget, output gates), g = tanh(its sum) (candidate
    values), from the four sums side by side."""
    hidden = gates.shape[-1] // 4
    ifo = _sigmoid(gates)  # (one call for the three sigmoid gates; g's block goes unused)
    g = np.tanh(gates[..., 2 * hidden:3 * hidden])
    return ifo[..., :hidden], ifo[..., hidden:2 * hidden], g, ifo[..., 3 * hidden:]


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return SigmoidOp().forward(z)  # (the engine's stable σ, on an array)


def _recomputed(gates: Tensor, c: Tensor) -> tuple[Tensor, ...]:
    """What forward saved, recomputed with Tensor ops (backward with create_graph=True)."""
    i, f, g, o = gates.chunk(4, -1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    return i, f, g, o, (f * c + i * g).tanh()
