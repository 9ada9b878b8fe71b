"""Replay: record one call of a step, then re-run only its numpy work (tinygrad's TinyJit idea).

Eager mode builds the graph again on every call: a Tensor per value, a Function per op, a
heap walk in backward, checks. A training step builds the *same* graph every time, so

    @tg.jit
    def train_step(x, y): ...           # forward, backward, optimizer step

runs the first call with given input shapes eagerly while listening: every op's forward,
each op's backward in the order backward ran them, where each gradient went and where
shares were added, and the optimizer calls. That program is then compiled (compiled.py)
into one straight-line Python function over arrays allocated once, which later calls with
the same shapes run: each op's numpy calls in eager's order on the same numbers, so the
results are identical, without building a graph. `train_step.code(x, y)` shows that
function. New shapes (the last, smaller batch) get their own record.

What a replay cannot see is refused or re-recorded, never replayed wrong: hooks,
retain_grad, grad(), in-place changes and detect_anomaly/trace inside the step raise;
replacing a module's parameters (or freezing one, or a parameter's array by one of another
shape or dtype) re-records. Python control flow, and values read inside the step
(`.item()`, `if` on a tensor: warned about when recording; `.data`: not seen), are frozen
as they were when recording, as in TinyJit and `torch.jit.trace`; values computed from the
inputs outside the graph (masks, indices, detach()) and eager's value checks are computed
again. Optimizer steps, schedule steps and gradient clipping (nn.utils) are calls every
replay makes again; an op on a `.grad` inside the step is refused.
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

from tinygrad_edu.compiled import (
    ACCUMULATE,
    ADD,
    BACKWARD,
    CALL,
    CHECK,
    COMPUTED,
    DERIVED,
    FORWARD,
    STORED,
    Argument,
    Stale,
    Step,
    arguments_in,
    compile_program,
)
from tinygrad_edu.tensor import Function, Observers, Recording, Tensor, _GradMode, observing

# the engine module itself, for its counters (tinygrad_edu.tensor is also tg.tensor(), the function)
engine = importlib.import_module("tinygrad_edu.tensor")

__all__ = ["Jit", "JitWarning", "jit"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


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
        lock = self.lock  # (acquire/release: half the cost of `with` in this hot path)
        lock.acquire()
        try:
            record = self.records.get(key)
            if record is not None and record.model_changes == engine._model_changes and (
                    record.hooks_registered == engine._hooks_registered
                    or not record.has_hooks()):
                try:
                    return record.run(*args)  # (what the step returned, as new Tensors)
                except Stale:  # a parameter's array has another shape now: record again
                    pass
            record = Record(self.function, args)  # runs the step eagerly once
            self.records[key] = record
            result, record.result = record.result, None  # (the record keeps no graph)
            return result
        finally:
            lock.release()

    def code(self, *args: Any, **kwargs: Any) -> str:
        """The Python source a replay runs for arguments like these (same shapes, dtypes):
        one line or a few per op, over arrays allocated once. Call the step once first."""
        if kwargs:
            args = _positional(self.function, args, kwargs)
        record = self.records.get(_signature(args))
        if record is None:
            name = getattr(self.function, "__name__", "the step")
            raise KeyError(f"jit: {name} has no record for arguments of these shapes and "
                           "dtypes yet; call it once with them first")
        return record.source

    @property
    def nbytes(self) -> int:
        """Bytes of the arrays the records keep between calls (reset() frees them)."""
        return sum(record.nbytes for record in self.records.values())

    def reset(self) -> None:
        """Forget every record, and with them their arrays: the next call records again."""
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
    requires_grad (other arguments by value), which Tensors are passed twice, grad mode."""
    key: list[Any] = [_GradMode.enabled]
    for a in args:  # (no enumerate: every call runs this; the position is for errors only)
        if type(a) is Tensor or isinstance(a, Tensor):  # (`type(a) is`: the fast test first)
            data = a.data
            key.append((data.shape, data.dtype, a.requires_grad))
        else:
            key.append(_other_key(a, args))
    # one Tensor passed twice: a record of its own (its ops name one of them). The usual
    # step(x, y) needs one comparison; a set of ids costs 0.2 µs of a ~35 µs replay
    if len(args) > 2 or (len(args) == 2 and args[0] is args[1]):
        tensors = [id(a) for a in args if isinstance(a, Tensor)]
        if len(set(tensors)) < len(tensors):
            key.append(tuple(tensors.index(t) for t in tensors))
    return tuple(key)


