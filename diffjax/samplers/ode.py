"""Explicit Runge-Kutta methods on the probability-flow ODE in t, and EDM's Heun with churn."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffjax.samplers.base import Method, exact_record, no_memory, noise_like, record, velocity


def euler_step(ctx, state, i, t, t_next, key):
    """x_{n+1} = x_n + h v(x_n, t_n), h = t_{n+1} - t_n."""
    x = state.x + (t_next - t) * velocity(ctx, state.x, t)
    return state._replace(x=x, nfe=state.nfe + 1)


def midpoint_step(ctx, state, i, t, t_next, key):
    """Explicit midpoint: k1 = v(x, t); x_{n+1} = x + h v(x + h/2 k1, t + h/2)."""
    h = t_next - t
    k1 = velocity(ctx, state.x, t)
    x = state.x + h * velocity(ctx, state.x + 0.5 * h * k1, t + 0.5 * h)
    return state._replace(x=x, nfe=state.nfe + 2)


def rk4_step(ctx, state, i, t, t_next, key):
    """Classical fourth-order Runge-Kutta."""
    h, x = t_next - t, state.x
    k1 = velocity(ctx, x, t)
    k2 = velocity(ctx, x + 0.5 * h * k1, t + 0.5 * h)
    k3 = velocity(ctx, x + 0.5 * h * k2, t + 0.5 * h)
    k4 = velocity(ctx, x + h * k3, t_next)
    return state._replace(x=x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), nfe=state.nfe + 4)


def heun_step(ctx, state, i, t, t_next, key):
    """EDM Algorithm 2 (Karras et al. 2022) in y = x/alpha, sigma~ = sigma/alpha: dy/dsigma~ = eps.

    gamma_i = min(S_churn/N, sqrt 2 - 1) when S_tmin <= sigma~_i <= S_tmax; sigma^ = (1 + gamma) sigma~_i;
    y^ = y + sqrt(sigma^2 - sigma~_i^2) S_noise z; Euler to sigma~_{i+1}, then the trapezoidal
    correction unless sigma~_{i+1} = 0 (the last step is Euler: NFE = 2N - 1).
    """
    opt, sched = ctx.options, ctx.schedule
    rec, rec_next = record(sched, t), exact_record(sched, t_next)
    sig, sig_next = rec.sigma / rec.alpha, rec_next.sigma / rec_next.alpha
    in_range = (sig >= opt["s_tmin"]) & (sig <= opt["s_tmax"])
    gamma = jnp.where(in_range, min(opt["s_churn"] / ctx.num_steps, 2**0.5 - 1), 0.0)
    sig_hat = sig * (1.0 + gamma)
    t_hat = jnp.where(gamma > 0, sched.t_from_logsnr(-2.0 * jnp.log(sig_hat)), t)
    t_hat = jnp.clip(t_hat, 0.0, 1.0).astype(t.dtype)
    a_hat = exact_record(sched, t_hat).alpha
    y = state.x / rec.alpha
    y_hat = y + jnp.sqrt(sig_hat**2 - sig**2) * opt["s_noise"] * noise_like(key, y)
    d = ctx.denoise(a_hat * y_hat, t_hat)[1]
    y_euler = y_hat + (sig_next - sig_hat) * d

    def correct(_):
        d_next = ctx.denoise(rec_next.alpha * y_euler, t_next)[1]
        return y_hat + (sig_next - sig_hat) * 0.5 * (d + d_next)

    last = sig_next == 0
    y_next = jax.lax.cond(last, lambda _: y_euler, correct, None)
    return state._replace(x=rec_next.alpha * y_next, nfe=state.nfe + jnp.where(last, 1, 2))


METHODS = {
    "euler": Method(euler_step, no_memory, {}, 1, False, "1", "Euler on the probability-flow ODE"),
    "midpoint": Method(midpoint_step, no_memory, {}, 2, False, "2", "explicit midpoint (RK2)"),
    "rk4": Method(rk4_step, no_memory, {}, 4, False, "4", "classical Runge-Kutta 4"),
    "heun": Method(
        heun_step,
        no_memory,
        {"s_churn": 0.0, "s_tmin": 0.0, "s_tmax": float("inf"), "s_noise": 1.0},
        2,
        False,
        "2 (last step 1)",
        "Karras et al. 2022, Alg. 2 (stochastic when s_churn > 0)",
    ),
}
