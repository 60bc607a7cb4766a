"""Benchmark 2: sampling speed against the diffusers scheduler loop and k-diffusion, same network.

The 3 x 64 SELU MLP of benchmarks/peers.py (eps prediction, DDPM linear schedule, 'trailing'
timesteps) on 2-D points in float32 on this CPU, both libraries with every core. Each entry is
samples per second (best of `--repeats` timed runs after a warm-up; diffjax's one-off compile time
is reported apart). Ratios are diffjax / peer from the same run. Also: one network evaluation at
each batch against its FLOP floor (matmul FLOPs / the measured jitted f32 matmul peak).
k-diffusion's time at batch 10k is mostly its sigma -> timestep lookup (an argmin over a 10k x 1000
table per call, as its DiscreteEpsDDPMDenoiser does): 10 ms/step on the machine of the first report,
30 ms/step on this one, so its ratios move with the machine's memory system.

    .venv-peers/bin/python -m benchmarks.peer_sampling_speed [--out docs/peer_sampling_speed.md]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.peer_agreement import diffusers_loop, diffusers_schedulers
from benchmarks.peers import emit, k_diffusion_sampling, mlp_pair
from benchmarks.timing import min_times
from diffjax import Denoiser, FlaxNetwork
from diffjax.models import DDPMIndexInput
from diffjax.parameterisations import EpsPrediction
from diffjax.samplers import DDIM, DDPMTimestepGrid, DPMSolverPP, sample, time_grid
from diffjax.schedules import DiscreteDDPM

DIM, T, WIDTH, DEPTH = 2, 1000, 64, 3
# (label, diffusers scheduler, k-diffusion sampler, diffjax sampler); NFE per step 1 for all three
METHODS = (
    ("Euler / DDIM", "euler", "sample_euler", DDIM()),
    ("DPM-Solver++(2M)", "dpmpp_2m", "sample_dpmpp_2m", DPMSolverPP(order=2)),
)


def best_time(fn, repeats: int) -> float:
    return min_times([fn], repeats)[0]


def matmul_peak(repeats: int = 5) -> float:
    """Measured jitted float32 matmul FLOP/s (2048^3): the denominator of the FLOP floor."""
    a = jnp.ones((2048, 2048), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    return 2 * 2048**3 / best_time(lambda: jax.block_until_ready(f(a)), repeats)


def mlp_flops(batch: int) -> int:
    sizes = [DIM + 1] + [WIDTH] * DEPTH + [DIM]
    return 2 * batch * sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def eval_breakdown(params, x, t, repeats: int = 20) -> dict:
    """Where one evaluation's time goes: the same MLP (same parameters) with jax.nn.selu (expm1),
    ReLU, no activation, and its four matmuls alone (no bias, no concatenation of t)."""
    from diffjax.networks import MLP

    out = {}
    for name, act in (("jax.nn.selu", jax.nn.selu), ("relu", jax.nn.relu), ("none", lambda h: h)):
        f = jax.jit(MLP(width=WIDTH, depth=DEPTH, activation=act).apply)
        out[name] = best_time(lambda f=f: jax.block_until_ready(f(params, x, t)), repeats)
    kernels = [leaf for leaf in jax.tree.leaves(params) if leaf.ndim == 2]
    h0 = jnp.concatenate([x, t[:, None]], axis=-1)

    @jax.jit
    def matmuls(h):
        for w in kernels:
            h = h @ w
        return h

    out["matmuls"] = best_time(lambda: jax.block_until_ready(matmuls(h0)), repeats)
    return out


def k_diffusion_denoiser(net, schedule):
    import torch

    abar = np.exp(np.asarray(schedule.log_alpha_bar(jnp.asarray(np.arange(1, T + 1) / T))))
    log_table = torch.tensor(np.log(np.sqrt((1 - abar) / abar)), dtype=torch.float32)

    def denoiser(x, sigma):
        index = torch.argmin((log_table[None] - sigma.log()[:, None]).abs(), dim=1)
        eps = net(x / torch.sqrt(sigma**2 + 1.0)[:, None], index.float())
        return x - sigma[:, None] * eps

    return denoiser, log_table.exp()


def run(batches=(1000, 10_000), steps=(10, 20, 50, 100), repeats=3):
    import torch

    model, params, net = mlp_pair(DIM)
    schedule = DiscreteDDPM(num_timesteps=T)
    den = Denoiser(FlaxNetwork(model), schedule, EpsPrediction(), DDPMIndexInput())
    kd = k_diffusion_sampling()
    kd_den, sigma_table = k_diffusion_denoiser(net, schedule)
    peak = matmul_peak()
    rows, evals = [], []
    for batch in batches:
        x_np = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (batch, DIM)), np.float32)
        x_jax, x_t = jnp.asarray(x_np), torch.from_numpy(x_np)
        t_in = jnp.zeros((batch,), jnp.float32)
        apply = jax.jit(lambda p, x: model.apply(p, x, t_in))
        with torch.no_grad():
            ours_eval, theirs_eval = min_times(
                [lambda: apply(params, x_jax), lambda: net(x_t, torch.zeros(batch))],
                20,
                interleave=False,
            )
        floor = mlp_flops(batch) / peak
        evals.append((batch, ours_eval, theirs_eval, floor, eval_breakdown(params, x_jax, t_in)))
        for n in steps:
            grid = time_grid(schedule, n, DDPMTimestepGrid())
            steps_1b = np.round(grid[:-1] * T).astype(int)
            sigmas = torch.cat([sigma_table[steps_1b - 1], torch.zeros(1)])
            for label, dname, kname, method in METHODS:
                run_ours = lambda: jax.block_until_ready(
                    sample(den, x_jax, grid, method, params=params).samples
                )
                start = time.perf_counter()
                run_ours()
                compile_s = time.perf_counter() - start
                sched = diffusers_schedulers()[dname]()

                def run_k():
                    with torch.no_grad():
                        getattr(kd, kname)(kd_den, x_t * sigmas[0], sigmas, disable=True)

                ours, theirs_d, theirs_k = min_times(
                    [run_ours, lambda: diffusers_loop(sched, net, x_np, n), run_k],
                    repeats,
                    interleave=False,
                )
                rows.append((label, batch, n, ours, theirs_d, theirs_k, compile_s))
    return rows, evals, peak


def tables(rows, evals, peak) -> str:
    lines = [
        "| method | batch | NFE | diffjax samples/s | diffusers samples/s | k-diffusion samples/s "
        "| vs diffusers | vs k-diffusion | diffjax ms/step | diffusers ms/step | compile s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, batch, n, ours, d, k, c in rows:
        lines.append(
            f"| {label} | {batch} | {n} | {batch / ours:,.0f} | {batch / d:,.0f} | {batch / k:,.0f} "
            f"| {d / ours:.1f}x | {k / ours:.1f}x | {1e3 * ours / n:.3f} | {1e3 * d / n:.3f} "
            f"| {c:.2f} |"
        )
    lines += [
        "",
        f"One network evaluation (measured matmul peak {peak / 1e9:.0f} GFLOP/s):",
        "",
        "| batch | diffjax ms | torch ms | FLOP floor ms | diffjax / floor | with jax.nn.selu ms "
        "| with ReLU ms | no activation ms | 4 matmuls alone ms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for batch, ours, theirs, floor, b in evals:
        lines.append(
            f"| {batch} | {1e3 * ours:.3f} | {1e3 * theirs:.3f} | {1e3 * floor:.3f} "
            f"| {ours / floor:.2f} | {1e3 * b['jax.nn.selu']:.3f} | {1e3 * b['relu']:.3f} "
            f"| {1e3 * b['none']:.3f} | {1e3 * b['matmuls']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    text = tables(*run(repeats=args.repeats))
    emit(text, args.out)


if __name__ == "__main__":
    main()
