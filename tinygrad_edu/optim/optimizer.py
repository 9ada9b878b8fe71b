"""The base of every optimizer (`torch.optim.Optimizer`): parameter groups, what each
parameter remembers between steps, `step()`, and `state_dict()` in PyTorch's layout.

An optimizer keeps `param_groups`, a list of dicts. Each group has "params" (its tensors)
and the settings used for them ("lr", "momentum", …); a setting a group does not give
comes from `defaults`, the optimizer's own arguments. So one optimizer can train the
body of a network with one learning rate and its head with another:

    SGD([{"params": body.parameters()}, {"params": head.parameters(), "lr": 0.1}], lr=0.01)

`state[p]` holds what the optimizer remembers about parameter p (a momentum buffer,
Adam's running averages and its own step count). A subclass lists the settings it takes
with their checks (`rules`) and writes `update(group, params, grads)`: its formula, run
once per group on the parameters that have a gradient.
"""

from __future__ import annotations

import inspect
import math
import numbers
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

import numpy as np

from tinygrad_edu.nn.module import Module
from tinygrad_edu.tensor import Recording, Tensor, bump_together, enable_grad, note_call

__all__ = ["Optimizer"]

# How a setting is checked: rule(optimizer name, setting name, value) → the value to keep.
Rule = Callable[[str, str, Any], Any]
# PyTorch's switches that choose an implementation, not the numbers (one runs here): a
# state_dict saved by PyTorch carries them; loading drops them.
IMPLEMENTATION_SWITCHES = ("foreach", "fused", "capturable", "differentiable")


def _number(owner: str, name: str, value: Any, valid: Callable[[float], bool],
            expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        hint = "; for a Tensor write .item()" if isinstance(value, Tensor) else ""
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}{hint}")
    value = float(value)
    if not (valid(value) and math.isfinite(value)):  # NaN fails every comparison
        raise ValueError(f"{owner}: {name} must be {expected}, got {value}")
    return value


def non_negative(owner: str, name: str, value: Any) -> float:
    """A finite number ≥ 0 (learning rates, weight decay, momentum)."""
    return _number(owner, name, value, lambda v: v >= 0, "a finite number ≥ 0")


def positive(owner: str, name: str, value: Any) -> float:
    """A finite number > 0 (eps: it keeps a division away from zero)."""
    return _number(owner, name, value, lambda v: v > 0, "a finite number > 0")


def finite(owner: str, name: str, value: Any) -> float:
    """Any finite number (SGD's dampening)."""
    return _number(owner, name, value, lambda v: True, "a finite number")


def fraction(owner: str, name: str, value: Any) -> float:
    """A number in [0, 1] (RMSprop's alpha)."""
    return _number(owner, name, value, lambda v: 0 <= v <= 1, "in [0, 1]")


def flag(owner: str, name: str, value: Any) -> bool:
    """True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {value!r}")
    return bool(value)


def betas(owner: str, name: str, value: Any) -> tuple[float, float]:
    """Adam's (β₁, β₂): two numbers in [0, 1)."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{owner}: {name} must be a pair (beta1, beta2), got {value!r}")
    if len(value) != 2:
        raise ValueError(f"{owner}: {name} must be a pair (beta1, beta2), got {len(value)} "
                         f"value(s): {tuple(value)}")
    return tuple(_number(owner, f"{name}[{i}]", beta, lambda v: 0 <= v < 1, "in [0, 1)")
                 for i, beta in enumerate(value))  # type: ignore[return-value]


