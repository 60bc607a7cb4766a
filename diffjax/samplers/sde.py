"""Reverse-SDE samplers (Song et al. 2021): Euler-Maruyama and predictor-corrector.

The reverse of dx = f x dt + g dW, run from t to t - dt, is
dx = [f x - g^2 score] dt + g dW~, with score = -eps_hat/sigma.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffjax.samplers.base import Method, no_memory, noise_like, record


def _em_update(ctx, x, t, t_next, eps, z):
    rec = record(ctx.schedule, t)
    f, g2 = ctx.schedule.sde(ctx.schedule.clip(t))
    score = -eps / rec.sigma
    dt = t - t_next
    return x - (f * x - g2 * score) * dt + jnp.sqrt(g2 * dt) * z


def euler_maruyama_step(ctx, state, i, t, t_next, key):
    """x_{t-dt} = x - (f x - g^2 score) dt + g sqrt(dt) z; the last step returns x0_hat when
    `denoise_final` (score SDE's final denoising step)."""
    x0, eps = ctx.denoise(state.x, t)
    x = _em_update(ctx, state.x, t, t_next, eps, noise_like(key, state.x))
    if ctx.options["denoise_final"]:
        x = jnp.where(i == ctx.num_steps - 1, x0, x)
    return state._replace(x=x, nfe=state.nfe + 1)


def pc_step(ctx, state, i, t, t_next, key):
    """Predictor-corrector (Song et al. 2021, Alg. 1-3): Langevin corrector at t, then an
    Euler-Maruyama predictor. Corrector step size 2 (snr ||z|| / ||score||)^2 per example."""
    x = state.x
    keys = jax.random.split(key, ctx.options["corrector_steps"] + 1)
    rec = record(ctx.schedule, t)
    for k in range(ctx.options["corrector_steps"]):
        _, eps = ctx.denoise(x, t)
        score = -eps / rec.sigma
        z = noise_like(keys[k], x)
        axes = tuple(range(1, x.ndim))
        z_norm = jnp.sqrt(jnp.mean(jnp.sum(z**2, axes)))
        s_norm = jnp.sqrt(jnp.mean(jnp.sum(score**2, axes)))
        step = 2.0 * (ctx.options["snr"] * z_norm / s_norm) ** 2
        x = x + step * score + jnp.sqrt(2.0 * step) * z
    x0, eps = ctx.denoise(x, t)
    x_next = _em_update(ctx, x, t, t_next, eps, noise_like(keys[-1], x))
    if ctx.options["denoise_final"]:
        x_next = jnp.where(i == ctx.num_steps - 1, x0, x_next)
    n = ctx.options["corrector_steps"] + 1
    return state._replace(x=x_next, nfe=state.nfe + n)


METHODS = {
    "euler_maruyama": Method(
        euler_maruyama_step,
        no_memory,
        {"denoise_final": True},
        None,
        True,
        "1",
        "Song et al. 2021 (reverse SDE)",
    ),
    "pc": Method(
        pc_step,
        no_memory,
        {"snr": 0.16, "corrector_steps": 1, "denoise_final": True},
        None,
        True,
        "1 + corrector_steps",
        "Song et al. 2021, predictor-corrector (Langevin)",
    ),
}
