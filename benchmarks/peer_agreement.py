"""Benchmark 1: numerical agreement with diffusers and k-diffusion (same weights, noise and grid).

The same 3 x 64 SELU MLP (random weights, eps prediction, fed the 0-based DDPM timestep) in Flax and
in torch; DDPM linear schedule (T = 1000); 'trailing' integer timesteps so that no library
interpolates its schedule between training timesteps; 1000 samples in 8 dimensions, float32.
Reported: max |x_diffjax - x_peer| / max |x_peer| of the final samples.

    .venv-peers/bin/python -m benchmarks.peer_agreement [--out docs/peer_agreement.md]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.peers import k_diffusion_sampling, mlp_pair
from diffjax import Denoiser
from diffjax.samplers import sample, time_grid
from diffjax.schedules import DiscreteDDPM, RectifiedFlow

DIM, BATCH, T = 8, 1000, 1000


def rel_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - b)) / np.max(np.abs(b)))


def diffusers_loop(scheduler, net, x_T: np.ndarray, n: int) -> np.ndarray:
    import torch

    scheduler.set_timesteps(n)
    x = torch.from_numpy(x_T) * getattr(scheduler, "init_noise_sigma", 1.0)
    with torch.no_grad():
        for t in scheduler.timesteps:
            scale = getattr(scheduler, "scale_model_input", None)  # flow matching has none
            inp = scale(x, t) if scale else x
            out = net(inp, t.float().expand(x.shape[0]))
            x = scheduler.step(out, t, x).prev_sample
    return x.numpy().astype(np.float64)


def diffusers_schedulers():
    import diffusers as d

    common = dict(num_train_timesteps=T, beta_start=1e-4, beta_end=0.02, beta_schedule="linear")
    trailing = dict(timestep_spacing="trailing")
    return {
        "ddim": lambda: d.DDIMScheduler(**common, **trailing, clip_sample=False),
        "euler": lambda: d.EulerDiscreteScheduler(**common, **trailing),
        "heun": lambda: d.HeunDiscreteScheduler(**common, **trailing),
        "dpmpp_2m": lambda: d.DPMSolverMultistepScheduler(
            **common, **trailing, algorithm_type="dpmsolver++", solver_order=2
        ),
        "unipc": lambda: d.UniPCMultistepScheduler(**common, **trailing, solver_order=2),
    }


# peer scheduler -> (diffjax method, options): DDIM(eta=0) is Euler in (sigma/alpha, x/alpha)
DIFFJAX_FOR_DIFFUSERS = {
    "ddim": ("ddim", {}),
    "euler": ("ddim", {}),
    "heun": ("heun", {}),
    "dpmpp_2m": ("dpmpp_2m", {}),
    "unipc": ("unipc", {"order": 2}),
}
DIFFJAX_FOR_K_DIFFUSION = {
    "sample_euler": "ddim",
    "sample_heun": "heun",
    "sample_dpmpp_2m": "dpmpp_2m",
}


def k_diffusion_run(name, net, schedule: DiscreteDDPM, grid: np.ndarray, x_T: np.ndarray):
    """k-diffusion's sampler on the same eps network through the VE view x~ = x / alpha."""
    import torch

    kd = k_diffusion_sampling()
    abar_table = np.exp(
        np.asarray(schedule.log_alpha_bar(jnp.asarray(np.arange(1, T + 1) / T)), np.float64)
    )
    sigma_table = np.sqrt((1 - abar_table) / abar_table)
    steps = np.round(grid[:-1] * T).astype(int)  # 1-based timesteps, then t = 0
    sigmas = torch.tensor(np.append(sigma_table[steps - 1], 0.0), dtype=torch.float32)
    log_table = torch.tensor(np.log(sigma_table), dtype=torch.float32)

    def denoiser(x, sigma):
        index = torch.argmin((log_table[None] - sigma.log()[:, None]).abs(), dim=1)
        c_in = 1.0 / torch.sqrt(sigma**2 + 1.0)
        eps = net(x * c_in[:, None], index.float())
        return x - sigma[:, None] * eps

    x = torch.from_numpy(x_T) * sigmas[0]
    with torch.no_grad():
        out = getattr(kd, name)(denoiser, x, sigmas, disable=True)
    return out.numpy().astype(np.float64)


def flow_euler(net, model, params, x_T, n):
    """diffusers' FlowMatchEulerDiscreteScheduler vs diffjax Euler on rectified flow (velocity)."""
    import diffusers as d

    sched = d.FlowMatchEulerDiscreteScheduler(num_train_timesteps=T, shift=1.0)
    ref = diffusers_loop(sched, net, x_T, n)
    sigmas = sched.sigmas.numpy().astype(np.float64)  # 1 .. sigma_min, then 0
    den = Denoiser(lambda p, x, t, c: model.apply(p, x, T * t), RectifiedFlow(), "velocity")
    ours = sample(den, jnp.asarray(x_T), sigmas, "euler", params=params)
    return rel_diff(ours.samples, ref)


def run(steps=(10, 25, 50)) -> list[tuple[str, str, int, float]]:
    model, params, net = mlp_pair(DIM)
    schedule = DiscreteDDPM(num_timesteps=T)
    den = Denoiser(
        lambda p, x, t, c: model.apply(p, x, t), schedule, "eps", noise_conditioning="ddpm_index"
    )
    x_T = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (BATCH, DIM)), np.float32)
    rows = []
    for n in steps:
        grid = time_grid(schedule, n, "trailing")
        ours = {}
        for peer, (method, opts) in DIFFJAX_FOR_DIFFUSERS.items():
            key = (method, tuple(sorted(opts.items())))
            if key not in ours:
                ours[key] = np.asarray(
                    sample(den, jnp.asarray(x_T), grid, method, params=params, **opts).samples
                )
            ref = diffusers_loop(diffusers_schedulers()[peer](), net, x_T, n)
            rows.append((f"diffusers {peer}", method, n, rel_diff(ours[key], ref)))
        for peer, method in DIFFJAX_FOR_K_DIFFUSION.items():
            key = (method, ())
            ref = k_diffusion_run(peer, net, schedule, grid, x_T)
            rows.append((f"k-diffusion {peer}", method, n, rel_diff(ours[key], ref)))
        rows.append(
            ("diffusers flow-match euler", "euler (RF)", n, flow_euler(net, model, params, x_T, n))
        )
    return rows


def table(rows) -> str:
    lines = ["| peer | diffjax method | steps | max rel. diff |", "|---|---|---|---|"]
    lines += [f"| {p} | {m} | {n} | {d:.1e} |" for p, m, n, d in rows]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    text = table(run())
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
