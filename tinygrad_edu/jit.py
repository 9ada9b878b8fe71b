"""Replay: record one call of a step, then re-run only its numpy work (tinygrad's TinyJit idea).

Eager mode builds the graph again on every call: a Tensor per value, a Function per op, a
heap walk in backward, checks. A training step builds the *same* graph every time, so

    @tg.jit
    def train_step(x, y): ...           # forward, backward, optimizer step

runs the first call with given input shapes eagerly while listening: every op's forward,
each op's backward in the order backward ran them, where each gradient went and where
shares were added, and the optimizer calls. Later calls with the same shapes replay that
list on the new arrays: the same `forward`/`backward` methods on the same numbers, in the
same order, so the results are identical, without building a graph. New shapes (the last,
smaller batch) get their own record.

What a replay cannot see is refused or re-recorded, never replayed wrong: hooks,
retain_grad, grad(), in-place changes and detect_anomaly/trace inside the step raise;
replacing a module's parameters (or freezing one) re-records. Python control flow, and
values read inside the step (`.item()`, `if` on a tensor: warned about when recording;
`.data`: not seen), are frozen as they were when recording, as in TinyJit and
`torch.jit.trace`. Optimizer steps, schedule steps and gradient clipping (nn.utils) are
calls every replay makes again; an op on a `.grad` inside the step is refused.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Function, Observers, Recording, Tensor, observing

# the engine module itself, for its counters (tinygrad_edu.tensor is also tg.tensor(), the function)
engine = importlib.import_module("tinygrad_edu.tensor")

__all__ = ["Jit", "JitWarning", "jit"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


Slots = list  # one replay's values: arrays, the Tensors that receive gradients, sets


class JitWarning(UserWarning):
    """Something in a recorded step is frozen at its recorded value."""


def jit(function: Callable[..., Any]) -> Jit:
    """Decorator: record `function` once per input signature, replay it afterwards."""
    return Jit(function)


class Jit:
    """A function with its records, one per signature (shapes, dtypes, grad mode...)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.records: dict[tuple, Record] = {}
        # Replays reuse one set of op objects, which keep what forward saved for backward:
        # two threads replaying at once would read each other's. So one call at a time per
        # jitted function (uncontended, the lock costs ~0.1 µs of a ~50 µs step).
        self.lock = threading.RLock()
        functools.update_wrapper(self, function)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs:  # bound to their positions: a record is keyed on positional arguments
            args = _positional(self.function, args, kwargs)
        if Recording.active is not None:  # called inside another recording: part of it
            return self.function(*args)
        key = _signature(args)
        with self.lock:
            record = self.records.get(key)
            if record is not None and record.model_changes == engine._model_changes and (
                    record.hooks_registered == engine._hooks_registered
                    or not record.has_hooks()):
                return record.replay(args)
            record = Record(self.function, args)  # runs the step eagerly once
            self.records[key] = record
            return record.result

    def reset(self) -> None:
        """Forget every record: the next call records again."""
        self.records.clear()


def _positional(function: Callable[..., Any], args: tuple, kwargs: dict) -> tuple:
    """step(x, y=y) as step(x, y), by the function's signature."""
    try:
        bound = inspect.signature(function).bind(*args, **kwargs)
    except TypeError as err:
        raise TypeError(f"jit: {getattr(function, '__name__', 'the step')}: {err}") from None
    if bound.kwargs:  # (a **kwargs parameter: no position to put them in)
        raise TypeError(f"jit: pass {', '.join(bound.kwargs)} by position; a record is "
                        "made for the step's positional arguments")
    return bound.args


def _signature(args: tuple) -> tuple:
    """What a record depends on besides the model: each argument's shape, dtype and
    requires_grad (other arguments by value), and grad mode."""
    key: list[Any] = [engine._GradMode.enabled]
    for position, a in enumerate(args):
        if isinstance(a, Tensor):
            key.append((a.data.shape, a.data.dtype, a.requires_grad))
        elif isinstance(a, np.ndarray):
            raise TypeError("jit: pass arrays as Tensor(array): a plain array would be "
                            "frozen into the record")
        elif isinstance(a, (list, tuple, dict, set)):
            raise TypeError(f"jit: argument {position} is a {type(a).__name__}; a replay reads "
                            "Tensors passed as arguments of their own: pass them one by one "
                            "(step(*tensors)), or make the list inside the step")
        else:
            try:  # a number, a string, None...: part of the key, so it must be hashable
                hash(a)
            except TypeError:
                raise TypeError(f"jit: argument {position} ({type(a).__name__}) cannot key a "
                                "record; pass Tensors, numbers or strings") from None
            key.append(a)
    return tuple(key)


