"""How the embedded names were made (kept for provenance; the package never runs it).

    python tinygrad_edu/data/make_names.py ../shared/data/names/names.txt

It checks the SHA-256 of makemore's names.txt (32,033 names, no newline after the last)
and writes names.txt.gz beside this script with a fixed gzip header (mtime 0, no file
name), so the same zlib gives the same bytes on every run. `datasets.names()` checks the
uncompressed text, so a .gz from another zlib passes too.
"""

import gzip
import hashlib
import sys
from pathlib import Path

from tinygrad_edu.datasets import NAMES_FILE, NAMES_SHA256
from tinygrad_edu.utils import atomic_write_bytes


def main(names_txt: str) -> None:
    text = Path(names_txt).read_bytes()
    digest = hashlib.sha256(text).hexdigest()
    if digest != NAMES_SHA256:
        sys.exit(f"{names_txt}: SHA-256 {digest}, expected {NAMES_SHA256}")
    packed = gzip.compress(text, compresslevel=9, mtime=0)
    atomic_write_bytes(Path(__file__).parent / NAMES_FILE, packed)
    count = len(text.split(b"\n"))
    print(f"wrote {NAMES_FILE}: {count:,} names, {len(packed):,} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
