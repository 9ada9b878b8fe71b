"""Module, the base of every layer and network (parameters, train/eval, state_dict), the
tensors it holds (Parameter, Buffer), and the containers (Sequential).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Recording, Tensor, no_grad, note_call, note_model_change

__all__ = ["Buffer", "Module", "Parameter", "Sequential"]


class Parameter(Tensor):
    """A tensor that is part of a module's state: requires grad, found by `parameters()`."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, name: str | None = None) -> None:
        super().__init__(data, requires_grad=requires_grad, name=name)


class Buffer(Tensor):
    """State a module keeps but does not train (BatchNorm's running mean and variance):
    saved and loaded with the parameters, never handed to an optimizer (PyTorch's name)."""

    __slots__ = ()



# ----------------------------------------------------------------------------------------
# Module
# ----------------------------------------------------------------------------------------
class Module:
    """Base class of layers and networks: holds parameters and sub-modules as attributes.

    Parameters are found in attributes, and in lists, tuples and dicts of them at any
    depth, in the order they were set; their names follow PyTorch ("0.weight",
    "layers.1.bias", "blocks.0.1.weight").

    Assigning a plain Tensor (or anything but a Parameter or None) to an attribute that
    holds a Parameter raises TypeError, as in PyTorch: the parameter would silently drop
    out of `parameters()` and so out of the optimizer. Wrap it: `Parameter(values)`, or
    change the values in place: `with no_grad(): layer.weight.copy_(values)`.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        current = self.__dict__.get(name)
        if isinstance(current, Parameter) and not (value is None or isinstance(value, Parameter)):
            raise TypeError(
                f"{type(self).__name__}.{name}: cannot assign {type(value).__name__} over a "
                f"Parameter; it would no longer be trained. Assign nn.Parameter(...) or "
                f"change the values in place: with no_grad(): {name}.copy_(...)")
        object.__setattr__(self, name, value)
        note_model_change()  # (a jit record of a step using this module re-records)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`module(x)` runs `forward(x)`, as in PyTorch."""
        return self.forward(*args, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """What the module computes; every layer and network defines its own."""
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def _members(self) -> Iterator[tuple[str, Any]]:
        """(dotted name, value) of what this module holds: its attributes and, inside
        lists, tuples and dicts nested to any depth, their items (`blocks = [[Linear(2,
        2)]]` gives "blocks.0.0"). A stack, not recursion: no depth limit."""
        stack = list(reversed(vars(self).items()))
        while stack:
            name, value = stack.pop()
            if isinstance(value, (list, tuple)):
                stack.extend(reversed([(f"{name}.{i}", item) for i, item in enumerate(value)]))
            elif isinstance(value, dict):
                stack.extend(reversed([(f"{name}.{k}", item) for k, item in value.items()]))
            else:
                yield name, value

    training = True  # train() / eval() switch it (Dropout and BatchNorm act on it)

    def train(self, mode: bool = True) -> Module:
        """Training mode for this module and every module in it; returns self."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode (`train(False)`); returns self."""
        return self.train(False)

    def children(self) -> Iterator[Module]:
        """The direct sub-modules."""
        for _, child in self.named_children():
            yield child

    def modules(self) -> Iterator[Module]:
        """This module and every module inside it, each once, parents first."""
        seen: set[int] = set()
        stack: list[Module] = [self]
        while stack:
            module = stack.pop()
            if id(module) not in seen:
                seen.add(id(module))
                yield module
                stack.extend(reversed(list(module.children())))

    def apply(self, fn: Callable[[Module], Any]) -> Module:
        """Call `fn(module)` on every module inside (children first) and on this one, as
        PyTorch does (to initialise weights, say); returns self."""
        for module in reversed(list(self.modules())):
            fn(module)
        return self

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """The direct sub-modules with their attribute names."""
        for name, value in self._members():
            if isinstance(value, Module):
                yield name, value

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name ("0.weight", "blocks.1.bias"), each once,
        in the order they were set. This is where parameters are collected.

        Walk what the module holds (`_members`: attributes, and what lists, tuples and
        dicts hold): a Parameter is yielded under its path; a Module is walked the same way,
        its name added to the path. A stack, not recursion, so nesting has no limit.
        """
        seen: set[int] = set()  # a parameter shared by two layers is yielded once
        stack = [(prefix + name, value) for name, value in reversed(list(self._members()))]
        while stack:
            name, value = stack.pop()
            if isinstance(value, Parameter) and id(value) not in seen:
                seen.add(id(value))
                yield name, value
            elif isinstance(value, Module):
                stack.extend((f"{name}.{inner}", item)
                             for inner, item in reversed(list(value._members())))

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module ("") and every module inside it with its dotted name, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) not in seen:
                seen.add(id(module))
                yield name, module
                stack.extend(reversed([(f"{name}.{inner}" if name else inner, item)
                                       for inner, item in module._members()
                                       if isinstance(item, Module)]))

    def named_buffers(self) -> Iterator[tuple[str, Buffer]]:
        """Every buffer (running statistics) with its dotted name."""
        for path, module in self.named_modules():
            for name, value in module._members():
                if isinstance(value, Buffer):
                    yield (f"{path}.{name}" if path else name), value

    def parameters(self) -> list[Parameter]:
        """Every parameter, each once (collected by `named_parameters`)."""
        return [p for _, p in self.named_parameters()]

    def num_parameters(self) -> int:
        """How many numbers the parameters hold (13,002 for the digit network)."""
        return sum(p.size for p in self.parameters())

    def zero_grad(self) -> None:
        """Forget every parameter's gradient (set it to None, as PyTorch does by default)."""
        if Recording.active is not None:  # a jit step: replays call this again here
            note_call(self.zero_grad)
        for p in self.parameters():
            p.grad = None

    def name_parameters(self) -> Module:
        """Give each parameter its dotted name as `Tensor.name` (for pictures and traces)."""
        for name, p in self.named_parameters():
            p.name = name
        return self

    def state_dict(self) -> dict[str, np.ndarray]:
        """Name → a copy of the values, for every parameter and buffer (PyTorch's keys)."""
        return {name: t.data.copy() for name, t in self._state_tensors().items()}

    def _state_tensors(self) -> dict[str, Tensor]:
        return {**dict(self.named_parameters()), **dict(self.named_buffers())}

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy values into the parameters, in place (so optimizers, and anything else
        holding them, keep working with the same tensors).

        All or nothing: every key, shape and dtype is checked before anything is written.
        A missing or extra key (with strict=True), a wrong shape, or values that are not
        real numbers (strings, objects, complex) raise an error naming the key, and the
        module is left as it was.
        """
        params = self._state_tensors()
        missing = [k for k in params if k not in state]
        unexpected = [k for k in state if k not in params]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}")
        arrays = {key: _checked_value(key, state[key], params[key])
                  for key in params if key in state}
        with no_grad():
            for key, array in arrays.items():
                params[key].copy_(array)

    def extra_repr(self) -> str:
        """What goes between the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(child).replace("\n", "\n  ") for name, child in children]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


