import jax
import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks.convergence_orders import CASES, COV, MEAN, T0, T1, fitted_order
from diffjax import Denoiser, analytic
from diffjax import schedules as S
from diffjax.parameterisations import PARAMETERISATIONS
from diffjax.samplers import METHODS, SAMPLERS, prior_sample, sample, time_grid
from diffjax.samplers.guidance import ClassifierFreeGuidance, ClipX0, DynamicThresholding
from diffjax.samplers.likelihood import log_likelihood

GAUSS = analytic.GaussianMixture(jnp.array([1.0]), MEAN[None], COV[None])
VP = S.VPLinear()

ORDERS = [case[:4] for case in CASES if case[4]]


@pytest.mark.parametrize("method,options,order,grid", ORDERS)
def test_global_convergence_order(method, options, order, grid):
    slope, errs = fitted_order(method, options, grid)
    assert abs(slope - order) < 0.15, (slope, errs)


def test_ddim_equals_euler_on_rectified_flow():
    rf = S.RectifiedFlow()
    gmm = analytic.gaussian_mixture([0.4, 0.6], [[1.0, 1.0], [-1.0, 0.0]], [0.2, 0.3])
    den = analytic.exact_denoiser(gmm, rf)
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 2), jnp.float64)
    grid = time_grid(rf, 25, "uniform", t_start=rf.t_max, t_end=rf.t_min)
    a = sample(den, x, grid, "ddim", schedule=rf).samples
    b = sample(den, x, grid, "euler", schedule=rf).samples
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_ddpm_with_beta_tilde_is_ddim_with_eta_one():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 2), jnp.float64)
    grid = time_grid(VP, 20)
    key = jax.random.PRNGKey(5)
    a = sample(den, x, grid, "ddpm", schedule=VP, key=key).samples
    b = sample(den, x, grid, "ddim", schedule=VP, key=key, eta=1.0).samples
    np.testing.assert_allclose(a, b, atol=1e-10)


GMM2 = analytic.gaussian_mixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [[0.3, 0.2], [0.2, 0.4]])


def energy_distance(a, b):
    d = lambda u, v: jnp.mean(jnp.sqrt(jnp.sum((u[:, None] - v[None]) ** 2, -1) + 1e-12))
    return float(2 * d(a, b) - d(a, a) - d(b, b))


STOCHASTIC = [
    ("ddpm", {}, 200),
    ("euler_maruyama", {}, 400),
    ("pc", {"snr": 0.05}, 200),
    ("euler_ancestral", {}, 200),
    ("dpmpp_2m_sde", {}, 100),
]


def run_stochastic(method, options, steps, denoiser=None, n=4000):
    den = denoiser or analytic.exact_denoiser(GMM2, VP)
    key_x, key_s = jax.random.split(jax.random.PRNGKey(3))
    x = prior_sample(key_x, (n, 2), VP, dtype=jnp.float64)
    grid = time_grid(VP, steps, "uniform", t_end=1e-3)
    return sample(den, x, grid, method, schedule=VP, key=key_s, **options).samples


@pytest.mark.parametrize("method,options,steps", STOCHASTIC)
def test_stochastic_samplers_have_the_right_law(method, options, steps):
    n = 4000
    out = np.asarray(run_stochastic(method, options, steps, n=n))
    exact, comp = analytic.sample(GMM2, jax.random.PRNGKey(9), n)
    exact = np.asarray(exact)
    true_mean = np.asarray(GMM2.weights @ GMM2.means)
    se = np.sqrt(np.diag(np.cov(exact.T)) / n)
    assert np.all(np.abs(out.mean(0) - true_mean) < 4 * se), (out.mean(0), true_mean)
    np.testing.assert_allclose(np.cov(out.T), np.cov(exact.T), atol=0.12)
    weight = np.mean(out[:, 0] > 0)  # the components are separated along x
    assert abs(weight - 0.7) < 4 * np.sqrt(0.21 / n)
    # a two-sample statistic against exact samples, below the 99th percentile of exact-vs-exact
    assert energy_distance(jnp.asarray(out[:2000]), jnp.asarray(exact[:2000])) < 0.01


