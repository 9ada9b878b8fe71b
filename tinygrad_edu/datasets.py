"""Data: the IDX file format of MNIST, the embedded digit sample, full MNIST, batching;
the embedded names of makemore and their characters (character-level language models).

One reader (`read_idx`) serves everything: the 5,000 handwritten digits shipped inside the
package and the canonical MNIST files a user downloads use the same format.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import struct
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_edu.utils import atomic_write_bytes, random_generator

__all__ = ["CharVocabulary", "DatasetError", "default_root", "iterate_batches",
           "load_image_label_dir", "mnist", "mnist_sample", "names", "next_character_examples",
           "one_hot", "random_shift", "read_idx", "split_words", "text_lines", "to_inputs",
           "write_idx"]


def __dir__() -> list[str]:  # dir(datasets) and tab completion show the API, not numpy, os, …
    return sorted(__all__)

DATA_DIR = Path(__file__).parent / "data"
SAMPLE_FILES = ("mnist_sample-images-idx3-ubyte.gz", "mnist_sample-labels-idx1-ubyte.gz")

# The four canonical MNIST files: name → (SHA-256, size in bytes).
MNIST_FILES = {
    "train-images-idx3-ubyte.gz":
        ("440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609", 9912422),
    "train-labels-idx1-ubyte.gz":
        ("3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c", 28881),
    "t10k-images-idx3-ubyte.gz":
        ("8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6", 1648877),
    "t10k-labels-idx1-ubyte.gz":
        ("f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6", 4542),
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
CACHE_ENV = "TINYGRAD_EDU_DATA"

# IDX type codes → numpy dtypes (IDX stores multi-byte numbers big-endian).
_IDX_DTYPES: dict[int, np.dtype[Any]] = {
    0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_IDX_CODES = {dtype: code for code, dtype in _IDX_DTYPES.items()}


class DatasetError(ValueError):
    """A data file is missing, truncated, of the wrong kind or fails its checksum."""


# ----------------------------------------------------------------------------------------
# IDX files
# ----------------------------------------------------------------------------------------


MAX_IDX_BYTES = 1 << 32  # 4 GiB of values: full MNIST's largest file holds 47 MB


def read_idx(path: str | os.PathLike, max_bytes: int = MAX_IDX_BYTES) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) into a numpy array, checking as it goes.

    Layout: two zero bytes, a type code, the number of dimensions n, then n big-endian
    uint32 sizes, then the values. A wrong magic number, an unknown type, or a length
    that does not match the sizes gives `DatasetError` naming the file.

    The file is read in chunks and never past the size its header declares (plus one
    byte, to notice extra data), so a small compressed file cannot expand into gigabytes;
    a header declaring more than `max_bytes` of values is refused before reading them.
    """
    path = Path(path)
    try:
        with path.open("rb") as raw:
            compressed = raw.read(2) == b"\x1f\x8b"  # gzip's own magic number
            raw.seek(0)
            with (gzip.GzipFile(fileobj=raw) if compressed else raw) as stream:
                return _read_idx_stream(stream, path, max_bytes)
    except FileNotFoundError:
        raise DatasetError(f"read_idx: {path} does not exist") from None
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DatasetError(f"read_idx: {path} is not a readable gzip file ({err})") from None


