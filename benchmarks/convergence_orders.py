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

from diffjax import analytic  # noqa: E402
from diffjax import samplers as SA  # noqa: E402
from diffjax import schedules as S  # noqa: E402

MEAN, COV = jnp.array([0.5, -1.0]), jnp.array([[1.0, 0.3], [0.3, 0.5]])
T0, T1 = 0.98, 0.02
STEPS = (32, 64, 128, 256)
LOGSNR, KARRAS = SA.LogSNRGrid(), SA.KarrasGrid()
# (sampler, theoretical global order, grid). Third-order multistep methods converge at their
# order on the Karras grid: on a log-SNR-uniform grid their error ratio per halving stays
# near 10 (a pre-asymptotic effect of equal steps).
CASES = [
    (SA.Euler(), 1, LOGSNR),
    (SA.DDIM(), 1, LOGSNR),
    (SA.Midpoint(), 2, LOGSNR),
    (SA.Heun(), 2, LOGSNR),
    (SA.RK4(), 4, LOGSNR),
    (SA.DPMSolver(order=1), 1, LOGSNR),
    (SA.DPMSolver(order=2), 2, LOGSNR),
    (SA.DPMSolver(order=3), 3, LOGSNR),
    (SA.DPMSolverPP2S(), 2, LOGSNR),
    (SA.DPMSolverPP(order=2), 2, LOGSNR),
    (SA.DPMSolverPP(order=3), 3, LOGSNR),
    (SA.DPMSolverPP(order=3), 3, KARRAS),
    (SA.UniPC(order=1), 2, LOGSNR),
    (SA.UniPC(order=2), 3, LOGSNR),
    (SA.UniPC(order=3), 4, LOGSNR),
    (SA.UniPC(order=3), 4, KARRAS),
    (SA.DPMSolverPP(order=3, d2_term=SA.ThirdOrderTerm.REFERENCE), 2, KARRAS),
    (SA.LMS(order=2), 2, LOGSNR),
    (SA.LMS(order=4), 4, KARRAS),
    (SA.DEIS(order=2), 2, LOGSNR),
    (SA.DEIS(order=3), 3, LOGSNR),
]


def fitted_order(sampler, grid, steps=STEPS):
    """(slope of log max-error vs log N, errors) against the exact flow map of the Gaussian."""
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2), jnp.float64)
    errs = analytic.gaussian_flow_errors(sampler, grid, steps, MEAN, COV, S.VPLinear(), x, T0, T1)
    return analytic.fitted_order(steps, errs), errs


def main():
    print("| sampler | grid | theory | fitted slope | error at N = 32 / 256 |")
    print("|---|---|---|---|---|")
    for sampler, order, grid in CASES:
        slope, errs = fitted_order(sampler, grid)
        print(
            f"| {sampler!r} | {type(grid).__name__} | {order} | {slope:.2f} "
            f"| {errs[0]:.1e} / {errs[-1]:.1e} |"
        )


if __name__ == "__main__":
    main()
