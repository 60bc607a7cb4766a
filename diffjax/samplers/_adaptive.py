"""Adaptive probability-flow ODE solves with diffrax (Tsit5 or Dopri5 with a PID step controller)."""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from diffjax._checks import Choice, check_instance, check_int, check_positive
from diffjax.samplers._base import Sampler, pf_velocity


class AdaptiveSolver(Choice):
    TSIT5 = "tsit5"
    DOPRI5 = "dopri5"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Adaptive(Sampler):
    """Integrates dx/dt = alpha' x0_hat + sigma' eps_hat from grid[0] to max(grid[-1], t_min) with
    diffrax's embedded Runge-Kutta pairs and a PID controller, then returns x0_hat if grid[-1] is
    below t_min (one more evaluation). Only the grid's end points matter."""

    solver: AdaptiveSolver = AdaptiveSolver.TSIT5
    rtol: float = 1e-5
    atol: float = 1e-5
    max_steps: int = 4096

    order = 5
    nfe_per_step = "6 per attempted step + 1"
    paper = "diffrax Tsit5 / Dopri5"

    def __post_init__(self):
        check_instance("solver", self.solver, AdaptiveSolver)
        check_positive("rtol", self.rtol)
        check_positive("atol", self.atol)
        check_int("max_steps", self.max_steps, minimum=1)

    def run(self, denoiser, params, x_init, grid, cond):
        """(samples, nfe) of the adaptive solve."""
        return _solve(denoiser, self, params, x_init, grid, cond)


@functools.partial(jax.jit, static_argnums=(0, 1))
def _solve(denoiser, sampler: Adaptive, params, x_init, grid, cond):
    import diffrax

    t0, t_last = grid[0], grid[-1]
    t1 = jnp.maximum(t_last, denoiser.schedule.t_min).astype(x_init.dtype)

    def field(t, x, args):
        return pf_velocity(denoiser, params, x, t, cond)

    solver = diffrax.Tsit5() if sampler.solver is AdaptiveSolver.TSIT5 else diffrax.Dopri5()
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(field),
        solver,
        t0=t0,
        t1=t1,
        dt0=(t1 - t0) / 64,
        y0=x_init,
        stepsize_controller=diffrax.PIDController(rtol=sampler.rtol, atol=sampler.atol),
        max_steps=sampler.max_steps,
    )
    x = sol.ys[-1]
    nfe = 6 * sol.stats["num_steps"] + 1
    needs_final = t_last < t1
    x = jnp.where(needs_final, denoiser(params, x, t1, cond)[0], x)
    return x, (nfe + needs_final.astype(nfe.dtype)).astype(jnp.int32)
