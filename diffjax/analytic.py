"""Exact references for Gaussian-mixture data under any schedule.

Data x0 ~ sum_k w_k N(mu_k, Sigma_k); x_t = alpha x0 + sigma eps. With C_k = alpha^2 Sigma_k +
sigma^2 I and responsibilities r_k(x) = softmax_k(log w_k + log N(x; alpha mu_k, C_k)):
  log p_t(x) = logsumexp_k(log w_k + log N(x; alpha mu_k, C_k))
  score(x)   = -sum_k r_k C_k^-1 (x - alpha mu_k)
  E[x0 | x]  = sum_k r_k (mu_k + alpha Sigma_k C_k^-1 (x - alpha mu_k))
Use these to test samplers, losses and likelihoods; `exact_denoiser` plugs into any sampler.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from diffjax.parameterisations import broadcast_to_data
from diffjax.schedules import RectifiedFlow, Schedule, ScheduleRecord

Array = jax.Array


class GaussianMixture(NamedTuple):
    """sum_k w_k N(mu_k, Sigma_k) in d dimensions."""

    weights: Array  # (K,), positive, summing to 1
    means: Array  # (K, d)
    covs: Array  # (K, d, d), symmetric positive definite


def gaussian_mixture(weights, means, covs) -> GaussianMixture:
    """Builds a mixture, checking shapes; `covs` may be (K, d, d), (K, d) diagonals or (K,) scalars."""
    weights, means = jnp.asarray(weights), jnp.asarray(means)
    k, d = means.shape
    covs = jnp.asarray(covs, means.dtype)
    if covs.shape == (k,):
        covs = covs[:, None, None] * jnp.eye(d, dtype=means.dtype)
    elif covs.shape == (k, d):
        covs = jax.vmap(jnp.diag)(covs)
    if weights.shape != (k,) or covs.shape != (k, d, d):
        raise ValueError(
            f"weights must be (K,), means (K, d), covs (K, d, d), (K, d) or (K,); got "
            f"{weights.shape}, {means.shape}, {covs.shape}."
        )
    return GaussianMixture(weights / jnp.sum(weights), means, covs)


def sample(gmm: GaussianMixture, key: Array, num: int) -> tuple[Array, Array]:
    """Draws `num` exact samples; returns (x of shape (num, d), component index of shape (num,))."""
    k_comp, k_noise = jax.random.split(key)
    comp = jax.random.choice(k_comp, gmm.weights.shape[0], (num,), p=gmm.weights)
    chol = jnp.linalg.cholesky(gmm.covs)[comp]
    z = jax.random.normal(k_noise, gmm.means[comp].shape, gmm.means.dtype)
    return gmm.means[comp] + jnp.einsum("nij,nj->ni", chol, z), comp


def _components(gmm: GaussianMixture, x: Array, alpha: Array, sigma: Array):
    """Per-component log N(x; alpha mu_k, C_k) and C_k^-1 (x - alpha mu_k); x (n, d), alpha (n,)."""
    d = gmm.means.shape[1]
    eye = jnp.eye(d, dtype=x.dtype)
    cov = alpha[:, None, None, None] ** 2 * gmm.covs + sigma[:, None, None, None] ** 2 * eye
    chol = jnp.linalg.cholesky(cov)  # (n, K, d, d)
    diff = x[:, None, :] - alpha[:, None, None] * gmm.means  # (n, K, d)
    white = jax.scipy.linalg.solve_triangular(chol, diff[..., None], lower=True)[..., 0]
    logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    log_n = -0.5 * (jnp.sum(white**2, -1) + logdet + d * jnp.log(2 * jnp.pi))
    solved = jax.scipy.linalg.solve_triangular(
        jnp.swapaxes(chol, -1, -2), white[..., None], lower=False
    )[..., 0]
    return log_n, solved  # (n, K), (n, K, d)


def _per_example(rec: ScheduleRecord, x: Array):
    n = x.shape[0]
    return (jnp.broadcast_to(rec.alpha, (n,)), jnp.broadcast_to(rec.sigma, (n,)))


def log_density(gmm: GaussianMixture, x: Array, rec: ScheduleRecord) -> Array:
    """log p_t(x) for x of shape (n, d); returns (n,)."""
    alpha, sigma = _per_example(rec, x)
    log_n, _ = _components(gmm, x, alpha, sigma)
    return jax.nn.logsumexp(jnp.log(gmm.weights) + log_n, axis=-1)


def score(gmm: GaussianMixture, x: Array, rec: ScheduleRecord) -> Array:
    """grad_x log p_t(x) = -sum_k r_k C_k^-1 (x - alpha mu_k); x (n, d) -> (n, d)."""
    alpha, sigma = _per_example(rec, x)
    log_n, solved = _components(gmm, x, alpha, sigma)
    resp = jax.nn.softmax(jnp.log(gmm.weights) + log_n, axis=-1)
    return -jnp.einsum("nk,nkd->nd", resp, solved)


def posterior_mean(gmm: GaussianMixture, x: Array, rec: ScheduleRecord) -> Array:
    """E[x0 | x_t = x] = sum_k r_k (mu_k + alpha Sigma_k C_k^-1 (x - alpha mu_k)); (n, d)."""
    alpha, sigma = _per_example(rec, x)
    log_n, solved = _components(gmm, x, alpha, sigma)
    resp = jax.nn.softmax(jnp.log(gmm.weights) + log_n, axis=-1)
    per_k = gmm.means + alpha[:, None, None] * jnp.einsum("kij,nkj->nki", gmm.covs, solved)
    return jnp.einsum("nk,nkd->nd", resp, per_k)


def x0_eps(gmm: GaussianMixture, x: Array, rec: ScheduleRecord) -> tuple[Array, Array]:
    """Exact (E[x0|x], E[eps|x]), with E[eps|x] = -sigma score (no division by alpha)."""
    alpha, sigma = _per_example(rec, x)
    return posterior_mean(gmm, x, rec), -sigma[:, None] * score(gmm, x, rec)


@dataclasses.dataclass(frozen=True, eq=False)
class ExactDenoiser:
    """The exact denoiser (params, x, t, cond) -> (E[x0 | x_t], E[eps | x_t]) of a mixture.

    The same kind of object as a trained `Denoiser`: it carries its schedule and is evaluated on
    [t_min, t_max]. x may have any trailing shape whose size is d; params and cond are ignored.
    Hashed by identity (its arrays are not hashable), like a jit static argument should be.
    """

    gmm: GaussianMixture
    schedule: Schedule

    def __call__(self, params, x, t, cond=None):
        del params, cond
        flat = x.reshape(x.shape[0], -1)
        rec = self.schedule(self.schedule.clip(t).astype(x.dtype))
        x0, eps = x0_eps(self.gmm, flat, rec)
        return x0.reshape(x.shape), eps.reshape(x.shape)


def exact_denoiser(gmm: GaussianMixture, schedule: Schedule) -> ExactDenoiser:
    """The exact denoiser of `gmm` under `schedule` (see ExactDenoiser)."""
    return ExactDenoiser(gmm, schedule)


@dataclasses.dataclass(frozen=True, eq=False)
class ExactScoreFlow:
    """The exact [SF]2M pair of a mixture on the rectified-flow Brownian-bridge path
    x_t = (1 - t) x0 + t x1 + sigma sqrt(t (1 - t)) z, x1 ~ N(0, I) independent of x0.

    p_t is the mixture seen through alpha = 1 - t and s_t^2 = t^2 + sigma^2 t (1 - t); its
    velocity (the conditional-velocity mean, Tong et al. 2024) is
    v = (alpha'/alpha) x - ((s_t^2)'/2 - (alpha'/alpha) s_t^2) grad log p_t. Called, it is the
    flow's (x0_hat, eps_hat) under `RectifiedFlow()` (v = alpha' x0_hat + sigma' eps_hat);
    `score_of` is grad log p_t, as `models.ScoreFlow`. Hashed by identity.
    """

    gmm: GaussianMixture
    sigma: float
    schedule: Schedule = dataclasses.field(default_factory=RectifiedFlow)

    def _marginal(self, t, x):
        t = jnp.broadcast_to(self.schedule.clip(t).astype(x.dtype), x.shape[:1])
        s2 = t**2 + self.sigma**2 * t * (1.0 - t)
        d_s2 = 2.0 * t + self.sigma**2 * (1.0 - 2.0 * t)
        rec = ScheduleRecord(
            1.0 - t, jnp.sqrt(s2), -jnp.ones_like(t), d_s2, jnp.log((1 - t) ** 2 / s2)
        )
        return t, s2, d_s2, rec

    def score_of(self, params, x, t, cond=None):
        del params, cond
        flat = x.reshape(x.shape[0], -1)
        return score(self.gmm, flat, self._marginal(t, flat)[3]).reshape(x.shape)

    def __call__(self, params, x, t, cond=None):
        flat = x.reshape(x.shape[0], -1)
        t, s2, d_s2, _ = self._marginal(t, flat)
        ratio = (-1.0 / (1.0 - t))[:, None]
        grad = self.score_of(params, flat, t)
        v = ratio * flat - (0.5 * d_s2[:, None] - ratio * s2[:, None]) * grad
        rec = self.schedule(t)
        det = (rec.alpha * rec.d_sigma - rec.sigma * rec.d_alpha)[:, None]
        x0 = (rec.d_sigma[:, None] * flat - rec.sigma[:, None] * v) / det
        eps = (rec.alpha[:, None] * v - rec.d_alpha[:, None] * flat) / det
        return x0.reshape(x.shape), eps.reshape(x.shape)


def gaussian_pf_ode_map(
    mean: Array, cov: Array, x: Array, rec_from: ScheduleRecord, rec_to: ScheduleRecord
) -> Array:
    """Exact probability-flow ODE map for Gaussian data N(mean, U diag(l) U^T).

    With y = x/alpha and s = sigma/alpha: y(s_b) = mu + U diag(sqrt((l + s_b^2)/(l + s_a^2))) U^T
    (y(s_a) - mu). x of shape (n, d); records broadcast over n. Returns x at the target time.
    """
    lam, u = jnp.linalg.eigh(cov)
    a_from, s_from = broadcast_to_data(rec_from.alpha, x), broadcast_to_data(rec_from.sigma, x)
    a_to, s_to = broadcast_to_data(rec_to.alpha, x), broadcast_to_data(rec_to.sigma, x)
    sa, sb = s_from / a_from, s_to / a_to
    y = x / a_from - mean
    coef = jnp.sqrt((lam + sb**2) / (lam + sa**2))
    return a_to * (mean + ((y @ u) * coef) @ u.T)


def gaussian_flow_errors(sampler, grid, steps, mean, cov, schedule, x, t_start, t_end) -> list:
    """Max |x_N - exact| of `sampler` over the probability-flow ODE of Gaussian data N(mean, cov)
    from t_start to t_end, for each number of steps N in `steps`: the exact reference of
    measured convergence orders (slope of log error vs log N, `fitted_order`)."""
    from diffjax.samplers import sample, time_grid  # samplers sit above this module

    den = exact_denoiser(GaussianMixture(jnp.ones(1, x.dtype), mean[None], cov[None]), schedule)
    ref = gaussian_pf_ode_map(mean, cov, x, schedule(t_start), schedule(t_end))
    errors = []
    for n in steps:
        times = time_grid(schedule, n, grid, t_start=t_start, t_end=t_end)
        errors.append(float(jnp.max(jnp.abs(sample(den, x, times, sampler).samples - ref))))
    return errors


def fitted_order(steps, errors) -> float:
    """The global order p of errors ~ C N^-p: minus the least-squares slope in log-log."""
    import numpy as np

    return float(-np.polyfit(np.log(steps), np.log(errors), 1)[0])
