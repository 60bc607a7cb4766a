"""Bad input gives a clear error naming the argument and the allowed values, before any work.

One test per component family: an unknown name (through `diffjax.resolve`, the only place
strings are read), an unknown option, a bad option value, and a missing PRNG key, each failing
at construction or at the entry of `sample` / a loss factory, before anything is traced.
"""

import jax
import jax.numpy as jnp
import pytest

from diffjax import Denoiser, analytic, resolve
from diffjax import losses as L
from diffjax import samplers as SA
from diffjax import schedules as S
from diffjax.models import DDPMIndexInput

TRACES = []


def traced_identity(params, x, noise, cond):
    TRACES.append(1)  # runs only when a network is traced or called
    return x


@pytest.fixture(autouse=True)
def no_traces():
    TRACES.clear()
    yield
    assert not TRACES, "a network was evaluated before the error"


def test_schedule_family():
    with pytest.raises(ValueError, match=r"schedule='vpp' is not one of .*'vp'.*did you mean 'vp'"):
        resolve.schedule("vpp")
    with pytest.raises(TypeError, match=r"schedule 've' got unknown options \['beta_max'\]"):
        resolve.schedule("ve(beta_max=3.0)")
    with pytest.raises(ValueError, match="schedule 've': sigma_min must be > 0"):
        resolve.schedule({"name": "ve", "sigma_min": -1.0})
    with pytest.raises(
        ValueError, match=r"schedule 'ddpm': beta_schedule='quadratic' is not one of \['linear'"
    ):
        resolve.schedule("ddpm(beta_schedule=quadratic)")
    with pytest.raises(TypeError, match="beta_schedule must be a BetaSchedule; got 'cosine'"):
        S.DiscreteDDPM(beta_schedule="cosine")
    assert resolve.schedule("ddpm(num_timesteps=50)") == S.DiscreteDDPM(num_timesteps=50)


def test_parameterisation_and_denoiser_family():
    with pytest.raises(ValueError, match=r"parameterisation='epsilon' is not one of 'eps'"):
        resolve.parameterisation("epsilon")
    with pytest.raises(
        TypeError, match=r"unknown options \['sd'\]; allowed: scale_input, sigma_data"
    ):
        resolve.parameterisation("edm(sd=0.5)")
    with pytest.raises(ValueError, match="parameterisation 'edm': sigma_data must be > 0"):
        resolve.parameterisation("edm(sigma_data=0.0)")
    with pytest.raises(
        TypeError, match="parameterisation must be a Parameterisation; got 'eps'.*resolve"
    ):
        Denoiser(traced_identity, S.VPLinear(), "eps")
    with pytest.raises(ValueError, match="DDPMIndexInput.. needs a DiscreteDDPM schedule"):
        Denoiser(traced_identity, S.VPLinear(), noise_conditioning=DDPMIndexInput())
    with pytest.raises(ValueError, match="noise_conditioning='sigma' is not one of 't'"):
        resolve.noise_conditioning("sigma")
    with pytest.raises(ValueError, match="noise_conditioning 'scaled_t': scale must be > 0"):
        resolve.noise_conditioning("scaled_t(scale=0.0)")


def test_weighting_and_time_sampling_family():
    den = Denoiser(traced_identity, S.VPLinear())
    with pytest.raises(ValueError, match="weighting='p2' is not one of"):
        resolve.weighting("p2")
    with pytest.raises(
        TypeError, match=r"weighting 'min_snr' got unknown options \['min_snr_gamma'\]"
    ):
        resolve.weighting("min_snr(min_snr_gamma=5.0)")
    with pytest.raises(ValueError, match="weighting 'min_snr': gamma must be > 0"):
        resolve.weighting("min_snr(gamma=-5.0)")
    with pytest.raises(ValueError, match="time_sampling='sobol' is not one of"):
        resolve.time_sampling("sobol")
    with pytest.raises(ValueError, match="time_sampling 'logit_normal': std must be > 0"):
        resolve.time_sampling("logit_normal(std=0.0)")
    with pytest.raises(ValueError, match="DiscreteTime.. needs a DiscreteDDPM schedule"):
        L.denoising_loss(den, time_sampling=L.DiscreteTime())
    with pytest.raises(TypeError, match="weighting must be a Weighting; got 'simple'"):
        L.denoising_loss(den, weighting="simple")


def test_coupling_bridge_and_path_family():
    rf = S.RectifiedFlow()
    den = Denoiser(traced_identity, rf)
    with pytest.raises(ValueError, match="coupling='ot' is not one of 'independent'.*'exact_ot'"):
        resolve.coupling("ot")
    with pytest.raises(
        ValueError, match=r"coupling 'exact_ot': solver='lapjv' is not one of \['pot', 'scipy'\]"
    ):
        resolve.coupling("exact_ot(solver=lapjv)")
    with pytest.raises(TypeError, match="coupling 'sinkhorn'.*epsilon"):
        resolve.coupling("sinkhorn")
    with pytest.raises(ValueError, match="coupling 'sinkhorn': epsilon must be > 0"):
        resolve.coupling("sinkhorn(epsilon=-1.0)")
    with pytest.raises(ValueError, match="bridge 'brownian': sigma must be > 0"):
        resolve.bridge("brownian(sigma=0.0)")
    with pytest.raises(ValueError, match="path='cfm' is not one of 'icfm'"):
        resolve.path("cfm")
    with pytest.raises(ValueError, match="path.schedule must be the denoiser's schedule"):
        L.flow_matching_loss(den, L.presets.lipman_fm())
    with pytest.raises(ValueError, match="denoising_loss needs a path without bridge noise"):
        L.denoising_loss(den, path=L.presets.icfm())
    with pytest.raises(ValueError, match="sf2m_loss needs a BrownianBridge path"):
        L.sf2m_loss(den, den, L.presets.icfm())


