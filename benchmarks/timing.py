"""Timing shared by the benchmarks: every figure is a minimum over repeats after a warm-up.

Two JAX programs that are compared (a sampler and its network alone) are timed in alternation,
so that a noisy moment on this 2-core machine hits both. A JAX and a torch program are timed one
after the other instead: alternating them cost each 5-15% in a one-off check on this CPU (the
3 x 64 MLP at batch 10k, alone and in alternation), as each one's thread pool is still spinning
when the other starts (torch's OpenMP threads spin after a parallel region; OMP_WAIT_POLICY=PASSIVE
stops that but slows torch itself by ~30%)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import jax


def min_times(
    fns: Sequence[Callable[[], object]],
    repeats: int = 7,
    interleave: bool = True,
    warmup_seconds: float = 0.0,
) -> list[float]:
    """Min wall time in seconds of each fn over `repeats` calls after one warm-up call (or warm-up
    calls for `warmup_seconds`: torch's first calls of a small op here run 10-100x slower than
    later ones, 12 ms then 0.1 ms for a GroupNorm forward), the fns timed in alternation (fn 1,
    fn 2, ..., fn 1, fn 2, ...) or one after the other. A fn's result is waited for with
    jax.block_until_ready (torch results are ready when returned on the CPU)."""
    if not interleave:
        return [min_times([fn], repeats, warmup_seconds=warmup_seconds)[0] for fn in fns]
    for fn in fns:
        end = time.perf_counter() + warmup_seconds
        jax.block_until_ready(fn())
        while time.perf_counter() < end:
            jax.block_until_ready(fn())
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            best[k] = min(best[k], time.perf_counter() - start)
    return best