class Record:
    """One recorded call: `program` is a list of small functions, each reading its inputs
    from a list of slots (arrays, and the Tensors that receive gradients) and writing its
    result into another slot."""

    def __init__(self, function: Callable[..., Any], args: tuple) -> None:
        if engine._observers_anywhere and (Observers.forward or Observers.backward):
            raise RuntimeError("jit: detect_anomaly() or viz.trace() is active; they watch "
                               "ops, which a replay does not run. Call the undecorated "
                               "function (step.function) inside them")
        self.template: Slots = []  # constants; the other slots are filled per replay
        self.slots: dict[int, int] = {}  # id(tensor) → the slot of its array
        self.tensor_slots: dict[int, int] = {}  # id(tensor) → the slot of the Tensor itself
        self.program: list[Callable[[Slots], None]] = []
        self.externals: list[tuple[int, Tensor]] = []  # made before the step: read each time
        self.leaves: list[Tensor] = []  # tensors made before the step that get gradients
        self.ops: dict[int, tuple[Function, int]] = {}  # id(eager op) → (replay op, slot)
        self.pending: dict[int, list[int]] = {}  # id(tensor) → slots of its gradient shares
        self.values: dict[int, Any] = {}  # slot → array seen while recording (for checks)
        self.keep: list[Any] = list(args)  # alive until the end, so ids stay unique
        self.reads: list[str] = []
        self.start = next(engine._creation_counter)
        self.arguments = [(self._new_slot(a), self._tensor_slot(a), i)
                          for i, a in enumerate(args) if isinstance(a, Tensor)]
        self.argument_arrays = {id(args[i].data): slot for slot, _, i in self.arguments}
        self.model_changes = engine._model_changes
        self.hooks_registered = engine._hooks_registered
        Recording.active = self
        try:
            with observing(forward=self.on_forward, backward=self.on_backward):
                self.result = function(*args)
        finally:
            Recording.active = None
        self.outputs = self._output_slots(self.result)
        if self.reads:
            warnings.warn(f"jit: {function.__name__} read tensor values while recording "
                          f"({', '.join(sorted(set(self.reads)))}); every replay reuses "
                          "what was read then, including the branch any `if` took",
                          JitWarning, stacklevel=3)
        del self.keep, self.values, self.pending, self.ops

    # -- recording: slots --------------------------------------------------------------
    def _new_slot(self, tensor: Tensor | None = None, value: Any = None) -> int:
        self.template.append(value)
        slot = len(self.template) - 1
        if tensor is not None:
            self.slots[id(tensor)] = slot
            self.keep.append(tensor)
        return slot

    def _slot_of(self, t: Tensor) -> int:
        """The slot of a tensor's array. An argument or an op's output has one already; a
        tensor made inside the step without an op (a number, Tensor(...)) is a constant;
        one made before the step (a parameter) is read afresh at every replay."""
        slot = self.slots.get(id(t))
        if slot is None:
            if any(t is leaf._grad for leaf in self.leaves):
                raise RuntimeError(
                    "jit: the step computes with a .grad made by its own backward; a replay "
                    "would reuse the gradient of the recording. Clip with "
                    "nn.utils.clip_grad_norm_ or clip_grad_value_ (replayed at each call), "
                    "or read gradients after the step")
            made_before = t._created < self.start
            slot = self._new_slot(t, None if made_before else t.data)
            if made_before:
                self.externals.append((slot, t))
        return slot

    def _tensor_slot(self, t: Tensor) -> int:
        """The slot holding Tensor `t` itself (to add gradients into its .grad)."""
        slot = self.tensor_slots.get(id(t))
        if slot is None:
            slot = self.tensor_slots[id(t)] = self._new_slot(value=t)
        return slot

    def _output_slots(self, result: Any) -> Any:
        if result is None or isinstance(result, Tensor):
            return None if result is None else self._slot_of(result)
        if isinstance(result, (tuple, list)) and all(isinstance(r, Tensor) for r in result):
            return [self._slot_of(r) for r in result]
        raise TypeError(f"jit: the step returned {type(result).__name__}; return Tensors (or "
                        "nothing): a Python value would be frozen at its recorded value")

    def _bind(self, value: Any) -> Any:
        """An op's parameter, with any argument's array in it (labels used as an index)
        marked to be read from the new argument at every replay instead of frozen."""
        if isinstance(value, tuple):
            return tuple(self._bind(v) for v in value)
        if isinstance(value, np.ndarray) and id(value) in self.argument_arrays:
            return _Argument(self.argument_arrays[id(value)])
        return value

    # -- recording: what the engine reports --------------------------------------------
    def on_forward(self, fn: Function, out: Tensor) -> None:
        """The engine ran an op: add its forward to the program."""
        op = type(fn)()  # the instance every replay reuses: forward sets what backward needs
        if out._ctx is fn:
            op.needs_input_grad = list(fn.needs_input_grad)
        ins = [self._slot_of(t) for t in fn.inputs]
        slot = self._new_slot(out)
        self.argument_arrays[id(out.data)] = slot  # (an op's output used as a later op's
        self.ops[id(fn)] = (op, slot)              # parameter, labels say, is read anew)
        self.keep.append(fn)
        params = {name: self._bind(value) for name, value in fn.params.items()}
        self.program.append(_forward_step(op, ins, slot, params))

    def on_backward(self, fn: Function, out: Tensor, grad: Any, input_grads: Any) -> None:
        """The engine ran an op's backward: add it, and where its gradients went."""
        if isinstance(grad, Tensor):
            raise RuntimeError("jit: backward(create_graph=True) inside a step is not recorded")
        if id(fn) not in self.ops:
            raise RuntimeError(f"jit: backward reached '{fn.name}', made before the step; "
                               "build the whole graph inside the step")
        if out._hooks or out._retains_grad:
            raise RuntimeError("jit: hooks and retain_grad are not recorded; remove them or "
                               "call the step without jit")
        op, out_slot = self.ops[id(fn)]
        grad_slot = self._gradient_of(out, grad)
        results = [None if g is None else self._new_slot() for g in input_grads]
        ins = [self.slots[id(t)] for t in fn.inputs]
        self.program.append(_backward_step(op, grad_slot, out_slot, ins, results))
        for parent, g, slot in zip(fn.inputs, input_grads, results, strict=False):
            if slot is None:
                continue
            self.values[slot] = g
            if parent._ctx is None:  # a leaf: the engine adds each share into .grad now
                if parent._hooks:
                    raise RuntimeError("jit: a hook on a leaf is not recorded; remove it")
                self.leaves.append(parent)
                self.program.append(_accumulate_step(self._tensor_slot(parent), slot,
                                                     self.stored_slot))
            else:
                self.pending.setdefault(id(parent), []).append(slot)

    def _gradient_of(self, out: Tensor, grad: Any) -> int:
        """The slot of ∂C/∂out: the sum of the shares passed to `out`, in the order the
        engine added them; none at all means `out` is where this backward() started."""
        shares = self.pending.pop(id(out), None)
        if shares is None:  # a new backward(): its seed, and a new set of stored grads
            self.stored_slot = self._new_slot()
            self.program.append(functools.partial(_new_stored_set, self.stored_slot))
            return self._new_slot(value=grad.copy())
        total, value = shares[0], self.values[shares[0]]
        for share in shares[1:]:
            value = value + self.values[share]
            slot = self._new_slot()
            self.values[slot] = value
            self.program.append(_add_step(slot, total, share))
            total = slot
        if not np.array_equal(value, grad):  # a safety net: should never fire
            raise RuntimeError("jit: could not reproduce backward's order of additions")
        return total

    def note_call(self, call: Callable[[], Any]) -> None:
        """A call every replay repeats (an optimizer's step, zero_grad)."""
        self.program.append(lambda slots: call())

    def note_computed(self, compute: Callable[[], np.ndarray], result: Tensor) -> None:
        """A value computed outside the graph from this call's gradients (the total norm
        of clip_grad_norm_): every replay computes it again into `result`'s slot."""
        slot = self._new_slot(result)
        self.program.append(lambda slots: slots.__setitem__(slot, compute()))

    def note_derived(self, compute: Callable[..., np.ndarray], sources: tuple[Tensor, ...],
                     out: Tensor) -> None:
        """A tensor computed outside the graph (a mask, an index, detach()): every replay
        computes it again from the values of that call."""
        ins = [self._slot_of(t) for t in sources]
        slot = self._new_slot(out)
        self.argument_arrays[id(out.data)] = slot  # (a mask or index used as a parameter)

        def run(slots: Slots) -> None:
            slots[slot] = compute(*[slots[i] for i in ins])

        self.program.append(run)

    def note_check(self, check: Callable[..., None], sources: tuple[Tensor, ...]) -> None:
        """A check of values (labels in range) that eager made: every replay makes it too."""
        ins = [self._slot_of(t) for t in sources]
        self.program.append(lambda slots: check(*[slots[i] for i in ins]))

    def note_value_read(self, what: str) -> None:
        """The step read a value (`item()`, …): warned about when recording ends."""
        self.reads.append(what)

    # -- replaying ---------------------------------------------------------------------
    def has_hooks(self) -> bool:
        """Whether a tensor that gets gradients in this record has a hook now."""
        return any(t._hooks for t in self.leaves)

    def replay(self, args: tuple) -> Any:
        """Run the program on new arguments; returns what the step returned."""
        slots = self.template.copy()
        for slot, t in self.externals:
            slots[slot] = t.data  # parameters: their arrays as they are now
        for slot, tensor_slot, i in self.arguments:
            slots[slot], slots[tensor_slot] = args[i].data, args[i]
        for run in self.program:
            run(slots)
        if self.outputs is None:
            return None
        if isinstance(self.outputs, int):
            return Tensor._wrap(slots[self.outputs])
        return tuple(Tensor._wrap(slots[s]) for s in self.outputs)


