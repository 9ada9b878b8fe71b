"""Module, the base of every layer and network (parameters, train/eval, state_dict), the
tensors it holds (Parameter, Buffer), and the containers (Sequential, ModuleList,
ModuleDict).
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Any, NamedTuple

import numpy as np

from tinygrad_edu.tensor import (
    Recording,
    RemovableHandle,
    Tensor,
    _describe,
    no_grad,
    note_call,
    note_model_change,
)

__all__ = ["Buffer", "Module", "ModuleDict", "ModuleList", "Parameter", "Sequential"]


class Parameter(Tensor):
    """A tensor that is part of a module's state: requires grad, found by `parameters()`."""

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True, name: str | None = None) -> None:
        super().__init__(data, requires_grad=requires_grad, name=name)


class _IncompatibleKeys(NamedTuple):
    """What `load_state_dict` did not match: keys the module has that the state lacked,
    and keys of the state the module does not have (PyTorch's named tuple)."""

    missing_keys: list[str]
    unexpected_keys: list[str]

    def __repr__(self) -> str:
        if not (self.missing_keys or self.unexpected_keys):
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


class Buffer(Tensor):
    """State a module keeps but does not train (BatchNorm's running mean and variance):
    saved and loaded with the parameters, never handed to an optimizer (PyTorch's name)."""

    __slots__ = ()



class _Hooks:
    """A module's forward hooks. Calling a layer runs its forward directly (no step through
    Module.__call__: see Module.__init_subclass__), so a module with hooks is given a
    subclass of its own class whose call runs them, and its class back when the last hook
    is removed. Same name, same parameters, isinstance unchanged, only that instance."""

    def __init__(self, module: Module) -> None:
        self.before: dict[int, Any] = {}
        self.after: dict[int, Any] = {}
        self.module, self.original = module, type(module)
        hooks, original = self, self.original

        def call(self: Module, *args: Any, **kwargs: Any) -> Any:
            for hook in list(hooks.before.values()):
                replaced = hook(self, args)
                if replaced is not None:
                    args = replaced if isinstance(replaced, tuple) else (replaced,)
            out = original.__call__(self, *args, **kwargs)
            for hook in list(hooks.after.values()):
                replaced = hook(self, args, out)
                if replaced is not None:
                    out = replaced
            return out

        self.hooked = type(original.__name__, (original,), {
            "__call__": call, "_hooks": self, "__module__": original.__module__,
            "__qualname__": original.__qualname__, "__doc__": original.__doc__})

    def add(self, kind: dict[int, Any], hook: Any, changes_model: bool = True
            ) -> RemovableHandle:
        if not callable(hook):
            raise TypeError(f"{self.original.__name__}: a hook must be a function, got "
                            f"{_describe(hook)}")
        handle = RemovableHandle(kind, lambda: self.unhook_if_empty(changes_model))
        kind[handle.id] = hook
        object.__setattr__(self.module, "__class__", self.hooked)
        if changes_model:  # a hook may change what the module returns: a jit record
            note_model_change()  # made without it records again (and after its removal)
        return handle

    def unhook_if_empty(self, changes_model: bool) -> None:
        if changes_model:
            note_model_change()
        if not (self.before or self.after) and type(self.module) is self.hooked:
            object.__setattr__(self.module, "__class__", self.original)


