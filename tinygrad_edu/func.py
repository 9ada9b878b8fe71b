"""Forward mode beside reverse mode, and the transforms of torch.func built on the two.

Reverse mode (`backward`) starts from the output's gradient and pulls it back through the
graph, the latest op first: one pass gives ∂C/∂x for every input, a *row* of the Jacobian.
Forward mode starts from a direction dx for the inputs and pushes it through the same ops
in the order they ran: one pass gives how every output moves, J·dx, a *column*. A network's
cost has 13,002 inputs (the digit network's parameters) and one output: one backward pass
gives all 13,002 partial derivatives, forward mode needs 13,002 passes. That is why networks
train by backprop, and why forward mode wins for functions with few inputs and many outputs.

Here forward mode is a tangent pass over the recorded graph (`push_tangents`): the function
runs once as usual, recording its ops, then each op's `jvp` (next to its `backward` in the
op's class) turns its inputs' tangents into its output's. Eager code pays nothing for it.

The transforms take functions and return functions, as torch.func's do: `jvp`, `vjp`,
`grad`, `grad_and_value`, `jacrev`, `jacfwd`, `hessian`, `hvp`, `vmap`. Inside another
transform, on inputs that require grad, or when func uses weights that require grad, their
rules run on Tensors and record a graph, so the results can be differentiated again:
transforms compose (`hessian` is `jacfwd(jacrev(f))`, forward over reverse), and a
tangent or a gradient can be part of a loss that backward() differentiates. Each
transform differentiates by its own arguments only: what func captures from outside is
a constant for it (see `_Input`). `vmap` is a loop over the batch (see its docstring).
"""

from __future__ import annotations

import importlib
import operator
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_edu import batching, utils
from tinygrad_edu.ops.shape import stack
from tinygrad_edu.tensor import Function, Tensor, enable_grad, is_grad_enabled

# The engine's module, whose globals (_latest_change) are read when used. By its full name:
# once the package has loaded, the attribute tinygrad_edu.tensor is the function tg.tensor.
engine = importlib.import_module("tinygrad_edu.tensor")

