import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from diffjax import Denoiser, analytic, resolve
from diffjax import schedules as S
from diffjax.losses import (
    DiscreteTime,
    Path,
    bits_per_dim,
    ddpm_bound,
    ddpm_posterior,
    decoder_nll,
    discretized_gaussian_log_likelihood,
    hybrid_loss,
    make_hybrid_loss,
    make_vlb_loss,
    prior_kl,
    truncated_bound,
    vlb_term,
)
from diffjax.parameterisations import MeanPrediction, X0Prediction
from diffjax.schedules import ReverseVariance

SMALL, LARGE, LEARNED = list(ReverseVariance)

MU, STD, DIM = 0.3, 0.5, 3


def gaussian_data(key, n):
    return MU + STD * jax.random.normal(key, (n, DIM), jnp.float64)


def exact_x0_hat(schedule):
    gmm = analytic.gaussian_mixture([1.0], [[MU] * DIM], [STD**2])
    return lambda x, t: analytic.posterior_mean(gmm, x, schedule(t))


def closed_form_kl(schedule, i):
    """E KL(q(x_{i-1}|x_i, x0) || p(x_{i-1}|x_i)) for Gaussian data, exact E[x0|x_i], fixed_small."""
    T = schedule.num_timesteps
    abar = lambda j: np.exp(np.asarray(schedule.log_alpha_bar(jnp.asarray(j / T))))
    a_i = abar(i)
    coef_x0 = np.sqrt(abar(i - 1)) * (1 - a_i / abar(i - 1)) / (1 - a_i)
    post_var = (1 - abar(i - 1)) / (1 - a_i) * (1 - a_i / abar(i - 1))
    # E||x0 - E[x0|x_i]||^2 per dimension = Var(x0 | x_i) for Gaussian data
    resid = STD**2 * (1 - a_i) / (a_i * STD**2 + (1 - a_i))
    return DIM * coef_x0**2 * resid / (2 * post_var)


def test_posterior_matches_ddpm_formulas():
    s = S.DiscreteDDPM()
    betas = np.linspace(1e-4, 0.02, 1000)
    abar = np.cumprod(1 - betas)
    i = np.array([2, 10, 500, 1000])
    post = ddpm_posterior(s, jnp.asarray(i))
    np.testing.assert_allclose(
        post.coef_x0, np.sqrt(abar[i - 2]) * betas[i - 1] / (1 - abar[i - 1])
    )
    np.testing.assert_allclose(
        post.coef_xt, np.sqrt(1 - betas[i - 1]) * (1 - abar[i - 2]) / (1 - abar[i - 1])
    )
    np.testing.assert_allclose(
        np.exp(post.log_var), (1 - abar[i - 2]) / (1 - abar[i - 1]) * betas[i - 1], rtol=1e-10
    )
    np.testing.assert_allclose(np.exp(post.log_beta), betas[i - 1], rtol=1e-10)


@pytest.mark.parametrize("i", [2, 5, 50, 400, 1000])
def test_kl_terms_match_the_closed_form_for_gaussian_data(i):
    s = S.DiscreteDDPM()
    n = 40000
    k1, k2 = jax.random.split(jax.random.PRNGKey(i))
    x0 = gaussian_data(k1, n)
    t = jnp.full((n,), i / 1000.0)
    rec = s(t)
    x_i = rec.alpha[:, None] * x0 + rec.sigma[:, None] * jax.random.normal(
        k2, x0.shape, jnp.float64
    )
    terms = np.asarray(vlb_term(s, x0, x_i, jnp.full((n,), i), exact_x0_hat(s)(x_i, t)))
    expected = closed_form_kl(s, i)
    assert abs(terms.mean() - expected) < 4 * terms.std() / np.sqrt(n) + 1e-12, (
        terms.mean(),
        expected,
    )


def test_prior_kl_closed_form():
    s = S.DiscreteDDPM()
    x0 = gaussian_data(jax.random.PRNGKey(0), 5)
    a2 = float(np.exp(s.log_alpha_bar(jnp.asarray(1.0))))
    per_dim = 0.5 * (a2 * x0**2 + (1 - a2) - 1 - np.log(1 - a2))
    np.testing.assert_allclose(prior_kl(s, x0), per_dim.sum(1), rtol=1e-10)


