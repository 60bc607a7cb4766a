"""Measured global convergence order of every deterministic sampler (float64, exact reference).

Data N((0.5, -1), [[1, .3], [.3, .5]]) under the VP schedule; the exact denoiser; integrate the
probability-flow ODE from t = 0.98 to 0.02 with N = 32, 64, 128, 256 steps and compare with the
exact flow map (diffjax.analytic.gaussian_pf_ode_map). Slope of log max-error vs log N.
Run: python -m benchmarks.convergence_orders   (about 1 minute)
"""

from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from diffjax import analytic  # noqa: E402
from diffjax import schedules as S  # noqa: E402
from diffjax.samplers import sample, time_grid  # noqa: E402

MEAN, COV = jnp.array([0.5, -1.0]), jnp.array([[1.0, 0.3], [0.3, 0.5]])
CASES = [
    ("euler", {}, 1, "logsnr"),
    ("ddim", {}, 1, "logsnr"),
    ("midpoint", {}, 2, "logsnr"),
    ("heun", {}, 2, "logsnr"),
    ("rk4", {}, 4, "logsnr"),
    ("dpm_solver", {"order": 1}, 1, "logsnr"),
    ("dpm_solver", {"order": 2}, 2, "logsnr"),
    ("dpm_solver", {"order": 3}, 3, "logsnr"),
    ("dpmpp_2s", {}, 2, "logsnr"),
    ("dpmpp_2m", {}, 2, "logsnr"),
    ("dpmpp_3m", {}, 3, "logsnr"),
    ("dpmpp_3m", {}, 3, "karras"),
    ("unipc", {"order": 1}, 2, "logsnr"),
    ("unipc", {"order": 2}, 3, "logsnr"),
    ("unipc", {"order": 3}, 4, "logsnr"),
    ("unipc", {"order": 3}, 4, "karras"),
]


def main():
    vp = S.VPLinear()
    gauss = analytic.GaussianMixture(jnp.array([1.0]), MEAN[None], COV[None])
    den = analytic.exact_denoiser(gauss, vp)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2), jnp.float64)
    ref = analytic.gaussian_pf_ode_map(MEAN, COV, x, vp(0.98), vp(0.02))
    steps = (32, 64, 128, 256)
    print("| method | options | grid | theory | fitted slope | error at N = 32 / 256 |")
    print("|---|---|---|---|---|---|")
    for method, opts, order, grid in CASES:
        errs = []
        for n in steps:
            out = sample(
                den,
                x,
                time_grid(vp, n, grid, t_start=0.98, t_end=0.02),
                method,
                schedule=vp,
                **opts,
            )
            errs.append(float(jnp.max(jnp.abs(out.samples - ref))))
        slope = -np.polyfit(np.log(steps), np.log(errs), 1)[0]
        print(
            f"| {method} | {opts or '-'} | {grid} | {order} | {slope:.2f} | {errs[0]:.1e} / {errs[-1]:.1e} |"
        )


if __name__ == "__main__":
    main()
