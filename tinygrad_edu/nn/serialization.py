"""Saving and loading, never with pickle: a module's parameters (`nn.save`, `nn.load`) and
whole checkpoints (`tg.save`, `tg.load`: nested dicts and lists of tensors, arrays,
numbers, strings and None — a model's, an optimizer's and a schedule's `state_dict`, the
epoch, the seed).

Both write a .npz (a zip of .npy arrays, readable by `np.load`) through a temporary file
and a rename, so a crash never leaves half a file. A checkpoint adds `structure.json`,
the nesting with each array's place. The zip's comment holds a SHA-256 of everything
before it, so a truncated or changed file is refused on reading, naming the file, before
anything is loaded: a model is never left half-loaded.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu.nn.module import Module, Parameter
from tinygrad_edu.tensor import Tensor
from tinygrad_edu.utils import atomic_write_bytes

__all__ = ["load", "load_checkpoint", "save", "save_checkpoint"]

STRUCTURE = "structure.json"  # a checkpoint's nesting; the arrays are 0.npy, 1.npy, …
FORMAT = "tinygrad_edu checkpoint"
TAG = b"tinygrad_edu sha256:"  # the zip comment: TAG + 64 hex digits of the bytes before it
COMMENT_SIZE = len(TAG) + 64
KINDS = "tensors, numpy arrays, numbers, strings, None, and lists, tuples and dicts of them"


# ----------------------------------------------------------------------------------------
# nn.save / nn.load: one module's parameters, named as in its state_dict
# ----------------------------------------------------------------------------------------
def save(module: Module, path: str | os.PathLike) -> None:
    """Write the module's state_dict to `path` as .npz (numpy arrays only, no pickle),
    through a temporary file and a rename, so a crash never leaves half a file."""
    if not isinstance(module, Module):
        raise TypeError(f"nn.save: expected a Module, got {type(module).__name__}; "
                        "tg.save(obj, path) saves anything else")
    _write(_checked_path("nn.save", path), module.state_dict(), structure=None)


def load(module: Module, path: str | os.PathLike) -> Module:
    """Load parameters saved by `save` (or a `tg.save`d state_dict) into `module`. A
    damaged or foreign file, or one whose keys or shapes do not fit, raises an error
    naming the file and leaves the module unchanged."""
    if not isinstance(module, Module):
        raise TypeError(f"nn.load: expected a Module first, got {type(module).__name__}; "
                        "write nn.load(model, path)")
    state = _read(_checked_path("nn.load", path), "nn.load")
    if not (isinstance(state, dict) and all(isinstance(k, str) and
                                            isinstance(v, (np.ndarray, Tensor))
                                            for k, v in state.items())):
        raise ValueError(f"nn.load: {path} is a checkpoint, not one module's parameters; "
                         "read it with tg.load(path) and give its model entry to "
                         "model.load_state_dict(...)")
    try:
        module.load_state_dict(state)
    except (KeyError, ValueError, TypeError, RuntimeError) as err:
        message = err.args[0] if err.args else str(err)
        raise type(err)(f"nn.load: {path} does not fit this {type(module).__name__}: "
                        f"{message}") from None
    return module


# ----------------------------------------------------------------------------------------
# tg.save / tg.load: checkpoints
# ----------------------------------------------------------------------------------------
def save_checkpoint(obj: Any, path: str | os.PathLike) -> None:
    """`tg.save(obj, path)`: write a checkpoint, `obj` being nested dicts, lists and
    tuples of tensors, numpy arrays, numbers, strings and None (PyTorch's `torch.save`
    without pickle). Dtypes and shapes are kept; written atomically, with a checksum."""
    path = _checked_path("tg.save", path)
    arrays: list[np.ndarray] = []
    nesting = _encode(obj, arrays, "obj", set())
    structure = json.dumps({"format": FORMAT, "version": 1, "object": nesting})
    _write(path, {str(i): a for i, a in enumerate(arrays)}, structure)


def load_checkpoint(path: str | os.PathLike) -> Any:
    """`tg.load(path)`: what `tg.save` wrote (tensors come back as Tensors, arrays as
    arrays), or, for a plain .npz such as `nn.save` writes, a dict of its arrays. A file
    that is damaged or not a checkpoint raises an error naming it."""
    return _read(_checked_path("tg.load", path), "tg.load")


def _encode(value: Any, arrays: list[np.ndarray], where: str, open_ids: set[int]) -> Any:
    """`value` as JSON: JSON's own scalars stay; anything else is a one-key object
    ({"dict": [[key, value], …]}, {"tuple": …}, {"array": i}, …); arrays go to `arrays`."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (Tensor, np.ndarray, np.generic)):
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.hasobject:
            raise TypeError(f"tg.save: {where} is an array of Python objects; a checkpoint "
                            f"holds {KINDS} (no pickle)")
        arrays.append(array)
        if isinstance(value, Tensor):
            kind = "parameter" if isinstance(value, Parameter) else "tensor"
            return {kind: len(arrays) - 1, "requires_grad": value.requires_grad}
        return {"array" if isinstance(value, np.ndarray) else "scalar": len(arrays) - 1}
    if not isinstance(value, (list, tuple, dict)):
        hint = " (save its state_dict())" if hasattr(value, "state_dict") else ""
        raise TypeError(f"tg.save: {where} is a {type(value).__name__}{hint}; a checkpoint "
                        f"holds {KINDS} (no pickle)")
    if id(value) in open_ids:
        raise ValueError(f"tg.save: {where} contains itself; a checkpoint must be a tree")
    open_ids.add(id(value))
    if isinstance(value, dict):
        encoded: Any = {"dict": [[_encode_key(k, where), _encode(v, arrays, f"{where}[{k!r}]",
                                                                open_ids)]
                                 for k, v in value.items()]}
    else:
        items = [_encode(v, arrays, f"{where}[{i}]", open_ids) for i, v in enumerate(value)]
        encoded = {"tuple": items} if isinstance(value, tuple) else items
    open_ids.discard(id(value))
    return encoded


