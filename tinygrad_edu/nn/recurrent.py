"""Recurrent layers: a hidden state carried from one time step to the next.

At each step t a cell reads the input x_t and the hidden state h (its summary of x_1 …
x_t−1) and computes the next h. Three cells, with PyTorch's parameters: `weight_ih`
(gates·hidden, input), `weight_hh` (gates·hidden, hidden), `bias_ih` and `bias_hh`
(gates·hidden,), the gates stacked in PyTorch's order:

- RNN, one gate:  h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)   (or relu)
- GRU, r z n:     a reset gate r, an update gate z and candidate values n; h' mixes h and n
- LSTM, i f g o:  a memory cell c beside h, written through the input gate i, kept through
  the forget gate f, read through the output gate o; g holds the candidate values

Read `gru_step` and `lstm_step` first: each is a few lines, the equations in comments
(the LSTM's gate arithmetic is one op for speed, `LSTMCellOp` in ops/recurrent.py: its
forward and its gradient are written out side by side). The cells (`RNNCell`, `GRUCell`,
`LSTMCell`) run one step; the layers (`RNN`, `GRU`, `LSTM`) run a whole sequence, in stacked layers,
optionally in both directions, with a Python loop over time steps (each step needs the
previous step's h). RNN's and GRU's gradients come from the ops the steps are made of:
backpropagation through time is backward() walking that loop's graph. The LSTM layer runs
its loop inside one op, `LSTMLayerOp` (ops/recurrent.py), as PyTorch does: there the
backpropagation through time is written out, a loop from the last step back.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.nn.module import Module, Parameter, _not_a_tensor
from tinygrad_edu.ops import LSTMCellOp, LSTMLayerOp, cat, stack
from tinygrad_edu.tensor import DEFAULT_DTYPE, Tensor
from tinygrad_edu.utils import random_generator

Seed = int | np.random.Generator | None
State = Tensor | tuple[Tensor, Tensor]  # h, or (h, c) for an LSTM

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNCell",
           "gru_step", "lstm_step", "rnn_step"]


# ----------------------------------------------------------------------------------------
# One time step of each cell. `x_part` is the step's input part x W_ihᵀ + b_ih, shape
# (batch, gates·hidden), computed by the caller; h is (batch, hidden).
# ----------------------------------------------------------------------------------------
def rnn_step(x_part: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None,
             nonlinearity: str = "tanh") -> Tensor:
    """One step of the plain RNN: `h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)`."""
    z = x_part + functional.linear(h, weight_hh, bias_hh)
    return z.tanh() if nonlinearity == "tanh" else z.relu()


def gru_step(x_part: Tensor, h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None) -> Tensor:
    """One step of the GRU (gates r, z, n, as PyTorch orders them in the weights)."""
    hidden = h.shape[-1]
    h_part = functional.linear(h, weight_hh, bias_hh)  # h W_hhᵀ + b_hh, all three gates
    both = x_part[:, :2 * hidden] + h_part[:, :2 * hidden]
    r = both[:, :hidden].sigmoid()  # r = σ(W_ir x + b_ir + W_hr h + b_hr)   reset gate
    z = both[:, hidden:].sigmoid()  # z = σ(W_iz x + b_iz + W_hz h + b_hz)   update gate
    # n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))   candidate: r chooses how much of h
    n = (x_part[:, 2 * hidden:] + r * h_part[:, 2 * hidden:]).tanh()
    return n + z * (h - n)  # h' = (1 − z) ⊙ n + z ⊙ h: z keeps the old state, 1 − z takes n


def lstm_step(x_part: Tensor, state: tuple[Tensor, Tensor], weight_hh: Tensor,
              bias_hh: Tensor | None) -> tuple[Tensor, Tensor]:
    """One step of the LSTM (gates i, f, g, o, as PyTorch orders them); returns (h', c').
    The gate arithmetic is one op, `LSTMCellOp`: its equations are there."""
    h, c = state
    h_part = functional.linear(h, weight_hh, bias_hh)  # h W_hhᵀ + b_hh, the 4 gates' parts
    h_and_c = LSTMCellOp.apply(x_part, h_part, c)  # [h' | c'], (batch, 2·hidden)
    return h_and_c[:, :h.shape[-1]], h_and_c[:, h.shape[-1]:]


# ----------------------------------------------------------------------------------------
# What cells and layers share: the parameters, the checks
# ----------------------------------------------------------------------------------------
def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...], dtype: Any,
             name: str) -> Parameter:
    """PyTorch's start for every recurrent weight and bias: U(−1/√hidden, 1/√hidden)."""
    return Parameter(rng.uniform(-bound, bound, shape).astype(dtype), name=name)