def _read_idx_stream(stream: Any, path: Path, max_bytes: int) -> np.ndarray:
    magic = stream.read(4)
    if len(magic) < 4 or magic[:2] != b"\x00\x00" or magic[2] not in _IDX_DTYPES:
        raise DatasetError(f"read_idx: {path} is not an IDX file (magic number "
                           f"{magic.hex() or 'missing'}; expected 0000 then a type code "
                           f"such as 08 for unsigned bytes)")
    dtype, ndim = _IDX_DTYPES[magic[2]], magic[3]
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise DatasetError(f"read_idx: {path} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", sizes)
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if expected > max_bytes:
        raise DatasetError(f"read_idx: {path} declares shape {shape} = {expected:,} bytes of "
                           f"values, more than max_bytes={max_bytes:,}; pass a larger "
                           "max_bytes if the file is really that large")
    values = _read_at_most(stream, expected + 1)
    if len(values) < expected:
        raise DatasetError(f"read_idx: {path} has {len(values)} bytes of data, but its "
                           f"header promises shape {shape} = {expected} bytes (truncated "
                           "or corrupt)")
    if len(values) > expected:
        raise DatasetError(f"read_idx: {path} has more data than its header promises "
                           f"(shape {shape} = {expected} bytes; corrupt, or not one IDX file)")
    return np.frombuffer(values, dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _read_at_most(stream: Any, limit: int, chunk: int = 1 << 20) -> bytes:
    """Up to `limit` bytes from `stream`, a chunk at a time (memory grows only with what
    is really there, never past `limit`)."""
    parts, total = [], 0
    while total < limit:
        part = stream.read(min(chunk, limit - total))
        if not part:
            break
        parts.append(part)
        total += len(part)
    return b"".join(parts)


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write `array` as an IDX file, gzip-compressed when `path` ends in .gz; atomically."""
    dtype = np.dtype(array.dtype).newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    if dtype not in _IDX_CODES:
        raise DatasetError(f"write_idx: IDX has no type for dtype {array.dtype}")
    header = bytes([0, 0, _IDX_CODES[dtype], array.ndim]) + struct.pack(
        f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array, dtype).tobytes()
    if str(path).endswith(".gz"):
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    atomic_write_bytes(path, payload)


# ----------------------------------------------------------------------------------------
# The embedded sample and full MNIST
# ----------------------------------------------------------------------------------------


def mnist_sample() -> tuple[np.ndarray, np.ndarray]:
    """5,000 real handwritten digits (500 per class) from the MNIST training set.

    Returns uint8 images of shape (5000, 28, 28) (0 = white paper, 255 = ink) and uint8
    labels of shape (5000,). Shipped inside the package, so no network is needed; see
    `tinygrad_edu/data/ATTRIBUTION.md` for where they come from.

    The files are shipped in a fixed shuffled order, the same on every call and every
    machine (`data/make_sample.py` made it from a seed): the first 4,000 hold 400 of each
    digit and the last 1,000 hold 100 of each, each part in random order. So
    `images[:4000]` to train and `images[4000:]` to test is a fair split, and any slice
    mixes the classes.
    """
    images, labels = (read_idx(DATA_DIR / name) for name in SAMPLE_FILES)
    return images, labels


def default_root() -> Path:
    """Where full MNIST is kept: $TINYGRAD_EDU_DATA, else ~/.cache/tinygrad_edu/mnist."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "tinygrad_edu" / "mnist"


def mnist(split: str = "train", root: str | os.PathLike | None = None, download: bool = True,
          mirrors: Sequence[str] = MIRRORS, timeout: float = 10.0
          ) -> tuple[np.ndarray, np.ndarray]:
    """Full MNIST: `split` "train" (60,000 digits) or "test" (10,000).

    Looks in `root` (default: `default_root()`) for the canonical files, downloads the
    missing ones from `mirrors` when `download` is True (a mirror silent for `timeout`
    seconds is reported and skipped), and checks every file's SHA-256.
    Returns uint8 images (n, 28, 28) and uint8 labels (n,).
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"mnist: split must be 'train' or 'test', got {split!r}")
    root = Path(root) if root is not None else default_root()
    _check_folder("mnist", "root", root)
    paths = [ensure_file(root, name, download, mirrors, timeout) for name in SPLIT_FILES[split]]
    return _read_pair(paths[0], paths[1])


def load_image_label_dir(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels from a folder holding one MNIST split's two IDX files
    (t10k-* or train-*, .gz or raw): the test set when both are there."""
    directory = Path(directory)
    _check_folder("load_image_label_dir", "directory", directory)
    for split in ("test", "train"):
        names = SPLIT_FILES[split]
        images, labels = (_existing(directory / name) for name in names)
        if images is not None and labels is not None:
            return _read_pair(images, labels)
    raise DatasetError(f"{directory}: no MNIST files found; expected "
                       f"{' and '.join(SPLIT_FILES['test'])} (or the train-* pair), .gz or "
                       "uncompressed")


def _check_folder(function: str, argument: str, folder: Path) -> None:
    """A path given as a folder must not be a file (it may not exist yet)."""
    if folder.exists() and not folder.is_dir():
        raise DatasetError(f"{function}: {argument}={str(folder)!r} is a file, not a folder; "
                           "pass the folder that holds (or should hold) the MNIST files")


def _read_pair(image_path: Path, label_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, h, w) and their n labels, or an error naming both files."""
    images, labels = read_idx(image_path), read_idx(label_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(f"{image_path} holds images of shape {images.shape} but "
                           f"{label_path} holds labels of shape {labels.shape}; expected "
                           "(n, height, width) images and (n,) labels, the same n")
    return images, labels


def _existing(path: Path) -> Path | None:
    """`path` if it exists, else the same name without .gz if that exists."""
    if path.exists():
        return path
    raw = path.with_suffix("")
    return raw if raw.exists() else None


def ensure_file(root: Path, name: str, download: bool, mirrors: Sequence[str],
                timeout: float = 10.0) -> Path:
    """The verified path of canonical file `name` in `root`, downloading it if allowed.
    A mirror that fails, answers garbage or stays silent for `timeout` seconds is
    reported on stderr and the next one is tried."""
    path = root / name
    expected_sha, _ = MNIST_FILES[name]
    if path.exists():
        actual = _sha256(path.read_bytes())
        if actual != expected_sha:
            raise DatasetError(f"mnist: {path} fails its checksum (SHA-256 {actual}, expected "
                               f"{expected_sha}); delete it to download it again")
        return path
    if not download:
        raise DatasetError(f"mnist: {path} is missing and download=False; put the canonical "
                           f"file {name} in {root}")
    root.mkdir(parents=True, exist_ok=True)
    errors = []
    for mirror in mirrors:
        try:
            payload = _download(mirror + name, timeout)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            # refused, timed out, or not speaking HTTP at all: say so and try the next one
            reason = getattr(err, "reason", None) or str(err) or type(err).__name__
            errors.append(f"{mirror}{name}: {reason}")
            print(f"mnist: {mirror} failed ({reason}); trying the next mirror",
                  file=sys.stderr)
            continue
        if _sha256(payload) != expected_sha:
            errors.append(f"{mirror}{name}: checksum mismatch (got SHA-256 "
                          f"{_sha256(payload)})")
            continue
        atomic_write_bytes(path, payload)
        return path
    raise DatasetError(f"mnist: could not download {name} ({'; '.join(errors)}). Offline? "
                       f"Put the canonical files {', '.join(MNIST_FILES)} in {root} (or set "
                       f"{CACHE_ENV} to the folder that holds them)")


def _sha256(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()


def _download(url: str, timeout: float) -> bytes:
    """Fetch `url` whole into memory, with a tqdm progress bar when tqdm is installed."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        total = int(response.headers.get("Content-Length") or 0) or None
        bar = _progress_bar(total, url.rsplit("/", 1)[-1])
        chunks = []
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
    return b"".join(chunks)


def _progress_bar(total: int | None, name: str) -> Any:
    try:
        from tqdm.auto import tqdm  # a widget in notebooks, text in a terminal
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, leave=False)


