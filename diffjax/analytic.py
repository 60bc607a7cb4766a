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
from diffjax.schedules import Schedule, ScheduleRecord

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