__all__ = ["grad", "grad_and_value", "hessian", "hvp", "jacfwd", "jacrev", "jvp",
           "push_tangents", "vjp", "vmap"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


Function_ = Callable[..., Any]
Argnums = int | tuple[int, ...]


# ----------------------------------------------------------------------------------------
# 1. The tangent pass: forward mode over a recorded graph
# ----------------------------------------------------------------------------------------
def push_tangents(outputs: Sequence[Tensor], inputs: Sequence[Tensor],
                  tangents: Sequence[Any], differentiable: bool = False,
                  ops: Sequence[Tensor] | None = None) -> list[Any]:
    """The outputs' tangents when `inputs` move by `tangents`: J·dx, one pass.

    Walks the ops between the inputs and the outputs in the order they ran (creation
    numbers sort a graph: see tensor.py) and asks each op's `jvp` for its output's tangent.
    None stands for a zero tangent (an output that does not depend on the inputs). With
    `differentiable=True` the tangents are Tensors and the rules record a graph. `ops`:
    the walk's result (`_walk(outputs, inputs)[0]`), when many tangents take the same path.
    """
    tangent: dict[int, Any] = {id(x): dx for x, dx in zip(inputs, tangents, strict=True)}
    moving = tangent.get  # (the loop's hot lookups, as locals)
    latest_change = engine._latest_change  # (no rule changes anything in place)
    for out in _walk(outputs, inputs)[0] if ops is None else ops:
        fn = out._ctx
        assert fn is not None  # (_walk returns outputs of ops only)
        given = [moving(id(x)) for x in fn.inputs]
        for g in given:
            if g is not None:
                break
        else:  # nothing this op reads moves
            continue
        if latest_change > out._created:  # an input changed in place since
            engine._check_versions(fn, out)
        if differentiable:
            moved = fn.jvp(given, out, *fn.inputs)
        else:
            moved = fn.jvp(given, out.data, *fn.arrays)
        if moved is not None:
            if moved.shape != out.data.shape:
                raise RuntimeError(f"{fn.name}.jvp returned a tangent of shape {moved.shape} "
                                   f"for an output of shape {out.shape}")
            tangent[id(out)] = moved
    return [tangent.get(id(o)) for o in outputs]


def _walk(outputs: Sequence[Tensor], inputs: Sequence[Tensor]) -> tuple[list[Tensor], bool]:
    """The op outputs the tangents pass through, earliest first, and whether the outputs
    also depend on a tensor that requires grad besides the inputs (a parameter func
    captured: results must then stay differentiable with respect to it, so that a jvp's
    tangent in a loss lets backward() reach the weights). The walk back from the outputs
    stops at the inputs and at leaves. A graph freed by backward() stops it too when it was
    made before every input (then it cannot depend on one: a captured weight's history),
    and is an error otherwise."""
    start = {id(x) for x in inputs}
    seen: set[int] = set()
    found: list[Tensor] = []
    captured = False
    waiting = list(outputs)
    while waiting:
        t = waiting.pop()
        key = id(t)
        if key in seen or key in start:
            continue
        seen.add(key)
        fn = t._ctx
        if fn is None:
            captured = captured or t.requires_grad
        elif not fn.released:
            found.append(t)
            waiting.extend(fn.inputs)
        elif t._created < min((x._created for x in inputs), default=0):  # (a history)
            captured = captured or t.requires_grad
        else:
            raise engine._freed_graph_error(fn)
    found.sort(key=_creation)
    return found, captured


_creation = operator.attrgetter("_created")  # (a tensor's place in the graph's order)


# Transforms inside transforms: the inner one must record its work as a graph, so the outer
# one can differentiate it. A depth per thread says whether we are inside one.
class _Nesting(threading.local):
    depth = 0


_nesting = _Nesting()


class _InsideATransform:
    """`with _inside_a_transform:` one level deeper, with grad mode on. One instance for
    all: entering keeps its state in this thread's counters, so it nests and is shared by
    threads (a class, not a generator: ~1 µs less per transform call, measured)."""

    _grad_on = enable_grad()  # (enable_grad keeps what it found on a per-thread stack)

    def __enter__(self) -> None:
        _nesting.depth += 1
        self._grad_on.__enter__()

    def __exit__(self, *exc: object) -> None:
        self._grad_on.__exit__()
        _nesting.depth -= 1


_inside_a_transform = _InsideATransform()


# ----------------------------------------------------------------------------------------
# 2. Recording a function once, for either pass
# ----------------------------------------------------------------------------------------
class _Input(Function):
    """Where a transform's variable starts: the caller's tensor x, passed on as a new node.

    A transform differentiates by its arguments only: x captured by func from outside (a
    closure) is a constant for it. When x requires grad, x itself cannot be the variable,
    or the passes would also follow that captured use of x (the "perturbation confusion":
    jacrev(lambda y: jacrev(lambda z: (y * z).sum())(y)) would give 2I instead of I).
    The passes start at this node instead, while an outer transform, or a later
    backward(), still reaches x through it (torch.func calls these levels)."""

    name = "input"

    def forward(self, x):
        return x.view()  # the same memory: no copy

    # the identity: the gradient passes unchanged
    def backward(self, grad, out, x):
        return grad

    # d(x) = dx
    def jvp(self, tangents, out, x):
        return tangents[0]


class _Recorded:
    """func run once on stand-ins for its arguments: the graph both passes walk.

    `differentiable` says whether the passes must record their own work as a graph (their
    results are then differentiable, as torch.func's are): inside another transform, or
    when the arguments differentiated by, or tensors func captured, require grad."""

    def __init__(self, transform: str, func: Function_, args: Sequence[Any],
                 argnums: Sequence[int], has_aux: bool) -> None:
        _check_callable(transform, func)
        self.transform = transform
        self.args = list(args)
        self.inputs: list[Tensor] = []  # the arguments we differentiate by, as nodes of
        self.given: list[np.ndarray] = []  # their own; the caller's arrays (never returned)
        given_require_grad = False
        for i in argnums:
            self.args[i] = _stand_in(transform, i, args[i])
            self.inputs.append(self.args[i])
            self.given.append(args[i].data)
            given_require_grad = given_require_grad or args[i].requires_grad
        with _inside_a_transform:
            result = func(*self.args)
        if has_aux:
            result, self.aux = _split_aux(transform, result)
        self.single = isinstance(result, Tensor)
        self.outputs = _outputs(transform, result)
        self._ops: list[Tensor] | None = None
        self.differentiable = is_grad_enabled() and (
            _nesting.depth > 0 or given_require_grad
            or self._walk()[1])  # (the walk only when the first two do not settle it)
        if has_aux and not self.differentiable:
            self.aux = _detached(self.aux)  # aux is not differentiated (torch.func's rule)

    @property
    def ops(self) -> list[Tensor]:
        """The ops between the inputs and the outputs, earliest first (the tangent pass's
        path; walked once, when a pass first needs it)."""
        return self._ops if self._ops is not None else self._walk()[0]

    def _walk(self) -> tuple[list[Tensor], bool]:
        self._ops, captured = _walk(self.outputs, self.inputs)
        return self._ops, captured

    def shaped(self, values: Sequence[Any]) -> Any:
        """Values, one per output, in the structure func returned (one, or a tuple)."""
        return values[0] if self.single else tuple(values)

    def returned(self) -> tuple[Tensor, ...]:
        """func's outputs as the caller gets them: cut from our graph unless it must stay."""
        return tuple(o if self.differentiable else o.detach() for o in self.outputs)


def _split_aux(transform: str, result: Any) -> tuple[Any, Any]:
    """(output, aux) from what func returned with has_aux=True."""
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(f"{transform}: with has_aux=True, func must return a pair "
                        f"(output, aux), got {engine._describe(result)}")
    return result


def _stand_in(transform: str, position: int, value: Any) -> Tensor:
    """The variable a transform differentiates by, in place of the caller's tensor."""
    _check_differentiable(transform, position, value)
    if value.requires_grad and is_grad_enabled():
        return _Input.apply(value)  # in the caller's graph: the caller can differentiate again
    return _variable(value.data)


def _variable(values: np.ndarray) -> Tensor:
    """A leaf of the transform's own that requires grad (the same memory). Not through
    requires_grad_(), which tells jit records that a model changed: this tensor is in none."""
    leaf = Tensor._wrap(values)
    leaf.requires_grad = True
    return leaf


def _check_differentiable(transform: str, position: int, value: Any) -> None:
    """An argument to differentiate by must be a floating-point Tensor."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{transform}: argument {position} must be a Tensor to differentiate "
                        f"by, got {engine._describe(value)}")
    if value.data.dtype.kind != "f":  # (np.issubdtype says the same, 10 times slower)
        raise TypeError(f"{transform}: argument {position} has dtype {value.dtype}; only "
                        "floating-point tensors have derivatives (use .double() or .float())")


def _detached(value: Any) -> Any:
    """aux with its tensors cut from the transform's graph (tuples, lists, dicts inside)."""
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(v) for v in value)
    if isinstance(value, dict):
        return {k: _detached(v) for k, v in value.items()}
    return value


def _outputs(transform: str, result: Any) -> tuple[Tensor, ...]:
    outputs = (result,) if isinstance(result, Tensor) else result
    if not isinstance(outputs, tuple) or not outputs or not all(
            isinstance(o, Tensor) for o in outputs):
        raise TypeError(f"{transform}: func must return a Tensor or a tuple of Tensors, got "
                        f"{engine._describe(result)}")
    if engine._batch_rules is not None and any(isinstance(o, batching.Batched) for o in outputs):
        raise batching.NotBatchableError(f"{transform} of a value batched by vmap")  # (loop it)
    return outputs


