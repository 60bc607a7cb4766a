"""DDPM ancestral sampling, DDIM, and Euler-ancestral, for any schedule.

Between a time t and an earlier time s < t, with alpha_{t|s} = alpha_t/alpha_s and
sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2 (Kingma et al. 2021), the posterior
q(x_s | x_t, x0) has mean (alpha_{t|s} sigma_s^2/sigma_t^2) x_t + (alpha_s sigma_{t|s}^2/sigma_t^2) x0
and variance beta~ = sigma_{t|s}^2 sigma_s^2 / sigma_t^2. For DDPM's grid these are Ho et al.'s
beta~_t and beta_t = sigma_{t|s}^2.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from diffjax._checks import check_instance
from diffjax.samplers._base import Sampler, exact_record, noise_like, record
from diffjax.schedules import ReverseVariance


def _transition(ctx, t, t_next):
    rec, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    a_ts = rec.alpha / rec_s.alpha
    var_ts = rec.sigma**2 - a_ts**2 * rec_s.sigma**2  # beta
    beta_tilde = var_ts * rec_s.sigma**2 / rec.sigma**2
    return rec, rec_s, a_ts, var_ts, beta_tilde


def ancestral_split(sig, sig_next, eta):
    """k-diffusion's get_ancestral_step: (sigma_down, sigma_up) with sigma_down^2 + sigma_up^2 =
    sigma_next^2, sigma_up = min(sigma_next, eta sqrt(sigma_next^2 (sigma^2 - sigma_next^2) /
    sigma^2)) (in sigma~ = sigma/alpha)."""
    up = jnp.minimum(sig_next, eta * jnp.sqrt(sig_next**2 * (sig**2 - sig_next**2) / sig**2))
    return jnp.sqrt(jnp.maximum(sig_next**2 - up**2, 0.0)), up  # rounding can make it -0


def _check_eta(eta: float) -> None:
    if not 0.0 <= eta <= 1.0:
        raise ValueError(f"eta must lie in [0, 1] (0 deterministic, 1 ancestral); got {eta!r}.")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DDPM(Sampler):
    """Ho et al. (2020), Alg. 2: x_s ~ N(posterior mean at x0_hat, beta~ or beta).

    variance: FIXED_SMALL (beta~), FIXED_LARGE (beta, Ho's CIFAR-10 choice), or LEARNED_RANGE:
    exp(v log beta + (1 - v) log beta~) with v = (output + 1)/2 the model's own (Nichol &
    Dhariwal 2021, eq. 15; a Denoiser with learned_variance=True), on any grid.
    """

    variance: ReverseVariance = ReverseVariance.FIXED_SMALL

    paper = "Ho et al. 2020, Alg. 2"

    def __post_init__(self):
        check_instance("variance", self.variance, ReverseVariance)

    @property
    def stochastic(self) -> bool:
        return True

    def _predict(self, ctx, x, t):
        """(x0_hat, the learned-range output or None): one evaluation."""
        if self.variance is not ReverseVariance.LEARNED_RANGE:
            return ctx.denoise(x, t)[0], None
        if ctx.denoise_with_variance is None:
            raise ValueError(
                "DDPM(variance=LEARNED_RANGE) needs a Denoiser with learned_variance=True (its "
                "network outputs the variance); use FIXED_SMALL or FIXED_LARGE for this model."
            )
        x0, _, v = ctx.denoise_with_variance(x, t)
        return x0, v

    def step(self, ctx, state, i, t, t_next, key):
        x0, v = self._predict(ctx, state.x, t)
        rec, rec_s, a_ts, var_ts, beta_tilde = _transition(ctx, t, t_next)
        mean = (a_ts * rec_s.sigma**2 / rec.sigma**2) * state.x + (
            rec_s.alpha * var_ts / rec.sigma**2
        ) * x0
        var = beta_tilde if self.variance is ReverseVariance.FIXED_SMALL else var_ts
        if v is not None:  # log beta~ clipped away from -inf (beta~ = 0 on the last step)
            tiny = jnp.finfo(state.x.dtype).tiny
            frac = (v + 1.0) / 2.0
            log_var = frac * jnp.log(var_ts) + (1.0 - frac) * jnp.log(jnp.maximum(beta_tilde, tiny))
            var = jnp.exp(log_var)
        var = jnp.where(rec_s.sigma == 0, 0.0, var)  # the last step returns the mean
        x = mean + jnp.sqrt(var) * noise_like(key, state.x)
        return state._replace(x=x, nfe=state.nfe + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DDIM(Sampler):
    """Song et al. (2021), eq. 12: x_s = alpha_s x0 + sqrt(sigma_s^2 - c^2) eps + c z,
    c = eta sqrt(beta~). eta = 0 is deterministic (order 1); eta = 1 is DDPM with beta~."""

    eta: float = 0.0

    paper = "Song et al. 2021 (DDIM)"
    steps_from_pair = True

    def __post_init__(self):
        _check_eta(self.eta)

    @property
    def stochastic(self) -> bool:
        return self.eta != 0

    @property
    def accuracy_order(self):
        return None if self.stochastic else 1

    def step(self, ctx, state, i, t, t_next, key):
        x0, eps = ctx.denoise(state.x, t)
        _, rec_s, _, _, beta_tilde = _transition(ctx, t, t_next)
        c = self.eta * jnp.sqrt(beta_tilde)
        x = rec_s.alpha * x0 + jnp.sqrt(jnp.maximum(rec_s.sigma**2 - c**2, 0.0)) * eps
        if self.stochastic:
            x = x + c * noise_like(key, state.x)
        return state._replace(x=x, nfe=state.nfe + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EulerAncestral(Sampler):
    """k-diffusion's Euler-ancestral in y = x/alpha, sigma~ = sigma/alpha (Karras et al. setting).

    y_next = y + (sigma_down - sigma) eps + sigma_up z (`ancestral_split`).
    """

    eta: float = 1.0

    paper = "k-diffusion (Crowson)"

    def __post_init__(self):
        _check_eta(self.eta)

    @property
    def stochastic(self) -> bool:
        return self.eta != 0

    def step(self, ctx, state, i, t, t_next, key):
        _, eps = ctx.denoise(state.x, t)
        rec, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
        sig, sig_next = rec.sigma / rec.alpha, rec_s.sigma / rec_s.alpha
        down, up = ancestral_split(sig, sig_next, self.eta)
        y = state.x / rec.alpha + (down - sig) * eps + up * noise_like(key, state.x)
        return state._replace(x=rec_s.alpha * y, nfe=state.nfe + 1)
