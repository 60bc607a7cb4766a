"""Restart sampling (Xu et al. 2023): an ODE sampler that, on reaching a low noise level, goes
back up by the forward process and solves the ODE down again, contracting accumulated error."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance, check_int, check_positive
from diffjax.samplers._base import Sampler, exact_record, noise_like, record
from diffjax.samplers._ode import Heun

_RHO = 7.0  # the restart interval's own steps follow EDM's Karras spacing, as in the paper


def _sigma_tilde(rec):
    return rec.sigma / rec.alpha


@dataclasses.dataclass(frozen=True, kw_only=True)
class Restart(Sampler):
    """Restart (Xu et al. 2023, Alg. 1) in y = x/alpha, sigma~ = sigma/alpha.

    `base` (a deterministic one-step method, EDM's Heun by default) runs the grid. At the first
    grid time t_r with sigma~(t_r) <= sigma_lo, `repeats` times: y <- y + sqrt(sigma~_hi^2 -
    sigma~(t_r)^2) z (the forward process from t_r to sigma~_hi, exact in law for any
    schedule), then `base` back down to t_r on `steps` Karras (rho = 7) steps. The paper and the
    webui restart at the grid time nearest sigma_lo; the webui's default for 20-35 steps is
    sigma_lo = 0.1, sigma_hi = 2, one repeat of 9 steps. Restart starts from the sample base
    produced at t_r, so with the exact denoiser its law is the data's whatever the settings.
    """

    base: Sampler = Heun()
    sigma_lo: float = 0.1
    sigma_hi: float = 2.0
    repeats: int = 1
    steps: int = 9

    nfe_per_step = "base's; at the restart time + repeats x steps x base's"
    paper = "Xu et al. 2023, Restart"

    def __post_init__(self):
        check_instance("base", self.base, Sampler)
        if self.base.stochastic or self.base.init_memory(jnp.zeros(1)) != ():
            raise ValueError(
                "Restart's base must be a deterministic one-step method (euler, ddim, heun, "
                f"midpoint, rk4, dpmpp_2s); got base={self.base!r}."
            )
        check_positive("sigma_lo", self.sigma_lo)
        if not self.sigma_hi > self.sigma_lo:
            raise ValueError(
                f"need sigma_hi > sigma_lo; got sigma_lo={self.sigma_lo!r}, "
                f"sigma_hi={self.sigma_hi!r}."
            )
        check_int("repeats", self.repeats, minimum=1)
        check_int("steps", self.steps, minimum=1)

    @property
    def stochastic(self) -> bool:
        return True

    @property
    def finite_start(self) -> bool:
        return self.base.finite_start

    def step(self, ctx, state, i, t, t_next, key):
        self._check_reachable(ctx.schedule)
        state = self.base.step(ctx, state, i, t, t_next, key)
        sig = _sigma_tilde(record(ctx.schedule, t))
        sig_next = _sigma_tilde(exact_record(ctx.schedule, t_next))
        fire = (sig > self.sigma_lo) & (sig_next <= self.sigma_lo)
        return jax.lax.cond(fire, lambda s: self._restart(ctx, s, t_next, key), lambda s: s, state)

    def _check_reachable(self, schedule) -> None:
        with jax.ensure_compile_time_eval():
            top = float(_sigma_tilde(schedule(jnp.asarray(schedule.t_max))))
        if self.sigma_hi > top:
            raise ValueError(
                f"Restart: sigma_hi={self.sigma_hi!r} is above the schedule's largest noise level "
                f"sigma/alpha = {top:.4g} (at t_max) on {schedule!r}."
            )

    def _interval(self, schedule, t_lo):
        """The restart ODE's times: Karras-spaced sigma~ from sigma_hi down to sigma~(t_lo)."""
        sig_lo = _sigma_tilde(exact_record(schedule, t_lo))
        w = jnp.linspace(0.0, 1.0, self.steps + 1, dtype=t_lo.dtype)
        a, b = self.sigma_hi ** (1.0 / _RHO), sig_lo ** (1.0 / _RHO)
        sig = (a + w[:-1] * (b - a)) ** _RHO
        t = jnp.clip(schedule.t_from_logsnr(-2.0 * jnp.log(sig)), schedule.t_min, schedule.t_max)
        return jnp.append(t.astype(t_lo.dtype), t_lo)

    def _restart(self, ctx, state, t_lo, key):
        times = self._interval(ctx.schedule, t_lo)
        rec_lo, rec_hi = exact_record(ctx.schedule, t_lo), exact_record(ctx.schedule, times[0])
        rise = jnp.sqrt(jnp.maximum(_sigma_tilde(rec_hi) ** 2 - _sigma_tilde(rec_lo) ** 2, 0.0))
        sub = ctx._replace(num_steps=self.steps)
        steps = (jnp.arange(self.steps), times[:-1], times[1:])

        def descend(s, inputs):
            k, ta, tb = inputs
            return self.base.step(sub, s, k, ta, tb, key), None

        def once(j, s):
            y = s.x / rec_lo.alpha
            y = y + rise * noise_like(jax.random.fold_in(key, j), y)
            s, _ = jax.lax.scan(descend, s._replace(x=rec_hi.alpha * y), steps)
            return s

        return jax.lax.fori_loop(0, self.repeats, once, state)
