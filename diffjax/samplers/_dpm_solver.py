"""DPM-Solver (Lu et al. 2022a) and DPM-Solver++ (Lu et al. 2022b): exponential integrators in log-SNR.

With lambda = log(alpha/sigma) ... here diffjax's lambda = log(alpha^2/sigma^2), so the papers'
half-log-SNR is l = lambda/2 and a step from t to s has h = l_s - l_t > 0.
Noise prediction (DPM-Solver):  x_s = (alpha_s/alpha_t) x_t - sigma_s (e^h - 1) eps + ...
Data prediction (DPM-Solver++): x_s = (sigma_s/sigma_t) x_t - alpha_s (e^-h - 1) x0 + ...
A step that ends at sigma = 0 returns x0_hat (the first-order limit; 'lower order final').
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import Choice, check_instance, check_int
from diffjax.samplers._base import Sampler, exact_record, noise_like, record


def _half_logsnr(rec):
    return 0.5 * rec.logsnr


def _intermediate(ctx, rec_t, h, r):
    """Time and record at half-log-SNR l_t + r h (inverts the schedule's log-SNR)."""
    t_mid = ctx.schedule.t_from_logsnr(2.0 * (_half_logsnr(rec_t) + r * h))
    t_mid = jnp.clip(t_mid, 0.0, 1.0).astype(rec_t.alpha.dtype)
    return t_mid, exact_record(ctx.schedule, t_mid)


def _finish(state, rec_s, x0, full_step, nfe_full):
    """Returns x0_hat when sigma_s = 0 (1 evaluation), else the full step (nfe_full evaluations)."""
    last = rec_s.sigma == 0
    x = jax.lax.cond(last, lambda _: x0, full_step, None)
    return state._replace(x=x, nfe=state.nfe + jnp.where(last, 1, nfe_full))


@dataclasses.dataclass(frozen=True, kw_only=True)
class DPMSolver(Sampler):
    """Singlestep DPM-Solver-1/2/3 (Lu et al. 2022a, eq. 3.7; Alg. 1 r1 = 1/2; Alg. 2 r1 = 1/3,
    r2 = 2/3), noise prediction; `order` network evaluations per step."""

    finite_start = True

    order: int = 2

    nfe_per_step = "order (1, 2 or 3)"
    paper = "Lu et al. 2022a (singlestep, noise prediction)"

    def __post_init__(self):
        check_int("order", self.order, allowed=(1, 2, 3))

    @property
    def accuracy_order(self):
        return self.order

    def step(self, ctx, state, i, t, t_next, key):
        return _dpm_solver_step(ctx, state, t, t_next, self.order)


def _dpm_solver_step(ctx, state, t, t_next, order):
    x = state.x
    x0, eps = ctx.denoise(x, t)
    rec_t, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    h = _half_logsnr(rec_s) - _half_logsnr(rec_t)

    def first(rec_to, hh):
        return (rec_to.alpha / rec_t.alpha) * x - rec_to.sigma * jnp.expm1(hh) * eps

    def full(_):
        if order == 1:
            return first(rec_s, h)
        if order == 2:
            s1, rec1 = _intermediate(ctx, rec_t, h, 0.5)
            eps1 = ctx.denoise(first(rec1, 0.5 * h), s1)[1]
            return first(rec_s, h) - rec_s.sigma * jnp.expm1(h) * (eps1 - eps)  # 1/(2 r1) = 1
        r1, r2 = 1.0 / 3.0, 2.0 / 3.0
        s1, rec1 = _intermediate(ctx, rec_t, h, r1)
        d1 = ctx.denoise(first(rec1, r1 * h), s1)[1] - eps
        s2, rec2 = _intermediate(ctx, rec_t, h, r2)
        u2 = (
            first(rec2, r2 * h) - rec2.sigma * (r2 / r1) * (jnp.expm1(r2 * h) / (r2 * h) - 1.0) * d1
        )
        d2 = ctx.denoise(u2, s2)[1] - eps
        return first(rec_s, h) - (rec_s.sigma / r2) * (jnp.expm1(h) / h - 1.0) * d2

    return _finish(state, rec_s, x0, full, order)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DPMSolverPP2S(Sampler):
    """DPM-Solver++(2S) (Lu et al. 2022b, Alg. 1) with r = 1/2: two evaluations per step."""

    finite_start = True

    order = 2
    nfe_per_step = "2"
    paper = "Lu et al. 2022b, DPM-Solver++(2S)"

    def step(self, ctx, state, i, t, t_next, key):
        return _dpmpp_2s_step(ctx, state, t, t_next)


def _dpmpp_2s_step(ctx, state, t, t_next):
    x = state.x
    x0, _ = ctx.denoise(x, t)
    rec_t, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    h = _half_logsnr(rec_s) - _half_logsnr(rec_t)

    def full(_):
        s1, rec1 = _intermediate(ctx, rec_t, h, 0.5)
        u = (rec1.sigma / rec_t.sigma) * x - rec1.alpha * jnp.expm1(-0.5 * h) * x0
        x0_1 = ctx.denoise(u, s1)[0]
        d = x0 + (x0_1 - x0)  # (1 - 1/(2r)) x0 + 1/(2r) x0_1 with r = 1/2
        return (rec_s.sigma / rec_t.sigma) * x - rec_s.alpha * jnp.expm1(-h) * d

    return _finish(state, rec_s, x0, full, 2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DPMSolverPP2SAncestral(Sampler):
    """k-diffusion's `sample_dpmpp_2s_ancestral`: DPM-Solver++(2S) to sigma_down, then sigma_up z
    (the split of `EulerAncestral`, in sigma~ = sigma/alpha). eta = 0 is DPM-Solver++(2S)."""

    eta: float = 1.0

    nfe_per_step = "2"
    paper = "k-diffusion, DPM-Solver++(2S) ancestral"

    def __post_init__(self):
        if not 0.0 <= self.eta <= 1.0:
            raise ValueError(f"eta must lie in [0, 1] (0 deterministic); got {self.eta!r}.")

    @property
    def stochastic(self) -> bool:
        return self.eta != 0

    def step(self, ctx, state, i, t, t_next, key):
        from diffjax.samplers._ancestral import ancestral_split

        rec, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
        down, up = ancestral_split(rec.sigma / rec.alpha, rec_s.sigma / rec_s.alpha, self.eta)
        logsnr_down = jnp.where(down > 0, -2.0 * jnp.log(jnp.where(down > 0, down, 1.0)), jnp.inf)
        t_down = jnp.where(down > 0, ctx.schedule.t_from_logsnr(logsnr_down), 0.0)
        t_down = jnp.clip(t_down, 0.0, t_next).astype(t.dtype)
        new = _dpmpp_2s_step(ctx, state, t, t_down)
        y = new.x / exact_record(ctx.schedule, t_down).alpha + up * noise_like(key, state.x)
        return new._replace(x=rec_s.alpha * y)


def _multistep_memory(x):
    zeros = jnp.zeros_like(x)
    lam = jnp.zeros((), x.dtype)
    return (zeros, lam, zeros, lam)  # x0 and half-log-SNR at the previous two grid points


class ThirdOrderTerm(Choice):
    """The weight on 3M's second difference D2: TAYLOR (2 phi_3, third order) or REFERENCE
    (phi_3, as the DPM-Solver code and diffusers: second order)."""

    TAYLOR = "taylor"
    REFERENCE = "reference"


def step_order(ctx, i, order: int, lower_order_final: bool):
    """The order of step i: warm-up min(i + 1, order); with lower_order_final and fewer than
    15 steps (diffusers' rule for DPM-Solver++) at most num_steps - i, so 3M ends 2, 1."""
    k = jnp.minimum(i + 1, order)
    if lower_order_final and ctx.num_steps < 15:
        k = jnp.minimum(k, ctx.num_steps - i)
    return k


def _sde_update(ctx, rec_t, rec_s, h, x, x0, d1_0, d1_1, r0, r1, i, key, options):
    """DPM-Solver++(2M) SDE (diffusers; k-diffusion's 'midpoint') or (3M) SDE (k-diffusion's
    `sample_dpmpp_3m_sde`), eta = 1: with g = 2h, phi2 = (e^-g - 1)/g + 1, phi3 = phi2/g - 1/2,
    x_s = (sigma_s/sigma_t) e^-h x + alpha_s (1 - e^-g) x0 + alpha_s [D1/2 (1 - e^-g) (2M) |
    phi2 D1 - phi3 D2 (3M; phi2 D1_0 at the second step)] + sigma_s sqrt(1 - e^-g) z."""
    em2h = -jnp.expm1(-2.0 * h)
    base = (rec_s.sigma / rec_t.sigma) * jnp.exp(-h) * x + rec_s.alpha * em2h * x0
    if options["order"] == 2:
        higher = jnp.where(i >= 1, base + 0.5 * rec_s.alpha * em2h * d1_0, base)
    else:
        g = 2.0 * h
        phi2 = -em2h / g + 1.0
        phi3 = phi2 / g - 0.5
        d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        third = base + rec_s.alpha * (phi2 * d1 - phi3 * d2)
        higher = jnp.where(i >= 2, third, jnp.where(i >= 1, base + rec_s.alpha * phi2 * d1_0, base))
    z = options["noise"](ctx, rec_t, rec_s, key, x)
    return higher + rec_s.sigma * jnp.sqrt(em2h) * z


def _dpmpp_multistep_step(ctx, state, i, t, t_next, key, *, order: int, sde: bool, **options):
    """DPM-Solver++(2M) (Lu et al. 2022b, Alg. 2), 3M and the 2M SDE variant (as in diffusers).

    2M: D = (1 + 1/(2r)) x0_n - 1/(2r) x0_{n-1}, r = h_{n-1}/h.
    3M: D0 = x0_n, D1 = D1_0 + r0/(r0 + r1) (D1_0 - D1_1), D2 = (D1_0 - D1_1)/(r0 + r1) ~ h^2 x0''/2,
    and x_s = (sigma_s/sigma_t) x - alpha_s phi1 D0 + alpha_s phi2 D1 - 2 alpha_s phi3 D2 with
    phi1 = e^-h - 1, phi2 = phi1/h + 1, phi3 = phi2/h - 1/2. The factor 2 on the D2 term is what
    the Taylor expansion of sigma_s int e^l x0(l) dl requires (its x0'' term is alpha_s h^2 (-phi3)
    x0''); the reference DPM-Solver code and diffusers use 1, which is exact only to second order
    (checked on x0(l) = l^2, and by the measured global order: 2.0 with 1, 3 with 2). sde (2M): x_s = (sigma_s/sigma_t) e^-h x +
    alpha_s (1 - e^-2h)(D0 + D1/2) + sigma_s sqrt(1 - e^-2h) z (Lu et al. 2022b, appendix).
    Warm-up uses the lower orders; a step to sigma = 0 returns x0_hat.
    """
    x = state.x
    x0, _ = ctx.denoise(x, t)
    rec_t, rec_s = record(ctx.schedule, t), exact_record(ctx.schedule, t_next)
    l_t, l_s = _half_logsnr(rec_t), _half_logsnr(rec_s)
    h = l_s - l_t
    x0_1, l_1, x0_2, l_2 = state.memory
    r0 = (l_t - l_1) / h
    r1 = (l_1 - l_2) / h
    d1_0 = (x0 - x0_1) / r0
    d1_1 = (x0_1 - x0_2) / r1
    ratio = rec_s.sigma / rec_t.sigma
    options = dict(options, order=order)
    if sde:
        x_next = _sde_update(ctx, rec_t, rec_s, h, x, x0, d1_0, d1_1, r0, r1, i, key, options)
    else:
        phi1 = jnp.expm1(-h)
        base = ratio * x - rec_s.alpha * phi1 * x0
        second = base - 0.5 * rec_s.alpha * phi1 * d1_0
        d1 = d1_0 + r0 / (r0 + r1) * (d1_0 - d1_1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        w2 = 2.0 if options.get("d2_term", ThirdOrderTerm.TAYLOR) is ThirdOrderTerm.TAYLOR else 1.0
        third = (
            base
            + rec_s.alpha * (phi1 / h + 1.0) * d1
            - w2 * rec_s.alpha * ((phi1 + h) / h**2 - 0.5) * d2
        )
        k = step_order(ctx, i, order, options.get("lower_order_final", False))
        x_next = jnp.where(k >= 2, second, base)
        if order == 3:
            x_next = jnp.where(k >= 3, third, x_next)
    x_next = jnp.where(rec_s.sigma == 0, x0, x_next)
    return state._replace(x=x_next, memory=(x0, l_t, x0_1, l_1), nfe=state.nfe + 1)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DPMSolverPP(Sampler):
    """Multistep DPM-Solver++(2M) / (3M) (Lu et al. 2022b, Alg. 2), data prediction; one
    evaluation per step, the lower orders for warm-up.

    d2_term: 3M's weight on the second difference (`ThirdOrderTerm`); lower_order_final:
    diffusers' option (below 15 steps the last two steps drop to orders 2 and 1).
    """

    order: int = 2
    d2_term: ThirdOrderTerm = ThirdOrderTerm.TAYLOR
    lower_order_final: bool = False

    paper = "Lu et al. 2022b, DPM-Solver++(2M) / (3M)"

    def __post_init__(self):
        check_int("order", self.order, allowed=(2, 3))
        check_instance("d2_term", self.d2_term, ThirdOrderTerm)
        if not isinstance(self.lower_order_final, bool):
            raise TypeError(
                f"lower_order_final must be True or False; got {self.lower_order_final!r}."
            )

    @property
    def accuracy_order(self):
        return 2 if self.d2_term is ThirdOrderTerm.REFERENCE else self.order

    def init_memory(self, x):
        return _multistep_memory(x)

    def step(self, ctx, state, i, t, t_next, key):
        return _dpmpp_multistep_step(
            ctx,
            state,
            i,
            t,
            t_next,
            key,
            order=self.order,
            sde=False,
            d2_term=self.d2_term,
            lower_order_final=self.lower_order_final,
        )


def brownian_tree_noise(ctx, rec_t, rec_s, key, x, tol: float = 1e-6):
    """z = (W(sigma~_t) - W(sigma~_s)) / sqrt(sigma~_t - sigma~_s) for one Brownian path W over
    sigma~ in [0, sigma~(t_max)] drawn from the run's key (diffrax's VirtualBrownianTree):
    the same path whatever the grid, as k-diffusion's BrownianTreeNoiseSampler."""
    import diffrax

    top = ctx.schedule(jnp.asarray(ctx.schedule.t_max, x.dtype))
    tree = diffrax.VirtualBrownianTree(
        0.0, top.sigma / top.alpha * 1.001, tol, jax.ShapeDtypeStruct(x.shape, x.dtype), ctx.key
    )
    sig_t, sig_s = rec_t.sigma / rec_t.alpha, rec_s.sigma / rec_s.alpha
    return tree.evaluate(sig_s, sig_t) / jnp.sqrt(jnp.maximum(sig_t - sig_s, 1e-30))


def independent_noise(ctx, rec_t, rec_s, key, x):
    return noise_like(key, x)


@dataclasses.dataclass(frozen=True, kw_only=True)
class DPMSolverPPSDE(Sampler):
    """DPM-Solver++(2M) SDE (Lu et al. 2022b, appendix; as in diffusers) and, with order=3,
    k-diffusion's DPM-Solver++(3M) SDE: stochastic.

    brownian_tree=True draws the noise of every step from one Brownian path in sigma~
    (k-diffusion's default): a finer grid refines the same path, so samples converge as the
    step count grows (strong convergence) instead of changing with it.
    """

    order: int = 2
    brownian_tree: bool = False

    paper = "Lu et al. 2022b, DPM-Solver++(2M) SDE; (3M) SDE as k-diffusion"

    def __post_init__(self):
        check_int("order", self.order, allowed=(2, 3))
        if not isinstance(self.brownian_tree, bool):
            raise TypeError(f"brownian_tree must be True or False; got {self.brownian_tree!r}.")

    @property
    def stochastic(self) -> bool:
        return True

    @property
    def accuracy_order(self):
        return None  # `order` is the drift's multistep order, not a convergence order

    def init_memory(self, x):
        return _multistep_memory(x)

    def step(self, ctx, state, i, t, t_next, key):
        noise = brownian_tree_noise if self.brownian_tree else independent_noise
        return _dpmpp_multistep_step(ctx, state, i, t, t_next, key, order=2, sde=True, noise=noise)
