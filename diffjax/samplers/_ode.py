"""Explicit Runge-Kutta methods on the probability-flow ODE in t, and EDM's Heun with churn."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import check_positive
from diffjax.samplers._base import Sampler, exact_record, noise_like, record, velocity


@dataclasses.dataclass(frozen=True, kw_only=True)
class Euler(Sampler):
    """Euler on the probability-flow ODE in t: x_{n+1} = x_n + h v(x_n, t_n), h = t_{n+1} - t_n."""

    order = 1
    paper = "Euler on the probability-flow ODE"

    def step(self, ctx, state, i, t, t_next, key):
        x = state.x + (t_next - t) * velocity(ctx, state.x, t)
        return state._replace(x=x, nfe=state.nfe + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Midpoint(Sampler):
    """Explicit midpoint (RK2): k1 = v(x, t); x_{n+1} = x + h v(x + h/2 k1, t + h/2)."""

    order = 2
    nfe_per_step = "2"
    paper = "explicit midpoint (RK2)"

    def step(self, ctx, state, i, t, t_next, key):
        h = t_next - t
        k1 = velocity(ctx, state.x, t)
        x = state.x + h * velocity(ctx, state.x + 0.5 * h * k1, t + 0.5 * h)
        return state._replace(x=x, nfe=state.nfe + 2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class RK4(Sampler):
    """Classical fourth-order Runge-Kutta on the probability-flow ODE in t."""

    order = 4
    nfe_per_step = "4"
    paper = "classical Runge-Kutta 4"

    def step(self, ctx, state, i, t, t_next, key):
        h, x = t_next - t, state.x
        k1 = velocity(ctx, x, t)
        k2 = velocity(ctx, x + 0.5 * h * k1, t + 0.5 * h)
        k3 = velocity(ctx, x + 0.5 * h * k2, t + 0.5 * h)
        k4 = velocity(ctx, x + h * k3, t_next)
        return state._replace(x=x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), nfe=state.nfe + 4)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Heun(Sampler):
    """EDM Algorithm 2 (Karras et al. 2022) in y = x/alpha, sigma~ = sigma/alpha: dy/dsigma~ = eps.

    gamma_i = min(S_churn/N, sqrt 2 - 1) when S_tmin <= sigma~_i <= S_tmax; sigma^ = (1 + gamma)
    sigma~_i; y^ = y + sqrt(sigma^2 - sigma~_i^2) S_noise z; Euler to sigma~_{i+1}, then the
    trapezoidal correction unless sigma~_{i+1} = 0 (the last step is Euler: NFE = 2N - 1) or
    alpha(t_i) = 0 (a flow's t = 1: the trapezoid over an infinite interval of sigma~ is
    undefined, and over the network's clipped [sigma~_{i+1}, 1e5] it is off by orders of
    magnitude). Stochastic when s_churn > 0.
    """

    finite_start = True

    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = float("inf")
    s_noise: float = 1.0

    order = 2
    nfe_per_step = "2 (last step 1)"
    paper = "Karras et al. 2022, Alg. 2 (stochastic when s_churn > 0)"

    def __post_init__(self):
        if not self.s_churn >= 0:
            raise ValueError(f"s_churn must be >= 0; got {self.s_churn!r}.")
        if not 0 <= self.s_tmin <= self.s_tmax:
            raise ValueError(
                f"need 0 <= s_tmin <= s_tmax; got s_tmin={self.s_tmin!r}, s_tmax={self.s_tmax!r}."
            )
        check_positive("s_noise", self.s_noise)

    @property
    def stochastic(self) -> bool:
        return self.s_churn > 0

    def step(self, ctx, state, i, t, t_next, key):
        sched = ctx.schedule
        rec, rec_next = record(sched, t), exact_record(sched, t_next)
        sig, sig_next = rec.sigma / rec.alpha, rec_next.sigma / rec_next.alpha
        in_range = (sig >= self.s_tmin) & (sig <= self.s_tmax)
        gamma = jnp.where(in_range, min(self.s_churn / ctx.num_steps, 2**0.5 - 1), 0.0)
        sig_hat = sig * (1.0 + gamma)
        t_hat = jnp.where(gamma > 0, sched.t_from_logsnr(-2.0 * jnp.log(sig_hat)), t)
        t_hat = jnp.clip(t_hat, 0.0, 1.0).astype(t.dtype)
        # without churn the network sees x_i itself (y = x_i / alpha at the clipped t_i)
        a_hat = jnp.where(gamma > 0, exact_record(sched, t_hat).alpha, rec.alpha)
        y = state.x / rec.alpha
        y_hat = y
        if self.stochastic:  # sigma^2 - sigma~^2 rounds below 0 under jit where gamma = 0
            churn = jnp.sqrt(jnp.maximum(sig_hat**2 - sig**2, 0.0)) * self.s_noise
            y_hat = y + churn * noise_like(key, y)
        d = ctx.denoise(a_hat * y_hat, t_hat)[1]
        y_euler = y_hat + (sig_next - sig_hat) * d

        def correct(_):
            d_next = ctx.denoise(rec_next.alpha * y_euler, t_next)[1]
            return y_hat + (sig_next - sig_hat) * 0.5 * (d + d_next)

        last = (sig_next == 0) | (exact_record(sched, t).alpha == 0)
        y_next = jax.lax.cond(last, lambda _: y_euler, correct, None)
        return state._replace(x=rec_next.alpha * y_next, nfe=state.nfe + jnp.where(last, 1, 2))
