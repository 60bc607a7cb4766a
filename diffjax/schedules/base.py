"""The schedule interface: x_t = alpha(t) x0 + sigma(t) eps, t in [0, 1], t = 0 data, t = 1 noise."""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from diffjax._checks import check_unit_interval

Array = jax.Array


class ScheduleRecord(NamedTuple):
    """One evaluation of a schedule at times t; every field has the shape of t."""

    alpha: Array  # signal scale alpha(t)
    sigma: Array  # noise scale sigma(t)
    d_alpha: Array  # d alpha / dt
    d_sigma: Array  # d sigma / dt
    logsnr: Array  # lambda(t) = log(alpha^2 / sigma^2), decreasing in t


def as_time(t) -> Array:
    """Converts t (python number, numpy or jax array, int timesteps allowed) to a float array."""
    t = jnp.asarray(t)
    if not jnp.issubdtype(t.dtype, jnp.floating):
        t = t.astype(jnp.result_type(float))
    return t


@dataclasses.dataclass(frozen=True, kw_only=True)
class Schedule:
    """Base class of every noise schedule (a frozen, hashable dataclass: safe as a jit static arg).

    Subclasses implement `alpha_sigma(t)`; derivatives come from `jax.jvp`, log-SNR from
    `logsnr(t)` (override for precision), its inverse from `t_from_logsnr` (closed form where a
    subclass writes one, else bisection). `t_min` and `t_max` bound the times at which a network
    is evaluated (`clip`): the clip each paper uses where alpha or sigma vanishes.
    """

    t_min: float = 0.0
    t_max: float = 1.0

    def __post_init__(self):
        if not 0.0 <= self.t_min < self.t_max <= 1.0:
            raise ValueError(
                f"need 0 <= t_min < t_max <= 1; got t_min={self.t_min}, t_max={self.t_max}."
            )
        _check_decreasing_logsnr(self)

    # --- to implement -------------------------------------------------------------------
    def alpha_sigma(self, t: Array) -> tuple[Array, Array]:
        raise NotImplementedError

    # --- derived ------------------------------------------------------------------------
    def logsnr(self, t) -> Array:
        """lambda(t) = 2 (log alpha - log sigma)."""
        alpha, sigma = self.alpha_sigma(as_time(t))
        return 2.0 * (jnp.log(alpha) - jnp.log(sigma))

    def __call__(self, t) -> ScheduleRecord:
        """Evaluates alpha, sigma, their t-derivatives and log-SNR at t (any shape) in [0, 1].

        At an end point where sigma or alpha vanishes, log-SNR is +-inf (and for VP-type
        schedules d sigma/dt is +inf at t = 0); on [t_min, t_max] every field is finite.
        """
        check_unit_interval("t", t)
        t = as_time(t)
        (alpha, sigma), (d_alpha, d_sigma) = jax.jvp(self.alpha_sigma, (t,), (jnp.ones_like(t),))
        return ScheduleRecord(alpha, sigma, d_alpha, d_sigma, self.logsnr(t))

    def clip(self, t) -> Array:
        """Clips t to [t_min, t_max], the times where every parameterisation is finite."""
        return jnp.clip(as_time(t), self.t_min, self.t_max)

    def t_from_logsnr(self, logsnr) -> Array:
        """Inverse of lambda(t) on [0, 1] by bisection (lambda is strictly decreasing); exactly
        0 at lambda = +inf (sigma = 0: the data) and 1 at -inf."""
        logsnr = jnp.asarray(logsnr)
        lo, hi = jnp.zeros_like(logsnr), jnp.ones_like(logsnr)

        def halve(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = self.logsnr(mid) > logsnr  # still too little noise: move right
            return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

        lo, hi = jax.lax.fori_loop(0, 64, halve, (lo, hi))
        t = jnp.where(logsnr == jnp.inf, 0.0, 0.5 * (lo + hi))
        return jnp.where(logsnr == -jnp.inf, 1.0, t)

    def sde(self, t) -> tuple[Array, Array]:
        """Drift and diffusion of the forward SDE dx = f(t) x dt + g(t) dW with these marginals.

        f = d log alpha / dt and g^2 = d sigma^2/dt - 2 f sigma^2 = -sigma^2 d lambda/dt
        (Kingma et al. 2021, VDM, appendix; Lu et al. 2022, DPM-Solver, eq. 2.2).
        Returns (f, g2).
        """
        rec = self(t)
        f = rec.d_alpha / rec.alpha
        g2 = 2.0 * rec.sigma * rec.d_sigma - 2.0 * f * rec.sigma**2
        return f, g2


def _check_decreasing_logsnr(schedule: Schedule, num: int = 257) -> None:
    """Raises unless lambda(t) strictly decreases (+-inf allowed at the ends) and alpha, sigma >= 0."""
    t = np.linspace(schedule.t_min, schedule.t_max, num)
    with jax.ensure_compile_time_eval():
        alpha, sigma = schedule.alpha_sigma(jnp.asarray(t, jnp.float32))
        lam = np.asarray(schedule.logsnr(jnp.asarray(t, jnp.float32)), np.float64)
    name = type(schedule).__name__
    if np.any(np.asarray(alpha) < 0) or np.any(np.asarray(sigma) < 0):
        raise ValueError(f"{name}: alpha(t) and sigma(t) must be >= 0 on [t_min, t_max].")
    if np.any(np.isnan(lam)) or not np.all(np.diff(lam) < 0):
        raise ValueError(
            f"{name}: log-SNR must be strictly decreasing on [t_min, t_max] "
            "(t = 0 data, t = 1 noise); this schedule is not. Reverse t if it runs the other way."
        )
