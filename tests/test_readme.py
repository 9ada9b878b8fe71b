"""The README's Python examples run as written (the wrong-backward one must be caught)."""

import re
from pathlib import Path

import pytest

import tinygrad_edu as tg

README = Path(__file__).resolve().parents[1] / "README.md"
CAUGHT = "gradcheck(Softplus.apply, [Tensor(np.array([-1.0, 0.5, 2.0]), requires_grad=True)])"


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nn.save in the tour writes a file
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) >= 4
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
    for name in ("test_my_function", "test_my_binary_op", "test_matmul",
                 "test_cube_in_random_programs"):
        namespace[name]()  # the hypothesis examples pass
    assert namespace["model"].num_parameters() == 13_002
