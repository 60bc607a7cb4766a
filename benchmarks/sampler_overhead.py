"""Sampler overhead: wall time of a full sampling run / (NFE x one network evaluation).

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


def median_time(fn, repeats=5):
    jax.block_until_ready(fn())
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn())
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def network_time(params, x, n_inner=50):
    """One evaluation, timed as a jitted loop of n_inner dependent evaluations (no dispatch cost)."""

    @jax.jit
    def many(x):
        def body(_, y):
            return mlp(params, y, jnp.full((y.shape[0],), 0.5, y.dtype)) * 0.5 + y * 0.5

        return jax.lax.fori_loop(0, n_inner, body, x)

    return median_time(lambda: many(x)) / n_inner


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    params = init_mlp(jax.random.PRNGKey(0))
    sched = S.VPLinear()
    den = Denoiser(mlp, sched, "eps")
    x = jax.random.normal(jax.random.PRNGKey(1), (args.batch, DIM), jnp.float32)
    one = network_time(params, x)
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
            out = run()
            wall = median_time(lambda: run().samples)
            cells.append(f"{wall / (int(out.nfe) * one):.3f}")
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
