"""Layers, networks, losses and saving, with PyTorch's names (`torch.nn`).

The flagship network of the lessons is `MLP([784, 16, 16, 10])`: three layers, each
a(l) = σ(W(l) a(l−1) + b(l)), with W(l) of shape (outputs, inputs), so row j holds the
weights of neuron j. 784·16 + 16 + 16·16 + 16 + 16·10 + 10 = 13,002 parameters.
"""

from __future__ import annotations

import io
import itertools
import os
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.functional import cross_entropy, mse_loss
from tinygrad_edu.tensor import (
    DEFAULT_DTYPE,
    Recording,
    Tensor,
    no_grad,
    note_call,
    note_model_change,
)
from tinygrad_edu.utils import atomic_write_bytes, random_generator

__all__ = ["MLP", "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Buffer", "Conv2d",
           "CrossEntropyLoss", "Dropout", "Flatten", "LayerNorm", "Linear", "MSELoss",
           "MaxPool2d", "Module", "Parameter", "ReLU", "Sequential", "Sigmoid", "Tanh",
           "cross_entropy", "functional", "load", "mse_loss", "save"]


def __dir__() -> list[str]:  # dir(nn) and tab completion show the API, not np, os, …
    return sorted(__all__)

Seed = int | np.random.Generator | None


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
# Layers
# ----------------------------------------------------------------------------------------
INITIALISERS = ("xavier", "lecun", "nielsen")