def test_sampler_and_grid_family():
    den = Denoiser(traced_identity, S.VPLinear())
    x = jnp.zeros((2, 2))
    with pytest.raises(ValueError, match="sampler='plms' is not one of 'euler'.*"):
        resolve.sampler("plms")
    with pytest.raises(
        TypeError, match=r"sampler 'heun' got unknown options \['churn'\]; allowed: s_churn"
    ):
        resolve.sampler("heun(churn=1.0)")
    with pytest.raises(
        ValueError, match=r"sampler 'unipc': order must be one of \(1, 2, 3\); got 0"
    ):
        resolve.sampler("unipc(order=0)")
    with pytest.raises(ValueError, match="sampler 'ddim': eta must lie in"):
        resolve.sampler("ddim(eta=1.5)")
    with pytest.raises(ValueError, match="s_churn must be >= 0"):
        SA.Heun(s_churn=-1.0)
    with pytest.raises(ValueError, match=r"sampler 'ddpm': variance='beta_hat' is not one of"):
        resolve.sampler("ddpm(variance=beta_hat)")
    with pytest.raises(TypeError, match="sampler must be a Sampler; got 'ddim'"):
        SA.sample(den, x, [1.0, 0.0], "ddim")
    for stochastic in (SA.DDPM(), SA.DDIM(eta=0.5), SA.Heun(s_churn=1.0), SA.EulerMaruyama()):
        with pytest.raises(ValueError, match="is stochastic: pass key="):
            SA.sample(den, x, [1.0, 0.0], stochastic)
    with pytest.raises(ValueError, match="must decrease strictly"):
        SA.sample(den, x, [0.0, 1.0], SA.DDIM())
    with pytest.raises(ValueError, match="Restart's base must be a deterministic one-step"):
        resolve.sampler("restart(base=dpmpp_2m)")
    with pytest.raises(ValueError, match="need sigma_hi > sigma_lo"):
        SA.Restart(sigma_lo=1.0, sigma_hi=0.5)
    with pytest.raises(ValueError, match=r"sigma_hi=500.0 is above the schedule's largest"):
        SA.sample(den, x, [1.0, 0.0], SA.Restart(sigma_hi=500.0), key=jax.random.PRNGKey(0))
    with pytest.raises(TypeError, match="denoiser must carry its schedule"):
        SA.sample(lambda p, x, t, c: (x, x), x, [1.0, 0.0], SA.DDIM())
    with pytest.raises(ValueError, match="grid='cosine' is not one of"):
        resolve.grid("cosine")
    with pytest.raises(ValueError, match="num_steps must be >= 1; got 0"):
        SA.time_grid(S.VPLinear(), 0)
    with pytest.raises(ValueError, match="Hutchinson.*pass key="):
        SA.log_likelihood(den, x, divergence=SA.Hutchinson())


def test_spec_parsing_errors():
    with pytest.raises(ValueError, match="options must be given as key=value"):
        resolve.sampler("ddim(0.5)")
    with pytest.raises(ValueError, match="needs a 'name'"):
        resolve.sampler({"eta": 0.5})
    assert resolve.sampler("ddim(eta=0.5)") == SA.DDIM(eta=0.5)
    assert resolve.sampler(SA.UniPC(order=3)) == SA.UniPC(order=3)  # objects pass through
    assert resolve.sampler("ddpm(variance=beta)").variance is S.ReverseVariance.FIXED_LARGE


def test_time_outside_unit_interval():
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\].*1.5"):
        S.EDM()(jnp.asarray([0.5, 1.5]))
    den = Denoiser(traced_identity, S.VPLinear())
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        den(None, jnp.zeros((2, 3)), jnp.asarray([-0.1, 0.2]))
    with pytest.raises(ValueError, match="t must lie"):
        S.VPLinear()(jnp.nan)


def test_shape_mismatches():
    den = Denoiser(traced_identity, S.RectifiedFlow())
    with pytest.raises(ValueError, match=r"t must be a scalar or have shape \(batch,\) = \(2,\)"):
        den(None, jnp.zeros((2, 3)), jnp.zeros((3,)) + 0.5)
    loss = L.flow_matching_loss(den, L.presets.icfm())
    with pytest.raises(ValueError, match="x_data and x_source must have the same shape"):
        loss(None, {"data": jnp.zeros((4, 2)), "source": jnp.zeros((4, 3))}, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="equal batch sizes"):
        L.exact_ot_assignment(jnp.zeros((4, 2)), jnp.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"weights must be \(K,\)"):
        analytic.gaussian_mixture([1.0, 2.0], [[0.0, 0.0]], [1.0])


def test_non_monotone_custom_schedules():
    with pytest.raises(ValueError, match="logsnrs must be finite and strictly decreasing"):
        S.InterpolatedLogSNR(times=(0.0, 0.5, 1.0), logsnrs=(0.0, 1.0, -5.0))
    with pytest.raises(ValueError, match="times must increase strictly from 0 to 1"):
        S.InterpolatedLogSNR(times=(0.0, 0.7, 0.5), logsnrs=(3.0, 1.0, -5.0))

    class Backwards(S.Schedule):  # noise at t = 0: the other convention
        def alpha_sigma(self, t):
            return t, 1.0 - t

    with pytest.raises(ValueError, match="Backwards: log-SNR must be strictly decreasing"):
        Backwards(t_min=0.01, t_max=0.99)
    with pytest.raises(ValueError, match="need 0 <= t_min < t_max <= 1"):
        S.RectifiedFlow(t_min=0.5, t_max=0.2)
    with pytest.raises(ValueError, match="base must be variance preserving"):
        S.ZeroTerminalSNR(base=S.VE())
