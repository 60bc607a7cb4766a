"""Adaptive probability-flow ODE solves with diffrax (Tsit5 or Dopri5 with a PID step controller)."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.samplers.base import pf_velocity

OPTIONS = {"solver": "tsit5", "rtol": 1e-5, "atol": 1e-5, "max_steps": 4096}
SOLVERS = ("tsit5", "dopri5")


def solve(denoiser, schedule, x_init, grid, params, cond, options):
    """Integrates dx/dt = alpha' x0_hat + sigma' eps_hat from grid[0] to max(grid[-1], t_min),
    then returns x0_hat if grid[-1] is below t_min (one more evaluation). Returns (x, nfe)."""
    check_choice("solver", options["solver"], SOLVERS)
    return _solve(denoiser, schedule, tuple(sorted(options.items())), params, x_init, grid, cond)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _solve(denoiser, schedule, options, params, x_init, grid, cond):
    import diffrax

    opts = dict(options)
    t0, t_last = grid[0], grid[-1]
    t1 = jnp.maximum(t_last, schedule.t_min).astype(x_init.dtype)

    def field(t, x, args):
        return pf_velocity(denoiser, schedule, params, x, t, cond)

    solver = diffrax.Tsit5() if opts["solver"] == "tsit5" else diffrax.Dopri5()
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        solver,
        t0=t0,
        t1=t1,
        dt0=(t1 - t0) / 64,
        y0=x_init,
        stepsize_controller=diffrax.PIDController(rtol=opts["rtol"], atol=opts["atol"]),
        max_steps=opts["max_steps"],
    )
    x = sol.ys[-1]
    nfe = 6 * sol.stats["num_steps"] + 1
    needs_final = t_last < t1
    x = jnp.where(needs_final, denoiser(params, x, t1, cond)[0], x)
    return x, (nfe + needs_final.astype(nfe.dtype)).astype(jnp.int32)
