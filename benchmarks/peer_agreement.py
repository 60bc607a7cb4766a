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

from benchmarks.peers import emit, k_diffusion_sampling, mlp_pair
from diffjax import Denoiser, FlaxNetwork
from diffjax.models import DDPMIndexInput, TimeInput
from diffjax.parameterisations import EpsPrediction, VelocityPrediction
from diffjax.samplers import (
    DDIM,
    DDPMTimestepGrid,
    DPMSolverPP,
    Euler,
    Heun,
    KarrasGrid,
    UniPC,
    sample,
    time_grid,
)
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


# peer scheduler -> diffjax sampler: DDIM(eta=0) is Euler in (sigma/alpha, x/alpha)
DIFFJAX_FOR_DIFFUSERS = {
    "ddim": DDIM(),
    "euler": DDIM(),
    "heun": Heun(),
    "dpmpp_2m": DPMSolverPP(order=2),
    "unipc": UniPC(order=2),
}
DIFFJAX_FOR_K_DIFFUSION = {
    "sample_euler": DDIM(),
    "sample_heun": Heun(),
    "sample_dpmpp_2m": DPMSolverPP(order=2),
}
TRAILING = DDPMTimestepGrid()


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

    x = torch.from_numpy(x_T) * torch.sqrt(sigmas[0] ** 2 + 1)  # x~ = x_T / alpha_T
    with torch.no_grad():
        out = getattr(kd, name)(denoiser, x, sigmas, disable=True)
    return out.numpy().astype(np.float64)


def flow_euler(net, model, params, x_T, n):
    """diffusers' FlowMatchEulerDiscreteScheduler vs diffjax Euler on rectified flow (velocity)."""
    import diffusers as d

    sched = d.FlowMatchEulerDiscreteScheduler(num_train_timesteps=T, shift=1.0)
    ref = diffusers_loop(sched, net, x_T, n)
    sigmas = sched.sigmas.numpy().astype(np.float64)  # 1 .. sigma_min, then 0
    den = Denoiser(FlaxNetwork(model), RectifiedFlow(), VelocityPrediction(), TimeInput(scale=T))
    ours = sample(den, jnp.asarray(x_T), sigmas, Euler(), params=params)
    return rel_diff(ours.samples, ref)


def run(steps=(10, 25, 50)) -> list[tuple[str, str, int, float]]:
    model, params, net = mlp_pair(DIM)
    schedule = DiscreteDDPM(num_timesteps=T)
    den = Denoiser(FlaxNetwork(model), schedule, EpsPrediction(), DDPMIndexInput())
    x_T = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (BATCH, DIM)), np.float32)
    rows = []
    for n in steps:
        grid = time_grid(schedule, n, TRAILING)
        ours = {}
        for peer, sampler in DIFFJAX_FOR_DIFFUSERS.items():
            if sampler not in ours:
                ours[sampler] = np.asarray(
                    sample(den, jnp.asarray(x_T), grid, sampler, params=params).samples
                )
            ref = diffusers_loop(diffusers_schedulers()[peer](), net, x_T, n)
            rows.append((f"diffusers {peer}", repr(sampler), n, rel_diff(ours[sampler], ref)))
        for peer, sampler in DIFFJAX_FOR_K_DIFFUSION.items():
            ref = k_diffusion_run(peer, net, schedule, grid, x_T)
            rows.append((f"k-diffusion {peer}", repr(sampler), n, rel_diff(ours[sampler], ref)))
        rows.append(
            ("diffusers flow-match euler", "euler (RF)", n, flow_euler(net, model, params, x_T, n))
        )
    return rows


# ---- the same samplers on an exact Gaussian-mixture denoiser, against the exact ODE solution ----

GMM_WEIGHTS = (0.3, 0.5, 0.2)
GMM_MEANS = ((-2.0, 0.0), (1.5, 1.5), (0.5, -2.0))
GMM_VARIANCES = (0.05, 0.2, 0.1)  # isotropic components


