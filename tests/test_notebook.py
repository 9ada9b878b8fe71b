"""The tutorial notebook runs end to end, and the flagship behaves inside a notebook."""

import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra installs nbformat")
nbclient = pytest.importorskip("nbclient", reason="the dev extra installs nbclient")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TUTORIAL = EXAMPLES / "backprop_tutorial.ipynb"


def execute(notebook, folder):
    client = nbclient.NotebookClient(notebook, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    client.execute()  # raises CellExecutionError on the first cell that fails
    return notebook


def outputs_of(notebook, kind):
    return [o for cell in notebook.cells if cell.cell_type == "code"
            for o in cell.outputs if kind in o.get("data", {})]


def test_the_committed_tutorial_shows_its_outputs():
    notebook = nbformat.read(TUTORIAL, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs for cell in code)  # it reads on GitHub without running
    assert outputs_of(notebook, "image/svg+xml")


def test_the_tutorial_runs_without_error_and_draws_inline(tmp_path):
    shutil.copy(TUTORIAL, tmp_path)
    notebook = execute(nbformat.read(tmp_path / TUTORIAL.name, as_version=4), tmp_path)
    svg = outputs_of(notebook, "image/svg+xml")
    assert len(svg) == 1 and "<svg" in svg[0]["data"]["image/svg+xml"]
    printed = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for o in cell.outputs)
    assert "largest difference from the outer product by hand: 0.0" in printed
    assert "gradient mismatch for input 0" in printed


def test_run_mnist_in_a_notebook_shows_the_figure_and_keeps_the_backend(tmp_path):
    cells = [f"%run {EXAMPLES / 'mnist.py'} --epochs 1 --figure {tmp_path / 'f.png'}",
             "import matplotlib\nprint(matplotlib.get_backend())"]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    execute(notebook, tmp_path)
    assert outputs_of(notebook, "image/png")  # the figure, inline
    backend = "".join(o.get("text", "") for o in notebook.cells[1].outputs)
    assert "inline" in backend  # later cells still plot inline, not into Agg


NAMES_TUTORIAL = EXAMPLES / "names_tutorial.ipynb"


def test_the_committed_names_tutorial_shows_its_outputs():
    notebook = nbformat.read(NAMES_TUTORIAL, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs for cell in code)  # it reads on GitHub without running
    assert len(outputs_of(notebook, "image/png")) == 4  # counts, tanh at the start, the
    # diagnostics after training, the test losses


def test_the_names_tutorial_runs_in_a_minute_and_attention_wins(tmp_path, monkeypatch):
    """Counting → learned table → MLP → attention, executed afresh (one BLAS thread, as
    the benchmarks: two threads on a busy two-core machine take several times longer)."""
    import time

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "1")  # (the kernel inherits it)
    shutil.copy(NAMES_TUTORIAL, tmp_path)
    started = time.perf_counter()
    notebook = execute(nbformat.read(tmp_path / NAMES_TUTORIAL.name, as_version=4), tmp_path)
    assert time.perf_counter() - started <= 60
    printed = "".join(o.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                      for o in cell.outputs)
    losses = {}
    for name in ("counting", "learned table", "MLP (3 characters)", "transformer (2 blocks)"):
        line = next(line for line in printed.splitlines() if line.startswith(name + " "))
        losses[name] = float(line.split()[-1])
    assert losses["counting"] == 2.4511  # the split and the table are fixed: exact
    assert abs(losses["learned table"] - losses["counting"]) < 0.02  # descent finds counting
    assert losses["transformer (2 blocks)"] < losses["MLP (3 characters)"] < 2.35
    by_hand = printed.split("largest difference from F.scaled_dot_product_attention:")[1]
    assert float(by_hand.split()[0]) < 1e-6  # attention by hand is what the function does
    assert len(outputs_of(notebook, "image/png")) == 4
