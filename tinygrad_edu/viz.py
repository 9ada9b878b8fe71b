"""Seeing backprop: the graph as a picture, the backward pass as a table, and alarms.

- `to_dot(t)` / `draw(t, path)`: the graph that produced `t`, as Graphviz DOT text or a
  rendered SVG/PNG. Draw before `backward()` frees the graph (or pass retain_graph=True):
  a freed graph gives an error that says so.
- `trace()`: records each step of a backward pass in order.
- `detect_anomaly()`: stops at the first op whose forward or backward makes NaN or inf,
  naming the op and the line of your code that created it.
- `explain_chain_rule(model, x, y)`: the lessons' ∂C/∂w(L) = a(L−1)·σ'(z(L))·∂C/∂a(L),
  layer by layer, next to what backward computed.
- `layer_stats(model)`: the diagnostics of the activations-and-gradients lesson: each
  layer's outputs and their gradients (histograms, % saturated) and each weight's
  update-to-data ratio over training, recorded with hooks and drawn on matplotlib axes.

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

__all__ = ["AnomalyError", "Graph", "LayerCheck", "LayerStats", "Trace", "TraceStep",
           "detect_anomaly", "draw", "explain_chain_rule", "format_chain_rule", "graph",
           "graph_of", "layer_stats", "render", "to_dot", "topological_order", "trace"]


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


# ----------------------------------------------------------------------------------------
# The diagnostics of the activations-and-gradients lesson
# ----------------------------------------------------------------------------------------
# Layers whose outputs have a "saturated" region: where the slope, and with it the
# gradient passed back, is nearly zero (|tanh| > 0.97 as in the lesson; sigmoid near 0 or 1).
_SATURATION = {"Tanh": lambda v: np.abs(v) > 0.97,
               "Sigmoid": lambda v: (v < 0.015) | (v > 0.985)}


def layer_stats(model: Any, layers: Any = None) -> LayerStats:
    """A recorder of the lesson on activations and gradients (makemore part 3) for `model`.

    `layers` chooses the layers watched: None for every layer with no layers inside it
    (Linear, Tanh, Embedding, ...); a layer class or a tuple of them (`nn.Tanh`,
    `(nn.Tanh, nn.GELU)`); or a list of dotted names from `model.named_modules()` ("" is
    the model itself). See `LayerStats` for what it records and draws:

        stats = viz.layer_stats(model, nn.Tanh)
        with stats.capture():                 # what each tanh outputs, and its gradient
            loss = F.cross_entropy(model(x), y)
            loss.backward()
        print(stats.summary())                # mean, std, % saturated per layer
        for step in range(1000):
            with stats.measure_update(step):  # log10 of each weight's update-to-data ratio
                train_step(x, y)
    """
    return LayerStats(model, layers)


class LayerStats:
    """What `layer_stats(model, layers)` records (see there): per watched layer, the values
    it output and the gradient of the loss with respect to them; per parameter, the log10
    update-to-data ratio of each step measured.

    Attributes:
        layers: the watched layers' dotted names, in the model's order.
        kinds: layer name → its class name ("Tanh").
        activations: layer name → every value its output held during the last `capture`
            (flattened; a layer called several times gives the values of all the calls).
        gradients: layer name → ∂loss/∂output for those values (layers whose output needs
            no gradient, or a block without `backward()`, give none).
        update_steps: the steps `measure_update` was given, in order.
        update_ratios: parameter name → log10(std(Δp) / std(p)) at each of those steps
            (nan where std(p) was 0, a parameter that starts at zeros).
    """

    def __init__(self, model: Any, layers: Any = None) -> None:
        named = dict(getattr(model, "named_modules", lambda: iter(()))())
        if not named:
            raise TypeError(f"layer_stats: model must be an nn.Module, got "
                            f"{type(model).__name__}")
        if layers is None:
            chosen = [name for name, module in named.items()
                      if not any(True for _ in module.children())]
        elif isinstance(layers, type) or (isinstance(layers, tuple)
                                          and all(isinstance(k, type) for k in layers)):
            chosen = [name for name, module in named.items() if isinstance(module, layers)]
        elif isinstance(layers, (list, tuple)) and all(isinstance(n, str) for n in layers):
            unknown = [name for name in layers if name not in named]
            if unknown:
                raise ValueError(f"layer_stats: no layer named {unknown[0]!r} in "
                                 f"{type(model).__name__}; its layers are "
                                 f"{', '.join(repr(n) for n in named)}")
            chosen = [name for name in named if name in layers]
        else:
            raise TypeError("layer_stats: layers must be None (every innermost layer), a "
                            "layer class or tuple of classes (nn.Tanh), or a list of names "
                            f"from model.named_modules(); got {layers!r}")
        if not chosen:
            raise ValueError(f"layer_stats: {type(model).__name__} has no layer of "
                             f"{_kind_names(layers)}; its layers are "
                             f"{', '.join(repr(n) for n in named)}")
        self.model = model
        self.layers: list[str] = chosen
        self._modules = {name: named[name] for name in chosen}
        self.kinds: dict[str, str] = {name: type(m).__name__ for name, m in self._modules.items()}
        self.activations: dict[str, np.ndarray] = {}
        self.gradients: dict[str, np.ndarray] = {}
        self.update_steps: list[int] = []
        self.update_ratios: dict[str, list[float]] = {
            name: [] for name, _ in model.named_parameters()}

    # --- recording ------------------------------------------------------------------
    @contextlib.contextmanager
    def capture(self) -> Iterator[LayerStats]:
        """Inside the block, each watched layer's output is recorded as it is computed,
        and its gradient when `backward()` reaches it (a hook on the output tensor).
        Replaces what an earlier capture recorded. Run the forward and backward eagerly
        inside: a `tg.jit` replay calls no layer, so a block in which no watched layer
        ran raises RuntimeError rather than leave the statistics silently empty."""
        outputs: dict[str, list[np.ndarray]] = {name: [] for name in self.layers}
        grads: dict[str, list[np.ndarray]] = {name: [] for name in self.layers}
        handles: list[Any] = []

        def record(name: str, out: Any) -> None:
            tensor = _first_tensor(out)
            if tensor is None or tensor.data.dtype.kind != "f":
                return
            outputs[name].append(tensor.data.ravel().copy())
            if tensor.requires_grad:
                handles.append(tensor.register_hook(
                    lambda g: grads[name].append(np.asarray(g.data).ravel().copy())))

        restore = [_watch(module, name, record) for name, module in self._modules.items()]
        try:
            yield self
        finally:
            for undo in reversed(restore):
                undo()
            for handle in handles:
                handle.remove()
        if not any(outputs.values()):
            raise RuntimeError(
                "LayerStats.capture: none of the watched layers "
                f"({', '.join(repr(n) for n in self.layers)}) ran inside the block. Call the "
                "model there, eagerly: a step made with tg.jit replays without calling its "
                "layers, so run model(x) and loss.backward() yourself inside capture()")
        self.activations = {n: np.concatenate(v) for n, v in outputs.items() if v}
        self.gradients = {n: np.concatenate(v) for n, v in grads.items() if v}

    @contextlib.contextmanager
    def measure_update(self, step: int | None = None) -> Iterator[LayerStats]:
        """Measure what the block (an optimizer step, or a whole training step, jitted or
        not) changes in every parameter: appends log10(std(p_after − p_before) /
        std(p_before)) to `update_ratios` for each, and `step` (the count so far when
        None) to `update_steps`. The lesson's rule of thumb: about −3 (an update a
        thousandth of the values); far below, the parameter learns too slowly, far above,
        too fast. It measures the real update, so it holds for Adam as for SGD."""
        params = list(self.model.named_parameters())
        before = [p.data.copy() for _, p in params]
        yield self
        self.update_steps.append(len(self.update_steps) if step is None else int(step))
        for (name, p), old in zip(params, before, strict=True):
            spread = float(old.std())
            change = float(np.std(p.data - old))
            with np.errstate(divide="ignore"):
                ratio = np.log10(change / spread) if spread > 0 else float("nan")
            self.update_ratios.setdefault(name, []).append(float(ratio))

    # --- reading --------------------------------------------------------------------
    def saturated(self, name: str) -> float | None:
        """The fraction of layer `name`'s outputs in its flat region (|tanh| > 0.97;
        a sigmoid below 0.015 or above 0.985), or None for a layer without one."""
        test = _SATURATION.get(self.kinds[name])
        if test is None or name not in self.activations:
            return None
        return float(np.mean(test(self.activations[name])))

    def summary(self) -> str:
        """A table, a row per layer: the mean and std of its outputs, the % saturated (tanh,
        sigmoid), and the mean and std of their gradients; then the last update-to-data
        ratio of each weight matrix."""
        rows = [f"{'layer':<24} {'kind':<10} {'mean':>9} {'std':>8} {'saturated':>9} "
                f"{'grad mean':>10} {'grad std':>9}"]
        for name in self.layers:
            values, grad = self.activations.get(name), self.gradients.get(name)
            if values is None:
                continue
            share = self.saturated(name)
            rows.append(f"{name or '(model)':<24} {self.kinds[name]:<10} {values.mean():+9.4f} "
                        f"{values.std():8.4f} "
                        f"{'-' if share is None else f'{share:.1%}':>9} "
                        f"{'-' if grad is None else f'{grad.mean():+10.2e}':>10} "
                        f"{'-' if grad is None else f'{grad.std():9.2e}':>9}")
        ratios = [(name, values[-1]) for name, values in self._weight_ratios().items()]
        if ratios:
            rows.append(f"log10 update/data at step {self.update_steps[-1]}: " + ", ".join(
                f"{name} {value:.2f}" for name, value in ratios))
        return "\n".join(rows)

    def __repr__(self) -> str:
        return (f"LayerStats({len(self.layers)} layers: {', '.join(self.layers[:4])}"
                f"{', ...' if len(self.layers) > 4 else ''}; {len(self.update_steps)} "
                "updates measured)")

    def _weight_ratios(self) -> dict[str, list[float]]:
        """The ratios of the weight matrices and tables (2 axes or more): the lesson draws
        those; biases and LayerNorm's gains add lines without adding insight."""
        shapes = {name: p.ndim for name, p in self.model.named_parameters()}
        return {name: values for name, values in self.update_ratios.items()
                if values and shapes.get(name, 0) >= 2}

    # --- drawing (any matplotlib Axes; viz itself does not import matplotlib) --------
    def plot_activations(self, axis: Any, bins: int = 60) -> Any:
        """Each watched layer's output as a histogram line (density) on `axis`, labelled
        with its mean, std and the % saturated; returns the axis."""
        return self._plot_histograms(axis, self.activations, bins, "activations",
                                     "output value")

    def plot_gradients(self, axis: Any, bins: int = 60) -> Any:
        """Each watched layer's ∂loss/∂output as a histogram line on `axis`; returns it."""
        return self._plot_histograms(axis, self.gradients, bins, "gradients",
                                     "∂loss/∂output")

    def _plot_histograms(self, axis: Any, values: dict[str, np.ndarray], bins: int,
                         what: str, xlabel: str) -> Any:
        for name in self.layers:
            if name not in values:
                continue
            data = values[name]
            density, edges = np.histogram(data, bins=bins, density=True)
            label = (f"{name} ({self.kinds[name]})" if name else self.kinds[name]) \
                + f": mean {data.mean():+.2g}, std {data.std():.2g}"
            share = self.saturated(name) if what == "activations" else None
            if share is not None:
                label += f", {share:.1%} saturated"
            axis.plot((edges[:-1] + edges[1:]) / 2, density, label=label)
        if values:
            axis.legend(fontsize=7, framealpha=0.6)
        else:
            axis.text(0.5, 0.5, f"no {what} captured", ha="center", va="center",
                      transform=axis.transAxes)
        axis.set(xlabel=xlabel, ylabel="density", title=f"{what} of each layer")
        if what == "gradients":  # (values of 1e-4: a common factor, not crowded ticks)
            axis.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        return axis

    def plot_update_ratios(self, axis: Any, target: float = 1e-3) -> Any:
        """log10 of each weight matrix's update-to-data ratio over the steps measured, with
        the lesson's rule-of-thumb line at `target` (1e-3: log10 = −3); returns the axis."""
        ratios = self._weight_ratios()
        # Many weights (a transformer's blocks): one colour and one legend entry per role,
        # the block number replaced by * ("blocks.*.attn.c_attn.weight").
        roles = {name: _role(name) if len(ratios) > 8 else name for name in ratios}
        colours: dict[str, Any] = {}
        for name, values in ratios.items():
            role = roles[name]
            line, = axis.plot(self.update_steps, values, linewidth=0.8, color=colours.get(role),
                              label=None if role in colours else role)
            colours.setdefault(role, line.get_color())
        axis.axhline(np.log10(target), color="black", linestyle="--", linewidth=1,
                     label=f"{target:g} (rule of thumb)")
        axis.legend(fontsize=6)
        axis.set(xlabel="step", ylabel="log10(std(update) / std(weights))",
                 title="update-to-data ratio of each weight")
        return axis


def _role(name: str) -> str:
    """A parameter's name with its first number (the block, the layer) as *."""
    parts = name.split(".")
    first = next((i for i, part in enumerate(parts) if part.isdigit()), None)
    if first is not None:
        parts[first] = "*"
    return ".".join(parts)


def _kind_names(layers: Any) -> str:
    kinds = layers if isinstance(layers, tuple) else (layers,)
    return " or ".join(getattr(k, "__name__", repr(k)) for k in kinds)


def _first_tensor(out: Any) -> Tensor | None:
    """A layer's output tensor: the output itself, or the first tensor of a tuple (a
    recurrent layer returns (output, state))."""
    if isinstance(out, Tensor):
        return out
    if isinstance(out, (tuple, list)):
        return next((item for item in out if isinstance(item, Tensor)), None)
    return None


def _watch(module: Any, name: str, record: Any) -> Any:
    """Make `module(x)` also call `record(name, output)` (a forward hook that only looks:
    jit records stay valid); returns the undo."""
    return module._watch_output(lambda _, __, out: record(name, out)).remove