def lerp_(start: np.ndarray, end: np.ndarray, weight: float) -> None:
    """start ← start + weight·(end − start), in place, rounded as PyTorch's `lerp_` is
    (it measures from the nearer end: the running averages then match to the last bit)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Optimizer:
    """Holds parameter groups and per-parameter state; `step()` updates every parameter
    that has a gradient, `zero_grad()` forgets the gradients (PyTorch's `Optimizer`).

    `params` is an iterable of tensors (one group) or of dicts, each a group with its
    own settings (`{"params": [...], "lr": 0.1}`); `defaults` holds the optimizer's
    arguments, used where a group gives none. Every gradient is checked before any
    parameter changes: a step happens completely or not at all.
    """

    rules: ClassVar[dict[str, Rule]] = {}  # each setting the subclass takes, with its check
    optional_state: tuple[str, ...] = ()  # state a parameter may lack (SGD's momentum buffer)

    def __init__(self, params: Iterable[Tensor] | Iterable[dict[str, Any]],
                 defaults: dict[str, Any]) -> None:
        owner = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{owner}: params must be an iterable of Tensors or of dicts "
                            f"(parameter groups), got a Tensor; write {owner}([tensor], ...)")
        if isinstance(params, Module):
            raise TypeError(f"{owner}: params is the module {type(params).__name__} itself; "
                            f"pass its parameters: {owner}(model.parameters(), ...)")
        if isinstance(params, (set, frozenset)):
            self._parameter_list(params)  # (raises: a set has no order)
        if isinstance(params, (dict, str)) or not isinstance(params, Iterable):
            raise TypeError(f"{owner}: params must be an iterable of Tensors or of dicts "
                            f"(parameter groups), got {type(params).__name__}")
        self.defaults = self._checked_settings(dict(defaults))
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        groups: list[Any] = list(params)
        if not groups:
            raise ValueError(f"{owner}: got an empty parameter list (params)")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # -- groups ----------------------------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own settings (missing ones from `defaults`),
        e.g. layers unfrozen while fine-tuning. A parameter already in a group is refused."""
        owner = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{owner}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{owner}: a parameter group needs 'params', got keys "
                             f"{sorted(param_group)}")
        params = self._parameter_list(param_group["params"])
        settings = {k: v for k, v in param_group.items() if k != "params"}
        group = {"params": params, **self._checked_settings({**self.defaults, **settings})}
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{owner}: some parameters appear in more than one parameter "
                             "group; give each to one group")
        for p in params:
            p._version_counter()  # made now: step() bumps it without a call per parameter
        self.param_groups.append(group)

    def _parameter_list(self, params: Any) -> list[Tensor]:
        """A group's "params" as a list, each checked as PyTorch checks it."""
        owner = type(self).__name__
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError(f"{owner}: parameters must be in an ordered collection (a list): "
                            "the order of a set changes between runs, and with it the state_dict")
        elif isinstance(params, Module):
            raise TypeError(f"{owner}: 'params' is the module {type(params).__name__} itself; "
                            "give its parameters: model.parameters()")
        params = list(params)
        seen: set[int] = set()
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                what = (f"a numpy array of shape {p.shape}" if isinstance(p, np.ndarray)
                        else type(p).__name__)
                raise TypeError(f"{owner}: parameters must be Tensors (optimizer can only "
                                f"optimize Tensors), but parameter {i} is {what}")
            if p._ctx is not None and not p._retains_grad:
                raise ValueError(f"{owner}: can't optimize a non-leaf Tensor: parameter {i} "
                                 f"(shape {p.shape}) was made by '{p._ctx.name}', so no "
                                 "gradient is kept for it. Optimize the leaf it came from, "
                                 "or start a new one: t.detach().requires_grad_()")
            if id(p) in seen:
                raise ValueError(f"{owner}: parameter {i} (shape {p.shape}) is listed twice "
                                 "in one group; it would be updated twice per step. List "
                                 "each parameter once")
            seen.add(id(p))
        return params

    def _checked_settings(self, settings: dict[str, Any]) -> dict[str, Any]:
        """The settings with each rule applied (numbers as float); other keys kept."""
        owner = type(self).__name__
        for name, rule in self.rules.items():
            if name in settings:
                settings[name] = rule(owner, name, settings[name])
        return settings

    @property
    def lr(self) -> float:
        """The learning rate when every group has the same one. (PyTorch has no `.lr`: it
        sets `group["lr"]` for each of `param_groups`; so does assigning this.)"""
        rates = {group["lr"] for group in self.param_groups}
        if len(rates) != 1:
            raise AttributeError(f"{type(self).__name__}.lr: the groups have different "
                                 "learning rates; read param_groups[i]['lr']")
        return rates.pop()

    @lr.setter
    def lr(self, value: float) -> None:
        value = non_negative(type(self).__name__, "lr", value)
        for group in self.param_groups:
            group["lr"] = value

    # -- a step ------------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient: set `.grad` to None (PyTorch's default), or
        fill it with zeros where `set_to_none=False`."""
        if Recording.active is not None:  # a jit step: replays call this again here
            note_call(lambda: self.zero_grad(set_to_none))
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none or p._grad is None:
                    p._grad = None
                else:
                    p._grad.data[...] = 0

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient; returns `closure()`'s value
        when given one (it recomputes the loss: forward and backward)."""
        if Recording.active is not None:  # a jit step: replays call this again here
            if closure is not None:
                raise RuntimeError("jit: optimizer.step(closure) is not recorded; do the "
                                   "forward and backward in the step, then call step()")
            note_call(self.step)
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # every gradient is checked first, so a bad one leaves every parameter as it was
        checked = [self._with_gradients(group) for group in self.param_groups]
        changed = []
        for group, (params, grads) in zip(self.param_groups, checked, strict=False):
            if params:
                self.update(group, params, grads)  # in place: whatever holds p.data sees it
                changed += params
        # one version for all, so a graph that saved the old values refuses to backpropagate
        bump_together([p._versions or p._version_counter() for p in changed])
        self._opt_called = True  # (a scheduler stepped before the optimizer warns)
        return loss

    def _with_gradients(self, group: dict[str, Any]) -> tuple[list, list]:
        """The group's parameters that have a gradient, and their gradients' arrays; a
        gradient that does not fit its parameter raises. (One loop, written out: this is
        the digit network's hot path, where comprehensions over the six parameters cost
        0.8 µs more, measured.)"""
        params, grads = [], []
        for p in group["params"]:
            grad = p._grad
            if grad is None:
                continue
            g = grad.data
            try:  # (the shape alone: the .grad setter checked the dtype, and a .grad.data
                fits = g.shape == p.data.shape  # of another float dtype still computes right)
            except AttributeError:  # .grad.data replaced by something that is not an array
                fits = False
            if not fits:
                raise self._bad_gradient(p, g)
            params.append(p)
            grads.append(g)
        return params, grads

    def _bad_gradient(self, p: Tensor, g: Any) -> ValueError:
        index = next(i for i, q in enumerate(q for g in self.param_groups for q in g["params"])
                     if q is p)
        what = (f"shape {g.shape}, {g.dtype}" if isinstance(g, np.ndarray)
                else type(g).__name__)
        return ValueError(f"{type(self).__name__}.step: parameter {index} (shape {p.shape}, "
                          f"{p.dtype}) has a gradient of {what}; a gradient must have its "
                          "parameter's shape and dtype. No parameter was changed")

    def update(self, group: dict[str, Any], params: list[Tensor],
               grads: list[np.ndarray]) -> None:
        """Change each `p.data` in place, given its gradient's array `g` and the group's
        settings (each optimizer writes its formula here)."""
        raise NotImplementedError(f"{type(self).__name__} has no update")

    def new_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """What parameter `p` remembers before its first update (empty by default)."""
        return {}

    def _state_of(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """`state[p]`, made at p's first update (a parameter counts its own steps)."""
        state = self.state[p]
        if not state:
            state.update(self.new_state(p, group))
        return state

    # -- saving and loading ------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """PyTorch's layout: `{"state": {index: {...}}, "param_groups": [{..., "params":
        [indices]}]}`, parameters numbered across the groups in order. Arrays are copies;
        a step count is a float32 0-d array, as PyTorch's is a float32 tensor."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: {key: _exported(key, value) for key, value in s.items()}
                 for p, s in self.state.items() if s and id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Take the settings and state from `state_dict` (ours or PyTorch's, with arrays
        for its tensors). Everything is checked first: an error leaves the optimizer as
        it was."""
        owner = f"{type(self).__name__}.load_state_dict"
        if not (isinstance(state_dict, dict) and {"state", "param_groups"} <= set(state_dict)):
            raise ValueError(f"{owner}: expected an optimizer's state_dict, a dict with "
                             f"'state' and 'param_groups', got {_keys_of(state_dict)}")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{owner}: the state has {len(saved_groups)} parameter group(s), "
                             f"this optimizer {len(self.param_groups)}")
        by_index: dict[Any, tuple[Tensor, dict[str, Any]]] = {}
        groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{owner}: parameter group {i} has {len(saved['params'])} "
                                 f"parameters in the state, {len(group['params'])} here")
            settings = {k: v for k, v in saved.items()
                        if k != "params" and k not in IMPLEMENTATION_SWITCHES}
            settings = self._checked_settings({**self.defaults, **settings})
            groups.append(settings)
            for index, p in zip(saved["params"], group["params"], strict=True):
                by_index[index] = (p, settings)
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for index, saved_state in state_dict["state"].items():
            if index not in by_index:
                raise ValueError(f"{owner}: the state has an entry for parameter {index}, "
                                 "which no parameter group lists")
            p, settings = by_index[index]
            state[p] = self._loaded_state(index, p, settings, saved_state)
        for group, settings in zip(self.param_groups, groups, strict=True):
            params = group["params"]
            group.clear()
            group.update(settings, params=params)
        self.state = state

    def _loaded_state(self, index: Any, p: Tensor, group: dict[str, Any],
                      saved: dict[str, Any]) -> dict[str, Any]:
        """One parameter's saved state, checked against what this optimizer keeps for it."""
        owner = f"{type(self).__name__}.load_state_dict"
        saved = {k: v for k, v in saved.items() if v is not None}  # (PyTorch: no buffer yet)
        required = set(self.new_state(p, group))
        unknown = set(saved) - required - set(self.optional_state)
        if unknown or required - set(saved):
            raise ValueError(f"{owner}: parameter {index} has state {sorted(saved)}, but "
                             f"{type(self).__name__} keeps {sorted(required)} here (the "
                             "state of another optimizer, or other settings?)")
        loaded: dict[str, Any] = {}
        for key, value in saved.items():
            array = np.asarray(value.data if isinstance(value, Tensor) else value)
            if key == "step":
                if array.size != 1 or array.dtype.kind not in "iuf":
                    raise ValueError(f"{owner}: parameter {index}'s step must be one number, "
                                     f"got {value!r}")
                loaded[key] = float(array)
            elif array.shape != p.shape or array.dtype.kind not in "iuf":
                raise ValueError(f"{owner}: parameter {index}'s '{key}' has shape "
                                 f"{array.shape} ({array.dtype}); the parameter has shape "
                                 f"{p.shape}")
            else:
                loaded[key] = np.array(array, dtype=p.dtype)  # a copy, in p's dtype
        return loaded

    def __repr__(self) -> str:
        """`SGD(6 parameters, lr=0.1, momentum=0.9, weight_decay=0.0)`: the main settings
        and any other that is not at its default; one bracket per group when several."""
        described = [self._describe(group) for group in self.param_groups]
        if len(described) == 1:
            return f"{type(self).__name__}({described[0]})"
        return f"{type(self).__name__}(" + ", ".join(f"[{d}]" for d in described) + ")"

    _shown: tuple[str, ...] = ("lr",)  # the settings a repr always shows

    def _describe(self, group: dict[str, Any]) -> str:
        defaults = _constructor_defaults(type(self))
        settings = [f"{k}={group[k]}" for k in self.rules if k in self._shown
                    or (k in defaults and group.get(k, defaults[k]) != defaults[k])]
        return ", ".join([f"{len(group['params'])} parameters", *settings])


def _constructor_defaults(cls: type) -> dict[str, Any]:
    """The default of each argument of `cls(...)` (what a repr leaves out)."""
    return {name: p.default for name, p in inspect.signature(cls).parameters.items()
            if p.default is not inspect.Parameter.empty}


def _exported(key: str, value: Any) -> Any:
    """A copy for state_dict(): arrays copied, the step count as a float32 0-d array."""
    if key == "step":
        return np.array(value, dtype=np.float32)
    return value.copy() if isinstance(value, np.ndarray) else value


def _keys_of(value: Any) -> str:
    return f"keys {sorted(map(str, value))}" if isinstance(value, dict) else type(value).__name__
