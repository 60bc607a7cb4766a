"""Timing shared by the benchmarks: every figure is a minimum over repeats, and numbers that are
compared are timed in alternation, so that a noisy moment on this 2-core machine hits both."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import jax


def interleaved_min_times(fns: Sequence[Callable[[], object]], repeats: int = 7) -> list[float]:
    """Min wall time in seconds of each fn, after one warm-up call each, timed in alternation
    (fn 1, fn 2, ..., fn 1, fn 2, ...). A fn's result is waited for with jax.block_until_ready
    (torch results are ready when returned on the CPU)."""
    for fn in fns:
        jax.block_until_ready(fn())
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            best[k] = min(best[k], time.perf_counter() - start)
    return best
