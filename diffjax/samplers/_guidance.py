"""Guidance and x0 post-processing, as denoiser wrappers so that every sampler supports them.

Each wrapper is a frozen dataclass (hashable: a jit static argument) with the denoiser's call
signature (params, x, t, cond) -> (x0_hat, eps_hat) and its `.schedule`; eps_hat is recomputed
from x0_hat where x0_hat changes, so x = alpha x0_hat + sigma eps_hat still holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import jax
import jax.numpy as jnp

from diffjax.parameterisations import broadcast_to_data
from diffjax.schedules import Schedule


@dataclasses.dataclass(frozen=True)
class _Wrapper:
    """A denoiser wrapper: carries the wrapped denoiser's schedule."""

    denoiser: Callable

    @property
    def schedule(self) -> Schedule:
        return self.denoiser.schedule


def _eps_from_x0(schedule, x, t, x0):
    rec = schedule(schedule.clip(jnp.asarray(t, x.dtype)))
    a, s = broadcast_to_data(rec.alpha, x), broadcast_to_data(rec.sigma, x)
    return (x - a * x0) / s


def _conditional_and_unconditional(denoiser, null_cond, params, x, t, cond):
    """((x0_c, eps_c), (x0_u, eps_u), t per example) from one batched network call."""
    batch = x.shape[0]
    t_b = jnp.broadcast_to(jnp.asarray(t, x.dtype), (batch,))
    null = jnp.broadcast_to(jnp.asarray(null_cond, jnp.asarray(cond).dtype), jnp.shape(cond))
    x0, eps = denoiser(
        params, jnp.concatenate([x, x]), jnp.concatenate([t_b, t_b]), jnp.concatenate([cond, null])
    )
    return (x0[:batch], eps[:batch]), (x0[batch:], eps[batch:]), t_b


def _per_example(op, a):
    return op(a, axis=tuple(range(1, a.ndim)), keepdims=True)


@dataclasses.dataclass(frozen=True)
class ClassifierFreeGuidance(_Wrapper):
    """Ho & Salimans (2022): eps = eps_u + w (eps_c - eps_u) (same for x0), inside `interval` of t.

    The conditional and unconditional passes run as one batched network call; `null_cond` is
    the conditioning that means 'none' (e.g. the label index reserved for dropping). `rescale`
    = phi (Lin et al. 2024, sec. 3.4): x0 <- phi x0 std(x0_c)/std(x0) + (1 - phi) x0, stds per
    example, on x0_hat (diffusers' `guidance_rescale` does the same to the network's output),
    eps_hat recomputed; the paper suggests phi = 0.7.
    """

    scale: float
    null_cond: Any
    interval: tuple[float, float] = (0.0, 1.0)
    rescale: float = 0.0

    def __post_init__(self):
        lo, hi = self.interval
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"interval must satisfy 0 <= lo <= hi <= 1; got {self.interval!r}.")
        if not 0.0 <= self.rescale <= 1.0:
            raise ValueError(f"rescale must lie in [0, 1]; got {self.rescale!r}.")

    def __call__(self, params, x, t, cond):
        (x0_c, eps_c), (x0_u, eps_u), t_b = _conditional_and_unconditional(
            self.denoiser, self.null_cond, params, x, t, cond
        )
        inside = (t_b >= self.interval[0]) & (t_b <= self.interval[1])
        w = broadcast_to_data(jnp.where(inside, self.scale, 1.0), x)
        x0, eps = x0_u + w * (x0_c - x0_u), eps_u + w * (eps_c - eps_u)
        if self.rescale == 0.0:
            return x0, eps
        ratio = _per_example(jnp.std, x0_c) / (_per_example(jnp.std, x0) + 1e-12)
        x0 = self.rescale * ratio * x0 + (1.0 - self.rescale) * x0
        return x0, _eps_from_x0(self.schedule, x, t, x0)


@dataclasses.dataclass(frozen=True)
class CFGPlusPlus(_Wrapper):
    """CFG++ (Chung et al. 2025, Alg. 1): x0 = x0_u + lam (x0_c - x0_u), lam in [0, 1], paired
    with the unconditional eps_u, so that DDIM renoises with eps_u:
    x_s = alpha_s x0_lam + sigma_s eps_u (and Euler in sigma~ steps along eps_u: ComfyUI's
    `euler_cfg_pp`). The pair is not x = alpha x0 + sigma eps: the guidance lives in the
    renoising, so `sample` takes it only with `DDIM` (any eta), the sampler it was derived for.
    lam = 0 is unconditional sampling; the paper maps CFG's w ~ 1 + 12.5 lam in text-to-image.
    """

    scale: float
    null_cond: Any

    pair_consistent: ClassVar[bool] = False  # x0 and eps do not reconstruct x

    def __post_init__(self):
        if not 0.0 <= self.scale <= 1.0:
            raise ValueError(f"CFG++ scale (lambda) must lie in [0, 1]; got {self.scale!r}.")

    def __call__(self, params, x, t, cond):
        (x0_c, _), (x0_u, eps_u), _ = _conditional_and_unconditional(
            self.denoiser, self.null_cond, params, x, t, cond
        )
        return x0_u + self.scale * (x0_c - x0_u), eps_u


def pair_consistent(denoiser) -> bool:
    """False where `denoiser` or a denoiser it wraps returns an (x0, eps) pair that does not
    reconstruct x (CFG++), which only samplers stepping from the pair itself (DDIM) may use."""
    while denoiser is not None:
        if not getattr(denoiser, "pair_consistent", True):
            return False
        denoiser = getattr(denoiser, "denoiser", None)
    return True


