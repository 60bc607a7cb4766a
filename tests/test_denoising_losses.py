import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.integrate
import scipy.stats

from diffjax import Denoiser, analytic, resolve
from diffjax import losses as L
from diffjax import schedules as S
from diffjax.models import DDPMIndexInput
from tests import cases

PARAMETERISATIONS = list(resolve.PARAMETERISATIONS)
# the perturbed exact network reads x_t itself: EDM's F without its input scaling
par = lambda name: resolve.parameterisation("edm(scale_input=False)" if name == "edm" else name)

GMM = analytic.gaussian_mixture([0.3, 0.7], [[1.5, -1.0], [-1.0, 1.0]], [[0.3, 0.1], [0.2, 0.4]])


def perturbed_exact_network(schedule, parameterisation, offset=0.0):
    """apply_fn whose params = delta: exact prediction + (offset + delta) tanh(x)."""

    def apply_fn(delta, x, t, cond):
        rec = schedule(t)
        exact = par(parameterisation).from_x0_eps(*analytic.x0_eps(GMM, x, rec), x, rec)
        return exact + (offset + delta) * jnp.tanh(x)

    return apply_fn


def per_example_gradient(loss, key, batch=20000, offset=0.0):
    x0, _ = analytic.sample(GMM, jax.random.PRNGKey(11), batch)
    grads = jax.jacfwd(lambda d: loss(d, {"data": x0}, key))(jnp.asarray(0.0))
    return np.asarray(grads), x0


@pytest.mark.parametrize(
    "schedule,parameterisation,weighting",
    [
        (S.VPLinear(), "eps", "simple"),
        (S.VPLinear(), "x0", "min_snr"),
        (S.Cosine(), "v", "snr_plus_one"),
        (S.Cosine(), "score", "sigmoid"),
        (S.EDM(), "edm", "edm"),
        (S.VE(), "eps", "truncated_snr"),
        (S.RectifiedFlow(), "velocity", "x0"),
        (S.VPLinear(), "velocity", "elbo"),
    ],
)
def test_exact_gmm_denoiser_minimises_the_expected_loss(schedule, parameterisation, weighting):
    network = perturbed_exact_network(schedule, parameterisation)
    den = Denoiser(network, schedule, par(parameterisation))
    loss = L.denoising_loss(den, weighting=resolve.weighting(weighting))
    key = jax.random.PRNGKey(3)
    grads, x0 = per_example_gradient(loss, key)
    mean, se = grads.mean(), grads.std() / np.sqrt(grads.size)
    assert abs(mean) < 4 * se, (mean, se)
    # common random numbers: perturbing either way raises the loss
    batch = {"data": x0}
    base = loss(0.0, batch, key).mean()
    assert loss(0.3, batch, key).mean() > base and loss(-0.3, batch, key).mean() > base


def test_gradient_check_has_power_against_a_wrong_denoiser():
    s = S.VPLinear()
    den = Denoiser(perturbed_exact_network(s, "eps", offset=0.05), s, par("eps"))
    grads, _ = per_example_gradient(L.denoising_loss(den), jax.random.PRNGKey(3))
    assert abs(grads.mean()) > 8 * grads.std() / np.sqrt(grads.size)


@pytest.mark.parametrize(
    "parameterisation,weighting,schedule",
    [
        ("eps", "simple", S.VPLinear()),  # Ho et al.: unweighted eps MSE
        ("x0", "x0", S.VPLinear()),
        ("v", "snr_plus_one", S.Cosine()),  # Salimans & Ho: v MSE is SNR+1 in x0 space (VP)
        ("edm", "edm", S.EDM()),  # Karras et al.: lambda = 1/c_out^2 makes F's MSE unweighted
    ],
)
def test_named_weightings_are_plain_mse_in_their_own_space(parameterisation, weighting, schedule):
    rec = schedule(jnp.linspace(schedule.t_min, schedule.t_max, 50))
    weight = resolve.weighting(weighting)(rec)
    effective = weight / par(parameterisation).error_scale(rec) ** 2
    np.testing.assert_allclose(effective, 1.0, rtol=1e-10)


def test_weighting_formulas():
    s = S.VPLinear()
    t = jnp.linspace(0.01, 0.99, 30)
    rec = s(t)
    r = L.snr(rec)
    eps_space = lambda w: w / r  # weight on ||eps_hat - eps||^2
    np.testing.assert_allclose(
        eps_space(L.MinSNRWeighting(gamma=5.0)(rec)), np.minimum(r, 5.0) / r
    )  # Hang et al. 2023, eq. for eps-prediction
    # VDM: L = -1/2 E[SNR'(t) ||x0 - x0_hat||^2]
    dsnr = jax.vmap(jax.grad(lambda tt: (s(tt).alpha / s(tt).sigma) ** 2))(t)
    np.testing.assert_allclose(L.ELBOWeighting()(rec), -0.5 * dsnr, rtol=1e-9)
    lam = rec.logsnr
    np.testing.assert_allclose(
        L.SigmoidWeighting(bias=1.0)(rec),
        -0.5 * dsnr / (1 + np.exp(lam - 1.0)),
        rtol=1e-9,
    )


