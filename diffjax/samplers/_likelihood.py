"""Log-likelihood through the probability-flow ODE (Song et al. 2021, sec. D.2; Chen et al. 2018).

log p_0(x) = log p_1(x_1) + int_0^1 div v(x_t, t) dt, with dx/dt = v = alpha' x0_hat + sigma' eps_hat
solved from t0 (near 0) to 1 by diffrax (Tsit5, adaptive); the prior is N(0, sigma(1)^2 I)
(alpha(1) x0 neglected, as in score SDE). The divergence is exact (d forward-mode passes) or
Hutchinson's estimate E[z^T (dv/dx) z] with Rademacher or Gaussian probes (one JVP each).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp

from diffjax._checks import Choice, check_instance, check_int
from diffjax.samplers._base import pf_velocity


@dataclasses.dataclass(frozen=True, kw_only=True)
class Divergence:
    """How div v is computed inside the likelihood ODE."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ExactDivergence(Divergence):
    """d forward-mode passes (one per data dimension): exact, for small d."""


class Probe(Choice):
    RADEMACHER = "rademacher"
    GAUSSIAN = "gaussian"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Hutchinson(Divergence):
    """Hutchinson's estimate E[z^T (dv/dx) z], num_probes JVPs (Grathwohl et al. 2019)."""

    probe: Probe = Probe.RADEMACHER
    num_probes: int = 1

    def __post_init__(self):
        check_instance("probe", self.probe, Probe)
        check_int("num_probes", self.num_probes, minimum=1)


def log_likelihood(
    denoiser,
    x: jax.Array,
    *,
    params=None,
    cond=None,
    key: jax.Array | None = None,
    divergence: Divergence = ExactDivergence(),
    t0: float | None = None,
    rtol: float = 1e-6,
    atol: float = 1e-6,
    prior_log_prob=None,
) -> jax.Array:
    """log p(x) in nats per example, x of shape (batch, ...). t0 defaults to schedule.t_min.

    Hutchinson needs a key. prior_log_prob(x1) -> (batch,) replaces the default
    N(0, sigma(1)^2 I) prior at t = 1.
    """
    check_instance("divergence", divergence, Divergence)
    if isinstance(divergence, Hutchinson) and key is None:
        raise ValueError(
            "divergence=Hutchinson(...) draws probes: pass key=jax.random.PRNGKey(...)."
        )
    key = jax.random.PRNGKey(0) if key is None else key  # unused by the exact divergence
    t0 = denoiser.schedule.t_min if t0 is None else t0
    args = (denoiser, divergence, float(t0), rtol, atol, prior_log_prob)
    return _solve(*args, params, cond, x, key)


def _divergence_field(v, divergence, probes, shape):
    """(t, y) -> (v(t, y), div v(t, y)) for the chosen divergence."""
    dim = math.prod(shape[1:])

    def field(t, state, args):
        y, _ = state
        if isinstance(divergence, ExactDivergence):
            basis = jnp.eye(dim, dtype=y.dtype).reshape((dim, 1) + shape[1:])
            out, jvps = jax.vmap(
                lambda e: jax.jvp(lambda z: v(t, z), (y,), (jnp.broadcast_to(e, shape),))
            )(basis)
            div = jnp.einsum("kb...,kb...->b", jvps, jnp.broadcast_to(basis, jvps.shape))
            return out[0], div
        out, jvps = jax.vmap(lambda z: jax.jvp(lambda w: v(t, w), (y,), (z,)))(probes)
        n = probes.shape[0]
        div = jnp.mean(jnp.sum((jvps * probes).reshape(n, shape[0], -1), -1), 0)
        return out[0], div

    return field


@functools.partial(jax.jit, static_argnums=tuple(range(6)))
def _solve(denoiser, divergence, t0, rtol, atol, prior_log_prob, params, cond, x, key):
    import diffrax

    shape = x.shape
    dim = math.prod(shape[1:])
    probes = None
    if isinstance(divergence, Hutchinson):
        draw = jax.random.rademacher if divergence.probe is Probe.RADEMACHER else jax.random.normal
        probes = draw(key, (divergence.num_probes,) + shape, x.dtype)

    def v(t, y):
        return pf_velocity(denoiser, params, y, t, cond)

    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_divergence_field(v, divergence, probes, shape)),
        diffrax.Tsit5(),
        t0=jnp.asarray(t0, x.dtype),
        t1=jnp.asarray(1.0, x.dtype),
        dt0=jnp.asarray((1.0 - t0) / 64, x.dtype),
        y0=(x, jnp.zeros(shape[0], x.dtype)),
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        max_steps=16384,
    )
    x1, integral = sol.ys[0][-1], sol.ys[1][-1]
    if prior_log_prob is not None:
        return prior_log_prob(x1) + integral
    sigma1 = denoiser.schedule(jnp.asarray(1.0, x.dtype)).sigma
    flat = x1.reshape(shape[0], -1)
    prior = -0.5 * jnp.sum(flat**2, 1) / sigma1**2 - dim * (
        jnp.log(sigma1) + 0.5 * math.log(2 * math.pi)
    )
    return prior + integral


def bits_per_dim_dequantized(log_px: jax.Array, x: jax.Array, num_bins: int = 256) -> jax.Array:
    """Bits/dim of 8-bit data from the density of uniformly dequantised x scaled to [-1, 1]:
    -(log p(x) + D log(2/num_bins)) / (D log 2), where 2/num_bins is the bin width."""
    dim = math.prod(x.shape[1:])
    return -(log_px + dim * math.log(2.0 / num_bins)) / (dim * math.log(2.0))