def torch_gmm_x0(x, alpha, sigma):
    """E[x0 | x_t] for the isotropic mixture, in torch float64 (alpha, sigma scalars or (batch,))."""
    import torch

    w = torch.tensor(GMM_WEIGHTS, dtype=torch.float64)
    mu = torch.tensor(GMM_MEANS, dtype=torch.float64)
    s2 = torch.tensor(GMM_VARIANCES, dtype=torch.float64)
    alpha = torch.as_tensor(alpha, dtype=torch.float64).reshape(-1, 1, 1)
    sigma = torch.as_tensor(sigma, dtype=torch.float64).reshape(-1, 1, 1)
    var = alpha**2 * s2[None, :, None] + sigma**2  # (batch or 1, K, 1)
    diff = x[:, None, :] - alpha * mu[None]  # (batch, K, d)
    logp = (
        torch.log(w)[None]
        - 0.5 * (diff**2 / var).sum(-1)
        - 0.5 * x.shape[1] * torch.log(var[..., 0])
    )
    r = torch.softmax(logp, dim=1)[..., None]
    post = mu[None] + alpha * s2[None, :, None] / var * diff
    return (r * post).sum(1)


def gmm_errors(steps=(5, 10, 20, 50), batch=2000):
    """Mean ||x - x_exact|| of each sampler (diffjax and the peer) at each number of steps."""
    import torch

    from diffjax import analytic

    with jax.enable_x64(True):
        schedule = DiscreteDDPM(num_timesteps=T)
        gmm = analytic.gaussian_mixture(
            jnp.asarray(GMM_WEIGHTS), jnp.asarray(GMM_MEANS), jnp.asarray(GMM_VARIANCES)
        )
        den = analytic.exact_denoiser(gmm, schedule)
        x_T = np.asarray(jax.random.normal(jax.random.PRNGKey(1), (batch, 2), jnp.float64))
        # the ODE solution is parameterisation-free: a fine Heun solve in sigma/alpha, from t = 1
        # to t = 0, with the denoiser exact down to sigma = 0
        unclipped = DiscreteDDPM(num_timesteps=T, t_min=1e-12)
        fine = analytic.exact_denoiser(gmm, unclipped)
        grid = time_grid(unclipped, 4000, KarrasGrid())
        exact = np.asarray(sample(fine, jnp.asarray(x_T), grid, Heun()).samples)
        abar = np.exp(np.asarray(schedule.log_alpha_bar(jnp.asarray(np.arange(1, T + 1) / T))))
        table_t = torch.tensor(abar, dtype=torch.float64)

        class GmmEps(torch.nn.Module):  # diffusers' view: (x_t, 0-based timestep) -> eps
            def forward(self, x, t):
                a = table_t[t.long()]
                alpha, sigma = a.sqrt(), (1 - a).sqrt()
                return (x - alpha[:, None] * torch_gmm_x0(x, alpha, sigma)) / sigma[:, None]

        def kd_denoiser(x, s):  # k-diffusion's view: (x / alpha, sigma / alpha) -> x0
            c = 1.0 / torch.sqrt(s**2 + 1.0)
            return torch_gmm_x0(x * c[:, None], c, s * c)

        kd = k_diffusion_sampling()
        rows = []
        err = lambda x: float(np.mean(np.linalg.norm(np.asarray(x) - exact, axis=1)))
        for n in steps:
            grid = time_grid(schedule, n, TRAILING)
            s_tab = np.sqrt((1 - abar) / abar)
            sigmas = torch.tensor(
                np.append(s_tab[np.round(grid[:-1] * T).astype(int) - 1], 0.0), dtype=torch.float64
            )
            for peer, sampler in DIFFJAX_FOR_DIFFUSERS.items():
                ours = sample(den, jnp.asarray(x_T), grid, sampler).samples
                theirs = diffusers_loop(diffusers_schedulers()[peer](), GmmEps(), x_T, n)
                rows.append((f"diffusers {peer}", repr(sampler), n, err(ours), err(theirs)))
            for peer, sampler in DIFFJAX_FOR_K_DIFFUSION.items():
                ours = sample(den, jnp.asarray(x_T), grid, sampler).samples
                with torch.no_grad():
                    x = torch.from_numpy(x_T) * torch.sqrt(sigmas[0] ** 2 + 1)
                    theirs = getattr(kd, peer)(kd_denoiser, x, sigmas, disable=True).numpy()
                rows.append((f"k-diffusion {peer}", repr(sampler), n, err(ours), err(theirs)))
    return rows


