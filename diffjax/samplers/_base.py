"""What every sampler shares: the Sampler record, the loop state, the step context, helpers."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

import jax

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
    num_steps: int
    key: Array | None = None  # the run's key (a Brownian tree draws from it at every step)
    score: Callable | None = None  # (x, t) -> grad log p_t of a model with its own score head
    bridge_sigma: float | None = None  # that model's Brownian-bridge noise ([SF]2M)
    # (x, t) -> (x0_hat, eps_hat, v) of a model with a learned variance (Nichol & Dhariwal's
    # interpolation v in [-1, 1] between log beta~ and log beta), from one evaluation
    denoise_with_variance: Callable | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Sampler:
    """A sampler: one step function written after its paper (a frozen, hashable record whose
    fields are its options, validated at construction).

    Class attributes: `order` (global order of accuracy of a deterministic method, None where
    it depends on an option or does not apply), `nfe_per_step` and `paper` (the docs table).
    `stochastic` says whether the method draws noise (then `sample` needs a key).
    `finite_start`: the step needs a finite log-SNR where it starts (it works in sigma~ =
    sigma/alpha or keeps a history in log-SNR); from a grid time where alpha = 0 at the network's
    time (sigma~ = inf: a flow's t = 1 with the schedule closed on [0, 1]) `sample` takes the
    exact limit of every such method's first step, DDIM's x_1 = alpha_1 x0_hat + sigma_1
    eps_hat, and runs the method from t_1.
    `steps_from_pair`: the step uses (x0_hat, eps_hat) as given, never x itself, so it can take
    a pair that does not reconstruct x (CFG++; see `samplers.pairing_ok`).
    """

    order: ClassVar[int | None] = None
    nfe_per_step: ClassVar[str] = "1"
    paper: ClassVar[str] = ""
    finite_start: ClassVar[bool] = False
    steps_from_pair: ClassVar[bool] = False  # a step is alpha' x0_hat + sigma' eps_hat (+ noise)

    @property
    def stochastic(self) -> bool:
        return False

    @property
    def accuracy_order(self) -> int | None:
        """The global order of this configured sampler (option-dependent orders resolved)."""
        return self.order

    def init_memory(self, x: Array) -> Any:
        return ()

    def step(self, ctx: StepContext, state: LoopState, i, t, t_next, key) -> LoopState:
        raise NotImplementedError


def record(schedule: Schedule, t: Array) -> ScheduleRecord:
    """The schedule record at a scalar time (where the network is evaluated: clipped)."""
    return schedule(schedule.clip(t))


def exact_record(schedule: Schedule, t: Array) -> ScheduleRecord:
    """The record at a grid time a step ends at, unclipped (t = 0 gives alpha = 1, sigma = 0).

    Steps take the record of the time they start from (where the network is evaluated) clipped,
    and of the time they end at exact, so that a final step reaches sigma = 0 exactly.
    """
    return schedule(t)


def pf_velocity(denoiser, params, x: Array, t: Array, cond=None) -> Array:
    """Probability-flow velocity dx/dt = alpha' x0_hat + sigma' eps_hat at t clipped to the
    network domain (one network evaluation). Shared by the loop samplers, the adaptive solve and
    the likelihood."""
    x0, eps = denoiser(params, x, t, cond)
    rec = record(denoiser.schedule, t)
    return rec.d_alpha * x0 + rec.d_sigma * eps


def velocity(ctx: StepContext, x: Array, t: Array) -> Array:
    """`pf_velocity` inside a sampler step (the context carries params and cond)."""
    x0, eps = ctx.denoise(x, t)
    rec = record(ctx.schedule, t)
    return rec.d_alpha * x0 + rec.d_sigma * eps


def noise_like(key: Array, x: Array) -> Array:
    return jax.random.normal(key, x.shape, x.dtype)