def _check_dtype(layer: Module, t: Tensor, argument: str, weight: Tensor) -> None:
    if t.dtype != weight.dtype:
        raise TypeError(f"{layer!r}: {argument} is {t.dtype} but the weights are "
                        f"{weight.dtype}; convert it with .to({weight.dtype}) (or build the "
                        f"layer with dtype={t.dtype})")


def _check_state(layer: Module, t: Any, argument: str, expected: tuple[int, ...],
                 weight: Tensor) -> None:
    """An initial state of the expected shape and the weights' dtype."""
    if not isinstance(t, Tensor):
        raise _not_a_tensor(layer, t, argument)
    if t.shape != expected:
        raise RuntimeError(f"{layer!r}: {argument} must have shape {expected}, got {t.shape}")
    _check_dtype(layer, t, argument, weight)


GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


# ----------------------------------------------------------------------------------------
# The cells: one time step
# ----------------------------------------------------------------------------------------
class _CellBase(Module):
    """Parameters and input checks of RNNCell, GRUCell and LSTMCell."""

    kind = "RNN"

    def __init__(self, input_size: int, hidden_size: int, bias: bool, seed: Seed,
                 dtype: Any) -> None:
        name = type(self).__name__
        self.input_size = functional.whole_number(input_size, "input_size", name, 1)
        self.hidden_size = functional.whole_number(hidden_size, "hidden_size", name, 1)
        rng, rows = random_generator(seed), GATES[self.kind] * self.hidden_size
        bound = 1 / math.sqrt(self.hidden_size)
        self.weight_ih = _uniform(rng, bound, (rows, self.input_size), dtype, "weight_ih")
        self.weight_hh = _uniform(rng, bound, (rows, self.hidden_size), dtype, "weight_hh")
        self.bias_ih = _uniform(rng, bound, (rows,), dtype, "bias_ih") if bias else None
        self.bias_hh = _uniform(rng, bound, (rows,), dtype, "bias_hh") if bias else None

    def _batched(self, input: Any) -> tuple[Tensor, bool]:
        """input as (batch, input_size), and whether it came unbatched (input_size,)."""
        if not isinstance(input, Tensor):
            raise _not_a_tensor(self, input)
        if input.ndim not in (1, 2):
            raise ValueError(f"{self!r}: expected input of shape (batch, {self.input_size}) "
                             f"or ({self.input_size},), got {input.shape}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{self!r}: input.size(-1) must equal input_size "
                               f"{self.input_size}, got input of shape {input.shape}")
        _check_dtype(self, input, "input", self.weight_ih)
        return (input.unsqueeze(0), True) if input.ndim == 1 else (input, False)

    def _state(self, given: Any, argument: str, x: Tensor, unbatched: bool) -> Tensor:
        """The given h or c as (batch, hidden), checked; zeros when not given."""
        if given is None:
            return Tensor(np.zeros((x.shape[0], self.hidden_size), x.dtype))
        shape = (self.hidden_size,) if unbatched else (x.shape[0], self.hidden_size)
        _check_state(self, given, argument, shape, self.weight_ih)
        return given.unsqueeze(0) if unbatched else given

    def _x_part(self, x: Tensor) -> Tensor:
        return functional.linear(x, self.weight_ih, self.bias_ih)

    def extra_repr(self) -> str:
        """Sizes, and the bias when there is none, shown in the repr."""
        return f"{self.input_size}, {self.hidden_size}" + (
            ", bias=False" if self.bias_ih is None else "")