def _other_key(a: Any, args: tuple) -> Any:
    """What an argument that is not a Tensor adds to the key: itself (a number, a string,
    None...), or an error saying what to pass instead."""
    if isinstance(a, np.ndarray):
        raise TypeError("jit: pass arrays as Tensor(array): a plain array would be "
                        "frozen into the record")
    if isinstance(a, (list, tuple, dict, set)):
        raise TypeError(f"jit: argument {_position(a, args)} is a {type(a).__name__}; a "
                        "replay reads Tensors passed as arguments of their own: pass them one "
                        "by one (step(*tensors)), or make the list inside the step")
    try:  # a number, a string, None...: part of the key, so it must be hashable
        hash(a)
    except TypeError:
        raise TypeError(f"jit: argument {_position(a, args)} ({type(a).__name__}) cannot key a "
                        "record; pass Tensors, numbers or strings") from None
    return a


def _position(a: Any, args: tuple) -> int:
    """Where `a` is among the arguments (for an error's message only: numbers passed each
    call pay nothing for it)."""
    return next(i for i, b in enumerate(args) if b is a)


class Record:
    """One recorded call, compiled. Recording lists the program's `steps` (compiled.Step),
    each reading and writing numbered slots: the arrays of one call (arguments, parameters,
    constants, each op's output and gradients) and the Tensors that receive gradients.
    compiled.py then writes that program as one Python function (`source`) over arrays
    allocated once (`nbytes` of them), which every replay calls."""

    def __init__(self, function: Callable[..., Any], args: tuple) -> None:
        if engine._observers_anywhere and (Observers.forward or Observers.backward):
            raise RuntimeError("jit: detect_anomaly() or viz.trace() is active; they watch "
                               "ops, which a replay does not run. Call the undecorated "
                               "function (step.function) inside them")
        self.name = getattr(function, "__name__", "step")
        self.steps: list[Step] = []
        self.slot_count = 0
        self.kinds: dict[int, str] = {}  # slot → argument, external, constant, object, value
        self.constants: dict[int, Any] = {}  # slot → a constant's value (or a Tensor object)
        self.info: dict[int, tuple[tuple[int, ...], Any]] = {}  # slot → (shape, dtype) seen
        self.slots: dict[int, int] = {}  # id(tensor) → the slot of its array
        self.tensor_slots: dict[int, int] = {}  # id(tensor) → the slot of the Tensor itself
        self.externals: list[tuple[int, Tensor]] = []  # made before the step: read each time
        self.leaves: list[Tensor] = []  # tensors made before the step that get gradients
        self.ops: dict[int, tuple[Function, int]] = {}  # id(eager op) → (replay op, slot)
        self.pending: dict[int, list[int]] = {}  # id(tensor) → slots of its gradient shares
        self.values: dict[int, Any] = {}  # slot → array seen while recording (for checks)
        self.keep: list[Any] = list(args)  # alive until the end, so ids stay unique
        self.reads: list[str] = []
        self.start = next(engine._creation_counter)
        self.arg_count = len(args)
        self.arguments = []  # (slot of the array, slot of the Tensor, position)
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                array_slot = self._new_slot(a, kind="argument")
                self.tensor_slots[id(a)] = self._new_slot(kind="argument")
                self.arguments.append((array_slot, self.tensor_slots[id(a)], i))
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
        compiled = compile_program(self)
        self.run, self.source, self.nbytes = compiled.function, compiled.source, compiled.nbytes
        del self.keep, self.values, self.pending, self.ops, self.steps, self.constants
        del self.slots, self.tensor_slots, self.argument_arrays, self.info, self.kinds

    # -- recording: slots --------------------------------------------------------------
    def _new_slot(self, tensor: Tensor | None = None, value: Any = None,
                  kind: str = "value", array: Any = None) -> int:
        """A new slot: for `tensor`'s array, a constant `value`, or a value of the step
        (`array`: what it held while recording, for its shape and dtype)."""
        slot = self.slot_count
        self.slot_count += 1
        self.kinds[slot] = kind
        if value is not None:
            self.constants[slot] = value
        if tensor is not None:
            self.slots[id(tensor)] = slot
            self.keep.append(tensor)
            array = tensor.data
        if array is None and isinstance(value, np.ndarray):
            array = value
        if array is not None:
            self.info[slot] = (tuple(np.shape(array)), np.result_type(array))
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
            if t._created < self.start:
                slot = self._new_slot(t, kind="external")
                self.externals.append((slot, t))
            else:
                slot = self._new_slot(t, value=t.data, kind="constant")
        return slot

    def _tensor_slot(self, t: Tensor) -> int:
        """The slot holding Tensor `t` itself (to add gradients into its .grad)."""
        slot = self.tensor_slots.get(id(t))
        if slot is None:
            slot = self.tensor_slots[id(t)] = self._new_slot(value=t, kind="object")
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
            return Argument(self.argument_arrays[id(value)])
        return value

    def _shared(self, array: Any, candidates: list[tuple[int, Any]]) -> list[int]:
        """The slots among `candidates` (slot, array seen) whose memory `array` may share."""
        return [slot for slot, other in candidates if np.may_share_memory(array, other)]

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
        arguments = [s for value in params.values() for s in arguments_in(value)]
        seen = [(s, t.data) for s, t in zip(ins, fn.inputs, strict=True)]
        seen += [(s, self.values[s]) for s in arguments if s in self.values]
        self.values[slot] = out.data
        self.steps.append(Step(FORWARD, ins, [slot], op=op, params=params,
                               aliases={slot: self._shared(out.data, seen)},
                               arguments=arguments))

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
        needs = fn.needs_input_grad  # (the engine passes on only the shares asked for)
        results = [None if g is None or not needed else self._new_slot(array=g)
                   for g, needed in zip(input_grads, needs, strict=False)]
        ins = [self.slots[id(t)] for t in fn.inputs]
        seen = [(grad_slot, grad), (out_slot, out.data),
                *[(s, t.data) for s, t in zip(ins, fn.inputs, strict=True)]]
        aliases = {slot: self._shared(g, seen)
                   for slot, g in zip(results, input_grads, strict=False) if slot is not None}
        self.steps.append(Step(BACKWARD, [grad_slot, out_slot, *ins], results, op=op,
                               aliases=aliases))
        for parent, g, slot in zip(fn.inputs, input_grads, results, strict=False):
            if slot is None:
                continue
            self.values[slot] = g
            if parent._ctx is None:  # a leaf: the engine adds each share into .grad now
                if parent._hooks:
                    raise RuntimeError("jit: a hook on a leaf is not recorded; remove it")
                self.leaves.append(parent)
                self.steps.append(Step(ACCUMULATE, [self._tensor_slot(parent), slot,
                                                    self.stored_slot]))
            else:
                self.pending.setdefault(id(parent), []).append(slot)

    def _gradient_of(self, out: Tensor, grad: Any) -> int:
        """The slot of ∂C/∂out: the sum of the shares passed to `out`, in the order the
        engine added them; none at all means `out` is where this backward() started."""
        shares = self.pending.pop(id(out), None)
        if shares is None:  # a new backward(): its seed, and a new set of stored grads
            self.stored_slot = self._new_slot()
            self.steps.append(Step(STORED, writes=[self.stored_slot]))
            return self._new_slot(value=grad.copy(), kind="constant")
        total, value = shares[0], self.values[shares[0]]
        for share in shares[1:]:
            value = value + self.values[share]
            slot = self._new_slot(array=value)
            self.values[slot] = value
            self.steps.append(Step(ADD, [total, share], [slot]))
            total = slot
        if not np.array_equal(value, grad, equal_nan=True):  # a safety net: never fires
            raise RuntimeError("jit: could not reproduce backward's order of additions")
        return total

    def note_call(self, call: Callable[[], Any]) -> None:
        """A call every replay repeats (an optimizer's step, zero_grad)."""
        self.steps.append(Step(CALL, call=call))

    def note_computed(self, compute: Callable[[], np.ndarray], result: Tensor) -> None:
        """A value computed outside the graph from this call's gradients (the total norm
        of clip_grad_norm_): every replay computes it again into `result`'s slot."""
        slot = self._new_slot(result)
        self.steps.append(Step(COMPUTED, writes=[slot], call=compute))

    def note_derived(self, compute: Callable[..., np.ndarray], sources: tuple[Tensor, ...],
                     out: Tensor) -> None:
        """A tensor computed outside the graph (a mask, an index, detach()): every replay
        computes it again from the values of that call."""
        ins = [self._slot_of(t) for t in sources]
        slot = self._new_slot(out)
        self.argument_arrays[id(out.data)] = slot  # (a mask or index used as a parameter)
        self.values[slot] = out.data
        seen = [(s, t.data) for s, t in zip(ins, sources, strict=True)]
        self.steps.append(Step(DERIVED, ins, [slot], call=compute,
                               aliases={slot: self._shared(out.data, seen)}))

    def note_check(self, check: Callable[..., None], sources: tuple[Tensor, ...]) -> None:
        """A check of values (labels in range) that eager made: every replay makes it too."""
        self.steps.append(Step(CHECK, [self._slot_of(t) for t in sources], call=check))

    def note_value_read(self, what: str) -> None:
        """The step read a value (`item()`, …): warned about when recording ends."""
        self.reads.append(what)

    # -- replaying ---------------------------------------------------------------------
    def has_hooks(self) -> bool:
        """Whether a tensor that gets gradients in this record has a hook now."""
        return any(t._hooks for t in self.leaves)

    def replay(self, args: tuple) -> Any:
        """Run the compiled program on new arguments; returns what the step returned."""
        return self.run(*args)
