import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from diffjax import Denoiser, analytic, resolve
from diffjax import losses as L
from diffjax import losses as couplings
from diffjax import schedules as S
from diffjax.parameterisations import VelocityPrediction

GMM = analytic.gaussian_mixture([0.5, 0.5], [[2.0, 1.0], [-1.0, -2.0]], [0.3, 0.5])


@dataclasses.dataclass(frozen=True, kw_only=True)
class _NoisyRF(S.Schedule):
    """Marginal of I-CFM with a Gaussian source: alpha = 1 - t, sigma = sqrt(t^2 + s^2)."""

    s: float = 0.1
    t_min: float = 1e-5
    t_max: float = 1 - 1e-5

    def alpha_sigma(self, t):
        return 1 - t, jnp.sqrt(t**2 + self.s**2)


def exact_marginal_velocity(method, sigma):
    """The minimiser E[u_t | x_t] for Gaussian-mixture data and a N(0, I) source."""
    if method == "fm":
        sched = S.LipmanFM(sigma_min=sigma)

        def velocity(x, t):
            rec = sched(t)
            x0, eps = analytic.x0_eps(GMM, x, rec)
            return rec.d_alpha[:, None] * x0 + rec.d_sigma[:, None] * eps

    else:  # icfm: u = -x_data + x_source, E[x_source | x] = (t / sigma_eff) E[e | x]
        sched = _NoisyRF(s=sigma)

        def velocity(x, t):
            rec = sched(t)
            x0, e = analytic.x0_eps(GMM, x, rec)
            return -x0 + (t / rec.sigma)[:, None] * e

    return velocity


def velocity_denoiser(network, path):
    return Denoiser(network, path.schedule, VelocityPrediction())


@pytest.mark.parametrize("method,sigma", [("fm", 1e-2), ("icfm", 0.1), ("icfm", 0.5)])
def test_exact_marginal_velocity_minimises_the_cfm_loss(method, sigma):
    u = exact_marginal_velocity(method, sigma)
    network = lambda delta, x, t, cond: u(x, t) + delta * jnp.tanh(x)
    path = L.presets.lipman_fm(sigma) if method == "fm" else L.presets.icfm(sigma)
    loss = L.flow_matching_loss(velocity_denoiser(network, path), path)
    n = 20000
    x_data, _ = analytic.sample(GMM, jax.random.PRNGKey(0), n)
    x_source = jax.random.normal(jax.random.PRNGKey(1), (n, 2), jnp.float64)
    batch = {"data": x_data, "source": x_source}
    key = jax.random.PRNGKey(2)
    grads = np.asarray(jax.jacfwd(lambda d: loss(d, batch, key))(jnp.asarray(0.0)))
    assert abs(grads.mean()) < 4 * grads.std() / np.sqrt(n)
    base = loss(0.0, batch, key).mean()
    assert loss(0.2, batch, key).mean() > base
    assert loss(-0.2, batch, key).mean() > base
    # power: a velocity off by 0.1 tanh(x) is detectably not a minimiser
    grads_wrong = np.asarray(jax.jacfwd(lambda d: loss(d, batch, key))(jnp.asarray(0.1)))
    assert abs(grads_wrong.mean()) > 4 * grads_wrong.std() / np.sqrt(n)


@pytest.mark.parametrize("method", ["icfm", "otcfm", "sbcfm", "fm", "rf"])
def test_conditional_velocity_is_the_path_derivative(method):
    path = resolve.path(method if method == "rf" else f"{method}(sigma=0.3)")
    k = jax.random.split(jax.random.PRNGKey(0), 3)
    xd, xs, z = (jax.random.normal(kk, (5, 2), jnp.float64) for kk in k)
    t = jnp.linspace(0.05, 0.95, 5)
    _, u, _ = path.interpolate(xd, xs, z, t)
    _, du = jax.jvp(lambda tt: path.interpolate(xd, xs, z, tt)[0], (t,), (jnp.ones_like(t),))
    np.testing.assert_allclose(u, du, rtol=1e-10)


def test_brownian_bridge_matches_torchcfm_convention():
    """torchcfm (time s = 1 - t): std sigma sqrt(s(1-s)); its drift x1 - x0 + (1-2s)/(2s(1-s))(x - mu)."""
    t = jnp.linspace(0.1, 0.9, 9)
    c, dc = L.BrownianBridge(sigma=0.7)(t)
    s = 1 - t
    np.testing.assert_allclose(c, 0.7 * np.sqrt(s * (1 - s)))
    # our u = -u_torchcfm: noise part dc z = -(1-2s)/(2 s(1-s)) c z
    np.testing.assert_allclose(dc, -(1 - 2 * s) / (2 * s * (1 - s)) * c, rtol=1e-12)


