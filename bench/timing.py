"""What the benchmarks share: one timed block of steps, with its page faults, and the
protocol of those that run each system in a process of its own."""

from __future__ import annotations

import multiprocessing
import resource
import statistics
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
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


# The protocol of the benchmarks that run each system in a process of its own (numpy's speed
# depends on the allocator's state, which one system would change for the other): the lead
# process asks each worker in turn for a block of steps, so a slow moment of the machine hits
# every system alike.
def serve_blocks(step: Callable[[], Any], connection: Connection) -> None:
    """In a worker: time `block(step, repeats)` for each `repeats` received, until None."""
    for repeats in iter(connection.recv, None):
        connection.send(block(step, repeats))


def interleaved_blocks(worker: Callable[..., None], systems: list[str], argument: Any,
                       blocks: int, seconds_per_block: float
                       ) -> dict[str, list[tuple[float, float]]]:
    """Start `worker(system, argument, connection)` in a process per system, size each
    system's blocks to about `seconds_per_block`, then take `blocks` turns; returns each
    system's (seconds, page faults) per step of every block."""
    context = multiprocessing.get_context("spawn")
    connections = {}
    for system in systems:
        ours, theirs = context.Pipe()
        context.Process(target=worker, args=(system, argument, theirs), daemon=True).start()
        connections[system] = ours
    repeats = {}
    for system, connection in connections.items():
        connection.send(3)
        repeats[system] = max(3, int(seconds_per_block / connection.recv()[0]))
    samples: dict[str, list[tuple[float, float]]] = {system: [] for system in systems}
    for _ in range(blocks):
        for system, connection in connections.items():
            connection.send(repeats[system])
            samples[system].append(connection.recv())
    for connection in connections.values():
        connection.send(None)
    return samples


def median_ms(samples: dict[str, list[tuple[float, float]]]) -> dict[str, float]:
    """Each system's median milliseconds per step over its blocks (interleaved_blocks')."""
    return {system: statistics.median(s for s, _ in values) * 1e3
            for system, values in samples.items()}