class RNNCell(_CellBase):
    """One step of the plain RNN: `h' = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)` (or relu).
    `weight_ih` (hidden, input), `weight_hh` (hidden, hidden), as PyTorch's."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", *, seed: Seed = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: unknown nonlinearity {nonlinearity!r}; choose 'tanh' "
                             "or 'relu'")
        super().__init__(input_size, hidden_size, bias, seed, dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """input (batch, input_size) or (input_size,), hx like it with hidden_size (zeros
        if not given) → the next hidden state h', of hx's shape."""
        x, unbatched = self._batched(input)
        h = rnn_step(self._x_part(x), self._state(hx, "hx", x, unbatched), self.weight_hh,
                     self.bias_hh, self.nonlinearity)
        return h.squeeze(0) if unbatched else h

    def extra_repr(self) -> str:
        """Sizes, bias and nonlinearity, shown in the repr."""
        extra = "" if self.nonlinearity == "tanh" else f", nonlinearity={self.nonlinearity}"
        return super().extra_repr() + extra


class GRUCell(_CellBase):
    """One step of the GRU (see `gru_step`): `weight_ih` (3·hidden, input) and `weight_hh`
    (3·hidden, hidden) hold the gates r, z, n one under the other, as PyTorch's."""

    kind = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        super().__init__(input_size, hidden_size, bias, seed, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        """input (batch, input_size) or (input_size,), hx like it with hidden_size (zeros
        if not given) → the next hidden state h', of hx's shape."""
        x, unbatched = self._batched(input)
        h = gru_step(self._x_part(x), self._state(hx, "hx", x, unbatched), self.weight_hh,
                     self.bias_hh)
        return h.squeeze(0) if unbatched else h


class LSTMCell(_CellBase):
    """One step of the LSTM (see `lstm_step`): `weight_ih` (4·hidden, input) and
    `weight_hh` (4·hidden, hidden) hold the gates i, f, g, o one under the other."""

    kind = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, *,
                 seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        super().__init__(input_size, hidden_size, bias, seed, dtype)

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None
                ) -> tuple[Tensor, Tensor]:
        """input (batch, input_size) or (input_size,), hx = (h, c) like it with hidden_size
        (zeros if not given) → (h', c')."""
        x, unbatched = self._batched(input)
        h0, c0 = _pair_of_states(self, hx)
        h, c = lstm_step(self._x_part(x), (self._state(h0, "hx[0]", x, unbatched),
                                           self._state(c0, "hx[1]", x, unbatched)),
                         self.weight_hh, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


def _pair_of_states(layer: Module, hx: Any) -> tuple[Any, Any]:
    """An LSTM's (h, c), or (None, None) when not given."""
    if hx is None:
        return None, None
    if not isinstance(hx, (tuple, list)) or len(hx) != 2:
        raise TypeError(f"{layer!r}: hx must be a tuple (h, c) of two Tensors, got "
                        f"{type(hx).__name__}")
    return hx[0], hx[1]


# ----------------------------------------------------------------------------------------
# The layers: whole sequences, stacked, in one or both directions
# ----------------------------------------------------------------------------------------
class _RecurrentBase(Module):
    """What RNN, GRU and LSTM share: the parameters of every layer and direction, named
    as PyTorch's (`weight_ih_l0`, …, `bias_hh_l1_reverse`), and the loop over them."""

    kind = "RNN"
    nonlinearity = "tanh"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int, bias: bool,
                 batch_first: bool, dropout: float, bidirectional: bool, seed: Seed,
                 dtype: Any) -> None:
        name = type(self).__name__
        self.input_size = functional.whole_number(input_size, "input_size", name, 1)
        self.hidden_size = functional.whole_number(hidden_size, "hidden_size", name, 1)
        self.num_layers = functional.whole_number(num_layers, "num_layers", name, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0 <= dropout <= 1):
            raise ValueError(f"{name}: dropout must be a number in [0, 1] (the probability "
                             f"of zeroing each output of a layer but the last), got {dropout!r}")
        if dropout > 0 and self.num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between stacked layers only, and "
                          "num_layers=1 has none; it does nothing here", UserWarning,
                          stacklevel=3)
        self.bias, self.batch_first = bool(bias), bool(batch_first)
        self.dropout, self.bidirectional = float(dropout), bool(bidirectional)
        self.directions = 2 if bidirectional else 1
        rng, rows = random_generator(seed), GATES[self.kind] * self.hidden_size
        bound = 1 / math.sqrt(self.hidden_size)
        for layer in range(self.num_layers):  # (PyTorch's order: layer, direction, kind)
            inputs = self.input_size if layer == 0 else self.hidden_size * self.directions
            for suffix in ("", "_reverse")[:self.directions]:
                shapes: dict[str, tuple[int, ...]] = {"weight_ih": (rows, inputs),
                                                      "weight_hh": (rows, self.hidden_size)}
                if bias:
                    shapes.update(bias_ih=(rows,), bias_hh=(rows,))
                for kind, shape in shapes.items():
                    key = f"{kind}_l{layer}{suffix}"
                    setattr(self, key, _uniform(rng, bound, shape, dtype, key))

    def _weights(self, k: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """W_ih, W_hh, b_ih, b_hh of layer k // directions, direction k % directions."""
        key = f"l{k // self.directions}" + ("_reverse" if k % self.directions else "")
        return (getattr(self, f"weight_ih_{key}"), getattr(self, f"weight_hh_{key}"),
                getattr(self, f"bias_ih_{key}", None), getattr(self, f"bias_hh_{key}", None))

    def _step(self) -> Callable[..., Any]:
        return lambda x, h, w, b: rnn_step(x, h, w, b, self.nonlinearity)

    def _time_major(self, input: Any) -> tuple[Tensor, bool]:
        """input as (L, batch, input_size), and whether it came unbatched (L, input_size)."""
        if not isinstance(input, Tensor):
            raise _not_a_tensor(self, input)
        layout = "(batch, L, input_size)" if self.batch_first else "(L, batch, input_size)"
        if input.ndim not in (2, 3):
            raise ValueError(f"{self!r}: expected input of shape {layout} or (L, input_size),"
                             f" got {input.shape}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{self!r}: input.size(-1) must equal input_size "
                               f"{self.input_size}, got input of shape {input.shape}")
        if input.shape[-2 if input.ndim == 3 and self.batch_first else 0] == 0:
            raise ValueError(f"{self!r}: the sequence is empty (input of shape "
                             f"{input.shape}); there is no step to run")
        _check_dtype(self, input, "input", self._weights(0)[0])
        if input.ndim == 2:
            return input.unsqueeze(1), True
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _initial(self, given: Any, argument: str, batch: int, unbatched: bool,
                 dtype: Any) -> list[Tensor]:
        """The initial h (or c) of each layer and direction, (batch, hidden) each."""
        layers = self.num_layers * self.directions
        if given is None:
            zeros = Tensor(np.zeros((batch, self.hidden_size), dtype))
            return [zeros] * layers
        shape = (layers, self.hidden_size) if unbatched else (layers, batch, self.hidden_size)
        _check_state(self, given, argument, shape, self._weights(0)[0])
        return list((given.unsqueeze(1) if unbatched else given).unbind(0))

    def _run(self, inputs: list[Tensor], state: State, k: int) -> tuple[list[Tensor], State]:
        """Layer-direction k over the sequence `inputs` (L tensors (batch, features)): its
        outputs h_t (L tensors (batch, hidden)) and its final state."""
        weight_ih, weight_hh, bias_ih, bias_hh = self._weights(k)
        step, length = self._step(), len(inputs)
        outputs: list[Any] = [None] * length
        reverse = k % self.directions == 1  # the second direction reads from the end
        for t in (reversed(range(length)) if reverse else range(length)):
            x_part = functional.linear(inputs[t], weight_ih, bias_ih)  # x_t W_ihᵀ + b_ih
            state = step(x_part, state, weight_hh, bias_hh)
            outputs[t] = state[0] if isinstance(state, tuple) else state
        return outputs, state

    def _layers(self, x: Tensor, states: list[State]) -> tuple[Tensor, list[State]]:
        """Every layer in turn, each direction of it over the previous layer's outputs.

        The sequence is kept as a list of time steps, split once and stacked once at the
        end: each step's input part is its own small product. (PyTorch makes the input
        parts of all steps in one product before the loop. With a loop of ops that
        measured 7–12% slower for bench/layers.py's GRU: each step's slice of the big
        product has a gradient of the whole product's size (a slice's backward knows no
        other), so backward adds up L such arrays. The LSTM runs its loop inside one op,
        `LSTMLayerOp`, which takes no slices: it makes the one product.)"""
        steps, finals = list(x.unbind(0)), []
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                steps = [_dropout(step, self.dropout) for step in steps]
            outputs = []
            for k in range(layer * self.directions, (layer + 1) * self.directions):
                output, final = self._run(steps, states[k], k)
                outputs.append(output)
                finals.append(final)
            steps = (outputs[0] if len(outputs) == 1  # two directions: side by side
                     else [cat(pair, -1) for pair in zip(*outputs, strict=True)])
        return stack(steps), finals

    def _output(self, output: Tensor, unbatched: bool) -> Tensor:
        if unbatched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """input (L, batch, input_size) ((batch, L, input_size) with batch_first, or (L,
        input_size) unbatched), h0 (num_layers·directions, batch, hidden) or zeros →
        (output, h_n): output holds the last layer's h_t at every step, (L, batch,
        directions·hidden) (batch first with batch_first); h_n the final h of every layer
        and direction, of h0's shape."""
        x, unbatched = self._time_major(input)
        states = self._initial(hx, "h0", x.shape[1], unbatched, x.dtype)
        output, finals = self._layers(x, list(states))
        h_n = stack(finals)  # type: ignore[arg-type]
        return self._output(output, unbatched), (h_n.squeeze(1) if unbatched else h_n)

    def extra_repr(self) -> str:
        """The arguments that differ from the defaults, shown in the repr."""
        text = f"{self.input_size}, {self.hidden_size}"
        defaults = {"num_layers": 1, "nonlinearity": "tanh", "bias": True,
                    "batch_first": False, "dropout": 0.0, "bidirectional": False}
        for name, default in defaults.items():
            if getattr(self, name) != default:
                text += f", {name}={getattr(self, name)}"
        return text


def _dropout(x: Tensor, p: float) -> Tensor:
    """Dropout between stacked layers, drawn from the default generator (`manual_seed`);
    p = 1 zeroes everything, as PyTorch."""
    return x * 0 if p == 1 else functional.dropout(x, p, True)


class RNN(_RecurrentBase):
    """The plain RNN over a sequence, `h_t = tanh(x_t W_ihᵀ + b_ih + h_t−1 W_hhᵀ + b_hh)`
    (or relu), in `num_layers` stacked layers, each reading the one below's h_t.
    Parameters `weight_ih_l0` (hidden, input_size), `weight_hh_l0` (hidden, hidden),
    `bias_ih_l0`, `bias_hh_l0`, then `…_l1` (input 2·hidden when bidirectional) and
    `…_reverse` for the backward direction: PyTorch's names and layouts."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, *, seed: Seed = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: unknown nonlinearity {nonlinearity!r}; choose 'tanh' or "
                             "'relu'")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, seed, dtype)


class GRU(_RecurrentBase):
    """The GRU over a sequence (each step as `gru_step`), in `num_layers` stacked layers.
    `weight_ih_l0` (3·hidden, input_size) and `weight_hh_l0` (3·hidden, hidden) hold the
    gates r, z, n one under the other; names, layouts and gate order are PyTorch's."""

    kind = "GRU"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, *, seed: Seed = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, seed, dtype)

    def _step(self) -> Callable[..., Any]:
        return gru_step


