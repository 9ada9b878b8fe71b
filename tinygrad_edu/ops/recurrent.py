"""Recurrent cells' arithmetic fused into one op where composing small ops costs more in
Python than in arithmetic: the LSTM's gates (nn/recurrent.py builds the layers on it).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import tangent_sum
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
        gates = _activated_gates(x_part + h_part)  # [i | f | g | o]
        i, f, g, o = _four(gates)
        c_next = f * c + i * g  # c' = f ⊙ c + i ⊙ g: keep part of the memory, write part of g
        tanh_c = np.tanh(c_next)
        self.saved = gates, tanh_c
        return np.concatenate((o * tanh_c, c_next), axis=-1)  # h' = o ⊙ tanh(c')

    # With dh, dc the gradients of h' and c': c' reaches the cost directly and through h',
    # so dc' = dc + dh ⊙ o ⊙ (1 − tanh² c'); then the gates' gradients are
    # [dc' ⊙ g | dc' ⊙ c | dc' ⊙ i | dh ⊙ tanh c'], and each sum's is its gate's times the
    # gate's slope (σ' = σ(1 − σ), tanh' = 1 − tanh²); both parts of the sums get that same
    # gradient, and the old memory dc' ⊙ f.
    def backward(self, grad, out, x_part, h_part, c):
        i, f, g, o, tanh_c, slopes = self._saved(x_part, h_part, c)
        hidden = c.shape[-1]
        dh, dc = grad[..., :hidden], grad[..., hidden:]
        dc = dc + dh * o * (1 - tanh_c * tanh_c)
        dsums = _side_by_side(dc * g, dc * c, dc * i, dh * tanh_c) * slopes
        return dsums, dsums, dc * f

    # With dx, dh, dc the tangents of x_part, h_part, c: the sums move by dx + dh, each gate
    # by its slope (σ' = σ(1 − σ), tanh' = 1 − tanh²) times its sum's move: di, df, dg, do;
    # then the product rule: dc' = df ⊙ c + f ⊙ dc + di ⊙ g + i ⊙ dg,
    # dh' = do ⊙ tanh c' + o ⊙ (1 − tanh² c') ⊙ dc'
    def jvp(self, tangents, out, x_part, h_part, c):
        i, f, g, o, tanh_c, slopes = self._saved(x_part, h_part, c)
        dsums = tangent_sum(slopes.shape, tangents[0], tangents[1])
        dc = None if tangents[2] is None else f * tangents[2]  # (None: c does not move)
        if dsums is not None:
            di, df, dg, do = _four(dsums * slopes)
            dc = tangent_sum(c.shape, dc, df * c + di * g + i * dg)
        dh = dc * o * (1 - tanh_c * tanh_c)
        if dsums is not None:
            dh = dh + do * tanh_c
        return _side_by_side(dh, dc)

    def _saved(self, x_part: Any, h_part: Any, c: Any) -> tuple[Any, ...]:
        """i, f, g, o, tanh c' and the gates' slopes side by side: from forward's arrays,
        or recomputed with Tensor ops when the rules run on Tensors (a graph)."""
        if isinstance(c, Tensor):
            return _recomputed(x_part + h_part, c)
        gates, tanh_c = self.saved
        i, f, g, o = _four(gates)
        slopes = gates * (1 - gates)  # σ' = σ(1 − σ) for i, f, o;
        slopes[..., 2 * c.shape[-1]:3 * c.shape[-1]] = 1 - g * g  # tanh' = 1 − tanh² for g
        return i, f, g, o, tanh_c, slopes


def _activated_gates(sums: np.ndarray) -> np.ndarray:
    """[i | f | g | o] from the four sums side by side: i, f, o = σ(their sums) (input,
    forget, output gates), g = tanh(its sum) (candidate values)."""
    hidden = sums.shape[-1] // 4
    gates = _sigmoid(sums)  # (one call for the three sigmoid gates; then g's block:)
    np.tanh(sums[..., 2 * hidden:3 * hidden], out=gates[..., 2 * hidden:3 * hidden])
    return gates


def _four(gates: Any) -> tuple[Any, ...]:
    """The four blocks i, f, g, o of an array (or Tensor) laid out [i | f | g | o]."""
    hidden = gates.shape[-1] // 4
    return (gates[..., :hidden], gates[..., hidden:2 * hidden],
            gates[..., 2 * hidden:3 * hidden], gates[..., 3 * hidden:])


def _side_by_side(*parts: Any) -> Any:
    """The parts joined along the last axis (arrays or Tensors)."""
    return cat(parts, -1) if isinstance(parts[0], Tensor) else np.concatenate(parts, axis=-1)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return SigmoidOp().forward(z)  # (the engine's stable σ, on an array)


def _recomputed(sums: Tensor, c: Tensor) -> tuple[Tensor, ...]:
    """What `_saved` gives, recomputed with Tensor ops (backward with create_graph=True,
    forward mode on Tensors)."""
    i, f, g, o = sums.chunk(4, -1)
    i, f, g, o = i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()
    slopes = cat((i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)), -1)
    return i, f, g, o, (f * c + i * g).tanh(), slopes
