"""viz: DOT graphs, the backward trace, hooks, anomaly detection, the chain-rule lineup."""

import itertools
import re
import shutil

import numpy as np
import pytest

from tinygrad_edu import Tensor, nn, optim, viz


def known_graph():
    """a = σ(w·x + b): tensors w, x, b, w*x, sum, +b, a; ops mul, sum, add, sigmoid."""
    w = Tensor([0.5, -1.0], requires_grad=True, name="w")
    x = Tensor([1.0, 2.0], name="x")
    b = Tensor(0.1, requires_grad=True, name="b")
    product = w * x
    total = product.sum()
    z = total + b
    a = z.sigmoid()
    return a, {"w": w, "x": x, "b": b, "product": product, "total": total, "z": z, "a": a}


def parse_dot(text):
    labels = dict(re.findall(r'^\s*(\w+) \[shape=\w+, label="([^"]*)"', text, re.M))
    edges = re.findall(r"^\s*(\w+) -> (\w+);", text, re.M)
    return labels, edges


# --- DOT -------------------------------------------------------------------------------------
def test_dot_has_one_node_per_tensor_and_op_and_the_right_edges():
    a, _ = known_graph()
    labels, edges = parse_dot(viz.to_dot(a))
    tensor_nodes = [n for n in labels if n.startswith("t")]
    op_nodes = {n: labels[n] for n in labels if n.startswith("op")}
    assert len(tensor_nodes) == 7
    assert sorted(op_nodes.values()) == ["add", "mul", "sigmoid", "sum"]
    name_of = {n: labels[n].split("\\n")[0] for n in tensor_nodes}
    op_named = {v: k for k, v in op_nodes.items()}
    node_named = {v: k for k, v in name_of.items() if v in ("w", "x", "b")}
    assert (node_named["w"], op_named["mul"]) in edges
    assert (node_named["x"], op_named["mul"]) in edges
    assert (node_named["b"], op_named["add"]) in edges
    # data-flow order: mul → sum → add → sigmoid, each through its output tensor
    chain = ["mul", "sum", "add", "sigmoid"]
    for earlier, later in itertools.pairwise(chain):
        out = [dst for src, dst in edges if src == op_named[earlier]]
        assert len(out) == 1 and (out[0], op_named[later]) in edges
    assert len(edges) == 4 + 2 + 1 + 2 + 1  # outputs of 4 ops, plus 6 input edges


def test_dot_shows_values_and_grads_on_request():
    a, _ = known_graph()
    a.backward(retain_graph=True)
    text = viz.to_dot(a, show_values=True)
    assert "value [ 0.5 -1. ]" in text and "grad [" in text
    assert "value" not in viz.to_dot(a)


def test_graphs_draw_with_what_pip_installs(tmp_path):
    """The dev and viz extras install graphviz-pure: drawing needs no system Graphviz."""
    a, _ = known_graph()
    text = viz.to_dot(a, show_values=True)
    assert text.startswith("digraph") and text.rstrip().endswith("}")
    path = viz.draw(a, tmp_path / "graph.svg")
    assert path.read_text().count('class="node"') == 11
    png = viz.draw(a, tmp_path / "graph.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000


def test_a_graph_shows_itself_inline_in_a_notebook():
    a, _ = known_graph()
    shown = viz.graph(a)
    assert isinstance(shown, str) and shown == viz.to_dot(a) == shown.source
    svg = shown._repr_svg_()  # what Jupyter calls to draw the cell's result
    assert svg.lstrip().startswith(("<?xml", "<!--", "<svg")) and "<svg" in svg
    assert svg.count('class="node"') == 11


def test_a_trace_and_an_optimizer_show_readably():
    a, _ = known_graph()
    with viz.trace() as steps:
        a.backward()
    assert repr(steps) == str(steps) and "sigmoid" in repr(steps)
    table = steps._repr_html_()
    assert table.startswith("<table>") and table.count("<tr>") == len(steps.steps) + 1
    model = nn.MLP([3, 2])
    text = repr(optim.SGD(model.parameters(), lr=0.5, momentum=0.9))
    assert text == "SGD(2 parameters, lr=0.5, momentum=0.9, weight_decay=0.0)"
    assert "betas=(0.9, 0.999)" in repr(optim.Adam(model.parameters()))
    assert "Linear(in_features=3, out_features=2, bias=True)" in repr(model)


def test_draw_explains_how_to_get_graphviz(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, path=None: None)
    monkeypatch.setattr(viz, "_render_with_package", lambda *a: None)
    a, _ = known_graph()
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        viz.draw(a, tmp_path / "g.svg")
    with pytest.raises(ValueError, match=r"\.svg, \.png or \.pdf"):
        viz.draw(a, tmp_path / "g.jpg")


def test_nn_names_parameters_in_pictures():
    model = nn.MLP([3, 2])
    text = viz.to_dot(model(Tensor(np.ones((1, 3)))))
    assert 'label="0.weight\\n' in text and 'label="0.bias\\n' in text


# --- trace -----------------------------------------------------------------------------------
def test_trace_records_every_op_in_reverse_topological_order_with_shapes():
    w = Tensor(np.ones((3, 4)), requires_grad=True)
    x = Tensor(np.ones((2, 4)))
    with viz.trace() as t:
        hidden = (x @ w.T).sigmoid()  # (2, 3)
        cost = (hidden * hidden).sum()
        cost.backward()
    assert [s.op for s in t.steps] == ["sum", "mul", "sigmoid", "permute", "matmul"] or \
        [s.op for s in t.steps] == ["sum", "mul", "sigmoid", "matmul", "permute"]
    by_op = {s.op: s for s in t.steps}
    assert by_op["matmul"].input_shapes == [(2, 4), (4, 3)]
    assert by_op["matmul"].output_shape == (2, 3)
    assert by_op["sum"].grad_norm == 1.0
    # each input of hidden·hidden receives grad · (the other factor) = hidden
    assert by_op["mul"].input_grad_norms == pytest.approx([np.linalg.norm(hidden.data)] * 2)
    assert "test_viz.py" in by_op["sigmoid"].site and ".sigmoid()" in by_op["sigmoid"].site
    table = str(t)
    assert table.splitlines()[0].split()[:2] == ["#", "op"] and len(table.splitlines()) == 7
    assert t.as_dicts()[0]["op"] == "sum"


def test_trace_order_puts_consumers_before_producers():
    x = Tensor(2.0, requires_grad=True)
    with viz.trace() as t:
        y = x.exp()
        z = y * y + y
        z.backward()
    order = [s.op for s in t.steps]
    assert order.index("add") < order.index("mul") < order.index("exp")
    assert len(order) == 3


# --- hooks -----------------------------------------------------------------------------------
def test_hook_changes_a_gradient_and_the_change_reaches_the_leaves():
    x = Tensor([1.0, 2.0], requires_grad=True)
    hidden = x * 3
    seen = []
    handle = hidden.register_hook(lambda g: seen.append(g.data.copy()) or g * 10)
    hidden.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()  # a new graph, and the old hook is gone anyway
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])


