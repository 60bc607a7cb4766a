"""Reverse-SDE samplers (Song et al. 2021): Euler-Maruyama and predictor-corrector.

The reverse of dx = f x dt + g dW, run from t to t - dt, is
dx = [f x - g^2 score] dt + g dW~, with score = -eps_hat/sigma.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import check_int, check_positive
from diffjax.samplers._base import Sampler, noise_like, record


def _em_update(ctx, x, t, t_next, eps, z):
    rec = record(ctx.schedule, t)
    f, g2 = ctx.schedule.sde(ctx.schedule.clip(t))
    score = -eps / rec.sigma
    dt = t - t_next
    return x - (f * x - g2 * score) * dt + jnp.sqrt(g2 * dt) * z


@dataclasses.dataclass(frozen=True, kw_only=True)
class EulerMaruyama(Sampler):
    """x_{t-dt} = x - (f x - g^2 score) dt + g sqrt(dt) z (Song et al. 2021, reverse SDE); the last
    step returns x0_hat when `denoise_final` (score SDE's final denoising step)."""

    denoise_final: bool = True

    paper = "Song et al. 2021 (reverse SDE)"

    @property
    def stochastic(self) -> bool:
        return True

    def step(self, ctx, state, i, t, t_next, key):
        x0, eps = ctx.denoise(state.x, t)
        x = _em_update(ctx, state.x, t, t_next, eps, noise_like(key, state.x))
        if self.denoise_final:
            x = jnp.where(i == ctx.num_steps - 1, x0, x)
        return state._replace(x=x, nfe=state.nfe + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PredictorCorrector(Sampler):
    """Predictor-corrector (Song et al. 2021, Alg. 1-3): `corrector_steps` Langevin steps at t
    with step size 2 (snr ||z|| / ||score||)^2, then an Euler-Maruyama predictor."""

    snr: float = 0.16
    corrector_steps: int = 1
    denoise_final: bool = True

    nfe_per_step = "1 + corrector_steps"
    paper = "Song et al. 2021, predictor-corrector (Langevin)"

    def __post_init__(self):
        check_positive("snr", self.snr)
        check_int("corrector_steps", self.corrector_steps, minimum=0)

    @property
    def stochastic(self) -> bool:
        return True

    def step(self, ctx, state, i, t, t_next, key):
        x = state.x
        keys = jax.random.split(key, self.corrector_steps + 1)
        rec = record(ctx.schedule, t)
        for k in range(self.corrector_steps):
            _, eps = ctx.denoise(x, t)
            score = -eps / rec.sigma
            z = noise_like(keys[k], x)
            axes = tuple(range(1, x.ndim))
            z_norm = jnp.sqrt(jnp.mean(jnp.sum(z**2, axes)))
            s_norm = jnp.sqrt(jnp.mean(jnp.sum(score**2, axes)))
            step = 2.0 * (self.snr * z_norm / s_norm) ** 2
            x = x + step * score + jnp.sqrt(2.0 * step) * z
        x0, eps = ctx.denoise(x, t)
        x_next = _em_update(ctx, x, t, t_next, eps, noise_like(keys[-1], x))
        if self.denoise_final:
            x_next = jnp.where(i == ctx.num_steps - 1, x0, x_next)
        return state._replace(x=x_next, nfe=state.nfe + self.corrector_steps + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScoreFlowSDE(Sampler):
    """The SDE with the flow's marginals and diffusion g (Tong et al. 2024, [SF]2M, eq. 5, in
    diffjax's time): x_{t-h} = x - h (v - (g^2 / 2) grad log p_t) + g sqrt(h) z.

    v is the model's dx/dt. grad log p_t is the model's own score where it has one
    (`models.ScoreFlow`, `analytic.ExactScoreFlow`: 2 evaluations a step), else -eps_hat / sigma
    (1 evaluation), which holds only for paths without bridge noise (diffusion, rectified flow,
    I-CFM with sigma = 0). `diffusion` is g; None takes the ScoreFlow's bridge sigma (the paper's
    g = sigma). Any g > 0 leaves the marginals those of the flow; g = 0 is Euler.
    """

    diffusion: float | None = None

    nfe_per_step = "2 with a ScoreFlow, else 1"
    paper = "Tong et al. 2024, [SF]2M SDE (Euler-Maruyama)"

    def __post_init__(self):
        if self.diffusion is not None and not self.diffusion >= 0:
            raise ValueError(f"diffusion must be >= 0 or None; got {self.diffusion!r}.")

    @property
    def stochastic(self) -> bool:
        return self.diffusion is None or self.diffusion > 0

    def _g(self, ctx) -> float:
        g = ctx.bridge_sigma if self.diffusion is None else self.diffusion
        if g is None:
            raise ValueError(
                "ScoreFlowSDE(diffusion=None) takes g from a ScoreFlow model's bridge sigma; this "
                "denoiser has none: pass diffusion=g."
            )
        return g

    def step(self, ctx, state, i, t, t_next, key):
        g = self._g(ctx)
        x0, eps = ctx.denoise(state.x, t)
        rec = record(ctx.schedule, t)
        v = rec.d_alpha * x0 + rec.d_sigma * eps
        if ctx.score is None:
            grad, nfe = -eps / rec.sigma, 1
        else:
            grad, nfe = ctx.score(state.x, t), 2
        h = t - t_next
        x = state.x - h * (v - 0.5 * g**2 * grad) + g * jnp.sqrt(h) * noise_like(key, state.x)
        return state._replace(x=x, nfe=state.nfe + nfe)
