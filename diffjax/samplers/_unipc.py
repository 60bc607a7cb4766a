"""UniPC (Zhao et al. 2023) with B(h) = e^h - 1 ('bh2'), data prediction, predictor order p.

Each step evaluates the network once at the new point; that output both corrects the point
(UniC, raising the order to p + 1) and drives the next predictor (UniP). The step into the final
point is not corrected (no evaluation there). A step to sigma = 0 returns x0_hat.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp

from diffjax._checks import check_int
from diffjax.samplers._base import Sampler, exact_record, record


def _coefficients(h, rks):
    """UniPC's R (k x k, rows rks^(i-1)), b_i = phi_i(h) i!/B(h) for k = len(rks) (hh = -h)."""
    hh = -h
    h_phi_1 = jnp.expm1(hh)
    h_phi_k = h_phi_1 / hh - 1.0
    factorial = 1
    rows, b = [], []
    for i in range(1, len(rks) + 1):
        rows.append(jnp.stack([r ** (i - 1) for r in rks]))
        b.append(h_phi_k * factorial / h_phi_1)
        factorial *= i + 1
        h_phi_k = h_phi_k / hh - 1.0 / factorial
    return jnp.stack(rows), jnp.stack(b), h_phi_1


def _update(x_from, rec_from, rec_to, l_from, l_to, m0, history, order, m_new=None):
    """UniP (m_new None) or UniC (m_new given) of the given order from x_from to the next time.

    history: [(x0, half-log-SNR) at earlier points, newest first]; m0 the x0 at rec_from.
    """
    h = l_to - l_from
    rks, d1s = [], []
    for m_i, l_i in history[: order - 1]:
        rk = (l_i - l_from) / h
        rks.append(rk)
        d1s.append((m_i - m0) / rk)
    rks.append(jnp.ones_like(h))
    big_r, b, h_phi_1 = _coefficients(h, rks)
    x_lin = (rec_to.sigma / rec_from.sigma) * x_from - rec_to.alpha * h_phi_1 * m0
    if m_new is None:
        if order == 1:
            return x_lin
        rhos = [0.5] if order == 2 else list(jnp.linalg.solve(big_r[:-1, :-1], b[:-1]))
        res = sum(r * d for r, d in zip(rhos, d1s, strict=True))
        return x_lin - rec_to.alpha * h_phi_1 * res
    rhos = [0.5] if order == 1 else list(jnp.linalg.solve(big_r, b))
    res = sum(r * d for r, d in zip(rhos[:-1], d1s, strict=True)) if d1s else 0.0
    return x_lin - rec_to.alpha * h_phi_1 * (res + rhos[-1] * (m_new - m0))


@dataclasses.dataclass(frozen=True, kw_only=True)
class UniPC(Sampler):
    """UniPC-p (Zhao et al. 2023, bh2, data prediction): predictor of order p, corrector raising
    it to p + 1, one evaluation per step.

    lower_order_final: diffusers' option (its default): the predictor order of step i is at most
    num_steps - i, so UniPC-3 ends with orders 2, 1 (the corrector follows the predictor).
    """

    finite_start = True

    order: int = 2
    lower_order_final: bool = False

    paper = "Zhao et al. 2023 (UniPC-p, bh2)"

    def __post_init__(self):
        check_int("order", self.order, allowed=(1, 2, 3))
        if not isinstance(self.lower_order_final, bool):
            raise TypeError(
                f"lower_order_final must be True or False; got {self.lower_order_final!r}."
            )

    @property
    def accuracy_order(self):
        return self.order + 1

    def init_memory(self, x):
        zeros = jnp.zeros_like(x)
        scalar = jnp.zeros((), x.dtype)
        # x at the previous grid point, its t, and (x0, half-log-SNR) at the last p points
        return (zeros, scalar, tuple((zeros, scalar) for _ in range(self.order)))

    def step(self, ctx, state, i, t, t_next, key):
        return _unipc_step(ctx, state, i, t, t_next, self.order, self.lower_order_final)


def _predictor_order(ctx, i, p, lower_order_final):
    k = jnp.minimum(i + 1, p)
    return jnp.minimum(k, ctx.num_steps - i) if lower_order_final else k


def _unipc_step(ctx, state, i, t, t_next, p, lower_order_final=False):
    """One UniPC-p step: evaluate at x_i, correct x_i (UniC), then predict x_{i+1} (UniP)."""
    x = state.x
    x_prev, t_prev, history = state.memory
    m_new, _ = ctx.denoise(x, t)
    sched = ctx.schedule
    rec_prev, rec_t, rec_s = record(sched, t_prev), record(sched, t), exact_record(sched, t_next)
    l_prev, l_t, l_s = (0.5 * r.logsnr for r in (rec_prev, rec_t, rec_s))
    # corrector for x_i, order min(p, i) (the predictor order used for this point)
    corrected = x
    for k in range(1, p + 1):
        c_k = _update(
            x_prev, rec_prev, rec_t, l_prev, l_t, history[0][0], list(history[1:]), k, m_new
        )
        k_used = _predictor_order(ctx, i - 1, p, lower_order_final)
        corrected = jnp.where((i >= 1) & (k_used == k), c_k, corrected)
    history = ((m_new, l_t),) + history[:-1]
    x_next = x
    for k in range(1, p + 1):
        p_k = _update(corrected, rec_t, rec_s, l_t, l_s, m_new, list(history[1:]), k)
        x_next = jnp.where(_predictor_order(ctx, i, p, lower_order_final) == k, p_k, x_next)
    x_next = jnp.where(rec_s.sigma == 0, m_new, x_next)
    memory = (corrected, t, history)
    return state._replace(x=x_next, memory=memory, nfe=state.nfe + 1)