class LSTM(_RecurrentBase):
    """The LSTM over a sequence (each step as `lstm_step`), in `num_layers` stacked layers.
    `weight_ih_l0` (4·hidden, input_size) and `weight_hh_l0` (4·hidden, hidden) hold the
    gates i, f, g, o one under the other; names, layouts and gate order are PyTorch's."""

    kind = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, *, seed: Seed = None,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        if proj_size != 0:
            raise ValueError(f"LSTM: proj_size={proj_size} is not supported (PyTorch projects "
                             "h inside the recurrence); use proj_size=0, or a GRU/LSTM of "
                             "hidden_size=proj_size")
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, seed, dtype)

    def _layers(self, x: Tensor, states: list[State]) -> tuple[Tensor, list[State]]:
        """Every layer in turn, each direction of it one op over the whole sequence x (L,
        batch, features) below, as PyTorch runs an LSTM."""
        finals: list[State] = []
        for layer in range(self.num_layers):
            if layer > 0 and self.training and self.dropout > 0:
                x = _dropout(x, self.dropout)
            outputs = []
            for k in range(layer * self.directions, (layer + 1) * self.directions):
                output, final = self._run_layer(x, states[k], k)
                outputs.append(output)
                finals.append(final)
            x = outputs[0] if len(outputs) == 1 else cat(outputs, -1)  # directions side by side
        return x, finals

    def _run_layer(self, x: Tensor, state: State, k: int) -> tuple[Tensor, State]:
        """Layer-direction k over the sequence x (L, batch, features): its h_t at every
        step (L, batch, hidden) and its final (h, c)."""
        weight_ih, weight_hh, bias_ih, bias_hh = self._weights(k)
        # b_ih and b_hh add to every step's sums alike: one bias, their sum
        biases = [] if bias_ih is None or bias_hh is None else [bias_ih + bias_hh]
        reverse = k % self.directions == 1  # the second direction reads from the end:
        if reverse:  # the same loop over the sequence flipped in time
            x = x.flip(0)
        h0, c0 = state  # type: ignore[misc]
        hs_and_cs = LSTMLayerOp.apply(x, h0, c0, weight_ih, weight_hh, *biases)  # (2, L, …)
        hs = hs_and_cs[0].flip(0) if reverse else hs_and_cs[0]
        return hs, (hs_and_cs[0, -1], hs_and_cs[1, -1])  # the state after the last step

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None  # type: ignore[override]
                ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """input (L, batch, input_size) ((batch, L, input_size) with batch_first, or (L,
        input_size) unbatched), hx = (h0, c0), each (num_layers·directions, batch, hidden),
        or zeros → (output, (h_n, c_n)): output holds the last layer's h_t at every step,
        (L, batch, directions·hidden); h_n and c_n the final states, of h0's shape."""
        x, unbatched = self._time_major(input)
        h0, c0 = _pair_of_states(self, hx)
        hs = self._initial(h0, "h0", x.shape[1], unbatched, x.dtype)
        cs = self._initial(c0, "c0", x.shape[1], unbatched, x.dtype)
        output, finals = self._layers(x, list(zip(hs, cs, strict=True)))
        h_n, c_n = (stack([state[i] for state in finals]) for i in (0, 1))
        if unbatched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._output(output, unbatched), (h_n, c_n)
