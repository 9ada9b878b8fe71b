"""The engine: `Tensor`, the `Function` base class every op derives from, and `backward()`.

A Tensor wraps a numpy array. When an op runs on tensors that require grad, the output
remembers the op (a `Function` instance) and the op remembers its inputs: that chain of
links *is* the computation graph. `backward()` walks it from the output back, taking the
most recently created tensor next, so every tensor comes after all the tensors computed
from it; it asks each op for the gradients of its inputs (the vector–Jacobian product)
and adds them up where a tensor fed several ops.

Read it in this order: the numbering that orders the graph and the version counter that
guards it; the per-thread modes; (1) the graph: `Function` and `apply`; (2) `backward`:
the walk; (3) the `Tensor` API. The ops themselves, each a Function with its forward and
gradient side by side, are in the ops/ package, one file per family.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_edu.utils import random_generator

__all__ = [
    "Function", "MaxResult", "RemovableHandle", "Tensor", "enable_grad", "grad",
    "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled", "tensor",
]

ArrayLike = Any  # a number, a (nested) list, a numpy array or a Tensor
Number = float  # (inside Tensor, `float` names the method Tensor.float)
DEFAULT_DTYPE = np.float32

# Every tensor gets the next number when it is created. An op can only use tensors that
# already exist, so its output always has a larger number than its inputs: sorting by this
# number is a topological order of any graph, with no recursion needed.
_creation_counter = itertools.count()

# The stamp of the latest in-place change to any tensor. Backward compares it with each op's
# number first: only when something changed after the op ran does it look at which tensor.
_latest_change = -1


def next_stamp() -> int:
    """The next number in the graph's order (for stamping in-place changes)."""
    return next(_creation_counter)


class VersionCounter:
    """How often a tensor's memory was changed in place, shared by the tensors that are
    views of the same memory (a reshape, a slice, `detach()`), as PyTorch's version counter.

    Each change also takes the next creation number as its time stamp. An op's output is
    numbered when the op runs, so a saved tensor changed after that has a stamp larger
    than the output's number: backward compares the two and refuses, instead of computing
    a gradient from values the op never saw. Nothing is stored per op at forward time.
    """

    __slots__ = ("count", "last", "recent")

    def __init__(self) -> None:
        self.count = 0  # the version: in-place changes so far
        self.last = -1  # the stamp of the latest change
        self.recent: deque[int] = deque(maxlen=16)  # the latest stamps, to name old versions

    def bump(self) -> None:
        """One more in-place change."""
        bump_together([self])

    def version_at(self, stamp: int) -> str:
        """The version as it was when `stamp` was taken ("≤ n" past what is remembered)."""
        later = sum(1 for s in self.recent if s > stamp)
        if later == len(self.recent) == self.recent.maxlen:
            return f"≤ {self.count - later}"
        return str(self.count - later)


def bump_together(counters: Sequence[VersionCounter]) -> None:
    """In-place changes made together (an optimizer's step): one time stamp for them all."""
    global _latest_change
    if not counters:  # nothing changed: no stamp, so no backward has versions to check
        return
    stamp = _latest_change = next_stamp()
    for counter in counters:
        counter.count += 1
        counter.last = stamp
        counter.recent.append(stamp)


# ----------------------------------------------------------------------------------------
# Modes, per thread: grad mode, observers (viz), the jit recorder
# ----------------------------------------------------------------------------------------
class _ThreadGradMode(threading.local):
    """Whether ops record the graph, for the calling thread only: `no_grad()` in one thread
    never stops another thread's training. Each thread starts with recording on."""

    def __init__(self) -> None:
        self.enabled = True
        self.saved: list[bool] = []  # the mode before each open no_grad/enable_grad block


_GradMode = _ThreadGradMode()


def is_grad_enabled() -> bool:
    """True unless inside `no_grad()` (in this thread): only then do ops record the graph."""
    return _GradMode.enabled


class _GradModeBlock(contextlib.ContextDecorator):
    """A block (or decorated function) that runs with grad mode set to `mode`.

    The mode before the block is pushed on this thread's own stack at every entry and
    popped at exit, so one decorator instance can be entered recursively, or from several
    threads at once, and each exit restores exactly what its entry found."""

    mode = True

    def __enter__(self) -> _GradModeBlock:
        _GradMode.saved.append(_GradMode.enabled)
        _GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc: object) -> None:
        _GradMode.enabled = _GradMode.saved.pop()


class no_grad(_GradModeBlock):  # noqa: N801 - PyTorch's name
    """Context manager and decorator: ops inside record no graph (like `torch.no_grad`)."""

    mode = False


class enable_grad(_GradModeBlock):  # noqa: N801 - PyTorch's name
    """Context manager and decorator: turn graph recording back on inside `no_grad()`."""

    mode = True


class set_grad_enabled(_GradModeBlock):  # noqa: N801 - PyTorch's name
    """Set grad mode: as a call it takes effect at once (`set_grad_enabled(False)`), as a
    `with` block or decorator it is restored afterwards, as in PyTorch."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._previous = _GradMode.enabled
        _GradMode.enabled = self.mode  # a plain call already switches

    def __enter__(self) -> set_grad_enabled:
        _GradMode.saved.append(self._previous)  # restore what was there before the call
        _GradMode.enabled = self.mode
        return self


class inference_mode(no_grad):  # noqa: N801 - PyTorch's name
    """PyTorch's faster no_grad; here the same as `no_grad()` (`mode=False` records)."""

    def __init__(self, mode: bool = True) -> None:
        self.mode = not mode


class _ThreadObservers(threading.local):
    """Instruments that watch ops run (viz.trace, detect_anomaly), per thread: a trace or
    an anomaly check in one thread never sees, or raises in, another. Empty lists cost one
    falsy check per op, so a normal run pays nothing for them.

    `forward` entries are called as f(fn, out) after every op; `backward` entries as
    f(fn, out, grad, input_grads) after each op's backward, before its graph is freed.
    """

    def __init__(self) -> None:
        self.forward: list[Callable[[Function, Tensor], None]] = []
        self.backward: list[Callable[[Function, Tensor, Any, Sequence[Any]], None]] = []


Observers = _ThreadObservers()
_observers_anywhere = 0  # how many observers are registered in all threads together
_observers_lock = threading.Lock()  # (+= is not atomic across threads)

# While a function runs under tg.func.vmap (tinygrad_edu/batching.py): what runs an op, or
# computes a derived value, when an input is batched (None the rest of the time).
BatchRules = Callable[[type["Function"], Sequence["Tensor"], dict[str, Any]], "Tensor | None"]
BatchDerived = Callable[[Callable[..., np.ndarray], Sequence["Tensor"]], "Tensor | None"]
_batch_rules: BatchRules | None = None
_batch_derived: BatchDerived | None = None


def _set_batching(rules: BatchRules | None, derived: BatchDerived | None) -> None:
    """Install vmap's two hooks (None: take them away; batching.py counts the vmaps)."""
    global _batch_rules, _batch_derived
    _batch_rules, _batch_derived = rules, derived


@contextlib.contextmanager
def observing(forward: Callable[[Function, Tensor], None] | None = None,
              backward: Callable[[Function, Tensor, Any, Sequence[Any]], None] | None = None
              ) -> Iterator[None]:
    """Add observers to this thread for the duration of a `with` block (always removed
    afterwards). While no thread has any, each op skips even the per-thread lookup."""
    global _observers_anywhere
    added: list[tuple[list[Any], Any]] = [(registry, observer) for registry, observer in
             ((Observers.forward, forward), (Observers.backward, backward)) if observer]
    for registry, observer in added:
        registry.append(observer)
    with _observers_lock:
        _observers_anywhere += len(added)
    try:
        yield
    finally:
        for registry, observer in added:
            registry.remove(observer)
        with _observers_lock:
            _observers_anywhere -= len(added)


class _ThreadRecording(threading.local):
    """The `jit` recorder listening in this thread, if any (see jit.py). Ops reach it
    through the observers; the places below tell it what observers cannot see."""

    def __init__(self) -> None:
        self.active: Any = None


Recording = _ThreadRecording()
_model_changes = 0  # bumped whenever a module's attributes or a requires_grad flag change
_hooks_registered = 0  # how many hooks were ever registered (jit looks closer if it grew)


def note_model_change() -> None:
    """A parameter may have been added, replaced or frozen: jit records made before are
    stale (nn.Module.__setattr__ and requires_grad_ call this)."""
    global _model_changes
    _model_changes += 1


def note_call(call: Callable[[], Any]) -> None:
    """Tell the recording jit that `call` (an optimizer step, a zero_grad) ran here, so its
    replay calls it again at the same point. (Callers test `Recording.active` first.)"""
    Recording.active.note_call(call)


def _note_grad_assignment(tensor: Any, value: Any) -> None:
    """`p.grad = None` inside a jit step: every replay clears it at the same point (else
    each replay would add into the last call's gradient); another value would be frozen."""
    if value is not None:
        raise RuntimeError("jit: assigning a Tensor to .grad inside a step would replay this "
                           "call's value at every call; set .grad = None (or zero_grad()) in "
                           "the step, or assign outside it")
    note_call(lambda: setattr(tensor, "_grad", None))


def _note_value_read(what: str) -> None:
    if Recording.active is not None:
        Recording.active.note_value_read(what)


def derived(compute: Callable[..., np.ndarray], *sources: Tensor) -> Tensor:
    """A tensor computed from others outside the graph (a comparison, a mask, an index,
    `detach()`): no gradient flows through it. A jit recording is told how to compute it
    again, so every replay recomputes it from that call's values instead of reusing the
    recorded ones. `compute` takes the sources' arrays; it may raise (value checks)."""
    if _batch_derived is not None:  # inside vmap: computed for each item of a batched source
        batched = _batch_derived(compute, sources)
        if batched is not None:
            return batched
    out = Tensor._wrap(compute(*[s.data for s in sources]))
    if Recording.active is not None:
        Recording.active.note_derived(compute, sources, out)
    return out


def check_values(check: Callable[..., None], *sources: Tensor) -> None:
    """Run a check of tensors' values (labels in range, say) now, and again at every jit
    replay, which runs no Python code of the step: a replay raises what eager raises."""
    check(*[s.data for s in sources])
    if Recording.active is not None:
        Recording.active.note_check(check, sources)


