"""The scalar noise level a network is fed (its time input), one small record per convention."""

from __future__ import annotations

import dataclasses

import jax

from diffjax._checks import check_positive
from diffjax.parameterisations import edm_coefficients
from diffjax.schedules import DiscreteDDPM, Schedule, ScheduleRecord

Array = jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoiseConditioning:
    """Maps (t, record at t) to the network's noise input; `check` validates the schedule."""

    def __call__(self, t: Array, rec: ScheduleRecord, schedule: Schedule) -> Array:
        raise NotImplementedError

    def check(self, schedule: Schedule) -> None:
        """Raises if this conditioning cannot be computed for `schedule` (at construction)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TimeInput(NoiseConditioning):
    """t itself, optionally scaled: 999 t is score SDE's convention (`scale=999.0`)."""

    scale: float = 1.0

    def __post_init__(self):
        check_positive("scale", self.scale)

    def __call__(self, t, rec, schedule):
        return t if self.scale == 1.0 else self.scale * t


@dataclasses.dataclass(frozen=True, kw_only=True)
class DDPMIndexInput(NoiseConditioning):
    """T t - 1: the 0-based DDPM timestep of Ho et al.'s code and diffusers (DiscreteDDPM only)."""

    def check(self, schedule):
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError(
                "noise_conditioning=DDPMIndexInput() needs a DiscreteDDPM schedule; "
                f"got {type(schedule).__name__}."
            )

    def __call__(self, t, rec, schedule):
        return schedule.num_timesteps * t - 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogSNRInput(NoiseConditioning):
    """lambda(t) = log(alpha^2/sigma^2) (VDM, Kingma et al. 2021)."""

    def __call__(self, t, rec, schedule):
        return rec.logsnr


@dataclasses.dataclass(frozen=True, kw_only=True)
class EDMNoiseInput(NoiseConditioning):
    """EDM's c_noise = log(sigma/alpha)/4 (Karras et al. 2022, Table 1)."""

    def __call__(self, t, rec, schedule):
        return edm_coefficients(rec).c_noise
