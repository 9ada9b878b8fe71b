"""Language models of names, for pip users: `python -m tinygrad_edu.names [options]`.

It runs `examples/names.py` of the repository, makemore's models from a bigram table to a
small GPT on the 32,033 names shipped in the package (the same file, installed with the
package as `tinygrad_edu.examples.names`). `--help` lists the options.
"""

from tinygrad_edu.digits import example

if __name__ == "__main__":
    example("names").main()