def _encode_key(key: Any, where: str) -> Any:
    if key is None or isinstance(key, (bool, int, float, str)):
        return key
    if isinstance(key, tuple):
        return {"tuple": [_encode_key(k, where) for k in key]}
    raise TypeError(f"tg.save: {where} has a key of type {type(key).__name__}; keys must be "
                    "strings, numbers, None or tuples of them")


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    """The inverse of `_encode` (a malformed node raises KeyError/TypeError/ValueError)."""
    if isinstance(node, list):
        return [_decode(item, arrays) for item in node]
    if not isinstance(node, dict):
        return node
    kind = next(iter(node))
    if kind == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in node["dict"]}
    if kind == "tuple":
        return tuple(_decode(item, arrays) for item in node["tuple"])
    array = arrays[str(node[kind])]
    if kind == "array":
        return array
    if kind == "scalar":
        return array[()]
    if kind in ("tensor", "parameter"):
        make = Parameter if kind == "parameter" else Tensor
        return make(array, requires_grad=bool(node["requires_grad"]))
    raise ValueError(f"unknown entry {kind!r} in {STRUCTURE}")


# ----------------------------------------------------------------------------------------
# The file: a zip of .npy entries, with a checksum as its comment
# ----------------------------------------------------------------------------------------
def _checked_path(who: str, path: Any) -> str | os.PathLike:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{who}: path must be a file name, got {type(path).__name__}; "
                        f"write {who}(obj, path)" if who.endswith("save") else
                        f"{who}: path must be a file name, got {type(path).__name__}")
    return path


def _write(path: str | os.PathLike, arrays: dict[str, np.ndarray], structure: str | None) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        if structure is not None:
            archive.writestr(_entry(STRUCTURE), structure)
        for name, array in arrays.items():
            npy = io.BytesIO()
            np.lib.format.write_array(npy, np.asanyarray(array), allow_pickle=False)
            archive.writestr(_entry(f"{name}.npy"), npy.getvalue())
    payload = buffer.getvalue()  # ends with the comment's length, 0 so far
    comment = TAG + hashlib.sha256(payload[:-2]).hexdigest().encode()
    atomic_write_bytes(path, payload[:-2] + len(comment).to_bytes(2, "little") + comment)


def _entry(name: str) -> zipfile.ZipInfo:
    """A zip entry with a fixed date: the same object gives the same bytes."""
    return zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))


def _read(path: str | os.PathLike, who: str) -> Any:
    """The object in the file at `path`, after checking it is whole."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"{who}: {path} does not exist") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"{who}: {path} is a directory, not a checkpoint file") from None
    except OSError as err:
        raise OSError(err.errno, f"{who}: cannot read {path}: {err.strerror or err}") from None
    if not data.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise ValueError(f"{who}: {path} is not a checkpoint: {_looks_like(data)}; expected "
                         "a .npz written by tg.save or nn.save")
    _verify_checksum(data, path, who)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            arrays, structure = {}, None
            for name in archive.namelist():
                raw = archive.read(name)  # (checks each entry's CRC)
                if name == STRUCTURE:
                    structure = json.loads(raw.decode("utf-8"))
                elif name.endswith(".npy"):
                    arrays[name[:-4]] = np.lib.format.read_array(io.BytesIO(raw),
                                                                 allow_pickle=False)
                else:
                    raise ValueError(f"it holds {name!r}, neither an array nor {STRUCTURE}")
            if structure is None:
                return arrays  # a plain .npz: its arrays by name
            if not (isinstance(structure, dict) and structure.get("format") == FORMAT):
                raise ValueError(f"its {STRUCTURE} is not a {FORMAT}")
            return _decode(structure["object"], arrays)
    except Exception as err:  # zipfile, numpy and json fail in many ways on a bad file
        raise ValueError(f"{who}: {path} is damaged or not a checkpoint "
                         f"({type(err).__name__}: {err})") from None


def _verify_checksum(data: bytes, path: str | os.PathLike, who: str) -> None:
    """A file written here ends with its comment's length and TAG + digest. If either
    is there (one changed byte cannot remove both), the digest must match the bytes."""
    tail = data[-COMMENT_SIZE - 2:]
    claims = tail[:2] == COMMENT_SIZE.to_bytes(2, "little") or TAG in tail
    if not claims:
        return  # a .npz from numpy (np.savez): zip's own CRCs are all there is to check
    digest = hashlib.sha256(data[:-COMMENT_SIZE - 2]).hexdigest().encode()
    if tail != COMMENT_SIZE.to_bytes(2, "little") + TAG + digest:
        raise ValueError(f"{who}: {path} is damaged: its bytes do not match the checksum "
                         "written with them (a truncated, cut or changed file); nothing was "
                         "loaded")


def _looks_like(data: bytes) -> str:
    """A few words on what a file that is not a zip seems to be."""
    if not data:
        return "it is empty"
    if data.startswith(b"\x93NUMPY"):
        return "it is a single .npy array, not an archive"
    if data[:1] == b"\x80":
        return "it looks like a pickle (torch.save?), which is never loaded here: it can run code"
    try:
        text = data[:40].decode("utf-8")
    except UnicodeDecodeError:
        return "it does not start as a zip archive does"
    return f"it is a text file (it starts {text!r})"
