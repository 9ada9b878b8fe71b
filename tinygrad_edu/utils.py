"""Small helpers more than one module needs: random numbers and safe file writes.

(They live here, not in the modules that use them, so that `nn` and `viz` need not import
`datasets` for them.)
"""

from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import numpy as np

__all__ = ["atomic_write_bytes", "manual_seed", "random_generator"]


def __dir__() -> list[str]:  # dir() and tab completion show the API, not the imports
    return sorted(__all__)


_default_generator = np.random.default_rng()  # what seed=None draws from (manual_seed)


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the default generator, which everything given no seed draws from (weights of
    new layers, Tensor.randn/rand, shuffling), as `torch.manual_seed` does."""
    global _default_generator
    _default_generator = np.random.default_rng(seed)
    return _default_generator


class _Randomness(threading.local):
    # While vmap runs a function (func.vmap, batching.py), the exception a draw raises:
    # randomness="error" (PyTorch's default) refuses draws; with "different", one draw for
    # a batched shape would give every item the same numbers, so vmap runs such a function
    # once per item instead, each item drawing its own.
    refused: type[Exception] | None = None


_randomness = _Randomness()


def random_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed; a Generator passes through, so callers can share one
    stream of random numbers; None gives the default generator (see `manual_seed`)."""
    if _randomness.refused is not None:
        raise _randomness.refused()
    if seed is None:
        return _default_generator
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: never a half-written file.

    A symbolic link is followed (its target gets the new contents; the link stays), and
    errors name `path`, not the temporary file.
    """
    given = Path(path)
    path = Path(os.path.realpath(given))  # through symlinks, to the file they point at
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {given}: the folder {given.parent} does not "
                                "exist")
    try:
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.",
                                             suffix=".tmp")
    except OSError as err:
        raise OSError(err.errno, f"cannot write {given}: {err.strerror or err}") from None
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(payload)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o666 & ~_current_umask())  # mkstemp's 0600 → usual rw-r--r--
        os.replace(temporary, path)
    except OSError as err:
        Path(temporary).unlink(missing_ok=True)
        raise OSError(err.errno, f"cannot write {given}: {err.strerror or err}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