# ----------------------------------------------------------------------------------------
# 1. The graph: Function, the base class of every op, and apply(), which links it
# ----------------------------------------------------------------------------------------
class Function:
    """One differentiable op. Subclass it and write `forward` and `backward` side by side.

    `forward(self, *arrays, **params)` gets numpy arrays and returns a numpy array; it may
    keep on `self` anything the gradient needs (a mask, an axis).

    `backward(self, grad, out, *inputs)` gets the gradient of the final result with respect
    to this op's output (∂C/∂out), the output itself and the inputs, and returns one
    gradient per input (∂C/∂input, of the input's shape), or None where
    `self.needs_input_grad[i]` is False. Write it with operators (+ - * / @), `.T`,
    `.reshape`, `.sum` and the helpers of `ops/__init__.py`: then the same code runs on numpy arrays
    (a plain backward, fast) and on Tensors (`create_graph=True`, so it can be
    differentiated again).

    `jvp(self, tangents, out, *inputs)` is the same derivative pushed forward instead of
    pulled back: it gets one tangent per input (dx, how that input moves; None where it
    does not move) and returns the output's tangent, dout = J·dx, of the output's shape.
    `backward` computes Jᵀ·grad, `jvp` J·dx: the two rules sit side by side in every op, and
    the tests check that they agree (⟨u, J·v⟩ = ⟨Jᵀ·u, v⟩). Forward mode (tg.func.jvp)
    calls it for each op from the inputs on, in the order the ops ran. Write it like
    backward, so it runs on arrays and on Tensors (then forward mode can be
    differentiated again: `hessian` is forward over reverse).

    Use it through `MyOp.apply(tensor_a, tensor_b, param=...)`.
    """

    inputs: tuple[Tensor, ...]
    arrays: list[np.ndarray]
    needs_input_grad: list[bool]
    params: dict[str, Any]  # the keyword arguments of forward (set while observers watch)
    site: str  # the user's line that made this op (set while viz.trace/detect_anomaly run)
    released = False
    name = "function"  # how errors, traces and pictures call the op

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__:  # the class name in lower case: MatMul → matmul,
            cls.name = cls.__name__.removesuffix("Op").lower()  # SigmoidOp → sigmoid

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def backward(self, grad: Any, out: Any, *inputs: Any) -> Sequence[Any] | Any:
        raise NotImplementedError(f"{type(self).__name__} has no backward")

    def jvp(self, tangents: Sequence[Any], out: Any, *inputs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no jvp (forward-mode rule)")

    @classmethod
    def apply(cls, *inputs: Tensor, **params: Any) -> Tensor:
        """Run the op forward; link the output to this op when a gradient may be needed."""
        if _batch_rules is not None:  # inside vmap: a batched input runs the op's batching rule
            batched = _batch_rules(cls, inputs, params)
            if batched is not None:
                return batched
        fn = cls()
        arrays = [t.data for t in inputs]
        try:
            data = fn.forward(*arrays, **params)
        except (ValueError, TypeError) as err:  # shapes, dtypes: said at the API boundary
            message = str(err)
            if not message.startswith(f"{fn.name}:"):  # numpy's words: add op and shapes
                kind = "shapes" if isinstance(err, ValueError) else "dtypes"
                given = " and ".join(str(getattr(t, kind[:-1])) for t in inputs)
                message = f"{fn.name}: {message} (input {kind} {given})"
            raise type(err)(message) from None
        out = Tensor._wrap(data)
        if data.base is not None:  # a view of an input (reshape, slice): see _share_versions
            _share_versions(out, inputs)
        if _GradMode.enabled:
            needs = [t.requires_grad for t in inputs]
            if True in needs:  # (`in` on a list: half the time of any(), measured 24 vs 48 ns)
                fn.inputs = inputs
                fn.arrays = arrays  # the values backward will see (a plain backward)
                fn.needs_input_grad = needs
                out.requires_grad = True
                out._ctx = fn
        if _observers_anywhere and Observers.forward:
            fn.inputs, fn.params = inputs, params  # what an observer may ask (jit does)
            for observe in Observers.forward:
                observe(fn, out)
        return out

    def release(self) -> None:
        """Drop the inputs and saved arrays after backward; mark the op as used up."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


def _share_versions(view: Tensor, inputs: Sequence[Tensor]) -> None:
    """An op returned a view of an input's memory: changing either in place changes both,
    so they count versions together (as a PyTorch view shares its base's counter)."""
    for t in inputs:
        if np.may_share_memory(view.data, t.data):
            view._versions = t._version_counter()
            return


# ----------------------------------------------------------------------------------------
# 2. backward(): one walk from the output back to the leaves
# ----------------------------------------------------------------------------------------
def _freed_graph_error(fn: Function) -> RuntimeError:
    """A graph freed by backward() has lost its inputs: the error says how to keep it.
    (Callers test `fn.released` themselves: no extra call per op on the backward path.)"""
    return RuntimeError(
        f"the graph through '{fn.name}' was already freed by an earlier backward(); "
        "pass retain_graph=True to that backward() to use the graph again")


def _check_versions(fn: Function, out: Tensor) -> None:
    """Backward reads the op's inputs and output: raise if any changed after the op ran."""
    for saved in (*fn.inputs, out):
        if saved._versions is not None and saved._versions.last > out._created:
            raise _changed_in_place_error(fn, saved, out._created)


def _changed_in_place_error(fn: Function, saved: Tensor, stamp: int) -> RuntimeError:
    """PyTorch's "modified by an inplace operation", with the op and the versions named."""
    counter = saved._versions
    assert counter is not None
    return RuntimeError(
        f"backward: a tensor of shape {saved.shape} ({saved.dtype}) that '{fn.name}' needs "
        f"for its gradient was changed in place after '{fn.name}' ran: it is at version "
        f"{counter.count}, '{fn.name}' saw version {counter.version_at(stamp)}. The gradient "
        "would be computed from values the op never used. Change it after backward(), or "
        "change a copy (x.clone() or x + 0) instead.")


def _run_backward(root: Tensor, seed: Any, retain_graph: bool, create_graph: bool,
                  wanted: dict[int, Any] | None = None, reach: set[int] | None = None) -> None:
    """Carry ∂root/∂tensor back to the leaves, from the reached tensor created last (a heap,
    no recursion); with `wanted` (id → None), into it, along `reach` only: see grad()."""
    pending: dict[int, Any] = {id(root): seed}  # ∂root/∂tensor, summed until complete
    reached = [(-root._created, root)]  # heapq pops the smallest: negated, latest first
    stored = {id(seed)}  # arrays placed in some .grad, and the caller's seed (never aliased)
    while reached:
        # 1. the latest-created tensor waiting: every op that used it has passed its share
        tensor = heapq.heappop(reached)[1]
        grad, fn = pending.pop(id(tensor)), tensor._ctx
        if fn is None or tensor._hooks or tensor._retains_grad or wanted is not None:
            grad = _deliver(tensor, grad, stored, create_graph, wanted)
        if fn is None:
            continue
        input_grads = _op_backward(fn, tensor, grad, create_graph)  # 2. ∂C/∂out → ∂C/∂inputs
        # 3. each share goes on to its input (_op_backward checked the count: strict=False)
        for parent, share, needed in zip(fn.inputs, input_grads, fn.needs_input_grad,
                                         strict=False):
            if not needed or share is None or (reach is not None and id(parent) not in reach):
                continue
            if share.shape != parent.data.shape:
                raise _wrong_shape(fn, parent, share)
            if parent._ctx is None and wanted is None and not parent._hooks:
                _accumulate_grad(parent, share, stored, create_graph)  # a leaf: into .grad
            elif id(parent) in pending:  # used by several ops: the shares add up
                pending[id(parent)] = pending[id(parent)] + share
            else:
                pending[id(parent)] = share
                heapq.heappush(reached, (-parent._created, parent))
        if not retain_graph:  # 4. the op is done: free what it saved (unless kept)
            fn.release()


# Backward passes run one at a time across threads: two threads adding into one .grad at
# once would lose shares (read, add, write back), and PyTorch's accumulation is safe across
# threads, so ours is too. One lock per backward, not per leaf (a lock around each .grad
# update cost 1.5% of the digit network's step, measured). Re-entrant: a hook may call
# backward itself.
_backward_lock = threading.RLock()


def _deliver(tensor: Tensor, grad: Any, stored: set[int], create_graph: bool,
             wanted: dict[int, Any] | None) -> Any:
    """The special cases of a tensor whose gradient is complete: hooks may replace it;
    grad() collects it for its targets; a leaf, or a tensor that called retain_grad(),
    keeps it in .grad. Returns the gradient to pass on."""
    if tensor._hooks:
        grad = _run_hooks(tensor, grad, create_graph)
    if wanted is not None:
        if id(tensor) in wanted:
            wanted[id(tensor)] = grad
    elif tensor._ctx is None or tensor._retains_grad:
        _accumulate_grad(tensor, grad, stored, create_graph)
    return grad


def _op_backward(fn: Function, out: Tensor, grad: Any, create_graph: bool) -> Sequence[Any]:
    """One op's gradients for its inputs: on arrays normally, on Tensors to build a graph."""
    if fn.released:
        raise _freed_graph_error(fn)
    if _latest_change > out._created:  # something changed in place after this op ran
        _check_versions(fn, out)
    if create_graph:
        input_grads = fn.backward(grad, out, *fn.inputs)
    else:
        input_grads = fn.backward(grad, out.data, *fn.arrays)
    if not isinstance(input_grads, (tuple, list)):  # one input: one gradient, unwrapped
        input_grads = (input_grads,)
    if len(input_grads) != len(fn.inputs):
        raise RuntimeError(f"{fn.name}.backward returned {len(input_grads)} gradients "
                           f"for {len(fn.inputs)} inputs")
    if _observers_anywhere and Observers.backward:
        for observe in Observers.backward:
            observe(fn, out, grad, input_grads)
    return input_grads


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: ArrayLike | Sequence[ArrayLike] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """∂outputs/∂input for each of `inputs`, returned instead of added to `.grad`.

    Like `torch.autograd.grad`: no `.grad` is changed. `grad_outputs` is the output
    gradient to start from (required unless the output is a scalar); with several outputs
    (a list), one gradient each, and the results are the sums over the outputs. With
    `create_graph=True` the results are part of a graph and can be differentiated again.
    An input the output does not depend on gives an error unless `allow_unused=True`,
    which gives None for it.
    """
    if isinstance(outputs, Tensor):
        output, grad_output = outputs, grad_outputs
    else:
        output, grad_output = _one_output(outputs, grad_outputs)
    if isinstance(inputs, Tensor):  # one tensor, as torch.autograd.grad accepts
        inputs = [inputs]
    if Recording.active is not None:
        raise RuntimeError("grad: tg.grad() inside a jit step cannot be recorded; use "
                           "backward() and .grad, or call the step without jit")
    if not output.requires_grad:
        raise RuntimeError("grad: the output does not require grad and has no graph")
    if retain_graph is None:
        retain_graph = create_graph
    seed = output._seed_gradient(grad_output)
    wanted: dict[int, Any] = {id(t): None for t in inputs}
    reach = _leading_to(output, inputs)
    if create_graph:
        with enable_grad():
            with _backward_lock:
                _run_backward(output, _graph_seed(grad_output, seed), retain_graph, True,
                              wanted, reach)
    else:
        with _backward_lock:
            _run_backward(output, seed, retain_graph, False, wanted, reach)
    results = []
    for position, tensor in enumerate(inputs):
        value = wanted[id(tensor)]
        if value is None and not allow_unused:
            raise RuntimeError(f"grad: input {position} (shape {tensor.shape}) was not used "
                               "to compute the output; pass allow_unused=True to get None")
        if value is not None and not isinstance(value, Tensor):
            value = Tensor._wrap(value.astype(tensor.dtype, copy=value is seed))
        elif value is not None and value.dtype != tensor.dtype:
            value = value.to(tensor.dtype)
        results.append(value)
    return tuple(results)


def _leading_to(root: Tensor, inputs: Sequence[Tensor]) -> set[int]:
    """The tensors behind `root` from which one of `inputs` can be reached: grad() runs only
    their ops, as torch.autograd.grad does (another part of the graph may have been freed by
    an earlier backward, and its work is not needed). A freed op's inputs are gone: it counts
    as leading to them unless it was made before all of them (then backward's freed-graph
    error says what happened). Inputs come before outputs in creation order, so one pass
    over the graph sorted by it settles each tensor after its inputs."""
    wanted = {id(t) for t in inputs}
    earliest = min(t._created for t in inputs)
    seen: dict[int, Tensor] = {}
    waiting = [root]
    while waiting:
        t = waiting.pop()
        if id(t) not in seen:
            seen[id(t)] = t
            if t._ctx is not None and not t._ctx.released:
                waiting.extend(t._ctx.inputs)
    reach: set[int] = set()
    for t in sorted(seen.values(), key=lambda t: t._created):
        fn = t._ctx
        if id(t) in wanted or (fn is not None and (
                t._created > earliest if fn.released else any(id(x) in reach
                                                              for x in fn.inputs))):
            reach.add(id(t))
    return reach


def _one_output(outputs: Sequence[Tensor], grad_outputs: Any) -> tuple[Tensor, Any]:
    """Several outputs as one: Σᵢ ⟨outputᵢ, vᵢ⟩ has gradient Σᵢ vᵢᵀ ∂outputᵢ/∂x, the sum
    torch.autograd.grad returns; then its seed is 1."""
    if len(outputs) == 1:
        single = grad_outputs[0] if isinstance(grad_outputs, (list, tuple)) else grad_outputs
        return outputs[0], single
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    if not isinstance(grad_outputs, (list, tuple)) or len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(outputs)} outputs need as many grad_outputs (a list), "
                         f"got {_describe(grad_outputs)}")
    total: Any = 0
    for output, given in zip(outputs, grad_outputs, strict=True):
        seed = output._seed_gradient(given)  # (checks the shape, or that it is a scalar)
        weight = given if isinstance(given, Tensor) and given.requires_grad else Tensor(seed)
        total = total + (output * weight).sum()
    return total, None


