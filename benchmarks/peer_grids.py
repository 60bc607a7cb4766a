"""The peers' own noise levels, written to tests/data/peer_sigmas.json for the grid tests.

    make peers && .venv-peers/bin/python -m benchmarks.peer_grids

k-diffusion's `get_sigmas_{karras, exponential, polyexponential, vp}` (float64) and diffusers'
DDIMScheduler timesteps and alphas_cumprod for each `timestep_spacing` (with `steps_offset`),
on the linear-beta T = 1000 DDPM. tests/test_peer_grids.py checks diffjax reproduces each.
"""

from __future__ import annotations

import json
import pathlib
import subprocess

OUT = pathlib.Path(__file__).parents[1] / "tests" / "data" / "peer_sigmas.json"
K_CASES = [
    ("karras", 10, {"sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0}),
    ("karras", 25, {"sigma_min": 0.0292, "sigma_max": 14.6146, "rho": 5.0}),
    ("exponential", 12, {"sigma_min": 0.0292, "sigma_max": 14.6146}),
    ("polyexponential", 12, {"sigma_min": 0.002, "sigma_max": 80.0, "rho": 2.0}),
    ("vp", 15, {"beta_d": 19.9, "beta_min": 0.1, "eps_s": 1e-3}),
]
D_CASES = [("leading", 10, 0), ("leading", 50, 1), ("trailing", 10, 0), ("linspace", 25, 0)]


def k_diffusion_cases():
    import torch

    from benchmarks.peers import k_diffusion_sampling

    kd = k_diffusion_sampling()
    rows = []
    for spacing, n, options in K_CASES:
        fn = getattr(kd, f"get_sigmas_{spacing}")
        # float64 where k-diffusion takes the dtype from its inputs (vp: torch's default)
        torch.set_default_dtype(torch.float64)
        sigmas = fn(n, **options).double().numpy().tolist()
        torch.set_default_dtype(torch.float32)
        rows.append({"spacing": spacing, "n": n, "options": options, "sigmas": sigmas})
    return rows


def diffusers_cases():
    import diffusers

    rows = []
    for spacing, n, offset in D_CASES:
        s = diffusers.DDIMScheduler(
            num_train_timesteps=1000,
            beta_schedule="linear",
            beta_start=1e-4,
            beta_end=0.02,
            timestep_spacing=spacing,
            steps_offset=offset,
        )
        s.set_timesteps(n)
        steps = s.timesteps.numpy()
        rows.append(
            {
                "spacing": spacing,
                "n": n,
                "steps_offset": offset,
                "timesteps": steps.tolist(),
                "alphas_cumprod": s.alphas_cumprod.double().numpy()[steps].tolist(),
            }
        )
    return rows


def main():
    import diffusers

    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    data = {
        "command": ".venv-peers/bin/python -m benchmarks.peer_grids",
        "revision": rev.stdout.strip(),
        "diffusers": diffusers_cases(),
        "k_diffusion": k_diffusion_cases(),
        "versions": {"diffusers": diffusers.__version__},
    }
    OUT.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
