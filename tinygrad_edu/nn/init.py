"""Starting values for parameters, as PyTorch's `torch.nn.init`: each function fills a tensor
in place (its version goes up, as any in-place change), without recording a graph, and
returns it. `nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")`.

The random ones draw from the generator `tg.manual_seed` seeds (or the numpy Generator given
as `generator=`), so a seeded run repeats; the numbers differ from PyTorch's for the same
seed (another generator), their distributions do not.

Fans, as PyTorch counts them: for a weight of shape (out, in, *kernel), `fan_in = in·k` and
`fan_out = out·k`, k the number of kernel positions (1 for a Linear weight (out, in)).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_edu.tensor import Tensor, _describe, no_grad
from tinygrad_edu.utils import random_generator

__all__ = [
    "calculate_gain", "constant_", "eye_", "kaiming_normal_", "kaiming_uniform_", "normal_",
    "ones_", "orthogonal_", "trunc_normal_", "uniform_", "xavier_normal_", "xavier_uniform_",
    "zeros_",
]

Generator = np.random.Generator | None


# ----------------------------------------------------------------------------------------
# Writing the values (in place, outside the graph) and the checks every function shares
# ----------------------------------------------------------------------------------------
def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write `values` into `tensor`'s memory through copy_ (so its version goes up and a
    graph that saved the old values refuses them), under no_grad as PyTorch's init does."""
    with no_grad():
        tensor.copy_(values)
    return tensor


