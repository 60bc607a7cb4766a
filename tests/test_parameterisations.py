import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diffjax import Denoiser, analytic, resolve
from diffjax import schedules as S
from diffjax.models import EDMNoiseInput, TimeInput
from diffjax.parameterisations import EDMPreconditioned, convert, edm_coefficients
from tests.cases import ALL_SCHEDULES, parameterisation

PARAMETERISATIONS = list(resolve.PARAMETERISATIONS)

NAMES = list(ALL_SCHEDULES)


def par(spec, schedule=None):
    """resolve.parameterisation; Ho's posterior mean ('mean') is built for `schedule`."""
    return parameterisation(spec, schedule) if spec == "mean" else resolve.parameterisation(spec)


def random_state(seed, s, batch=4, dim=3):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    t = jax.random.uniform(k1, (batch,), jnp.float64, s.t_min, s.t_max)
    x0 = jax.random.normal(k2, (batch, dim), jnp.float64)
    eps = jax.random.normal(k3, (batch, dim), jnp.float64)
    rec = s(t)
    x = rec.alpha[:, None] * x0 + rec.sigma[:, None] * eps
    return t, x0, eps, x, rec


@settings(max_examples=60, deadline=None)
@given(
    name=st.sampled_from(NAMES),
    source=st.sampled_from(PARAMETERISATIONS),
    target=st.sampled_from(PARAMETERISATIONS),
    seed=st.integers(0, 2**30),
)
def test_every_conversion_round_trips(name, source, target, seed):
    s = ALL_SCHEDULES[name]
    _, x0, eps, x, rec = random_state(seed, s)
    pred = par(source, s).from_x0_eps(x0, eps, x, rec)
    there = convert(pred, x, rec, par(source, s), par(target, s))
    back = convert(there, x, rec, par(target, s), par(source, s))
    scale = np.max(np.abs(np.asarray(pred))) + 1.0
    np.testing.assert_allclose(back, pred, atol=1e-8 * scale, rtol=1e-7)
    x0_back, eps_back = par(source, s).to_x0_eps(pred, x, rec)
    # recovering x0 divides by alpha, eps by sigma: bound the error by the conditioning
    tol = 1e-9 * (1 + np.max(np.asarray(1 / rec.alpha + 1 / rec.sigma)))
    np.testing.assert_allclose(x0_back, x0, atol=tol * scale)
    np.testing.assert_allclose(eps_back, eps, atol=tol * scale)


@pytest.mark.parametrize("name", NAMES)
def test_velocity_is_the_time_derivative_of_the_path(name):
    s = ALL_SCHEDULES[name]
    t, x0, eps, x, rec = random_state(1, s)
    path = lambda tt: s(tt).alpha[:, None] * x0 + s(tt).sigma[:, None] * eps
    _, dx_dt = jax.jvp(path, (t,), (jnp.ones_like(t),))
    np.testing.assert_allclose(par("velocity").from_x0_eps(x0, eps, x, rec), dx_dt, rtol=1e-12)


def test_v_prediction_matches_salimans_and_ho():
    s = S.VPLinear()
    _, x0, eps, x, rec = random_state(2, s)
    v = par("v").from_x0_eps(x0, eps, x, rec)
    a, sg = rec.alpha[:, None], rec.sigma[:, None]
    np.testing.assert_allclose(v, a * eps - sg * x0, rtol=1e-12)
    np.testing.assert_allclose(a * x - sg * v, x0, atol=1e-12)  # x0 = alpha z - sigma v
    np.testing.assert_allclose(sg * x + a * v, eps, atol=1e-12)  # eps = sigma z + alpha v


def test_score_is_the_exact_gmm_score():
    gmm = analytic.gaussian_mixture([0.4, 0.6], [[1.0, -1.0], [-2.0, 0.5]], [0.3, 0.8])
    s = S.EDM()
    x = jax.random.normal(jax.random.PRNGKey(3), (6, 2), jnp.float64) * 3
    rec = s(jnp.full((6,), 0.4))
    x0, eps = analytic.x0_eps(gmm, x, rec)
    score = par("score").from_x0_eps(x0, eps, x, rec)
    np.testing.assert_allclose(score, analytic.score(gmm, x, rec), rtol=1e-10)
    grad = jax.vmap(jax.grad(lambda xx: analytic.log_density(gmm, xx[None], s(0.4))[0]))(x)
    np.testing.assert_allclose(score, grad, rtol=1e-10)


