"""Diffusion noise schedules: discrete DDPM, VP, sub-VP, VE, cosine, EDM and a custom log-SNR table."""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from diffjax._checks import Choice, check_instance, check_int, check_positive
from diffjax.schedules.base import Array, Schedule, as_time


class BetaSchedule(Choice):
    """How a T-step DDPM spaces its betas (see `discrete_log_alpha_bar`)."""

    LINEAR = "linear"
    SCALED_LINEAR = "scaled_linear"
    COSINE = "cosine"


class ReverseVariance(Choice):
    """The variance of the reverse step p(x_s | x_t) (Ho et al. 2020, sec. 3.2): the posterior's
    beta~ (FIXED_SMALL), the forward step's beta (FIXED_LARGE), or the learned interpolation of
    their logs (LEARNED_RANGE, Nichol & Dhariwal 2021, eq. 15; bound and hybrid loss only)."""

    FIXED_SMALL = "fixed_small"
    FIXED_LARGE = "fixed_large"
    LEARNED_RANGE = "learned_range"


@functools.lru_cache(maxsize=32)
def discrete_log_alpha_bar(
    beta_schedule: BetaSchedule,
    num_timesteps: int,
    beta_start: float,
    beta_end: float,
    cosine_s: float,
) -> np.ndarray:
    """log abar_i = sum_{s<=i} log(1 - beta_s) for i = 0..T (abar_0 = 1), float64.

    linear: betas = linspace(beta_start, beta_end, T) (Ho et al. 2020).
    scaled_linear: betas = linspace(sqrt(beta_start), sqrt(beta_end), T)^2 (Stable Diffusion).
    cosine: abar(t) = f(t)/f(0), f(t) = cos^2((t + s)/(1 + s) pi/2), betas clipped at 0.999
    (Nichol & Dhariwal 2021, eq. 17).
    """
    check_instance("beta_schedule", beta_schedule, BetaSchedule)
    T = num_timesteps
    if beta_schedule is BetaSchedule.LINEAR:
        betas = np.linspace(beta_start, beta_end, T, dtype=np.float64)
    elif beta_schedule is BetaSchedule.SCALED_LINEAR:
        betas = np.linspace(beta_start**0.5, beta_end**0.5, T, dtype=np.float64) ** 2
    else:
        f = np.cos((np.arange(T + 1) / T + cosine_s) / (1 + cosine_s) * np.pi / 2) ** 2
        betas = np.minimum(1.0 - f[1:] / f[:-1], 0.999)
    return np.concatenate([[0.0], np.cumsum(np.log1p(-betas))])


@dataclasses.dataclass(frozen=True, kw_only=True)
class DiscreteDDPM(Schedule):
    """T-step DDPM schedule (Ho et al. 2020) embedded in continuous time.

    At t = i/T, alpha^2 = abar_i = prod_{s<=i} (1 - beta_s) exactly; between grid points log abar
    is linear in t (as DPM-Solver's discrete schedule). t_min = 1/T: the network is evaluated at
    timesteps 1..T only; samplers reach t = 0 through the predicted x0.
    """

    num_timesteps: int = 1000
    beta_schedule: BetaSchedule = BetaSchedule.LINEAR
    beta_start: float = 1e-4
    beta_end: float = 0.02
    cosine_s: float = 0.008
    t_min: float = None  # type: ignore[assignment]  # defaults to 1/T

    def __post_init__(self):
        check_instance("beta_schedule", self.beta_schedule, BetaSchedule)
        check_int("num_timesteps", self.num_timesteps, minimum=1)
        if self.t_min is None:
            object.__setattr__(self, "t_min", 1.0 / self.num_timesteps)
        super().__post_init__()

    def log_alpha_bar_grid(self) -> np.ndarray:
        """log abar_i for i = 0..T, float64 (`discrete_log_alpha_bar` of this schedule)."""
        return discrete_log_alpha_bar(
            self.beta_schedule, self.num_timesteps, self.beta_start, self.beta_end, self.cosine_s
        )

    def log_alpha_bar(self, t: Array) -> Array:
        grid = self.log_alpha_bar_grid()
        times = np.linspace(0.0, 1.0, self.num_timesteps + 1)
        return jnp.interp(t, jnp.asarray(times, t.dtype), jnp.asarray(grid, t.dtype))

    def alpha_sigma(self, t):
        lab = self.log_alpha_bar(t)
        return jnp.exp(0.5 * lab), jnp.sqrt(0.0 - jnp.expm1(lab))  # +0 at t = 0

    def logsnr(self, t):
        lab = self.log_alpha_bar(as_time(t))
        return lab - jnp.log(-jnp.expm1(lab))

    def t_from_logsnr(self, logsnr):
        """Closed form: log abar = log sigmoid(lambda), then the inverse of log abar's
        piecewise-linear interpolation over t = i/T (exact: abar_i strictly decreases)."""
        lab = jax.nn.log_sigmoid(as_time(logsnr))
        grid, times = self.log_alpha_bar_grid()[::-1], np.linspace(1.0, 0.0, self.num_timesteps + 1)
        return jnp.interp(lab, jnp.asarray(grid, lab.dtype), jnp.asarray(times, lab.dtype))

    def timestep_to_t(self, i) -> Array:
        """Integer timestep i in {0..T} -> t = i / T."""
        return as_time(i) / self.num_timesteps

    def t_to_timestep(self, t) -> Array:
        """t -> the real-valued timestep t * T (round it for the discrete index)."""
        return as_time(t) * self.num_timesteps


