"""Sampler overhead: wall time of a full sampling run / (NFE x one network evaluation).

The denominator is measured in the same run, alternating with the sampler: a jitted loop of
exactly NFE dependent network evaluations (minimum of 7 timings each). An MLP denoiser (3
hidden layers of 64, SiLU, taking (x, t); eps-prediction on the VP schedule) at batch 10,000 in
float32 on this CPU. 1.00 means the loop adds nothing beyond the network.

Run: python -m benchmarks.sampler_overhead [--batch 10000] [--out FILE]; `make bench-peers` puts it in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.timing import min_times
from diffjax import Denoiser, resolve
from diffjax import schedules as S
from diffjax.samplers import sample, time_grid

METHODS = [name for name in resolve.SAMPLERS if name != "adaptive"]

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


def network_loop(params, x, n):
    """n dependent network evaluations in one jitted loop: the baseline with no sampler at all."""

    @jax.jit
    def many(x):
        def body(_, y):
            return mlp(params, y, jnp.full((y.shape[0],), 0.5, y.dtype)) * 0.5 + y * 0.5

        return jax.lax.fori_loop(0, n, body, x)

    return lambda: many(x)


NFE_PER_STEP = {"midpoint": 2, "rk4": 4, "heun": 2, "dpmpp_2s": 2, "dpm_solver": 2, "pc": 2}
TARGET_NFE = (10, 50, 200)
NOTE = """
Where the rest goes: the last column runs each method at NFE 50 with a trivial network (`x * p`),
so what it measures is the sampler's own work per step (the update, the schedule lookups, the
noise draw of the stochastic methods: 20,000 threefry normals cost ~0.1 ms on this CPU; JAX's
'rbg' and 'unsafe_rbg' generators are slower here). At NFE 10 the fixed cost of one call
(dispatch, the key split, copying the result out) is spread over fewer steps. Goal: <= 1.05.
"""


def trivial(params, x, t, cond=None):
    return x * params


def run(batch: int = 10_000, repeats: int = 7):
    """(one evaluation in s, [(method, [overhead at each TARGET_NFE], loop s/step)])."""
    params = init_mlp(jax.random.PRNGKey(0))
    sched = S.VPLinear()
    den, den_trivial = Denoiser(mlp, sched), Denoiser(trivial, sched)
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, DIM), jnp.float32)
    one = min_times([network_loop(params, x, 50)], repeats)[0] / 50
    rows = []
    for method in METHODS:
        cells = []
        for target in TARGET_NFE:
            grid = time_grid(sched, max(1, target // NFE_PER_STEP.get(method, 1)), t_end=1e-3)
            sampler = lambda grid=grid, den=den, p=params: sample(
                den, x, grid, resolve.sampler(method), params=p, key=jax.random.PRNGKey(2)
            )
            nfe = int(sampler().nfe)
            wall, base = min_times(
                [lambda: sampler().samples, network_loop(params, x, nfe)], repeats
            )
            cells.append(wall / base)
            if target == 50:
                bare = lambda: sampler(den=den_trivial, p=jnp.float32(0.5)).samples
                loop = min_times([bare], repeats)[0] / nfe
        rows.append((method, cells, loop))
    return one, rows


def table(one: float, rows, batch: int = 10_000) -> str:
    lines = [
        f"One network evaluation at batch {batch}: {one * 1e3:.3f} ms\n",
        "| method | "
        + " | ".join(f"NFE {n}" for n in TARGET_NFE)
        + " | loop us / NFE, trivial network |",
        "|---|" + "---|" * (len(TARGET_NFE) + 1),
    ]
    for method, cells, loop in rows:
        lines.append(
            f"| {method} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {loop * 1e6:.0f} |"
        )
    return "\n".join(lines) + "\n" + NOTE


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    text = table(*run(args.batch), args.batch)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(
                "# Sampler overhead\n\nCommand: `python -m benchmarks.sampler_overhead --out "
                f"{args.out}`\n\n" + __doc__.split("\n\n")[1] + "\n\n" + text
            )


if __name__ == "__main__":
    main()
