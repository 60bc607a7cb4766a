import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffjax import schedules as S
from tests.cases import ALL_SCHEDULES, VP_SCHEDULES

NAMES = list(ALL_SCHEDULES)


def interior_times(s, n=101):
    return jnp.linspace(s.t_min, s.t_max, n)


@pytest.mark.parametrize("name", VP_SCHEDULES)
def test_variance_preserving(name):
    s = ALL_SCHEDULES[name]
    rec = s(jnp.linspace(0.0, 1.0, 201))
    np.testing.assert_allclose(rec.alpha**2 + rec.sigma**2, 1.0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_logsnr_strictly_decreasing_and_consistent(name):
    s = ALL_SCHEDULES[name]
    t = interior_times(s, 1001)
    rec = s(t)
    assert np.all(np.diff(np.asarray(rec.logsnr)) < 0)
    np.testing.assert_allclose(
        rec.logsnr, 2 * (jnp.log(rec.alpha) - jnp.log(rec.sigma)), rtol=1e-9, atol=1e-9
    )


@pytest.mark.parametrize("name", NAMES)
def test_logsnr_round_trip(name):
    s = ALL_SCHEDULES[name]
    t = jnp.linspace(s.t_min + 1e-3, s.t_max - 1e-3, 57)
    np.testing.assert_allclose(s.t_from_logsnr(s.logsnr(t)), t, atol=1e-9)
    lam = s.logsnr(t)
    np.testing.assert_allclose(s.logsnr(s.t_from_logsnr(lam)), lam, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("name", NAMES)
def test_derivatives_match_finite_differences(name):
    s = ALL_SCHEDULES[name]
    # avoid the kinks of piecewise-linear (discrete) schedules: evaluate mid-cell
    t = jnp.linspace(s.t_min + 0.01, s.t_max - 0.01, 37) + 0.37e-3
    h = 1e-6
    rec = s(t)
    a_plus, s_plus = s.alpha_sigma(t + h)
    a_minus, s_minus = s.alpha_sigma(t - h)
    np.testing.assert_allclose(rec.d_alpha, (a_plus - a_minus) / (2 * h), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(rec.d_sigma, (s_plus - s_minus) / (2 * h), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("kind", ["linear", "scaled_linear", "cosine"])
def test_discrete_alpha_bar_is_the_cumulative_product(kind):
    T = 1000
    kw = {"beta_start": 0.00085, "beta_end": 0.012} if kind == "scaled_linear" else {}
    s = S.DiscreteDDPM(beta_schedule=S.BetaSchedule(kind), **kw)
    if kind == "linear":
        betas = np.linspace(1e-4, 0.02, T)
    elif kind == "scaled_linear":
        betas = np.linspace(0.00085**0.5, 0.012**0.5, T) ** 2
    else:
        f = lambda t: np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2
        i = np.arange(T)
        betas = np.minimum(1 - f((i + 1) / T) / f(i / T), 0.999)
    abar = np.cumprod(1 - betas)
    i = np.arange(1, T + 1)
    rec = s(s.timestep_to_t(i))
    np.testing.assert_allclose(rec.alpha**2, abar, rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(rec.sigma**2, 1 - abar, rtol=1e-10)
    assert s(0.0).alpha == 1.0 and s(0.0).sigma == 0.0


def test_discrete_interpolates_log_alpha_bar_linearly():
    s = S.DiscreteDDPM(num_timesteps=10)
    lab = np.log(np.asarray(s(jnp.array([0.3, 0.4])).alpha) ** 2)
    mid = np.log(np.asarray(s(0.35).alpha) ** 2)
    np.testing.assert_allclose(mid, lab.mean(), rtol=1e-12)


def test_vp_sde_coefficients_closed_form():
    s = S.VPLinear()
    t = jnp.linspace(0.01, 1.0, 50)
    f, g2 = s.sde(t)
    beta = 0.1 + t * 19.9
    np.testing.assert_allclose(f, -0.5 * beta, rtol=1e-10)
    np.testing.assert_allclose(g2, beta, rtol=1e-10)


def test_subvp_sde_coefficients_closed_form():
    s = S.SubVP()
    t = jnp.linspace(0.01, 1.0, 50)
    f, g2 = s.sde(t)
    beta = 0.1 + t * 19.9
    integral = 0.1 * t + 0.5 * t**2 * 19.9
    np.testing.assert_allclose(f, -0.5 * beta, rtol=1e-10)
    np.testing.assert_allclose(g2, beta * (1 - jnp.exp(-2 * integral)), rtol=1e-9)


def test_ve_sde_coefficients_closed_form():
    s = S.VE(sigma_min=0.01, sigma_max=50.0)
    t = jnp.linspace(0.0, 1.0, 50)
    f, g2 = s.sde(t)
    sigma = 0.01 * (5000.0) ** t
    np.testing.assert_allclose(f, 0.0)
    np.testing.assert_allclose(g2, 2 * sigma**2 * np.log(5000.0), rtol=1e-10)


def test_sde_marginal_variance_ode():
    """d Var/dt = 2 f Var + g^2 holds for the forward SDE of every schedule (marginal std sigma)."""
    for name, s in ALL_SCHEDULES.items():
        t = jnp.linspace(s.t_min + 0.02, s.t_max - 0.02, 23) + 1.3e-4
        f, g2 = s.sde(t)
        rec = s(t)
        # Var of x_t given x0 is sigma^2; its derivative is 2 sigma sigma'; mean scales with f
        np.testing.assert_allclose(
            2 * rec.sigma * rec.d_sigma, 2 * f * rec.sigma**2 + g2, rtol=1e-8, err_msg=name
        )
        np.testing.assert_allclose(rec.d_alpha, f * rec.alpha, rtol=1e-8, err_msg=name)


def test_edm_uniform_t_is_karras_grid():
    """sigma = 80 t^7: t = 0 is the data, and uniform t from 1 to t_min is the rho-grid."""
    s = S.EDM()
    n = 18
    i = np.arange(n)
    smax, smin, rho = 80.0, 0.002, 7.0
    karras = (smax ** (1 / rho) + i / (n - 1) * (smin ** (1 / rho) - smax ** (1 / rho))) ** rho
    t = 1 - i / (n - 1) * (1 - s.t_min)
    np.testing.assert_allclose(s(jnp.asarray(t)).sigma, karras, rtol=1e-12)
    assert float(s(0.0).sigma) == 0.0 and float(s.t_from_logsnr(jnp.inf)) == 0.0


def test_ztsnr_matches_lin_et_al_rescaling():
    base = S.DiscreteDDPM(
        beta_start=0.00085, beta_end=0.012, beta_schedule=S.BetaSchedule.SCALED_LINEAR
    )
    s = S.ZeroTerminalSNR(base=base)
    betas = np.linspace(0.00085**0.5, 0.012**0.5, 1000) ** 2
    sqrt_abar = np.sqrt(np.cumprod(1 - betas))
    a0, aT = sqrt_abar[0], sqrt_abar[-1]
    rescaled = (sqrt_abar - aT) * a0 / (a0 - aT)  # Lin et al. 2024, Algorithm 1
    i = np.arange(1, 1001)
    t = jnp.asarray(i / 1000.0)
    np.testing.assert_allclose(s.alpha_sigma(t)[0], rescaled, atol=1e-12)
    assert float(s.alpha_sigma(jnp.asarray(1.0))[0]) == 0.0


def test_shift_lowers_rectified_flow_logsnr_by_two_log_shift():
    base = S.RectifiedFlow()
    s = S.Shifted(base=base, shift=3.0)
    t = jnp.linspace(0.05, 0.95, 19)
    np.testing.assert_allclose(s.logsnr(t), base.logsnr(t) - 2 * np.log(3.0), atol=1e-12)
    assert S.shift_for_resolution(1024 * 1024) == pytest.approx(4.0)
    assert S.flux_shift(4096) == pytest.approx(np.exp(1.15))
    assert S.flux_shift(256) == pytest.approx(np.exp(0.5))


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("name", NAMES)
def test_records_have_no_nan_at_end_points(name, dtype):
    s = ALL_SCHEDULES[name]
    rec = s(jnp.asarray([0.0, 1.0], dtype))
    for field in rec:
        assert not np.any(np.isnan(np.asarray(field))), name
    # inside the network domain everything is finite
    rec = s(s.clip(jnp.asarray([0.0, 1.0], dtype)))
    for field in rec:
        assert np.all(np.isfinite(np.asarray(field))), (name, rec)


def test_schedules_are_hashable_static_arguments():
    assert hash(S.VPLinear()) == hash(S.VPLinear())
    assert S.VPLinear() == S.VPLinear() and S.VPLinear() != S.VPLinear(beta_max=10.0)
    calls = []

    @jax.jit
    def f(t):
        calls.append(1)
        return S.DiscreteDDPM()(t).alpha

    f(jnp.asarray(0.5))
    f(jnp.asarray(0.25))
    assert len(calls) == 1
