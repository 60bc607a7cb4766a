"""What every sampler step shares: the loop state, the step context, and small helpers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from diffjax.schedules import Schedule, ScheduleRecord

Array = jax.Array
DenoiseFn = Callable[[Array, Array], tuple[Array, Array]]  # (x, t) -> (x0_hat, eps_hat)


class LoopState(NamedTuple):
    x: Array  # current sample, (batch, ...)
    memory: Any  # method-specific pytree (previous predictions for multistep methods)
    nfe: Array  # int32 (), network evaluations so far


class StepContext(NamedTuple):
    denoise: DenoiseFn
    schedule: Schedule
    options: dict  # the method's options, validated, with defaults filled in
    num_steps: int


class Method(NamedTuple):
    """A sampler: one step function written after its paper, plus what the docs table shows."""

    step: Callable[[StepContext, LoopState, Array, Array, Array, Array], LoopState]
    init_memory: Callable[[Array, dict], Any]  # (x, options) -> memory
    options: dict  # option name -> default
    order: int | None  # global order of accuracy (deterministic methods)
    stochastic: bool
    nfe_per_step: str
    paper: str


def no_memory(x: Array, options: dict) -> Any:
    return ()


def record(schedule: Schedule, t: Array) -> ScheduleRecord:
    """The schedule record at a scalar time (where the network is evaluated: clipped)."""
    return schedule(schedule.clip(t))


def exact_record(schedule: Schedule, t: Array) -> ScheduleRecord:
    """The record at a grid time a step ends at, unclipped (t = 0 gives alpha = 1, sigma = 0).

    Steps take the record of the time they start from (where the network is evaluated) clipped,
    and of the time they end at exact, so that a final step reaches sigma = 0 exactly.
    """
    return schedule(t)


def pf_velocity(denoiser, schedule: Schedule, params, x: Array, t: Array, cond=None) -> Array:
    """Probability-flow velocity dx/dt = alpha' x0_hat + sigma' eps_hat at t clipped to the
    network domain (one network evaluation). Shared by the loop samplers, the adaptive solve and
    the likelihood."""
    x0, eps = denoiser(params, x, t, cond)
    rec = record(schedule, t)
    return rec.d_alpha * x0 + rec.d_sigma * eps


def velocity(ctx: StepContext, x: Array, t: Array) -> Array:
    """`pf_velocity` inside a sampler step (the context carries params and cond)."""
    return pf_velocity(lambda _p, y, s, _c: ctx.denoise(y, s), ctx.schedule, None, x, t)


def noise_like(key: Array, x: Array) -> Array:
    return jax.random.normal(key, x.shape, x.dtype)


def is_zero(a: Array) -> Array:
    return jnp.asarray(a) == 0