@pytest.mark.parametrize("levels", [256, 17])  # 8-bit images; sklearn digits (0..16)
def test_discretized_gaussian_matches_scipy_and_normalises(levels):
    bins = (np.arange(levels) / (levels - 1)) * 2 - 1
    mean, log_scale = 0.13, np.log(0.2)
    ll = np.asarray(
        discretized_gaussian_log_likelihood(
            jnp.asarray(bins), jnp.asarray(mean), jnp.asarray(log_scale), levels
        )
    )
    norm = scipy.stats.norm(mean, 0.2)
    edges = np.concatenate([[-np.inf], (bins[:-1] + bins[1:]) / 2, [np.inf]])
    ref = np.log(norm.cdf(edges[1:]) - norm.cdf(edges[:-1]))
    finite = np.isfinite(ref) & (ref > -600)
    np.testing.assert_allclose(ll[finite], ref[finite], rtol=1e-8)
    np.testing.assert_allclose(np.exp(ll).sum(), 1.0, rtol=1e-10)
    # far in the tail the two-sided form stays accurate
    far = discretized_gaussian_log_likelihood(
        jnp.asarray(0.9), jnp.asarray(-0.9), jnp.asarray(np.log(0.05))
    )
    ref_far = np.log(
        scipy.stats.norm(-0.9, 0.05).sf(0.9 - 1 / 255)
        - scipy.stats.norm(-0.9, 0.05).sf(0.9 + 1 / 255)
    )
    np.testing.assert_allclose(far, ref_far, rtol=1e-6)


def test_learned_range_interpolates_the_fixed_variances():
    s = S.DiscreteDDPM()
    key = jax.random.PRNGKey(1)
    x0 = gaussian_data(key, 8)
    x_i = x0 * 0.9 + 0.1
    i = jnp.full((8,), 300)
    x0_hat = x0 * 0.8
    small = vlb_term(s, x0, x_i, i, x0_hat, SMALL)
    large = vlb_term(s, x0, x_i, i, x0_hat, LARGE)
    np.testing.assert_allclose(vlb_term(s, x0, x_i, i, x0_hat, LEARNED, -jnp.ones_like(x0)), small)
    np.testing.assert_allclose(vlb_term(s, x0, x_i, i, x0_hat, LEARNED, jnp.ones_like(x0)), large)


def test_full_bound_matches_closed_form_for_gaussian_data():
    s = S.DiscreteDDPM(num_timesteps=50, beta_end=0.2)
    n = 4000
    x0 = gaussian_data(jax.random.PRNGKey(7), n)
    gmm = analytic.gaussian_mixture([1.0], [[MU] * DIM], [STD**2])
    total, terms = ddpm_bound(analytic.exact_denoiser(gmm, s), None, x0, jax.random.PRNGKey(8))
    assert terms.shape == (50, n)
    kl_part = np.asarray(total - terms[0] - prior_kl(s, x0))
    expected = sum(closed_form_kl(s, i) for i in range(2, 51))
    assert abs(kl_part.mean() - expected) < 4 * kl_part.std() / np.sqrt(n)
    bpd = bits_per_dim(total, x0)
    np.testing.assert_allclose(bpd, total / (DIM * np.log(2)))


def test_hybrid_loss_trains_only_the_variance_through_the_bound():
    s = S.DiscreteDDPM()
    x0 = gaussian_data(jax.random.PRNGKey(2), 4)
    x_i = 0.8 * x0 + 0.3
    i = jnp.full((4,), 200)
    v = jnp.full_like(x0, 0.2)
    simple = jnp.ones(4)

    def total(x0_hat, v):
        return jnp.sum(hybrid_loss(simple, s, x0, x_i, i, x0_hat, v))

    g_mean, g_var = jax.grad(total, argnums=(0, 1))(0.9 * x0, v)
    np.testing.assert_allclose(g_mean, 0.0)  # the mean is stopped inside L_vlb
    assert np.all(np.abs(np.asarray(g_var)) > 0)
    term = vlb_term(s, x0, x_i, i, 0.9 * x0, LEARNED, v)
    expected = simple + 1e-3 * 1000 * term / (
        DIM * np.log(2)
    )  # Nichol & Dhariwal: T/1000 x bits/dim
    np.testing.assert_allclose(
        hybrid_loss(simple, s, x0, x_i, i, 0.9 * x0, v), expected, rtol=1e-12
    )