@pytest.mark.parametrize("solver", list(L.OTSolver))
@pytest.mark.parametrize("n", [7, 64, 256])
def test_exact_ot_equals_scipy_assignment(solver, n):
    for seed in range(3):
        kx, ky = jax.random.split(jax.random.PRNGKey(seed))
        x = jax.random.normal(kx, (n, 3), jnp.float64)
        y = jax.random.normal(ky, (n, 3), jnp.float64) * 2 + 1
        perm = np.asarray(jax.jit(lambda a, b: couplings.exact_ot_assignment(a, b, solver))(x, y))
        cost = np.asarray(couplings.squared_distances(x, y))
        _, ref = linear_sum_assignment(cost)
        assert sorted(perm.tolist()) == list(range(n))
        np.testing.assert_allclose(
            cost[np.arange(n), perm].sum(), cost[np.arange(n), ref].sum(), rtol=1e-12
        )
        assert (
            cost[np.arange(n), perm].mean() < np.trace(cost) / n
        )  # beats the independent coupling


def test_host_pairs_equal_the_in_step_coupling():
    kx, ky = jax.random.split(jax.random.PRNGKey(5))
    x = jax.random.normal(kx, (128, 2), jnp.float64)
    y = jax.random.normal(ky, (128, 2), jnp.float64) + 3
    perm = np.asarray(couplings.exact_ot_assignment(x, y))
    paired = couplings.exact_ot_pairs_on_host(np.asarray(x), np.asarray(y))
    np.testing.assert_array_equal(paired, np.asarray(y)[perm])
    with pytest.raises(ValueError, match="equal batch sizes"):
        couplings.exact_ot_pairs_on_host(np.asarray(x), np.asarray(y)[:5])


def test_sinkhorn_marginals_and_sampling():
    kx, ky = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.normal(kx, (128, 2))
    y = jax.random.normal(ky, (128, 2)) + 3.0
    plan = couplings.sinkhorn_plan(x, y, epsilon=0.5, threshold=1e-6)
    np.testing.assert_allclose(plan.sum(1), 1 / 128, rtol=1e-3)
    np.testing.assert_allclose(plan.sum(0), 1 / 128, rtol=1e-3)
    # small epsilon approaches the exact OT cost from above
    cost = couplings.squared_distances(x, y)
    exact = float(jnp.mean(cost[jnp.arange(128), couplings.exact_ot_assignment(x, y)]))
    sink = float(jnp.sum(couplings.sinkhorn_plan(x, y, epsilon=0.01, threshold=1e-6) * cost))
    assert abs(sink - exact) < 0.01 * exact
    # pairs are drawn with probability plan[i, j]
    small = jnp.asarray([[0.1, 0.3], [0.4, 0.2]])
    i, j = couplings.sample_plan(jax.random.PRNGKey(1), small, 200000)
    freq = np.bincount(np.asarray(i * 2 + j), minlength=4) / 200000
    np.testing.assert_allclose(freq, small.reshape(-1), atol=5e-3)
    # a rectangular plan with zeros (never drawn), unnormalised: frequencies within 4 SE
    rect = np.random.default_rng(0).uniform(size=(6, 5)) * (np.arange(30).reshape(6, 5) % 4 > 0)
    n = 300_000
    i, j = couplings.sample_plan(jax.random.PRNGKey(2), jnp.asarray(rect * 3.0), n)
    freq = np.bincount(np.asarray(i * 5 + j), minlength=30) / n
    p = (rect / rect.sum()).reshape(-1)
    assert np.all(freq[p == 0] == 0)
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n) + 1e-12)
    # several column blocks (8 columns each) with padding and an all-zero block
    wide = np.random.default_rng(1).uniform(size=(3, 37)) ** 4 * (np.arange(37) % 5 > 0)
    wide[:, 8:16] = 0.0
    n = 400_000
    i, j = couplings.sample_plan(jax.random.PRNGKey(3), jnp.asarray(wide), n)
    freq = np.bincount(np.asarray(i * 37 + j), minlength=3 * 37) / n
    p = (wide / wide.sum()).reshape(-1)
    assert np.all(freq[p == 0] == 0)
    np.testing.assert_array_less(np.abs(freq - p), 4 * np.sqrt(p * (1 - p) / n) + 1e-12)