def _check_callable(transform: str, func: Any) -> None:
    if not callable(func):
        raise TypeError(f"{transform}: func must be a function, got {engine._describe(func)}")


def _check_argnums(transform: str, argnums: Any) -> None:
    """argnums is an int or a non-empty tuple of distinct ints (checked when the
    transform is made; the range is checked at each call, against the arguments)."""
    numbers = (argnums,) if isinstance(argnums, int) else argnums
    if isinstance(argnums, bool) or not isinstance(numbers, tuple) or not numbers or not all(
            isinstance(n, int) and not isinstance(n, bool) for n in numbers):
        raise TypeError(f"{transform}: argnums must be an int or a non-empty tuple of ints, "
                        f"got {argnums!r}")
    if len(set(numbers)) != len(numbers):
        raise ValueError(f"{transform}: argnums must not repeat a position, got {argnums!r}")


def _positions(transform: str, argnums: Argnums, count: int) -> tuple[int, ...]:
    """argnums as positions 0 … count − 1 (a negative number counts from the end)."""
    numbers = (argnums,) if isinstance(argnums, int) else argnums
    if 0 <= min(numbers) and max(numbers) < count:  # (the usual case: as they are, distinct
        return numbers  # since _check_argnums checked them)
    for n in numbers:
        if not -count <= n < count:
            raise ValueError(f"{transform}: argnums {n} is out of range for {count} "
                             "positional arguments")
    positions = tuple(n % count for n in numbers)
    if len(set(positions)) != len(positions):
        raise ValueError(f"{transform}: argnums {argnums!r} names one of the {count} "
                         "arguments twice")
    return positions


def _by_argnums(argnums: Argnums, values: Sequence[Any]) -> Any:
    """One value for an int argnums, a tuple for a tuple (torch.func's structure)."""
    return values[0] if isinstance(argnums, int) else tuple(values)


def _tensor_of(value: Any, like: Tensor) -> Any:
    """A pass's result in `like`'s dtype: None (a zero) becomes zeros of `like`'s shape."""
    if value is None:
        return Tensor._wrap(np.zeros(like.shape, like.dtype))
    if isinstance(value, Tensor):  # (dtypes read from .data: the hot path of every pass)
        return value if value.data.dtype == like.data.dtype else value.to(like.dtype)
    return Tensor._wrap(np.asarray(value).astype(like.dtype, copy=False))


def _owned(results: Sequence[Tensor], given: Sequence[np.ndarray]) -> list[Tensor]:
    """The results, each in memory of its own: a pass may hand back a caller's array or a
    view of it (the tangent of the identity is the given tangent; add passes one gradient
    to both its inputs). A result that may share memory with a given array or with an
    earlier result is copied (cloned in a graph), so changing it changes nothing else."""
    taken = {id(_memory_of(a)) for a in given}
    owned: list[Tensor] = []
    for r in results:
        if id(_memory_of(r.data)) in taken:
            r = r.clone() if r.requires_grad else Tensor._wrap(r.data.copy())
        taken.add(id(_memory_of(r.data)))
        owned.append(r)
    return owned


def _memory_of(array: np.ndarray) -> Any:
    """The object that owns an array's memory: views share their base's (one set lookup
    per result instead of np.may_share_memory against every other array)."""
    while isinstance(array, np.ndarray) and array.base is not None:
        array = array.base
    return array


def _stack(parts: Sequence[Tensor], shape: tuple[int, ...], differentiable: bool) -> Tensor:
    """Rows or columns of a Jacobian into one tensor of `shape`."""
    if differentiable:
        return stack(list(parts)).reshape(*shape)
    return Tensor._wrap(np.stack([p.data for p in parts]).reshape(shape))


def _tuple(transform: str, name: str, value: Any) -> tuple[Any, ...]:
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{transform}: {name} must be a tuple of Tensors (one per argument), "
                        f"got {engine._describe(value)}; write ({name[:-1]},) for one")
    return tuple(value)


def _array(transform: str, name: str, value: Any) -> np.ndarray:
    """The values of a given tangent or cotangent (a Tensor, or a numpy array)."""
    if isinstance(value, Tensor):
        return value.data
    if isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
        return value
    raise TypeError(f"{transform}: {name} must be a Tensor, got {engine._describe(value)}")


# ----------------------------------------------------------------------------------------
# 3. The transforms, with torch.func's names and arguments
# ----------------------------------------------------------------------------------------
def jvp(func: Function_, primals: Sequence[Tensor], tangents: Sequence[Any], *,
        has_aux: bool = False) -> tuple[Any, ...]:
    """(func(*primals), J·tangents): the outputs and how they move when the primals move
    by `tangents`, in one forward pass (forward mode), as `torch.func.jvp`.

    `primals` and `tangents` are tuples of the same length, each tangent of its primal's
    shape. With `has_aux=True`, func returns (output, aux) and aux comes third.
    """
    return _jvp("jvp", func, primals, tangents, has_aux)


def _jvp(transform: str, func: Function_, primals: Any, tangents: Any,
         has_aux: bool) -> tuple[Any, ...]:
    primals = _tuple(transform, "primals", primals)
    tangents = _tuple(transform, "tangents", tangents)
    arrays = _tangent_arrays(transform, primals, tangents)
    recorded = _Recorded(transform, func, primals, range(len(primals)), has_aux)
    recorded.differentiable |= is_grad_enabled() and any(
        isinstance(t, Tensor) and t.requires_grad for t in tangents)
    seeds = [_seed(t, a, x, recorded.differentiable)
             for t, a, x in zip(tangents, arrays, recorded.inputs, strict=True)]
    moved = push_tangents(recorded.outputs, recorded.inputs, seeds, recorded.differentiable,
                          recorded.ops)
    out = _owned([_tensor_of(m, o) for m, o in zip(moved, recorded.outputs, strict=True)],
                 [*recorded.given, *arrays, *(o.data for o in recorded.outputs)])
    result = (recorded.shaped(recorded.returned()), recorded.shaped(out))
    return (*result, recorded.aux) if has_aux else result