def test_learned_variance_denoiser_in_the_bound_and_the_hybrid_loss():
    """A Denoiser whose network outputs (x0, v): v = -1 gives the fixed-small bound, v = 1 the
    fixed-large one (Nichol & Dhariwal eq. 15), and the hybrid loss runs on it end to end."""
    s = S.DiscreteDDPM(num_timesteps=20, beta_end=0.3)
    gmm = analytic.gaussian_mixture([1.0], [[MU] * DIM], [STD**2])
    exact = analytic.exact_denoiser(gmm, s)
    x0 = gaussian_data(jax.random.PRNGKey(3), 16)
    key = jax.random.PRNGKey(4)
    for v, fixed in ((-1.0, SMALL), (1.0, LARGE)):
        network = lambda p, x, t, c, v=v: jnp.concatenate(
            [exact(p, x, t)[0], jnp.full_like(x, v)], -1
        )
        learned = Denoiser(network, s, X0Prediction(), learned_variance=True)
        got = ddpm_bound(learned, None, x0, key)[0]
        want = ddpm_bound(exact, None, x0, key, variance=fixed)[0]
        np.testing.assert_allclose(got, want, rtol=1e-10)
    out = make_hybrid_loss(learned)(None, {"data": x0}, key)
    assert out.shape == (16,) and np.all(np.isfinite(np.asarray(out)))


@pytest.mark.parametrize("i", [1, 2, 10, 500, 1000])
def test_mean_prediction_is_hos_posterior_mean(i):
    """MeanPrediction's (c_x0, c_xt) at t = i/T are Ho's eq. 7 coefficients (c = (1, 0) at i = 1:
    the decoder mean is x0), and a prediction round-trips through (x0, eps)."""
    s = S.DiscreteDDPM()
    par = MeanPrediction(schedule=s)
    rec = s(jnp.full((3,), i / 1000, jnp.float64))
    post = ddpm_posterior(s, jnp.full((3,), max(i, 2)), jnp.float64)
    want = (post.coef_x0, post.coef_xt) if i > 1 else (np.ones(3), np.zeros(3))
    for got, ref in zip(par.coefficients(rec), want, strict=True):
        np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)
    x0 = gaussian_data(jax.random.PRNGKey(5), 3)
    x = rec.alpha[:, None] * x0 + rec.sigma[:, None] * 0.7
    mu = par.from_x0_eps(x0, (x - rec.alpha[:, None] * x0) / rec.sigma[:, None], x, rec)
    np.testing.assert_allclose(mu, want[0][:, None] * x0 + want[1][:, None] * x, rtol=1e-9)
    np.testing.assert_allclose(par.to_x0_eps(mu, x, rec)[0], x0, rtol=1e-7, atol=1e-9)


def test_mean_prediction_off_the_grid_is_the_gaussian_posterior_mean():
    """On a continuous schedule, one step of `step` back: mu = alpha_s sigma_ts^2/sigma_t^2 x0 +
    alpha_ts sigma_s^2/sigma_t^2 x_t from the forward marginals directly (VDM eq. 7-9)."""
    s, step = S.Cosine(), 0.03
    par = MeanPrediction(schedule=s, step=step)
    t = jnp.array([0.05, 0.4, 0.9], jnp.float64)
    rec, prev = s(t), s(t - step)
    a_ts = rec.alpha / prev.alpha
    s2_ts = rec.sigma**2 - a_ts**2 * prev.sigma**2
    c_x0, c_xt = par.coefficients(rec)
    np.testing.assert_allclose(c_x0, prev.alpha * s2_ts / rec.sigma**2, rtol=1e-9)
    np.testing.assert_allclose(c_xt, a_ts * prev.sigma**2 / rec.sigma**2, rtol=1e-9)
    np.testing.assert_allclose(par.error_scale(rec), c_x0)


def test_mean_prediction_names_what_it_needs():
    with pytest.raises(ValueError, match="needs it"):
        resolve.parameterisation("mean")
    with pytest.raises(ValueError, match="step is needed on Cosine"):
        resolve.parameterisation("mean", schedule=S.Cosine())
    par = resolve.parameterisation("mean", schedule=S.DiscreteDDPM(num_timesteps=50))
    assert par.step == 1 / 50
    with pytest.raises(ValueError, match="denoiser's own schedule"):
        Denoiser(lambda *a: a[1], S.DiscreteDDPM(), par)


