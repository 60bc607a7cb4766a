"""Grids from other libraries: noise levels in, the same noise levels out, and the samplers agree."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffjax import analytic, resolve
from diffjax import samplers as SA
from diffjax import schedules as S
from diffjax.samplers import prior_sample, sample, time_grid

SCHEDULES = {
    "ddpm": S.DiscreteDDPM(),
    "vp": S.VPLinear(),
    "cosine": S.Cosine(),
    "edm": S.EDM(),
    "rf": S.RectifiedFlow(),
}
PEER_SIGMAS = pathlib.Path(__file__).parent / "data" / "peer_sigmas.json"


def ve_sigma(schedule, t):
    with jax.enable_x64(True):
        rec = schedule(jnp.asarray(t, jnp.float64))
        return np.asarray(rec.sigma / rec.alpha)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_times_from_sigmas_reproduces_the_noise_levels(name):
    sched = SCHEDULES[name]
    lo, hi = ve_sigma(sched, [sched.t_min, min(1.0, sched.t_max)])
    sigmas = np.append(np.geomspace(hi, lo, 17), 0.0)
    t = SA.times_from_sigmas(sched, sigmas)
    assert t[-1] == 0.0 and np.all(np.diff(t) < 0)
    np.testing.assert_allclose(ve_sigma(sched, t), sigmas, rtol=1e-10, atol=0)
    ac = 1.0 / (1.0 + sigmas**2)  # alphas_cumprod of the same levels (1 = the data)
    t_ac = SA.times_from_alphas_cumprod(sched, ac)  # 1 - ac cancels: 1e-16 / sigma^2 relative
    np.testing.assert_allclose(ve_sigma(sched, t_ac), sigmas, rtol=1e-16 / lo**2 + 1e-10, atol=0)


def test_times_from_sigmas_refuses_what_the_schedule_cannot_express():
    with pytest.raises(ValueError, match=r"VE has sigma\(0\) = 0.01 > 0"):
        SA.times_from_sigmas(S.VE(), [10.0, 1.0, 0.0])
    with pytest.raises(ValueError, match=r"range \[0, 80\]"):
        SA.times_from_sigmas(S.EDM(), [120.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="decrease strictly"):
        SA.times_from_sigmas(S.EDM(), [1.0, 2.0, 0.0])
    with pytest.raises(ValueError, match="alphas_cumprod"):
        SA.times_from_alphas_cumprod(S.DiscreteDDPM(), [0.5, 0.0])
    with pytest.raises(ValueError, match="t_end = 0"):
        time_grid(S.EDM(), 5, SA.KDiffusionGrid(), t_end=0.5)
    # 80 * (1 + 1e-6) from a float32 table maps to t = 1
    assert SA.times_from_sigmas(S.EDM(), [80.0 * (1 + 1e-6), 0.0])[0] == 1.0


def test_edm_karras_grid_is_k_diffusion_s_and_the_uniform_one_in_t():
    """EDM(): sigma = 80 t^7 from t_min; the rho-grid is uniform in t, then the data."""
    edm = S.EDM()
    assert float(edm(0.0).sigma) == 0.0 and np.isclose(float(edm(edm.t_min).sigma), 0.002)
    n = 18
    kd = SA.k_diffusion_sigmas(SA.KDiffusionSpacing.KARRAS, n, 0.002, 80.0)
    karras = time_grid(edm, n, SA.KarrasGrid())
    np.testing.assert_allclose(ve_sigma(edm, karras), kd, rtol=1e-12, atol=0)
    np.testing.assert_allclose(karras[:-1], np.linspace(1.0, edm.t_min, n), rtol=1e-12)
    np.testing.assert_allclose(karras, time_grid(edm, n, resolve.grid("k_karras")), rtol=1e-14)
    # the spacings of one record agree with the grid kinds diffjax already had
    ddpm = SCHEDULES["ddpm"]
    expo = time_grid(ddpm, 12, SA.KDiffusionGrid(spacing=SA.KDiffusionSpacing.EXPONENTIAL))
    logsnr = time_grid(ddpm, 12, SA.LogSNRGrid())
    np.testing.assert_allclose(expo, logsnr, rtol=1e-9)


@pytest.mark.skipif(not PEER_SIGMAS.exists(), reason="tests/data/peer_sigmas.json not generated")
def test_k_diffusion_and_diffusers_noise_levels_exactly():
    """Against the arrays k-diffusion and diffusers printed (benchmarks/peer_grids.py)."""
    ref = json.loads(PEER_SIGMAS.read_text())
    for case in ref["k_diffusion"]:
        ours = SA.k_diffusion_sigmas(
            SA.KDiffusionSpacing(case["spacing"]), case["n"], **case["options"]
        )
        np.testing.assert_allclose(ours, case["sigmas"], rtol=3e-7, atol=0, err_msg=str(case))
    ddpm = S.DiscreteDDPM()
    for case in ref["diffusers"]:
        grid = SA.DDPMTimestepGrid(
            spacing=SA.Spacing(case["spacing"]), steps_offset=case["steps_offset"]
        )
        t = time_grid(ddpm, case["n"], grid)
        np.testing.assert_array_equal(np.round(t[:-1] * 1000).astype(int) - 1, case["timesteps"])
        ac = np.exp(np.asarray(ddpm.log_alpha_bar(jnp.asarray(t[:-1], jnp.float64))))
        np.testing.assert_allclose(ac, case["alphas_cumprod"], rtol=1e-6, err_msg=str(case))


GMM = analytic.gaussian_mixture([0.3, 0.7], [[-1.5, 0.0], [1.5, 0.5]], [0.2, 0.3])


def test_a_grid_from_peer_sigmas_ends_at_the_answer_on_a_discrete_ddpm():
    """The DDPM table's sigmas then 0 (k-diffusion's form): 2M takes its final step to x0."""
    ddpm = S.DiscreteDDPM()
    den = analytic.exact_denoiser(GMM, ddpm)
    x = prior_sample(jax.random.PRNGKey(0), (64, 2), ddpm, dtype=jnp.float64)
    native = time_grid(ddpm, 20, SA.DDPMTimestepGrid())
    from_sigmas = SA.times_from_sigmas(ddpm, np.append(ve_sigma(ddpm, native[:-1]), 0.0))
    np.testing.assert_allclose(from_sigmas, native, rtol=1e-12, atol=0)
    a = sample(den, x, native, SA.DPMSolverPP(order=2)).samples
    b = sample(den, x, from_sigmas, SA.DPMSolverPP(order=2)).samples
    np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_ddpm_timestep_grids_to_t_min_and_with_an_offset():
    ddpm = S.DiscreteDDPM()
    for spacing in ("leading", "linspace", "trailing"):
        g = time_grid(ddpm, 10, resolve.grid(spacing), t_end=ddpm.t_min)
        assert g[-1] == ddpm.t_min and np.all(np.diff(g) < 0)  # no repeated t_min
        SA.explicit_grid(g, ddpm)  # sample accepts it
    leading = time_grid(ddpm, 10, resolve.grid("leading(steps_offset=1)"))
    np.testing.assert_array_equal(np.round(leading[:-1] * 1000), np.arange(9, -1, -1) * 100 + 2)
    with pytest.raises(ValueError, match="steps_offset"):
        time_grid(ddpm, 10, SA.DDPMTimestepGrid(spacing=SA.Spacing.TRAILING, steps_offset=-1))


def test_a_grid_stopped_at_k_visits_every_timestep_down_to_k_and_decodes_the_mean_there():
    """trailing(stop=k) with T - k + 1 steps: T, T-1, ..., k, then 0; DDPM's last step (to
    sigma = 0) returns x0_hat(x_k) exactly, with either reverse variance; stop = 1 is the grid."""
    ddpm = S.DiscreteDDPM(num_timesteps=50)
    g = time_grid(ddpm, 50 - 8 + 1, resolve.grid("trailing(stop=8)"))
    np.testing.assert_array_equal(np.round(g * 50), [*range(50, 7, -1), 0])
    for spacing in ("leading", "linspace", "trailing"):
        plain = time_grid(ddpm, 7, resolve.grid(spacing))
        np.testing.assert_array_equal(time_grid(ddpm, 7, resolve.grid(f"{spacing}(stop=1)")), plain)
        stopped = time_grid(ddpm, 7, resolve.grid(f"{spacing}(stop=8)"))
        assert np.round(stopped[-2] * 50) >= 8 and stopped[-1] == 0 and np.all(np.diff(stopped) < 0)
    with pytest.raises(ValueError, match=r"stop=45: the 6 timesteps 45..50 cannot hold 7 steps"):
        time_grid(ddpm, 7, resolve.grid("trailing(stop=45)"))
    den = analytic.exact_denoiser(GMM, ddpm)
    x = prior_sample(jax.random.PRNGKey(0), (64, 2), ddpm, dtype=jnp.float64)
    for variance in ("beta", "beta_tilde"):
        sampler = resolve.sampler(f"ddpm(variance={variance!r})")
        out = sample(den, x, g, sampler, key=jax.random.PRNGKey(1), return_trajectory=True)
        x_k = out.trajectory[-2]
        x0_hat = den(None, x_k, jnp.asarray(g[-2]), None)[0]
        np.testing.assert_allclose(out.samples, x0_hat, rtol=1e-12, atol=1e-12)  # float64
        assert np.abs(out.samples - x_k).max() > 1e-3  # x_k itself is not the answer


def test_clip_x0_keeps_or_recomputes_eps():
    sched = S.VPLinear()
    den = analytic.exact_denoiser(GMM, sched)
    x = jnp.asarray([[8.0, -9.0], [0.1, 0.2]], jnp.float64)
    x0, eps = den(None, x, 0.6, None)
    kept = SA.ClipX0(den, 1.0, keep_eps=True)(None, x, 0.6, None)
    redone = SA.ClipX0(den, 1.0)(None, x, 0.6, None)
    np.testing.assert_allclose(kept[0], jnp.clip(x0, -1, 1))
    np.testing.assert_allclose(kept[1], eps)
    rec = sched(0.6)
    np.testing.assert_allclose(rec.alpha * redone[0] + rec.sigma * redone[1], x, atol=1e-12)
    assert not np.allclose(redone[1], eps)


def test_euler_sigma_is_ddim():
    assert resolve.sampler("euler_sigma") == SA.DDIM()


def test_edm_stochastic_sampler_with_the_paper_settings_has_the_right_law():
    """Heun with S_churn 40, S_tmin 0.05, S_tmax 50, S_noise 1.003 on EDM(): finite, and within
    the two-sample noise of exact draws (the NaN where gamma = 0 is gone). At 32 steps churn
    still inflates the variance 15%; at 128 it is within the noise."""
    edm = S.EDM()
    den = analytic.exact_denoiser(GMM, edm)
    n = 3000
    x = prior_sample(jax.random.PRNGKey(1), (n, 2), edm, dtype=jnp.float64)
    heun = resolve.sampler("heun(s_churn=40.0, s_tmin=0.05, s_tmax=50.0, s_noise=1.003)")
    out = np.asarray(
        sample(
            den, x, time_grid(edm, 128, SA.KarrasGrid()), heun, key=jax.random.PRNGKey(2)
        ).samples
    )
    assert np.all(np.isfinite(out))
    exact = np.asarray(analytic.sample(GMM, jax.random.PRNGKey(3), n)[0])
    np.testing.assert_allclose(out.mean(0), exact.mean(0), atol=4 * 1.6 / np.sqrt(n))
    np.testing.assert_allclose(np.cov(out.T), np.cov(exact.T), atol=0.1)
    assert abs(np.mean(out[:, 0] > 0) - 0.7) < 4 * np.sqrt(0.21 / n)
    d = lambda u, v: np.mean(np.sqrt(((u[:, None] - v[None]) ** 2).sum(-1) + 1e-12))
    a, b = out[:1500], exact[:1500]
    assert 2 * d(a, b) - d(a, a) - d(b, b) < 0.01
