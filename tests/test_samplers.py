import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffjax import Denoiser, analytic, resolve
from diffjax import samplers as SA
from diffjax import schedules as S
from diffjax.models import EDMNoiseInput, TimeInput
from diffjax.parameterisations import EDMPreconditioned, EpsPrediction, X0Prediction
from diffjax.samplers import prior_sample, sample, time_grid
from tests import cases

MEAN, COV = jnp.array([0.5, -1.0]), jnp.array([[1.0, 0.3], [0.3, 0.5]])
T0, T1 = 0.98, 0.02
GAUSS = analytic.GaussianMixture(jnp.array([1.0]), MEAN[None], COV[None])
VP = S.VPLinear()
LOGSNR, KARRAS = SA.LogSNRGrid(), SA.KarrasGrid()
# (sampler, theoretical global order, grid); third-order multistep methods on the Karras grid
# (benchmarks/convergence_orders.py prints every case, the log-SNR ones too)
ORDERS = [
    (SA.Euler(), 1, LOGSNR),
    (SA.DDIM(), 1, LOGSNR),
    (SA.Midpoint(), 2, LOGSNR),
    (SA.Heun(), 2, LOGSNR),
    (SA.RK4(), 4, LOGSNR),
    (SA.DPMSolver(order=1), 1, LOGSNR),
    (SA.DPMSolver(order=2), 2, LOGSNR),
    (SA.DPMSolver(order=3), 3, LOGSNR),
    (SA.DPMSolverPP2S(), 2, LOGSNR),
    (SA.DPMSolverPP(order=2), 2, LOGSNR),
    (SA.DPMSolverPP(order=3), 3, KARRAS),
    (SA.UniPC(order=1), 2, LOGSNR),
    (SA.UniPC(order=2), 3, LOGSNR),
    (SA.UniPC(order=3), 4, KARRAS),
    (SA.DPMSolverPP(order=3, d2_term=SA.ThirdOrderTerm.REFERENCE), 2, KARRAS),
    (SA.LMS(order=2), 2, LOGSNR),
    (SA.LMS(order=4), 4, KARRAS),
    (SA.DEIS(order=2), 2, LOGSNR),
    (SA.DEIS(order=3), 3, LOGSNR),
]


@dataclasses.dataclass(frozen=True, kw_only=True)
class SigmaUniform(SA.Grid):
    """Equal steps in sigma~ = sigma/alpha (where iPNDM's fixed weights are exact)."""

    def times(self, schedule, n, t_start, t_end):
        with jax.enable_x64(True):
            ends = schedule(jnp.asarray([t_start, t_end], jnp.float64))
            sig = np.asarray(ends.sigma / ends.alpha)
        return SA.times_from_sigmas(schedule, np.linspace(sig[0], sig[1], n + 1))


@pytest.mark.parametrize("sampler,order,grid", ORDERS, ids=repr)
def test_global_convergence_order(sampler, order, grid):
    # LMS-4's error ratio per halving climbs 11 -> 15 (its Euler warm-up step): finer grids
    steps = (64, 128, 256, 512) if sampler == SA.LMS(order=4) else (32, 64, 128, 256)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2), jnp.float64)
    errs = analytic.gaussian_flow_errors(sampler, grid, steps, MEAN, COV, VP, x, T0, T1)
    slope = analytic.fitted_order(steps, errs)
    assert abs(slope - order) < 0.15, (slope, errs)
    assert sampler.accuracy_order == order


@pytest.mark.parametrize("order", [2, 3, 4])
def test_ipndm_is_lms_on_equal_sigma_steps(order):
    """iPNDM's fixed Adams-Bashforth weights are LMS's Lagrange integrals when the steps in
    sigma~ are equal, and differ from them on any other grid."""
    den = analytic.exact_denoiser(GMM2, VP)
    x = prior_sample(jax.random.PRNGKey(0), (8, 2), VP, dtype=jnp.float64)
    equal = time_grid(VP, 20, SigmaUniform(), t_start=0.9, t_end=0.2)
    a = sample(den, x, equal, SA.IPNDM(order=order)).samples
    np.testing.assert_allclose(a, sample(den, x, equal, SA.LMS(order=order)).samples, rtol=1e-9)
    karras = time_grid(VP, 20, KARRAS, t_start=0.9, t_end=0.2)
    a = sample(den, x, karras, SA.IPNDM(order=order)).samples
    assert not np.allclose(a, sample(den, x, karras, SA.LMS(order=order)).samples, rtol=1e-6)


