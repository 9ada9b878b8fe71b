"""Recurrent arithmetic fused into one op where composing small ops costs more in Python
than in arithmetic: the LSTM's gates for one step (`LSTMCellOp`, what nn.LSTMCell runs),
and a whole LSTM layer's loop over time (`LSTMLayerOp`, what nn.LSTM runs, as PyTorch and
cuDNN run a layer: backpropagation through time written out).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_edu.ops import sum_rows, tangent_sum
from tinygrad_edu.ops.activations import SigmoidOp
from tinygrad_edu.ops.products import _dot
from tinygrad_edu.ops.shape import cat, stack
from tinygrad_edu.tensor import Function, Tensor

__all__ = ["LSTMCellOp", "LSTMLayerOp"]


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


class LSTMLayerOp(Function):
    """A whole LSTM layer over a sequence as one op, as PyTorch and cuDNN run it: the input
    x (L, batch, input), the first state h0, c0 (batch, hidden), W_ih (4·hidden, input), W_hh
    (4·hidden, hidden) and the bias b = b_ih + b_hh (4·hidden,) → every step's h_t and c_t,
    (2, L, batch, hidden): out[0] holds the h's, out[1] the c's. Each step is LSTMCellOp's
    arithmetic on the gates' sums x_t W_ihᵀ + b + h_t−1 W_hhᵀ; the x parts of all steps are
    one product, made before the loop. Why one op: run as ops, each step took six (slices,
    products, cell), and bench/layers.py's LSTM spent its time on Python's work per op and
    on fresh memory for the slices' gradients, not on the arithmetic."""

    name = "lstm_layer"

    def forward(self, x, h0, c0, weight_ih, weight_hh, bias=None):
        # every step's x part x_t W_ihᵀ (+ b), (L, batch, 4·hidden); the loop makes it the
        gates = _dot(_rows(x), weight_ih.T).reshape(*x.shape[:-1], -1)  # gates [i | f | g | o]
        if bias is not None:  # in place, step by step
            gates += bias
        out = np.empty((2, len(x), *h0.shape), gates.dtype)  # [h_1 … h_L], [c_1 … c_L]
        h, c, w = h0, c0, weight_hh.T
        for t in range(len(x)):
            gates[t] = _activated_gates(gates[t] + np.dot(h, w))  # sums: x part + h W_hhᵀ
            i, f, g, o = _four(gates[t])
            c = out[1, t] = f * c + i * g  # c_t = f ⊙ c_t−1 + i ⊙ g
            h = out[0, t] = o * np.tanh(c)  # h_t = o ⊙ tanh c_t
        self.saved = gates  # (tanh c_t is recomputed step by step: less memory to touch)
        return out

    # Backpropagation through time, from the last step back. h_t reaches the cost directly
    # (grad[0][t]) and through step t+1 (dh, carried back), c_t likewise; within a step as in
    # LSTMCellOp.backward: dc_t gains dh_t ⊙ o ⊙ (1 − tanh² c_t), the sums' gradient is
    # dsums_t = [dc ⊙ g | dc ⊙ c_t−1 | dc ⊙ i | dh ⊙ tanh c_t] ⊙ the gates' slopes, and step
    # t−1 gets dc_t ⊙ f for its c and dsums_t W_hh for its h. Then as a linear layer's:
    # x_t gets dsums_t W_ih, W_ih Σ_t dsums_tᵀ x_t, W_hh Σ_t dsums_tᵀ h_t−1, b Σ_t dsums_t.
    def backward(self, grad, out, x, h0, c0, weight_ih, weight_hh, bias=None):
        gates = self._gates(out, x, h0, weight_ih, weight_hh, bias)
        (hs, cs), (from_h, from_c), needs = out, grad, self.needs_input_grad
        dsums = [None] * len(gates)
        dh = dc = 0  # (nothing comes back from after the last step)
        for t in reversed(range(len(gates))):
            i, f, g, o = _four(gates[t])
            tanh_c = _tanh(cs[t])
            dh = from_h[t] + dh
            dc = from_c[t] + dc + dh * o * (1 - tanh_c * tanh_c)
            dsums[t] = _side_by_side(dc * g, dc * _before(c0, cs, t), dc * i,
                                     dh * tanh_c) * _slopes(gates[t])
            dh, dc = dsums[t] @ weight_hh, dc * f
        all_dsums = _stacked(dsums)  # (L, batch, 4·hidden)
        dx = _dot(_rows(all_dsums), weight_ih).reshape(x.shape) if needs[0] else None
        dweight_ih = _dot(_rows(all_dsums).T, _rows(x)) if needs[3] else None
        dweight_hh = None
        if needs[4]:  # step 0 started from h0, the others from h_1 … h_L−1
            dweight_hh = _dot(dsums[0].T, h0) + _dot(_rows(all_dsums[1:]).T, _rows(hs[:-1]))
        if bias is None:
            return dx, dh, dc, dweight_ih, dweight_hh
        return dx, dh, dc, dweight_ih, dweight_hh, sum_rows(_rows(all_dsums)) if needs[5] else None

    # The tangent recurrence, from the first step on. With the state's tangents dh, dc
    # carried forward (dh0, dc0 at the start), the sums move by
    # dsums = dx_t W_ihᵀ + x_t dW_ihᵀ + db + dh_t−1 W_hhᵀ + h_t−1 dW_hhᵀ, each gate by its
    # slope times its sum's move (di, df, dg, do); then the product rule:
    # dc_t = df ⊙ c_t−1 + f ⊙ dc_t−1 + di ⊙ g + i ⊙ dg,
    # dh_t = do ⊙ tanh c_t + o ⊙ (1 − tanh² c_t) ⊙ dc_t.
    def jvp(self, tangents, out, x, h0, c0, weight_ih, weight_hh, bias=None):
        gates = self._gates(out, x, h0, weight_ih, weight_hh, bias)
        (hs, cs), (dx, dh, dc, dw_ih, dw_hh, db) = out, (*tangents, None)[:6]
        dh = 0 * h0 if dh is None else dh  # (None: that input does not move)
        dc = 0 * c0 if dc is None else dc
        moved_h, moved_c = [], []
        for t in range(len(gates)):
            i, f, g, o = _four(gates[t])
            tanh_c = _tanh(cs[t])
            dsums = tangent_sum(gates[t].shape, dh @ weight_hh.T, db,
                                None if dx is None else dx[t] @ weight_ih.T,
                                None if dw_ih is None else x[t] @ dw_ih.T,
                                None if dw_hh is None else _before(h0, hs, t) @ dw_hh.T)
            di, df, dg, do = _four(dsums * _slopes(gates[t]))
            dc = df * _before(c0, cs, t) + f * dc + di * g + i * dg
            dh = do * tanh_c + o * (1 - tanh_c * tanh_c) * dc
            moved_h.append(dh)
            moved_c.append(dc)
        return _stacked([_stacked(moved_h), _stacked(moved_c)])

    def _gates(self, out: Any, x: Any, h0: Any, weight_ih: Any, weight_hh: Any,
               bias: Any) -> Any:
        """Every step's gates [i | f | g | o] (L, batch, 4·hidden): forward's array, or
        recomputed with Tensor ops from the states in `out` when the rules run on Tensors
        (a graph): all steps at once, as each step's h_t−1 is known."""
        if not isinstance(h0, Tensor):
            return self.saved
        h_before = cat((h0.unsqueeze(0), out[0][:-1]), 0)  # h0, h_1, …, h_L−1
        sums = x @ weight_ih.T + h_before @ weight_hh.T
        i, f, g, o = (sums if bias is None else sums + bias).chunk(4, -1)
        return cat((i.sigmoid(), f.sigmoid(), g.tanh(), o.sigmoid()), -1)