def initial_weights(fan_in: int, fan_out: int, init: str, rng: np.random.Generator
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Starting weights (fan_out, fan_in) and biases (fan_out,) for one layer.

    - "xavier" (Glorot): W ~ U(−√(6/(in+out)), +√(6/(in+out))), b = 0. Keeps the spread of
      weighted sums near 1 in both directions: the default, good for sigmoid and tanh.
    - "lecun": W ~ N(0, 1/in), b = 0.
    - "nielsen": W, b ~ N(0, 1), as in Nielsen's book (chapter 1); sums of 784 such terms
      saturate the sigmoids, which is what his chapter 3 then improves on.
    """
    if init == "xavier":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, (fan_out, fan_in)), np.zeros(fan_out)
    if init == "lecun":
        return rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in), np.zeros(fan_out)
    if init == "nielsen":
        return rng.standard_normal((fan_out, fan_in)), rng.standard_normal(fan_out)
    raise ValueError(f"initial_weights: init must be one of {INITIALISERS}, got {init!r}")


class Linear(Module):
    """z = x Wᵀ + b, with `weight` W of shape (out_features, in_features) and `bias` b of
    shape (out_features,): neuron j computes z_j = Σ_k W_jk x_k + b_j."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 init: str = "xavier", seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        weight, b = initial_weights(in_features, out_features, init, random_generator(seed))
        self.in_features, self.out_features = in_features, out_features
        self.weight = Parameter(weight.astype(dtype), name="weight")
        self.bias = Parameter(b.astype(dtype), name="bias") if bias else None

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (…, in_features) → x Wᵀ + b, shape (…, out_features)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        """Sizes and whether there is a bias, shown in the repr."""
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Sigmoid(Module):
    """σ(z) = 1 / (1 + e⁻ᶻ), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """σ of every value of x; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.sigmoid()


class ReLU(Module):
    """max(z, 0), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """max(value, 0) for every value of x; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.relu()


class Tanh(Module):
    """tanh(z), elementwise."""

    def forward(self, x: Tensor) -> Tensor:
        """tanh of every value of x; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.tanh()


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


ACTIVATIONS = {"sigmoid": Sigmoid, "relu": ReLU, "tanh": Tanh}


def _activation_class(spec: str | type[Module] | None) -> type[Module] | None:
    """"sigmoid" → Sigmoid; a Module class or None as it is; anything else is an error."""
    if spec is None or (isinstance(spec, type) and issubclass(spec, Module)):
        return spec
    if spec not in ACTIVATIONS:
        raise ValueError(f"MLP: activation must be one of {list(ACTIVATIONS)}, a Module "
                         f"class or None, got {spec!r}")
    return ACTIVATIONS[spec]


class MLP(Sequential):
    """A fully connected network: `MLP([784, 16, 16, 10])` is the lessons' digit network.

    Linear layers with an activation after each (sigmoid by default, the output layer too,
    as in the lessons). `output_activation=None` leaves the last layer's weighted sums as
    they are (logits, for `cross_entropy`). Layers sit at even indices, so the state_dict
    keys are "0.weight", "0.bias", "2.weight", … exactly as for the same
    `torch.nn.Sequential`, and the weights load there unchanged.
    """

    def __init__(self, sizes: list[int], activation: str | type[Module] | None = "sigmoid",
                 output_activation: str | type[Module] | None = "sigmoid",
                 init: str = "xavier", seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs at least an input and an output size, "
                             f"got {sizes}")
        hidden, output = _activation_class(activation), _activation_class(output_activation)
        rng = random_generator(seed)
        modules: list[Module] = []
        for i, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            modules.append(Linear(fan_in, fan_out, init=init, seed=rng, dtype=dtype))
            act = output if i == len(sizes) - 2 else hidden
            if act is not None:
                modules.append(act())
        super().__init__(*modules)
        self.sizes = list(sizes)
        self.name_parameters()  # its own new layers: "0.weight", … in pictures and traces


# ----------------------------------------------------------------------------------------
# Layers for images (PyTorch's names, shapes and parameter layouts)
# ----------------------------------------------------------------------------------------
class Conv2d(Module):
    """A 2-D convolution: `weight` (out_channels, in_channels, kH, kW), `bias` (out,).
    Output channel o at each place is Σ over channels and window of weight[o] · x + b[o].
    Starting weights as PyTorch's: U(−1/√fan_in, 1/√fan_in), fan_in = in·kH·kW."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True, seed: Seed = None, dtype: Any = DEFAULT_DTYPE) -> None:
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = functional._pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride = functional._pair(stride, "stride", "Conv2d", 1)
        self.padding = functional._pair(padding, "padding", "Conv2d", 0)
        rng = random_generator(seed)
        bound = 1 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        shape = (out_channels, in_channels, *self.kernel_size)
        self.weight = Parameter(rng.uniform(-bound, bound, shape).astype(dtype), name="weight")
        self.bias = (Parameter(rng.uniform(-bound, bound, out_channels).astype(dtype),
                               name="bias") if bias else None)

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, in_channels, H, W) → (N, out_channels, H', W'), with
        H' = (H + 2·padding − kH) // stride + 1 (W' alike)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"{self!r}: expects input of shape (N, {self.in_channels}, H, W), "
                             f"got {x.shape}")
        try:
            return functional.conv2d(x, self.weight, self.bias, self.stride, self.padding)
        except ValueError as err:
            raise ValueError(f"{self!r}: {err}") from None

    def extra_repr(self) -> str:
        """Channels, kernel size, stride, padding and bias, shown in the repr."""
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class MaxPool2d(Module):
    """The largest value of each kernel_size window (stride: the kernel size by default)."""

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None) -> None:
        self.kernel_size = functional._pair(kernel_size, "kernel_size", "MaxPool2d", 1)
        self.stride = (self.kernel_size if stride is None
                       else functional._pair(stride, "stride", "MaxPool2d", 1))

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, C, H, W) → the maximum of each window, (N, C, H', W')."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.max_pool2d(x, self.kernel_size, self.stride)

    def extra_repr(self) -> str:
        """Window size and stride, shown in the repr."""
        return f"kernel_size={self.kernel_size}, stride={self.stride}"


class AvgPool2d(MaxPool2d):
    """The mean of each kernel_size window (stride: the kernel size by default)."""

    def forward(self, x: Tensor) -> Tensor:
        """x of shape (N, C, H, W) → the mean of each window, (N, C, H', W')."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.avg_pool2d(x, self.kernel_size, self.stride)


class Flatten(Module):
    """Axes start_dim..end_dim merged into one: (N, C, H, W) → (N, C·H·W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        """x with axes start_dim..end_dim merged into one (the values unchanged)."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    """While training, each value is zeroed with probability p (the rest scaled by
    1/(1 − p)); in evaluation (`model.eval()`) it passes everything through."""

    def __init__(self, p: float = 0.5, seed: Seed = None) -> None:
        if not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p, self.generator = p, random_generator(seed)

    def forward(self, x: Tensor) -> Tensor:
        """x with values zeroed at random and the rest scaled up (training), or x as it is."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        """The probability of zeroing, shown in the repr."""
        return f"p={self.p}"


class BatchNorm2d(Module):
    """Each channel normalised over the batch and positions, then scaled and shifted:
    y = (x − mean) / √(var + eps) · weight + bias. Training uses the batch's statistics
    and updates `running_mean`/`running_var` (buffers); evaluation uses those."""

    expected_dims = 4

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = DEFAULT_DTYPE) -> None:
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = Parameter(np.ones(num_features, dtype), name="weight") if affine else None
        self.bias = Parameter(np.zeros(num_features, dtype), name="bias") if affine else None
        self.running_mean = Buffer(np.zeros(num_features, dtype)) if track_running_stats else None
        self.running_var = Buffer(np.ones(num_features, dtype)) if track_running_stats else None
        self.num_batches_tracked = (Buffer(np.zeros((), np.int64)) if track_running_stats
                                    else None)

    def forward(self, x: Tensor) -> Tensor:
        """x normalised per channel (feature), then scaled and shifted; the same shape."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        if x.ndim != self.expected_dims or x.shape[1] != self.num_features:
            layout = "(N, C)" if self.expected_dims == 2 else "(N, C, H, W)"
            raise ValueError(f"{self!r}: expects input of shape {layout} with C = "
                             f"{self.num_features}, got {x.shape}")
        return functional.batch_norm(x, self.running_mean, self.running_var, self.weight,
                                     self.bias, self.training, self.momentum, self.eps,
                                     self.num_batches_tracked)

    def extra_repr(self) -> str:
        """Features, eps, momentum and whether it is affine, shown in the repr."""
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.weight is not None}")