@dataclasses.dataclass(frozen=True, kw_only=True)
class VPLinear(Schedule):
    """Variance-preserving SDE with beta(t) = beta_min + t (beta_max - beta_min) (Song et al. 2021).

    log alpha^2 = -(t^2 (beta_max - beta_min)/2 + t beta_min), sigma^2 = 1 - alpha^2.
    t_min = 1e-5: the training cut-off of score SDE (its samplers stop at 1e-3).
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    t_min: float = 1e-5

    def log_alpha2(self, t):
        return -(0.5 * t**2 * (self.beta_max - self.beta_min) + t * self.beta_min)

    def alpha_sigma(self, t):
        la2 = self.log_alpha2(t)
        return jnp.exp(0.5 * la2), jnp.sqrt(-jnp.expm1(la2))

    def logsnr(self, t):
        la2 = self.log_alpha2(as_time(t))
        return la2 - jnp.log(-jnp.expm1(la2))

    def t_from_logsnr(self, logsnr):
        """Closed form: with c = softplus(-lambda) = -log alpha^2, t = 2c / (b0 + sqrt(b0^2 + 2 db c))."""
        c = jax.nn.softplus(-jnp.asarray(logsnr))
        b0, db = self.beta_min, self.beta_max - self.beta_min
        return 2.0 * c / (b0 + jnp.sqrt(b0**2 + 2.0 * db * c))

    def beta(self, t) -> Array:
        """beta(t) = beta_min + t (beta_max - beta_min): the SDE's g(t)^2."""
        return self.beta_min + as_time(t) * (self.beta_max - self.beta_min)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SubVP(VPLinear):
    """Sub-VP SDE (Song et al. 2021): alpha as VP-linear, sigma = 1 - alpha^2.

    Its diffusion is g^2 = beta(t) (1 - exp(-2 int_0^t beta)).
    """

    def alpha_sigma(self, t):
        la2 = self.log_alpha2(t)
        return jnp.exp(0.5 * la2), -jnp.expm1(la2)

    def logsnr(self, t):
        la2 = self.log_alpha2(as_time(t))
        return la2 - 2.0 * jnp.log(-jnp.expm1(la2))

    t_from_logsnr = Schedule.t_from_logsnr


