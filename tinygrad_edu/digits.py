"""The flagship, for pip users: `python -m tinygrad_edu.digits [options]`.

It runs `examples/mnist.py` of the repository, the lessons' 784 → 16 → 16 → 10 digit
network (the package installs the examples folder as `tinygrad_edu.examples`, so this is
the same file, not a copy). `--help` lists the options.
"""

from tinygrad_edu.examples.mnist import main

if __name__ == "__main__":
    main()
