"""The one sampling entry point: `sample(denoiser, x_init, grid, method, ...)`, one jit per run."""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.samplers import adaptive, ancestral, dpm_solver, ode, sde, unipc
from diffjax.samplers.base import LoopState, StepContext
from diffjax.samplers.grids import explicit_grid
from diffjax.schedules import Schedule

Array = jax.Array

METHODS = {
    **ode.METHODS,
    **ancestral.METHODS,
    **dpm_solver.METHODS,
    **unipc.METHODS,
    **sde.METHODS,
}
SAMPLERS = (*METHODS, "adaptive")


class SampleOutput(NamedTuple):
    samples: Array  # (batch, ...) at the last grid time
    nfe: Array  # int32 (), network evaluations per sample
    trajectory: Array | None  # (num_steps + 1, batch, ...) when asked for


def _resolve_options(method: str, options: dict) -> dict:
    defaults = adaptive.OPTIONS if method == "adaptive" else METHODS[method].options
    unknown = set(options) - set(defaults)
    if unknown:
        allowed = ", ".join(sorted(defaults)) or "none"
        raise TypeError(
            f"sampler {method!r} got unknown options {sorted(unknown)}; allowed: {allowed}."
        )
    return {**defaults, **options}


def sample(
    denoiser,
    x_init: Array,
    grid,
    method: str = "ddim",
    *,
    key: Array | None = None,
    params: Any = None,
    cond: Any = None,
    schedule: Schedule | None = None,
    return_trajectory: bool = False,
    **options,
) -> SampleOutput:
    """Runs a sampler from x_init at grid[0] to grid[-1].

    Args:
      denoiser: (params, x, t, cond) -> (x0_hat, eps_hat), e.g. a `diffjax.Denoiser`, a guidance
        wrapper, or `analytic.exact_denoiser`. Must be hashable (it is a jit static argument).
      x_init: (batch, ...) initial state at grid[0], e.g. `prior_sample`.
      grid: decreasing times (from `time_grid` or a list; integer DDPM timesteps allowed).
      method: one of SAMPLERS.
      key: PRNG key (stochastic methods, Heun with churn).
      params, cond: passed to the denoiser.
      schedule: defaults to `denoiser.schedule`.
      return_trajectory: also return x at every grid time.
      options: the method's options (see `METHODS[method].options`); others fail.
    Returns:
      SampleOutput(samples, nfe, trajectory).
    """
    check_choice("method", method, SAMPLERS)
    schedule = schedule if schedule is not None else getattr(denoiser, "schedule", None)
    if not isinstance(schedule, Schedule):
        raise TypeError("schedule: pass the schedule, or a denoiser with a .schedule attribute.")
    opts = _resolve_options(method, options)
    grid = explicit_grid(grid, schedule)
    key = jax.random.PRNGKey(0) if key is None else key
    x_init = jnp.asarray(x_init)
    grid = jnp.asarray(grid, x_init.dtype)
    if method == "adaptive":
        samples, nfe = adaptive.solve(denoiser, schedule, x_init, grid, params, cond, opts)
        return SampleOutput(samples, nfe, None)
    return _run(
        denoiser,
        schedule,
        method,
        tuple(sorted(opts.items())),
        return_trajectory,
        params,
        x_init,
        grid,
        key,
        cond,
    )


@functools.partial(jax.jit, static_argnums=(0, 1, 2, 3, 4))
def _run(denoiser, schedule, method, options, return_trajectory, params, x_init, grid, key, cond):
    spec = METHODS[method]
    num_steps = grid.shape[0] - 1
    ctx = StepContext(
        denoise=lambda x, t: denoiser(params, x, t, cond),
        schedule=schedule,
        options=dict(options),
        num_steps=num_steps,
    )

    def body(state, inputs):
        i, t, t_next, k = inputs
        new = spec.step(ctx, state, i, t, t_next, k)
        return new, (new.x if return_trajectory else None)

    init = LoopState(x_init, spec.init_memory(x_init, ctx.options), jnp.zeros((), jnp.int32))
    steps = (jnp.arange(num_steps), grid[:-1], grid[1:], jax.random.split(key, num_steps))
    final, path = jax.lax.scan(body, init, steps)
    trajectory = jnp.concatenate([x_init[None], path]) if return_trajectory else None
    return SampleOutput(final.x, final.nfe, trajectory)


def prior_sample(
    key: Array, shape: tuple, schedule: Schedule, t_start: float = 1.0, dtype=None
) -> Array:
    """x ~ N(0, sigma(t_start)^2 I): the usual start (the alpha x0 part is neglected)."""
    dtype = dtype or jnp.result_type(float)
    sigma = schedule(jnp.asarray(t_start, dtype)).sigma
    return sigma * jax.random.normal(key, shape, dtype)


def method_table() -> str:
    """The docs table of every method: order, stochastic, NFE per step, paper."""
    lines = [
        "| method | order | stochastic | NFE per step | paper | options |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in METHODS.items():
        order = (
            m.order
            if m.order is not None
            else ("option + 1" if name == "unipc" else "option" if name == "dpm_solver" else "-")
        )
        opts = ", ".join(f"{k}={v}" for k, v in m.options.items()) or "-"
        lines.append(
            f"| {name} | {order} | {'yes' if m.stochastic else 'no'} | {m.nfe_per_step} | {m.paper} | {opts} |"
        )
    lines.append(
        "| adaptive | 5 (embedded 4) | no | 6 per attempted step + 1 | diffrax Tsit5 / Dopri5 | "
        + ", ".join(f"{k}={v}" for k, v in adaptive.OPTIONS.items())
        + " |"
    )
    return "\n".join(lines)