def test_two_sample_statistic_rejects_a_wrong_sampler():
    """The same check fails for a sampler driven by a denoiser whose eps is 10% too small."""

    def wrong(params, x, t, cond=None):
        x0, eps = analytic.exact_denoiser(GMM2, VP)(params, x, t, cond)
        rec = VP(VP.clip(t))
        eps = 0.9 * eps
        return (x - rec.sigma * eps) / rec.alpha, eps

    out = run_stochastic("ddpm", {}, 200, denoiser=wrong)
    exact, _ = analytic.sample(GMM2, jax.random.PRNGKey(9), 4000)
    assert energy_distance(out[:2000], exact[:2000]) > 0.01


def test_adaptive_matches_the_exact_flow_and_counts_evaluations():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2), jnp.float64)
    out = sample(den, x, [T0, T1], "adaptive", schedule=VP, rtol=1e-8, atol=1e-8)
    ref = analytic.gaussian_pf_ode_map(MEAN, COV, x, VP(T0), VP(T1))
    np.testing.assert_allclose(out.samples, ref, atol=1e-6)
    assert 20 < int(out.nfe) < 2000 and (int(out.nfe) - 1) % 6 == 0


def test_likelihood_equals_exact_mixture_density():
    x, _ = analytic.sample(GMM2, jax.random.PRNGKey(0), 6)
    den = analytic.exact_denoiser(GMM2, VP)
    prior = lambda x1: analytic.log_density(GMM2, x1, VP(1.0))
    ll = log_likelihood(den, VP, x, t0=1e-5, prior_log_prob=prior)
    np.testing.assert_allclose(ll, analytic.log_density(GMM2, x, VP(1e-5)), atol=1e-4)


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased(probe):
    x, _ = analytic.sample(GMM2, jax.random.PRNGKey(0), 2)
    den = analytic.exact_denoiser(GMM2, VP)
    prior = lambda x1: analytic.log_density(GMM2, x1, VP(1.0))
    exact = np.asarray(
        log_likelihood(den, VP, x, t0=1e-3, prior_log_prob=prior, rtol=1e-5, atol=1e-5)
    )
    draws = np.stack(
        [
            np.asarray(
                log_likelihood(
                    den,
                    VP,
                    x,
                    t0=1e-3,
                    prior_log_prob=prior,
                    divergence="hutchinson",
                    probe=probe,
                    key=jax.random.PRNGKey(k),
                    rtol=1e-5,
                    atol=1e-5,
                )
            )
            for k in range(24)
        ]
    )
    se = draws.std(0) / np.sqrt(draws.shape[0])
    assert np.all(np.abs(draws.mean(0) - exact) < 4 * se + 1e-4), (draws.mean(0), exact, se)


# ---------------------------------------------------------------- contract suite
CONTRACT_SCHEDULES = {"ddpm": S.DiscreteDDPM(), "edm": S.EDM(), "rectified_flow": S.RectifiedFlow()}
TRACES = []


def tiny_network(params, x, noise, cond):
    TRACES.append(1)
    return jnp.tanh(x @ params) * 0.5 + 0.1 * noise[:, None]


@pytest.mark.parametrize("method", [m for m in SAMPLERS])
def test_contract_every_method_parameterisation_schedule(method):
    params = jnp.array([[0.9, 0.1], [-0.2, 0.7]], jnp.float32)
    key = jax.random.PRNGKey(0)
    for sname, sched in CONTRACT_SCHEDULES.items():
        for p in PARAMETERISATIONS:
            den = Denoiser(
                tiny_network,
                sched,
                p,
                noise_conditioning="edm" if p == "edm" else "t",
                input_scaling="edm" if p == "edm" else "none",
            )
            x = prior_sample(jax.random.PRNGKey(1), (4, 2), sched, dtype=jnp.float32)
            grid = time_grid(sched, 6)
            out = sample(den, x, grid, method, key=key, params=params)
            assert out.samples.shape == (4, 2) and out.samples.dtype == jnp.float32
            assert np.all(np.isfinite(np.asarray(out.samples))), (method, sname, p)
            assert int(out.nfe) >= 5
            TRACES.clear()
            again = sample(den, x, grid, method, key=key, params=params)
            np.testing.assert_array_equal(np.asarray(out.samples), np.asarray(again.samples))
            assert not TRACES, f"{method} recompiled on {sname}/{p}"