def _tangent_arrays(transform: str, primals: Sequence[Any], tangents: Sequence[Any]
                    ) -> list[np.ndarray]:
    """The tangents' values, one per primal and of its shape (checked before func runs)."""
    if len(primals) != len(tangents):
        raise ValueError(f"{transform}: {len(primals)} primals need as many tangents, got "
                         f"{len(tangents)}")
    arrays = [t.data if isinstance(t, Tensor) else _array(transform, f"tangent {i}", t)
              for i, t in enumerate(tangents)]  # (a Tensor first: no message to format)
    for i, (a, x) in enumerate(zip(arrays, primals, strict=True)):
        if isinstance(x, Tensor) and a.shape != x.shape:
            raise ValueError(f"{transform}: tangent {i} has shape {a.shape}, its primal "
                             f"{x.shape}; a tangent has its primal's shape")
    return arrays


def _seed(tangent: Any, values: np.ndarray, primal: Tensor, differentiable: bool) -> Any:
    """A given tangent as the pass wants it, in its primal's dtype: an array, or a Tensor
    when the pass records a graph (a tangent that requires grad stays in the caller's)."""
    dtype = primal.data.dtype
    if differentiable and isinstance(tangent, Tensor):
        return tangent if tangent.data.dtype == dtype else tangent.to(dtype)
    if values.dtype != dtype:
        values = values.astype(dtype)
    return Tensor._wrap(values) if differentiable else values


def vjp(func: Function_, *primals: Tensor, has_aux: bool = False) -> tuple[Any, ...]:
    """(func(*primals), vjp_fn): vjp_fn(cotangents) gives uᵀ·J for each primal, a tuple
    (reverse mode; one backward pass per call), as `torch.func.vjp`. The cotangents have
    the outputs' structure: one Tensor when func returns one, a tuple for a tuple. With
    `has_aux=True`, func returns (output, aux) and aux comes third."""
    if not primals:
        raise TypeError("vjp: give at least one primal to differentiate by")
    recorded = _Recorded("vjp", func, primals, range(len(primals)), has_aux)
    outputs = recorded.outputs

    def vjp_fn(cotangents: Any) -> tuple[Tensor, ...]:
        given = (cotangents,) if recorded.single else cotangents
        if not isinstance(given, (tuple, list)) or len(given) != len(outputs):
            raise TypeError(f"vjp_fn: func returned {_structure(recorded)}, so vjp_fn takes "
                            f"cotangents of that structure, got {engine._describe(cotangents)}")
        arrays = [_array("vjp_fn", f"cotangent {k}", u) for k, u in enumerate(given)]
        for k, (a, o) in enumerate(zip(arrays, outputs, strict=True)):
            if a.shape != o.shape:
                raise ValueError(f"vjp_fn: cotangent {k} has shape {a.shape}, output {k} "
                                 f"{o.shape}; a cotangent has its output's shape")
        differentiable = recorded.differentiable or (is_grad_enabled() and any(
            isinstance(u, Tensor) and u.requires_grad for u in given))
        grads = _pull_back(recorded, list(given), differentiable)
        return tuple(_owned(grads, [*recorded.given, *arrays]))

    result = (recorded.shaped(recorded.returned()), vjp_fn)
    return (*result, recorded.aux) if has_aux else result


def _structure(recorded: _Recorded) -> str:
    if recorded.single:
        return f"one Tensor (shape {recorded.outputs[0].shape})"
    return f"a tuple of {len(recorded.outputs)} ({_shapes(recorded.outputs)})"


def _pull_back(recorded: _Recorded, cotangents: list[Any], differentiable: bool) -> list[Tensor]:
    """Σ over outputs of uᵀ·∂output/∂input, for each input: one backward pass. A None
    cotangent leaves its output out (as a zero one would, without the work)."""
    used = [(o, u) for o, u in zip(recorded.outputs, cotangents, strict=True)
            if u is not None and o.requires_grad]
    grads: Sequence[Any] = [None] * len(recorded.inputs)
    if used:
        with enable_grad():  # (several outputs are summed into one first: that is an op)
            grads = engine.grad([o for o, _ in used], recorded.inputs,
                                grad_outputs=[u for _, u in used], retain_graph=True,
                                create_graph=differentiable, allow_unused=True)
    return [_tensor_of(g, x) for g, x in zip(grads, recorded.inputs, strict=True)]


def grad(func: Function_, argnums: Argnums = 0, has_aux: bool = False) -> Function_:
    """The function that gives ∂func/∂argument for `argnums` (an int: one gradient; a
    tuple: a tuple of them), func returning a one-element Tensor (a cost), as
    `torch.func.grad`. With has_aux=True func returns (cost, aux): (gradient, aux)."""
    return _grad_and_value("grad", func, argnums, has_aux, with_value=False)


def grad_and_value(func: Function_, argnums: Argnums = 0, has_aux: bool = False) -> Function_:
    """Like `grad`, returning (gradient, value): value is (output, aux) with has_aux."""
    return _grad_and_value("grad_and_value", func, argnums, has_aux, with_value=True)


