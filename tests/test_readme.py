"""The Python examples of the README and of the documentation pages (docs/*.md) run as
written, each file on its own from the top (the wrong-backward one must be caught)."""

import re
from pathlib import Path

import pytest

import tinygrad_edu as tg

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
PAGES = sorted((ROOT / "docs").glob("*.md"))
CAUGHT = "gradcheck(Softplus.apply, [Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True)])"
# what each file's examples leave behind, checked after they ran
AFTERWARDS = {
    "gradients.md": lambda ns: [ns[name]() for name in (  # the hypothesis examples pass
        "test_my_function", "test_my_binary_op", "test_matmul", "test_cube_in_random_programs")],
    "networks.md": lambda ns: ns["model"].num_parameters() == 13_002 or pytest.fail("13,002"),
    "README.md": lambda ns: ns["gradcheck"](ns["Cube"].apply, [ns["x"]]) or pytest.fail("Cube"),
}


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), re.S)


def test_the_readme_and_the_pages_have_examples():
    assert len(python_blocks(README)) >= 2
    assert sum(len(python_blocks(page)) for page in PAGES) >= 6


@pytest.mark.parametrize("path", [README, *PAGES], ids=lambda path: path.name)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    blocks = python_blocks(path)
    if not blocks:
        pytest.skip(f"{path.name} has no Python example")
    monkeypatch.chdir(tmp_path)  # nn.save in the examples writes a file
    namespace: dict = {}
    exec("import numpy as np\nfrom tinygrad_edu import Function, Tensor", namespace)
    for block in blocks:
        if CAUGHT in block:
            before = block.split(CAUGHT)[0]
            exec(before, namespace)
            with pytest.raises(tg.GradcheckError, match=r"∂out\[2\]/∂x\[2\]: analytic 7.389"):
                exec(CAUGHT, namespace)
        else:
            exec(block, namespace)
    if path.name in AFTERWARDS:
        AFTERWARDS[path.name](namespace)


def test_the_caught_example_is_still_in_the_docs():
    assert any(CAUGHT in block for page in PAGES for block in python_blocks(page))