def test_deis_is_lms_where_sigma_is_affine_in_t():
    """t-AB DEIS interpolates eps in t, LMS in sigma~: one method on EDM(rho=1), where
    sigma = sigma_max t, and two on VP."""
    edm = S.EDM(rho=1.0)
    x = prior_sample(jax.random.PRNGKey(0), (8, 2), edm, dtype=jnp.float64)
    den = analytic.exact_denoiser(GMM2, edm)
    grid = time_grid(edm, 12, KARRAS)
    a = sample(den, x, grid, SA.DEIS(order=3)).samples
    np.testing.assert_allclose(a, sample(den, x, grid, SA.LMS(order=3)).samples, rtol=1e-9)
    den, x = analytic.exact_denoiser(GMM2, VP), prior_sample(jax.random.PRNGKey(0), (8, 2), VP)
    grid = time_grid(VP, 12, KARRAS)
    a = sample(den, x, grid, SA.DEIS(order=3)).samples
    assert not np.allclose(a, sample(den, x, grid, SA.LMS(order=3)).samples, rtol=1e-6)


def test_ddim_equals_euler_on_rectified_flow():
    rf = S.RectifiedFlow()
    gmm = analytic.gaussian_mixture([0.4, 0.6], [[1.0, 1.0], [-1.0, 0.0]], [0.2, 0.3])
    den = analytic.exact_denoiser(gmm, rf)
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 2), jnp.float64)
    grid = time_grid(rf, 25, SA.UniformGrid(), t_start=rf.t_max, t_end=rf.t_min)
    a = sample(den, x, grid, SA.DDIM()).samples
    b = sample(den, x, grid, SA.Euler()).samples
    np.testing.assert_allclose(a, b, atol=1e-10)


def test_ddpm_with_beta_tilde_is_ddim_with_eta_one():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 2), jnp.float64)
    grid = time_grid(VP, 20)
    key = jax.random.PRNGKey(5)
    a = sample(den, x, grid, SA.DDPM(), key=key).samples
    b = sample(den, x, grid, SA.DDIM(eta=1.0), key=key).samples
    np.testing.assert_allclose(a, b, atol=1e-10)


GMM2 = analytic.gaussian_mixture([0.3, 0.7], [[-2.0, 0.0], [2.0, 1.0]], [[0.3, 0.2], [0.2, 0.4]])


def energy_distance(a, b):
    d = lambda u, v: jnp.mean(jnp.sqrt(jnp.sum((u[:, None] - v[None]) ** 2, -1) + 1e-12))
    return float(2 * d(a, b) - d(a, a) - d(b, b))


STOCHASTIC = [
    (SA.DDPM(), 200),
    (SA.EulerMaruyama(), 400),
    (SA.PredictorCorrector(snr=0.05), 200),
    (SA.EulerAncestral(), 200),
    (SA.DPMSolverPPSDE(), 100),
    (SA.DPMSolverPPSDE(brownian_tree=True), 200),
    (SA.DPMSolverPPSDE(order=3), 100),
    (SA.DPMSolverPP2SAncestral(), 100),
    (SA.Restart(repeats=2, steps=4), 50),
]


def run_stochastic(sampler, steps, denoiser=None, n=4000):
    den = denoiser or analytic.exact_denoiser(GMM2, VP)
    key_x, key_s = jax.random.split(jax.random.PRNGKey(3))
    x = prior_sample(key_x, (n, 2), VP, dtype=jnp.float64)
    grid = time_grid(VP, steps, SA.UniformGrid(), t_end=1e-3)
    return sample(den, x, grid, sampler, key=key_s).samples


@pytest.mark.parametrize("sampler,steps", STOCHASTIC, ids=repr)
def test_stochastic_samplers_have_the_right_law(sampler, steps):
    n = 4000
    out = np.asarray(run_stochastic(sampler, steps, n=n))
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


