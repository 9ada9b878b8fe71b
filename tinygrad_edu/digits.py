"""The flagship, for pip users: `python -m tinygrad_edu.digits [options]`.

It runs `examples/mnist.py` of the repository, the lessons' 784 → 16 → 16 → 10 digit
network (the package installs the examples folder as `tinygrad_edu.examples`, so this is
the same file, not a copy). `--help` lists the options.
"""

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType


def flagship() -> ModuleType:
    """examples/mnist.py: installed as `tinygrad_edu.examples.mnist`, or, in a source tree
    that was not installed (an unpacked sdist, a checkout on the path), the file in
    `examples/` beside the package."""
    try:
        return importlib.import_module("tinygrad_edu.examples.mnist")
    except ModuleNotFoundError as err:
        if err.name not in ("tinygrad_edu.examples", "tinygrad_edu.examples.mnist"):
            raise  # something else is missing (numpy?): say that, not this
    path = Path(__file__).resolve().parents[1] / "examples" / "mnist.py"
    spec = importlib.util.spec_from_file_location("mnist_example", path)
    if spec is None or spec.loader is None or not path.exists():
        raise ModuleNotFoundError("tinygrad_edu.digits: examples/mnist.py is not installed "
                                  f"and not at {path}; reinstall tinygrad-edu")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    flagship().main()