# ----------------------------------------------------------------------------------------
# The steps of a program: each a closure over slot numbers
# ----------------------------------------------------------------------------------------
def _forward_step(op: Function, ins: list[int], out: int, params: dict) -> Callable:
    """slots[out] = op.forward(*inputs, **params)."""
    forward = op.forward
    if any(_has_argument(v) for v in params.values()):
        def run_with_arguments(slots: Slots) -> None:
            bound = {k: _resolve(v, slots) for k, v in params.items()}
            slots[out] = forward(*[slots[i] for i in ins], **bound)

        return run_with_arguments
    if params:
        return lambda slots: slots.__setitem__(out, forward(*[slots[i] for i in ins], **params))
    # The usual cases spelled out: building a list and unpacking it costs ~0.2 µs a call,
    # ~10% of a whole step at batch 1.
    if len(ins) == 1:
        (a,) = ins
        return lambda slots: slots.__setitem__(out, forward(slots[a]))
    if len(ins) == 2:
        a, b = ins
        return lambda slots: slots.__setitem__(out, forward(slots[a], slots[b]))
    if len(ins) == 3:
        a, b, c = ins
        return lambda slots: slots.__setitem__(out, forward(slots[a], slots[b], slots[c]))
    return lambda slots: slots.__setitem__(out, forward(*[slots[i] for i in ins]))


