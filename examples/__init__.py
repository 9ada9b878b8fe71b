"""The examples. Each is a script (`python examples/mnist.py`); the package also installs
this folder as `tinygrad_edu.examples`, so `python -m tinygrad_edu.digits` runs mnist.py."""