def _not_a_tensor(layer: Module, value: Any, argument: str = "input") -> TypeError:
    """The error for a layer given a numpy array, a list or a number instead of a Tensor
    (each layer checks its input first: otherwise numpy fails deep inside, unexplained)."""
    given = type(value).__name__
    if isinstance(value, np.ndarray):
        given = f"a numpy array of shape {value.shape}"
    return TypeError(f"{type(layer).__name__}: the {argument} must be a Tensor, got {given}; "
                     "pass Tensor(x) instead of x (numbers and lists become float32, a numpy "
                     "array keeps its dtype)")


def _checked_value(key: str, value: Any, param: Tensor) -> np.ndarray:
    """`value` as an array that fits `param`, or an error naming the key."""
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"load_state_dict: '{key}' holds {array.dtype} values; parameters "
                        "take real numbers (float, int or bool)")
    if array.shape != param.shape:
        raise ValueError(f"load_state_dict: '{key}' has shape {array.shape} in the "
                         f"state but {param.shape} in the module")
    if not param.data.flags.writeable:
        raise ValueError(f"load_state_dict: the parameter '{key}' wraps a read-only array "
                         "and cannot be written in place")
    return array



# ----------------------------------------------------------------------------------------
# Containers
# ----------------------------------------------------------------------------------------
class Sequential(Module):
    """Modules applied one after the other; they are named "0", "1", … as in PyTorch."""

    def __init__(self, *modules: Module) -> None:
        self.layers = list(modules)  # (given modules keep their parameters' names)

    def _members(self) -> Iterator[tuple[str, Any]]:
        return ((str(i), module) for i, module in enumerate(self.layers))

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Module:
        return self.layers[index]

    def forward(self, x: Tensor) -> Tensor:
        """x through each module in turn, the output of one the input of the next."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        for module in self.layers:
            x = module(x)
        return x