def _grad_and_value(transform: str, func: Function_, argnums: Argnums, has_aux: bool,
                    with_value: bool) -> Function_:
    _check_callable(transform, func)
    _check_argnums(transform, argnums)

    def gradient(*args: Any) -> Any:
        positions = _positions(transform, argnums, len(args))
        level, size = (0, 0) if engine._batch_rules is None else batching.level_of(args)
        if level:  # inside vmap: every item at once, each result batched
            items, costs, aux = _per_item(transform, func, args, positions, has_aux, level,
                                          size)
            gradients: list[Tensor] = [batching.Batched(g, level) for g in items]
            value: Tensor = batching.Batched(costs, level)
        else:
            gradients, value, aux = _gradient(transform, func, args, positions, has_aux)
        if with_value:
            return _by_argnums(argnums, gradients), ((value, aux) if has_aux else value)
        return (_by_argnums(argnums, gradients), aux) if has_aux else _by_argnums(
            argnums, gradients)

    if not (has_aux or with_value):  # vmap(grad(f)) can take every item's gradients itself
        _GRADIENTS[gradient] = (transform, func, argnums)
    return gradient


# The functions grad() made (without aux): what vmap needs to take their per-example
# gradients without going through them, and without wrapping and unwrapping each result
# (func, argnums; forgotten with the function).
_GRADIENTS: weakref.WeakKeyDictionary[Function_, tuple[str, Function_, Argnums]] = (
    weakref.WeakKeyDictionary())


def _gradient(transform: str, func: Function_, args: Sequence[Any], positions: Sequence[int],
              has_aux: bool) -> tuple[list[Tensor], Tensor, Any]:
    """(∂func/∂argument for each position, func's value, aux): one backward pass."""
    recorded = _Recorded(transform, func, args, positions, has_aux)
    _check_cost(transform, recorded.outputs)
    output = recorded.outputs[0]
    gradients = _pull_back(recorded, [np.ones(output.shape, output.dtype)],
                           recorded.differentiable)
    return (_owned(gradients, recorded.given), recorded.returned()[0],
            recorded.aux if has_aux else None)


def _per_item(transform: str, func: Function_, args: Sequence[Any], positions: Sequence[int],
              has_aux: bool, level: int, size: int) -> tuple[list[Tensor], Tensor, Any]:
    """grad inside vmap: every item's gradient in one backward pass. Gives the gradients
    (one Tensor per position, the items along its first axis), the costs (one per item)
    and aux.

    Each argument differentiated by becomes a leaf with one row per item (an unbatched
    argument is repeated, without copying its memory). func's cost is one number per
    item; backward from their sum fills each leaf's gradient, and since item b's cost
    depends on row b of the leaves only, row b of a gradient is item b's gradient.
    """
    if _nesting.depth:
        raise batching.NotBatchableError(f"{transform} inside another transform inside vmap")
    grad_enabled = is_grad_enabled()
    call, leaves = list(args), []
    for i in positions:
        given = args[i]
        _check_differentiable(transform, i, given)
        if grad_enabled and given.requires_grad:  # differentiated again: one item at a time
            raise batching.NotBatchableError(f"{transform} of a tensor that requires grad "
                                             "inside vmap")
        leaf = _variable(given.value.data if batching.is_batched(given, level)
                         else _repeated(given.data, size))
        leaves.append(leaf)
        call[i] = batching.Batched(leaf, level)
    with _inside_a_transform:
        result = func(*call)
    aux = None
    if has_aux:
        result, aux = _split_aux(transform, result)
    if not (batching.is_batched(result, level) and not isinstance(result.value, batching.Batched)):
        raise batching.NotBatchableError(f"{transform}: the cost is not batched by this vmap")
    _check_cost(transform, [result])
    costs = result.value
    if grad_enabled and level in batching.captured and _walk([costs], leaves)[1]:  # weights
        # func captured that require grad (the walk only when an op met one):
        with enable_grad():  # the gradients stay functions of them
            grads = engine.grad([costs.sum()], leaves, create_graph=True, allow_unused=True)
        owned = _owned([_tensor_of(g, x) for g, x in zip(grads, leaves, strict=True)],
                       [x.data for x in leaves])
    else:  # nothing else to reach: a plain backward() into this call's own leaves, whose
        # .grad it gives memory of their own, as always (35 µs less than grad() and _owned
        # for the digit network at B = 32)
        if costs.requires_grad:  # seeded with ones: ∂(Σ_b C[b])/∂C[b] = 1
            costs.backward(np.ones(costs.shape, costs.dtype))
        owned = [_tensor_of(x._grad, x) for x in leaves]
        costs = Tensor._wrap(costs.data)  # (costs is ours: its values need no graph and
        aux = _detached(aux)  # no link to it)
    return owned, costs, aux


def _repeated(values: np.ndarray, size: int) -> np.ndarray:
    """`size` read-only rows that are all `values` (stride 0: one copy of the memory). As
    np.broadcast_to gives, in a third of its time when the values are contiguous."""
    if not values.flags.c_contiguous:
        return np.broadcast_to(values, (size, *values.shape))
    rows = np.ndarray((size, *values.shape), values.dtype, values, 0, (0, *values.strides))
    rows.flags.writeable = False
    return rows


def _check_cost(transform: str, outputs: Sequence[Tensor]) -> None:
    """func returned one Tensor of one element (for a Batched one: each item's)."""
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(f"{transform}: func must return a Tensor of one element (a cost), "
                           f"got {_shapes(outputs)}; use jacrev or vjp for other outputs")


def _shapes(outputs: Sequence[Tensor]) -> str:
    return ", ".join(f"shape {o.shape}" for o in outputs)