def test_vlb_loss_is_the_bound_term_of_its_timestep_in_bits_per_dim():
    """Ho's 'L': at the x_t and i its key draws, the loss is L_{i-1} / (D ln 2) (the KL, or the
    decoder NLL where i = 1), so T E_i[loss] D ln 2 + L_T is the bound `ddpm_bound` evaluates."""
    s = S.DiscreteDDPM(num_timesteps=50, beta_end=0.3)
    exact = analytic.exact_denoiser(analytic.gaussian_mixture([1.0], [[MU] * DIM], [STD**2]), s)
    x0, key = gaussian_data(jax.random.PRNGKey(6), 4000), jax.random.PRNGKey(7)
    loss = make_vlb_loss(exact, variance=SMALL, num_levels=17)(None, {"data": x0}, key)
    ps = Path(schedule=s).draw(key, x0, DiscreteTime(), None, None)
    i = jnp.round(ps.t * 50).astype(jnp.int32)
    assert set(np.unique(np.asarray(i))) == set(range(1, 51))  # uniform over 1..T, i = 1 too
    term = vlb_term(s, x0, ps.x_t, i, exact(None, ps.x_t, ps.t)[0], SMALL, None, 17)
    np.testing.assert_allclose(loss, term / (DIM * np.log(2)), rtol=1e-12)
    # the KL part matches its closed form for Gaussian data (the decoder term aside)
    for j in (2, 10, 50):
        kl = np.asarray(term)[np.asarray(i) == j]
        assert abs(kl.mean() - closed_form_kl(s, j)) < 4 * kl.std() / np.sqrt(len(kl)), j


def test_vlb_loss_trains_mean_and_learned_variance():
    """Unlike the hybrid loss, Ho's L sends its gradient to the mean as well as the variance."""
    s = S.DiscreteDDPM(num_timesteps=20, beta_end=0.3)
    net = lambda p, x, t, c: jnp.concatenate([p["m"] * x, jnp.full_like(x, p["v"])], -1)
    den = Denoiser(net, s, MeanPrediction(schedule=s), learned_variance=True)
    x0 = gaussian_data(jax.random.PRNGKey(9), 64)
    total = lambda p: jnp.mean(make_vlb_loss(den)(p, {"data": x0}, jax.random.PRNGKey(1)))
    grads = jax.grad(total)({"m": jnp.asarray(0.9), "v": jnp.asarray(0.1)})
    assert abs(float(grads["m"])) > 0 and abs(float(grads["v"])) > 0
    with pytest.raises(ValueError, match="learned_variance=True"):
        make_vlb_loss(dataclasses.replace(den, learned_variance=False), variance=LEARNED)


def test_the_bound_term_has_finite_gradients_far_from_the_data():
    """The decoder branch is computed for every i (then discarded where i > 1): a far-off mean
    there, or a decoder mean far off its bins, must not give a NaN gradient (a mu~ network at init)."""
    s = S.DiscreteDDPM(num_timesteps=50)
    x0 = gaussian_data(jax.random.PRNGKey(10), 4).astype(jnp.float32)
    i = jnp.array([1, 2, 30, 50])

    def total(x0_hat):
        return jnp.sum(vlb_term(s, x0, 0.5 * x0, i, x0_hat, LARGE, None, 17))

    grad = jax.grad(total)(jnp.full_like(x0, 300.0))
    assert np.all(np.isfinite(np.asarray(grad)))
    # every term pulls the mean back down, but the top bin (x0 > 1 - 1/16) which it already covers
    inner = np.asarray(x0 < 1 - 1 / 16) | (np.arange(4) > 0)[:, None]
    assert np.all(np.asarray(grad)[inner] > 0) and np.all(np.asarray(grad)[~inner] == 0)


