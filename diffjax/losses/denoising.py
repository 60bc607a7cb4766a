"""Denoising score matching for any prediction target, unreduced per example."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.denoiser import Denoiser
from diffjax.losses.time_sampling import TIME_SAMPLINGS, sample_time
from diffjax.losses.weighting import WEIGHTINGS, loss_weight
from diffjax.parameterisations import broadcast_to_data, from_x0_eps, x0_error_scale
from diffjax.schedules import ScheduleRecord

Array = jax.Array


def weighted_denoising_error(
    pred: Array,
    x0: Array,
    eps: Array,
    x: Array,
    rec: ScheduleRecord,
    parameterisation: str,
    weight_x0: Array,
    sigma_data: float = 0.5,
) -> Array:
    """w_x0(t) ||x0_hat - x0||^2, computed in the network's own output space.

    With c(t) = x0_error_scale (pred error per unit x0 error at fixed x_t), the loss is
    (w_x0 / c^2) mean_dims (pred - target)^2. Args: pred, x0, eps, x of shape (batch, ...);
    rec fields and weight_x0 of shape (batch,). Returns (batch,).
    """
    target = from_x0_eps(x0, eps, x, rec, parameterisation, sigma_data)
    scale = x0_error_scale(rec, parameterisation, sigma_data)
    weight = weight_x0 / scale**2
    sq_err = jnp.mean((pred - target) ** 2, axis=tuple(range(1, pred.ndim)))
    return weight * sq_err


def make_denoising_loss(
    denoiser: Denoiser,
    *,
    time_sampling: str = "uniform",
    weighting: str = "simple",
    **hyperparameters,
) -> Callable[..., Array]:
    """Returns loss(params, x0, key, cond=None) -> (batch,) per-example denoising losses.

    x_t = alpha x0 + sigma eps with t drawn by `time_sampling` and eps ~ N(0, I); the network
    predicts in `denoiser.parameterisation`; `weighting` (see `loss_weight`) is the weight on the
    x0 error. hyperparameters go to `loss_weight` (min_snr_gamma, sigmoid_bias) and
    `sample_time` (logit_mean, logit_std, p_mean, p_std).
    """
    check_choice("time_sampling", time_sampling, TIME_SAMPLINGS)
    check_choice("weighting", weighting, WEIGHTINGS)
    weight_keys = {"min_snr_gamma", "sigmoid_bias"}
    time_keys = {"logit_mean", "logit_std", "p_mean", "p_std"}
    unknown = set(hyperparameters) - weight_keys - time_keys
    if unknown:
        raise TypeError(
            f"unknown loss hyperparameters {sorted(unknown)}; allowed: {sorted(weight_keys | time_keys)}."
        )
    weight_kw = {k: v for k, v in hyperparameters.items() if k in weight_keys}
    time_kw = {k: v for k, v in hyperparameters.items() if k in time_keys}
    schedule = denoiser.schedule

    def loss(params, x0: Array, key: Array, cond=None) -> Array:
        key_t, key_eps = jax.random.split(key)
        t = sample_time(key_t, x0.shape[0], schedule, time_sampling, dtype=x0.dtype, **time_kw)
        eps = jax.random.normal(key_eps, x0.shape, x0.dtype)
        rec = schedule(t)
        x = broadcast_to_data(rec.alpha, x0) * x0 + broadcast_to_data(rec.sigma, x0) * eps
        pred, rec = denoiser.predict(params, x, t, cond)
        weight = loss_weight(rec, weighting, sigma_data=denoiser.sigma_data, **weight_kw)
        return weighted_denoising_error(
            pred, x0, eps, x, rec, denoiser.parameterisation, weight, denoiser.sigma_data
        )

    return loss