def _graph_seed(given: ArrayLike | None, seed: np.ndarray) -> Tensor:
    """The seed of a create_graph backward: a given Tensor stays in the graph, so the
    result can be differentiated with respect to it too (as gradgradcheck does)."""
    if isinstance(given, Tensor) and given.requires_grad:
        return given if given.dtype == seed.dtype else given.to(seed.dtype)
    return Tensor(seed.copy())  # (the caller's array: a .grad must never share its memory)


def _wrong_shape(fn: Function, parent: Tensor, grad: Any) -> RuntimeError:
    """An op's gradient must have its input's shape: a wrong one is a bug in that op."""
    return RuntimeError(f"{fn.name}.backward returned a gradient of shape {grad.shape} "
                        f"for an input of shape {parent.data.shape}")


def _run_hooks(tensor: Tensor, grad: Any, create_graph: bool) -> Any:
    for hook in list((tensor._hooks or {}).values()):
        as_tensor = grad if create_graph else Tensor._wrap(grad)
        replaced = hook(as_tensor)
        if replaced is not None:
            if not isinstance(replaced, Tensor):  # (PyTorch refuses anything else too)
                raise TypeError(
                    f"hook {getattr(hook, '__name__', hook)!s}: returned "
                    f"{_describe(replaced)}; a hook must return a Tensor (the new gradient, "
                    f"of shape {tensor.shape}) or None to keep the gradient as it is")
            if replaced.shape != tensor.shape:
                raise RuntimeError(
                    f"hook {getattr(hook, '__name__', hook)!s}: returned a gradient of shape "
                    f"{replaced.shape} for a tensor of shape {tensor.shape}; a hook must "
                    "return a gradient of the tensor's shape (or None to keep it)")
            grad = replaced if create_graph else replaced.data
    return grad


def _accumulate_grad(tensor: Tensor, grad: Any, stored: set[int], create_graph: bool) -> None:
    """Add `grad` into `tensor.grad`, in the tensor's dtype."""
    if create_graph:
        if grad.dtype != tensor.dtype:
            grad = grad.to(tensor.dtype)
        tensor._grad = grad if tensor._grad is None else tensor._grad + grad
        return
    if grad.dtype != tensor.data.dtype:
        grad = grad.astype(tensor.data.dtype)
    if tensor._grad is not None:
        grad = tensor._grad.data + grad  # a new array: earlier .grad objects stay as they were
    elif grad.base is not None or id(grad) in stored:
        # Ops pass gradients through without copying (add hands the same array to both
        # inputs; reshape and broadcast_to return views). A copy keeps each .grad its
        # own array, so changing one in place can never change another.
        grad = grad.copy()
    stored.add(id(grad))
    tensor._grad = Tensor._wrap(grad)  # (the field itself: what backward adds needs no check)


# ----------------------------------------------------------------------------------------
# 3. The Tensor API: what users call; each op is a Function from ops/
# ----------------------------------------------------------------------------------------
def _as_array(data: ArrayLike, dtype: Any = None) -> np.ndarray:
    """numpy array for `data`: floats become float32 unless they come as a float64 array."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) and data.dtype.kind in _REAL_KINDS:
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, np.generic) and dtype is None and data.dtype.kind in _REAL_KINDS:
        return np.asarray(data)
    try:
        array = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as err:  # ragged lists, strings given a dtype
        raise TypeError(f"Tensor: cannot make a tensor of {_describe(data)} ({err})") from None
    except OverflowError:  # 2**63 and beyond, as PyTorch refuses them
        raise OverflowError(f"Tensor: {_describe(data)} holds an integer outside the range "
                            "of int64 (±9.2e18); give it as a float if you need it") from None
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"Tensor: data must be real numbers (bool, int or float), got "
                        f"{_describe(data)} of dtype {array.dtype}")
    if dtype is None and array.dtype.kind in "fiu" and not isinstance(data, np.generic):
        array = array.astype(DEFAULT_DTYPE)  # Python numbers and lists: float32, as PyTorch
    return array


_REAL_KINDS = "biuf"  # numpy dtype kinds a Tensor may hold: bool, int, unsigned, float


def _describe(value: Any) -> str:
    """A short "what was given" for error messages."""
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '…' if len(text) > 40 else text}"


def tensor(data: ArrayLike, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """PyTorch's `torch.tensor`: integers stay integers (int64) and bools stay bools;
    Python floats become float32, a numpy array keeps its dtype. (`Tensor(data)` makes
    numbers float32 whatever they are, like `torch.Tensor`.)"""
    if dtype is None and not isinstance(data, (np.ndarray, Tensor)):
        try:
            kind = np.asarray(data).dtype.kind
        except ValueError:  # a ragged list: Tensor() below says what is wrong with it
            kind = "f"
        dtype = {"b": np.bool_, "i": np.int64, "u": np.int64,  # ("O": ints past int64)
                 "O": np.int64}.get(kind, DEFAULT_DTYPE)
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _same(array: np.ndarray) -> np.ndarray:
    return array


class _Size(int):
    """`t.size` is numpy's element count (an int) and, called, PyTorch's `t.size()`:
    the shape, or one axis's length with `t.size(dim)`."""

    dims: tuple[int, ...]  # (not `shape`: numpy would take the int for an array of it)

    def __new__(cls, shape: tuple[int, ...]) -> _Size:
        size = super().__new__(cls, int(np.prod(shape, dtype=np.int64)))
        size.dims = shape
        return size

    def __call__(self, dim: int | None = None) -> Any:
        return self.dims if dim is None else self.dims[dim]


def _axis(op: str, axis: Any, dim: Any) -> Any:
    """numpy's `axis=` or PyTorch's `dim=` (one of them)."""
    if dim is not None and axis is not None:
        raise TypeError(f"{op}: give axis= or dim=, not both")
    return axis if dim is None else dim


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """`dim` as a position 0 … ndim−1 (negative counts from the end), or PyTorch's
    IndexError naming the op and the range. (A 0-d tensor takes dims −1 and 0, as PyTorch.)"""
    size = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an integer, got {_describe(dim)}")
    if not -size <= dim < size:
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} axes "
                         f"(allowed: {-size} to {size - 1})")
    return int(dim) % size


def normalize_dims(op: str, dims: Any, ndim: int) -> tuple[int, ...]:
    """A dim or a tuple of dims as positions (see `normalize_dim`); a repeated one is refused."""
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    positions = tuple(normalize_dim(op, d, ndim) for d in dims)
    if len(set(positions)) != len(positions):
        raise ValueError(f"{op}: dim {dims} names an axis twice")
    return positions


def _keep(op: str, keepdims: bool | None, keepdim: bool | None) -> bool:
    """numpy's `keepdims=` or PyTorch's `keepdim=`."""
    if keepdims is not None and keepdim is not None:
        raise TypeError(f"{op}: give keepdims= or keepdim=, not both")
    return bool(keepdims if keepdim is None else keepdim)


class MaxResult(tuple):
    """What `max(dim)`, `min(dim)`, `sort` and `topk` return, as in PyTorch: a pair
    (values, indices) that also names its parts."""

    @property
    def values(self) -> Tensor:
        """The values found (differentiable)."""
        return self[0]

    @property
    def indices(self) -> Tensor:
        """Where they were found: int64 positions along the dim (no gradient)."""
        return self[1]


