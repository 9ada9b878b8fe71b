"""Seeing backprop: the graph as a picture, the backward pass as a table, and alarms.

- `to_dot(t)` / `draw(t, path)`: the graph that produced `t`, as Graphviz DOT text or a
  rendered SVG/PNG. Draw before `backward()` frees the graph (or pass retain_graph=True):
  a freed graph gives an error that says so.
- `trace()`: records each step of a backward pass in order.
- `detect_anomaly()`: stops at the first op whose forward or backward makes NaN or inf,
  naming the op and the line of your code that created it.
- `explain_chain_rule(model, x, y)`: the lessons' ∂C/∂w(L) = a(L−1)·σ'(z(L))·∂C/∂a(L),
  layer by layer, next to what backward computed.

Reads graphs and changes nothing in them.
"""

from __future__ import annotations

import contextlib
import html
import linecache
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import numpy as np

from tinygrad_edu import functional
from tinygrad_edu.tensor import Function, Tensor, _freed_graph_error, observing
from tinygrad_edu.utils import atomic_write_bytes

__all__ = ["AnomalyError", "Graph", "LayerCheck", "Trace", "TraceStep", "detect_anomaly",
           "draw", "explain_chain_rule", "format_chain_rule", "graph", "graph_of", "render",
           "to_dot", "topological_order", "trace"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------------------
# Where an op was created
# ----------------------------------------------------------------------------------------
def user_site() -> str:
    """ "file:line: code" of the nearest caller outside this package (the user's line)."""
    frame: FrameType | None = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "?"
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}: {code}"


def _remember_site(fn: Function, out: Tensor) -> None:
    fn.site = user_site()


def _site_of(fn: Function) -> str:
    return getattr(fn, "site", "(created outside the trace/anomaly block)")


# ----------------------------------------------------------------------------------------
# The graph as DOT text
# ----------------------------------------------------------------------------------------
# (Pictures need the whole graph in order before drawing it; backward does not: it finds
# its order as it walks, see tensor.py.)
def topological_order(root: Tensor, grad_only: bool = True) -> list[Tensor]:
    """Every tensor that leads to `root` and requires grad (every one at all when
    `grad_only` is False, as pictures want), inputs before outputs.

    First collect them, walking from `root` through each op's inputs (the list grows as
    it is walked, so there is no recursion: a chain of 100,000 ops is fine, where
    micrograd's recursive version breaks near 1,000). Then sort by creation number: an
    op's output is always created after its inputs, so that order is topological.
    """
    found = [root]
    seen = {id(root)}
    for tensor in found:
        fn = tensor._ctx
        if fn is None:
            continue
        if fn.released:
            raise _freed_graph_error(fn)
        for parent in fn.inputs:
            if (parent.requires_grad or not grad_only) and id(parent) not in seen:
                seen.add(id(parent))
                found.append(parent)
    found.sort(key=_creation_number)
    return found


def _creation_number(tensor: Tensor) -> int:
    return tensor._created


def graph_of(root: Tensor) -> tuple[list[Tensor], list[Function]]:
    """Every tensor and op that led to `root` (inputs without grad included), inputs first."""
    tensors = topological_order(root, grad_only=False)
    return tensors, [t._ctx for t in tensors if t._ctx is not None]


def _tensor_label(t: Tensor, show_values: bool) -> str:
    title = t.name or ("tensor" if t._ctx is None else "")
    lines = [title] if title else []
    lines.append(f"{tuple(t.shape)} {t.dtype}")
    if show_values and t.size <= 16:
        lines.append("value " + np.array2string(t.data, precision=3, separator=" "))
        if t.grad is not None:
            lines.append("grad " + np.array2string(t.grad.data, precision=3, separator=" "))
    return "\\n".join(line.replace('"', "'") for line in lines)


def to_dot(tensor: Tensor, show_values: bool = False) -> Graph:
    """Graphviz DOT text of the graph that produced `tensor`.

    Tensors are boxes (name if any, shape, dtype; with `show_values`, the values and
    gradients of tensors of up to 16 elements); ops are ellipses; edges run the way the
    data flowed, input → op → output. Leaves that require grad are shaded.
    """
    tensors, _ = graph_of(tensor)
    number = {id(t): i for i, t in enumerate(tensors)}
    lines = ["digraph tinygrad_edu {", "  rankdir=LR;", '  node [fontname="Helvetica"];']
    for t in tensors:
        fill = ', style=filled, fillcolor="#dbe9f6"' if t.is_leaf and t.requires_grad else ""
        lines.append(f'  t{number[id(t)]} [shape=box, label="{_tensor_label(t, show_values)}"'
                     f"{fill}];")
    for t in tensors:
        fn = t._ctx
        if fn is None:
            continue
        op_id = f"op{number[id(t)]}"
        lines.append(f'  {op_id} [shape=ellipse, label="{fn.name}"];')
        for parent in fn.inputs:
            lines.append(f"  t{number[id(parent)]} -> {op_id};")
        lines.append(f"  {op_id} -> t{number[id(t)]};")
    lines.append("}")
    return Graph("\n".join(lines) + "\n")