def test_brownian_tree_noise_converges_strongly_as_the_grid_is_refined():
    """One Brownian path whatever the grid: with the same key, samples at N and 2N steps approach
    one another (error halves per doubling: order 1/2 or better); independent noise does not."""
    den = analytic.exact_denoiser(GMM2, VP)
    x = prior_sample(jax.random.PRNGKey(0), (256, 2), VP, dtype=jnp.float64)
    key = jax.random.PRNGKey(7)

    def gaps(sampler):
        out = [
            np.asarray(sample(den, x, time_grid(VP, n, LOGSNR), sampler, key=key).samples)
            for n in (25, 50, 100, 200)
        ]
        return [
            float(np.sqrt(np.mean((a - b) ** 2))) for a, b in zip(out[:-1], out[1:], strict=True)
        ]

    tree, independent = gaps(SA.DPMSolverPPSDE(brownian_tree=True)), gaps(SA.DPMSolverPPSDE())
    assert tree[-1] < 0.5 * tree[0] and tree[-1] < 0.05, tree
    assert min(independent) > 0.3, independent  # a fresh path at every N: O(1) apart


def test_restart_contracts_the_error_of_a_coarse_ode():
    """Xu et al. 2023's claim, with the exact denoiser: on 5 Karras steps Heun's law is far off;
    one restart at sigma~ 0.1 -> 2 (9 Heun steps) brings it close. The trajectory is Heun's until
    the restart time and the evaluations are counted."""
    den = analytic.exact_denoiser(GMM2, VP)
    x = prior_sample(jax.random.PRNGKey(0), (2000, 2), VP, dtype=jnp.float64)
    exact, _ = analytic.sample(GMM2, jax.random.PRNGKey(9), 2000)
    grid = time_grid(VP, 5, KARRAS, t_end=0.0)
    key = jax.random.PRNGKey(1)
    heun = sample(den, x, grid, SA.Heun(), return_trajectory=True)
    restart = sample(den, x, grid, SA.Restart(), key=key, return_trajectory=True)
    assert int(heun.nfe) == 9 and int(restart.nfe) == 9 + 18
    rec = VP(jnp.asarray(grid))
    fired = int(np.argmax(np.asarray(rec.sigma / rec.alpha) <= 0.1))  # the first time at or below
    np.testing.assert_array_equal(heun.trajectory[:fired], restart.trajectory[:fired])
    far, near = energy_distance(heun.samples, exact), energy_distance(restart.samples, exact)
    assert far > 0.5 and near < 0.2 * far, (far, near)


@pytest.mark.parametrize("diffusion", [None, 0.5, 2.0])
def test_sf2m_sde_with_the_exact_score_and_flow_has_the_data_law(diffusion):
    """[SF]2M on the Brownian bridge (sigma = 1) with its exact flow and score: the SDE at the
    bridge's g, at a smaller and at a larger g, keeps the data law (200 steps from t = 1)."""
    rf = S.RectifiedFlow()
    model = analytic.ExactScoreFlow(GMM2, 1.0)
    x = prior_sample(jax.random.PRNGKey(0), (4000, 2), rf, dtype=jnp.float64)
    grid = time_grid(rf, 200, SA.UniformGrid(), t_end=0.0)
    out = sample(model, x, grid, SA.ScoreFlowSDE(diffusion=diffusion), key=jax.random.PRNGKey(1))
    assert int(out.nfe) == 400  # the flow and the score, every step
    exact, _ = analytic.sample(GMM2, jax.random.PRNGKey(9), 4000)
    assert energy_distance(out.samples[:2000], exact[:2000]) < 0.01
    np.testing.assert_allclose(np.cov(np.asarray(out.samples).T), np.cov(exact.T), atol=0.15)


def test_sf2m_sde_on_a_plain_flow_uses_its_eps_as_the_score():
    """Without bridge noise grad log p_t = -eps_hat / sigma: one evaluation a step, the data law;
    without `diffusion` it names what is missing."""
    rf = S.RectifiedFlow()
    den = analytic.exact_denoiser(GMM2, rf)
    x = prior_sample(jax.random.PRNGKey(0), (4000, 2), rf, dtype=jnp.float64)
    grid = time_grid(rf, 200, SA.UniformGrid(), t_end=0.0)
    out = sample(den, x, grid, SA.ScoreFlowSDE(diffusion=1.0), key=jax.random.PRNGKey(1))
    exact, _ = analytic.sample(GMM2, jax.random.PRNGKey(9), 4000)
    assert int(out.nfe) == 200 and energy_distance(out.samples[:2000], exact[:2000]) < 0.01
    with pytest.raises(ValueError, match="has none: pass diffusion=g"):
        sample(den, x, grid, SA.ScoreFlowSDE(), key=jax.random.PRNGKey(1))