def test_removed_hook_no_longer_runs_and_leaf_hooks_work():
    x = Tensor([1.0], requires_grad=True)
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert calls == [1]
    assert x.grad.item() == 4.0


def test_a_leaf_hook_sees_the_whole_gradient_of_a_leaf_used_twice():
    x = Tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.data.copy()) or g * 2)
    (x * 3 + x * x).sum().backward()  # ∂/∂x = 3 + 2x, from two ops
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [5.0, 7.0])
    np.testing.assert_array_equal(x.grad.data, [10.0, 14.0])


def test_retain_grad_on_any_tensor():
    x = Tensor([1.0, 2.0], requires_grad=True)
    middle = (x * x).retain_grad()
    middle.sum().backward()
    np.testing.assert_array_equal(middle.grad.data, [1.0, 1.0])


# --- anomaly detection ------------------------------------------------------------------------
def test_anomaly_mode_names_the_op_and_line_of_log_of_zero():
    x = Tensor([1.0, 0.0], requires_grad=True)
    with pytest.raises(viz.AnomalyError) as caught, viz.detect_anomaly():
        (x.log() * 2).sum()
    message = str(caught.value)
    assert "forward of 'log' produced inf" in message
    assert "test_viz.py" in message and "(x.log() * 2).sum()" in message


def test_anomaly_mode_catches_a_nan_gradient_in_backward():
    x = Tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(viz.AnomalyError, match=r"backward of 'pow' produced inf.*\n.*\*\* 0.5"):
        with viz.detect_anomaly():
            y = (x ** 0.5).sum()
            y.backward()


def test_anomaly_mode_is_quiet_on_healthy_graphs_and_cleans_up():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with viz.detect_anomaly():
        (x.log() * x).sum().backward()
    from tinygrad_edu.tensor import Observers

    assert Observers.forward == [] and Observers.backward == []
    with np.errstate(divide="ignore"):
        (Tensor([0.0], requires_grad=True).log()).sum()  # outside: no error raised


# --- the lessons' chain rule -----------------------------------------------------------------
def test_chain_rule_lines_up_with_backward_for_the_seed_network():
    model = nn.MLP([784, 16, 16, 10], seed=0)
    x = np.random.default_rng(0).random(784)
    rows = viz.explain_chain_rule(model, x, np.eye(10)[3])
    assert [r.layer for r in rows] == [1, 2, 3]
    for r in rows:
        assert r.by_hand == pytest.approx(r.a_previous * r.sigmoid_slope * r.grad_of_a)
        assert r.by_hand == pytest.approx(r.by_backward, rel=1e-12)
        assert r.max_difference < 1e-15
    text = viz.format_chain_rule(rows)
    assert "a(L−1)_k · σ'(z(L)_j) · ∂C/∂a(L)_j" in text and "layer 3" in text


def test_backprop_by_hand_example_agrees_to_float64_precision(capsys, load_example):
    assert load_example("backprop_by_hand").main() < 1e-15
    assert "13,002 gradients" in capsys.readouterr().out


def test_see_the_graph_example_writes_files_and_traces(tmp_path, load_example):
    steps = load_example("see_the_graph").main(["--out", str(tmp_path)])
    assert (tmp_path / "neuron.dot").read_text().count("label=") == 11
    assert [s.op for s in steps.steps] == ["mse_loss", "sigmoid", "linear", "sigmoid", "linear"]


def test_drawing_a_freed_graph_says_to_retain_it():
    a, _ = known_graph()
    a.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        viz.to_dot(a)
