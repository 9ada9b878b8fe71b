"""A record compiled: one straight-line Python function per input signature, over arrays
allocated once (see docs/replay.md).

`tg.jit` records a step as a program of steps (jit.py): each op's forward, each op's
backward in the order backward ran them, the additions of gradient shares, the additions
into `.grad`, and the calls a replay repeats (an optimizer's step). This module turns that
program into Python source, one line or a few per step, and compiles it:

    v7 = dot(v0, v2.T, b7)          # forward: linear  (LinearOp.forward)
    add(v7, v3, v7)
    ...

The hot ops have a *kernel* here: the numpy calls of their eager method, in the same
order on the same operands (so every result is bit for bit eager's), but writing into an
array given by `out=` instead of a new one. A kernel is written next to a comment naming
the method it mirrors; it may decline a case (a dtype or a shape it does not handle), and
then the op's own `forward`/`backward` is called, as for every op without a kernel. An op
runs both ways by kernels or both by its methods: a method's backward may read what its
forward kept on the op object.

Which array a kernel writes into is decided once, when compiling, by liveness: each value
lives from the step that writes it to the last step that reads it (or a view of it), and
after that its memory goes to a later value of its dtype that fits (the last freed first:
it is still in the cache). Values that escape get a fresh array at every call, as in eager:
gradients that go into `.grad`, what the step returns. Constants (a number in the step,
`1` in `1 - σ`) are 0-d arrays of the data's dtype, bound with the buffers as the
function's free variables.

`optimizer.step()` stays Optimizer.step's own logic (checks, parameter groups, version
stamps); plain SGD's update w ← w − lr·g is written out in the function, lr·g into a
buffer, after a check that the optimizer is as recorded (else the general way runs).
"""

from __future__ import annotations

import itertools
import linecache
import math
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_edu import ops
from tinygrad_edu.ops import _reduced_shape, image
from tinygrad_edu.optim import SGD, Optimizer
from tinygrad_edu.tensor import Function, Tensor, _accumulate_grad, bump_together

__all__ = ["KERNELS", "Step", "compile_program", "mirrors"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


# The kinds of step the recorder writes (jit.Record)
FORWARD, BACKWARD, ADD = "forward", "backward", "add"  # an op; its backward; two gradient shares
ACCUMULATE, STORED = "accumulate", "stored"  # a gradient into .grad; a new backward's bookkeeping
CALL, COMPUTED, DERIVED, CHECK = "call", "computed", "derived", "check"  # Python calls (jit.py)


class Step:
    """One entry of a record's program: the slots it reads and writes (numbers naming the
    arrays and objects of one call), and what runs: an op's method, or a Python callable.

    `aliases` maps a written slot to the read slots whose memory it may share (seen while
    recording: reshape returns a view, add's backward passes its gradient on unchanged)."""

    __slots__ = ("aliases", "arguments", "call", "kind", "op", "params", "reads", "writes")

    op: Any  # the op (a forward or backward step): the instance every replay reuses
    call: Any  # what a Python step calls (an optimizer's step, a check, a derived value)
    writes: list[Any]  # slots (None: a gradient backward did not compute)

    def __init__(self, kind: str, reads: Iterable[int] = (), writes: Iterable[int | None] = (),
                 op: Function | None = None, params: dict[str, Any] | None = None,
                 call: Callable[..., Any] | None = None,
                 aliases: dict[int, list[int]] | None = None,
                 arguments: Iterable[int] = ()) -> None:
        self.kind, self.op, self.call = kind, op, call
        self.reads, self.writes = list(reads), list(writes)
        self.params = params or {}
        self.aliases = aliases or {}
        self.arguments = list(arguments)  # slots read through the params (labels as an index)


class Argument:
    """Inside an op's parameters: an array of this call (an argument, or a value computed
    in the step, as labels used as an index), read from its slot at every replay."""

    __slots__ = ("slot",)

    def __init__(self, slot: int) -> None:
        self.slot = slot


def arguments_in(value: Any) -> list[int]:
    """The slots of the Arguments inside an op's parameter (tuples included)."""
    if isinstance(value, Argument):
        return [value.slot]
    if isinstance(value, tuple):
        return [slot for v in value for slot in arguments_in(v)]
    return []


# ----------------------------------------------------------------------------------------
# Kernels: each op's numpy calls, in eager's order, writing into given arrays
# ----------------------------------------------------------------------------------------
class Var:
    """A value inside a kernel: its shape and dtype when recording, written `{v<slot>}` in
    the kernel's code; `var.out` is where the kernel writes it (its buffer, or None for a
    fresh array: then the same line allocates, as eager does)."""

    __slots__ = ("dtype", "kernel", "shape", "slot")

    def __init__(self, kernel: Kernel, slot: int, shape: tuple[int, ...], dtype: Any) -> None:
        self.kernel, self.slot, self.shape, self.dtype = kernel, slot, shape, np.dtype(dtype)

    def __format__(self, spec: str) -> str:
        self.kernel.used.add(self.slot)
        return f"{{v{self.slot}}}"

    @property
    def out(self) -> str:
        self.kernel.buffered.add(self.slot)
        self.kernel.direct.add(self.slot)
        return f"{{o{self.slot}}}"

    def out_as(self, shape: tuple[int, ...]) -> str:
        """Where to write this value in another shape of the same size (a reduction kept
        its axes); the value is then that array reshaped."""
        self.kernel.buffered.add(self.slot)
        self.kernel.views.append((self.slot, shape))
        return f"{{o{self.slot}@{len(self.kernel.views) - 1}}}"

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)


class Decline(Exception):  # noqa: N818 - not an error: the op's own method runs instead
    """Raised by a kernel for a case it does not handle."""


