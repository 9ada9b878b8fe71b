"""Saving and loading a module's parameters: .npz files, never pickle, written atomically.
"""

from __future__ import annotations

import io
import os
import zipfile

import numpy as np

from tinygrad_edu.nn.module import Module
from tinygrad_edu.utils import atomic_write_bytes

__all__ = ["load", "save"]


def save(module: Module, path: str | os.PathLike) -> None:
    """Write the module's state_dict to `path` as .npz (numpy arrays only, no pickle),
    through a temporary file and a rename, so a crash never leaves half a file."""
    buffer = io.BytesIO()
    np.savez(buffer, **module.state_dict())  # type: ignore[arg-type]  # (numpy's stub)
    atomic_write_bytes(path, buffer.getvalue())


def load(module: Module, path: str | os.PathLike) -> Module:
    """Load parameters saved by `save` into `module`. A truncated or foreign file, or one
    whose keys or shapes do not fit, raises an error and leaves the module unchanged."""
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it holds a single array, not named parameters")
        with archive:
            state = {key: archive[key] for key in archive.files}
    except FileNotFoundError:
        raise FileNotFoundError(f"nn.load: {path} does not exist") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ValueError(f"nn.load: {path} is not a readable .npz of parameters ({err})") from None
    module.load_state_dict(state)
    return module