def test_lower_order_final_changes_only_the_last_two_steps():
    den = analytic.exact_denoiser(GMM2, VP)
    x = prior_sample(jax.random.PRNGKey(0), (8, 2), VP, dtype=jnp.float64)
    grid = time_grid(VP, 10, LOGSNR, t_end=1e-3)
    for plain, lower in [
        (SA.UniPC(order=3), SA.UniPC(order=3, lower_order_final=True)),
        (SA.DPMSolverPP(order=3), SA.DPMSolverPP(order=3, lower_order_final=True)),
    ]:
        a = sample(den, x, grid, plain, return_trajectory=True).trajectory
        b = sample(den, x, grid, lower, return_trajectory=True).trajectory
        np.testing.assert_array_equal(a[:-2], b[:-2])  # identical up to the last two steps
        assert not np.allclose(a[-2], b[-2]) and not np.allclose(a[-1], b[-1])
    long = time_grid(VP, 16, LOGSNR, t_end=1e-3)  # DPM-Solver++'s rule applies below 15 steps
    a = sample(den, x, long, SA.DPMSolverPP(order=3)).samples
    b = sample(den, x, long, SA.DPMSolverPP(order=3, lower_order_final=True)).samples
    np.testing.assert_array_equal(a, b)


def test_two_sample_statistic_rejects_a_wrong_sampler():
    """The same check fails for a sampler driven by a denoiser whose eps is 10% too small."""

    exact = analytic.exact_denoiser(GMM2, VP)
    network = lambda params, x, t, cond: 0.9 * exact(params, x, t, cond)[1]  # t: TimeInput
    wrong = Denoiser(network, VP, EpsPrediction())
    out = run_stochastic(SA.DDPM(), 200, denoiser=wrong)
    exact, _ = analytic.sample(GMM2, jax.random.PRNGKey(9), 4000)
    assert energy_distance(out[:2000], exact[:2000]) > 0.01


def test_adaptive_matches_the_exact_flow_and_counts_evaluations():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 2), jnp.float64)
    out = sample(den, x, [T0, T1], SA.Adaptive(rtol=1e-8, atol=1e-8))
    ref = analytic.gaussian_pf_ode_map(MEAN, COV, x, VP(T0), VP(T1))
    np.testing.assert_allclose(out.samples, ref, atol=1e-6)
    assert 20 < int(out.nfe) < 2000 and (int(out.nfe) - 1) % 6 == 0


def test_likelihood_equals_exact_mixture_density():
    x, _ = analytic.sample(GMM2, jax.random.PRNGKey(0), 6)
    den = analytic.exact_denoiser(GMM2, VP)
    prior = lambda x1: analytic.log_density(GMM2, x1, VP(1.0))
    ll = SA.log_likelihood(den, x, t0=1e-5, prior_log_prob=prior)
    np.testing.assert_allclose(ll, analytic.log_density(GMM2, x, VP(1e-5)), atol=1e-4)