def pairing_ok(denoiser, sampler) -> bool:
    """Can `sampler` take `denoiser`'s pair: it reconstructs x, or the sampler's steps use the
    pair as given (`Sampler.steps_from_pair`, DDIM)."""
    return pair_consistent(denoiser) or sampler.steps_from_pair


@dataclasses.dataclass(frozen=True)
class AdaptiveProjectedGuidance(_Wrapper):
    """APG (Sadat et al. 2025, eq. 9-12, without momentum): with D = x0_c - x0_u, optionally
    rescaled to norm <= `norm_threshold` per example, split into D_par along x0_c and D_perp,
    x0 = x0_c + (w - 1) (D_perp + eta D_par); eps_hat recomputed. eta = 1 and no threshold is
    classifier-free guidance on x0_hat; the paper's default eta = 0 drops the parallel part that
    oversaturates.
    """

    scale: float
    null_cond: Any
    eta: float = 0.0
    norm_threshold: float = float("inf")

    def __post_init__(self):
        if not self.eta >= 0.0:
            raise ValueError(f"eta must be >= 0; got {self.eta!r}.")
        if not self.norm_threshold > 0.0:
            raise ValueError(f"norm_threshold must be > 0; got {self.norm_threshold!r}.")

    def __call__(self, params, x, t, cond):
        (x0_c, _), (x0_u, _), _ = _conditional_and_unconditional(
            self.denoiser, self.null_cond, params, x, t, cond
        )
        diff = x0_c - x0_u
        norm = jnp.sqrt(_per_example(jnp.sum, diff**2))
        diff = diff * jnp.minimum(1.0, self.norm_threshold / (norm + 1e-12))
        unit = x0_c / (jnp.sqrt(_per_example(jnp.sum, x0_c**2)) + 1e-12)
        parallel = _per_example(jnp.sum, diff * unit) * unit
        x0 = x0_c + (self.scale - 1.0) * (diff - parallel + self.eta * parallel)
        return x0, _eps_from_x0(self.schedule, x, t, x0)


@dataclasses.dataclass(frozen=True)
class ClassifierGuidance(_Wrapper):
    """Dhariwal & Nichol (2021): eps = eps_hat - scale sigma grad_x log p(y | x_t, t).

    log_prob_fn(classifier_params, x, t, cond) -> (batch,) log-probabilities of the labels cond
    (e.g. `losses.classifier_log_prob` of a noise-aware classifier); the classifier's parameters
    travel in params as (denoiser_params, classifier_params). With `null_cond` the denoiser is
    called with that 'no label' conditioning (guiding a class-conditional network's
    unconditional mode; the classifier still sees cond); scale 0 is then the unconditional model.
    """

    log_prob_fn: Callable
    scale: float
    null_cond: Any = None

    def __call__(self, params, x, t, cond):
        den_params, clf_params = params
        den_cond = cond
        if self.null_cond is not None:
            den_cond = jnp.broadcast_to(jnp.asarray(self.null_cond, cond.dtype), cond.shape)
        x0, eps = self.denoiser(den_params, x, t, den_cond)
        grad = jax.grad(lambda xx: jnp.sum(self.log_prob_fn(clf_params, xx, t, cond)))(x)
        rec = self.schedule(self.schedule.clip(jnp.asarray(t, x.dtype)))
        eps = eps - self.scale * broadcast_to_data(rec.sigma, x) * grad
        x0 = (x - broadcast_to_data(rec.sigma, x) * eps) / broadcast_to_data(rec.alpha, x)
        return x0, eps


@dataclasses.dataclass(frozen=True)
class ClipX0(_Wrapper):
    """Clips x0_hat to [-bound, bound] (DDPM's static clipping).

    keep_eps=False recomputes eps_hat from x_t and the clipped x0 (GLIDE; diffusers'
    `use_clipped_model_output=True`); keep_eps=True keeps the network's eps_hat beside the
    clipped x0 (diffusers' default `clip_sample=True` in DDIM and DPM-Solver's x0 path).
    """

    bound: float = 1.0
    keep_eps: bool = False

    def __post_init__(self):
        if not self.bound > 0:
            raise ValueError(f"bound must be > 0; got {self.bound!r}.")
        if not isinstance(self.keep_eps, bool):
            raise TypeError(f"keep_eps must be True or False; got {self.keep_eps!r}.")

    def __call__(self, params, x, t, cond):
        x0, eps = self.denoiser(params, x, t, cond)
        x0 = jnp.clip(x0, -self.bound, self.bound)
        return x0, (eps if self.keep_eps else _eps_from_x0(self.schedule, x, t, x0))


@dataclasses.dataclass(frozen=True)
class DynamicThresholding(_Wrapper):
    """Imagen (Saharia et al. 2022): s = max(1, quantile_p |x0_hat|) per example; x0 = clip(x0, -s, s)/s."""

    percentile: float = 0.995

    def __post_init__(self):
        if not 0.0 < self.percentile <= 1.0:
            raise ValueError(f"percentile must lie in (0, 1]; got {self.percentile!r}.")

    def __call__(self, params, x, t, cond):
        x0 = self.denoiser(params, x, t, cond)[0]
        flat = jnp.abs(x0.reshape(x0.shape[0], -1))
        s = jnp.maximum(jnp.quantile(flat, self.percentile, axis=1), 1.0)
        s = broadcast_to_data(s, x0)
        x0 = jnp.clip(x0, -s, s) / s
        return x0, _eps_from_x0(self.schedule, x, t, x0)
