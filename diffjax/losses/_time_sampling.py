"""How training draws the time t of each example: frozen records called as
(key, batch, schedule, dtype) -> t of shape (batch,), inside [t_min, t_max]."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import check_positive
from diffjax.schedules import DiscreteDDPM, Schedule

Array = jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class TimeSampling:
    """A law of training times; `check` validates the schedule at construction of a loss."""

    def __call__(self, key: Array, batch: int, schedule: Schedule, dtype=None) -> Array:
        raise NotImplementedError

    def check(self, schedule: Schedule) -> None:
        """Raises if this law cannot be drawn for `schedule`."""

    def density(self, t: Array, schedule: Schedule) -> Array:
        """p(t) inside (t_min, t_max), without the point masses that clipping puts at the ends
        (Kingma & Gao's w(lambda) needs it: `elbo_weight`)."""
        raise ValueError(f"{type(self).__name__} has no density in t (a discrete or custom law).")


@dataclasses.dataclass(frozen=True, kw_only=True)
class UniformTime(TimeSampling):
    """t ~ U[t_min, t_max]."""

    def __call__(self, key, batch, schedule, dtype=None):
        dtype = dtype or jnp.result_type(float)
        return jax.random.uniform(key, (batch,), dtype, schedule.t_min, schedule.t_max)

    def density(self, t, schedule):
        return jnp.full_like(t, 1.0 / (schedule.t_max - schedule.t_min))


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscreteTime(TimeSampling):
    """i ~ U{1..T}, t = i/T (Ho et al. 2020; DiscreteDDPM only)."""

    def check(self, schedule):
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError(
                "time_sampling=DiscreteTime() needs a DiscreteDDPM schedule; "
                f"got {type(schedule).__name__}."
            )

    def __call__(self, key, batch, schedule, dtype=None):
        self.check(schedule)
        dtype = dtype or jnp.result_type(float)
        steps = jax.random.randint(key, (batch,), 1, schedule.num_timesteps + 1)
        return steps.astype(dtype) / schedule.num_timesteps


@dataclasses.dataclass(frozen=True, kw_only=True)
class AntitheticTime(TimeSampling):
    """Low-discrepancy t_i = t_min + (t_max - t_min) ((u + i/B) mod 1) (Kingma et al. 2021)."""

    def __call__(self, key, batch, schedule, dtype=None):
        dtype = dtype or jnp.result_type(float)
        u = jax.random.uniform(key, (), dtype)
        u = jnp.mod(u + jnp.arange(batch, dtype=dtype) / batch, 1.0)
        return schedule.t_min + (schedule.t_max - schedule.t_min) * u

    def density(self, t, schedule):  # each t_i is marginally uniform
        return jnp.full_like(t, 1.0 / (schedule.t_max - schedule.t_min))


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogitNormalTime(TimeSampling):
    """t = sigmoid(mean + std n), n ~ N(0, 1), clipped (Esser et al. 2024, SD3)."""

    mean: float = 0.0
    std: float = 1.0

    def __post_init__(self):
        check_positive("std", self.std)

    def __call__(self, key, batch, schedule, dtype=None):
        dtype = dtype or jnp.result_type(float)
        n = jax.random.normal(key, (batch,), dtype)
        return jnp.clip(jax.nn.sigmoid(self.mean + self.std * n), schedule.t_min, schedule.t_max)

    def density(self, t, schedule):
        """N(logit t; mean, std^2) / (t (1 - t))."""
        del schedule
        inside = (t > 0) & (t < 1)
        u = jnp.where(inside, t, 0.5)
        z = (jnp.log(u / (1.0 - u)) - self.mean) / self.std
        p = jnp.exp(-0.5 * z**2) / (self.std * jnp.sqrt(2 * jnp.pi) * u * (1.0 - u))
        return jnp.where(inside, p, 0.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogNormalSigmaTime(TimeSampling):
    """sigma/alpha = exp(p_mean + p_std n) (Karras et al. 2022), t from the log-SNR, clipped."""

    p_mean: float = -1.2
    p_std: float = 1.2

    def __post_init__(self):
        check_positive("p_std", self.p_std)

    def __call__(self, key, batch, schedule, dtype=None):
        dtype = dtype or jnp.result_type(float)
        n = jax.random.normal(key, (batch,), dtype)
        log_sigma = self.p_mean + self.p_std * n
        t = schedule.t_from_logsnr(-2.0 * log_sigma)
        return jnp.clip(t, schedule.t_min, schedule.t_max).astype(dtype)

    def density(self, t, schedule):
        """N(ln s; p_mean, p_std^2) |d ln s/dt| with ln s = -lambda/2."""
        rec = schedule(t)
        dlogsnr = 2.0 * (rec.d_alpha / rec.alpha - rec.d_sigma / rec.sigma)
        z = (-0.5 * rec.logsnr - self.p_mean) / self.p_std
        return jnp.exp(-0.5 * z**2) / (self.p_std * jnp.sqrt(2 * jnp.pi)) * 0.5 * jnp.abs(dlogsnr)
