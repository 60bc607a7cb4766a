"""The discrete DDPM variational bound (Ho et al. 2020, eq. 5) and Nichol & Dhariwal's hybrid loss.

-log p(x0) <= L_T + sum_{i=2}^T L_{i-1} + L_0, with
  L_T     = KL(q(x_T | x0) || N(0, I)),
  L_{i-1} = KL(q(x_{i-1} | x_i, x0) || p(x_{i-1} | x_i)),
  L_0     = -log p(x0 | x_1), a discretised Gaussian decoder over 256 bins of [-1, 1].
Timesteps are integers i in 1..T (t = i/T). Everything is in nats per example (summed over
dimensions); `bits_per_dim` converts.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance
from diffjax.losses._denoising import LossFn, split_dropout_key, weighted_denoising_error
from diffjax.losses._path import Path
from diffjax.losses._time_sampling import DiscreteTime
from diffjax.losses._weighting import SNRWeighting
from diffjax.parameterisations import broadcast_to_data
from diffjax.schedules import DiscreteDDPM, ReverseVariance

Array = jax.Array


class DDPMPosterior(NamedTuple):
    """q(x_{i-1} | x_i, x0) = N(coef_x0 x0 + coef_xt x_i, var); fields of the shape of i."""

    coef_x0: Array  # sqrt(abar_{i-1}) beta_i / (1 - abar_i)
    coef_xt: Array  # sqrt(1 - beta_i) (1 - abar_{i-1}) / (1 - abar_i)
    log_var: Array  # log beta~_i, with beta~_1 (= 0) replaced by beta~_2 as in Ho's code
    log_beta: Array  # log beta_i, with beta_1 replaced by beta~_2 ('fixed_large')


def ddpm_posterior(schedule: DiscreteDDPM, i: Array, dtype=None) -> DDPMPosterior:
    """Posterior coefficients at integer timesteps i in 1..T."""
    dtype = dtype or jnp.result_type(float)
    lab = jnp.asarray(schedule.log_alpha_bar_grid(), dtype)
    abar = jnp.exp(lab)
    beta = -jnp.expm1(lab[1:] - lab[:-1])  # beta_i for i = 1..T at index i - 1
    post_var = beta * (1.0 - abar[:-1]) / (1.0 - abar[1:])
    log_post = jnp.log(jnp.concatenate([post_var[1:2], post_var[1:]]))
    log_beta = jnp.log(jnp.concatenate([post_var[1:2], beta[1:]]))
    j = jnp.asarray(i) - 1
    coef_x0 = jnp.sqrt(abar[:-1]) * beta / (1.0 - abar[1:])
    coef_xt = jnp.sqrt(1.0 - beta) * (1.0 - abar[:-1]) / (1.0 - abar[1:])
    return DDPMPosterior(coef_x0[j], coef_xt[j], log_post[j], log_beta[j])


def model_log_variance(
    post: DDPMPosterior, variance: ReverseVariance, v: Array | None = None
) -> Array:
    """log variance of p(x_{i-1} | x_i).

    fixed_small: beta~_i; fixed_large: beta_i; learned_range: v log beta_i + (1 - v) log beta~_i
    with v = (model output + 1)/2 (Nichol & Dhariwal 2021, eq. 15).
    """
    check_instance("variance", variance, ReverseVariance)
    if variance is ReverseVariance.FIXED_SMALL:
        return post.log_var
    if variance is ReverseVariance.FIXED_LARGE:
        return post.log_beta
    if v is None:
        raise ValueError("variance=LEARNED_RANGE needs the model's interpolation output v.")
    frac = (v + 1.0) / 2.0
    return frac * broadcast_to_data(post.log_beta, v) + (1.0 - frac) * broadcast_to_data(
        post.log_var, v
    )


def gaussian_kl(mean1: Array, logvar1: Array, mean2: Array, logvar2: Array) -> Array:
    """Elementwise KL(N(mean1, e^logvar1) || N(mean2, e^logvar2))."""
    return 0.5 * (
        logvar2
        - logvar1
        + jnp.exp(logvar1 - logvar2)
        + (mean1 - mean2) ** 2 * jnp.exp(-logvar2)
        - 1.0
    )


def discretized_gaussian_log_likelihood(
    x: Array, mean: Array, log_scale: Array, num_levels: int = 256
) -> Array:
    """Elementwise log P(bin of x) for data with `num_levels` levels scaled to [-1, 1] under
    N(mean, e^(2 log_scale)).

    Bins have width 2/(num_levels - 1) (2/255 for 8-bit images); the outermost bins extend to
    -inf and +inf (Ho et al. 2020, eq. 13).
    """
    half = 1.0 / (num_levels - 1)
    inv = jnp.exp(-log_scale)
    upper = (x - mean + half) * inv
    lower = (x - mean - half) * inv
    log_cdf_upper = jax.scipy.special.log_ndtr(upper)
    log_sf_lower = jax.scipy.special.log_ndtr(-lower)
    # log(Phi(upper) - Phi(lower)) on the side of the mean where it is accurate: right of the
    # mean (lower > 0) as log(Phi(-lower) - Phi(-upper)). One expression on swapped arguments,
    # so that no discarded branch (log1p(-1) = -inf) sends NaN into the gradient.
    right = lower > 0
    hi, lo = jnp.where(right, -lower, upper), jnp.where(right, -upper, lower)
    log_hi = jax.scipy.special.log_ndtr(hi)
    middle = log_hi + jnp.log1p(-jnp.exp(jax.scipy.special.log_ndtr(lo) - log_hi))
    edge = 1.0 - half
    return jnp.where(x < -edge, log_cdf_upper, jnp.where(x > edge, log_sf_lower, middle))


def _sum_dims(a: Array) -> Array:
    return jnp.sum(a, axis=tuple(range(1, a.ndim)))


def prior_kl(schedule: DiscreteDDPM, x0: Array) -> Array:
    """L_T = KL(q(x_T | x0) || N(0, I)) per example, nats."""
    rec = schedule(jnp.ones((), x0.dtype))
    mean = rec.alpha * x0
    logvar = jnp.broadcast_to(2.0 * jnp.log(rec.sigma), x0.shape)
    return _sum_dims(gaussian_kl(mean, logvar, jnp.zeros_like(x0), jnp.zeros_like(x0)))


def vlb_term(
    schedule: DiscreteDDPM,
    x0: Array,
    x_i: Array,
    i: Array,
    x0_hat: Array,
    variance: ReverseVariance = ReverseVariance.FIXED_SMALL,
    v: Array | None = None,
    num_levels: int = 256,
) -> Array:
    """L_{i-1} per example in nats: the Gaussian KL for i >= 2, the decoder NLL L_0 for i = 1.

    Args: x0, x_i, x0_hat of shape (batch, ...); i integer timesteps of shape (batch,);
    v the learned-range output (batch, ...) when variance=LEARNED_RANGE; num_levels the number
    of data levels for the discretised decoder (256 for 8-bit images).
    """
    post = ddpm_posterior(schedule, i, x0.dtype)
    cx0, cxt = broadcast_to_data(post.coef_x0, x0), broadcast_to_data(post.coef_xt, x0)
    true_mean, model_mean = cx0 * x0 + cxt * x_i, cx0 * x0_hat + cxt * x_i
    true_logvar = jnp.broadcast_to(broadcast_to_data(post.log_var, x0), x0.shape)
    model_logvar = jnp.broadcast_to(
        broadcast_to_data(model_log_variance(post, variance, v), x0), x0.shape
    )
    kl = _sum_dims(gaussian_kl(true_mean, true_logvar, model_mean, model_logvar))
    # the decoder only where i = 1: elsewhere its mean is x0, so that the branch not taken
    # (a far-off mean makes log(Phi(u) - Phi(l)) -inf) sends no NaN into the gradient
    first = broadcast_to_data(jnp.asarray(i) == 1, x0)
    decoder_mean = jnp.where(first, model_mean, x0)
    nll = -_sum_dims(
        discretized_gaussian_log_likelihood(x0, decoder_mean, 0.5 * model_logvar, num_levels)
    )
    return jnp.where(jnp.asarray(i) == 1, nll, kl)


def _x0_and_variance(denoiser, params, x, t, cond, key=None):
    """(x0_hat, learned-range output or None) of any denoiser (the exact one included); `key`
    for a network with dropout."""
    kw = {} if key is None else {"key": key}
    if not getattr(denoiser, "learned_variance", False):
        return denoiser(params, x, t, cond, **kw)[0], None
    p = denoiser.predict(params, x, t, cond, **kw)
    return denoiser.parameterisation.to_x0_eps(p.pred, x, p.rec)[0], p.variance


def ddpm_bound(
    denoiser,
    params,
    x0: Array,
    key: Array,
    *,
    cond=None,
    variance: ReverseVariance = ReverseVariance.FIXED_SMALL,
    num_levels: int = 256,
) -> tuple[Array, Array]:
    """The full bound L_T + sum_i L_{i-1} per example (nats), one lax.scan over all T timesteps.

    denoiser: any denoiser on a DiscreteDDPM schedule (a trained `Denoiser`, the exact one of a
    mixture); a learned-variance Denoiser uses its own variance
    (LEARNED_RANGE), otherwise `variance` is the fixed choice. Each term uses fresh noise
    x_i ~ q(x_i | x0). Returns (total (batch,), terms (T, batch) for i = 1..T).
    """
    schedule = denoiser.schedule
    check_instance("denoiser.schedule", schedule, DiscreteDDPM)
    check_instance("variance", variance, ReverseVariance)
    if getattr(denoiser, "learned_variance", False):
        variance = ReverseVariance.LEARNED_RANGE
    batch = x0.shape[0]

    def term(_, inputs):
        i, k = inputs
        t = jnp.full((batch,), i, x0.dtype) / schedule.num_timesteps
        rec = schedule(t)
        eps = jax.random.normal(k, x0.shape, x0.dtype)
        x_i = broadcast_to_data(rec.alpha, x0) * x0 + broadcast_to_data(rec.sigma, x0) * eps
        x0_hat, v = _x0_and_variance(denoiser, params, x_i, t, cond)
        i_b = jnp.full((batch,), i)
        return None, vlb_term(schedule, x0, x_i, i_b, x0_hat, variance, v, num_levels)

    steps = jnp.arange(1, schedule.num_timesteps + 1)
    _, terms = jax.lax.scan(term, None, (steps, jax.random.split(key, steps.shape[0])))
    return prior_kl(schedule, x0) + jnp.sum(terms, axis=0), terms


def decoder_nll(
    denoiser, params, x0: Array, step: int, key: Array, *, cond=None, num_levels: int = 256
) -> Array:
    """-log p(x0 | x_k) per example (nats), x_k ~ q(x_k | x0) at integer step k: the discretised
    Gaussian decoder N(x0_hat(x_k), sigma_k^2) of a reverse chain stopped at x_k (`truncated_bound`).
    At k = 1 its variance is sigma_1^2 = beta_1, DDPM's fixed-large decoder. `step` a Python int
    (checked to lie in 1..T) or an integer array (e.g. a jit argument; the caller checks it)."""
    schedule = denoiser.schedule
    check_instance("denoiser.schedule", schedule, DiscreteDDPM)
    if isinstance(step, int) and not 1 <= step <= schedule.num_timesteps:
        raise ValueError(f"step={step}: need 1 <= step <= T = {schedule.num_timesteps}.")
    t = jnp.full((x0.shape[0],), step, x0.dtype) / schedule.num_timesteps
    rec = schedule(t)
    sigma = broadcast_to_data(rec.sigma, x0)
    x_k = broadcast_to_data(rec.alpha, x0) * x0 + sigma * jax.random.normal(key, x0.shape, x0.dtype)
    x0_hat, _ = _x0_and_variance(denoiser, params, x_k, t, cond)
    log_scale = jnp.broadcast_to(jnp.log(sigma), x0.shape)
    return -_sum_dims(discretized_gaussian_log_likelihood(x0, x0_hat, log_scale, num_levels))


def truncated_bound(terms: Array, prior: Array, decoder: Array, step: int) -> Array:
    """L_T + sum_{i=k+1}^T L_{i-1} + (-log p(x0 | x_k)) per example (nats): the bound of the model
    that runs DDPM's reverse steps from x_T down to x_k and decodes x0 from x_k (Ho et al.'s
    derivation with x_1 replaced by x_k; valid for every k in 1..T). On discrete data a decoder at
    a k whose noise sigma_k is a fraction of the level spacing spends almost nothing, where the
    KL terms of the steps below k pay for the network's error at near-zero noise.
    terms: (T, batch) from `ddpm_bound`; prior: L_T (batch,); decoder: `decoder_nll` at k."""
    return prior + jnp.sum(terms[step:], axis=0) + decoder


def bits_per_dim(nats: Array, x0: Array) -> Array:
    """nats per example -> bits per dimension."""
    return nats / (math.prod(x0.shape[1:]) * math.log(2.0))


def hybrid_loss(
    simple_loss: Array,
    schedule: DiscreteDDPM,
    x0: Array,
    x_i: Array,
    i: Array,
    x0_hat: Array,
    v: Array,
    vlb_weight: float = 1e-3,
) -> Array:
    """Nichol & Dhariwal (2021) L_hybrid = L_simple + lambda L_vlb, the mean stopped in L_vlb.

    L_vlb here trains only the variance; its scale is T L_{i-1} per dimension (their code's
    convention: a uniformly sampled term times T, in bits per dimension). Returns (batch,).
    """
    term = vlb_term(
        schedule, x0, x_i, i, jax.lax.stop_gradient(x0_hat), ReverseVariance.LEARNED_RANGE, v
    )
    dims = math.prod(x0.shape[1:])
    return simple_loss + vlb_weight * schedule.num_timesteps * term / (dims * math.log(2.0))


def make_hybrid_loss(denoiser, *, vlb_weight: float = 1e-3) -> LossFn:
    """L_hybrid (Nichol & Dhariwal 2021) as loss(params, batch, key) -> (batch,).

    A learned-variance denoiser on a DiscreteDDPM schedule: L_simple (SNR weighting, uniform
    discrete timesteps) on its prediction plus vlb_weight T L_{i-1} (bits/dim) on its variance.
    """
    check_instance("denoiser.schedule", denoiser.schedule, DiscreteDDPM)
    if not denoiser.learned_variance:
        raise ValueError("make_hybrid_loss needs a Denoiser with learned_variance=True.")

    path, times = Path(schedule=denoiser.schedule), DiscreteTime()

    def loss(params, batch, key: Array) -> Array:
        k_drop, key = split_dropout_key(denoiser, key)
        ps = path.draw(key, batch["data"], times, None, batch.get("cond"))
        p = denoiser.predict(params, ps.x_t, ps.t, ps.cond, key=k_drop)
        par = denoiser.parameterisation
        simple = weighted_denoising_error(
            p.pred, ps.x0, ps.x1, ps.x_t, p.rec, par, SNRWeighting()(p.rec)
        )
        x0_hat = par.to_x0_eps(p.pred, ps.x_t, p.rec)[0]
        i = jnp.round(ps.t * denoiser.schedule.num_timesteps).astype(jnp.int32)
        return hybrid_loss(
            simple, denoiser.schedule, ps.x0, ps.x_t, i, x0_hat, p.variance, vlb_weight
        )

    return loss


def make_vlb_loss(
    denoiser, *, variance: ReverseVariance = ReverseVariance.FIXED_LARGE, num_levels: int = 256
) -> LossFn:
    """Ho et al. (2020)'s true bound L as the training loss (their Table 2 rows 'L'; the 'kl'
    loss of their code): L_{i-1} in bits/dim at i uniform in 1..T (the decoder NLL at i = 1),
    its gradient reaching the mean and, on a learned-variance denoiser, the variance (the
    LEARNED_RANGE interpolation, no stop-gradient: Nichol & Dhariwal's L_vlb). `variance` is
    the fixed reverse variance otherwise; num_levels the data's pixel levels (decoder bins).
    """
    check_instance("denoiser.schedule", denoiser.schedule, DiscreteDDPM)
    check_instance("variance", variance, ReverseVariance)
    if getattr(denoiser, "learned_variance", False):
        variance = ReverseVariance.LEARNED_RANGE
    elif variance is ReverseVariance.LEARNED_RANGE:
        raise ValueError("variance=LEARNED_RANGE needs a Denoiser with learned_variance=True.")
    path, schedule = Path(schedule=denoiser.schedule), denoiser.schedule

    def loss(params, batch, key: Array) -> Array:
        k_drop, key = split_dropout_key(denoiser, key)
        ps = path.draw(key, batch["data"], DiscreteTime(), None, batch.get("cond"))
        x0_hat, v = _x0_and_variance(denoiser, params, ps.x_t, ps.t, ps.cond, k_drop)
        i = jnp.round(ps.t * schedule.num_timesteps).astype(jnp.int32)
        term = vlb_term(schedule, ps.x0, ps.x_t, i, x0_hat, variance, v, num_levels)
        return term / (math.prod(ps.x0.shape[1:]) * math.log(2.0))

    return loss
