"""What the op and conv benchmarks share: one timed block of steps, with its page faults."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any


def block(step: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Seconds and minor page faults per step, over `repeats` steps (faults show when the
    allocator handed memory back and the next step touches fresh pages)."""
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    seconds = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    return seconds / repeats, faults / repeats