def _hooks_of(module: Module) -> _Hooks:
    """The module's hooks (made at the first one)."""
    hooks = type(module).__dict__.get("_hooks")
    return hooks if isinstance(hooks, _Hooks) and hooks.module is module else _Hooks(module)


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

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """`module(x)` runs `forward(x)`: each class's call *is* its forward (set here, when
        the class is made), so calling a layer costs no extra step through `__call__`
        (seven layer calls per step of the digit network: 1% of it at batch 1, measured).
        A class that defines its own `__call__` keeps it."""
        super().__init_subclass__(**kwargs)
        inherited = cls.__call__  # Module's own, or a parent's forward: replace; else keep
        plain = inherited is Module.__call__ or getattr(inherited, "__name__", "") == "forward"
        if "__call__" not in cls.__dict__ and "forward" in cls.__dict__ and plain:
            cls.__call__ = cls.forward  # type: ignore[method-assign]

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

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple[Any, ...]], Any]
                                  ) -> RemovableHandle:
        """Call `hook(module, args)` before each forward, as PyTorch does; what it returns,
        if not None, replaces the positional arguments (a tuple, or one value). Returns a
        handle whose `remove()` takes the hook off."""
        hooks = _hooks_of(self)
        return hooks.add(hooks.before, hook)

    def register_forward_hook(self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
                              ) -> RemovableHandle:
        """Call `hook(module, args, output)` after each forward, as PyTorch does (to look
        at activations, say); what it returns, if not None, replaces the output. Returns a
        handle whose `remove()` takes the hook off."""
        hooks = _hooks_of(self)
        return hooks.add(hooks.after, hook)

    def _watch_output(self, hook: Callable[[Module, tuple[Any, ...], Any], Any]
                      ) -> RemovableHandle:
        """A forward hook that only looks (viz.layer_stats): a jit record made without
        it stays valid (its replays call no layer, so the hook does not run then)."""
        hooks = _hooks_of(self)
        return hooks.add(hooks.after, hook, changes_model=False)

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

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> _IncompatibleKeys:
        """Copy values into the parameters and buffers, in place (so optimizers, and
        anything else holding them, keep working with the same tensors).

        Returns PyTorch's `(missing_keys, unexpected_keys)`, a named tuple. With
        strict=True (the default) either list non-empty is a RuntimeError naming both;
        with strict=False the keys that match are loaded and the others reported.

        All or nothing: every shape and dtype is checked before anything is written. A
        wrong shape, or values that are not real numbers (strings, objects, complex),
        raise an error naming the key, and the module is left as it was.
        """
        params = self._state_tensors()
        keys = _IncompatibleKeys([k for k in params if k not in state],
                                 [k for k in state if k not in params])
        if strict and (keys.missing_keys or keys.unexpected_keys):
            raise RuntimeError(f"load_state_dict for {type(self).__name__}: missing keys "
                               f"{keys.missing_keys}, unexpected keys {keys.unexpected_keys} "
                               "(strict=False loads the keys that match)")
        arrays = {key: _checked_value(key, state[key], params[key])
                  for key in params if key in state}
        with no_grad():
            for key, array in arrays.items():
                params[key].copy_(array)
        return keys

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
# Containers: a module holding modules, named as PyTorch names them ("0", "1", … or keys)
# ----------------------------------------------------------------------------------------
def _module(container: str, value: Any) -> Module:
    """`value` if it is a Module, else PyTorch's TypeError (a function cannot be a layer)."""
    if not isinstance(value, Module):
        raise TypeError(f"{container}: {_describe(value)} is not a Module subclass; wrap "
                        "a function in a Module whose forward calls it")
    return value


def _module_name(container: Module, name: Any) -> str:
    """A key for a module in a container, checked as PyTorch's `add_module` checks it."""
    if not isinstance(name, str):
        raise TypeError(f"{type(container).__name__}: module name should be a string, got "
                        f"{_describe(name)}")
    if "." in name or name == "":
        raise KeyError(f"{type(container).__name__}: module name can't contain \".\" or be "
                       f"empty, got {name!r}")
    if hasattr(type(container), name):  # ModuleDict({'keys': …}) would hide .keys()
        raise KeyError(f"{type(container).__name__}: attribute '{name}' already exists")
    return name


def _position(container: Module, index: Any, length: int) -> int:
    """An int index (negative counts from the end) as a position in [0, length)."""
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{type(container).__name__} indices must be integers or slices, got "
                        f"{_describe(index)}")
    if not -length <= index < length:
        raise IndexError(f"{type(container).__name__}: index {index} is out of range for "
                         f"{length} modules")
    return int(index) % length


