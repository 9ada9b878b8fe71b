"""The flagship, for pip users: `python -m tinygrad_edu.digits [options]`.

It runs `examples/mnist.py` of the repository, the lessons' 784 → 16 → 16 → 10 digit
network (the package installs the examples folder as `tinygrad_edu.examples`, so this is
the same file, not a copy). `--help` lists the options.
"""

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType


def example(name: str) -> ModuleType:
    """examples/NAME.py: installed as `tinygrad_edu.examples.NAME`, or, in a source tree
    that was not installed (an unpacked sdist, a checkout on the path), the file in
    `examples/` beside the package. (`python -m tinygrad_edu.names` uses it too.)"""
    try:
        return importlib.import_module(f"tinygrad_edu.examples.{name}")
    except ModuleNotFoundError as err:
        if err.name not in ("tinygrad_edu.examples", f"tinygrad_edu.examples.{name}"):
            raise  # something else is missing (numpy?): say that, not this
    path = Path(__file__).resolve().parents[1] / "examples" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"{name}_example", path)
    if spec is None or spec.loader is None or not path.exists():
        raise ModuleNotFoundError(f"tinygrad_edu: examples/{name}.py is not installed "
                                  f"and not at {path}; reinstall tinygrad-edu")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def flagship() -> ModuleType:
    """examples/mnist.py, the digit network (see `example`)."""
    return example("mnist")


if __name__ == "__main__":
    flagship().main()
