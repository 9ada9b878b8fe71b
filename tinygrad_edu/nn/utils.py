"""Gradient clipping and flat parameter vectors (`torch.nn.utils`).

Clipping runs after `backward()` and before `optimizer.step()`: it changes each `.grad`
in place. Inside a `tg.jit` step it is a call every replay makes again, on that call's
gradients (the total norm it returns is computed anew too), never a value frozen at
recording.
"""

from __future__ import annotations

import math
import numbers
import types
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_edu.nn.module import Module
from tinygrad_edu.ops.shape import cat
from tinygrad_edu.tensor import Recording, Tensor, no_grad, note_call

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector",
           "vector_to_parameters"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


def _tensors(function: str, parameters: Any) -> list[Tensor]:
    """`parameters` as a list of Tensors (a Tensor alone, or any iterable of them)."""
    if isinstance(parameters, Tensor):
        return [parameters]
    if isinstance(parameters, Module):
        raise TypeError(f"{function}: got the module {type(parameters).__name__} itself; pass "
                        "its parameters: model.parameters()")
    generator = isinstance(parameters, types.GeneratorType)
    try:
        tensors = list(parameters)
    except TypeError:
        raise TypeError(f"{function}: parameters must be a Tensor or an iterable of Tensors, "
                        f"got {type(parameters).__name__}") from None
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{function}: parameter {i} is {type(t).__name__}, not a Tensor")
    if generator and not tensors:
        warnings.warn(f"{function}: `parameters` is an empty generator, no gradient clipping "
                      "will occur", stacklevel=3)
    return tensors


def _number(function: str, name: str, value: Any) -> float:
    if isinstance(value, str) and value.lower() in ("inf", "-inf"):
        return float(value)  # PyTorch takes norm_type="inf"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{function}: {name} must be a number, got {type(value).__name__} "
                        f"{value!r}")
    return float(value)


def _norm(array: np.ndarray, p: float) -> np.ndarray:
    """‖array‖ₚ over all its elements (∞: the largest |x|), in the array's dtype."""
    return np.asarray(np.linalg.norm(array.ravel(), ord=p), dtype=array.dtype)


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Scale the gradients together so that their total norm is at most `max_norm`, in
    place; returns the total norm before clipping (a 0-d Tensor), as PyTorch.

    The total norm is the `norm_type`-norm of the gradients' norms (all gradients seen as
    one vector). Each is multiplied by min(1, max_norm/(total + 1e-6)). `foreach` is
    PyTorch's implementation switch and changes nothing here.
    """
    params = _tensors("clip_grad_norm_", parameters)
    max_norm = _number("clip_grad_norm_", "max_norm", max_norm)
    p = _number("clip_grad_norm_", "norm_type", norm_type)
    if max_norm < 0 or math.isnan(max_norm):
        raise ValueError(f"clip_grad_norm_: max_norm must be ≥ 0, got {max_norm}")

    def clip() -> np.ndarray:
        grads = [t._grad.data for t in params if t._grad is not None]
        if not grads:
            return np.asarray(0.0, dtype=np.float32)
        total = _norm(np.stack([_norm(g, p) for g in grads]), p)  # ‖(‖g₁‖, ‖g₂‖, …)‖
        if error_if_nonfinite and not np.isfinite(total):
            raise RuntimeError(f"clip_grad_norm_: the total norm of order {p} of the "
                               "gradients is non-finite, so it cannot be clipped; pass "
                               "error_if_nonfinite=False to scale by it anyway")
        scale = np.minimum(max_norm / (total + 1e-6), 1.0)  # never scales up
        with np.errstate(invalid="ignore"):  # an infinite norm: NaNs, silently as PyTorch
            for g in grads:
                g *= scale.astype(g.dtype)
        return total

    total = Tensor._wrap(clip())
    if Recording.active is not None:  # a jit step: every replay clips its own gradients
        Recording.active.note_computed(clip, total)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient element into [−clip_value, clip_value], in place (PyTorch's
    `clip_grad_value_`; `foreach` changes nothing here)."""
    params = _tensors("clip_grad_value_", parameters)
    limit = _number("clip_grad_value_", "clip_value", clip_value)

    def clip() -> None:
        for t in params:
            if t._grad is not None:
                np.clip(t._grad.data, -limit, limit, out=t._grad.data)

    clip()
    if Recording.active is not None:  # a jit step: every replay clips its own gradients
        note_call(clip)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one vector (differentiable, as PyTorch)."""
    tensors = _tensors("parameters_to_vector", parameters)
    if not tensors:
        raise ValueError("parameters_to_vector: got no parameters")
    return cat([t.reshape(-1) for t in tensors])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of the vector `vec` into the parameters, in place (the
    inverse of `parameters_to_vector`). Lengths are checked before anything is written."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected a Tensor, but got "
                        f"{type(vec).__name__}")
    tensors = _tensors("vector_to_parameters", parameters)
    needed = sum(t.numel() for t in tensors)
    if vec.ndim != 1 or vec.numel() != needed:
        raise ValueError(f"vector_to_parameters: vec has shape {vec.shape}; the parameters "
                         f"hold {needed} values, so it must have shape ({needed},)")
    start = 0
    with no_grad():
        for t in tensors:
            t.copy_(vec.data[start:start + t.numel()].reshape(t.shape))
            start += t.numel()
