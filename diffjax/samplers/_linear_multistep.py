"""Linear multistep methods in the VE view (k-diffusion's `sample_lms` and `sample_ipndm`).

With y = x/alpha and sigma~ = sigma/alpha the probability-flow ODE is dy/dsigma~ = eps_hat.
LMS integrates the Lagrange polynomial in sigma~ through the last `order` eps_hat values over the
step (Adams-Bashforth on any grid; DEIS's rho-AB); DEIS's t-AB (Zhang & Chen 2023) takes the
polynomial in the schedule's time t instead; iPNDM uses the fixed Adams-Bashforth weights of
equal steps, as k-diffusion does.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from diffjax._checks import check_int
from diffjax.samplers._base import Sampler, exact_record, record

# Gauss-Legendre nodes and weights on [-1, 1]: exact for LMS's degree <= 3 basis; for DEIS's
# basis in t (a smooth function of sigma~) the error is far below float64 round-off per step
_NODES, _WEIGHTS = (tuple(map(float, a)) for a in np.polynomial.legendre.leggauss(8))
# Adams-Bashforth weights of equal steps, newest first (orders 1-4)
_AB = {
    1: (1.0,),
    2: (3 / 2, -1 / 2),
    3: (23 / 12, -16 / 12, 5 / 12),
    4: (55 / 24, -59 / 24, 37 / 24, -9 / 24),
}


def _lagrange_weights(points, s, s_next, basis_at=lambda u: u):
    """int_s^s_next L_j(basis_at(u)) du for the Lagrange basis on `points` (newest first), by
    8-point Gauss-Legendre in u (exact where basis_at is the identity: degree <= 3)."""
    half = 0.5 * (s_next - s)
    nodes = [basis_at(s + half * (1.0 + n)) for n in _NODES]
    weights = []
    for j, p_j in enumerate(points):
        total = 0.0
        for w, u in zip(_WEIGHTS, nodes, strict=True):
            basis = 1.0
            for k, p_k in enumerate(points):
                if k != j:
                    basis = basis * (u - p_k) / (p_j - p_k)
            total = total + w * basis
        weights.append(half * total)
    return weights


def _ve_step(ctx, state, t, t_next):
    """(eps_hat at x_t, y = x/alpha, sigma~ at t, at t_next, alpha at t_next)."""
    _, eps = ctx.denoise(state.x, t)
    rec, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    return eps, state.x / rec.alpha, rec.sigma / rec.alpha, rec_s.sigma / rec_s.alpha, rec_s.alpha


def _history_memory(x, order):
    """eps_hat and sigma~ at the previous order - 1 points (distinct placeholder sigmas: the
    unused warm-up branches divide by their differences)."""
    placeholder = -jnp.arange(1, order, dtype=x.dtype)
    return (jnp.zeros((order - 1,) + x.shape, x.dtype), placeholder)


@dataclasses.dataclass(frozen=True, kw_only=True)
class _SigmaMultistep(Sampler):
    """Adams-Bashforth in sigma~ of order 1-4, remembering the last order - 1 eps_hat."""

    finite_start = True

    order: int = 4

    def __post_init__(self):
        check_int("order", self.order, allowed=(1, 2, 3, 4))

    def init_memory(self, x):
        return _history_memory(x, max(self.order, 2))


@dataclasses.dataclass(frozen=True, kw_only=True)
class LMS(_SigmaMultistep):
    """Linear multistep in sigma~ (k-diffusion's `sample_lms`): y_{n+1} = y_n + sum_j c_j eps_{n-j},
    c_j = int_{sigma_n}^{sigma_{n+1}} L_j; warm-up with the orders available. One evaluation per
    step; global order `order` on any grid."""

    paper = "k-diffusion's LMS (Adams-Bashforth in sigma)"

    @property
    def accuracy_order(self):
        return self.order

    def _point(self, ctx, t, sig):
        """Where the step's eps_hat sits in the interpolation variable (here sigma~)."""
        return sig

    def _basis_at(self, ctx):
        """Maps sigma~ (the integration variable) to the interpolation variable."""
        return lambda u: u

    def step(self, ctx, state, i, t, t_next, key):
        eps, y, sig, sig_next, alpha_next = _ve_step(ctx, state, t, t_next)
        eps_hist, point_hist = state.memory
        point = self._point(ctx, t, sig)
        y_next = y + (sig_next - sig) * eps
        for k in range(2, self.order + 1):  # order k from step k - 1 on
            points = [point] + [point_hist[j] for j in range(k - 1)]
            c = _lagrange_weights(points, sig, sig_next, self._basis_at(ctx))
            candidate = y + c[0] * eps + sum(c[j + 1] * eps_hist[j] for j in range(k - 1))
            y_next = jnp.where(i >= k - 1, candidate, y_next)
        memory = (
            jnp.concatenate([eps[None], eps_hist[:-1]]),
            jnp.concatenate([point[None], point_hist[:-1]]),
        )
        return state._replace(x=alpha_next * y_next, memory=memory, nfe=state.nfe + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DEIS(LMS):
    """t-AB DEIS (Zhang & Chen 2023, eq. 14): y_{n+1} = y_n + sum_j c_j eps_{n-j} with
    c_j = int_{sigma~_n}^{sigma~_{n+1}} L_j(t(sigma~)) dsigma~, L_j the Lagrange basis in the
    schedule's time t through t_n, ..., t_{n-order+1} (the paper's recommended order 3). Where
    sigma~ is affine in t (EDM with rho = 1) it is LMS. One evaluation per step."""

    order: int = 3

    paper = "Zhang & Chen 2023, DEIS (t-AB)"

    def _point(self, ctx, t, sig):
        return ctx.schedule.clip(t)

    def _basis_at(self, ctx):
        return lambda u: ctx.schedule.t_from_logsnr(-2.0 * jnp.log(u))


@dataclasses.dataclass(frozen=True, kw_only=True)
class IPNDM(_SigmaMultistep):
    """iPNDM (Zhang & Chen 2023; k-diffusion's `sample_ipndm`): Adams-Bashforth in sigma~ with the
    fixed weights of equal steps (55, -59, 37, -9)/24 at order 4, lower orders for warm-up. On a
    grid of unequal steps the weights are inexact (see `LMS` for the variable-step method)."""

    paper = "Zhang & Chen 2023 (iPNDM, as k-diffusion)"

    @property
    def accuracy_order(self):
        return None  # `order` only on equal steps in sigma~

    def step(self, ctx, state, i, t, t_next, key):
        eps, y, sig, sig_next, alpha_next = _ve_step(ctx, state, t, t_next)
        eps_hist, _ = state.memory
        d = eps
        for k in range(2, self.order + 1):
            w = _AB[k]
            candidate = w[0] * eps + sum(w[j + 1] * eps_hist[j] for j in range(k - 1))
            d = jnp.where(i >= k - 1, candidate, d)
        memory = (jnp.concatenate([eps[None], eps_hist[:-1]]), state.memory[1])
        x_next = alpha_next * (y + (sig_next - sig) * d)
        return state._replace(x=x_next, memory=memory, nfe=state.nfe + 1)
