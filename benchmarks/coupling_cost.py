"""Cost of one exact minibatch OT coupling (and Sinkhorn, and drawing the batch's pairs from its
plan) at batch 256 / 512 / 1024 on this machine.

Run: python -m benchmarks.coupling_cost   (about 30 s). Prints a markdown table of median
milliseconds per coupling, with scipy's linear_sum_assignment as the baseline of each row.
"""

from __future__ import annotations

import time

import jax
import numpy as np

from diffjax import losses as couplings


def median_ms(fn, repeats=7):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return 1e3 * float(np.median(times))


def main():
    print(
        "| batch | scipy LSA (ms) | POT emd (ms) | speed-up | diffjax exact_ot in jit (ms) | Sinkhorn eps=2 (ms) | pairs from its plan (ms) |"
    )
    print("|---|---|---|---|---|---|---|")
    for batch in (256, 512, 1024):
        kx, ky = jax.random.split(jax.random.PRNGKey(batch))
        x = jax.random.normal(kx, (batch, 2))
        y = jax.random.normal(ky, (batch, 2)) * 3.0
        cost = np.asarray(couplings.squared_distances(x, y), np.float64)
        scipy_ms = median_ms(
            lambda: couplings._couplings._assignment_on_host(cost, couplings.OTSolver.SCIPY)
        )
        pot_ms = median_ms(
            lambda: couplings._couplings._assignment_on_host(cost, couplings.OTSolver.POT)
        )
        jitted = jax.jit(couplings.exact_ot_assignment)
        jit_ms = median_ms(lambda: jitted(x, y))
        sink = jax.jit(lambda a, b: couplings.sinkhorn_plan(a, b, 2.0))
        sink_ms = median_ms(lambda: sink(x, y))
        plan, key = sink(x, y), jax.random.PRNGKey(0)
        pairs = jax.jit(lambda k, p: couplings.sample_plan(k, p, batch))
        pairs_ms = median_ms(lambda: pairs(key, plan))
        print(
            f"| {batch} | {scipy_ms:.1f} | {pot_ms:.1f} | {scipy_ms / pot_ms:.1f}x | {jit_ms:.1f} "
            f"| {sink_ms:.1f} | {pairs_ms:.2f} |"
        )


if __name__ == "__main__":
    main()