# ----------------------------------------------------------------------------------------
# Preparing and batching
# ----------------------------------------------------------------------------------------


def to_inputs(images: np.ndarray, dtype: type = np.float32) -> np.ndarray:
    """uint8 images (n, 28, 28) → rows of pixel intensities in [0, 1], shape (n, 784)."""
    return (images.reshape(len(images), -1) / 255.0).astype(dtype)


def one_hot(labels: np.ndarray, classes: int = 10, dtype: type = np.float32) -> np.ndarray:
    """Labels (n,) → rows y with y[label] = 1 and 0 elsewhere: the lessons' target vectors."""
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ValueError(f"one_hot: labels must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"one_hot: labels must lie in [0, {classes}), got values from "
                         f"{labels.min()} to {labels.max()}")
    return np.eye(classes, dtype=dtype)[labels]


def random_shift(images: np.ndarray, max_shift: int = 1,
                 seed: int | np.random.Generator | None = None) -> np.ndarray:
    """Each image moved by its own random offset of up to `max_shift` pixels in each
    direction, empty borders filled with 0: the same digits, slightly moved. Training on
    fresh shifts every epoch is more data for free (a "7" one pixel left is still a "7")."""
    rng = random_generator(seed)
    count, height, width = images.shape
    padded = np.pad(images, ((0, 0), (max_shift, max_shift), (max_shift, max_shift)))
    dy, dx = rng.integers(0, 2 * max_shift + 1, size=(2, count))
    rows = dy[:, None] + np.arange(height)  # which padded rows each output row reads
    columns = dx[:, None] + np.arange(width)
    return padded[np.arange(count)[:, None, None], rows[:, :, None], columns[:, None, :]]


