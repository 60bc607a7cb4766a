"""Sampler overhead: wall time of a full sampling run / (NFE x one network evaluation).

The denominator is measured in the same run, alternating with the sampler: a jitted loop of
exactly NFE dependent network evaluations (minimum of 7 timings each).

An MLP denoiser (3 hidden layers of 64, SiLU, taking (x, t); eps-prediction on the VP schedule)
at batch 10,000 in float32 on this CPU. 1.00 means the loop adds nothing beyond the network.
Run: python -m benchmarks.sampler_overhead [--batch 10000] [--out docs/sampler_overhead.md]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from diffjax import Denoiser
from diffjax import schedules as S
from diffjax.samplers import METHODS, sample, time_grid

WIDTH, DEPTH, DIM = 64, 3, 2


def init_mlp(key):
    sizes = [DIM + 1] + [WIDTH] * DEPTH + [DIM]
    keys = jax.random.split(key, len(sizes) - 1)
    return [
        (jax.random.normal(k, (a, b), jnp.float32) / np.sqrt(a), jnp.zeros((b,), jnp.float32))
        for k, a, b in zip(keys, sizes[:-1], sizes[1:], strict=True)
    ]


def mlp(params, x, t, cond=None):
    h = jnp.concatenate([x, t[:, None]], axis=1)
    for w, b in params[:-1]:
        h = jax.nn.silu(h @ w + b)
    w, b = params[-1]
    return h @ w + b


def interleaved_min_times(fns, repeats=7):
    """Min wall time of each fn, timed in alternation (this 2-core machine is noisy)."""
    for fn in fns:
        jax.block_until_ready(fn())
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            start = time.perf_counter()
            jax.block_until_ready(fn())
            best[k] = min(best[k], time.perf_counter() - start)
    return best


def network_loop(params, x, n):
    """n dependent network evaluations in one jitted loop: the baseline with no sampler at all."""

    @jax.jit
    def many(x):
        def body(_, y):
            return mlp(params, y, jnp.full((y.shape[0],), 0.5, y.dtype)) * 0.5 + y * 0.5

        return jax.lax.fori_loop(0, n, body, x)

    return lambda: many(x)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    params = init_mlp(jax.random.PRNGKey(0))
    sched = S.VPLinear()
    den = Denoiser(mlp, sched, "eps")
    x = jax.random.normal(jax.random.PRNGKey(1), (args.batch, DIM), jnp.float32)
    one = interleaved_min_times([network_loop(params, x, 50)])[0] / 50
    rows = [
        f"One network evaluation at batch {args.batch}: {one * 1e3:.3f} ms",
        "",
        "| method | NFE 10 | NFE 50 | NFE 200 |",
        "|---|---|---|---|",
    ]
    for method in METHODS:
        cells = []
        for target in (10, 50, 200):
            per_step = {
                "midpoint": 2,
                "rk4": 4,
                "heun": 2,
                "dpmpp_2s": 2,
                "dpm_solver": 2,
                "pc": 2,
            }.get(method, 1)
            steps = max(1, target // per_step)
            grid = time_grid(sched, steps, t_end=1e-3)
            run = lambda grid=grid: sample(
                den, x, grid, method, params=params, key=jax.random.PRNGKey(2)
            )
            nfe = int(run().nfe)
            wall, base = interleaved_min_times(
                [lambda: run().samples, network_loop(params, x, nfe)]
            )
            cells.append(f"{wall / base:.3f}")
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    table = "\n".join(rows)
    print(table)
    if args.out:
        with open(args.out, "w") as f:
            f.write(
                "# Sampler overhead\n\nCommand: `python -m benchmarks.sampler_overhead --out "
                f"{args.out}`\n\nWall time of a full run / (NFE x one network evaluation); "
                "MLP 3 x 64 SiLU, VP schedule, eps-prediction, float32, 2-core CPU.\n\n"
                + table
                + "\n"
            )


if __name__ == "__main__":
    main()