class Sequential(Module):
    """Modules applied one after the other, named "0", "1", … as in PyTorch, or by the
    keys of a dict: `Sequential(OrderedDict(conv=…, relu=…))`. A slice is a Sequential
    that keeps the names (`model[1:]` holds "1", "2", …, as PyTorch's)."""

    def __init__(self, *modules: Module | dict[str, Module]) -> None:
        named: list[tuple[Any, Any]] = [(str(i), module) for i, module in enumerate(modules)]
        if len(modules) == 1 and isinstance(modules[0], dict):
            named = list(modules[0].items())
        self._modules: dict[str, Module] = {}  # (given modules keep their parameters' names)
        for name, module in named:
            self._modules[_module_name(self, name)] = _module("Sequential", module)

    def _members(self) -> Iterator[tuple[str, Any]]:
        return iter(list(self._modules.items()))

    def __getattr__(self, name: str) -> Module:  # model.conv for Sequential(OrderedDict(…))
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int | slice) -> Any:
        """`model[i]` (negative counts from the end) is a module; `model[a:b]` a Sequential."""
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(dict(items[index]))
        return items[_position(self, index, len(items))][1]

    def __setitem__(self, index: int, module: Module) -> None:
        key = list(self._modules)[_position(self, index, len(self))]
        self._modules[key] = _module("Sequential", module)
        note_model_change()

    def __delitem__(self, index: int | slice) -> None:
        """Remove modules; the rest are numbered again from "0", as PyTorch does."""
        modules = list(self._modules.values())
        if isinstance(index, slice):
            del modules[index]
        else:
            del modules[_position(self, index, len(modules))]
        self._modules = {str(i): module for i, module in enumerate(modules)}

    def append(self, module: Module) -> Sequential:
        """Add a module at the end, named str(len(self)); returns self."""
        self._modules[str(len(self))] = _module("Sequential", module)
        note_model_change()
        return self

    def extend(self, modules: Iterable[Module]) -> Sequential:
        """Append each module in turn; returns self."""
        for module in modules:
            self.append(module)
        return self

    def insert(self, index: int, module: Module) -> Sequential:
        """Put `module` before position `index`; all are numbered again from "0"."""
        modules = list(self._modules.values())
        modules.insert(index, _module("Sequential", module))
        self._modules = {str(i): m for i, m in enumerate(modules)}
        return self

    def forward(self, x: Tensor) -> Tensor:
        """x through each module in turn, the output of one the input of the next."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        for module in self._modules.values():
            x = module(x)
        return x


class ModuleList(Module):
    """A list of modules whose parameters the model finds, named "0", "1", … (PyTorch's
    `nn.ModuleList`): `self.blocks = nn.ModuleList(Block() for _ in range(4))`. It has no
    forward of its own; the model loops over it."""

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        self._modules: list[Module] = [_module("ModuleList", m) for m in modules or ()]

    def _members(self) -> Iterator[tuple[str, Any]]:
        return iter([(str(i), module) for i, module in enumerate(self._modules)])

    def __iter__(self) -> Iterator[Module]:
        return iter(list(self._modules))

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, index: int | slice) -> Any:
        """`blocks[i]` (negative counts from the end) is a module; `blocks[a:b]` a
        ModuleList, numbered again from "0"."""
        if isinstance(index, slice):
            return ModuleList(self._modules[index])
        return self._modules[_position(self, index, len(self))]

    def __setitem__(self, index: int, module: Module) -> None:
        self._modules[_position(self, index, len(self))] = _module("ModuleList", module)
        note_model_change()

    def __delitem__(self, index: int | slice) -> None:
        if isinstance(index, slice):
            del self._modules[index]
        else:
            del self._modules[_position(self, index, len(self))]
        note_model_change()

    def __iadd__(self, modules: Iterable[Module]) -> ModuleList:
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> ModuleList:
        return ModuleList([*self._modules, *other])

    def append(self, module: Module) -> ModuleList:
        """Add a module at the end; returns self."""
        self._modules.append(_module("ModuleList", module))
        note_model_change()
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        """Add each module at the end, in order; returns self."""
        self._modules.extend(_module("ModuleList", m) for m in modules)
        note_model_change()
        return self

    def insert(self, index: int, module: Module) -> None:
        """Put `module` before position `index` (as list.insert)."""
        self._modules.insert(index, _module("ModuleList", module))
        note_model_change()

    def pop(self, index: int = -1) -> Module:
        """Remove the module at `index` and return it."""
        module = self[index]
        del self[index]
        return module

    def __repr__(self) -> str:
        """PyTorch's: a run of modules printed alike is shown once, `(0-2): 3 x Linear(…)`."""
        if not self._modules:
            return "ModuleList()"
        runs: list[tuple[int, int, str]] = []  # (first, last, repr) of each run
        for i, module in enumerate(self._modules):
            text = repr(module).replace("\n", "\n  ")
            if runs and runs[-1][2] == text:
                runs[-1] = (runs[-1][0], i, text)
            else:
                runs.append((i, i, text))
        lines = [f"  ({first}): {text}" if first == last else
                 f"  ({first}-{last}): {last - first + 1} x {text}"
                 for first, last, text in runs]
        return "ModuleList(\n" + "\n".join(lines) + "\n)"


class ModuleDict(Module):
    """A dict of modules whose parameters the model finds, named by their keys, in the
    order they were added (PyTorch's `nn.ModuleDict`); `heads["digit"]` or `heads.digit`."""

    def __init__(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]] | None = None
                 ) -> None:
        self._modules: dict[str, Module] = {}
        if modules is not None:
            self.update(modules)

    def _members(self) -> Iterator[tuple[str, Any]]:
        return iter(list(self._modules.items()))

    def __getattr__(self, name: str) -> Module:
        modules = self.__dict__.get("_modules", {})
        if name in modules:
            return modules[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self._modules[_module_name(self, key)] = _module("ModuleDict", module)
        note_model_change()

    def __delitem__(self, key: str) -> None:
        del self._modules[key]
        note_model_change()

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._modules))

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def keys(self) -> KeysView[str]:
        """The keys, in the order they were added."""
        return self._modules.keys()

    def values(self) -> ValuesView[Module]:
        """The modules, in the order they were added."""
        return self._modules.values()

    def items(self) -> ItemsView[str, Module]:
        """(key, module) pairs, in the order they were added."""
        return self._modules.items()

    def pop(self, key: str) -> Module:
        """Remove the module under `key` and return it."""
        module = self._modules.pop(key)
        note_model_change()
        return module

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()
        note_model_change()

    def update(self, modules: Mapping[str, Module] | Iterable[tuple[str, Module]]) -> None:
        """Add (or replace) modules from a dict or ModuleDict, in its order, or from
        (key, module) pairs."""
        pairs = modules.items() if isinstance(modules, (Mapping, ModuleDict)) else modules
        for pair in pairs:
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise TypeError(f"ModuleDict.update: expects a dict or (key, module) pairs, "
                                f"got an element {_describe(pair)}")
            self[pair[0]] = pair[1]