class Tensor:
    """An n-dimensional array that records the ops applied to it, for reverse-mode autodiff.

    `Tensor(data, requires_grad=False, dtype=None, name=None)`: numbers and lists become
    float32, a numpy array keeps its dtype (float64 stays float64), `dtype=` overrides.

    A numpy array is shared, not copied (as `torch.from_numpy`): changing the array changes
    the tensor. Such changes, and writes to `.data`, are invisible to the version counter
    that guards backward (as PyTorch's `.data` is), so backward cannot warn about them:
    change values with the in-place methods (`add_`, `mul_`, `copy_`, …) under `no_grad()`.
    """

    # Fixed fields (no per-object __dict__): setting them is ~25% faster (measured) and it takes
    # less memory, and every op makes one. The fields are set in _wrap. A text beside a field
    # is what help() shows for it; the docstring under its annotation below, the same words,
    # is what the API reference shows (it reads the source).
    __slots__ = {
        "__weakref__": None,
        "_created": None,
        "_ctx": None,
        "_grad": None,  # behind the `grad` property, which checks what users assign
        "_hooks": None,
        "_retains_grad": None,
        "_versions": None,
        "data": "The values, a numpy array (shared, not copied: see the class docstring).",
        "name": None,
        "requires_grad": None,
    }
    __array_ufunc__ = None  # `ndarray + Tensor` hands over to Tensor.__radd__, not numpy

    data: np.ndarray
    """The values, a numpy array (shared, not copied: see the class docstring)."""
    _grad: Tensor | None
    requires_grad: bool
    _ctx: Function | None  # the op that made it: its link into the graph
    _retains_grad: bool
    _hooks: dict[int, Callable] | None
    _versions: VersionCounter | None  # made at the first in-place change
    name: str | None
    _created: int  # its number in the graph's order

    def __init__(self, data: ArrayLike, requires_grad: bool = False, dtype: Any = None,
                 name: str | None = None) -> None:
        made = Tensor._wrap(_as_array(data, dtype))  # every field is set in _wrap alone,
        for field in _FIELDS:  # and copied here: neither can miss one
            setattr(self, field, getattr(made, field))
        self.name = name
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, data: np.ndarray) -> Tensor:
        """A Tensor around an array we already own: the fast path ops use (no checks), and
        the one place that sets a tensor's fields (written out: a call less per op)."""
        t = cls.__new__(cls)
        t.data = data
        t._grad = None
        t.requires_grad = False
        t._ctx = None
        t._retains_grad = False
        t._hooks = None
        t._versions = None
        t.name = None
        t._created = next(_creation_counter)  # its place in the graph's order
        return t

    # -- plain attributes ----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        """The size of each axis, a tuple: (2, 3) for 2 rows of 3 (numpy's `.shape`)."""
        return self.data.shape

    @property
    def ndim(self) -> int:
        """The number of axes: 0 for a number, 1 for a vector, 2 for a matrix."""
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        """The numpy dtype of the values (float32 unless made otherwise)."""
        return self.data.dtype

    @property
    def size(self) -> _Size:
        """The number of elements (numpy's `.size`), also callable as PyTorch's `.size()`:
        `t.size == 6` and `t.size() == (2, 3)` both hold."""
        return _Size(self.data.shape)

    def numel(self) -> int:
        """The number of elements."""
        return self.data.size

    def dim(self) -> int:
        """The number of axes (PyTorch's name for ndim)."""
        return self.data.ndim

    @property
    def grad(self) -> Tensor | None:
        """∂C/∂self after backward(), a Tensor of this tensor's shape and dtype; None before,
        for tensors that do not require grad, and for non-leaf tensors unless retain_grad()
        was called. Assigning checks what is assigned, as PyTorch does: a Tensor of this
        shape and dtype, or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        if value is not None:
            _check_assigned_grad(self, value)
        if Recording.active is not None:  # a jit step: replays must clear it too
            _note_grad_assignment(self, value)
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (no op links them to an earlier tensor)."""
        return self._ctx is None

    def __len__(self) -> int:
        """The length of the first axis (a 0-d tensor has none, as in PyTorch)."""
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor; use .item() to get its value")
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied)."""
        _note_value_read("numpy()")
        return self.data

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        _note_value_read("item()")
        if self.data.size != 1:
            raise ValueError(f"item: only a one-element tensor has an item, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """The values as (nested) Python lists."""
        _note_value_read("tolist()")
        return self.data.tolist()

    def detach(self) -> Tensor:
        """The same data, cut from the graph: no gradient flows through it."""
        out = derived(_same, self)  # (a jit replay passes the new values on)
        out._versions = self._version_counter()  # the same memory: the same counter
        return out

    def clone(self) -> Tensor:
        """A copy of the values in new memory; gradients flow back through it."""
        return ops.Clone.apply(self)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf tensor as one whose gradient `backward()` should compute."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating-point tensors can require grad, "
                            f"this one is {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_: cannot turn it off on a non-leaf tensor; "
                               "use .detach()")
        self.requires_grad = requires_grad
        # Every change counts, even of a tensor made after every record: the step may read
        # it through a name rebound since (W = (W - lr * W.grad).detach().requires_grad_()),
        # and a replay would read the old tensor, silently. (Recording again costs time.)
        note_model_change()
        return self

    def retain_grad(self) -> Tensor:
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: this tensor does not require grad")
        self._retains_grad = True
        return self

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> RemovableHandle:
        """Call `hook(grad)` when this tensor's gradient is complete; a returned tensor
        replaces the gradient. Returns a handle whose `remove()` takes the hook away."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: this tensor does not require grad")
        global _hooks_registered
        _hooks_registered += 1
        if self._hooks is None:
            self._hooks = {}
        handle = RemovableHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    # -- in-place changes (the version counter notes each; backward checks it) ----------
    @property
    def _version(self) -> int:
        """How many times this tensor's memory was changed in place (PyTorch's name)."""
        return 0 if self._versions is None else self._versions.count

    def _version_counter(self) -> VersionCounter:
        """This tensor's version counter, made at first use (views, detach(), in-place
        changes and optimizers share it)."""
        if self._versions is None:
            self._versions = VersionCounter()
        return self._versions

    def _check_may_change(self, op: str) -> None:
        if not (_GradMode.enabled and self.requires_grad):
            return
        if self._ctx is None:
            raise RuntimeError(
                f"{op}: a leaf tensor that requires grad (shape {self.shape}) cannot be changed "
                "in place while the graph is recorded: its gradient would describe values it "
                "no longer has. Change it inside `with no_grad():`, as optimizers do.")
        raise RuntimeError(
            f"{op}: this tensor (shape {self.shape}) was made by '{self._ctx.name}' and is part "
            f"of a graph; an in-place change would not be recorded in it. Make a new tensor "
            "instead (y = x + 1 rather than x.add_(1)).")

    def _change_in_place(self, op: str, update: Callable[[np.ndarray], Any]) -> Tensor:
        """Run `update(self.data)`, which writes into the array, then note the new version."""
        self._check_may_change(op)
        if Recording.active is not None:
            raise RuntimeError(f"{op}: in-place changes inside a jit step are not recorded, "
                               "so a replay would skip them; change values in an optimizer "
                               "or outside the step")
        if not self.data.flags.writeable:  # expand() and broadcasts share one element
            raise RuntimeError(
                f"{op}: this tensor (shape {self.shape}) is a view in which several places "
                "share one element in memory (made by expand() or a broadcast), so writing "
                "to it would change them all; call .clone() first and change the copy")
        try:
            update(self.data)
        except ValueError as err:  # shapes that do not broadcast
            raise ValueError(f"{op}: {err} (tensor of shape {self.shape})") from None
        self._version_counter().bump()
        return self

    def _in_place_operand(self, other: Any, op: str, true_division: bool = False) -> np.ndarray:
        """`other` for an in-place op: the result must fit this tensor's dtype, as in PyTorch
        (an integer tensor cannot take `add_(0.5)`: that result is a float)."""
        array = _operand_array(other, op)
        dtype = result_dtype(self.data, array, other)
        if true_division and dtype.kind != "f":
            dtype = np.dtype(DEFAULT_DTYPE)
        if not np.can_cast(dtype, self.data.dtype, casting="same_kind"):
            raise TypeError(f"{op}: the result would be {dtype}, which a tensor of "
                            f"{self.dtype} cannot hold; convert first, e.g. x = x.float()")
        try:
            fits = np.broadcast_shapes(array.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"{op}: an operand of shape {array.shape} does not broadcast "
                             f"to the tensor's shape {self.shape}")
        return array

    def _arithmetic_in_place(self, ufunc: np.ufunc, other: ArrayLike, op: str,
                             alpha: float = 1) -> Tensor:
        """self ← ufunc(self, alpha · other), written into self's memory: add_, x += y, …"""
        value = self._in_place_operand(other, op, true_division=ufunc is np.divide)
        if alpha != 1:
            value = value * alpha
        return self._change_in_place(op, lambda d: ufunc(d, value, out=d))

    def add_(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        """self += alpha · other, in place."""
        return self._arithmetic_in_place(np.add, other, "add_", alpha)

    def sub_(self, other: ArrayLike, alpha: float = 1) -> Tensor:
        """self −= alpha · other, in place."""
        return self._arithmetic_in_place(np.subtract, other, "sub_", alpha)

    def mul_(self, other: ArrayLike) -> Tensor:
        """self *= other, in place."""
        return self._arithmetic_in_place(np.multiply, other, "mul_")

    def div_(self, other: ArrayLike) -> Tensor:
        """self /= other, in place (floating-point tensors only, as in PyTorch)."""
        return self._arithmetic_in_place(np.divide, other, "div_")

    def pow_(self, exponent: ArrayLike) -> Tensor:
        """self ← self ** exponent, in place."""
        return self._arithmetic_in_place(np.power, exponent, "pow_")

    # Python's augmented assignments are PyTorch's in-place ops: without these, `p -= lr * g`
    # would make a new tensor and rebind the name p, leaving the model's parameter as it was.
    def __iadd__(self, other: ArrayLike) -> Tensor:
        return self._arithmetic_in_place(np.add, other, "+= (add_)")

    def __isub__(self, other: ArrayLike) -> Tensor:
        return self._arithmetic_in_place(np.subtract, other, "-= (sub_)")

    def __imul__(self, other: ArrayLike) -> Tensor:
        return self._arithmetic_in_place(np.multiply, other, "*= (mul_)")

    def __itruediv__(self, other: ArrayLike) -> Tensor:
        return self._arithmetic_in_place(np.divide, other, "/= (div_)")

    def __ipow__(self, exponent: ArrayLike) -> Tensor:
        return self._arithmetic_in_place(np.power, exponent, "**= (pow_)")

    def zero_(self) -> Tensor:
        """Set every element to 0, in place."""
        return self._change_in_place("zero_", lambda d: d.fill(0))

    def fill_(self, value: float) -> Tensor:
        """Set every element to `value`, in place."""
        if not isinstance(value, (int, float, np.number, bool)):
            raise TypeError(f"fill_: value must be a number, got {_describe(value)}")
        return self._change_in_place("fill_", lambda d: d.fill(value))

    def copy_(self, source: ArrayLike) -> Tensor:
        """Copy `source`'s values into this tensor (broadcast to its shape, cast to its
        dtype), in place."""
        array = _operand_array(source, "copy_")
        return self._change_in_place("copy_", lambda d: np.copyto(d, array, casting="unsafe"))

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, threshold=20,
                               prefix="tensor(")
        extras = []
        if self.dtype != DEFAULT_DTYPE:
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn={self._ctx.name}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        if self.name:
            extras.append(f"name={self.name!r}")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    def __bool__(self) -> bool:
        _note_value_read("a Python `if`/`bool()` on a tensor")
        if self.data.size != 1:
            raise ValueError(f"bool: the truth value of a tensor of shape {self.shape} is "
                             "ambiguous; use .any() or .all() on .data")
        return bool(self.data)

    __hash__ = object.__hash__

    # -- ops (each is a Function in ops/; these are the PyTorch-style spellings) ---------
    def _operands(self, other: Any, op: str) -> tuple[Tensor, Tensor]:
        """self and other in one dtype, chosen as PyTorch promotes types (see `result_dtype`):
        `Tensor.arange(5) * 0.5` is float32 [0, 0.5, 1, …], never truncated to integers."""
        if isinstance(other, Tensor) and other.data.dtype == self.data.dtype:
            return self, other  # the common case, decided with one comparison
        other_array = _operand_array(other, op)
        dtype = result_dtype(self.data, other_array, other)
        mine = self if self.data.dtype == dtype else self.to(dtype)
        if isinstance(other, Tensor):
            return mine, other if other.data.dtype == dtype else other.to(dtype)
        return mine, Tensor._wrap(other_array.astype(dtype, copy=False))

    def _float_operands(self, other: Any, op: str) -> tuple[Tensor, Tensor]:
        """For true division: as `_operands`, then integers become float32 (`7 / 2` is 3.5)."""
        a, b = self._operands(other, op)
        if a.data.dtype.kind != "f":
            a, b = a.to(DEFAULT_DTYPE), b.to(DEFAULT_DTYPE)
        return a, b

    def __add__(self, other: ArrayLike) -> Tensor:
        return ops.Add.apply(*self._operands(other, "add"))

    def __radd__(self, other: ArrayLike) -> Tensor:
        mine, theirs = self._operands(other, "add")
        return ops.Add.apply(theirs, mine)

    def __sub__(self, other: ArrayLike) -> Tensor:
        return ops.Sub.apply(*self._operands(other, "sub"))

    def __rsub__(self, other: ArrayLike) -> Tensor:
        mine, theirs = self._operands(other, "sub")
        return ops.Sub.apply(theirs, mine)

    def __mul__(self, other: ArrayLike) -> Tensor:
        return ops.Mul.apply(*self._operands(other, "mul"))

    def __rmul__(self, other: ArrayLike) -> Tensor:
        mine, theirs = self._operands(other, "mul")
        return ops.Mul.apply(theirs, mine)

    def __truediv__(self, other: ArrayLike) -> Tensor:
        return ops.Div.apply(*self._float_operands(other, "div"))

    def __rtruediv__(self, other: ArrayLike) -> Tensor:
        mine, theirs = self._float_operands(other, "div")
        return ops.Div.apply(theirs, mine)

    def __pow__(self, exponent: ArrayLike) -> Tensor:
        return ops.Pow.apply(*self._operands(exponent, "pow"))

    def __rpow__(self, base: ArrayLike) -> Tensor:
        mine, theirs = self._operands(base, "pow")
        return ops.Pow.apply(theirs, mine)

    def __neg__(self) -> Tensor:
        return ops.Neg.apply(self)

    def __matmul__(self, other: ArrayLike) -> Tensor:
        return ops.MatMul.apply(*self._operands(other, "matmul"))

    def __rmatmul__(self, other: ArrayLike) -> Tensor:
        mine, theirs = self._operands(other, "matmul")
        return ops.MatMul.apply(theirs, mine)

    def matmul(self, other: ArrayLike) -> Tensor:
        """Matrix product with numpy's rules for 1-D and batched operands."""
        return self @ other

    # comparisons give constant tensors (no gradient), as in PyTorch
    def __lt__(self, other: ArrayLike) -> Tensor:
        return derived(np.less, *self._operands(other, "lt"))

    def __le__(self, other: ArrayLike) -> Tensor:
        return derived(np.less_equal, *self._operands(other, "le"))

    def __gt__(self, other: ArrayLike) -> Tensor:
        return derived(np.greater, *self._operands(other, "gt"))

    def __ge__(self, other: ArrayLike) -> Tensor:
        return derived(np.greater_equal, *self._operands(other, "ge"))

    def __eq__(self, other: object) -> Tensor:  # type: ignore[override]
        return derived(np.equal, *self._operands(other, "eq"))

    def __ne__(self, other: object) -> Tensor:  # type: ignore[override]
        return derived(np.not_equal, *self._operands(other, "ne"))

    # logic on masks (bool tensors; bitwise on integers), no gradient, as in PyTorch
    def _logic(self, other: Any, op: str, ufunc: Callable[[Any, Any], Any]) -> Tensor:
        a, b = self._operands(other, op)
        if a.data.dtype.kind == "f":
            raise TypeError(f"{op}: needs bool or integer tensors, got {a.dtype}; compare "
                            "first (x > 0) to make a mask")
        return derived(ufunc, a, b)

    def __and__(self, other: ArrayLike) -> Tensor:
        return self._logic(other, "& (bitwise_and)", np.bitwise_and)

    def __or__(self, other: ArrayLike) -> Tensor:
        return self._logic(other, "| (bitwise_or)", np.bitwise_or)

    def __xor__(self, other: ArrayLike) -> Tensor:
        return self._logic(other, "^ (bitwise_xor)", np.bitwise_xor)

    def __invert__(self) -> Tensor:
        return self._logic(self, "~ (bitwise_not)", lambda a, _: np.invert(a))

    def logical_not(self) -> Tensor:
        """True where the value is 0 (or False)."""
        return derived(np.logical_not, self)

    def logical_and(self, other: ArrayLike) -> Tensor:
        """True where both are non-zero."""
        return derived(np.logical_and, *self._operands(other, "logical_and"))

    def logical_or(self, other: ArrayLike) -> Tensor:
        """True where either is non-zero."""
        return derived(np.logical_or, *self._operands(other, "logical_or"))

    # The functions below work on floats: integers become float32 first, as in PyTorch
    # (numpy would give float64). The test is written out in each: one call less per op.
    def sigmoid(self) -> Tensor:
        """σ(x) = 1 / (1 + e⁻ˣ), elementwise."""
        return ops.SigmoidOp.apply(self if self.data.dtype.kind == "f" else self.float())

    def relu(self) -> Tensor:
        """max(x, 0), elementwise."""
        return ops.ReLUOp.apply(self)

    def tanh(self) -> Tensor:
        """tanh(x), elementwise."""
        return ops.TanhOp.apply(self if self.data.dtype.kind == "f" else self.float())

    def exp(self) -> Tensor:
        """eˣ, elementwise."""
        return ops.Exp.apply(self if self.data.dtype.kind == "f" else self.float())

    def log(self) -> Tensor:
        """ln x, elementwise."""
        return ops.Log.apply(self if self.data.dtype.kind == "f" else self.float())

    # Reductions take numpy's axis=/keepdims= or PyTorch's dim=/keepdim= (ops/reduce.py has
    # the math and the argument checks); `dim=()` reduces every axis, as in PyTorch 2.13.
    def sum(self, axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None, *,
            dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None) -> Tensor:
        """Sum over `axis` (all axes by default); bool and integer tensors give int64."""
        axes = ops.reduce_axes("sum", _axis("sum", axis, dim), self.ndim)
        return ops.Sum.apply(self, axis=axes, keepdims=_keep("sum", keepdims, keepdim),
                             dtype=ops.total_dtype(self))

    def mean(self, axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None, *,
             dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None) -> Tensor:
        """Mean over `axis` (all axes by default); floating-point tensors only, as PyTorch."""
        return ops.mean(self, _axis("mean", axis, dim), _keep("mean", keepdims, keepdim))

    def max(self, dim: int | None = None, keepdim: bool | None = None, *,
            axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Any:
        """Largest value. As in PyTorch, `x.max()` is one value (tied maxima share the
        gradient equally) and `x.max(dim)` is (values, indices), the gradient going to the
        index; numpy's `x.max(axis=…)` gives the values alone, as `amax`."""
        return self._extreme("max", dim, keepdim, axis, keepdims)

    def min(self, dim: int | None = None, keepdim: bool | None = None, *,
            axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Any:
        """Smallest value, min x = −max(−x); arguments and results as `max`."""
        return self._extreme("min", dim, keepdim, axis, keepdims)

    def _extreme(self, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
        keep = _keep(op, keepdims, keepdim)
        if isinstance(dim, Tensor):
            raise TypeError(f"{op}: for the elementwise {op} of two tensors write "
                            f"x.{op}imum(other)")
        if axis is not None:  # numpy's spelling: the values alone, as amax/amin
            _axis(op, axis, dim)
            return (ops.amax if op == "max" else ops.amin)(self, axis, keep, op=op)
        return ops.extreme(self, op, dim, keep)

    def argmax(self, dim: int | None = None, keepdim: bool = False, *,
               axis: int | None = None) -> Tensor:
        """Index of the largest value (of the flattened tensor when dim is None); no
        gradient flows through an index."""
        return ops.argmax(self, _axis("argmax", axis, dim), keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False, *,
               axis: int | None = None) -> Tensor:
        """Index of the smallest value (of the flattened tensor when dim is None)."""
        return ops.argmin(self, _axis("argmin", axis, dim), keepdim)

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """e^xᵢ / Σⱼ e^xⱼ along `axis` (or `dim`), stable for large |x|."""
        return ops.softmax(self, _axis("softmax", None if dim is not None else axis, dim))

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        """xᵢ − log Σⱼ e^xⱼ along `axis` (or `dim`), stable for large |x|."""
        return ops.log_softmax(self, _axis("log_softmax", None if dim is not None else axis,
                                           dim))
    def reshape(self, *shape: Any) -> Tensor:
        """The same elements in a new shape: `x.reshape(2, 3)` or `x.reshape((2, 3))`."""
        return ops.Reshape.apply(self, shape=_shape_arg(shape))

    def view(self, *shape: int) -> Tensor:
        """PyTorch's name for reshape."""
        return self.reshape(*shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge the axes from `start_dim` to `end_dim` (both included) into one."""
        start = normalize_dim("flatten", start_dim, self.ndim)
        end = normalize_dim("flatten", end_dim, self.ndim)
        if self.ndim == 0:
            return self.reshape(1)
        if start > end:
            raise RuntimeError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                               f"for a tensor of shape {self.shape}")
        merged = int(np.prod(self.shape[start:end + 1]))  # (not -1: ambiguous for 0 rows)
        return self.reshape(self.shape[:start] + (merged,) + self.shape[end + 1:])

    def unsqueeze(self, dim: int) -> Tensor:
        """A new axis of length 1 at position `dim` (negative counts from the end)."""
        if not -self.ndim - 1 <= dim <= self.ndim:
            raise IndexError(f"unsqueeze: dim {dim} is out of range for a tensor with "
                             f"{self.ndim} axes (allowed: {-self.ndim - 1} to {self.ndim})")
        position = dim % (self.ndim + 1)
        return self.reshape(self.shape[:position] + (1,) + self.shape[position:])

    def squeeze(self, dim: int | tuple[int, ...] | None = None) -> Tensor:
        """Drop axes of length 1: all of them, or those of `dim` (an int or a tuple) that
        have length 1, as in PyTorch."""
        dims = range(self.ndim) if dim is None else normalize_dims("squeeze", dim, self.ndim)
        kept = tuple(n for i, n in enumerate(self.shape) if n != 1 or i not in dims)
        return self if kept == self.shape else self.reshape(kept)

    def expand(self, *sizes: int) -> Tensor:
        """This tensor broadcast to `sizes` (-1 keeps an axis's length), without copying;
        the gradient sums back over the copies."""
        sizes = _shape_arg(sizes)
        new_axes = len(sizes) - self.ndim
        if new_axes < 0 or -1 in sizes[:new_axes]:
            raise RuntimeError(f"expand: sizes {sizes} for a tensor of shape {self.shape}: give "
                               "one size per axis (new axes, in front, cannot be -1)")
        shape = (1,) * new_axes + self.shape
        target = tuple(n if s == -1 else s for s, n in zip(sizes, shape, strict=False))
        try:
            np.broadcast_shapes(shape, target)
        except ValueError:
            raise ValueError(f"expand: a tensor of shape {self.shape} cannot be expanded to "
                             f"{sizes}: only axes of length 1 can grow") from None
        return ops.Expand.apply(self, shape=target)

    def permute(self, *axes: int) -> Tensor:
        """Reorder the axes: `x.permute(2, 0, 1)`."""
        axes = _shape_arg(axes)
        if len(axes) != self.ndim:
            raise RuntimeError(f"permute: {axes} names {len(axes)} axes, but the tensor of "
                               f"shape {self.shape} has {self.ndim}")
        return ops.Permute.apply(self, axes=normalize_dims("permute", axes, self.ndim))

    def movedim(self, source: int, destination: int) -> Tensor:
        """The axis `source` moved to position `destination`, the others in their order
        (PyTorch's `movedim` for one axis): `x.movedim(0, -1)` of shape (2, 3, 4) is (3, 4, 2)."""
        source = normalize_dim("movedim", source, self.ndim)
        destination = normalize_dim("movedim", destination, self.ndim)
        if self.ndim == 0 or source == destination:
            return ops.Permute.apply(self, axes=tuple(range(self.ndim)))  # (a new view)
        axes = [a for a in range(self.ndim) if a != source]
        axes.insert(destination, source)
        return ops.Permute.apply(self, axes=tuple(axes))

    def transpose(self, dim0: int = -2, dim1: int = -1) -> Tensor:
        """Swap two axes (PyTorch's meaning; the last two by default, and then a tensor
        with fewer than two axes is returned as it is, as `.T` does)."""
        if self.ndim < 2 and (dim0, dim1) == (-2, -1):
            return self
        axes = list(range(self.ndim))
        first, second = (normalize_dim("transpose", d, self.ndim) for d in (dim0, dim1))
        if self.ndim == 0:
            return self
        axes[first], axes[second] = axes[second], axes[first]
        return ops.Permute.apply(self, axes=tuple(axes))

    swapaxes = transpose

    @property
    def T(self) -> Tensor:  # noqa: N802 - PyTorch's name
        """All axes reversed (the transpose of a matrix)."""
        ndim = self.data.ndim  # (valid axes by construction: permute()'s checks skipped)
        return ops.Permute.apply(self, axes=tuple(range(ndim - 1, -1, -1))) if ndim > 1 else self

    def __getitem__(self, index: Any) -> Tensor:
        index = _index_arg(index)
        first, rest = _split_integer_index(index, self.ndim)
        try:
            if first is not None:  # PyTorch picks with the integers first, then the rest
                return ops.GetItem.apply(self, index=first)[rest]
            return ops.GetItem.apply(self, index=index)
        except IndexError as err:
            raise _index_error(self, err) from None

    def __setitem__(self, index: Any, value: ArrayLike) -> None:
        """`x[index] = value` as in PyTorch (value broadcast to the places it fills, cast to
        x's dtype). Outside a graph it writes into x's memory (a new version, so a graph
        that saved x refuses to use the old values); when x is part of a graph or value
        requires grad, the write is recorded: the gradient reaches the part of the old x
        that was kept, and value."""
        index = _index_arg(index)
        recorded = _GradMode.enabled and (
            self.requires_grad or (isinstance(value, Tensor) and value.requires_grad))
        try:
            if recorded and not (self.requires_grad and self._ctx is None):
                self._record_write(index, value)
            else:  # (a leaf that requires grad gets the in-place refusal here)
                array = _operand_array(value, "setitem")
                self._change_in_place("setitem", lambda d: ops.write_at(d, index, array))
        except IndexError as err:
            raise _index_error(self, err, "setitem") from None

    def _record_write(self, index: Any, value: ArrayLike) -> None:
        """x[index] = value inside a graph: x becomes the output of a SetItem op whose input
        is a new node holding x's old values, so ops that used x before keep their meaning
        (they see the new version and refuse at backward, instead of a wrong gradient)."""
        if Recording.active is not None:
            raise RuntimeError("setitem: writing into a tensor inside a jit step is not "
                               "recorded; build the value with tg.where or masked_fill")
        if self._ctx is not None and self.data.base is not None and any(
                np.may_share_memory(self.data, t.data) for t in self._ctx.inputs):
            raise RuntimeError(
                f"setitem: this tensor is a view of another one (made by '{self._ctx.name}'); "
                "a write into a view inside a graph is not recorded here. Write into the "
                "tensor it views, or clone() it first, or use where()/masked_fill()")
        old = Tensor._wrap(self.data.copy())  # the values before the write, a node of their own
        old.requires_grad, old._ctx, old._created = self.requires_grad, self._ctx, self._created
        value_tensor = value if isinstance(value, Tensor) else Tensor._wrap(
            _operand_array(value, "setitem"))
        if value_tensor.dtype != self.dtype:
            value_tensor = value_tensor.to(self.dtype)
        self._version_counter().bump()  # ops made before this point must not use x's new values
        written = ops.SetItem.apply(old, value_tensor, index=index)
        self.data[...] = written.data  # in x's own memory, so tensors sharing it see the write
        self._ctx, self._created, self.requires_grad = written._ctx, written._created, True

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """This tensor in another dtype; the gradient flows back in the original dtype.
        As PyTorch: `x.to(np.float64)`, `x.to(other_tensor)` (its dtype), `x.to("cpu")`,
        `x.to("cpu", np.float64)`, `x.to(device=…, dtype=…)`; the only device is the CPU."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str) and arg.split(":")[0] not in np.sctypeDict:
                device = arg
            else:
                dtype = arg
        check_device("to", device)
        if dtype is None or np.dtype(dtype) == self.dtype:
            return self
        target = np.dtype(dtype)
        if target.kind not in "fc":  # integers and bools have no gradient (as in PyTorch)
            return derived(lambda a: a.astype(target), self)
        return ops.Cast.apply(self, dtype=target)

    def cpu(self) -> Tensor:
        """This tensor (every tensor here lives in the CPU's memory, as numpy arrays)."""
        return self

    def cuda(self, device: Any = None) -> Tensor:
        """Refused: this library runs on numpy, on the CPU."""
        check_device("cuda", "cuda")
        return self

    @property
    def device(self) -> str:
        """Where the values live: always "cpu" here (numpy arrays)."""
        return "cpu"

    def __float__(self) -> float:
        """`float(t)` for a one-element tensor."""
        return float(self.item())

    def __int__(self) -> int:
        """`int(t)` for a one-element tensor (truncated toward zero, as Python's int)."""
        return int(self.item())

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """`np.asarray(t)` gives the values (the array itself, not an object array)."""
        _note_value_read("np.asarray()")
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def float(self) -> Tensor:
        """As float32."""
        return self.to(np.float32)

    def double(self) -> Tensor:
        """As float64."""
        return self.to(np.float64)

    # -- constructors ----------------------------------------------------------------------
    @classmethod
    def zeros(cls, *shape: int, requires_grad: bool = False, dtype: Any = DEFAULT_DTYPE) -> Tensor:
        """A tensor of zeros: `Tensor.zeros(2, 3)` or `Tensor.zeros((2, 3))`."""
        return cls(np.zeros(_new_shape("zeros", shape), dtype), requires_grad=requires_grad)

    @classmethod
    def ones(cls, *shape: int, requires_grad: bool = False, dtype: Any = DEFAULT_DTYPE) -> Tensor:
        """A tensor of ones."""
        return cls(np.ones(_new_shape("ones", shape), dtype), requires_grad=requires_grad)

    @classmethod
    def eye(cls, n: int, m: int | None = None, requires_grad: bool = False,
            dtype: Any = DEFAULT_DTYPE) -> Tensor:
        """The n×m identity matrix."""
        return cls(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def arange(cls, start: Number, stop: Number | None = None, step: Number = 1,
               requires_grad: bool = False, dtype: Any = None) -> Tensor:
        """Evenly spaced values in [start, stop); integers give int64 as in PyTorch."""
        if stop is None:
            start, stop = 0, start
        if dtype is None:
            integral = all(isinstance(v, (int, np.integer)) for v in (start, stop, step))
            dtype = np.int64 if integral else DEFAULT_DTYPE
        return cls(np.arange(start, stop, step, dtype=dtype), requires_grad=requires_grad)

    @classmethod
    def randn(cls, *shape: int, requires_grad: bool = False, dtype: Any = DEFAULT_DTYPE,
              seed: int | np.random.Generator | None = None) -> Tensor:
        """Samples of the standard normal N(0, 1); `seed` is an int or a numpy Generator."""
        data = random_generator(seed).standard_normal(_new_shape("randn", shape)).astype(dtype)
        return cls(data, requires_grad=requires_grad)

    @classmethod
    def rand(cls, *shape: int, requires_grad: bool = False, dtype: Any = DEFAULT_DTYPE,
             seed: int | np.random.Generator | None = None) -> Tensor:
        """Samples of the uniform distribution on [0, 1)."""
        data = random_generator(seed).random(_new_shape("rand", shape)).astype(dtype)
        return cls(data, requires_grad=requires_grad)

    # -- elementwise math (ops/elementwise.py) and activations (ops/activations.py) ----------
    def _as_float(self) -> Tensor:
        """This tensor, or float32 if it holds integers (for the functions of floats)."""
        return self if self.data.dtype.kind == "f" else self.float()

    def abs(self) -> Tensor:
        """|x|, elementwise (integers stay integers)."""
        return ops.Abs.apply(self)

    def sign(self) -> Tensor:
        """−1, 0 or 1, elementwise (0 for NaN, as PyTorch); its gradient is 0."""
        return ops.Sign.apply(self)

    def square(self) -> Tensor:
        """x², elementwise (integers stay integers)."""
        return ops.square(self)

    def sqrt(self) -> Tensor:
        """√x, elementwise (NaN for x < 0, as PyTorch)."""
        return ops.Sqrt.apply(self._as_float())

    def rsqrt(self) -> Tensor:
        """1/√x, elementwise."""
        return ops.Rsqrt.apply(self._as_float())

    def reciprocal(self) -> Tensor:
        """1/x, elementwise."""
        return ops.Reciprocal.apply(self._as_float())

    def sin(self) -> Tensor:
        """sin x, elementwise (radians)."""
        return ops.Sin.apply(self._as_float())

    def cos(self) -> Tensor:
        """cos x, elementwise (radians)."""
        return ops.Cos.apply(self._as_float())

    def log1p(self) -> Tensor:
        """ln(1 + x), elementwise, exact for tiny x."""
        return ops.Log1p.apply(self._as_float())

    def expm1(self) -> Tensor:
        """eˣ − 1, elementwise, exact for tiny x."""
        return ops.Expm1.apply(self._as_float())

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        """Each element limited to [min, max] (numbers or Tensors; either may be None)."""
        return ops.clamp(self, min, max)

    def clip(self, min: Any = None, max: Any = None) -> Tensor:
        """PyTorch's other name for clamp."""
        return ops.clamp(self, min, max)

    def clamp_min(self, min: Any) -> Tensor:
        """max(x, min) elementwise, with clamp's gradient."""
        return ops.clamp(self, min=min)

    def clamp_max(self, max: Any) -> Tensor:
        """min(x, max) elementwise, with clamp's gradient."""
        return ops.clamp(self, max=max)

    def maximum(self, other: Tensor) -> Tensor:
        """The larger of each pair (broadcast); a tie shares the gradient equally."""
        return ops.maximum(self, other)

    def minimum(self, other: Tensor) -> Tensor:
        """The smaller of each pair (broadcast); a tie shares the gradient equally."""
        return ops.minimum(self, other)

    # -- more reductions (ops/reduce.py) -----------------------------------------------------
    def var(self, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None,
            keepdim: bool | None = None, *, correction: Number | None = None,
            axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Tensor:
        """Variance over `dim` (all axes by default): Σ (x − x̄)² / (N − correction), with
        correction 1 by default (Bessel's; unbiased=False is correction 0), as PyTorch."""
        return ops.var(self, _axis("var", axis, dim), unbiased, _keep("var", keepdims, keepdim),
                       correction=correction)

    def std(self, dim: int | tuple[int, ...] | None = None, unbiased: bool | None = None,
            keepdim: bool | None = None, *, correction: Number | None = None,
            axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Tensor:
        """Standard deviation √var over `dim`; arguments as `var`."""
        return ops.std(self, _axis("std", axis, dim), unbiased, _keep("std", keepdims, keepdim),
                       correction=correction)

    def norm(self, p: Number | str = "fro", dim: int | tuple[int, ...] | None = None,
             keepdim: bool | None = None, *, axis: int | tuple[int, ...] | None = None,
             keepdims: bool | None = None) -> Tensor:
        """The p-norm (Σ |xᵢ|^p)^(1/p) over `dim` (all axes by default): p = 'fro' or 2,
        1, float('inf'), float('-inf') or another number, as PyTorch's `Tensor.norm`."""
        return ops.norm(self, p, _axis("norm", axis, dim), _keep("norm", keepdims, keepdim))

    def prod(self, dim: int | None = None, keepdim: bool | None = None, *,
             axis: int | None = None, keepdims: bool | None = None) -> Tensor:
        """Product of the elements along one `dim` (all by default); integers give int64."""
        return ops.prod(self, _axis("prod", axis, dim), _keep("prod", keepdims, keepdim))

    def logsumexp(self, dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None,
                  *, axis: int | tuple[int, ...] | None = None,
                  keepdims: bool | None = None) -> Tensor:
        """log Σ eˣ over `dim` (required, as in PyTorch), stable for large x."""
        return ops.logsumexp(self, _axis("logsumexp", axis, dim),
                             _keep("logsumexp", keepdims, keepdim))

    def amax(self, dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None, *,
             axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Tensor:
        """Largest value over `dim` (all axes by default); ties share the gradient equally."""
        return ops.amax(self, _axis("amax", axis, dim), _keep("amax", keepdims, keepdim))

    def amin(self, dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None, *,
             axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Tensor:
        """Smallest value over `dim` (all axes by default); ties share the gradient equally."""
        return ops.amin(self, _axis("amin", axis, dim), _keep("amin", keepdims, keepdim))

    def cumsum(self, dim: int | None = None, *, axis: int | None = None) -> Tensor:
        """Running sum along `dim` (required, as in PyTorch); integers give int64."""
        return ops.cumsum(self, _axis("cumsum", axis, dim))

    def any(self, dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None, *,
            axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Tensor:
        """Whether any element over `dim` (all axes by default) is nonzero; no gradient."""
        return self._test("any", np.any, _axis("any", axis, dim), _keep("any", keepdims, keepdim))

    def all(self, dim: int | tuple[int, ...] | None = None, keepdim: bool | None = None, *,
            axis: int | tuple[int, ...] | None = None, keepdims: bool | None = None) -> Tensor:
        """Whether every element over `dim` (all axes by default) is nonzero; no gradient."""
        return self._test("all", np.all, _axis("all", axis, dim), _keep("all", keepdims, keepdim))

    def _test(self, op: str, test: Callable[..., Any], dim: Any, keepdim: bool) -> Tensor:
        # dim=() tests each element alone, as PyTorch 2.13's any/all do (its sum reduces all)
        empty = isinstance(dim, (tuple, list)) and len(dim) == 0
        axes = () if empty else ops.reduce_axes(op, dim, self.ndim)
        kind = np.uint8 if self.dtype == np.uint8 else bool
        return derived(lambda a: np.asarray(test(a, axis=axes, keepdims=keepdim)).astype(kind),
                       self)

    # -- joining, splitting (ops/shape.py) and selecting (ops/select.py) ----------------------
    # (joining is tg.cat / tg.stack: PyTorch has no Tensor method for it either)
    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0
              ) -> tuple[Tensor, ...]:
        """Pieces along `dim`: of `split_size` each (the last may be shorter) or of the
        listed sizes, which must add up to the length."""
        return ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        """`chunks` pieces along `dim` of ⌈length / chunks⌉ each (the last may be shorter)."""
        return ops.chunk(self, chunks, dim)

    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        """The slices along `dim`, that axis removed: (x[0], x[1], …) for dim 0."""
        return ops.unbind(self, dim)

    def where(self, condition: Tensor, other: ArrayLike) -> Tensor:
        """This tensor where `condition` is True, `other` elsewhere: tg.where(condition,
        self, other)."""
        return ops.where(condition, self, other)

    def masked_fill(self, mask: Tensor, value: Number | Tensor) -> Tensor:
        """`value` where the bool `mask` is True (no gradient reaches those places)."""
        return ops.masked_fill(self, mask, value)

    def tril(self, diagonal: int = 0) -> Tensor:
        """The lower triangle of the last two axes; zeros above the `diagonal`-th diagonal."""
        return ops.tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """The upper triangle of the last two axes; zeros below the `diagonal`-th diagonal."""
        return ops.triu(self, diagonal)

    def gather(self, dim: int, index: Tensor) -> Tensor:
        """`out[i][j] = self[i][index[i][j]]` for dim 1 (index: int64, as many axes)."""
        return ops.gather(self, dim, index)

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        """The entries at the positions in `index` (a vector of integers) along `dim`."""
        return ops.index_select(self, dim, index)

    def take_along_dim(self, indices: Tensor, dim: int | None = None) -> Tensor:
        """numpy's take_along_axis: gather with broadcasting (flattened without `dim`)."""
        return ops.take_along_dim(self, indices, dim)

    def flip(self, *dims: int) -> Tensor:
        """The order reversed along each of `dims`: `x.flip(0)`, `x.flip(0, 1)` or
        `x.flip((0, 1))`."""
        return ops.flip(self, _shape_arg(dims))

    def roll(self, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
             ) -> Tensor:
        """Entries shifted by `shifts` along `dims`, wrapping around (flattened without dims)."""
        return ops.roll(self, shifts, dims)

    def repeat(self, *sizes: int) -> Tensor:
        """Tiled `sizes[i]` times along axis i (PyTorch's repeat, numpy's tile)."""
        return ops.repeat(self, *sizes)

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool = False
             ) -> MaxResult:
        """(values, indices) sorted along `dim`; always stable (ties keep their order)."""
        return ops.sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: bool = False
                ) -> Tensor:
        """The int64 indices that sort along `dim` (stable)."""
        return ops.argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
             ) -> MaxResult:
        """(values, indices) of the k largest (or smallest) entries along `dim`."""
        return ops.topk(self, k, dim, largest, sorted)

    # -- products and method forms of arithmetic (ops/products.py) ---------------------------
    def add(self, other: ArrayLike, *, alpha: Number = 1) -> Tensor:
        """self + alpha · other (torch.add): the `+` op, with its type promotion."""
        return ops.add(self, other, alpha=alpha)

    def sub(self, other: ArrayLike, *, alpha: Number = 1) -> Tensor:
        """self − alpha · other (torch.sub): the `-` op, with its type promotion."""
        return ops.sub(self, other, alpha=alpha)

    def mul(self, other: ArrayLike) -> Tensor:
        """self · other, elementwise (torch.mul): the `*` op."""
        return self * other

    def div(self, other: ArrayLike, *, rounding_mode: str | None = None) -> Tensor:
        """self / other (torch.div); rounding_mode 'trunc' or 'floor' rounds the quotient."""
        return ops.div(self, other, rounding_mode=rounding_mode)

    def pow(self, exponent: ArrayLike) -> Tensor:
        """self ** exponent, elementwise (torch.pow)."""
        return self ** exponent

    def neg(self) -> Tensor:
        """−self (torch.neg)."""
        return -self

    def mm(self, mat2: ArrayLike) -> Tensor:
        """Product of two matrices, 2-D only (torch.mm)."""
        return ops.mm(self, mat2)

    def bmm(self, mat2: ArrayLike) -> Tensor:
        """Batched matrix product (b, n, k) @ (b, k, m), 3-D only (torch.bmm)."""
        return ops.bmm(self, mat2)

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: int | np.random.Generator | None = None,
                    seed: int | np.random.Generator | None = None) -> Tensor:
        """Indices drawn from the distribution(s) in this 1-D or 2-D tensor of weights
        (torch.multinomial); int64, seeded as `tg.manual_seed` is."""
        from tinygrad_edu.creation import multinomial  # (creation.py imports this module)
        return multinomial(self, num_samples, replacement, generator=generator, seed=seed)

    # -- the backward pass -------------------------------------------------------------------
    def backward(self, grad: ArrayLike | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Fill `.grad` of every leaf this tensor depends on with ∂self/∂leaf.

        A scalar seeds itself with 1; any other tensor needs `grad`, the gradient of some
        final result with respect to it (same shape). Gradients add into `.grad` across
        calls, as in PyTorch. The graph is freed afterwards unless `retain_graph=True`;
        `create_graph=True` records the backward pass itself so the gradients can be
        differentiated again (it keeps the graph, as PyTorch does).
        """
        if not self.requires_grad:
            raise RuntimeError("backward: this tensor does not require grad and has no graph; "
                               "did an input have requires_grad=True?")
        if retain_graph is None:
            retain_graph = create_graph
        seed = self._seed_gradient(grad)
        if create_graph:
            with enable_grad():
                with _backward_lock:
                    _run_backward(self, _graph_seed(grad, seed), retain_graph, create_graph=True)
        else:
            with _backward_lock:
                _run_backward(self, seed, retain_graph, create_graph=False)

    def _seed_gradient(self, grad: ArrayLike | None) -> np.ndarray:
        if grad is None:
            if self.data.size != 1:
                raise ValueError(f"backward: a tensor of shape {self.shape} is not a scalar; "
                                 f"pass grad= of shape {self.shape}")
            # ∂self/∂self = 1 (np.array rather than np.ones: ~1 µs less per backward)
            return np.array(1, self.dtype).reshape(self.shape)
        seed = _as_array(grad, self.dtype)  # (not copied: backward copies it if it must)
        if seed.shape != self.shape:
            raise ValueError(f"backward: grad has shape {seed.shape} but the tensor has "
                             f"shape {self.shape}")
        return seed


_FIELDS = tuple(field for field in Tensor.__slots__ if field != "__weakref__")


class RemovableHandle:
    """What `register_hook` (and a module's `register_forward_hook`) returns:
    `handle.remove()` takes the hook away; `with handle:` removes it on leaving."""

    _next_id = 0

    def __init__(self, hooks: dict[int, Callable], on_remove: Callable[[], None] | None = None
                 ) -> None:
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id
        self._hooks = hooks
        self._on_remove = on_remove  # (a module with no hooks left gets its class back)

    def remove(self) -> None:
        """Take the hook away (removing it twice is harmless)."""
        if self._hooks.pop(self.id, None) is not None and self._on_remove is not None:
            self._on_remove()

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _check_assigned_grad(tensor: Tensor, value: Any) -> None:
    """`t.grad = value` must give a gradient the optimizer can use as it is (PyTorch refuses
    the rest at assignment too, not later inside step())."""
    if not isinstance(value, Tensor):
        raise TypeError(f"grad: assigned a gradient of type {type(value).__name__} to a tensor "
                        f"of shape {tensor.shape}; assign a Tensor (Tensor(array)) or None")
    if value.shape != tensor.shape:
        raise ValueError(f"grad: assigned a gradient of shape {value.shape} to a tensor of "
                         f"shape {tensor.shape}; they must be equal")
    if value.dtype != tensor.dtype:
        raise TypeError(f"grad: assigned a {value.dtype} gradient to a {tensor.dtype} tensor; "
                        f"convert it first: value.to({tensor.dtype})")


def check_device(op: str, device: Any) -> None:
    """Accept PyTorch's `device=` when it names the CPU (None, "cpu", "cpu:0"), since
    code copied from PyTorch passes it; refuse any other device in words."""
    name = getattr(device, "type", device)  # (a torch.device has .type)
    if name is None or str(name).split(":")[0] == "cpu":
        return
    raise ValueError(f"{op}: device {device!r} is not available: tinygrad_edu runs on numpy, "
                     "on the CPU; leave device= out (or pass \"cpu\")")


def _index_arg(index: Any) -> Any:
    """An index with any Tensors in it replaced by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    if isinstance(index, list) and any(isinstance(i, (list, tuple, slice, np.ndarray, Tensor))
                                       or i is None or i is Ellipsis for i in index):
        raise TypeError(  # PyTorch 2.13 reads x[[a, b]] with lists inside as x[a, b]; numpy
            # (and PyTorch's announced future) as one index array: the same code differs
            f"indexing: a list holding lists or slices ({_describe(index)}) means different "
            "things in PyTorch and numpy; write x[tuple(seq)] for several indices, or "
            "x[np.array(seq)] for one index array")
    return index


def _index_error(tensor: Tensor, err: IndexError, op: str = "getitem") -> IndexError:
    """numpy's IndexError said at the API boundary, PyTorch's way for a 0-d tensor."""
    if tensor.ndim == 0:
        return IndexError(f"{op}: invalid index of a 0-d tensor; use .item() to get its "
                          "value as a Python number")
    return IndexError(f"{op}: {err} (tensor of shape {tensor.shape})")


# ----------------------------------------------------------------------------------------
# Type promotion, as PyTorch: a category (bool < integer < float) is never lost
# ----------------------------------------------------------------------------------------
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def _operand_array(other: Any, op: str) -> np.ndarray:
    """The other operand of a binary op as an array, or a TypeError naming what it is."""
    if isinstance(other, Tensor):
        return other.data
    if other is None or isinstance(other, (str, bytes)):
        raise TypeError(f"{op}: cannot combine a tensor with {_describe(other)}; give a "
                        "number, a numpy array or a Tensor")
    if isinstance(other, (list, tuple)):
        return _as_array(other)  # as Tensor(list) would hold it: numbers become float32
    array = other if isinstance(other, np.ndarray) else np.asarray(other)
    if array.dtype.kind not in _REAL_KINDS:
        raise TypeError(f"{op}: cannot combine a tensor with {_describe(other)} (dtype "
                        f"{array.dtype}); give real numbers: bool, int or float")
    return array


def result_dtype(mine: np.ndarray, theirs: np.ndarray, given: Any) -> np.dtype:
    """The dtype of a binary op's result, by PyTorch's rules.

    The higher category wins (an integer tensor times 0.5 is a float). Within one category,
    tensors with axes outrank 0-d tensors, which outrank plain numbers: float32 · 0.5 stays
    float32 and float32 + float64 0-d stays float32. A plain Python float that raises the
    category gives the default float32; a plain int meeting bools gives int64.
    """
    plain = not isinstance(given, (Tensor, np.ndarray, list, tuple))  # 2, 0.5, np.float64(…)
    rank_mine = 2 if mine.ndim else 1
    rank_theirs = 0 if plain else (2 if theirs.ndim else 1)
    category_mine, category_theirs = _CATEGORY[mine.dtype.kind], _CATEGORY[theirs.dtype.kind]
    if category_theirs > category_mine:
        if plain:
            return np.dtype(DEFAULT_DTYPE if category_theirs == 2 else np.int64)
        return theirs.dtype
    if category_mine > category_theirs:
        return mine.dtype
    if rank_mine == rank_theirs:
        return np.promote_types(mine.dtype, theirs.dtype)
    return mine.dtype if rank_mine > rank_theirs else theirs.dtype


def _is_integer(item: Any) -> bool:
    return isinstance(item, (int, np.integer)) and not isinstance(item, (bool, np.bool_))


def _is_array_index(item: Any) -> bool:
    return isinstance(item, (list, np.ndarray)) and np.ndim(item) > 0


def _split_integer_index(index: Any, ndim: int) -> tuple[Any, Any]:
    """Split an index that mixes integers with index arrays, as in `x[0, :, idx]`.

    numpy counts an integer as one more index array there, and when such indices are
    separated by a slice it moves their axes to the front: shape (2, 3) for x of shape
    (4, 3, 5) and two indices. PyTorch picks with the integers first (x[0] is (3, 5)), then
    indexes the rest: (3, 2). We do the same, in two steps. Returns (None, None) when
    numpy and PyTorch agree anyway.
    """
    if not isinstance(index, tuple) or not any(map(_is_array_index, index)):
        return None, None
    if not any(map(_is_integer, index)) or any(i is None for i in index) or any(
            np.asarray(i).dtype == bool for i in index if _is_array_index(i)):
        return None, None  # (None and boolean masks: numpy's rule, not split)
    ellipses = [at for at, i in enumerate(index) if i is Ellipsis]
    if ellipses:  # spell the Ellipsis out as full slices
        at = ellipses[0]
        index = index[:at] + (slice(None),) * (ndim - len(index) + 1) + index[at + 1:]
    first = tuple(i if _is_integer(i) else slice(None) for i in index)
    rest = tuple(i for i in index if not _is_integer(i))
    return first, rest


def _new_shape(op: str, shape: tuple) -> tuple[int, ...]:
    """The shape of a new tensor: whole numbers ≥ 0, given as `f(2, 3)` or `f((2, 3))`."""
    sizes = _shape_arg(shape)
    for size in sizes:
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError(f"{op}: sizes must be whole numbers, got {_describe(size)} in "
                            f"{sizes}")
        if size < 0:
            raise ValueError(f"{op}: size {size} is negative; sizes must be ≥ 0 (got {sizes})")
    return sizes


def _shape_arg(shape: tuple) -> tuple[int, ...]:
    """Accept both `f(2, 3)` and `f((2, 3))`."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


# The ops/ package derives its ops from Function defined above, and Tensor's methods call them.
from tinygrad_edu import ops  # noqa: E402