@pytest.mark.parametrize("probe", list(SA.Probe))
def test_hutchinson_is_unbiased(probe):
    x, _ = analytic.sample(GMM2, jax.random.PRNGKey(0), 2)
    den = analytic.exact_denoiser(GMM2, VP)
    prior = lambda x1: analytic.log_density(GMM2, x1, VP(1.0))
    exact = np.asarray(
        SA.log_likelihood(den, x, t0=1e-3, prior_log_prob=prior, rtol=1e-5, atol=1e-5)
    )
    draws = np.stack(
        [
            np.asarray(
                SA.log_likelihood(
                    den,
                    x,
                    t0=1e-3,
                    prior_log_prob=prior,
                    divergence=SA.Hutchinson(probe=probe),
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


def _contract_pairs(name: str, full: bool):
    """(schedule, parameterisation) pairs of the contract test: all of them (slow), or each
    schedule with two parameterisations that rotate with the sampler, so that across the
    samplers every pair of schedule and parameterisation is met (the conversion to (x0, eps)
    happens before any sampler sees it)."""
    names, i = list(resolve.PARAMETERISATIONS), list(resolve.SAMPLERS).index(name)
    for j, (sname, sched) in enumerate(CONTRACT_SCHEDULES.items()):
        k = i + j
        chosen = (
            names if full else [names[k % len(names)], names[(k + len(names) // 2) % len(names)]]
        )
        for pname in chosen:
            yield sname, sched, pname


def _check_contract(name: str, full: bool):
    # a plain denoiser has no score head of its own: the [SF]2M SDE then needs its g
    method = resolve.sampler("sf2m_sde(diffusion=1.0)" if name == "sf2m_sde" else name)
    params = jnp.array([[0.9, 0.1], [-0.2, 0.7]], jnp.float32)
    key = jax.random.PRNGKey(0)
    for sname, sched, pname in _contract_pairs(name, full):
        p = cases.parameterisation(pname, sched)
        edm = isinstance(p, EDMPreconditioned)
        den = Denoiser(tiny_network, sched, p, EDMNoiseInput() if edm else TimeInput())
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


def test_the_contract_pairs_cover_every_schedule_and_parameterisation():
    met = {(s, p) for name in resolve.SAMPLERS for s, _, p in _contract_pairs(name, False)}
    assert met == {(s, p) for s in CONTRACT_SCHEDULES for p in resolve.PARAMETERISATIONS}


@pytest.mark.parametrize("name", list(resolve.SAMPLERS))
def test_contract_every_method_on_every_schedule(name):
    """float32 in and out, finite, at least one evaluation a step, deterministic given the key,
    and no retrace on a second call: every sampler on every schedule (covering pairs)."""
    _check_contract(name, full=False)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(resolve.SAMPLERS))
def test_contract_every_method_parameterisation_schedule(name):
    """The same on every (schedule, parameterisation) pair (~15 min on 2 cores)."""
    _check_contract(name, full=True)


def test_trajectory_and_grids():
    den = analytic.exact_denoiser(GAUSS, VP)
    x = jnp.zeros((3, 2), jnp.float64)
    out = sample(den, x, time_grid(VP, 5), SA.DDIM(), return_trajectory=True)
    assert out.trajectory.shape == (6, 3, 2)
    np.testing.assert_allclose(out.trajectory[-1], out.samples)
    ddpm = S.DiscreteDDPM()
    g = lambda name: time_grid(ddpm, 10, resolve.grid(name))
    np.testing.assert_allclose(g("trailing")[:3] * 1000, [1000, 900, 800])
    np.testing.assert_allclose(g("leading")[:2] * 1000, [901, 801])
    np.testing.assert_allclose(g("linspace")[[0, -2, -1]] * 1000, [1000, 1, 0])
    karras = time_grid(S.EDM(), 18, KARRAS, t_end=0.0)
    # EDM's t is Karras' grid: 18 levels from 1 to t_min (sigma 80 to 0.002), then the data
    expected = np.append(np.linspace(1, S.EDM().t_min, 18), 0.0)
    np.testing.assert_allclose(karras, expected, atol=1e-9)
    lam = VP.logsnr(jnp.asarray(time_grid(VP, 8, LOGSNR, t_end=1e-3)))
    np.testing.assert_allclose(np.diff(lam), np.diff(lam)[0], rtol=1e-8)


def test_guidance_wrappers():
    sched = S.VPLinear()
    net = lambda params, x, noise, cond: x * 0 + cond[:, None].astype(x.dtype)
    den = Denoiser(net, sched, X0Prediction())
    cfg = SA.ClassifierFreeGuidance(den, scale=3.0, null_cond=0)
    x = jnp.ones((2, 2), jnp.float64)
    x0, eps = cfg(None, x, 0.5, jnp.array([1, 2]))
    np.testing.assert_allclose(x0[:, 0], [3.0, 6.0])  # 0 + 3 (c - 0)
    rec = sched(0.5)
    np.testing.assert_allclose(rec.alpha * x0 + rec.sigma * eps, x, atol=1e-12)
    clip = SA.ClipX0(den, 1.0)(None, x, 0.5, jnp.array([3, -4]))
    np.testing.assert_allclose(clip[0][:, 0], [1.0, -1.0])
    dyn = SA.DynamicThresholding(den, 0.5)(None, x, 0.5, jnp.array([3, -4]))
    np.testing.assert_allclose(dyn[0], [[1.0, 1.0], [-1.0, -1.0]])


def test_cfg_rescale_and_apg_against_their_definitions():
    """A network whose x0_hat is a random field for the label and another for 'none': CFG
    rescale at phi = 1 gives the guided x0 the conditional std per example; APG with eta = 1 is
    CFG on x0, with eta = 0 its guidance term is orthogonal to x0_c, and a norm threshold caps
    the guidance difference; every wrapper keeps x = alpha x0 + sigma eps."""
    sched = S.VPLinear()
    fields = jax.random.normal(jax.random.PRNGKey(0), (3, 6), jnp.float64)  # null, class 1, 2
    net = lambda params, x, noise, cond: x * 0 + fields[cond]
    den = Denoiser(net, sched, X0Prediction())
    x, t, cond, w = jnp.ones((2, 6), jnp.float64), 0.5, jnp.array([1, 2]), 3.0
    x0_c = fields[cond]
    rec = sched(t)
    cfg = SA.ClassifierFreeGuidance(den, scale=w, null_cond=0)(None, x, t, cond)[0]
    full = SA.ClassifierFreeGuidance(den, scale=w, null_cond=0, rescale=1.0)
    x0, eps = full(None, x, t, cond)
    np.testing.assert_allclose(x0.std(1), x0_c.std(1), rtol=1e-10)
    np.testing.assert_allclose(x0 / x0.std(1, keepdims=True), cfg / cfg.std(1, keepdims=True))
    np.testing.assert_allclose(rec.alpha * x0 + rec.sigma * eps, x, atol=1e-12)
    apg = lambda **kw: SA.AdaptiveProjectedGuidance(den, scale=w, null_cond=0, **kw)
    np.testing.assert_allclose(apg(eta=1.0)(None, x, t, cond)[0], cfg, atol=1e-12)
    x0, eps = apg()(None, x, t, cond)
    np.testing.assert_allclose(jnp.sum((x0 - x0_c) * x0_c, 1), 0.0, atol=1e-10)
    np.testing.assert_allclose(rec.alpha * x0 + rec.sigma * eps, x, atol=1e-12)
    capped = apg(eta=1.0, norm_threshold=0.5)(None, x, t, cond)[0]
    np.testing.assert_allclose(jnp.linalg.norm(capped - x0_c, axis=1), (w - 1) * 0.5, rtol=1e-10)


@dataclasses.dataclass(frozen=True, eq=False)
class _ClassConditionalMixture:
    """The exact class-conditional denoiser of GMM2: label k in {0, 1} is component k's exact
    denoiser, label 2 ('none') the whole mixture's."""

    schedule: S.Schedule = VP

    def __call__(self, params, x, t, cond):
        one = lambda k: analytic.GaussianMixture(
            jnp.ones(1), GMM2.means[k : k + 1], GMM2.covs[k : k + 1]
        )
        parts = [one(0), one(1), GMM2]
        t_b = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:1])
        outs = [analytic.exact_denoiser(g, self.schedule)(None, x, t_b) for g in parts]
        pick = lambda i: jnp.select([cond[:, None] == k for k in (0, 1, 2)], [o[i] for o in outs])
        return pick(0), pick(1)


def test_cfg_plus_plus_is_ddim_renoised_with_the_unconditional_eps():
    """CFG++ (Chung et al. 2025, Alg. 1) on the exact class-conditional mixture: the wrapper
    returns (x0_u + lam (x0_c - x0_u), eps_u); DDIM through it equals the algorithm written out
    step by step (x_s = alpha_s x0_lam + sigma_s eps_u); lam = 0 is unconditional DDIM; and any
    sampler but DDIM is refused."""
    den = _ClassConditionalMixture()
    x = jax.random.normal(jax.random.PRNGKey(7), (6, 2), jnp.float64)
    labels, t, lam = jnp.array([0, 1, 0, 1, 1, 0]), 0.6, 0.4
    x0, eps = SA.CFGPlusPlus(den, scale=lam, null_cond=2)(None, x, t, labels)
    (x0_c, _), (x0_u, eps_u) = den(None, x, t, labels), den(None, x, t, jnp.full(6, 2))
    np.testing.assert_allclose(x0, x0_u + lam * (x0_c - x0_u), rtol=1e-12)
    np.testing.assert_allclose(eps, eps_u, rtol=1e-12)
    rec = VP(t)
    assert np.abs(rec.alpha * x0 + rec.sigma * eps - x).max() > 1e-2  # not a consistent pair

    grid = time_grid(VP, 12)
    guided = SA.CFGPlusPlus(den, scale=lam, null_cond=2)
    got = sample(guided, x, grid, SA.DDIM(), cond=labels).samples
    y = x
    for t, s in zip(np.asarray(grid[:-1]), np.asarray(grid[1:]), strict=True):
        (x0_c, _), (x0_u, eps_u) = den(None, y, t, labels), den(None, y, t, jnp.full(6, 2))
        rec_s = VP(jnp.asarray(s, jnp.float64))
        y = rec_s.alpha * (x0_u + lam * (x0_c - x0_u)) + rec_s.sigma * eps_u
    np.testing.assert_allclose(got, y, rtol=1e-10, atol=1e-12)
    zero = sample(SA.CFGPlusPlus(den, scale=0.0, null_cond=2), x, grid, SA.DDIM(), cond=labels)
    unconditional = sample(den, x, grid, SA.DDIM(), cond=jnp.full(6, 2)).samples
    np.testing.assert_allclose(zero.samples, unconditional, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="IPNDM: .*CFG\\+\\+.*DDIM"):
        sample(guided, x, grid, SA.IPNDM(), cond=labels)
    with pytest.raises(ValueError, match="lambda"):
        SA.CFGPlusPlus(den, scale=2.0, null_cond=2)


def test_cfg_on_a_flow_is_guidance_of_the_velocity():
    """Guidance for flows (as in SD3 / flow_matching: v_u + w (v_c - v_u)) is the same wrapper:
    the probability-flow velocity is linear in (x0_hat, eps_hat), so CFG on the pair is CFG on
    the velocity, here on rectified flow with the exact class-conditional mixture."""
    rf = S.RectifiedFlow()
    den = _ClassConditionalMixture(schedule=rf)
    x = jax.random.normal(jax.random.PRNGKey(3), (6, 2), jnp.float64)
    labels, t, w = jnp.array([0, 1, 0, 1, 1, 0]), 0.7, 2.5
    guided = SA.ClassifierFreeGuidance(den, scale=w, null_cond=2)
    v = lambda d, c: SA.pf_velocity(d, None, x, t, c)
    v_c, v_u = v(den, labels), v(den, jnp.full(6, 2))
    np.testing.assert_allclose(v(guided, labels), v_u + w * (v_c - v_u), rtol=1e-10)
    assert np.abs(v_c - v_u).max() > 0.1  # the classes pull apart: the check has teeth


def test_classifier_guidance_with_the_exact_classifier_gives_the_class_score():
    """grad log p(y | x_t) added to the mixture score is the score of component y (scale 1)."""

    def log_prob(params, x, t, cond):
        rec = VP(VP.clip(t))
        alpha, sigma = (
            jnp.broadcast_to(rec.alpha, x.shape[:1]),
            jnp.broadcast_to(rec.sigma, x.shape[:1]),
        )
        log_n, _ = analytic._components(GMM2, x, alpha, sigma)
        log_r = jax.nn.log_softmax(jnp.log(GMM2.weights) + log_n, axis=-1)
        return jnp.take_along_axis(log_r, cond[:, None], 1)[:, 0]

    guided = SA.ClassifierGuidance(analytic.exact_denoiser(GMM2, VP), log_prob, 1.0)
    x = jax.random.normal(jax.random.PRNGKey(4), (6, 2), jnp.float64) * 2
    labels = jnp.array([0, 1, 0, 1, 1, 0])
    t = 0.4
    _, eps = guided((None, None), x, t, labels)
    rec = VP(t)
    for k in (0, 1):
        comp = analytic.GaussianMixture(jnp.ones(1), GMM2.means[k : k + 1], GMM2.covs[k : k + 1])
        expected = -rec.sigma * analytic.score(comp, x, rec)
        np.testing.assert_allclose(eps[labels == k], expected[labels == k], rtol=1e-9, atol=1e-12)


def _exact_logits(params, x, t):
    """GMM2's component posterior log w_k + log N(x; alpha mu_k, alpha^2 S_k + sigma^2 I), scaled
    by params: the Bayes classifier of the component label at params = 1."""
    rec = VP(t)
    log_n, _ = analytic._components(GMM2, x, rec.alpha, rec.sigma)
    return params * (jnp.log(GMM2.weights) + log_n)


def test_a_noise_aware_classifier_guides_the_unconditional_model_to_the_class():
    """Classifier guidance of the unconditional model (null_cond) with the Bayes classifier at
    scale 1 is the class-conditional model (Dhariwal & Nichol 2021, eq. 10 with s = 1), through
    `losses.classifier_log_prob`; scale 0 is the unconditional model; and the noise-aware
    classifier's cross-entropy (`losses.noisy_classifier_loss`) is least at the Bayes classifier
    (logits scaled by 0.8 or 1.25 cost more on the same draws)."""
    from diffjax import losses

    den = _ClassConditionalMixture()
    log_prob = losses.classifier_log_prob(_exact_logits, VP)
    x = jax.random.normal(jax.random.PRNGKey(4), (6, 2), jnp.float64) * 2
    labels, t = jnp.array([0, 1, 0, 1, 1, 0]), 0.4
    guided = SA.ClassifierGuidance(den, log_prob, 1.0, null_cond=2)
    x0, eps = guided((None, 1.0), x, t, labels)
    x0_c, eps_c = den(None, x, t, labels)
    np.testing.assert_allclose(eps, eps_c, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(x0, x0_c, rtol=1e-9, atol=1e-12)
    unguided = SA.ClassifierGuidance(den, log_prob, 0.0, null_cond=2)((None, 1.0), x, t, labels)
    np.testing.assert_allclose(unguided[1], den(None, x, t, jnp.full(6, 2))[1], rtol=1e-12)

    points, components = analytic.sample(GMM2, jax.random.PRNGKey(5), 20000)
    loss = losses.noisy_classifier_loss(_exact_logits, VP)
    batch = {"data": points, "cond": components}
    mean = lambda scale: float(jnp.mean(loss(scale, batch, jax.random.PRNGKey(6))))
    assert mean(1.0) < mean(0.8) - 1e-3 and mean(1.0) < mean(1.25) - 1e-3


FLOW_START = {
    "heun": SA.Heun(),
    "ipndm": SA.IPNDM(),
    "lms": SA.LMS(),
    "deis": SA.DEIS(),
    "unipc_3": SA.UniPC(order=3),
    "dpm_solver_2": SA.DPMSolver(order=2),
    "dpmpp_2s": SA.DPMSolverPP2S(),
}


@pytest.mark.parametrize("closed", [False, True], ids=["clipped", "closed"])
@pytest.mark.parametrize("name", list(FLOW_START))
def test_sigma_tilde_methods_start_from_a_flows_pure_noise(name, closed):
    """Rectified flow from t = 1, where alpha = 0 and sigma~ = sigma/alpha is infinite (the
    network's time clipped to 1 - 1e-5, or the closed [0, 1] of torchcfm-style flows). These
    methods returned NaN on the closed schedule, and Heun 1e7 on the clipped one (its trapezoid
    over [sigma~_1, 1e5], and x_hat = 0 at the start); all now land within 0.05 RMS of the exact
    probability-flow endpoint on 20 uniform steps (measured 1.6e-3 to 2.2e-2)."""
    rf = S.RectifiedFlow()
    if closed:
        rf = dataclasses.replace(rf, t_min=0.0, t_max=1.0)
    den = analytic.exact_denoiser(GMM2, rf)
    x = prior_sample(jax.random.PRNGKey(0), (64, 2), rf, dtype=jnp.float64)
    exact = sample(den, x, [1.0, 0.0], SA.Adaptive(rtol=1e-9, atol=1e-9)).samples
    out = sample(den, x, time_grid(rf, 20, SA.UniformGrid(), t_end=0.0), FLOW_START[name])
    err = float(jnp.sqrt(jnp.mean((out.samples - exact) ** 2)))
    assert np.isfinite(err) and err < 0.05, err
