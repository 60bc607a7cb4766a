"""The one sampling entry point: `sample(denoiser, x_init, grid, sampler, ...)`, one jit per run."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance
from diffjax.samplers._adaptive import Adaptive
from diffjax.samplers._base import LoopState, Sampler, StepContext, exact_record
from diffjax.samplers._grids import explicit_grid
from diffjax.samplers._guidance import pairing_ok
from diffjax.schedules import Schedule

Array = jax.Array


class SampleOutput(NamedTuple):
    samples: Array  # (batch, ...) at the last grid time
    nfe: Array  # int32 (), network evaluations per sample
    trajectory: Array | None  # (num_steps + 1, batch, ...) when asked for


def sample(
    denoiser,
    x_init: Array,
    grid,
    sampler: Sampler,
    *,
    key: Array | None = None,
    params: Any = None,
    cond: Any = None,
    return_trajectory: bool = False,
) -> SampleOutput:
    """Runs `sampler` from x_init at grid[0] to grid[-1] in one jitted lax.scan.

    Args:
      denoiser: (params, x, t, cond) -> (x0_hat, eps_hat) with a `.schedule`: a
        `diffjax.models.Denoiser`, a guidance wrapper, or `analytic.ExactDenoiser`. Hashable
        (a jit static argument).
      x_init: (batch, ...) initial state at grid[0], e.g. `prior_sample`.
      grid: decreasing times (from `time_grid` or a list; integer DDPM timesteps allowed).
      sampler: a `Sampler` record, e.g. `DDIM(eta=0.0)`, `DPMSolverPP(order=2)`.
      key: PRNG key; required by stochastic samplers (an error without one).
      params, cond: passed to the denoiser.
      return_trajectory: also return x at every grid time (loop samplers).
    Returns:
      SampleOutput(samples, nfe, trajectory).
    """
    check_instance("sampler", sampler, Sampler)
    schedule = getattr(denoiser, "schedule", None)
    if not isinstance(schedule, Schedule):
        raise TypeError("denoiser must carry its schedule (a .schedule attribute).")
    if sampler.stochastic and key is None:
        raise ValueError(f"{sampler!r} is stochastic: pass key=jax.random.PRNGKey(...).")
    if not pairing_ok(denoiser, sampler):
        raise ValueError(
            f"{type(sampler).__name__}: the denoiser's (x0_hat, eps_hat) pair does not reconstruct "
            "x (CFG++ renoises with the unconditional eps); sample it with DDIM (any eta)."
        )
    grid = explicit_grid(grid, schedule)
    x_init = jnp.asarray(x_init)
    grid = jnp.asarray(grid, x_init.dtype)
    if isinstance(sampler, Adaptive):
        if return_trajectory:
            raise ValueError("return_trajectory is not available for Adaptive (no fixed grid).")
        samples, nfe = sampler.run(denoiser, params, x_init, grid, cond)
        return SampleOutput(samples, nfe, None)
    # deterministic samplers draw nothing: the loop's key only feeds unused noise slots
    key = jax.random.PRNGKey(0) if key is None else key
    first = _starts_at_infinite_sigma(sampler, schedule, grid)
    return _run(denoiser, sampler, return_trajectory, first, params, x_init, grid, key, cond)


def _starts_at_infinite_sigma(sampler: Sampler, schedule: Schedule, grid) -> bool:
    """Does a method that needs a finite start (`Sampler.finite_start`) start where alpha = 0 at
    the network's time (the schedule's clip: a flow's t = 1 on the closed [0, 1])? (Unknowable
    for a traced grid: then no.)"""
    if not sampler.finite_start:
        return False
    try:
        return float(schedule(schedule.clip(grid[0])).alpha) == 0.0
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError):
        return False


def _exact_first_step(ctx: StepContext, x: Array, t: Array, t_next: Array) -> Array:
    """The limit, as alpha(t) -> 0, of a step in sigma~ from t: x_next = alpha' x0_hat + sigma'
    eps_hat (DDIM), one evaluation."""
    x0, eps = ctx.denoise(x, t)
    rec = exact_record(ctx.schedule, t_next)
    return rec.alpha * x0 + rec.sigma * eps


def _with_variance(denoiser, params, cond):
    """(x, t) -> (x0_hat, eps_hat, v) of a learned-variance Denoiser, else None."""
    if not getattr(denoiser, "learned_variance", False):
        return None

    def call(x, t):
        p = denoiser.predict(params, x, t, cond)
        return (*denoiser.parameterisation.to_x0_eps(p.pred, x, p.rec), p.variance)

    return call


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3))
def _run(denoiser, sampler, return_trajectory, infinite_start, params, x_init, grid, key, cond):
    num_steps = grid.shape[0] - 1
    own_score = hasattr(denoiser, "score_of")  # a ScoreFlow pair ([SF]2M)
    ctx = StepContext(
        denoise=lambda x, t: denoiser(params, x, t, cond),
        schedule=denoiser.schedule,
        num_steps=num_steps,
        key=key,
        score=(lambda x, t: denoiser.score_of(params, x, t, cond)) if own_score else None,
        bridge_sigma=denoiser.sigma if own_score else None,
        denoise_with_variance=_with_variance(denoiser, params, cond),
    )

    def body(state, inputs):
        i, t, t_next, k = inputs
        new = sampler.step(ctx, state, i, t, t_next, k)
        return new, (new.x if return_trajectory else None)

    keys = jax.random.split(key, num_steps)
    x, nfe, head = x_init, 0, [x_init[None]]
    if infinite_start:  # the method runs from grid[1], its history empty
        x = _exact_first_step(ctx, x_init, grid[0], grid[1])
        grid, keys, nfe, head = grid[1:], keys[1:], 1, head + [x[None]]
        ctx = ctx._replace(num_steps=num_steps - 1)
    init = LoopState(x, sampler.init_memory(x), jnp.asarray(nfe, jnp.int32))
    steps = (jnp.arange(grid.shape[0] - 1), grid[:-1], grid[1:], keys)
    final, path = jax.lax.scan(body, init, steps)
    trajectory = jnp.concatenate([*head, path]) if return_trajectory else None
    return SampleOutput(final.x, final.nfe, trajectory)


def prior_sample(
    key: Array, shape: tuple, schedule: Schedule, t_start: float = 1.0, dtype=None
) -> Array:
    """x ~ N(0, sigma(t_start)^2 I): the usual start (the alpha x0 part is neglected)."""
    dtype = dtype or jnp.result_type(float)
    sigma = schedule(jnp.asarray(t_start, dtype)).sigma
    return sigma * jax.random.normal(key, shape, dtype)