def iterate_batches(*arrays: np.ndarray | Sequence[Any], batch_size: int,
                    shuffle: bool = False, seed: int | np.random.Generator | None = None,
                    drop_last: bool = False) -> Iterator[tuple[np.ndarray, ...]]:
    """Matching batches of rows from `arrays` (numpy arrays; lists and tuples are made
    arrays first), each a tuple of numpy arrays. The arguments are checked at the call.

    With `shuffle`, the rows are visited in a random order drawn from `seed`. The last
    batch holds what is left (fewer than `batch_size` rows) unless `drop_last=True`, which
    leaves it out, as PyTorch's DataLoader does.
    """
    if not arrays:
        raise ValueError("iterate_batches: give at least one array")
    rows = [_rows(i, a) for i, a in enumerate(arrays)]
    count = len(rows[0])
    if any(len(a) != count for a in rows):
        raise ValueError(f"iterate_batches: arrays have different lengths "
                         f"{[len(a) for a in rows]}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) \
            or batch_size < 1:
        raise ValueError(f"iterate_batches: batch_size must be a positive integer, got "
                         f"{batch_size!r}")
    order = random_generator(seed).permutation(count) if shuffle else np.arange(count)
    if drop_last:
        order = order[:count - count % batch_size]
    return (tuple(a[order[start:start + batch_size]] for a in rows)
            for start in range(0, len(order), batch_size))


def _rows(position: int, array: Any) -> np.ndarray:
    """Argument `position` of iterate_batches as an array of at least one axis (rows)."""
    if isinstance(array, (list, tuple)):
        array = np.asarray(array)
    if not isinstance(array, np.ndarray) or array.ndim == 0:
        raise TypeError(f"iterate_batches: argument {position} must be a numpy array (or a "
                        f"list) of rows, got {type(array).__name__}"
                        + (" with no axes" if isinstance(array, np.ndarray) else ""))
    return array


# ----------------------------------------------------------------------------------------
# Names and characters: the data of makemore (character-level language models)
# ----------------------------------------------------------------------------------------

NAMES_FILE = "names.txt.gz"
# SHA-256 of the uncompressed text (makemore's names.txt), so a rebuilt .gz still passes.
NAMES_SHA256 = "0a30b5557f192f32ab962680889aac5f6fda0f4cecf40a6d0b5694f58ea8cc4d"


def names() -> list[str]:
    """The 32,033 lowercase first names (a–z) of makemore, in the file's order.

    Shipped gzipped inside the package, so no network is needed; the text is checked
    against its SHA-256 on every call. The list has duplicates (29,494 distinct names), as
    makemore's has. See `tinygrad_edu/data/ATTRIBUTION.md` for where they come from
    (MIT licence, `LICENSE-makemore.txt`).
    """
    path = DATA_DIR / NAMES_FILE
    try:
        text = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise DatasetError(f"names: {path} does not exist; reinstall tinygrad_edu") from None
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise DatasetError(f"names: {path} is not a readable gzip file ({err}); "
                           "reinstall tinygrad_edu") from None
    actual = _sha256(text)
    if actual != NAMES_SHA256:
        raise DatasetError(f"names: {path} fails its checksum (SHA-256 of the text {actual}, "
                           f"expected {NAMES_SHA256}); reinstall tinygrad_edu")
    return text.decode("ascii").split("\n")  # the file has no newline after the last name


def text_lines(path: str | os.PathLike) -> list[str]:
    """The items of a UTF-8 text file, one a line: each line stripped of surrounding
    whitespace, empty lines skipped (as makemore reads its input file).

    A missing file, a folder, a file that is not UTF-8 or one with no item at all gives
    `DatasetError` naming the file.
    """
    path = Path(path)
    if path.is_dir():
        raise DatasetError(f"text_lines: {path} is a folder; pass a text file with one "
                           "item a line")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"text_lines: {path} does not exist") from None
    except UnicodeDecodeError as err:
        raise DatasetError(f"text_lines: {path} is not UTF-8 text (byte {err.start}: "
                           f"{err.reason})") from None
    except OSError as err:
        raise DatasetError(f"text_lines: cannot read {path} ({err.strerror})") from None
    lines = [line.strip() for line in text.splitlines()]
    items = [line for line in lines if line]
    if not items:
        raise DatasetError(f"text_lines: {path} holds no items (it is empty or only blank "
                           "lines); expected one item a line")
    return items


