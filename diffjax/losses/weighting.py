"""Loss weightings, each written as the weight on ||x0_hat - x0||^2 (EDM's convention).

A weight w_x0 equals w_eps / SNR on ||eps_hat - eps||^2; `denoising.py` moves it to whatever
space the network predicts in. Per example, shape of the record's fields.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.schedules import ScheduleRecord

Array = jax.Array

WEIGHTINGS = (
    "simple",
    "snr",
    "x0",
    "snr_plus_one",
    "truncated_snr",
    "min_snr",
    "edm",
    "sigmoid",
    "elbo",
)


def snr(rec: ScheduleRecord) -> Array:
    """alpha^2 / sigma^2."""
    return (rec.alpha / rec.sigma) ** 2


def dlogsnr_dt(rec: ScheduleRecord) -> Array:
    """d lambda/dt = 2 (alpha'/alpha - sigma'/sigma) (negative)."""
    return 2.0 * (rec.d_alpha / rec.alpha - rec.d_sigma / rec.sigma)


def loss_weight(
    rec: ScheduleRecord,
    weighting: str,
    *,
    min_snr_gamma: float = 5.0,
    sigma_data: float = 0.5,
    sigmoid_bias: float = 2.0,
) -> Array:
    """Weight on the x0 squared error.

    simple / snr: SNR, i.e. Ho et al. (2020)'s unweighted eps MSE (Salimans & Ho's 'SNR weighting').
    x0: 1, unweighted x0 MSE.
    snr_plus_one: SNR + 1, i.e. v MSE for VP schedules (Salimans & Ho 2022).
    truncated_snr: max(SNR, 1) (Salimans & Ho 2022).
    min_snr: min(SNR, gamma) (Hang et al. 2023), gamma = min_snr_gamma.
    edm: (s^2 + sd^2)/(s sd)^2, s = sigma/alpha (Karras et al. 2022, Table 1).
    elbo: SNR (-d lambda/dt)/2, the continuous-time ELBO (Kingma et al. 2021, VDM eq. 17).
    sigmoid: SNR (-d lambda/dt)/2 sigmoid(b - lambda) (Kingma & Gao 2023), b = sigmoid_bias.
    """
    check_choice("weighting", weighting, WEIGHTINGS)
    ratio = snr(rec)
    if weighting in ("simple", "snr"):
        return ratio
    if weighting == "x0":
        return jnp.ones_like(ratio)
    if weighting == "snr_plus_one":
        return ratio + 1.0
    if weighting == "truncated_snr":
        return jnp.maximum(ratio, 1.0)
    if weighting == "min_snr":
        return jnp.minimum(ratio, min_snr_gamma)
    if weighting == "edm":
        s2 = 1.0 / ratio
        return (s2 + sigma_data**2) / (s2 * sigma_data**2)
    elbo = 0.5 * ratio * -dlogsnr_dt(rec)
    if weighting == "elbo":
        return elbo
    return elbo * jax.nn.sigmoid(sigmoid_bias - rec.logsnr)