def test_edm_coefficients_match_karras_table_1():
    s = S.EDM()
    rec = s(jnp.asarray([0.1, 0.7]))
    c = edm_coefficients(rec, 0.5)
    sig = rec.sigma
    np.testing.assert_allclose(c.c_skip, 0.25 / (sig**2 + 0.25))
    np.testing.assert_allclose(c.c_out, sig * 0.5 / np.sqrt(sig**2 + 0.25))
    np.testing.assert_allclose(c.c_in, 1 / np.sqrt(sig**2 + 0.25))
    np.testing.assert_allclose(c.c_noise, np.log(sig) / 4)


@pytest.mark.parametrize("parameterisation", PARAMETERISATIONS)
def test_x0_error_scale(parameterisation):
    """A perturbation d of x0_hat at fixed x_t changes the prediction by c(t) d."""
    s = S.Cosine()
    _, x0, eps, x, rec = random_state(4, s)
    delta = 1e-3
    x0_p = x0 + delta
    eps_p = (x - rec.alpha[:, None] * x0_p) / rec.sigma[:, None]
    p = par(parameterisation, s)
    change = p.from_x0_eps(x0_p, eps_p, x, rec) - p.from_x0_eps(x0, eps, x, rec)
    c = p.error_scale(rec)
    np.testing.assert_allclose(change, c[:, None] * delta * np.ones_like(change), rtol=1e-7)


@pytest.mark.parametrize("dtype", [jnp.float32, jnp.float64])
@pytest.mark.parametrize("parameterisation", PARAMETERISATIONS)
@pytest.mark.parametrize("name", NAMES)
def test_denoiser_finite_at_t_zero_and_one(name, parameterisation, dtype):
    s = ALL_SCHEDULES[name]
    p = par(parameterisation, s)
    noise_cond = EDMNoiseInput() if isinstance(p, EDMPreconditioned) else TimeInput()
    apply_fn = lambda params, x, c_noise, cond: jnp.tanh(x) + c_noise[:, None]
    den = Denoiser(apply_fn, s, p, noise_cond)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 3), dtype)
    for t in (0.0, 1.0):
        x0, eps = den(None, x, jnp.full((2,), t, dtype))
        assert x0.dtype == dtype and eps.dtype == dtype
        assert np.all(np.isfinite(np.asarray(x0))) and np.all(np.isfinite(np.asarray(eps)))


def test_denoiser_round_trips_the_exact_gmm_denoiser():
    """A network that outputs the exact prediction in any parameterisation gives the exact (x0, eps)."""
    gmm = analytic.gaussian_mixture([0.5, 0.5], [[2.0, 0.0], [-2.0, 0.0]], [0.2, 0.2])
    s = S.VPLinear()
    x = jax.random.normal(jax.random.PRNGKey(5), (5, 2), jnp.float64)
    t = jnp.linspace(0.1, 0.9, 5)
    ref = analytic.exact_denoiser(gmm, s)(None, x, t)
    for name in PARAMETERISATIONS:
        sd = 0.7
        p = par({"name": name, "sigma_data": sd}) if name == "edm" else par(name, s)
        edm = isinstance(p, EDMPreconditioned)

        def apply_fn(params, x_in, noise, cond, p=p, edm=edm):
            rec = s(t)
            x_raw = x_in / (edm_coefficients(rec, sd).c_in / rec.alpha)[:, None] if edm else x_in
            return p.from_x0_eps(*analytic.x0_eps(gmm, x_raw, rec), x_raw, rec)

        den = Denoiser(apply_fn, s, p)
        out = den(None, x, t)
        np.testing.assert_allclose(out[0], ref[0], rtol=1e-9, atol=1e-10, err_msg=name)
        np.testing.assert_allclose(out[1], ref[1], rtol=1e-9, atol=1e-10, err_msg=name)