def test_ddpm_samples_with_the_models_learned_variance():
    """DDPM(variance=LEARNED_RANGE) reads the model's v: v = -1 draws exactly the beta~ chain and
    v = 1 the beta chain (same key, same grid, a respaced one too); v = 0 their geometric mean
    (one step's spread); a model without a variance is refused by name."""
    from diffjax.samplers import DDPM, prior_sample, sample, time_grid

    s = S.DiscreteDDPM(num_timesteps=100)
    exact = analytic.exact_denoiser(analytic.gaussian_mixture([1.0], [[MU] * DIM], [STD**2]), s)
    x = prior_sample(jax.random.PRNGKey(11), (256, DIM), s, dtype=jnp.float64)
    key = jax.random.PRNGKey(12)

    def learned(v):
        net = lambda p, xx, t, c: jnp.concatenate([exact(p, xx, t)[0], jnp.full_like(xx, v)], -1)
        return Denoiser(net, s, X0Prediction(), learned_variance=True)

    for steps in (100, 10):
        grid = time_grid(s, steps)
        for v, fixed in ((-1.0, SMALL), (1.0, LARGE)):
            got = sample(learned(v), x, grid, DDPM(variance=LEARNED), key=key).samples
            want = sample(exact, x, grid, DDPM(variance=fixed), key=key).samples
            np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    # one step, one draw z: x = m + sqrt(var) z, so (mid - small)/(large - small) =
    # ((beta~ beta)^(1/4) - beta~^(1/2))/(beta^(1/2) - beta~^(1/2)) = 1/(1 + (sigma_t/sigma_s)^(1/2))
    grid = jnp.array([0.5, 0.4])
    run = lambda den, var: sample(den, x, grid, DDPM(variance=var), key=key).samples
    small, large, mid = run(exact, SMALL), run(exact, LARGE), run(learned(0.0), LEARNED)
    ratio = 1.0 / (1.0 + jnp.sqrt(s(0.5).sigma / s(0.4).sigma))
    np.testing.assert_allclose((mid - small) / (large - small), ratio, rtol=1e-8)
    with pytest.raises(ValueError, match="needs a Denoiser with learned_variance=True"):
        sample(exact, x, time_grid(s, 10), DDPM(variance=LEARNED), key=key)


def test_the_decoder_at_step_k_is_the_discretised_gaussian_around_x0_hat_of_x_k():
    """Against scipy: x_k = alpha_k x0 + sigma_k eps from the same key, P(bin of x0) under
    N(x0_hat(x_k), sigma_k^2) on 17 levels."""
    s, k, levels = S.DiscreteDDPM(), 7, 17
    bins = np.arange(levels) / (levels - 1) * 2 - 1
    x0 = jnp.asarray(np.random.default_rng(0).choice(bins, (5, 4)))
    gmm = analytic.gaussian_mixture([0.5, 0.5], [[-0.5] * 4, [0.5] * 4], [0.1, 0.1])
    den = analytic.exact_denoiser(gmm, s)
    key = jax.random.PRNGKey(3)
    got = decoder_nll(den, None, x0, k, key, num_levels=levels)
    rec = s(jnp.asarray(k / 1000.0))
    x_k = rec.alpha * x0 + rec.sigma * jax.random.normal(key, x0.shape, x0.dtype)
    mean = np.asarray(analytic.posterior_mean(gmm, x_k, s(jnp.full((5,), k / 1000.0))))
    norm = scipy.stats.norm(mean, float(rec.sigma))
    half = 1 / (levels - 1)
    upper = np.where(np.asarray(x0) > 1 - half, np.inf, np.asarray(x0) + half)
    lower = np.where(np.asarray(x0) < -1 + half, -np.inf, np.asarray(x0) - half)
    ref = -np.log(norm.cdf(upper) - norm.cdf(lower)).sum(axis=1)
    np.testing.assert_allclose(got, ref, rtol=1e-8)
    with pytest.raises(ValueError, match="step=0: need 1 <= step <= T = 1000"):
        decoder_nll(den, None, x0, 0, key, num_levels=levels)


def test_the_chain_stopped_at_any_step_bounds_two_point_data():
    """Data +-1 with probability 1/2 each (2 levels: entropy log 2 nats), its exact denoiser: the
    bound of the chain stopped at k is >= log 2 at every k (within Monte-Carlo error), and at
    k = T (no reverse steps, a decoder of x_T ~ N(0, 1)) it is log 2. At k = 1 with L_0 as the
    decoder it is ddpm_bound's total, term for term."""
    s, n = S.DiscreteDDPM(), 4000
    gmm = analytic.gaussian_mixture([0.5, 0.5], [[-1.0], [1.0]], [1e-8, 1e-8])
    den = analytic.exact_denoiser(gmm, s)
    x0 = jnp.where(jax.random.bernoulli(jax.random.PRNGKey(0), 0.5, (n, 1)), 1.0, -1.0)
    total, terms = ddpm_bound(den, None, x0, jax.random.PRNGKey(1), num_levels=2)
    prior = prior_kl(s, x0)
    np.testing.assert_allclose(truncated_bound(terms, prior, terms[0], 1), total, rtol=1e-12)
    for k in (1, 10, 100, 300, 600, 1000):
        decoder = decoder_nll(den, None, x0, k, jax.random.PRNGKey(2), num_levels=2)
        bound = np.asarray(truncated_bound(terms, prior, decoder, k))
        assert bound.mean() >= np.log(2) - 4 * bound.std() / np.sqrt(n), k
    assert abs(bound.mean() - np.log(2)) < 1e-3  # k = T