class BatchNorm1d(BatchNorm2d):
    """Batch normalisation of (N, C) inputs: each feature over the batch."""

    expected_dims = 2


class LayerNorm(Module):
    """Each sample normalised over its last axes (normalized_shape), then scaled by
    `weight` and shifted by `bias` of that shape."""

    def __init__(self, normalized_shape: int | tuple[int, ...], eps: float = 1e-5,
                 elementwise_affine: bool = True, dtype: Any = DEFAULT_DTYPE) -> None:
        shape = ((normalized_shape,) if isinstance(normalized_shape, (int, np.integer))
                 else tuple(normalized_shape))
        self.normalized_shape, self.eps = shape, eps
        affine = elementwise_affine
        self.weight = Parameter(np.ones(shape, dtype), name="weight") if affine else None
        self.bias = Parameter(np.zeros(shape, dtype), name="bias") if affine else None

    def forward(self, x: Tensor) -> Tensor:
        """Each sample of x normalised over its last axes, then scaled and shifted."""
        if not isinstance(x, Tensor):
            raise _not_a_tensor(self, x)
        return functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        """The normalised shape and eps, shown in the repr."""
        return f"{self.normalized_shape}, eps={self.eps}"


# ----------------------------------------------------------------------------------------
# Losses as modules
# ----------------------------------------------------------------------------------------
class MSELoss(Module):
    """Squared-error cost as a module: `MSELoss()(prediction, target)`."""

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """`mse_loss(prediction, target, reduction)`: one number (or a sum)."""
        if not isinstance(prediction, Tensor):
            raise _not_a_tensor(self, prediction, "prediction")
        return mse_loss(prediction, target, self.reduction)

    def extra_repr(self) -> str:
        """The reduction, shown in the repr."""
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(Module):
    """Cross-entropy of logits against integer labels, as a module."""

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def forward(self, logits: Tensor, labels: Any) -> Tensor:
        """`cross_entropy(logits, labels, reduction)`: one number (or a sum)."""
        if not isinstance(logits, Tensor):
            raise _not_a_tensor(self, logits, "logits")
        return cross_entropy(logits, labels, self.reduction)

    def extra_repr(self) -> str:
        """The reduction, shown in the repr."""
        return f"reduction={self.reduction!r}"


# ----------------------------------------------------------------------------------------
# Saving and loading: .npz, never pickle, written atomically
# ----------------------------------------------------------------------------------------
def save(module: Module, path: str | os.PathLike) -> None:
    """Write the module's state_dict to `path` as .npz (numpy arrays only, no pickle),
    through a temporary file and a rename, so a crash never leaves half a file."""
    buffer = io.BytesIO()
    np.savez(buffer, **module.state_dict())  # type: ignore[arg-type]  # (numpy's stub)
    atomic_write_bytes(path, buffer.getvalue())


def load(module: Module, path: str | os.PathLike) -> Module:
    """Load parameters saved by `save` into `module`. A truncated or foreign file, or one
    whose keys or shapes do not fit, raises an error and leaves the module unchanged."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not named parameters")
        with archive:
            state = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"nn.load: {path} does not exist") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"nn.load: {path} is not a readable .npz of parameters ({err})") from None
    module.load_state_dict(state)
    return module
