"""The denoiser wrapper: (network, parameterisation, schedule) -> (x0_hat, eps_hat).

Every sampler, guidance method and likelihood speaks only this language, so each accepts every
parameterisation and every schedule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from diffjax._checks import check_batch_time, check_choice, check_unit_interval
from diffjax.parameterisations import (
    PARAMETERISATIONS,
    broadcast_to_data,
    edm_coefficients,
    to_x0_eps,
)
from diffjax.schedules import DiscreteDDPM, Schedule, ScheduleRecord

Array = jax.Array
ApplyFn = Callable[[Any, Array, Array, Any], Array]  # (params, x_in, noise_cond, cond) -> output

INPUT_SCALINGS = ("none", "edm")
NOISE_CONDITIONINGS = ("t", "scaled_t", "ddpm_index", "logsnr", "edm")


def noise_conditioning_input(kind: str, t: Array, rec: ScheduleRecord, schedule: Schedule) -> Array:
    """The scalar noise level fed to the network.

    t: t itself; scaled_t: 999 t (score SDE); ddpm_index: T t - 1, the 0-based DDPM timestep of
    Ho et al.'s code and diffusers (DiscreteDDPM only); logsnr: lambda(t); edm: log(sigma/alpha)/4.
    """
    check_choice("noise_conditioning", kind, NOISE_CONDITIONINGS)
    if kind == "t":
        return t
    if kind == "scaled_t":
        return 999.0 * t
    if kind == "ddpm_index":
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError(
                "noise_conditioning='ddpm_index' needs a DiscreteDDPM schedule; "
                f"got {type(schedule).__name__}."
            )
        return schedule.num_timesteps * t - 1.0
    if kind == "logsnr":
        return rec.logsnr
    return edm_coefficients(rec).c_noise


@dataclasses.dataclass(frozen=True)
class Denoiser:
    """Wraps a network `apply_fn(params, x_in, noise_cond, cond)` as (params, x, t, cond) -> (x0, eps).

    The network is evaluated at t clipped to [schedule.t_min, schedule.t_max] (see `Schedule.clip`).
    With input_scaling='edm' the network sees c_in x / alpha (Karras et al. 2022).

    Example:
      >>> den = Denoiser(model.apply, VPLinear(), 'v')
      >>> x0_hat, eps_hat = den(params, x_t, t)
    """

    apply_fn: ApplyFn
    schedule: Schedule
    parameterisation: str = "eps"
    noise_conditioning: str = "t"
    input_scaling: str = "none"
    sigma_data: float = 0.5

    def __post_init__(self):
        check_choice("parameterisation", self.parameterisation, PARAMETERISATIONS)
        check_choice("noise_conditioning", self.noise_conditioning, NOISE_CONDITIONINGS)
        check_choice("input_scaling", self.input_scaling, INPUT_SCALINGS)

    def predict(self, params, x: Array, t, cond=None) -> tuple[Array, ScheduleRecord]:
        """Raw network output at x_t (shape (batch, ...)) and t (scalar or (batch,)), and the record."""
        check_unit_interval("t", t)
        check_batch_time("x", x, "t", t)
        t = self.schedule.clip(t)
        if t.dtype != x.dtype and jnp.issubdtype(x.dtype, jnp.floating):
            t = t.astype(x.dtype)
        rec = self.schedule(t)
        x_in = x
        if self.input_scaling == "edm":
            c_in = edm_coefficients(rec, self.sigma_data).c_in / rec.alpha
            x_in = broadcast_to_data(c_in, x) * x
        noise = noise_conditioning_input(self.noise_conditioning, t, rec, self.schedule)
        noise = jnp.broadcast_to(noise, x.shape[:1])
        return self.apply_fn(params, x_in, noise, cond), rec

    def __call__(self, params, x: Array, t, cond=None) -> tuple[Array, Array]:
        """(x0_hat, eps_hat), each of x's shape."""
        pred, rec = self.predict(params, x, t, cond)
        return to_x0_eps(pred, x, rec, self.parameterisation, self.sigma_data)