def test_velocity_weighting_is_unit_on_the_velocity_mse():
    """w_x0 of the velocity MSE: ||u_hat - u||^2 = (alpha'-sigma' alpha/sigma)^2 ||x0 error||^2 by
    autodiff of alpha, sigma; 1/t^2 for rectified flow (SD3's loss in x0 space)."""
    t = jnp.linspace(0.02, 0.98, 25)
    for sched in (S.VPLinear(), S.Cosine(), S.RectifiedFlow(), S.EDM()):
        rec = sched(t)
        d_alpha = jax.vmap(jax.grad(lambda tt, s=sched: s(tt).alpha))(t)
        d_sigma = jax.vmap(jax.grad(lambda tt, s=sched: s(tt).sigma))(t)
        per_x0 = (d_alpha - d_sigma * rec.alpha / rec.sigma) ** 2
        np.testing.assert_allclose(L.VelocityWeighting()(rec), per_x0, rtol=1e-9)
    np.testing.assert_allclose(L.VelocityWeighting()(S.RectifiedFlow()(t)), 1 / t**2, rtol=1e-9)


def test_output_weighting_is_unit_in_each_network_space():
    """'output' = the simple loss of each target: the loss weight in the network's space is 1,
    and in x0 space it is SNR (eps), 1 (x0), SNR + 1 (v on VP), EDM's lambda (F)."""
    rec = S.Cosine()(jnp.linspace(0.02, 0.98, 25))
    known = {
        "eps": L.SNRWeighting(),
        "x0": L.ConstantWeighting(),
        "v": L.SNRPlusOneWeighting(),
        "edm": L.EDMWeighting(),
        "velocity": L.VelocityWeighting(),
    }
    for name, same in known.items():
        param = resolve.parameterisation(name)
        w = resolve.weighting("output", parameterisation=param)
        np.testing.assert_allclose(w(rec), same(rec), rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(w(rec) / param.error_scale(rec) ** 2, 1.0, rtol=1e-12)
    with pytest.raises(ValueError, match="needs the parameterisation"):
        resolve.weighting("output")


@pytest.mark.parametrize(
    "law",
    [
        L.UniformTime(),
        L.LogitNormalTime(mean=0.3, std=0.8),
        L.LogNormalSigmaTime(),
        L.AntitheticTime(),
    ],
)
@pytest.mark.parametrize("sched", [S.Cosine(), S.RectifiedFlow(), S.EDM(), S.VPLinear()])
def test_time_density_matches_the_draws(law, sched):
    """P(t <= q) from the density (trapezoid in float64) against 40k draws, at five quantiles."""
    draws = np.asarray(law(jax.random.PRNGKey(3), 40000, sched))
    grid = np.linspace(sched.t_min, sched.t_max, 20001)
    cdf = scipy.integrate.cumulative_trapezoid(
        np.asarray(law.density(jnp.asarray(grid), sched)), grid, initial=0
    )
    lo_mass = np.mean(draws <= sched.t_min)  # clipping's point mass at t_min
    for q in np.quantile(draws, [0.1, 0.3, 0.5, 0.7, 0.9]):
        predicted = lo_mass + np.interp(q, grid, cdf)
        assert abs(predicted - np.mean(draws <= q)) < 0.01, (q, predicted)
    with pytest.raises(ValueError):
        L.DiscreteTime().density(jnp.asarray([0.5]), sched)


def test_time_sampling_laws():
    key = jax.random.PRNGKey(0)
    n = 20000
    vp = S.VPLinear()
    t = L.UniformTime()(key, n, vp)
    assert t.min() >= vp.t_min and t.max() <= vp.t_max
    assert (
        scipy.stats.kstest(np.asarray(t), scipy.stats.uniform(vp.t_min, 1 - vp.t_min).cdf).pvalue
        > 1e-3
    )
    ddpm = S.DiscreteDDPM()
    steps = np.asarray(L.DiscreteTime()(key, n, ddpm)) * 1000
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)
    assert steps.min() >= 1 and steps.max() <= 1000
    ta = np.sort(np.asarray(L.AntitheticTime()(key, 64, S.RectifiedFlow(t_min=0.0, t_max=1.0))))
    np.testing.assert_allclose(np.diff(ta), 1 / 64, atol=1e-12)
    tl = np.asarray(L.LogitNormalTime()(key, n, S.RectifiedFlow()))
    logit = np.log(tl / (1 - tl))
    assert scipy.stats.kstest(logit, "norm").pvalue > 1e-3
    te = L.LogNormalSigmaTime()(key, n, S.EDM())
    log_sigma = np.log(np.asarray(S.EDM()(te).sigma))
    assert scipy.stats.kstest(log_sigma, scipy.stats.norm(-1.2, 1.2).cdf).pvalue > 1e-3


def test_loss_runs_in_float32_without_nans():
    s = S.DiscreteDDPM()
    apply_fn = lambda p, x, t, c: p * x
    for p in PARAMETERISATIONS:
        den = Denoiser(apply_fn, s, cases.parameterisation(p, s), DDPMIndexInput())
        loss = L.denoising_loss(den, time_sampling=L.DiscreteTime())
        x0 = jax.random.normal(jax.random.PRNGKey(0), (64, 4, 4, 1), jnp.float32)
        out = loss(jnp.float32(0.5), {"data": x0}, jax.random.PRNGKey(1))
        assert out.shape == (64,) and out.dtype == jnp.float32
        assert np.all(np.isfinite(np.asarray(out)))