class CharVocabulary:
    """Characters ↔ integers, makemore's way: the sorted characters of `words` get 1, 2, …
    and index 0 is the end-of-word token `end_token` ('.'), which also pads the context
    before a word's first character.

    `stoi` maps a character to its index and `itos` an index to its character (both
    include the end token); `len(vocabulary)` is the number of indices, the size of a
    model's embedding table and output layer (27 for the names).
    """

    END = 0  # the end token's index

    def __init__(self, words: Sequence[str], end_token: str = ".") -> None:
        words = [] if isinstance(words, str) else list(words)  # a lone string is refused
        if not words or not all(isinstance(word, str) for word in words):
            raise TypeError("CharVocabulary: words must be a non-empty list of strings (one "
                            "per word)")
        if not isinstance(end_token, str) or len(end_token) != 1:
            raise ValueError(f"CharVocabulary: end_token must be one character, got "
                             f"{end_token!r}")
        self.chars = sorted(set("".join(words)))
        if not self.chars:
            raise ValueError("CharVocabulary: the words hold no characters")
        if end_token in self.chars:
            raise ValueError(f"CharVocabulary: the words use the end token {end_token!r}; "
                             "pass end_token= a character they never use, e.g. '\\n'")
        self.end_token = end_token
        self.stoi = {char: i + 1 for i, char in enumerate(self.chars)}
        self.stoi[end_token] = self.END
        self.itos = {i: char for char, i in self.stoi.items()}

    def __len__(self) -> int:
        return len(self.stoi)

    def __repr__(self) -> str:
        symbols = "".join(self.itos[i] for i in range(len(self)))
        return f"CharVocabulary({len(self)} symbols: {symbols!r})"

    def encode(self, word: str) -> list[int]:
        """The indices of `word`'s characters (no end token is added); a character the
        vocabulary does not know raises ValueError naming it."""
        if not isinstance(word, str):
            raise TypeError(f"CharVocabulary.encode: word must be a string, got "
                            f"{type(word).__name__}")
        try:
            return [self.stoi[char] for char in word]
        except KeyError as err:
            char = err.args[0]
            raise ValueError(f"CharVocabulary.encode: character {char!r} (U+{ord(char):04X}) "
                             f"in {word!r} is not in the vocabulary "
                             f"{''.join(self.chars)!r}") from None

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """The word spelled by `ids` (a list, a 1-D integer array or Tensor): leading end
        tokens (the context padding, the start token of sampling) are skipped and the word
        stops at the next end token, as makemore crops its samples."""
        array = np.asarray(ids)
        if array.ndim != 1 or (array.size and array.dtype.kind not in "iu"):
            raise ValueError(f"CharVocabulary.decode: ids must be a 1-D sequence of integers, "
                             f"got shape {array.shape} of {array.dtype}")
        if array.size and (array.min() < 0 or array.max() >= len(self)):
            raise ValueError(f"CharVocabulary.decode: ids must lie in [0, {len(self)}), got "
                             f"values from {array.min()} to {array.max()}")
        word = array[np.argmax(array != self.END):] if array.any() else array[:0]
        ends = np.flatnonzero(word == self.END)
        word = word[:ends[0]] if ends.size else word
        return "".join(self.itos[i] for i in word.tolist())


def next_character_examples(words: Sequence[str], vocabulary: CharVocabulary,
                            block_size: int) -> tuple[np.ndarray, np.ndarray]:
    """makemore's training examples: for every character of every word, and for the end
    token after it, the `block_size` characters before it and the character itself.

    Returns X of shape (n, block_size) and Y of shape (n,), int64; a context reaching
    before a word's start is padded with the end token (index 0). For "emma" and
    block_size 3: `...`→e, `..e`→m, `.em`→m, `emm`→a, `mma`→`.` — 5 examples.
    """
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) \
            or block_size < 1:
        raise ValueError(f"next_character_examples: block_size must be a positive integer, "
                         f"got {block_size!r}")
    if isinstance(words, str):
        raise TypeError("next_character_examples: words must be a list of strings, got a "
                        "single string")
    contexts, targets = [], []
    for word in words:
        ids = vocabulary.encode(word)
        if vocabulary.END in ids:
            raise ValueError(f"next_character_examples: word {word!r} holds the end token "
                             f"{vocabulary.end_token!r}")
        context = [vocabulary.END] * block_size
        for target in [*ids, vocabulary.END]:
            contexts.append(context)
            targets.append(target)
            context = context[1:] + [target]  # slide the window one character on
    X = np.array(contexts, dtype=np.int64).reshape(len(contexts), block_size)
    return X, np.array(targets, dtype=np.int64)


def split_words(words: Sequence[str], test_size: int | None = None,
                seed: int | np.random.Generator | None = 0) -> tuple[list[str], list[str]]:
    """The words shuffled with `seed` and cut in two: (train, test), `test_size` words in
    test. The default is makemore's: 10% of the words, at most 1,000 (1,000 of the names).
    The default seed 0 gives the same split on every run, so test losses compare.

    Each word lands on one side only; a word listed twice (the names have duplicates)
    may land on both.
    """
    if test_size is None:
        test_size = max(1, min(1000, len(words) // 10))
    if isinstance(test_size, bool) or not isinstance(test_size, (int, np.integer)) \
            or not 0 < test_size < len(words):
        raise ValueError(f"split_words: test_size must be an integer in [1, {len(words)}) for "
                         f"{len(words)} words, got {test_size!r}")
    order = random_generator(seed).permutation(len(words)).tolist()
    cut = len(words) - test_size
    return [words[i] for i in order[:cut]], [words[i] for i in order[cut:]]