def jacrev(func: Function_, argnums: Argnums = 0, has_aux: bool = False) -> Function_:
    """The Jacobian by reverse mode: one backward pass per output element (a row each), as
    `torch.func.jacrev`. Shape output.shape + argument.shape; tuples for several outputs
    (outer) and a tuple argnums (inner). With has_aux=True: (jacobian, aux)."""
    _check_callable("jacrev", func)
    _check_argnums("jacrev", argnums)

    def jacobian(*args: Any) -> Any:
        recorded = _Recorded("jacrev", func, args, _positions("jacrev", argnums, len(args)),
                             has_aux)
        per_output = []
        for k, output in enumerate(recorded.outputs):
            rows = []
            for e in _unit_vectors(output):  # uᵀJ with u = eᵢ: row i
                cotangents: list[Any] = [None] * len(recorded.outputs)
                cotangents[k] = e
                rows.append(_pull_back(recorded, cotangents, recorded.differentiable))
            per_output.append(_by_argnums(argnums, [
                _stack([row[j] for row in rows], output.shape + x.shape,
                       recorded.differentiable) if rows else _empty(output.shape + x.shape, x)
                for j, x in enumerate(recorded.inputs)]))
        result = recorded.shaped(per_output)
        return (result, recorded.aux) if has_aux else result

    return jacobian


def jacfwd(func: Function_, argnums: Argnums = 0, has_aux: bool = False) -> Function_:
    """The Jacobian by forward mode: one tangent pass per argument element (a column each),
    as `torch.func.jacfwd`; func runs once. Shapes as `jacrev`."""
    _check_callable("jacfwd", func)
    _check_argnums("jacfwd", argnums)

    def jacobian(*args: Any) -> Any:
        recorded = _Recorded("jacfwd", func, args, _positions("jacfwd", argnums, len(args)),
                             has_aux)
        columns: list[list[Tensor]] = [[] for _ in recorded.outputs]
        for j, x in enumerate(recorded.inputs):
            per_input: list[list[Tensor]] = [[] for _ in recorded.outputs]
            for e in _unit_vectors(x):  # J·eⱼ: column j
                seeds: list[Any] = [None] * len(recorded.inputs)
                seeds[j] = Tensor._wrap(e) if recorded.differentiable else e
                moved = push_tangents(recorded.outputs, recorded.inputs, seeds,
                                      recorded.differentiable, recorded.ops)
                for k, (m, o) in enumerate(zip(moved, recorded.outputs, strict=True)):
                    per_input[k].append(_tensor_of(m, o))
            for k, o in enumerate(recorded.outputs):
                columns[k].append(_columns(per_input[k], o, x, recorded.differentiable))
        result = recorded.shaped([_by_argnums(argnums, c) for c in columns])
        return (result, recorded.aux) if has_aux else result

    return jacobian


def _columns(columns: list[Tensor], output: Tensor, x: Tensor, differentiable: bool) -> Tensor:
    """Columns J·eⱼ (each of the output's shape) as the Jacobian output.shape + x.shape."""
    if not columns:
        return _empty(output.shape + x.shape, x)
    stacked = _stack(columns, x.shape + output.shape, differentiable)
    moved = tuple(range(x.ndim, x.ndim + output.ndim)) + tuple(range(x.ndim))
    return stacked.permute(*moved)


def _unit_vectors(t: Tensor) -> Iterator[np.ndarray]:
    for i in range(t.numel()):
        e = np.zeros(t.numel(), t.dtype)
        e[i] = 1
        yield e.reshape(t.shape)


def _empty(shape: tuple[int, ...], like: Tensor) -> Tensor:
    return Tensor._wrap(np.zeros(shape, like.dtype))


def hessian(func: Function_, argnums: Argnums = 0) -> Function_:
    """The matrix of second derivatives, forward over reverse: `jacfwd(jacrev(func))`, as
    `torch.func.hessian`. Shape output.shape + argument.shape + argument.shape."""
    return jacfwd(jacrev(func, argnums), argnums)


def hvp(func: Function_, primals: Tensor | Sequence[Tensor],
        tangents: Tensor | Sequence[Tensor]) -> tuple[Tensor, Any]:
    """(func(*primals), H·tangents) without forming H: the gradient's jvp (forward over
    reverse: one gradient pass, and one tangent pass through it), as
    `torch.autograd.functional.hvp(func, inputs, v)`. func returns one element; primals
    and tangents are a Tensor each (H·v is then a Tensor), or tuples (then a tuple)."""
    one = isinstance(primals, Tensor)
    primals_ = (primals,) if isinstance(primals, Tensor) else _tuple("hvp", "primals", primals)
    tangents_ = ((tangents,) if isinstance(tangents, Tensor)
                 else _tuple("hvp", "tangents", tangents))
    if _nesting.depth == 0 and not (is_grad_enabled() and any(
            isinstance(t, Tensor) and t.requires_grad for t in (*primals_, *tangents_))):
        value, product = _hvp_at_once(func, primals_, tangents_)
    else:  # inside a transform, or differentiated again: jvp of grad, kept apart (_Input)
        gradient = _grad_and_value("hvp", func, tuple(range(len(primals_))), False,
                                   with_value=True)
        # func runs once: the gradients are jvp's outputs, the cost comes back as its aux
        _, product, value = _jvp("hvp", gradient, primals_, tangents_, has_aux=True)
    return value, (product[0] if one else product)


