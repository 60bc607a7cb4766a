"""Noise levels from other libraries as diffjax time grids.

k-diffusion and diffusers describe a sampling grid by VE noise levels sigma~ = sigma/alpha (the
view x~ = x/alpha), ending with sigma~ = 0, or by DDPM's alphas_cumprod = alpha^2 and integer
timesteps. `times_from_sigmas` and `times_from_alphas_cumprod` invert any schedule at those noise
levels (a final 0 is t = 0, the data); `KDiffusionGrid` reproduces k-diffusion's `get_sigmas_*`
spacings. diffusers' integer spacings are `DDPMTimestepGrid` (see `docs/samplers.md`).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from diffjax._checks import Choice, check_instance, check_positive
from diffjax.samplers._grids import Grid
from diffjax.schedules import Schedule


def _ve_sigma(schedule: Schedule, t: np.ndarray) -> np.ndarray:
    """sigma~(t) = sigma/alpha in float64 (inf where alpha = 0)."""
    with jax.enable_x64(True), np.errstate(divide="ignore"):
        rec = schedule(jnp.asarray(t, jnp.float64))
        return np.asarray(rec.sigma, np.float64) / np.asarray(rec.alpha, np.float64)


def times_from_sigmas(schedule: Schedule, sigmas, rtol: float = 1e-5) -> np.ndarray:
    """Times t_i with sigma(t_i)/alpha(t_i) = sigmas[i] (float64), for `sample`'s grid.

    sigmas: strictly decreasing, >= 0; a 0 (only last) is t = 0, the data. Values within `rtol`
    above the schedule's largest noise level (float32 tables) map to t = 1; others outside the
    schedule's range raise, naming the range.
    """
    s = np.asarray(sigmas, np.float64)
    if s.ndim != 1 or s.size < 2 or not np.all(np.isfinite(s)) or np.any(s < 0):
        raise ValueError(f"sigmas must be a 1-D list of >= 2 finite values >= 0; got {s!r}.")
    if np.any(np.diff(s) >= 0):
        raise ValueError("sigmas must decrease strictly (noise first, a final 0 for the data).")
    lo, hi = _ve_sigma(schedule, np.array([0.0, 1.0]))
    name = type(schedule).__name__
    if s[-1] == 0 and lo > 0:
        raise ValueError(f"{name} has sigma(0) = {lo:.4g} > 0: it cannot end at sigmas = 0.")
    if s[0] > hi * (1 + rtol) or s[s > 0].min() < lo * (1 - rtol):
        raise ValueError(f"sigmas must lie in {name}'s range [{lo:.6g}, {hi:.6g}] or be a final 0.")
    s = np.clip(s, lo, hi)
    with jax.enable_x64(True):
        lam = np.where(s > 0, -2.0 * np.log(np.where(s > 0, s, 1.0)), np.inf)
        t = np.array(schedule.t_from_logsnr(jnp.asarray(lam, jnp.float64)), np.float64)
    t = np.clip(t, 0.0, 1.0)
    t[s == 0], t[s == hi] = 0.0, 1.0
    back = _ve_sigma(schedule, t)
    if not np.allclose(back, s, rtol=1e-9, atol=0.0):
        worst = int(np.argmax(np.abs(back - s) / np.maximum(s, 1e-300)))
        raise ValueError(f"{name} could not be inverted at sigmas[{worst}] = {s[worst]!r}.")
    return t


def times_from_alphas_cumprod(schedule: Schedule, alphas_cumprod) -> np.ndarray:
    """Times where alpha(t)^2 = alphas_cumprod[i] (diffusers' and Ho et al.'s abar; 1 = data).

    diffusers' DDIM with `set_alpha_to_one=True` ends at abar = 1 (append 1.0); with False at
    alphas_cumprod[0] = abar of the first timestep.
    """
    a = np.asarray(alphas_cumprod, np.float64)
    if a.ndim != 1 or np.any(a <= 0) or np.any(a > 1):
        raise ValueError(f"alphas_cumprod must be a 1-D list of values in (0, 1]; got {a!r}.")
    return times_from_sigmas(schedule, np.sqrt((1.0 - a) / a))


class KDiffusionSpacing(Choice):
    """k-diffusion's `get_sigmas_karras`, `_exponential`, `_polyexponential` and `_vp`."""

    KARRAS = "karras"
    EXPONENTIAL = "exponential"
    POLYEXPONENTIAL = "polyexponential"
    VP = "vp"