def _before(first: Any, states: Any, t: int) -> Any:
    """The state step t starts from: the first state at t = 0, else the one step t−1 made."""
    return first if t == 0 else states[t - 1]


def _slopes(gates: Any) -> Any:
    """The slopes of the gates [i | f | g | o], side by side: σ' = σ(1 − σ) for i, f, o,
    tanh' = 1 − tanh² for g (from the gates themselves: σ and tanh of the sums)."""
    i, f, g, o = _four(gates)
    if isinstance(gates, Tensor):
        return cat((i * (1 - i), f * (1 - f), 1 - g * g, o * (1 - o)), -1)
    slopes = gates * (1 - gates)  # (one call for all four blocks: 15% faster backward)
    slopes[..., 2 * g.shape[-1]:3 * g.shape[-1]] = 1 - g * g  # then g's block
    return slopes


def _tanh(value: Any) -> Any:
    return value.tanh() if isinstance(value, Tensor) else np.tanh(value)


def _stacked(parts: list[Any]) -> Any:
    """Arrays (or Tensors) of one shape stacked along a new first axis."""
    return stack(parts) if isinstance(parts[0], Tensor) else np.stack(parts)


def _rows(a: Any) -> Any:
    """(L, batch, n) as (L·batch, n): every step's rows one under the other."""
    return a.reshape(-1, a.shape[-1])


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
