"""Guidance and x0 post-processing, as denoiser wrappers so that every sampler supports them.

Each wrapper is a frozen dataclass (hashable: a jit static argument) with the denoiser's call
signature (params, x, t, cond) -> (x0_hat, eps_hat) and its `.schedule`; eps_hat is recomputed
from x0_hat where x0_hat changes, so x = alpha x0_hat + sigma eps_hat still holds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

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


@dataclasses.dataclass(frozen=True)
class ClassifierFreeGuidance(_Wrapper):
    """Ho & Salimans (2022): eps = eps_u + w (eps_c - eps_u) (same for x0), inside `interval` of t.

    The conditional and unconditional passes run as one batched network call; `null_cond` is
    the conditioning that means 'none' (e.g. the label index reserved for dropping).
    """

    scale: float
    null_cond: Any
    interval: tuple[float, float] = (0.0, 1.0)

    def __post_init__(self):
        lo, hi = self.interval
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"interval must satisfy 0 <= lo <= hi <= 1; got {self.interval!r}.")

    def __call__(self, params, x, t, cond):
        batch = x.shape[0]
        t_b = jnp.broadcast_to(jnp.asarray(t, x.dtype), (batch,))
        null = jnp.broadcast_to(
            jnp.asarray(self.null_cond, jnp.asarray(cond).dtype), jnp.shape(cond)
        )
        x0, eps = self.denoiser(
            params,
            jnp.concatenate([x, x]),
            jnp.concatenate([t_b, t_b]),
            jnp.concatenate([cond, null]),
        )
        inside = (t_b >= self.interval[0]) & (t_b <= self.interval[1])
        w = broadcast_to_data(jnp.where(inside, self.scale, 1.0), x)
        guide = lambda a: a[batch:] + w * (a[:batch] - a[batch:])
        return guide(x0), guide(eps)


@dataclasses.dataclass(frozen=True)
class ClassifierGuidance(_Wrapper):
    """Dhariwal & Nichol (2021): eps = eps_hat - scale sigma grad_x log p(y | x_t, t).

    log_prob_fn(classifier_params, x, t, cond) -> (batch,) log-probabilities of the labels cond;
    the classifier's parameters travel in params as (denoiser_params, classifier_params).
    """

    log_prob_fn: Callable
    scale: float

    def __call__(self, params, x, t, cond):
        den_params, clf_params = params
        x0, eps = self.denoiser(den_params, x, t, cond)
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