def test_couplings_keep_labels_paired():
    n = 32
    labels = jnp.arange(n)
    x_data = jnp.stack([labels.astype(jnp.float64), jnp.zeros(n)], 1)
    x_source = jax.random.normal(jax.random.PRNGKey(0), (n, 2), jnp.float64) * 5
    times = L.UniformTime()
    key = jax.random.PRNGKey(1)
    for path in [L.presets.icfm(1.0), L.presets.otcfm(1.0), L.presets.sbcfm(1.0)]:
        ps = path.draw(key, x_data, times, x_source, labels)
        np.testing.assert_array_equal(np.asarray(ps.x0[:, 0]).astype(int), np.asarray(ps.cond))
    ps = L.presets.otcfm(0.1).draw(key, x_data, times, x_source, labels)
    assert float(jnp.sum((ps.x0 - ps.x1) ** 2)) < float(jnp.sum((x_data - x_source) ** 2))


def test_coupling_override_sinkhorn_approaches_exact_ot():
    """OT-CFM with a small-epsilon Sinkhorn coupling pairs points almost as the exact plan does."""
    kx, ky, kl = jax.random.split(jax.random.PRNGKey(3), 3)
    x = jax.random.normal(kx, (64, 2), jnp.float64)
    y = jax.random.normal(ky, (64, 2), jnp.float64) + 2.0
    zero = lambda p, x_t, t, c: jnp.zeros_like(x_t)
    batch = {"data": x, "source": y}

    def loss(path):
        return L.flow_matching_loss(velocity_denoiser(zero, path), path)(None, batch, kl)

    exact = loss(L.presets.otcfm(0.0))
    approx = loss(L.presets.otcfm(0.0, L.Sinkhorn(epsilon=0.01)))
    indep = loss(L.presets.icfm(0.0))
    # with v = 0 the loss is the mean squared pair distance / dims (pairs sampled from the plan,
    # with replacement, so not a permutation: close to the exact cost, far below independent)
    e, a, i = float(exact.mean()), float(approx.mean()), float(indep.mean())
    assert abs(a - e) < 0.15 * e and a < 0.8 * i, (e, a, i)


def _exact_sf2m_denoisers(sigma, v_scale=1.0, s_scale=1.0):
    """The exact [SF]2M flow and score of GMM as trained models would be (networks of t)."""
    exact = analytic.ExactScoreFlow(GMM, sigma)
    rf = exact.schedule

    def velocity(params, x, t, cond):
        x0, eps = exact(params, x, t)
        rec = rf(rf.clip(t))
        return v_scale * (rec.d_alpha[:, None] * x0 + rec.d_sigma[:, None] * eps)

    def score(params, x, t, cond):
        return s_scale * 0.5 * sigma**2 * exact.score_of(params, x, t)

    return Denoiser(velocity, rf, VelocityPrediction()), Denoiser(score, rf, VelocityPrediction())


def test_sf2m_loss_is_least_at_the_exact_flow_and_score():
    """With lambda(t) = 2 c / sigma^2 the score term's minimiser is (sigma^2/2) grad log p_t and
    the flow term's the marginal velocity: scaling either by 0.85 or 1.15 raises the loss (the
    same draws for every pair) by equal amounts either side."""
    sigma = 1.0
    path = L.presets.sbcfm(sigma, coupling=L.Independent())
    data = analytic.sample(GMM, jax.random.PRNGKey(0), 20_000)[0]
    key = jax.random.PRNGKey(1)

    def loss(v_scale, s_scale):
        flow, score = _exact_sf2m_denoisers(sigma, v_scale, s_scale)
        return float(jnp.mean(L.sf2m_loss(flow, score, path)(None, {"data": data}, key)))

    best = loss(1.0, 1.0)
    for low, high in (((0.85, 1.0), (1.15, 1.0)), ((1.0, 0.85), (1.0, 1.15))):
        rise_low, rise_high = loss(*low) - best, loss(*high) - best
        assert rise_low > 1e-3 and rise_high > 1e-3, (low, rise_low, rise_high)
        # a quadratic bowl centred on the exact pair: equal rises either side (to 30%)
        assert abs(rise_low - rise_high) < 0.3 * max(rise_low, rise_high), (rise_low, rise_high)