GMM_NOTE = "\nThe 1e-4 relative differences against diffusers' Euler and Heun are float32 arithmetic inside those schedulers: they store sigmas in float32 and cast the sample to float32 in `step()` (`scheduling_euler_discrete.py`: `sample = sample.to(torch.float32)`), so this float64 problem runs in float32 there; k-diffusion, float64 throughout, matches diffjax to 1e-13 on the same methods, and both sit at the same distance from the exact solution. DDIM, DPM-Solver++ and UniPC keep the sample's dtype and differ only by diffusers' float32 alpha-bar table (<= 2e-5).\n"


def gmm_table(rows) -> str:
    lines = [
        "| peer | diffjax method | steps | diffjax error | peer error | relative difference |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p} | {m} | {n} | {a:.4e} | {b:.4e} | {abs(a - b) / b:.1e} |" for p, m, n, a, b in rows
    ]
    return "\n".join(lines) + "\n"


# ---- FID's Inception-v3: diffjax's Flax port against pytorch-fid, same (random) weights ----


INCEPTION_INTRO = (
    "\nFID's Inception-v3 (`diffjax.networks.inception`) against pytorch-fid's, with the same "
    "random weights (the real ones cannot be downloaded here; BatchNorm statistics measured on "
    "random images so that features depend on the input), 24 random images per set resized to "
    "299 x 299:\n\n"
)


def inception_rows(sizes=(8, 32, 64), batch=24, seed=0):
    """Per input size: max relative difference of the 2048-d pool features of the same images, and
    the FID between two image sets by each library (its own features and Frechet formula)."""
    import torch

    from benchmarks.peers import import_torchvision, pytorch_fid_inception
    from diffjax.metrics import frechet_distance, inception_features
    from diffjax.networks.inception import variables_from_torch_state_dict

    import_torchvision()  # before pytorch_fid, which imports it
    from pytorch_fid.fid_score import calculate_frechet_distance

    model, state = pytorch_fid_inception(seed)
    variables = variables_from_torch_state_dict(state)
    rng = np.random.default_rng(seed)
    rows = []
    for hw in sizes:
        a = rng.uniform(-1, 1, (batch, hw, hw, 3)).astype(np.float32)
        b = np.clip(a + rng.normal(0, 0.3, a.shape), -1, 1).astype(np.float32)
        feats = []
        for images in (a, b):
            with torch.no_grad():
                ref = model(torch.from_numpy(images.transpose(0, 3, 1, 2)))[0][:, :, 0, 0].numpy()
            feats.append((ref.astype(np.float64), inception_features(variables, images)))
        (ra, oa), (rb, ob) = feats
        fid_ref = calculate_frechet_distance(
            ra.mean(0), np.cov(ra, rowvar=False), rb.mean(0), np.cov(rb, rowvar=False)
        )
        rows.append((hw, rel_diff(oa, ra), frechet_distance(oa, ob), float(fid_ref)))
    return rows


def inception_table(rows) -> str:
    lines = [
        "| input size | features: max rel. diff | FID diffjax | FID pytorch-fid | rel. diff |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {hw}x{hw} | {d:.1e} | {a:.6g} | {b:.6g} | {abs(a - b) / b:.1e} |"
        for hw, d, a, b in rows
    ]
    return "\n".join(lines) + "\n"


def table(rows) -> str:
    lines = ["| peer | diffjax method | steps | max rel. diff |", "|---|---|---|---|"]
    lines += [f"| {p} | {m} | {n} | {d:.1e} |" for p, m, n, d in rows]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    text = (
        table(run())
        + "\nExact Gaussian-mixture denoiser, mean error to the exact ODE solution:\n\n"
    )
    text += gmm_table(gmm_errors()) + GMM_NOTE
    text += INCEPTION_INTRO + inception_table(inception_rows())
    emit(text, args.out)


if __name__ == "__main__":
    main()
