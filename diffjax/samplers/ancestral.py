"""DDPM ancestral sampling, DDIM, and Euler-ancestral, for any schedule.

Between a time t and an earlier time s < t, with alpha_{t|s} = alpha_t/alpha_s and
sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2 (Kingma et al. 2021), the posterior
q(x_s | x_t, x0) has mean (alpha_{t|s} sigma_s^2/sigma_t^2) x_t + (alpha_s sigma_{t|s}^2/sigma_t^2) x0
and variance beta~ = sigma_{t|s}^2 sigma_s^2 / sigma_t^2. For DDPM's grid these are Ho et al.'s
beta~_t and beta_t = sigma_{t|s}^2.
"""

from __future__ import annotations

import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.samplers.base import Method, exact_record, no_memory, noise_like, record


def _transition(ctx, t, t_next):
    rec, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    a_ts = rec.alpha / rec_s.alpha
    var_ts = rec.sigma**2 - a_ts**2 * rec_s.sigma**2  # beta
    beta_tilde = var_ts * rec_s.sigma**2 / rec.sigma**2
    return rec, rec_s, a_ts, var_ts, beta_tilde


def ddpm_step(ctx, state, i, t, t_next, key):
    """Ho et al. (2020), Alg. 2: x_s ~ N(posterior mean at x0_hat, beta~ or beta)."""
    check_choice("variance", ctx.options["variance"], ("beta_tilde", "beta"))
    x0, _ = ctx.denoise(state.x, t)
    rec, rec_s, a_ts, var_ts, beta_tilde = _transition(ctx, t, t_next)
    mean = (a_ts * rec_s.sigma**2 / rec.sigma**2) * state.x + (
        rec_s.alpha * var_ts / rec.sigma**2
    ) * x0
    var = beta_tilde if ctx.options["variance"] == "beta_tilde" else var_ts
    var = jnp.where(rec_s.sigma == 0, 0.0, var)  # the last step returns the mean
    x = mean + jnp.sqrt(var) * noise_like(key, state.x)
    return state._replace(x=x, nfe=state.nfe + 1)


def ddim_step(ctx, state, i, t, t_next, key):
    """Song et al. (2021), eq. 12: x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z, c = eta sqrt(beta~).

    eta = 0 is deterministic; eta = 1 is DDPM with beta~.
    """
    x0, eps = ctx.denoise(state.x, t)
    _, rec_s, _, _, beta_tilde = _transition(ctx, t, t_next)
    c = ctx.options["eta"] * jnp.sqrt(beta_tilde)
    x = rec_s.alpha * x0 + jnp.sqrt(jnp.maximum(rec_s.sigma**2 - c**2, 0.0)) * eps
    if ctx.options["eta"] != 0:
        x = x + c * noise_like(key, state.x)
    return state._replace(x=x, nfe=state.nfe + 1)


def euler_ancestral_step(ctx, state, i, t, t_next, key):
    """k-diffusion's Euler-ancestral in y = x/alpha, sigma~ = sigma/alpha (Karras et al. 2022 setting).

    sigma_up = min(sigma_next, eta sqrt(sigma_next^2 (sigma^2 - sigma_next^2)/sigma^2)),
    sigma_down = sqrt(sigma_next^2 - sigma_up^2); y_next = y + (sigma_down - sigma) eps + sigma_up z.
    """
    _, eps = ctx.denoise(state.x, t)
    rec, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    sig, sig_next = rec.sigma / rec.alpha, rec_s.sigma / rec_s.alpha
    up = ctx.options["eta"] * jnp.sqrt(sig_next**2 * (sig**2 - sig_next**2) / sig**2)
    up = jnp.minimum(sig_next, up)
    down = jnp.sqrt(jnp.maximum(sig_next**2 - up**2, 0.0))  # rounding can make it -0
    y = state.x / rec.alpha + (down - sig) * eps + up * noise_like(key, state.x)
    return state._replace(x=rec_s.alpha * y, nfe=state.nfe + 1)


METHODS = {
    "ddpm": Method(
        ddpm_step, no_memory, {"variance": "beta_tilde"}, None, True, "1", "Ho et al. 2020, Alg. 2"
    ),
    "ddim": Method(ddim_step, no_memory, {"eta": 0.0}, 1, False, "1", "Song et al. 2021 (DDIM)"),
    "euler_ancestral": Method(
        euler_ancestral_step, no_memory, {"eta": 1.0}, None, True, "1", "k-diffusion (Crowson)"
    ),
}