def _checked(function: str, tensor: Any, random: bool = True) -> Tensor:
    """`tensor` if it is a Tensor (of floats, for random values), else a TypeError."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init.{function}: expects a Tensor (a layer's weight, say), got "
                        f"{_describe(tensor)}")
    if random and tensor.dtype.kind != "f":
        raise TypeError(f"nn.init.{function}: random values need a floating-point tensor, "
                        f"got {tensor.dtype}; convert it first (x.float())")
    return tensor


def _draw(function: str, tensor: Any, generator: Generator,
          sample: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray]) -> Tensor:
    """Fill `tensor` with `sample(rng, shape)` (drawn in float64, stored in its dtype)."""
    tensor = _checked(function, tensor)
    return _fill(tensor, sample(random_generator(generator), tensor.shape))


# ----------------------------------------------------------------------------------------
# Constants and plain distributions
# ----------------------------------------------------------------------------------------
def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with `val`."""
    return _fill(_checked("constant_", tensor, random=False), val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(_checked("zeros_", tensor, random=False), 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(_checked("ones_", tensor, random=False), 1)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, also when it is
    not square); a Linear layer so set passes its input through."""
    tensor = _checked("eye_", tensor, random=False)
    if tensor.ndim != 2:
        raise ValueError(f"nn.init.eye_: only tensors with 2 dimensions are supported, got "
                         f"shape {tensor.shape}")
    rows, cols = tensor.shape
    return _fill(tensor, np.eye(rows, cols))


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator = None) -> Tensor:
    """Fill with samples of the uniform distribution U(a, b)."""
    if a > b:
        raise ValueError(f"nn.init.uniform_: expects a ≤ b, got a={a}, b={b}")
    return _draw("uniform_", tensor, generator, lambda rng, shape: rng.uniform(a, b, shape))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator = None) -> Tensor:
    """Fill with samples of the normal distribution N(mean, std²)."""
    if std < 0:
        raise ValueError(f"nn.init.normal_: std must be ≥ 0, got {std}")
    return _draw("normal_", tensor, generator, lambda rng, shape: rng.normal(mean, std, shape))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator = None) -> Tensor:
    """Fill with samples of N(mean, std²) truncated to `[a, b]` (a and b are values, not
    numbers of std): drawn from the normal, and those outside `[a, b]` drawn again (exact,
    also far from the mean, where PyTorch's inverse-CDF method warns)."""
    if not a < b or std <= 0:
        raise ValueError(f"nn.init.trunc_normal_: expects a < b and std > 0, got a={a}, b={b}, "
                         f"std={std}")
    inside = _normal_cdf((b - mean) / std) - _normal_cdf((a - mean) / std)  # P(a ≤ x ≤ b)
    if inside < 1e-12:
        raise ValueError(f"nn.init.trunc_normal_: [a, b] = [{a}, {b}] holds almost none of "
                         f"N({mean}, {std}²); move the bounds nearer the mean")

    def sample(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        kept = np.empty(0)
        while kept.size < math.prod(shape):  # draw enough that one round usually does it
            draws = rng.normal(mean, std, int((math.prod(shape) - kept.size) / inside) + 16)
            kept = np.concatenate([kept, draws[(draws >= a) & (draws <= b)]])
        return kept[:math.prod(shape)].reshape(shape)

    return _draw("trunc_normal_", tensor, generator, sample)


def _normal_cdf(z: float) -> float:
    return 0.5 * (1 + math.erf(z / math.sqrt(2)))


# ----------------------------------------------------------------------------------------
# Scaled to the layer: Xavier (Glorot) and Kaiming (He)
# ----------------------------------------------------------------------------------------
def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor by which an activation shrinks the spread of its input, which the
    initialisers make up for: 1 for linear, conv and sigmoid, 5/3 for tanh, √2 for relu,
    `√(2/(1 + slope²))` for leaky_relu (slope `param`, default 0.01), 3/4 for selu."""
    linear = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
              "conv_transpose3d", "sigmoid")
    if nonlinearity in linear:
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; one of "
                     f"{[*linear, 'tanh', 'relu', 'leaky_relu', 'selu']}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight (out, in, *kernel): (in·k, out·k), k = Π kernel."""
    if tensor.ndim < 2:
        raise ValueError(f"nn.init: fan in and fan out can not be computed for a tensor with "
                         f"fewer than 2 dimensions (shape {tensor.shape}); Xavier and Kaiming "
                         "initialise weights (out, in, …), not biases")
    receptive_field = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive_field, tensor.shape[0] * receptive_field


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"nn.init: mode {mode!r} not supported, please use one of fan_in, "
                         "fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator: Generator = None) -> Tensor:
    """U(−a, a) with `a = gain·√(6/(fan_in + fan_out))`: variance `gain²·2/(fan_in + fan_out)`,
    which keeps the spread of signals alike forwards and backwards (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_checked("xavier_uniform_", tensor))
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator: Generator = None) -> Tensor:
    """N(0, std²) with `std = gain·√(2/(fan_in + fan_out))` (Glorot & Bengio, 2010)."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(_checked("xavier_normal_", tensor))
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(function: str, tensor: Any, a: float, mode: str,
                 nonlinearity: str) -> float | None:
    """`gain/√fan` for Kaiming's functions, or None for a tensor with no elements."""
    tensor = _checked(function, tensor)
    fan = _calculate_correct_fan(tensor, mode)
    if tensor.size == 0:
        warnings.warn(f"nn.init.{function}: initializing zero-element tensors is a no-op",
                      stacklevel=3)
        return None
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator: Generator = None) -> Tensor:
    """U(−bound, bound) with `bound = gain·√(3/fan)`: variance `gain²/fan` (He et al., 2015);
    `fan` is fan_in or fan_out (`mode`), the gain that of `nonlinearity` (`a` its negative
    slope for leaky_relu). PyTorch's Linear and Conv start from a=√5."""
    std = _kaiming_std("kaiming_uniform_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return uniform_(tensor, -math.sqrt(3.0) * std, math.sqrt(3.0) * std, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator: Generator = None) -> Tensor:
    """N(0, std²) with `std = gain/√fan` (He et al., 2015); arguments as kaiming_uniform_."""
    std = _kaiming_std("kaiming_normal_", tensor, a, mode, nonlinearity)
    if std is None:
        return tensor
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator: Generator = None) -> Tensor:
    """A (semi-)orthogonal matrix times `gain` (Saxe et al., 2013): the tensor seen as
    (rows, everything else), its rows (or columns, whichever are fewer) orthonormal. From
    the QR decomposition of a normal matrix, signs fixed so the result is uniformly random."""
    tensor = _checked("orthogonal_", tensor)
    if tensor.ndim < 2:
        raise ValueError(f"nn.init.orthogonal_: only tensors with 2 or more dimensions are "
                         f"supported, got shape {tensor.shape}")
    if tensor.size == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.size // rows
    flat = random_generator(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # (without this, QR's sign convention biases the matrix)
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