def graph(tensor: Tensor, show_values: bool = False) -> Graph:
    """The graph that produced `tensor`, as an object that Jupyter draws inline (SVG) and
    that is its DOT text everywhere else (the same as `to_dot`)."""
    return to_dot(tensor, show_values)


class Graph(str):
    """DOT text that draws itself: a notebook cell ending in it shows the picture.

    It *is* the text (print it, write it to a .dot file, search it), so code that used the
    DOT string keeps working; `.source` says so explicitly, `.save(path)` renders a file.
    """

    @property
    def source(self) -> str:
        """The DOT text as a plain string."""
        return str(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter's hook: the picture, or None (Jupyter then shows the text) when no
        renderer is installed."""
        svg = render(self, "svg")
        return None if svg is None else svg.decode()

    def save(self, path: str | os.PathLike) -> Path:
        """Render to `path` (.svg, .png, or .pdf with a system Graphviz), atomically."""
        path = Path(path)
        fmt = path.suffix.lstrip(".").lower()
        if fmt not in ("svg", "png", "pdf"):
            raise ValueError(f"draw: {path} should end in .svg, .png or .pdf")
        rendered = render(self, fmt)
        if rendered is None:
            raise RuntimeError(
                f"draw: no renderer for .{fmt} was found. pip install \"tinygrad-edu[viz]\" "
                "installs graphviz-pure (SVG and PNG, no system Graphviz needed); a system "
                "Graphviz also works (Debian/Ubuntu: apt-get install graphviz; macOS: brew "
                "install graphviz; conda: conda install graphviz), and is needed for PDF. Or "
                "save viz.to_dot(t) to a .dot file and render it at "
                "https://dreampuf.github.io/GraphvizOnline")
        atomic_write_bytes(path, rendered)
        return path


def draw(tensor: Tensor, path: str | os.PathLike, show_values: bool = False) -> Path:
    """Render the graph of `tensor` to `path` (.svg, .png or .pdf)."""
    return to_dot(tensor, show_values).save(path)


def render(dot_text: str, fmt: str) -> bytes | None:
    """DOT text rendered to `fmt` by the first renderer found, or None if there is none:
    graphviz-pure (the `viz` extra: a Graphviz port that pip installs, no system package),
    then a system Graphviz's `dot`, then the `graphviz` Python package."""
    pure = _find_program("graphviz-pure")
    if pure is not None and fmt in ("svg", "png"):  # (graphviz-pure writes no PDF yet)
        return _render_with_program(pure, dot_text, fmt)
    system = _find_program("dot")
    if system is not None:
        return _render_with_program(system, dot_text, fmt)
    return _render_with_package(dot_text, fmt)


def _find_program(name: str) -> str | None:
    """A program on PATH, or beside this Python (a virtual environment's bin/ is not on
    PATH unless it was activated, and that is where pip puts graphviz-pure)."""
    found = shutil.which(name)
    if found is None:
        found = shutil.which(name, path=sysconfig.get_path("scripts"))
    return found


def _render_with_package(dot_text: str, fmt: str) -> bytes | None:
    try:
        import graphviz
    except ImportError:
        return None
    try:
        return graphviz.Source(dot_text).pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        return None


def _render_with_program(program: str, dot_text: str, fmt: str) -> bytes:
    done = subprocess.run([program, f"-T{fmt}"], input=dot_text.encode(), capture_output=True,
                          check=False, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(f"draw: {os.path.basename(program)} failed: "
                           f"{done.stderr.decode(errors='replace')}")
    return done.stdout


# ----------------------------------------------------------------------------------------
# The backward trace
# ----------------------------------------------------------------------------------------
def _norm(value: Any) -> float:
    if value is None:
        return float("nan")
    array = value.data if isinstance(value, Tensor) else value
    return float(np.linalg.norm(np.asarray(array, dtype=np.float64)))


@dataclass
class TraceStep:
    """One op's part of a backward pass."""

    op: str
    site: str
    input_shapes: list[tuple[int, ...]]
    output_shape: tuple[int, ...]
    grad_norm: float  # ‖∂C/∂out‖, the gradient arriving at this op
    input_grad_norms: list[float]  # ‖∂C/∂input‖ it passes on (nan: input needs no grad)


@dataclass
class Trace:
    """The steps of a backward pass, in the order they ran. `print(trace)` shows a table;
    `trace.steps` (or `trace.as_dicts()`) has the numbers, for plots."""

    steps: list[TraceStep] = field(default_factory=list)

    def as_dicts(self) -> list[dict[str, Any]]:
        """The steps as dicts (op, site, shapes, norms): ready for pandas or a plot."""
        return [vars(step).copy() for step in self.steps]

    def __repr__(self) -> str:  # a cell or a prompt ending in a trace shows the table
        return str(self)

    def _repr_html_(self) -> str:
        """The table as HTML, for notebooks."""
        head = "".join(f"<th>{h}</th>" for h in ("#", "op", "inputs", "output", "‖∂C/∂out‖",
                                                 "‖∂C/∂inputs‖", "created at"))
        rows = []
        for i, s in enumerate(self.steps):
            passed = ", ".join("-" if np.isnan(n) else f"{n:.3g}" for n in s.input_grad_norms)
            cells = (i, s.op, ", ".join(map(str, s.input_shapes)), s.output_shape,
                     f"{s.grad_norm:.4g}", passed, s.site)
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                        + "</tr>")
        return f"<table><tr>{head}</tr>{''.join(rows)}</table>"

    def __str__(self) -> str:
        header = (f"{'#':>3}  {'op':<12} {'inputs':<24} {'output':<11} {'‖∂C/∂out‖':>10}  "
                  f"{'‖∂C/∂inputs‖':<22} created at")
        rows = [header, "-" * len(header)]
        for i, s in enumerate(self.steps):
            shapes = ", ".join(str(sh) for sh in s.input_shapes)
            passed = ", ".join("-" if np.isnan(n) else f"{n:.3g}" for n in s.input_grad_norms)
            rows.append(f"{i:>3}  {s.op:<12} {shapes:<24} {s.output_shape!s:<11} "
                        f"{s.grad_norm:>10.4g}  {passed:<22} {s.site}")
        return "\n".join(rows)


@contextlib.contextmanager
def trace() -> Iterator[Trace]:
    """Record every backward step inside the block.

    Ops created inside the block also remember the line of your code that made them; run
    the forward pass inside too to see those.

        with viz.trace() as t:
            loss = nn.mse_loss(model(x), y)
            loss.backward()
        print(t)
    """
    record = Trace()

    def on_backward(fn: Function, out: Tensor, grad: Any, input_grads: Any) -> None:
        record.steps.append(TraceStep(
            op=fn.name, site=_site_of(fn), input_shapes=[tuple(t.shape) for t in fn.inputs],
            output_shape=tuple(out.shape), grad_norm=_norm(grad),
            input_grad_norms=[_norm(g) for g in input_grads]))

    with observing(forward=_remember_site, backward=on_backward):
        yield record


# ----------------------------------------------------------------------------------------
# Anomaly detection
# ----------------------------------------------------------------------------------------
class AnomalyError(FloatingPointError):
    """An op produced NaN or inf inside `detect_anomaly()`."""


def _finite(value: Any) -> bool:
    array = value.data if isinstance(value, Tensor) else value
    return array is None or bool(np.all(np.isfinite(array)))


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise `AnomalyError` at the first op whose forward or backward makes NaN or inf,
    naming the op and the line of user code that created it (like
    `torch.autograd.detect_anomaly`). It checks every value, so it is slow: for debugging.

    A forward is blamed only for what it made: NaN from inputs without NaN (0/0, inf − inf),
    or inf from inputs that were all finite (log 0, an overflowing exp). An inf that came
    in passes: adding an attention mask of −inf is not an anomaly, and neither is softmax
    turning those −inf into zero weights.
    """

    def on_forward(fn: Function, out: Tensor) -> None:
        _remember_site(fn, out)
        if not _finite(out.data):
            made = _made_here(out.data, _given_values(fn))
            if made:
                raise AnomalyError(f"detect_anomaly: forward of '{fn.name}' produced "
                                   f"{made}\n  created at {fn.site}")

    def on_backward(fn: Function, out: Tensor, grad: Any, input_grads: Any) -> None:
        for position, g in enumerate(input_grads):
            if g is not None and not _finite(g):
                raise AnomalyError(
                    f"detect_anomaly: backward of '{fn.name}' produced {_what(g)} in the "
                    f"gradient of input {position} (shape {tuple(fn.inputs[position].shape)})"
                    f"\n  created at {_site_of(fn)}")

    with observing(forward=on_forward, backward=on_backward), np.errstate(all="ignore"):
        yield


def _given_values(fn: Function) -> list[np.ndarray]:
    """What an op was given: its input tensors and its numeric parameters (a fill value,
    a clamp bound), as arrays."""
    given = [t.data for t in fn.inputs]
    for value in getattr(fn, "params", {}).values():
        if isinstance(value, (float, np.floating, np.ndarray)):
            given.append(np.asarray(value))
    return given


def _made_here(out: np.ndarray, given: list[np.ndarray]) -> str:
    """ "NaN", "inf", both or "" (nothing): the non-finite kinds in `out` that its inputs
    did not already have (NaN counts only from NaN-free inputs, inf only from finite ones)."""
    floats = [g for g in given if g.dtype.kind in "fc"]
    nan_came_in = any(np.isnan(g).any() for g in floats)
    inf_came_in = any(not np.isfinite(g).all() for g in floats)
    kinds = [word for word, found, came_in in
             (("NaN", np.isnan(out).any(), nan_came_in),
              ("inf", np.isinf(out).any(), inf_came_in)) if found and not came_in]
    return " and ".join(kinds)


def _what(value: Any) -> str:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    kinds = [word for word, found in (("NaN", np.isnan(array).any()),
                                      ("inf", np.isinf(array).any())) if found]
    return " and ".join(kinds)


# ----------------------------------------------------------------------------------------
# The chain rule of the lessons, number by number
# ----------------------------------------------------------------------------------------
@dataclass
class LayerCheck:
    """One layer's weight gradient: the chain-rule product beside backward's value."""

    layer: int
    neuron: int  # j
    input: int  # k
    a_previous: float  # a(L−1)_k
    sigmoid_slope: float  # σ'(z(L)_j) = a_j(1 − a_j)
    grad_of_a: float  # ∂C/∂a(L)_j
    by_hand: float  # their product
    by_backward: float  # W.grad[j, k]
    max_difference: float  # over the whole matrix, hand-formula vs backward


def explain_chain_rule(layers: list[tuple[Tensor, Tensor]] | Any, x: np.ndarray,
                       y: np.ndarray) -> list[LayerCheck]:
    """For one digit x with target y, compute C = Σⱼ (a(L)ⱼ − yⱼ)² through sigmoid layers
    and line each layer's weight gradient up with the lessons' chain rule

        ∂C/∂w(L)_jk = a(L−1)_k · σ'(z(L)_j) · ∂C/∂a(L)_j

    `layers` is an `nn.MLP` with sigmoid activations or a list of (W, b). Returns one row
    per layer, for its largest weight gradient, plus the worst difference over the layer.
    """
    pairs = _weight_bias_pairs(layers)
    a = Tensor(np.asarray(x, dtype=np.float64).reshape(1, -1))
    activations, layer_weights = [a], []
    for weight, bias in pairs:
        w = Tensor(weight.data.astype(np.float64), requires_grad=True)
        b = Tensor(bias.data.astype(np.float64), requires_grad=True)
        a = functional.linear(a, w, b).sigmoid().retain_grad()
        activations.append(a)
        layer_weights.append(w)
    cost = functional.mse_loss(a, Tensor(np.asarray(y, np.float64).reshape(1, -1)), "sum")
    cost.backward()
    rows = []
    for layer, w in enumerate(layer_weights, start=1):
        a_grad, w_grad = activations[layer].grad, w.grad
        assert a_grad is not None and w_grad is not None  # (backward just filled them)
        a_prev, a_out = activations[layer - 1].data[0], activations[layer].data[0]
        slope, grad_of_a = a_out * (1 - a_out), a_grad.data[0]
        by_hand = np.outer(slope * grad_of_a, a_prev)  # row j, column k
        j, k = np.unravel_index(np.argmax(np.abs(w_grad.data)), w.shape)
        rows.append(LayerCheck(layer, int(j), int(k), float(a_prev[k]), float(slope[j]),
                               float(grad_of_a[j]), float(by_hand[j, k]), float(w_grad.data[j, k]),
                               float(np.abs(by_hand - w_grad.data).max())))
    return rows


def _weight_bias_pairs(layers: Any) -> list[tuple[Tensor, Tensor]]:
    if isinstance(layers, list):
        return layers
    linear = [m for m in layers if hasattr(m, "weight")]
    return [(m.weight, m.bias) for m in linear]


def format_chain_rule(rows: list[LayerCheck]) -> str:
    """The rows of `explain_chain_rule` as text a learner can follow."""
    lines = ["∂C/∂w(L)_jk = a(L−1)_k · σ'(z(L)_j) · ∂C/∂a(L)_j, for the largest weight "
             "gradient of each layer:"]
    for r in rows:
        lines.append(
            f"  layer {r.layer}, w_{r.neuron},{r.input}: {r.a_previous:.6f} · "
            f"{r.sigmoid_slope:.6f} · {r.grad_of_a:+.6f} = {r.by_hand:+.10f}   backward: "
            f"{r.by_backward:+.10f}   (whole layer: max difference {r.max_difference:.1e})")
    return "\n".join(lines)
