"""Time grids t_0 > t_1 > ... > t_N for samplers (t = 1 noise, t = 0 data), one record per kind."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from diffjax._checks import Choice, check_instance, check_int, check_positive
from diffjax.schedules import DiscreteDDPM, Schedule


@dataclasses.dataclass(frozen=True, kw_only=True)
class Grid:
    """A spacing of sampling times; `times` returns num_steps + 1 decreasing float64 times."""

    def times(self, schedule: Schedule, n: int, t_start: float, t_end: float) -> np.ndarray:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, kw_only=True)
class UniformGrid(Grid):
    """Linear in t."""

    def times(self, schedule, n, t_start, t_end):
        return t_start + (t_end - t_start) * np.linspace(0.0, 1.0, n + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuadraticGrid(Grid):
    """t = t_end + (t_start - t_end) (1 - i/N)^2 (DDIM's quadratic)."""

    def times(self, schedule, n, t_start, t_end):
        return t_end + (t_start - t_end) * (1.0 - np.linspace(0.0, 1.0, n + 1)) ** 2


def _logsnr_spaced(schedule, n, t_start, t_end, spacing) -> np.ndarray:
    """Times whose log-SNR follows spacing(lam_a, lam_b, w) on w in [0, 1]; the interior end
    point is where lambda is finite (>= t_min), and a t_end at sigma = 0 is appended. Where
    lambda(t_start) is -inf (alpha = 0 at t = 1) the spacing starts from t_max, where the
    network is evaluated for the first step anyway."""
    lo = max(t_end, schedule.t_min)
    with jax.enable_x64(True):  # grids are float64 whatever the session's default precision
        lam = lambda v: float(schedule.logsnr(jnp.asarray(v, jnp.float64)))
        hi = t_start if np.isfinite(lam(t_start)) else min(t_start, schedule.t_max)
        lam_a, lam_b = lam(hi), lam(lo)
        steps = n if lo == t_end else n - 1
        lam = spacing(lam_a, lam_b, np.linspace(0.0, 1.0, steps + 1))
        t = np.array(schedule.t_from_logsnr(jnp.asarray(lam, jnp.float64)), np.float64)
    t[0], t[-1] = t_start, lo
    return t if lo == t_end else np.append(t, t_end)


@dataclasses.dataclass(frozen=True, kw_only=True)
class LogSNRGrid(Grid):
    """Linear in lambda (DPM-Solver's 'logSNR')."""

    def times(self, schedule, n, t_start, t_end):
        return _logsnr_spaced(schedule, n, t_start, t_end, lambda a, b, w: a + (b - a) * w)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KarrasGrid(Grid):
    """sigma~ = sigma/alpha on EDM's rho-grid (Karras et al. 2022, eq. 5)."""

    rho: float = 7.0

    def __post_init__(self):
        check_positive("rho", self.rho)

    def times(self, schedule, n, t_start, t_end):
        def spacing(lam_a, lam_b, w):
            s_a, s_b = np.exp(-0.5 * lam_a), np.exp(-0.5 * lam_b)
            r = self.rho
            return -2.0 * np.log((s_a ** (1 / r) + w * (s_b ** (1 / r) - s_a ** (1 / r))) ** r)

        return _logsnr_spaced(schedule, n, t_start, t_end, spacing)


class Spacing(Choice):
    """Integer DDPM timestep spacings of Lin et al. (2024), Table 2."""

    LEADING = "leading"
    TRAILING = "trailing"
    LINSPACE = "linspace"


@dataclasses.dataclass(frozen=True, kw_only=True)
class DDPMTimestepGrid(Grid):
    """Integer DDPM timesteps spaced as in Lin et al. (2024), Table 2, followed by t_end
    (DiscreteDDPM only; t_start is T).

    The timesteps are Ho et al.'s 1..T (t = i/T): diffusers' 0-based timestep k is i = k + 1,
    so these are diffusers' `timestep_spacing` grids exactly; `steps_offset` is diffusers'
    option of that name (added to 'leading'). diffusers' `set_alpha_to_one=False` is
    t_end = schedule.t_min; where the last timestep is already t_min (leading, linspace) it is
    not repeated: diffusers' final step there is the identity (same alpha), which is skipped.

    `stop` = k > 1 spaces the timesteps over k..T only, so the final step jumps from x_k (or
    above) to t_end = 0 and returns the mean x0_hat(x_k): the chain that the truncated bound
    scores (`diffjax.losses.truncated_bound`, decoder at k); n = T - k + 1 steps visit every
    timestep T..k.
    """

    spacing: Spacing = Spacing.TRAILING
    steps_offset: int = 0
    stop: int = 1

    def __post_init__(self):
        check_instance("spacing", self.spacing, Spacing)
        check_int("steps_offset", self.steps_offset, minimum=0)
        check_int("stop", self.stop, minimum=1)

    def times(self, schedule, n, t_start, t_end):
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError(
                "DDPMTimestepGrid spaces integer DDPM timesteps: it needs a DiscreteDDPM."
            )
        T, below = schedule.num_timesteps, self.stop - 1  # the chain stop..T has T - below steps
        span = T - below
        if span < n:
            raise ValueError(
                f"stop={self.stop}: the {span} timesteps {self.stop}..{T} cannot hold {n} steps."
            )
        if self.spacing is Spacing.LEADING:
            steps = np.arange(0, n)[::-1] * (span // n) + 1 + self.steps_offset
        elif self.spacing is Spacing.TRAILING:
            steps = np.round(np.arange(span, 0, -span / n)).astype(int)
        else:  # diffusers rounds the 0-based values (half to even), as here
            steps = np.round(np.linspace(0, span - 1, n))[::-1].astype(int) + 1
        steps = steps + below
        if steps.max() > T:
            raise ValueError(f"steps_offset={self.steps_offset} puts a timestep above T = {T}.")
        t = (steps / T).astype(np.float64)
        return t if t[-1] == t_end else np.append(t, t_end)


def recommended_grid(schedule: Schedule) -> Grid:
    """The grid measured most accurate for the schedule's family (with iPNDM, at NFE 10 / 20 /
    50 on Gaussian mixtures: docs/sampler_accuracy.md). alpha = 1 (VE, EDM; EDM measured):
    `KarrasGrid()`; alpha = 1 - t (rectified flow measured, Lipman's FM): `UniformGrid()`;
    otherwise (variance-preserving diffusion; DDPM's discrete betas measured): `QuadraticGrid()`.
    """
    with jax.enable_x64(True):
        t = jnp.asarray([0.3, 0.7], jnp.float64)
        alpha = np.asarray(schedule(t).alpha)
    if np.allclose(alpha, 1.0, rtol=0, atol=1e-12):
        return KarrasGrid()
    if np.allclose(alpha, 1.0 - np.asarray(t), rtol=0, atol=1e-12):
        return UniformGrid()
    return QuadraticGrid()


@dataclasses.dataclass(frozen=True, kw_only=True)
class RecommendedGrid(Grid):
    """The measured choice for whatever schedule it meets (`recommended_grid`); config 'auto'."""

    def times(self, schedule, n, t_start, t_end):
        return recommended_grid(schedule).times(schedule, n, t_start, t_end)


def time_grid(
    schedule: Schedule,
    num_steps: int,
    grid: Grid = UniformGrid(),
    *,
    t_start: float = 1.0,
    t_end: float | None = None,
) -> np.ndarray:
    """A decreasing grid of num_steps + 1 times (float64 numpy), from t_start to t_end.

    t_end defaults to 0 (x0 is returned by the final step) for schedules with sigma(0) = 0,
    else to t_min.
    """
    check_instance("grid", grid, Grid)
    check_int("num_steps", num_steps, minimum=1)
    if t_end is None:
        t_end = 0.0 if float(schedule(0.0).sigma) == 0.0 else schedule.t_min
    if not 0.0 <= t_end < t_start <= 1.0:
        raise ValueError(f"need 0 <= t_end < t_start <= 1; got t_start={t_start}, t_end={t_end}.")
    return grid.times(schedule, num_steps, t_start, t_end)


def explicit_grid(times, schedule: Schedule | None = None) -> np.ndarray:
    """Validates a user grid: a decreasing list of t in [0, 1], or integer DDPM timesteps."""
    arr = np.asarray(times)
    if np.issubdtype(arr.dtype, np.integer):
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError("integer timesteps need a DiscreteDDPM schedule (t = i / T).")
        arr = arr / schedule.num_timesteps
    arr = arr.astype(np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(
            f"a time grid needs at least 2 times in a 1-D list; got shape {arr.shape}."
        )
    if np.any(arr < 0) or np.any(arr > 1) or np.any(np.diff(arr) >= 0):
        raise ValueError("a time grid must decrease strictly from noise (t <= 1) to data (t >= 0).")
    return arr