class Kernel:
    """What a kernel writes for one step: lines of code, the temporaries it needs, which
    outputs it writes into buffers, which are views of an input."""

    def __init__(self, compiler: Compiler, step: Step, saved: dict[str, Var]) -> None:
        self.compiler, self.step, self.saved_values = compiler, step, saved
        self.lines: list[str] = []
        self.buffered: set[int] = set()  # slots written through `.out` (or `.out_as`)
        self.direct: set[int] = set()  # slots written through `.out`: a whole new array
        self.used: set[int] = set()  # slots the code mentions (what the kernel reads)
        self.views: list[tuple[int, tuple[int, ...]]] = []  # out_as requests
        self.temps: list[int] = []
        self.aliases: dict[int, list[int]] = {}
        self.new_saved: list[int] = []
        self.reads_saved: list[int] = []
        op = step.op
        self.needs: list[bool] = list(getattr(op, "needs_input_grad", []))
        self.params = compiler.forward_params.get(id(op), step.params)

    def __call__(self, line: str) -> None:
        self.lines.append(line)

    def var(self, slot: int) -> Var:
        shape, dtype = self.compiler.info[slot]
        return Var(self, slot, shape, dtype)

    def output(self, i: int = 0) -> Var:
        """The step's i-th result (forward: its output; backward: the i-th input's grad)."""
        slot = self.step.writes[i]
        if slot is None:
            raise Decline
        return self.var(slot)

    def temp(self, shape: tuple[int, ...], dtype: Any) -> Var:
        """A scratch array for this step only (its buffer is free again after the step)."""
        slot = self.compiler.new_slot(shape, dtype)
        self.temps.append(slot)
        return Var(self, slot, shape, dtype)

    def saved(self, name: str, shape: tuple[int, ...] | None = None, dtype: Any = None) -> Var:
        """A value the forward kernel keeps for the backward kernel (as forward keeps it on
        `self`): made with its shape by forward, fetched by name by backward."""
        if shape is None:
            if name not in self.saved_values:
                raise Decline
            var = self.saved_values[name]
            self.reads_saved.append(var.slot)
            return Var(self, var.slot, var.shape, var.dtype)
        slot = self.compiler.new_slot(shape, dtype)
        self.new_saved.append(slot)
        var = self.saved_values[name] = Var(self, slot, shape, dtype)
        return var

    def private(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An array of zeros that this step alone uses, at every call (not from the pool:
        what the step does not write in it, as a convolution's zero border, stays 0)."""
        memory = np.zeros(shape, dtype)
        self.compiler.private_bytes += memory.nbytes
        return memory

    def const(self, value: Any, dtype: Any = None) -> str:
        """The name of a constant: a 0-d array of `dtype`, or `value` itself (a Python
        number where eager multiplies by one, an axis, a shape)."""
        return self.compiler.bind(value if dtype is None else np.asarray(value, dtype))

    def constant(self, var: Var) -> Any:
        """The value of `var` when it is a constant of the record (backward's seed), else
        None."""
        record = self.compiler.record
        return record.constants.get(var.slot) if record.kinds.get(var.slot) == "constant" \
            else None

    def alias(self, var: Var, of: Var, expression: str | None = None) -> None:
        """Result `var` is `of` itself, or a view of it (`expression`): no array written."""
        self.aliases[var.slot] = [of.slot]
        self(f"{var} = {of if expression is None else expression}")


def same_floats(*values: Var) -> Any:
    """The dtype the values share, when it is a float dtype; else the kernel declines."""
    dtype = values[0].dtype
    if dtype.kind != "f" or any(v.dtype != dtype for v in values):
        raise Decline
    return dtype


KernelFunction = Callable[..., None]
KERNELS: dict[Callable[..., Any], KernelFunction] = {}  # an op's method → its kernel


def mirrors(method: Callable[..., Any]) -> Callable[[KernelFunction], KernelFunction]:
    """Register the decorated kernel for `method` (an op class's forward or backward). A
    subclass that overrides the method has another function there: no kernel for it."""

    def register(kernel: KernelFunction) -> KernelFunction:
        KERNELS[method] = kernel
        return kernel

    return register


def reduce_to(k: Kernel, value: Var, result: Var) -> None:
    """`sum_to_shape(value, result.shape)` (ops/__init__.py): the value itself when the
    shapes agree, else its sum over the broadcast axes (keepdims, then reshaped)."""
    if value.shape == result.shape:
        k.alias(result, value)
        return
    shape = result.shape
    new_axes = value.ndim - len(shape)
    stretched = tuple(new_axes + i for i, n in enumerate(shape)
                      if n == 1 and value.shape[new_axes + i] != 1)
    axes = k.const(tuple(range(new_axes)) + stretched)
    kept = tuple(1 if i < new_axes or i in stretched else n
                 for i, n in enumerate(value.shape))
    k(f"{result} = add_reduce({value}, {axes}, None, {result.out_as(kept)}, True)"
      f".reshape({k.const(shape)})")


@mirrors(ops.LinearOp.forward)
def linear_forward(k: Kernel, x: Var, weight: Var, bias: Var | None = None) -> None:
    # z = x·Wᵀ (np.dot for matrices, as ops/products._dot; @ otherwise), then z += b (add_bias)
    z = k.output()
    product = "dot" if x.ndim == 2 else "matmul"
    k(f"{z} = {product}({x}, {weight}.T, {z.out})")
    if bias is not None:
        if bias.dtype != z.dtype and np.result_type(z.dtype, bias.dtype) != z.dtype:
            raise Decline  # (add_bias makes a new array: z + bias)
        k(f"add({z}, {bias}, {z})")


@mirrors(ops.LinearOp.backward)
def linear_backward(k: Kernel, grad: Var, out: Var, x: Var, weight: Var,
                    bias: Var | None = None) -> None:
    # ∂C/∂x = grad·W,  ∂C/∂W = gradᵀ·x,  ∂C/∂b = Σ rows of grad (sum_rows)
    needs = k.needs
    if needs[0]:
        dx = k.output(0)
        k(f"{dx} = {'dot' if grad.ndim == 2 else 'matmul'}({grad}, {weight}, {dx.out})")
    rows, inputs = f"{grad}", f"{x}"
    if x.ndim != 2:  # extra batch axes: every row is one sample
        rows = f"{grad}.reshape(-1, {grad.shape[-1]})"
        inputs = f"{x}.reshape(-1, {x.shape[-1]})"
    if needs[1]:
        dw = k.output(1)
        k(f"{dw} = dot({rows}.T, {inputs}, {dw.out})")
    if bias is not None and needs[2]:
        db = k.output(2)
        if grad.dtype in ops.BLAS_FLOATS:  # as sum_rows: ones·grad, by BLAS
            count = grad.size // grad.shape[-1]
            k(f"{db} = dot({k.const(ops.ones_vector(count, grad.dtype))}, {rows}, {db.out})")
        else:
            k(f"{db} = add_reduce({rows}, 0, None, {db.out})")


@mirrors(ops.SigmoidOp.forward)
def sigmoid_forward(k: Kernel, z: Var) -> None:
    # t = e^min(z, cap), or e^z for a large z whose maximum is below the cap; t /= t + 1
    dtype = same_floats(z)
    t, s = k.output(), k.temp(z.shape, dtype)
    cap = k.const(40.0 if dtype.itemsize > 2 else 11.0, dtype)
    if z.size > 4096:  # (eager's test: one look at the largest value, then no capping pass)
        k(f"if maximum_reduce({z}, None) < {cap}: {t} = exp({z}, {t.out})")
        k(f"else: {t} = exp(minimum({z}, {cap}, out={t.out}), {t.out})")
    else:
        k(f"{t} = minimum({z}, {cap}, out={t.out})")
        k(f"exp({t}, {t})")
    k(f"{s} = add({t}, {k.const(1, dtype)}, {s.out})")
    k(f"divide({t}, {s}, {t})")


@mirrors(ops.SigmoidOp.backward)
def sigmoid_backward(k: Kernel, grad: Var, out: Var, z: Var) -> None:
    # grad * out * (1 - out)
    dtype = same_floats(grad, out)
    dz, s = k.output(), k.temp(out.shape, dtype)
    k(f"{dz} = multiply({grad}, {out}, {dz.out})")
    k(f"{s} = subtract({k.const(1, dtype)}, {out}, {s.out})")
    k(f"multiply({dz}, {s}, {dz})")


@mirrors(ops.TanhOp.forward)
def tanh_forward(k: Kernel, x: Var) -> None:
    # np.tanh(x)
    same_floats(x)
    out = k.output()
    k(f"{out} = tanh({x}, {out.out})")


@mirrors(ops.TanhOp.backward)
def tanh_backward(k: Kernel, grad: Var, out: Var, x: Var) -> None:
    # grad * (1 - out * out)
    dtype = same_floats(grad, out)
    dx, s = k.output(), k.temp(out.shape, dtype)
    k(f"{s} = multiply({out}, {out}, {s.out})")
    k(f"subtract({k.const(1, dtype)}, {s}, {s})")
    k(f"{dx} = multiply({grad}, {s}, {dx.out})")


@mirrors(ops.ReLUOp.forward)
def relu_forward(k: Kernel, x: Var) -> None:
    # np.maximum(x, 0)
    dtype = same_floats(x)
    out = k.output()
    k(f"{out} = maximum({x}, {k.const(0, dtype)}, out={out.out})")


@mirrors(ops.ReLUOp.backward)
def relu_backward(k: Kernel, grad: Var, out: Var, x: Var) -> None:
    # grad * (out != 0)
    dtype = same_floats(grad, out)
    dx, mask = k.output(), k.temp(out.shape, np.bool_)
    k(f"{mask} = not_equal({out}, {k.const(0, dtype)}, {mask.out})")
    k(f"{dx} = multiply({grad}, {mask}, {dx.out})")


@mirrors(ops.MSELossOp.forward)
def mse_forward(k: Kernel, prediction: Var, target: Var) -> None:
    # diff = prediction - target (kept for backward); asarray(vdot(diff, diff) / count)
    dtype = same_floats(prediction, target)
    if prediction.shape != target.shape or not prediction.size or dtype.itemsize < 4:
        raise Decline  # (eager raises; the mean of nothing; float16 adds up in float32)
    diff, loss = k.saved("diff", prediction.shape, dtype), k.output()
    k(f"{diff} = subtract({prediction}, {target}, {diff.out})")
    total = f"vdot({diff}, {diff})"
    if k.params.get("reduction", "mean") == "mean":
        total += f" / {k.const(prediction.size)}"  # (a Python int, as eager divides by)
    k(f"{loss} = asarray({total}, {k.const(dtype)})")


@mirrors(ops.MSELossOp.backward)
def mse_backward(k: Kernel, grad: Var, out: Var, prediction: Var, target: Var) -> None:
    # da = diff * (float(grad) * scale);  dy = -da
    diff = k.saved("diff")
    scale = 2.0 / prediction.size if k.params.get("reduction", "mean") == "mean" else 2.0
    needs = k.needs
    da = k.output(0) if needs[0] else k.temp(diff.shape, diff.dtype)
    seed = k.constant(grad)
    factor = (f"float({grad}) * {k.const(scale)}" if seed is None  # (a Python float, as eager)
              else k.const(float(seed) * scale, diff.dtype))  # (the seed: the number it rounds to)
    k(f"{da} = multiply({diff}, {factor}, {da.out})")
    if needs[1]:
        dy = k.output(1)
        k(f"{dy} = negative({da}, {dy.out})")


def _binary_forward(ufunc: str) -> KernelFunction:
    def forward(k: Kernel, x: Var, y: Var) -> None:
        out = k.output()
        if out.dtype.kind not in "fiu":  # (bools: numpy's logical rules)
            raise Decline
        k(f"{out} = {ufunc}({x}, {y}, {out.out})")

    forward.__name__ = f"{ufunc}_forward"
    return forward


mirrors(ops.Add.forward)(_binary_forward("add"))  # x + y
mirrors(ops.Sub.forward)(_binary_forward("subtract"))  # x - y
mirrors(ops.Mul.forward)(_binary_forward("multiply"))  # x * y


@mirrors(ops.Add.backward)
def add_backward(k: Kernel, grad: Var, out: Var, x: Var, y: Var) -> None:
    # sum_to_shape(grad, x.shape), sum_to_shape(grad, y.shape)
    for i in (0, 1):
        if k.needs[i]:
            reduce_to(k, grad, k.output(i))


@mirrors(ops.Sub.backward)
def sub_backward(k: Kernel, grad: Var, out: Var, x: Var, y: Var) -> None:
    # sum_to_shape(grad, x.shape), sum_to_shape(-grad, y.shape)
    if k.needs[0]:
        reduce_to(k, grad, k.output(0))
    if k.needs[1]:
        dy = k.output(1)
        negated = dy if dy.shape == grad.shape else k.temp(grad.shape, grad.dtype)
        k(f"{negated} = negative({grad}, {negated.out})")
        if negated is not dy:
            reduce_to(k, negated, dy)


@mirrors(ops.Mul.backward)
def mul_backward(k: Kernel, grad: Var, out: Var, x: Var, y: Var) -> None:
    # sum_to_shape(grad * y, x.shape), sum_to_shape(grad * x, y.shape)
    for i, other in ((0, y), (1, x)):
        if not k.needs[i]:
            continue
        result = k.output(i)
        shape = np.broadcast_shapes(grad.shape, other.shape)
        dtype = np.result_type(grad.dtype, other.dtype)
        product = result if shape == result.shape else k.temp(shape, dtype)
        k(f"{product} = multiply({grad}, {other}, {product.out})")
        if product is not result:
            reduce_to(k, product, result)


@mirrors(ops.Neg.forward)
def neg_forward(k: Kernel, x: Var) -> None:
    # -x
    out = k.output()
    if out.dtype.kind not in "fi":
        raise Decline
    k(f"{out} = negative({x}, {out.out})")


@mirrors(ops.Neg.backward)
def neg_backward(k: Kernel, grad: Var, out: Var, x: Var) -> None:
    # -grad
    dx = k.output()
    k(f"{dx} = negative({grad}, {dx.out})")


@mirrors(ops.Sum.forward)
def sum_forward(k: Kernel, x: Var) -> None:
    # np.add.reduce(x, axis=axis, dtype=dtype, keepdims=keepdims)
    out, params = k.output(), k.params
    axis, keepdims, dtype = (params.get("axis"), params.get("keepdims", False),
                             params.get("dtype"))
    if out.dtype.kind != "f" or isinstance(axis, Argument):
        raise Decline
    k(f"{out} = add_reduce({x}, {k.const(axis)}, {k.const(dtype)}, {out.out}, "
      f"{k.const(bool(keepdims))})")


@mirrors(ops.Sum.backward)
def sum_backward(k: Kernel, grad: Var, out: Var, x: Var) -> None:
    # expand(grad.reshape(kept shape), x.shape): a view of grad, nothing computed
    shape = grad.shape if k.params.get("keepdims") else _reduced_shape(x.shape,
                                                                       k.params.get("axis"))
    dx = k.output()
    k.alias(dx, grad, f"broadcast_to({grad}.reshape({k.const(shape)}), {k.const(x.shape)})")


@mirrors(ops.LogSoftmaxOp.forward)
def log_softmax_forward(k: Kernel, x: Var) -> None:
    # shifted = x - max(x); shifted - log(Σ e^shifted)  (max and sums along axis, kept)
    dtype = same_floats(x)
    axis = k.params.get("axis", -1)
    if not x.size or not isinstance(axis, int):
        raise Decline
    kept = _reduced_shape(x.shape, axis)
    out, top, shifted = k.output(), k.temp(kept, dtype), k.temp(x.shape, dtype)
    axis_name = k.const(axis)
    if axis in (-1, x.ndim - 1) and x.ndim > 1 and x.size >= 64 * x.shape[-1] and (
            x.shape[-1] <= 64):
        max_by_columns(k, x, top)
    else:
        k(f"{top} = maximum_reduce({x}, {axis_name}, None, {top.out}, True)")
    k(f"{shifted} = subtract({x}, {top}, {shifted.out})")
    exps, total = k.temp(x.shape, dtype), k.temp(kept, dtype)
    k(f"{exps} = exp({shifted}, {exps.out})")
    k(f"{total} = add_reduce({exps}, {axis_name}, None, {total.out}, True)")
    k(f"log({total}, {total})")
    k(f"{out} = subtract({shifted}, {total}, {out.out})")


def max_by_columns(k: Kernel, x: Var, top: Var) -> None:
    """np.max(x, axis=-1, keepdims=True) for many short rows (64 or more, of 64 values at
    most): numpy reduces such rows one by one (26 µs for 512 rows of 27 values, a sixth of
    the names bigram's step), while a transposed copy reduced along its first axis takes
    the same maxima in 7 µs. A maximum does not depend on the order it is taken in, except
    for which of two equal values it returns: the same bits unless they are +0 and −0, or
    NaNs. So where a row's maximum is 0 or NaN, eager's own call runs again (vdot(m, m)
    is NaN only if some m is)."""
    columns = k.temp((x.shape[-1], x.size // x.shape[-1]), x.dtype)
    rows = columns.shape[1]
    k(f"{columns} = {columns.out}  # the rows as columns (many short rows: see max_by_columns)")
    k(f"copyto({columns}, {x}.reshape(-1, {x.shape[-1]}).T)")
    k(f"{top} = {top.out}")
    k(f"maximum_reduce({columns}, 0, None, {top.out_as((rows,))})")
    k(f"if count_nonzero({top}) < {rows} or isnan(vdot({top}, {top})):  # ±0 or NaN: eager's")
    k(f"    maximum_reduce({x}, -1, None, {top}, True)  # order decides which")


@mirrors(ops.LogSoftmaxOp.backward)
def log_softmax_backward(k: Kernel, grad: Var, out: Var, x: Var) -> None:
    # grad - exp(out) * grad.sum(axis, keepdims=True)
    dtype = same_floats(grad, out)
    axis = k.const(k.params.get("axis", -1))
    dx, softmax = k.output(), k.temp(out.shape, dtype)
    total = k.temp(_reduced_shape(grad.shape, k.params.get("axis", -1)), dtype)
    k(f"{softmax} = exp({out}, {softmax.out})")
    k(f"{total} = add_reduce({grad}, {axis}, None, {total.out}, True)")
    k(f"multiply({softmax}, {total}, {softmax})")
    k(f"{dx} = subtract({grad}, {softmax}, {dx.out})")


@mirrors(ops.Conv2dOp.forward)
def conv2d_forward(k: Kernel, x: Var, weight: Var, bias: Var | None = None) -> None:
    # columns = unfold(x) (np.pad, each window copied into a column); z = W·columns; z += b
    dtype = same_floats(x, weight, *([] if bias is None else [bias]))
    p = k.params
    stride, padding, dilation = p["stride"], p["padding"], p.get("dilation", image.ONE)
    if p.get("groups", 1) != 1 or x.ndim != 4 or not x.size:
        raise Decline  # (groups: one product per group, as eager; an empty batch: eager)
    n, c, h, w = x.shape
    out_channels, _, kh, kw = weight.shape
    oh = image.conv_output_size(h, kh, stride[0], padding[0], dilation[0])
    ow = image.conv_output_size(w, kw, stride[1], padding[1], dilation[1])
    # the columns are kept for backward's ∂C/∂W (eager unfolds them again there, to free
    # its largest arrays in between; here they sit in a buffer reused every step)
    columns, z = k.saved("columns", (n, c * kh * kw, oh * ow), dtype), k.output()
    k(f"{columns} = {columns.out}")
    blocks = columns.out_as((n, c, kh, kw, oh, ow))  # (the columns, seen window by window)
    if padding == (0, 0):
        windows = f"windows({x}, {k.const((kh, kw))}, {k.const(stride)}, {k.const(dilation)})"
    else:  # np.pad: x copied inside a zero border that no other value ever writes into
        padded = k.private((n, c, h + 2 * padding[0], w + 2 * padding[1]), dtype)
        inside = padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w]
        k(f"copyto({k.const(inside)}, {x})  # np.pad: x inside a border of zeros")
        windows = k.const(image._windows(padded, (kh, kw), stride, dilation))
    k(f"copyto({blocks}, {windows}.transpose(0, 1, 4, 5, 2, 3))  # unfold")
    k(f"{z} = matmul({weight}.reshape({out_channels}, -1), {columns}, "
      f"{z.out_as((n, out_channels, oh * ow))})")
    if bias is not None:
        k(f"add({z}, {bias}.reshape(-1, 1), {z})  # add_bias")
    k(f"{z} = {z}.reshape({k.const(z.shape)})")


@mirrors(ops.Conv2dOp.backward)
def conv2d_backward(k: Kernel, grad: Var, out: Var, x: Var, weight: Var,
                    bias: Var | None = None) -> None:
    # ∂C/∂x = fold(Wᵀ·∂C/∂z) (conv_input_gradient), ∂C/∂W = Σ_images ∂C/∂z·columnsᵀ,
    # ∂C/∂b = Σ ∂C/∂z over images and places
    dtype = same_floats(grad, weight)
    needs, p = k.needs, k.params
    n, out_channels, oh, ow = grad.shape
    if needs[0]:
        dx = k.output(0)
        c, h, w = x.shape[1:]
        kh, kw = weight.shape[2:]
        (ph, pw) = p["padding"]
        scratch = [k.temp(shape, dtype) for shape in (  # what conv_input_gradient makes:
            (1, out_channels, oh * ow * n),  # dz_last
            (1, kh * kw * c, out_channels),  # weight_last
            (1, kh * kw * c, oh * ow * n),  # blocks
            (c, h + 2 * ph, w + 2 * pw, n))]  # padded
        k(f"{dx} = conv_input_gradient_into({grad}, {weight}, {k.const(p['stride'])}, "
          f"{k.const(p['padding'])}, {k.const(p.get('dilation', image.ONE))}, "
          f"{', '.join(s.out for s in scratch)}, {dx.out}, {k.const(x.shape)})")
    if needs[1]:
        columns = k.saved("columns")
        dw, rows = k.output(1), columns.shape[1]
        product = k.temp((n, 1, out_channels, rows), dtype)
        k(f"{product} = matmul({grad}.reshape({n}, 1, {out_channels}, {oh * ow}), "
          f"{columns}.reshape({n}, 1, {rows}, {oh * ow}).swapaxes(-1, -2), {product.out})")
        k(f"{dw} = add_reduce({product}, 0, None, {dw.out_as((1, out_channels, rows))})"
          f".reshape({k.const(weight.shape)})")
    if bias is not None and needs[2]:
        db = k.output(2)
        k(f"{db} = add_reduce({grad}, {k.const((0, 2, 3))}, None, {db.out})")


def conv_input_gradient_into(dz: np.ndarray, weight: np.ndarray, stride: image.Pair,
                             padding: image.Pair, dilation: image.Pair, dz_last: np.ndarray,
                             weight_last: np.ndarray, blocks: np.ndarray, padded: np.ndarray,
                             dx: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray:
    """image.conv_input_gradient (one group) with each array it makes written into one
    given: the same copies and product, the same additions in the same order."""
    n, c = shape[:2]
    out_channels, _, kh, kw = weight.shape
    oh, ow = dz.shape[2:]
    np.copyto(dz_last.reshape(out_channels, oh * ow, n),  # (1, out, places·N)
              dz.reshape(n, out_channels, oh * ow).transpose(1, 2, 0))
    np.copyto(weight_last.reshape(kh, kw, c, out_channels),  # (1, kH·kW·C, out)
              weight.transpose(2, 3, 1, 0))
    np.matmul(weight_last, dz_last, out=blocks)
    padded.fill(0)
    return image.fold_columns(blocks.reshape(kh, kw, c, oh, ow, n),  # Wᵀ·∂C/∂z, column-wise
                              padded, stride, padding, dilation, shape, dx)


@mirrors(ops.MaxPool2dOp.forward)
def max_pool2d_forward(k: Kernel, x: Var) -> None:
    # the first offset's values, then a running maximum over the other kH·kW − 1 offsets
    same_floats(x)
    p = k.params
    if p.get("padding", (0, 0)) != (0, 0) or p.get("ceil_mode") or x.ndim != 4:
        raise Decline  # (−∞ padding and partial windows: the op's method)
    out = k.output()
    k(f"{out} = max_pool2d_into({x}, {k.const(p['kernel'])}, {k.const(p['stride'])}, "
      f"{k.const(p.get('dilation', image.ONE))}, {out.out})")


def max_pool2d_into(x: np.ndarray, kernel: image.Pair, stride: image.Pair, dilation: image.Pair,
                    largest: np.ndarray | None) -> np.ndarray:
    """MaxPool2dOp.forward (no padding), into `largest` (None: a new array)."""
    return image.window_maxima(image._windows(x, kernel, stride, dilation), largest)


@mirrors(ops.MaxPool2dOp.backward)
def max_pool2d_backward(k: Kernel, grad: Var, out: Var, x: Var) -> None:
    # each window's gradient to its first largest value (image._first_largest), 0 elsewhere
    dtype = same_floats(grad, out, x)
    p = k.params
    kernel, stride, dilation = p["kernel"], p["stride"], p.get("dilation", image.ONE)
    dx = k.output()
    masks = [k.temp(out.shape, np.bool_) for _ in range(2)]  # here, taken
    span = [d * (size - 1) + 1 for d, size in zip(dilation, kernel, strict=True)]
    apart = all(s >= size for s, size in zip(stride, span, strict=True))
    product = "None" if apart else k.temp(out.shape, dtype).out  # grad * here, if overlapping
    tiled = dilation == image.ONE and kernel == stride and (
        out.shape[2] * kernel[0] == x.shape[2] and out.shape[3] * kernel[1] == x.shape[3])
    k(f"{dx} = max_pool2d_backward_into({grad}, {out}, {x}, {k.const(kernel)}, {k.const(stride)}, "
      f"{k.const(dilation)}, {', '.join(m.out for m in masks)}, {product}, {dx.out}, "
      f"{k.const(tiled)})")


def max_pool2d_backward_into(grad: np.ndarray, out: np.ndarray, x: np.ndarray,
                             kernel: image.Pair, stride: image.Pair, dilation: image.Pair,
                             here: np.ndarray, taken: np.ndarray, product: np.ndarray | None,
                             dx: np.ndarray | None, tiled: bool) -> np.ndarray:
    """MaxPool2dOp.backward (no padding) with image._first_largest's masks and the
    gradient written into given arrays. The masks are the same booleans by fewer passes:
    `here & ~taken` is `here > taken` (one pass, not two), nothing is taken before the
    first offset, and what is taken after the last is not read. Where the windows tile
    the image (kernel = stride, no pixel left over) every pixel of dx is written once, so
    eager's zeros are not needed first."""
    windows = image._windows(x, kernel, stride, dilation)
    has_nan = math.isnan(np.vdot(out, out))  # (a sum of squares is NaN only from a NaN)
    if dx is None:
        dx = np.zeros(x.shape, x.dtype)
    elif not tiled:
        dx.fill(0)
    dx_windows = image._windows(dx, kernel, stride, dilation, writeable=True)
    offsets = list(np.ndindex(*kernel))
    for number, (i, j) in enumerate(offsets):  # offset by offset, as _first_largest does
        np.equal(windows[..., i, j], out, out=here)  # a largest value here
        if has_nan:
            np.bitwise_or(here, np.isnan(windows[..., i, j]), out=here)
        if number:
            np.greater(here, taken, out=here)  # here &= ~taken: not found at an earlier offset
        if number == 0:
            np.copyto(taken, here)
        elif number < len(offsets) - 1:
            np.bitwise_or(taken, here, out=taken)
        if product is None:  # windows apart (MaxPool2dOp.backward's `apart`): written
            np.multiply(grad, here, out=dx_windows[..., i, j])
        else:  # overlapping windows: their shares add up
            np.multiply(grad, here, out=product)
            np.add(dx_windows[..., i, j], product, out=dx_windows[..., i, j])
    return dx


# ----------------------------------------------------------------------------------------
# Optimizers: Optimizer.step itself, with the known updates writing lr·g into scratch arrays
# ----------------------------------------------------------------------------------------
Scratch = dict[int, np.ndarray]  # id(parameter) → a scratch array of its shape and dtype
UPDATES: dict[Callable[..., Any], Callable[..., bool]] = {}  # an update method → its kernel


def optimizer_step(optimizer: Optimizer, update: Callable[..., bool], scratch: Scratch) -> None:
    # mirrors Optimizer.step() without a closure: every gradient checked first, each group
    # updated (by `update`, or by the optimizer's own method where it declines), one stamp
    checked = [optimizer._with_gradients(group) for group in optimizer.param_groups]
    changed: list[Any] = []
    for group, (params, grads) in zip(optimizer.param_groups, checked, strict=False):
        if params:
            if not update(group, params, grads, scratch):
                optimizer.update(group, params, grads)
            changed += params
    bump_together([p._versions or p._version_counter() for p in changed])
    optimizer._opt_called = True


def _updates(method: Callable[..., Any]) -> Callable[[Callable[..., bool]], Callable[..., bool]]:
    def register(update: Callable[..., bool]) -> Callable[..., bool]:
        UPDATES[method] = update
        return update

    return register


@_updates(SGD.update)
def sgd_update(group: dict[str, Any], params: list[Any], grads: list[np.ndarray],
               scratch: Scratch) -> bool:
    # SGD.update's plain step, p.data -= lr * g, with lr * g written into a scratch array
    # (lr as a 0-d array of g's dtype: the number numpy rounds lr to in lr * g); momentum,
    # weight decay and maximize: declined (SGD.update runs)
    if group["momentum"] or group["weight_decay"] or group["maximize"]:
        return False
    lr, factor = group["lr"], None
    plain = type(lr) in (float, int)  # (a numpy scalar lr is not rounded to g's dtype)
    for p, g in zip(params, grads, strict=False):
        step = scratch.get(id(p))
        if not plain or step is None or step.shape != g.shape or step.dtype is not g.dtype:
            p.data -= lr * g  # (a parameter the record did not see: as SGD.update)
            continue
        if factor is None or factor.dtype is not g.dtype:
            factor = np.array(lr, g.dtype)
        np.multiply(factor, g, step)
        data = p.data
        np.subtract(data, step, data)
    return True


Groups = list[tuple[dict[str, Any], tuple[Any, ...]]]  # (a param group, its parameters)


def sgd_plain(optimizer: Optimizer, groups: Groups) -> bool:
    """Whether Optimizer.step with SGD.update takes the plain step w ← w − lr·g for the
    parameters the record saw: the same groups with the same parameters, no momentum,
    weight decay or maximize, lr a Python number. (Gradients not looked at.)"""
    # (every replay runs this: zip without strict=, whose keyword costs ~1 µs here over
    # two zips, measured; the lengths are compared first. The parameters are compared by
    # map(is_, ...) in C: 0.3 µs less than a Python loop over the seed network's six)
    current = optimizer.param_groups
    if len(current) != len(groups):
        return False
    for group, (recorded, params) in zip(current, groups):  # noqa: B905
        if group is not recorded or group["momentum"] or group["weight_decay"] or (
                group["maximize"]) or type(group["lr"]) not in (float, int):
            return False
        now = group["params"]
        if len(now) != len(params) or not all(map(operator.is_, now, params)):
            return False
    return True


def sgd_gradients(optimizer: Optimizer, groups: Groups) -> list[np.ndarray] | None:
    """The gradients' arrays, parameter by parameter, when the step is plain (sgd_plain)
    and every parameter has a gradient of its shape and dtype. None otherwise: then
    optimizer_step runs (and raises where Optimizer.step raises)."""
    if not sgd_plain(optimizer, groups):
        return None
    grads = []
    for _, params in groups:
        for p in params:
            grad = p._grad
            if grad is None:
                return None
            g = grad.data
            if type(g) is not np.ndarray or g.shape != p.data.shape or g.dtype is not (
                    p.data.dtype):
                return None
            grads.append(g)
    return grads


# The names the generated code calls (bound once, as the function's free variables)
NUMPY = {
    "add": np.add, "subtract": np.subtract, "multiply": np.multiply, "divide": np.divide,
    "negative": np.negative, "exp": np.exp, "log": np.log, "tanh": np.tanh,
    "minimum": np.minimum, "maximum": np.maximum, "not_equal": np.not_equal,
    "dot": np.dot, "matmul": np.matmul, "vdot": np.vdot, "asarray": np.asarray,
    "copyto": np.copyto, "count_nonzero": np.count_nonzero, "isnan": math.isnan,
    "broadcast_to": np.broadcast_to, "add_reduce": np.add.reduce,
    "maximum_reduce": np.maximum.reduce, "accumulate": _accumulate_grad,
    "optimizer_step": optimizer_step, "sgd_plain": sgd_plain, "sgd_gradients": sgd_gradients,
    "bump_together": bump_together, "wrap": Tensor._wrap, "windows": image._windows,
    "conv_input_gradient_into": conv_input_gradient_into, "max_pool2d_into": max_pool2d_into,
    "max_pool2d_backward_into": max_pool2d_backward_into,
}


# ----------------------------------------------------------------------------------------
# The compiler: plan each step, find where each array is last used, assign buffers, write
# ----------------------------------------------------------------------------------------
class Plan:
    """One step as it will run: its lines of code, and what they read and write."""

    __slots__ = ("aliases", "buffered", "direct", "lines", "reads", "scratch", "sgd", "step",
                 "temps", "views", "writes")

    def __init__(self, step: Step, lines: list[str], reads: list[int], writes: list[int],
                 aliases: dict[int, list[int]], buffered: Iterable[int] = (),
                 temps: Iterable[int] = (),
                 views: Iterable[tuple[int, tuple[int, ...]]] = ()) -> None:
        self.step, self.lines, self.reads, self.writes = step, lines, reads, writes
        self.aliases, self.buffered = aliases, set(buffered)
        self.temps, self.views = list(temps), list(views)
        self.scratch: list[tuple[Any, int]] = []  # (parameter, slot of its scratch array)
        self.direct: set[int] = set()  # written as a whole new array (np.dot(..., out=...))
        self.sgd: tuple[str, str] | None = None  # plain SGD's step: (optimizer, groups) names


class ShapeChangedError(RuntimeError):
    """A value whose shape depends on the values (not only on the inputs' shapes) came out
    in another shape than when recording: the record's arrays do not fit it."""


class Stale(Exception):  # noqa: N818 - a signal to record again, not an error
    """A parameter's array was replaced by one of another shape or dtype: record again."""


def _shape_changed(what: str, recorded: tuple[int, ...], got: tuple[int, ...]) -> None:
    raise ShapeChangedError(f"jit: {what} gave shape {got} at this call and {recorded} "
                            "when recording; a value whose shape depends on the values "
                            "cannot be replayed with the record's arrays. Call the step "
                            "without tg.jit")


def _external_changed(array: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """A parameter's array is another object than last time: the same shape and dtype are
    fine (it is read at every call); another shape or dtype needs a new record."""
    if not isinstance(array, np.ndarray) or array.shape != shape or array.dtype != dtype:
        raise Stale
    return array


class Compiled:
    """What compiling a record gives: the function, its source, its buffers' size."""

    def __init__(self, function: Callable[..., Any], source: str, nbytes: int) -> None:
        self.function, self.source, self.nbytes = function, source, nbytes


def compile_program(record: Any) -> Compiled:
    """Compile a jit.Record (its steps, slots and what it saw while recording)."""
    return Compiler(record).compiled


class Compiler:
    """Plans each step (a kernel, or a call of the op's method), assigns buffers by
    liveness, and writes the function's source."""

    def __init__(self, record: Any) -> None:
        self.record = record
        self.info: dict[int, tuple[tuple[int, ...], np.dtype]] = dict(record.info)
        self.next_slot = record.slot_count
        self.bound: dict[str, Any] = {}  # name → object, the function's free variables
        self.bound_ids: dict[Any, str] = {}
        self.forward_params: dict[int, dict[str, Any]] = {}
        self.private_bytes = 0  # arrays a kernel keeps for itself (Kernel.private)
        self.unstable = self._unstable_slots()
        self.plans = self._plan()
        self.fresh = self._escaping_roots()
        self.writers = self._writers()
        self.owners = self._gradient_owners()
        self.relied: set[int] = set()  # id(step) of the additions into .grad plain SGD reads
        self.known = self._known_gradients()
        self.storage: dict[int, np.ndarray] = {}  # slot → the array it is written into
        self.buffer_numbers: dict[int, int] = {}  # id(buffer) → its number, in order made
        self.views: dict[int, dict[tuple[int, ...], str]] = {}  # id(buffer) → shape → name
        self.nbytes = self._assign_buffers() + self.private_bytes
        source = self._source()
        self.compiled = Compiled(self._build(source), source, self.nbytes)

    # -- names ---------------------------------------------------------------------------
    def new_slot(self, shape: tuple[int, ...], dtype: Any) -> int:
        slot = self.next_slot
        self.next_slot += 1
        self.info[slot] = (tuple(shape), np.dtype(dtype))
        return slot

    def bind(self, value: Any, prefix: str = "k") -> str:
        """A free variable of the generated function holding `value` (shared when equal
        0-d arrays or the same object are bound twice)."""
        if isinstance(value, np.ndarray) and value.ndim == 0:
            key: Any = ("0-d", value.dtype.str, value.tobytes())
        elif _plain(value):  # (repr tells 1, 1.0 and True apart; == and hash do not)
            key = (type(value).__name__, repr(value))
        else:
            key = id(value)
        name = self.bound_ids.get(key)
        if name is None:
            name = self.bound_ids[key] = f"{prefix}{len(self.bound)}"
            self.bound[name] = value
        return name

    # -- 1. which values may change shape from call to call ------------------------------
    def _unstable_slots(self) -> set[int]:
        """Slots whose shape is not fixed by the signature: boolean-mask indexing, a
        one_hot with num_classes=-1... Kernels never write those (their buffers have the
        recorded shapes); the ops' methods compute them as eager does."""
        unstable: set[int] = set()
        info = self.info
        for step in self.record.steps:
            if step.kind == FORWARD:
                masks = [a for a in arguments_in(step.params.get("index"))
                         if info[a][1] == np.bool_]  # x[mask]: as many values as are True
                if masks or any(r in unstable for r in (*step.reads, *step.arguments)):
                    unstable.add(step.writes[0])
            elif step.kind == DERIVED:
                out = step.writes[0]
                if any(r in unstable for r in step.reads) or not self._shape_follows(step):
                    unstable.add(out)
            elif step.kind == BACKWARD:
                for i, slot in enumerate(step.writes):
                    if slot is not None and step.reads[2 + i] in unstable:
                        unstable.add(slot)
            elif step.kind == ADD and step.reads[0] in unstable:
                unstable.add(step.writes[0])
        return unstable

    def _shape_follows(self, step: Step) -> bool:
        """Whether a value computed outside the graph (a mask, an index, a cast) has a shape
        that follows its sources' shapes: computed again from zeros and from ones of the
        sources' shapes, it comes out in the recorded shape. (one_hot without num_classes
        does not. A replay still checks the shape of those that do, every call.)"""
        recorded = self.info[step.writes[0]][0]
        for fill in (0, 1):
            sources = [np.full(self.info[r][0], fill, self.info[r][1]) for r in step.reads]
            try:
                with np.errstate(all="ignore"):
                    if np.shape(step.call(*sources)) != recorded:
                        return False
            except Exception:  # (a check refusing these values: the shape is not known)
                return False
        return True

    # -- 2. a kernel or the op's method for each step ----------------------------------
    def _plan(self) -> list[Plan]:
        steps = self.record.steps
        for step in steps:
            if step.kind == FORWARD:
                self.forward_params[id(step.op)] = step.params
        kernels: dict[int, Plan] = {}
        saved: dict[int, dict[str, Var]] = {}  # per op: what its forward kernel kept
        declined: set[int] = set()  # ops that run by their own methods
        for i, step in enumerate(steps):
            if step.kind in (FORWARD, BACKWARD):
                op = id(step.op)
                plan = None if op in declined else self._kernel(step, saved.setdefault(op, {}))
                if plan is None:
                    declined.add(op)  # (its forward too, if it was planned as a kernel)
                else:
                    kernels[i] = plan
        return [kernels[i] if i in kernels and id(step.op) not in declined
                else self._call_plan(step) for i, step in enumerate(steps)]

    def _kernel(self, step: Step, saved: dict[str, Var]) -> Plan | None:
        """The step as its op's kernel writes it, or None (no kernel, a declined case,
        a shape that may change, arrays of this call among the parameters)."""
        method = getattr(type(step.op), step.kind)
        kernel = KERNELS.get(method)
        if kernel is None or any(r in self.unstable for r in step.reads) or any(
                w in self.unstable for w in step.writes if w is not None):
            return None
        if step.kind == FORWARD and (step.arguments or any(
                isinstance(v, Argument) for v in step.params.values())):
            return None
        k = Kernel(self, step, saved)
        try:
            kernel(k, *[k.var(r) for r in step.reads])
        except Decline:
            return None
        reads = [r for r in step.reads if r in k.used] + k.reads_saved + k.temps
        writes = [w for w in step.writes if w is not None] + k.new_saved + k.temps
        comment = f"# {step.kind}: {step.op.name}  ({type(step.op).__name__}.{step.kind})"
        plan = Plan(step, [comment, *k.lines], reads, writes, k.aliases, k.buffered,
                    k.temps, k.views)
        plan.direct = k.direct - {slot for slot, _ in k.views}
        return plan

    def _call_plan(self, step: Step) -> Plan:
        """A step as a Python call: an op's method, or a callable of the recorder."""
        v = [f"{{v{r}}}" for r in step.reads]
        kind = step.kind
        reads, writes = list(step.reads), [w for w in step.writes if w is not None]
        lines: list[str]
        if kind == FORWARD:
            op = step.op
            name = self.bind(op.forward, "f")
            params = "".join(f", {k}={self._param(p)}" for k, p in step.params.items())
            out = step.writes[0]
            lines = [f"# forward: {op.name}  (calls {type(op).__name__}.forward)",
                     f"{{v{out}}} = {name}({', '.join(v)}{params})"]
            reads += step.arguments
            if step.arguments and out not in self.unstable:  # (arrays of this call as
                lines.append(self._shape_check(out, op.name))  # parameters: checked)
        elif kind == BACKWARD:
            op = step.op
            name = self.bind(op.backward, "g")
            results = [f"{{v{w}}}" if w is not None else "_" for w in step.writes]
            call = f"{name}({', '.join(v)})"
            lines = [f"# backward: {op.name}  (calls {type(op).__name__}.backward)"]
            if len(results) == 1:  # one input: the gradient comes back unwrapped
                lines += [f"{results[0]} = {call}",
                          f"if type({results[0]}) in (tuple, list): ({results[0]},) = "
                          f"{results[0]}"]
            else:
                lines.append(f"{', '.join(results)}, = {call}")
            reads += self._forward_arguments(op)
        elif kind == ADD:
            out = step.writes[0]
            lines = [f"{{v{out}}} = add({v[0]}, {v[1]}, {{o{out}}})  # gradient shares"]
            return Plan(step, lines, reads, writes, {}, {out} - self.unstable)
        elif kind == ACCUMULATE:  # (written by _accumulate_lines, once roots are known)
            lines = []
        elif kind == STORED:
            lines = [f"{{v{step.writes[0]}}} = set()  # arrays already in some .grad"]
        elif kind == CALL:
            plan = self._optimizer_plan(step)
            if plan is not None:
                return plan
            lines = [f"{self.bind(step.call, 'c')}()  # {_describe_call(step.call)}"]
        elif kind == COMPUTED:
            lines = [f"{{v{step.writes[0]}}} = {self.bind(step.call, 'c')}()"]
        elif kind == DERIVED:
            out = step.writes[0]
            lines = [f"{{v{out}}} = {self.bind(step.call, 'c')}({', '.join(v)})  # derived"]
            if out not in self.unstable:  # (its shape follows its inputs': checked)
                lines.append(self._shape_check(out, _describe_call(step.call)))
        elif kind == CHECK:
            lines = [f"{self.bind(step.call, 'c')}({', '.join(v)})  # a check eager makes"]
        else:  # pragma: no cover - the recorder writes only the kinds above
            raise AssertionError(kind)
        return Plan(step, lines, reads, writes, dict(step.aliases))

    def _optimizer_plan(self, step: Step) -> Plan | None:
        """optimizer.step() of an optimizer whose update has a kernel: Optimizer.step with
        scratch arrays for the update (buffers free at that point of the step)."""
        owner = getattr(step.call, "__self__", None)
        if not isinstance(owner, Optimizer) or getattr(step.call, "__func__", None) is not (
                Optimizer.step) or type(owner).step is not Optimizer.step:
            return None
        update = UPDATES.get(type(owner).update)
        if update is None:
            return None
        plan = Plan(step, [], [], [], {})
        for group in owner.param_groups:
            for p in group["params"]:
                slot = self.new_slot(p.data.shape, p.data.dtype)
                plan.scratch.append((p, slot))
                plan.writes.append(slot)
                plan.reads.append(slot)
                plan.buffered.add(slot)
        general = (f"optimizer_step({self.bind(owner, 'c')}, {self.bind(update, 'u')}, "
                   f"{{scratch}})")
        if update is not sgd_update:
            plan.lines = [f"{general}  # {type(owner).__name__}.step, the update into buffers "
                          f"({update.__name__})"]
            return plan
        # SGD: Optimizer.step with SGD.update's plain step written out, parameter by parameter
        name = self.bind(owner, "c")
        groups = [(group, tuple(group["params"])) for group in owner.param_groups]
        plan.sgd = (name, self.bind(groups))
        lines = [f"# optimizer: {type(owner).__name__}.step  (Optimizer.step; SGD.update's plain "
                 "step w ← w − lr·g)",
                 f"grads = sgd_gradients({name}, {plan.sgd[1]})",
                 f"if grads is None: {general}  # (not the plain step: SGD.update itself)",
                 "else:"]
        position, counters = 0, []  # (a parameter's counter, once made, is its for good)
        slots = iter(slot for _, slot in plan.scratch)
        for g, (group, params) in enumerate(groups):
            factors: dict[Any, str] = {}
            for p in params:
                dtype = p.data.dtype
                if dtype not in factors:  # lr as numpy rounds it in lr * g: g's dtype
                    factors[dtype] = f"lr{g}_{len(factors)}"
                    lines.append(f"    {factors[dtype]} = asarray({self.bind(group)}['lr'], "
                                 f"{self.bind(dtype)})")
                tensor, buffer = self.bind(p, "t"), f"{{o{next(slots)}}}"
                lines.append(f"    multiply({factors[dtype]}, grads[{position}], {buffer}); "
                             f"subtract({tensor}.data, {buffer}, {tensor}.data)  "
                             f"# {_tensor_name(p)}")
                counters.append(p._version_counter())
                position += 1
        lines += [f"    bump_together({self.bind(counters, 'n')})  # one version stamp for every "
                  "parameter changed (their counters)",
                  f"    {name}._opt_called = True"]
        plan.lines = lines
        return plan

    def _shape_check(self, slot: int, what: str) -> str:
        """A line raising ShapeChangedError if the value's shape is not the recorded one."""
        shape = self.bind(self.info[slot][0])
        return (f"if {{v{slot}}}.shape != {shape}: shape_changed({self.bind(what)}, {shape}, "
                f"{{v{slot}}}.shape)")

    def _forward_arguments(self, op: Function) -> list[int]:
        """The arrays a forward read through its parameters: its backward may read them
        again (what forward kept on self), so they live until then."""
        return [slot for p in self.forward_params.get(id(op), {}).values()
                for slot in arguments_in(p)]

    def _param(self, value: Any) -> str:
        if isinstance(value, Argument):
            return f"{{v{value.slot}}}"
        if isinstance(value, tuple) and arguments_in(value):
            inner = ", ".join(self._param(v) for v in value)
            return f"({inner},)"
        return self.bind(value, "p")

    # -- 3. which values leave the step: they get fresh arrays -----------------------------
    def _roots(self) -> dict[int, set[int]]:
        """Each slot's storage: the slots whose memory it may use (itself, for a value
        written into an array of its own)."""
        roots: dict[int, set[int]] = {}
        for plan in self.plans:
            for w in plan.writes:
                shared = plan.aliases.get(w)
                roots[w] = (set().union(*[roots.get(r, {r}) for r in shared]) if shared
                            else {w})
        self.roots = roots
        return roots

    def _writers(self) -> dict[int, Plan]:
        return {w: plan for plan in self.plans for w in plan.writes}

    def _escaping_roots(self) -> set[int]:
        """Storage that must be new at every call: what goes into .grad, what the step
        returns. (A kernel writes those with out=None, allocating as eager does.)"""
        roots = self._roots()
        record = self.record
        escaping = [p.step.reads[1] for p in self.plans if p.step.kind == ACCUMULATE]
        outputs = record.outputs
        escaping += [] if outputs is None else [outputs] if isinstance(outputs, int) else outputs
        fresh = set(self.unstable)
        for slot in escaping:
            fresh |= roots.get(slot, {slot})
        return fresh

    def _known_gradients(self) -> dict[int, list[int]]:
        """For each plain SGD step (plan.sgd), the slots of its parameters' gradients when
        the record itself puts each into .grad as an array of its own (_direct_into_grad)
        with no Python call after that (one could clear or replace .grad): then a replay
        hands those arrays to the update instead of looking each .grad up again (µs a
        step), as long as each went into an empty .grad (the flag `fresh_grads`)."""
        known: dict[int, list[int]] = {}
        last: dict[int, Step] = {}  # id(tensor) → the latest addition into its .grad
        for plan in self.plans:
            step = plan.step
            if step.kind == ACCUMULATE:
                last[id(self._leaf(step))] = step
            elif step.kind in (CALL, COMPUTED, DERIVED, CHECK):
                if plan.sgd is not None:
                    adds = [last.get(id(p)) for p, _ in plan.scratch]
                    if all(add is not None and self._direct_into_grad(add)
                           and self.info[add.reads[1]][0] == p.data.shape
                           for add, (p, _) in zip(adds, plan.scratch, strict=True)):
                        known[id(plan)] = [add.reads[1] for add in adds if add is not None]
                        self.relied |= {id(add) for add in adds}
                        plan.reads += known[id(plan)]
                last.clear()  # (a Python call: what .grad holds after it is not known)
        return known

    def _leaf(self, step: Step) -> Any:
        """The Tensor an addition into .grad (an ACCUMULATE step) adds into, or None (an
        argument of the step)."""
        slot = step.reads[0]
        return self.record.constants.get(slot) if self.record.kinds.get(slot) == "object" \
            else None

    def _direct_into_grad(self, step: Step) -> bool:
        """Whether an addition into .grad can hand over its gradient as .grad's array: a
        kernel wrote it as a new array of the tensor's dtype, and no other .grad receives
        it or a view of it."""
        grad = step.reads[1]
        producer, leaf = self.writers.get(grad), self._leaf(step)
        return (producer is not None and grad in producer.direct
                and self.roots.get(grad, {grad}) == {grad} and self.owners.get(grad) == 1
                and leaf is not None and self.info[grad][1] == leaf.data.dtype)

    # -- 4. liveness and buffers ---------------------------------------------------------
    def _assign_buffers(self) -> int:
        """Give each value a kernel writes through `out` an array, reusing the array of a
        value whose last reader has run. Returns the bytes allocated."""
        roots = self.roots
        buffered = {w for plan in self.plans for w in plan.buffered if w not in self.fresh}
        last = last_uses(self.plans, roots)
        pool = Pool()
        for i, plan in enumerate(self.plans):
            for slot in plan.writes:
                if slot in buffered:
                    shape, dtype = self.info[slot]
                    memory = self.storage[slot] = pool.take(shape, dtype)
                    self.buffer_numbers.setdefault(id(memory), len(self.buffer_numbers))
            for slot in plan.writes:  # values never read again: their memory is free now
                if slot in buffered and last.get(slot, i) <= i:
                    pool.give(self.storage[slot])
            for slot in {r for read in plan.reads for r in roots.get(read, {read})}:
                if slot in buffered and last.get(slot) == i and slot not in plan.writes:
                    pool.give(self.storage[slot])
        check_buffers(self.plans, roots, self.storage)
        return pool.nbytes

    # -- 5. the source -------------------------------------------------------------------
    def _source(self) -> str:
        record = self.record
        body: list[str] = []
        parameters = [f"a{i}" for i in range(record.arg_count)]  # (numbers: in the key)
        for array_slot, tensor_slot, i in record.arguments:
            body.append(f"v{array_slot} = a{i}.data")
            if any(tensor_slot in p.step.reads for p in self.plans):
                body.append(f"v{tensor_slot} = a{i}")
        guards: list[str] = []
        for slot, tensor in record.externals:
            shape, dtype = self.info[slot]
            seen = self.bind(tensor.data, "s")
            guards += [] if seen in guards else [seen]
            body.append(f"v{slot} = {self.bind(tensor, 't')}.data  # {_tensor_name(tensor)}")
            body.append(f"if v{slot} is not {seen}: {seen} = external_changed(v{slot}, "
                        f"{self.bind(shape)}, {self.bind(dtype)})")
        if self.relied:
            body.append("fresh_grads = True  # (each .grad the step fills holds the array "
                        "computed here)")
        for plan in self.plans:
            lines = [self._render(line, plan) for line in plan.lines]
            if plan.step.kind == ACCUMULATE:
                lines = self._accumulate_lines(plan.step)
            if id(plan) in self.known:
                lines = self._known_gradients_lines(plan, lines)
            if plan.scratch:
                scratch = {id(p): _shaped(self.storage[slot], self.info[slot][0])
                           for p, slot in plan.scratch if slot in self.storage}
                lines = [line.replace("{scratch}", self.bind(scratch, "m")) for line in lines]
            body += lines
        outputs = record.outputs
        if outputs is None:
            body.append("return None")
        elif isinstance(outputs, int):
            body.append(f"return {self._returned(outputs)}")
        else:
            body.append(f"return ({''.join(self._returned(s) + ', ' for s in outputs)})")
        # The names the body reads are the function's globals: a namespace of its own per
        # record (numpy's functions, and what self.bound holds). As a closure over ~90
        # parameters of an outer function (the first design), compiling took 0.4 ms more
        # (measured: 0.96 against 0.53 ms for the seed network); a replay runs as fast.
        lines = ["# Its globals, bound once for this record: numpy's functions, constants (k), "
                 "the tensors",
                 "# read (t), buffers (b), calls (c), ops' own methods (f: forward, g: "
                 "backward),",
                 "# parameters' version counters (n). One call of replay: one step.",
                 f"def replay({', '.join(parameters)}):"]
        if guards:
            lines.append(f"    global {', '.join(guards)}")
        lines += [f"    {line}" for line in body]
        return "\n".join(lines) + "\n"

    def _gradient_owners(self) -> dict[int, int]:
        """For each storage, how many additions into .grad receive it (or a view of it)."""
        owners: dict[int, int] = {}
        for plan in self.plans:
            if plan.step.kind == ACCUMULATE:
                for root in self.roots.get(plan.step.reads[1], {plan.step.reads[1]}):
                    owners[root] = owners.get(root, 0) + 1
        return owners

    def _accumulate_lines(self, step: Step) -> list[str]:
        """engine._accumulate_grad(tensor, grad, stored, False): the gradient into .grad.
        A gradient that a kernel wrote as a new array of the tensor's dtype, and that no
        other .grad receives, becomes .grad itself when there is none yet (what
        _accumulate_grad does then); otherwise the engine's function runs."""
        tensor, grad, stored = step.reads
        call = self._render(f"accumulate({{v{tensor}}}, {{e{grad}}}, {{v{stored}}}, False)")
        if not self._direct_into_grad(step):
            return [call]
        name = self._render(f"{{v{tensor}}}")
        return [f"if {name}._grad is None: {name}._grad = wrap(v{grad})  # into .grad",
                f"else: {call}{'; fresh_grads = False' if id(step) in self.relied else ''}"]

    def _known_gradients_lines(self, plan: Plan, lines: list[str]) -> list[str]:
        """Plain SGD's lines with the gradients this call put into .grad handed over as
        they are, when the optimizer is as recorded and each went into an empty .grad."""
        optimizer, groups = plan.sgd or ("", "")
        lookup = f"grads = sgd_gradients({optimizer}, {groups})"
        slots = self.known[id(plan)]
        arrays = ", ".join(f"v{slot}" for slot in slots) + ("," if len(slots) == 1 else "")
        return [line for old in lines for line in (
            [f"if fresh_grads and sgd_plain({optimizer}, {groups}): grads = ({arrays})",
             f"else: {lookup}  # (each .grad looked up and checked)"]
            if old == lookup else [old])]

    def _returned(self, slot: int) -> str:
        """A returned value as a new Tensor (a constant of the record copied first: eager
        makes a new one at every call)."""
        return f"wrap({self._render(f'{{e{slot}}}')})"

    def _render(self, line: str, plan: Plan | None = None) -> str:
        """A line with each placeholder replaced: {v12} the value of slot 12 (a local, or
        a constant's name), {o12} the array it is written into (or None), {e12} a value
        going into .grad or returned (a record's constant copied)."""
        kinds, constants = self.record.kinds, self.record.constants

        def name(match: re.Match[str]) -> str:
            kind, slot, view = match.group(1), int(match.group(2)), match.group(3)
            if kind in "ve":
                value = (self.bind(constants[slot]) if kinds.get(slot) in ("constant", "object")
                         else f"v{slot}")
                if kind == "e" and any(kinds.get(r) == "constant"
                                       for r in self.roots.get(slot, {slot})):
                    return f"{value}.copy()"  # (into .grad: a record's constant is copied)
                return value
            memory = self.storage.get(slot)
            if memory is None:
                return "None"
            shape = self.info[slot][0] if view is None or plan is None else plan.views[
                int(view)][1]
            return self._view(memory, shape)

        return _PLACEHOLDER.sub(name, line)

    def _view(self, memory: np.ndarray, shape: tuple[int, ...]) -> str:
        """The name of buffer `memory` seen in `shape`: b3 for the third buffer, b3_1,
        b3_2... for other shapes of it (the same memory, reused by a value of its size)."""
        views = self.views.setdefault(id(memory), {})
        if shape not in views:
            number = self.buffer_numbers[id(memory)]
            name = f"b{number}" if not views else f"b{number}_{len(views)}"
            views[shape] = name
            self.bound[name] = _shaped(memory, shape)
        return views[shape]

    def _build(self, source: str) -> Callable[..., Any]:
        namespace: dict[str, Any] = {**NUMPY, "shape_changed": _shape_changed,
                                     "external_changed": _external_changed, **self.bound}
        exec(_code_of(source, self.record.name), namespace)  # (tracebacks show its lines)
        return namespace.pop("replay")  # (the namespace keeps no reference back to it)


# Python's compile() of a record's source is a third of recording the seed network (1.1 of
# ~3.5 ms). The source names what it reads (buffers, constants, tensors), never their
# values, so the same step re-recorded — the last, smaller batch of an epoch, a model
# change, another model of the same shape — gives the same source, compiled once here. The
# function each record makes from it reads its own namespace.
_CODE_CACHE_SIZE = 64
_code_cache: OrderedDict[str, Any] = OrderedDict()  # source → code, the latest used last
_code_lock = threading.Lock()


def _code_of(source: str, name: str) -> Any:
    """The compiled code of a record's source, from the cache or compiled now (its lines
    registered for tracebacks for as long as it is cached)."""
    with _code_lock:
        code = _code_cache.get(source)
        if code is not None:
            _code_cache.move_to_end(source)
            return code
        filename = f"<tg.jit {name} {next(_numbers)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        code = _code_cache[source] = compile(source, filename, "exec")
        if len(_code_cache) > _CODE_CACHE_SIZE:
            _, oldest = _code_cache.popitem(last=False)
            linecache.cache.pop(oldest.co_filename, None)
        return code


_PLACEHOLDER = re.compile(r"\{([voe])(\d+)(?:@(\d+))?\}")
_numbers = itertools.count(1)


def last_uses(plans: list[Plan], roots: dict[int, set[int]]) -> dict[int, int]:
    """For each storage (a root slot), the index of the last step that reads it or any
    view of it."""
    last: dict[int, int] = {}
    for i, plan in enumerate(plans):
        for read in plan.reads:
            for root in roots.get(read, {read}):
                last[root] = i
    return last


def check_buffers(plans: list[Plan], roots: dict[int, set[int]],
                  storage: dict[int, np.ndarray]) -> None:
    """Raise if two values share a buffer while both are live: each value's life, from the
    step that writes it to the last step that reads it or a view of it, walked again here
    apart from the allocator (a safety net, as the recorder's check of additions)."""
    born: dict[int, int] = {}
    last: dict[int, int] = {}
    for i, plan in enumerate(plans):
        for slot in plan.writes:
            born.setdefault(slot, i)
        for read in plan.reads:
            for root in roots.get(read, {read}):
                last[root] = i
    lives: dict[int, list[tuple[int, int, int]]] = {}
    for slot, memory in storage.items():
        start = born[slot]
        lives.setdefault(id(memory), []).append((start, max(last.get(slot, start), start), slot))
    for spans in lives.values():
        spans.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start <= end:
                raise RuntimeError(f"jit: values {first} and {second} share a buffer while "
                                   "both are live (a bug in the jit's allocator)")


def _plain(value: Any) -> bool:
    """A number, string, None, dtype, or a tuple of them: equal values can share a name."""
    if isinstance(value, tuple):
        return all(_plain(v) for v in value)
    return isinstance(value, (int, float, str, bool, type(None), np.dtype))


def _shaped(memory: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The first elements of a flat buffer, seen in `shape` (contiguous, as out= needs)."""
    return memory[:math.prod(shape)].reshape(shape)


class Pool:
    """The buffers not holding a live value, the last freed first: memory just written
    is still in the cache. A value takes the most recently freed buffer of its dtype that
    is large enough (and not more than 4 times too large), or a new one."""

    def __init__(self) -> None:
        self.free: list[np.ndarray] = []  # flat arrays, the most recently freed last
        self.nbytes = 0

    def take(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """A flat buffer of `dtype` with room for `shape`."""
        size = max(math.prod(shape), 1)  # (math.prod: np.prod costs 7 µs a call)
        for i in range(len(self.free) - 1, -1, -1):
            memory = self.free[i]
            if memory.dtype == dtype and size <= memory.size <= 4 * size:
                return self.free.pop(i)
        memory = np.empty(size, dtype)
        self.nbytes += memory.nbytes
        return memory

    def give(self, memory: np.ndarray) -> None:
        """A buffer whose value is no longer read."""
        self.free.append(memory)


def _describe_call(call: Callable[..., Any]) -> str:
    """`SGD.step`, `Optimizer.zero_grad` (a lambda made inside it), `Tensor.gt`..."""
    owner = getattr(call, "__self__", None)
    if owner is not None:
        return f"{type(owner).__name__}.{getattr(call, '__name__', '')}"
    name = getattr(call, "__qualname__", None) or type(call).__name__
    return name.replace(".<locals>", "").removesuffix(".<lambda>")


def _tensor_name(tensor: Any) -> str:
    name = getattr(tensor, "name", None)
    return name if name else f"a tensor of shape {tuple(tensor.data.shape)}"