def _backward_step(op: Function, grad: int, out: int, ins: list[int],
                   results: list[int | None]) -> Callable:
    """The op's input gradients from ∂C/∂out, into their slots (None where not needed)."""
    backward = op.backward
    wanted = [(position, slot) for position, slot in enumerate(results) if slot is not None]
    if len(ins) == 1:  # one input: its gradient comes back unwrapped
        ((_, result),) = wanted
        (a,) = ins
        return lambda slots: slots.__setitem__(result, backward(slots[grad], slots[out],
                                                                  slots[a]))

    def run(slots: Slots) -> None:
        grads = backward(slots[grad], slots[out], *[slots[i] for i in ins])
        for position, slot in wanted:
            slots[slot] = grads[position]

    return run


def _add_step(out: int, a: int, b: int) -> Callable:
    def run(slots: Slots) -> None:
        slots[out] = slots[a] + slots[b]

    return run


def _accumulate_step(leaf: int, grad: int, stored: int) -> Callable:
    """Into the leaf's .grad, by the engine's own function: exactly as eager backward."""
    accumulate = engine._accumulate_grad

    def run(slots: Slots) -> None:
        accumulate(slots[leaf], slots[grad], slots[stored], False)

    return run


def _new_stored_set(slot: int, slots: Slots) -> None:
    slots[slot] = set()  # which arrays already sit in some .grad (the engine's aliasing check)


class _Argument:
    """Inside an op's parameters: an argument's array, read anew at every replay."""

    def __init__(self, slot: int) -> None:
        self.slot = slot


def _has_argument(value: Any) -> bool:
    if isinstance(value, tuple):
        return any(_has_argument(v) for v in value)
    return isinstance(value, _Argument)


def _resolve(value: Any, slots: Slots) -> Any:
    if isinstance(value, _Argument):
        return slots[value.slot]
    if isinstance(value, tuple):
        return tuple(_resolve(v, slots) for v in value)
    return value