def _hvp_at_once(func: Function_, primals: tuple[Any, ...], tangents: tuple[Any, ...]
                 ) -> tuple[Tensor, Any]:
    """H·v when nothing outside differentiates by the primals: the gradient's graph made
    once (create_graph) with respect to the variables themselves, and one tangent pass
    over it. (jvp of grad, as the general path composes them, gives the gradient's
    variables a node of their own, _Input, to keep two transforms apart: here there is
    one; measured 455 → 390 µs for the digit network's H·v.)"""
    arrays = _tangent_arrays("hvp", primals, tangents)
    recorded = _Recorded("hvp", func, primals, range(len(primals)), False)
    _check_cost("hvp", recorded.outputs)
    output = recorded.outputs[0]
    differentiable = recorded.differentiable  # (func captured weights that require grad)
    grads: Sequence[Any] = [None] * len(arrays)  # (a cost that does not depend on them)
    if output.requires_grad and differentiable:  # only into the variables
        with enable_grad():
            grads = engine.grad([output], recorded.inputs, create_graph=True,
                                allow_unused=True)
    elif output.requires_grad:  # the variables are the only tensors to reach: a plain
        # backward() into their .grad (they are ours), without grad()'s walk for its reach
        output.backward(create_graph=True)
        grads = [x._grad for x in recorded.inputs]
    gradients = [_tensor_of(g, x) for g, x in zip(grads, recorded.inputs, strict=True)]
    seeds = [_seed(t, a, x, differentiable)
             for t, a, x in zip(tangents, arrays, recorded.inputs, strict=True)]
    moved = push_tangents(gradients, recorded.inputs, seeds, differentiable)
    products = _owned([_tensor_of(m, x) for m, x in zip(moved, recorded.inputs, strict=True)],
                      [*recorded.given, *arrays])
    return recorded.returned()[0], tuple(products)


# ----------------------------------------------------------------------------------------
# 4. vmap: a function over a batch
# ----------------------------------------------------------------------------------------
RANDOMNESS = ("error", "different", "same")


def vmap(func: Function_, in_dims: Any = 0, out_dims: Any = 0,
         randomness: str = "error") -> Function_:
    """func mapped over a batch axis, as `torch.func.vmap`: `vmap(f)(xs)` stacks f(x) for
    every x along xs's first axis. vmap(grad(f)) gives per-example gradients.

    - `in_dims`: each argument's batch axis (negative counts from the end), or None for
      an argument every item shares (a non-Tensor argument must have None). One int or
      None applies to every argument; a tuple gives one per argument.
    - `out_dims`: where each output gets the batch axis (one int or None for every output,
      or a tuple, one per output when func returns a tuple). None says the output is the
      same for every item: it comes back once, without a batch axis (an error if it
      differs between items). Keyword arguments are passed to every call unbatched.
    - `randomness`: what a random draw inside func does (dropout, randn), as PyTorch's:
      "error" (the default) raises; "different" gives each item its own numbers (func then
      runs once per item); "same" makes one draw every item shares.

    func runs once, on the whole batch: each op runs its batching rule (tinygrad_edu/
    batching.py; `batching.NATIVE` lists the ops that have one, the others run once per
    item inside that call), and `grad` inside vmap takes every item's gradient in one
    backward pass. A function that reads a batched tensor's values in Python (`.item()`,
    `if x > 0`, `.numpy()`), calls backward(), changes a batched tensor in place, draws
    random numbers with randomness="different", or uses another transform than grad
    inside vmap runs once per item instead, and the results
    are stacked: slower, the same values; so does vmap inside a `tg.jit` step (each item's
    ops are what the record replays). The batch must not be empty.
    """
    _check_callable("vmap", func)
    if randomness not in RANDOMNESS:
        raise ValueError(f"vmap: randomness must be one of {', '.join(map(repr, RANDOMNESS))}, "
                         f"got {randomness!r}")

    gradients = _GRADIENTS.get(func) if type(out_dims) is int and out_dims == 0 else None

    def mapped(*args: Any, **kwargs: Any) -> Any:
        dims = _in_dims(in_dims, args)
        size = _batch_size(args, dims)
        if engine.Recording.active is None:  # (a jit recording: the loop's ops, each noted)
            try:
                if gradients is not None and not kwargs:  # vmap(grad(f)): the same, directly
                    return _gradients_at_once(gradients, args, dims, size, randomness)
                return _vmap_at_once(func, args, dims, size, out_dims, kwargs, randomness)
            except Exception:  # NotBatchableError, or an error the loop will say per item
                pass
        with batching.draws(randomness):
            return _vmap_loop(func, args, dims, size, out_dims, kwargs, randomness == "same")

    return mapped


def _vmap_at_once(func: Function_, args: Sequence[Any], dims: Sequence[int | None], size: int,
                  out_dims: Any, kwargs: dict[str, Any], randomness: str) -> Any:
    """func called once, on Batched tensors: each op runs its batching rule."""
    with batching.Batching(randomness) as level:
        result = _vmap_outputs(func(*_batched(args, dims, level), **kwargs), None)
    outputs = (result,) if isinstance(result, Tensor) else result
    outs = _out_dims(out_dims, len(outputs))
    joined = [_unbatched(o, outs[k], k, level, size) for k, o in enumerate(outputs)]
    return joined[0] if isinstance(result, Tensor) else tuple(joined)


def _gradients_at_once(gradients: tuple[str, Function_, Argnums], args: Sequence[Any],
                       dims: Sequence[int | None], size: int, randomness: str) -> Any:
    """vmap(grad(f)) with the batch axis first in the results (out_dims 0): what
    _vmap_at_once gives, without calling grad's function (every gradient would be
    wrapped as a Batched tensor there, to be unwrapped here)."""
    transform, func, argnums = gradients
    positions = _positions(transform, argnums, len(args))
    with batching.Batching(randomness) as level:
        items, _, _ = _per_item(transform, func, _batched(args, dims, level), positions,
                                False, level, size)
    return _by_argnums(argnums, items)


def _batched(args: Sequence[Any], dims: Sequence[int | None], level: int) -> list[Any]:
    """The arguments as func sees them inside vmap: Batched, the batch axis first."""
    return [a if d is None else batching.Batched(a if d == 0 else a.movedim(d, 0), level)
            for a, d in zip(args, dims, strict=True)]