def k_diffusion_sigmas(
    spacing: KDiffusionSpacing, n: int, sigma_min=None, sigma_max=None, **options
) -> np.ndarray:
    """n noise levels then 0, as k-diffusion's `sampling.get_sigmas_<spacing>` (float64).

    karras: (s_max^(1/rho) + w (s_min^(1/rho) - s_max^(1/rho)))^rho, w = linspace(0, 1, n);
    exponential: exp(linspace(log s_max, log s_min, n)); polyexponential: exp(w^rho log(s_max /
    s_min) + log s_min), w = linspace(1, 0, n); vp: sqrt(exp(beta_d t^2/2 + beta_min t) - 1),
    t = linspace(1, eps_s, n) (sigma_min, sigma_max unused).
    """
    check_instance("spacing", spacing, KDiffusionSpacing)
    if spacing is not KDiffusionSpacing.VP and (sigma_min is None or sigma_max is None):
        raise ValueError(f"the {spacing.value} spacing needs sigma_min and sigma_max.")
    rho = options.get("rho", 1.0 if spacing is KDiffusionSpacing.POLYEXPONENTIAL else 7.0)
    if spacing is KDiffusionSpacing.KARRAS:
        w = np.linspace(0.0, 1.0, n)
        a, b = sigma_max ** (1 / rho), sigma_min ** (1 / rho)
        s = (a + w * (b - a)) ** rho
    elif spacing is KDiffusionSpacing.EXPONENTIAL:
        s = np.exp(np.linspace(np.log(sigma_max), np.log(sigma_min), n))
    elif spacing is KDiffusionSpacing.POLYEXPONENTIAL:
        w = np.linspace(1.0, 0.0, n) ** rho
        s = np.exp(w * (np.log(sigma_max) - np.log(sigma_min)) + np.log(sigma_min))
    else:
        beta_d, beta_min = options.get("beta_d", 19.9), options.get("beta_min", 0.1)
        t = np.linspace(1.0, options.get("eps_s", 1e-3), n)
        s = np.sqrt(np.exp(beta_d * t**2 / 2 + beta_min * t) - 1.0)
    return np.append(s, 0.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class KDiffusionGrid(Grid):
    """k-diffusion's spacings (`KDiffusionSpacing`) with its final sigma = 0, as times.

    sigma_min and sigma_max default to the schedule's sigma/alpha at t_min and at t_start
    (clipped to t_max): for a `DiscreteDDPM` these are the ends of its sigma table (diffusers'
    `use_karras_sigmas`, `use_exponential_sigmas`), for `EDM()` 0.002 and 80. num_steps
    levels then 0: num_steps steps, the last to the data.
    """

    spacing: KDiffusionSpacing = KDiffusionSpacing.KARRAS
    sigma_min: float | None = None
    sigma_max: float | None = None
    rho: float | None = None  # karras 7, polyexponential 1
    beta_d: float = 19.9  # vp only
    beta_min: float = 0.1
    eps_s: float = 1e-3

    def __post_init__(self):
        check_instance("spacing", self.spacing, KDiffusionSpacing)
        for name in ("sigma_min", "sigma_max", "rho"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        if self.sigma_min is not None and self.sigma_max is not None:
            if not self.sigma_max > self.sigma_min:
                raise ValueError(f"sigma_max must be > sigma_min; got {self.sigma_max}.")

    def times(self, schedule, n, t_start, t_end):
        if t_end != 0.0:
            raise ValueError(f"KDiffusionGrid ends at sigma = 0 (t_end = 0); got t_end={t_end}.")
        top = min(t_start, schedule.t_max)
        lo, hi = _ve_sigma(schedule, np.array([schedule.t_min, top]))
        options = {} if self.rho is None else {"rho": self.rho}
        options.update(beta_d=self.beta_d, beta_min=self.beta_min, eps_s=self.eps_s)
        sigmas = k_diffusion_sigmas(
            self.spacing, n, self.sigma_min or lo, self.sigma_max or hi, **options
        )
        t = times_from_sigmas(schedule, sigmas)
        if self.sigma_max is None and self.spacing is not KDiffusionSpacing.VP:
            t[0] = t_start  # where alpha(1) = 0 the first level is t_max's; start at t_start
        return t