@dataclasses.dataclass(frozen=True, kw_only=True)
class VE(Schedule):
    """Variance-exploding SDE (Song et al. 2021): alpha = 1, sigma = s_min (s_max/s_min)^t."""

    sigma_min: float = 0.01
    sigma_max: float = 50.0

    def __post_init__(self):
        check_positive("sigma_min", self.sigma_min)
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max must be > sigma_min; got {self.sigma_max}.")
        super().__post_init__()

    def alpha_sigma(self, t):
        log_ratio = math.log(self.sigma_max / self.sigma_min)
        return jnp.ones_like(t), self.sigma_min * jnp.exp(t * log_ratio)

    def t_from_logsnr(self, logsnr):
        sigma = jnp.exp(-0.5 * jnp.asarray(logsnr))
        return jnp.log(sigma / self.sigma_min) / math.log(self.sigma_max / self.sigma_min)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Cosine(Schedule):
    """Continuous cosine schedule (Nichol & Dhariwal 2021): alpha = cos(theta_t)/cos(theta_0),

    theta_t = (t + s)/(1 + s) pi/2, sigma^2 = 1 - alpha^2 (computed as
    sin(theta_t - theta_0) sin(theta_t + theta_0)/cos^2 theta_0 for precision near t = 0).
    alpha(1) = 0, so t_max = 0.9946 as in DPM-Solver's continuous cosine schedule.
    """

    s: float = 0.008
    t_min: float = 1e-5
    t_max: float = 0.9946

    def alpha_sigma(self, t):
        # cos(theta_t) = sin((1 - t)/(1 + s) pi/2) is exactly 0 at t = 1, and
        # theta_t - theta_0 = t/(1 + s) pi/2 is exactly 0 at t = 0, in any precision
        k = (math.pi / 2) / (1.0 + self.s)
        c0 = math.cos(self.s * k)
        sigma2 = jnp.sin(t * k) * jnp.sin((t + 2.0 * self.s) * k) / c0**2
        return jnp.sin((1.0 - t) * k) / c0, jnp.sqrt(sigma2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EDM(Schedule):
    """EDM (Karras et al. 2022): alpha = 1, sigma(t) = sigma_max t^rho, so t = 0 is the data.

    The network range is [t_min, 1] with t_min = (sigma_min/sigma_max)^(1/rho): there
    sigma^(1/rho) is linear in t, so a uniform grid from 1 to t_min is the paper's rho-grid
    (eq. 5) and `KarrasGrid` with its final sigma = 0 is k-diffusion's `get_sigmas_karras`.
    Uniform training times on [t_min, 1] give the same sigma law as the paper's.
    """

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    t_min: float = None  # type: ignore[assignment]  # (sigma_min/sigma_max)^(1/rho)

    def __post_init__(self):
        check_positive("sigma_min", self.sigma_min)
        check_positive("rho", self.rho)
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max must be > sigma_min; got {self.sigma_max}.")
        if self.t_min is None:
            object.__setattr__(self, "t_min", (self.sigma_min / self.sigma_max) ** (1 / self.rho))
        super().__post_init__()

    def alpha_sigma(self, t):
        return jnp.ones_like(t), self.sigma_max * t**self.rho

    def logsnr(self, t):
        return -2.0 * (math.log(self.sigma_max) + self.rho * jnp.log(as_time(t)))

    def t_from_logsnr(self, logsnr):
        """t = (sigma/sigma_max)^(1/rho), sigma = e^(-lambda/2): exactly 0 at lambda = +inf."""
        return jnp.exp(-0.5 * jnp.asarray(logsnr) / self.rho) / self.sigma_max ** (1 / self.rho)


@dataclasses.dataclass(frozen=True, kw_only=True)
class InterpolatedLogSNR(Schedule):
    """A variance-preserving schedule from a table of log-SNR values, linear in between.

    alpha^2 = sigmoid(lambda), sigma^2 = sigmoid(-lambda). `times` must run from 0 to 1
    increasing, `logsnrs` must be finite and strictly decreasing.
    """

    times: tuple[float, ...]
    logsnrs: tuple[float, ...]

    def __post_init__(self):
        times, lams = np.asarray(self.times, float), np.asarray(self.logsnrs, float)
        if times.ndim != 1 or times.shape != lams.shape or times.size < 2:
            raise ValueError(
                f"times and logsnrs must be 1-D of equal length >= 2; got {times.shape}, {lams.shape}."
            )
        if times[0] != 0.0 or times[-1] != 1.0 or np.any(np.diff(times) <= 0):
            raise ValueError("times must increase strictly from 0 to 1.")
        if not np.all(np.isfinite(lams)) or np.any(np.diff(lams) >= 0):
            raise ValueError(
                "logsnrs must be finite and strictly decreasing (t = 0 data, t = 1 noise)."
            )
        super().__post_init__()

    def logsnr(self, t):
        t = as_time(t)
        return jnp.interp(t, jnp.asarray(self.times, t.dtype), jnp.asarray(self.logsnrs, t.dtype))

    def alpha_sigma(self, t):
        lam = self.logsnr(t)
        return jnp.sqrt(jax.nn.sigmoid(lam)), jnp.sqrt(jax.nn.sigmoid(-lam))
