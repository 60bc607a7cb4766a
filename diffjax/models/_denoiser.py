"""The one model object: (network, schedule, parameterisation) -> (x0_hat, eps_hat).

Every loss, sampler, likelihood and guidance method takes a Denoiser (or an object with the same
call and a `.schedule`: the exact Gaussian-mixture denoiser, guidance wrappers), so each accepts
every parameterisation and every schedule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_batch_time, check_instance, check_unit_interval
from diffjax.models._conditioning import NoiseConditioning, TimeInput
from diffjax.parameterisations import EpsPrediction, Parameterisation
from diffjax.schedules import Schedule, ScheduleRecord

Array = jax.Array
Network = Callable[..., Array]  # (params, x_in, noise, cond[, key]) -> output


class Prediction(NamedTuple):
    """One network evaluation: the raw prediction, the learned variance, the record at t."""

    pred: Array  # (batch, ...) in the denoiser's parameterisation
    variance: Array | None  # (batch, ...) learned-range interpolation in [-1, 1], or None
    rec: ScheduleRecord  # at t clipped to [t_min, t_max]


@dataclasses.dataclass(frozen=True)
class Denoiser:
    """A network as a denoiser: (params, x, t, cond) -> (x0_hat, eps_hat).

    network(params, x_in, noise, cond[, key]) is e.g. `FlaxNetwork(MLP())`; it is evaluated at
    t clipped to [schedule.t_min, schedule.t_max] (see `Schedule.clip`), on
    `parameterisation.network_input(x)` (EDM scales it) with the noise level given by
    `noise_conditioning`. With learned_variance the network's last axis holds the prediction
    followed by the learned-range variance output (Nichol & Dhariwal 2021), each of x's size.

    Example:
      >>> den = Denoiser(FlaxNetwork(MLP()), VPLinear(), VPrediction())
      >>> x0_hat, eps_hat = den(params, x_t, t)
    """

    network: Network
    schedule: Schedule
    parameterisation: Parameterisation = EpsPrediction()
    noise_conditioning: NoiseConditioning = TimeInput()
    learned_variance: bool = False

    def __post_init__(self):
        check_instance("schedule", self.schedule, Schedule)
        check_instance("parameterisation", self.parameterisation, Parameterisation)
        check_instance("noise_conditioning", self.noise_conditioning, NoiseConditioning)
        self.noise_conditioning.check(self.schedule)
        self.parameterisation.check(self.schedule)

    def predict(self, params, x: Array, t, cond=None, *, key: Array | None = None) -> Prediction:
        """The network at x_t (batch, ...) and t (scalar or (batch,)); `key` for dropout."""
        check_unit_interval("t", t)
        check_batch_time("x", x, "t", t)
        t = self.schedule.clip(t)
        if t.dtype != x.dtype and jnp.issubdtype(x.dtype, jnp.floating):
            t = t.astype(x.dtype)
        rec = self.schedule(t)
        x_in = self.parameterisation.network_input(x, rec)
        noise = self.noise_conditioning(t, rec, self.schedule)
        noise = jnp.broadcast_to(noise, x.shape[:1])
        args = (params, x_in, noise, cond) + (() if key is None else (key,))
        out = self.network(*args)
        if not self.learned_variance:
            return Prediction(out, None, rec)
        pred, variance = jnp.split(out, 2, axis=-1)
        return Prediction(pred, variance, rec)

    def __call__(self, params, x: Array, t, cond=None, *, key: Array | None = None):
        """(x0_hat, eps_hat), each of x's shape."""
        p = self.predict(params, x, t, cond, key=key)
        return self.parameterisation.to_x0_eps(p.pred, x, p.rec)

    def velocity(self, params, x: Array, t, cond=None, *, key: Array | None = None) -> Array:
        """dx_t/dt = alpha' x0_hat + sigma' eps_hat (the raw output for VelocityPrediction)."""
        p = self.predict(params, x, t, cond, key=key)
        return self.parameterisation.velocity(p.pred, x, p.rec)

    def init(self, key: Array, x: Array, cond=None) -> Any:
        """The network's parameters for inputs shaped like x (batch, ...) (FlaxNetwork only)."""
        return self.network.init(key, x, jnp.zeros(x.shape[:1], x.dtype), cond)
