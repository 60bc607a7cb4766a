"""Schedules built from other schedules: zero terminal SNR and the SD3/FLUX time shift."""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp

from diffjax._checks import check_positive
from diffjax.schedules.base import Schedule


@dataclasses.dataclass(frozen=True, kw_only=True)
class ZeroTerminalSNR(Schedule):
    """Rescales a variance-preserving schedule so that alpha(1) = 0 (Lin et al. 2024, Alg. 1).

    alpha'(t) = (alpha(t) - alpha(1)) alpha(t_min)/(alpha(t_min) - alpha(1)), at most 1, and
    sigma' = sqrt(1 - alpha'^2). For a discrete schedule (t_min = 1/T) this is exactly the
    paper's rescaling of sqrt(abar) at every timestep 1..T (the first timestep is kept).
    eps- and score-prediction are undefined where alpha' = 0: t_max = 1 - 1e-4 (use v-prediction,
    as the paper advises).
    """

    base: Schedule
    t_min: float = None  # type: ignore[assignment]  # defaults to base.t_min
    t_max: float = 1.0 - 1e-4

    def __post_init__(self):
        if self.t_min is None:
            object.__setattr__(self, "t_min", self.base.t_min)
        a0, s0 = self.base.alpha_sigma(jnp.asarray([0.0, 0.5, 1.0]))
        if not bool(jnp.all(jnp.abs(a0**2 + s0**2 - 1.0) < 1e-5)):
            raise ValueError(
                f"base must be variance preserving (alpha^2 + sigma^2 = 1); "
                f"{type(self.base).__name__} is not."
            )
        super().__post_init__()

    def alpha_sigma(self, t):
        a0 = self.base.alpha_sigma(jnp.full((), self.base.t_min, t.dtype))[0]
        a1 = self.base.alpha_sigma(jnp.ones((), t.dtype))[0]
        alpha = jnp.minimum((self.base.alpha_sigma(t)[0] - a1) * (a0 / (a0 - a1)), 1.0)
        var = (1.0 - alpha) * (1.0 + alpha)
        # alpha is held at 1 on [0, t_min): a sqrt that stays differentiable (zero slope) there
        positive = var > 0
        return alpha, jnp.where(positive, jnp.sqrt(jnp.where(positive, var, 1.0)), 0.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Shifted(Schedule):
    """Time shift of SD3 (Esser et al. 2024, eq. 23) and FLUX: t' = shift t / (1 + (shift - 1) t).

    For rectified flow this lowers log-SNR by 2 log(shift) at every t. `shift_for_resolution`
    and `flux_shift` give the papers' choices of shift.
    """

    base: Schedule
    shift: float
    t_min: float = None  # type: ignore[assignment]  # mapped from base.t_min
    t_max: float = None  # type: ignore[assignment]  # mapped from base.t_max

    def __post_init__(self):
        check_positive("shift", self.shift)
        inv = lambda u: u / (self.shift - (self.shift - 1.0) * u)  # inverse of the shift map
        if self.t_min is None:
            object.__setattr__(self, "t_min", inv(self.base.t_min))
        if self.t_max is None:
            object.__setattr__(self, "t_max", inv(self.base.t_max))
        super().__post_init__()

    def shifted_time(self, t):
        return self.shift * t / (1.0 + (self.shift - 1.0) * t)

    def alpha_sigma(self, t):
        return self.base.alpha_sigma(self.shifted_time(t))


def shift_for_resolution(num_pixels: int, base_num_pixels: int = 256 * 256) -> float:
    """SD3's resolution-dependent shift sqrt(m / n) (Esser et al. 2024, sec. 5.3.2)."""
    return math.sqrt(num_pixels / base_num_pixels)


def flux_shift(
    seq_len: int,
    base_seq_len: int = 256,
    max_seq_len: int = 4096,
    base_shift: float = 0.5,
    max_shift: float = 1.15,
) -> float:
    """FLUX's shift exp(mu), mu linear in the image token count from base_shift to max_shift."""
    slope = (max_shift - base_shift) / (max_seq_len - base_seq_len)
    return math.exp(base_shift + slope * (seq_len - base_seq_len))