def _unbatched(output: Tensor, dim: int | None, k: int, level: int, size: int) -> Tensor:
    """Output k as vmap returns it: its batch axis moved to `dim`."""
    if not batching.is_batched(output, level):  # the same for every item: repeated (a copy)
        whole = output.reshape(1, *output.shape).expand(size, *output.shape).clone()
    else:
        whole = output.value
    if dim is None:
        first = whole[0]
        if not all(np.array_equal(row, first.data) for row in whole.data[1:]):
            raise _differs_between_items(k)
        return first
    ndim = whole.ndim - 1
    _check_out_dim(dim, k, whole.shape[1:])
    return whole.movedim(0, dim) if dim % (ndim + 1) else whole


def _differs_between_items(k: int) -> ValueError:
    return ValueError(f"vmap: out_dims is None for output {k}, but it differs between "
                      "items; give it a batch axis (an int)")


def _check_out_dim(dim: int, k: int, item_shape: tuple[int, ...]) -> None:
    """Output k's batch axis fits among an item's axes (one more place than it has)."""
    ndim = len(item_shape)
    if not -ndim - 1 <= dim <= ndim:
        raise ValueError(f"vmap: out_dims {dim} is out of range for output {k}: each item "
                         f"has shape {item_shape} (allowed: {-ndim - 1} to {ndim})")


def _vmap_loop(func: Function_, args: Sequence[Any], dims: Sequence[int | None], size: int,
               out_dims: Any, kwargs: dict[str, Any], same_draws: bool = False) -> Any:
    """func called once per item, the results stacked: for what cannot run at once. With
    `same_draws` every item starts from the same state of the default random generator
    (randomness="same")."""
    split = [None if d is None else a.unbind(d) for a, d in zip(args, dims, strict=True)]
    generator = utils._default_generator  # (not random_generator(): it may refuse now)
    start = generator.bit_generator.state if same_draws else None
    items: list[Any] = []
    for b in range(size):
        if start is not None:
            generator.bit_generator.state = start
        item = func(*[a if parts is None else parts[b]
                      for a, parts in zip(args, split, strict=True)], **kwargs)
        items.append(_vmap_outputs(item, items[0] if items else None))
    single = isinstance(items[0], Tensor)
    count = 1 if single else len(items[0])
    outs = _out_dims(out_dims, count)
    results = [_join([item if single else item[k] for item in items], outs[k], k)
               for k in range(count)]
    return results[0] if single else tuple(results)


def _in_dims(in_dims: Any, args: Sequence[Any]) -> list[int | None]:
    """One batch axis (or None) per argument, checked against the arguments."""
    if isinstance(in_dims, (tuple, list)):
        if len(in_dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(in_dims)} entries for {len(args)} "
                             "arguments; give one per argument (None: not batched)")
        dims = list(in_dims)
    else:
        dims = [in_dims] * len(args)
    for position, (a, d) in enumerate(zip(args, dims, strict=True)):
        if d is None:
            continue
        if isinstance(d, bool) or not isinstance(d, int):
            raise TypeError(f"vmap: in_dims must be ints or None (one per argument), got "
                            f"{d!r} for argument {position}")
        if not isinstance(a, Tensor):
            raise TypeError(f"vmap: argument {position} is {engine._describe(a)}, not a "
                            f"Tensor, and cannot be batched along dim {d}; give it in_dims "
                            "None to pass it to every call as it is")
        ndim = a.ndim
        if not -ndim <= d < ndim:
            raise ValueError(f"vmap: in_dims {d} is out of range for argument {position} of "
                             f"shape {a.shape} (allowed: {-ndim} to {ndim - 1})")
        dims[position] = d % ndim
    return dims


def _batch_size(args: Sequence[Any], dims: Sequence[int | None]) -> int:
    batched = [i for i, d in enumerate(dims) if d is not None]
    if not batched:
        raise ValueError("vmap: no argument is batched (every in_dims is None, or there are "
                         "no arguments); at least one must have a batch axis")
    sizes = [args[i].shape[dims[i]] for i in batched]
    size = sizes[0]
    if sizes.count(size) != len(sizes):
        listed = ", ".join(f"argument {i}: {n} (dim {dims[i]} of shape {args[i].shape})"
                           for i, n in zip(batched, sizes, strict=True))
        raise ValueError(f"vmap: the batched arguments need one batch size, got {listed}")
    if size == 0:
        raise ValueError("vmap: the batch is empty (size 0 along in_dims); vmap runs func "
                         "once per item and needs at least one")
    return size


def _vmap_outputs(item: Any, first: Any) -> Any:
    """One call's result: a Tensor or a tuple of Tensors, of the first call's structure."""
    if not (isinstance(item, Tensor) or (isinstance(item, tuple) and item and all(
            isinstance(o, Tensor) for o in item))):
        raise TypeError(f"vmap: func must return a Tensor or a tuple of Tensors, got "
                        f"{engine._describe(item)}")
    if first is not None and (isinstance(item, Tensor) != isinstance(first, Tensor) or
                              (not isinstance(item, Tensor) and len(item) != len(first))):
        raise TypeError("vmap: func returned a different structure for different items "
                        f"({engine._describe(first)}, then {engine._describe(item)})")
    return item


def _out_dims(out_dims: Any, count: int) -> list[int | None]:
    dims = list(out_dims) if isinstance(out_dims, (tuple, list)) else [out_dims] * count
    if len(dims) != count:
        raise ValueError(f"vmap: out_dims has {len(dims)} entries for {count} outputs")
    for d in dims:
        if d is not None and (isinstance(d, bool) or not isinstance(d, int)):
            raise TypeError(f"vmap: out_dims must be ints or None, got {out_dims!r}")
    return dims


def _join(items: list[Tensor], dim: int | None, k: int) -> Tensor:
    """Output k of every item along a new axis `dim`; for None, the one common value."""
    if dim is None:
        if any(i.shape != items[0].shape or not np.array_equal(i.data, items[0].data)
               for i in items):
            raise _differs_between_items(k)
        return items[0]
    _check_out_dim(dim, k, items[0].shape)
    return stack(items, dim=dim)
