"""How training draws the time t of each example (all return shape (batch,), inside [t_min, t_max])."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.schedules import DiscreteDDPM, Schedule

Array = jax.Array

TIME_SAMPLINGS = ("uniform", "discrete", "antithetic", "logit_normal", "edm_lognormal")


def sample_time(
    key: Array,
    batch: int,
    schedule: Schedule,
    method: str = "uniform",
    *,
    logit_mean: float = 0.0,
    logit_std: float = 1.0,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    dtype=None,
) -> Array:
    """Draws training times.

    uniform: t ~ U[t_min, t_max].
    discrete: i ~ U{1..T}, t = i/T (Ho et al. 2020; needs a DiscreteDDPM schedule).
    antithetic: low-discrepancy t_i = t_min + (t_max - t_min) ((u + i/B) mod 1) (Kingma et al. 2021).
    logit_normal: t = sigmoid(m + s n), n ~ N(0, 1) (Esser et al. 2024, SD3), clipped.
    edm_lognormal: sigma/alpha = exp(P_mean + P_std n) (Karras et al. 2022), t from log-SNR, clipped.
    """
    check_choice("time_sampling", method, TIME_SAMPLINGS)
    dtype = dtype or jnp.result_type(float)
    lo, hi = schedule.t_min, schedule.t_max
    if method == "uniform":
        return jax.random.uniform(key, (batch,), dtype, lo, hi)
    if method == "discrete":
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError(
                f"time_sampling='discrete' needs a DiscreteDDPM schedule; got {type(schedule).__name__}."
            )
        steps = jax.random.randint(key, (batch,), 1, schedule.num_timesteps + 1)
        return steps.astype(dtype) / schedule.num_timesteps
    if method == "antithetic":
        u = jax.random.uniform(key, (), dtype)
        u = jnp.mod(u + jnp.arange(batch, dtype=dtype) / batch, 1.0)
        return lo + (hi - lo) * u
    n = jax.random.normal(key, (batch,), dtype)
    if method == "logit_normal":
        return jnp.clip(jax.nn.sigmoid(logit_mean + logit_std * n), lo, hi)
    log_sigma = p_mean + p_std * n
    return jnp.clip(schedule.t_from_logsnr(-2.0 * log_sigma), lo, hi).astype(dtype)