def test_trajectory_and_grids():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jnp.zeros((3, 2), jnp.float64)
    out = sample(den, x, time_grid(VP, 5), "ddim", schedule=VP, return_trajectory=True)
    assert out.trajectory.shape == (6, 3, 2)
    np.testing.assert_allclose(out.trajectory[-1], out.samples)
    ddpm = S.DiscreteDDPM()
    np.testing.assert_allclose(time_grid(ddpm, 10, "trailing")[:3] * 1000, [1000, 900, 800])
    np.testing.assert_allclose(time_grid(ddpm, 10, "leading")[:2] * 1000, [901, 801])
    np.testing.assert_allclose(time_grid(ddpm, 10, "linspace")[[0, -2, -1]] * 1000, [1000, 1, 0])
    karras = time_grid(S.EDM(), 18, "karras", t_end=0.0)
    np.testing.assert_allclose(karras, np.linspace(1, 0, 19), atol=1e-9)  # EDM's t is Karras' grid
    lam = VP.logsnr(jnp.asarray(time_grid(VP, 8, "logsnr", t_end=1e-3)))
    np.testing.assert_allclose(np.diff(lam), np.diff(lam)[0], rtol=1e-8)


def test_guidance_wrappers():
    sched = S.VPLinear()
    net = lambda params, x, noise, cond: x * 0 + cond[:, None].astype(x.dtype)
    den = Denoiser(net, sched, "x0")
    cfg = ClassifierFreeGuidance(den, scale=3.0, null_cond=0)
    x = jnp.ones((2, 2), jnp.float64)
    x0, eps = cfg(None, x, 0.5, jnp.array([1, 2]))
    np.testing.assert_allclose(x0[:, 0], [3.0, 6.0])  # 0 + 3 (c - 0)
    rec = sched(0.5)
    np.testing.assert_allclose(rec.alpha * x0 + rec.sigma * eps, x, atol=1e-12)
    clip = ClipX0(den, sched, 1.0)(None, x, 0.5, jnp.array([3, -4]))
    np.testing.assert_allclose(clip[0][:, 0], [1.0, -1.0])
    dyn = DynamicThresholding(den, sched, 0.5)(None, x, 0.5, jnp.array([3, -4]))
    np.testing.assert_allclose(dyn[0], [[1.0, 1.0], [-1.0, -1.0]])


def test_sampler_errors_list_choices():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jnp.zeros((2, 2))
    with pytest.raises(ValueError, match="method='plms' is not one of 'euler'"):
        sample(den, x, [1.0, 0.0], "plms", schedule=VP)
    with pytest.raises(TypeError, match=r"unknown options \['churn'\]; allowed: s_churn"):
        sample(den, x, [1.0, 0.0], "heun", schedule=VP, churn=1.0)
    with pytest.raises(ValueError, match="must decrease strictly"):
        sample(den, x, [0.0, 1.0], "ddim", schedule=VP)
    with pytest.raises(TypeError, match="schedule: pass the schedule"):
        sample(den, x, [1.0, 0.0], "ddim")
    with pytest.raises(ValueError, match="grid='cosine' is not one of"):
        time_grid(VP, 10, "cosine")
    assert set(METHODS) | {"adaptive"} == set(SAMPLERS)


def test_classifier_guidance_with_the_exact_classifier_gives_the_class_score():
    """grad log p(y | x_t) added to the mixture score is the score of component y (scale 1)."""
    from diffjax.samplers.guidance import ClassifierGuidance

    def log_prob(params, x, t, cond):
        rec = VP(VP.clip(t))
        alpha, sigma = (
            jnp.broadcast_to(rec.alpha, x.shape[:1]),
            jnp.broadcast_to(rec.sigma, x.shape[:1]),
        )
        log_n, _ = analytic._components(GMM2, x, alpha, sigma)
        log_r = jax.nn.log_softmax(jnp.log(GMM2.weights) + log_n, axis=-1)
        return jnp.take_along_axis(log_r, cond[:, None], 1)[:, 0]

    guided = ClassifierGuidance(analytic.exact_denoiser(GMM2, VP), log_prob, VP, 1.0)
    x = jax.random.normal(jax.random.PRNGKey(4), (6, 2), jnp.float64) * 2
    labels = jnp.array([0, 1, 0, 1, 1, 0])
    t = 0.4
    _, eps = guided((None, None), x, t, labels)
    rec = VP(t)
    for k in (0, 1):
        comp = analytic.GaussianMixture(jnp.ones(1), GMM2.means[k : k + 1], GMM2.covs[k : k + 1])
        expected = -rec.sigma * analytic.score(comp, x, rec)
        np.testing.assert_allclose(eps[labels == k], expected[labels == k], rtol=1e-9, atol=1e-12)
