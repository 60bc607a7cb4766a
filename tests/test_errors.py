"""Bad input gives a clear error naming the argument and the allowed values."""

import jax.numpy as jnp
import pytest

from diffjax import Denoiser, analytic, get_schedule
from diffjax import schedules as S
from diffjax.couplings import couple, exact_ot_assignment
from diffjax.losses import make_denoising_loss, make_flow_matching_loss, sample_time
from diffjax.parameterisations import to_x0_eps

identity = lambda p, x, t, c: x


def test_unknown_schedule_name_lists_choices():
    with pytest.raises(ValueError, match=r"schedule='vpp' is not one of .*'vp'.*'edm'"):
        get_schedule("vpp")
    with pytest.raises(TypeError, match="schedule 've'.*beta_max"):
        get_schedule("ve", beta_max=3.0)


def test_unknown_parameterisation_lists_choices():
    with pytest.raises(ValueError, match=r"parameterisation='epsilon' is not one of 'eps'"):
        Denoiser(identity, S.VPLinear(), "epsilon")
    rec = S.VPLinear()(0.5)
    with pytest.raises(ValueError, match="parameterisation='noise'"):
        to_x0_eps(jnp.zeros(2), jnp.zeros(2), rec, "noise")


def test_time_outside_unit_interval():
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\].*1.5"):
        S.EDM()(jnp.asarray([0.5, 1.5]))
    den = Denoiser(identity, S.VPLinear())
    with pytest.raises(ValueError, match=r"t must lie in \[0, 1\]"):
        den(None, jnp.zeros((2, 3)), jnp.asarray([-0.1, 0.2]))
    with pytest.raises(ValueError, match="t must lie"):
        S.VPLinear()(jnp.nan)


def test_shape_mismatches():
    den = Denoiser(identity, S.VPLinear())
    with pytest.raises(ValueError, match=r"t must be a scalar or have shape \(batch,\) = \(2,\)"):
        den(None, jnp.zeros((2, 3)), jnp.zeros((3,)) + 0.5)
    with pytest.raises(ValueError, match="x_data and x_source must have the same shape"):
        make_flow_matching_loss(identity)(None, jnp.zeros((4, 2)), jnp.zeros((4, 3)), None)
    with pytest.raises(ValueError, match="equal batch sizes"):
        exact_ot_assignment(jnp.zeros((4, 2)), jnp.zeros((5, 2)))
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


def test_bad_options_list_choices():
    with pytest.raises(ValueError, match="beta_schedule='quadratic' is not one of 'linear'"):
        S.DiscreteDDPM(beta_schedule="quadratic")
    den = Denoiser(identity, S.VPLinear())
    with pytest.raises(ValueError, match="weighting='p2' is not one of"):
        make_denoising_loss(den, weighting="p2")
    with pytest.raises(ValueError, match="time_sampling='sobol' is not one of"):
        make_denoising_loss(den, time_sampling="sobol")
    with pytest.raises(TypeError, match=r"unknown loss hyperparameters \['gamma'\]"):
        make_denoising_loss(den, weighting="min_snr", gamma=5.0)
    with pytest.raises(ValueError, match="time_sampling='discrete' needs a DiscreteDDPM"):
        sample_time(None, 4, S.VPLinear(), "discrete")
    with pytest.raises(ValueError, match="coupling='ot' is not one of"):
        couple(None, jnp.zeros((2, 2)), jnp.zeros((2, 2)), "ot")
    with pytest.raises(ValueError, match="method='cfm' is not one of 'icfm'"):
        make_flow_matching_loss(identity, "cfm")
    with pytest.raises(ValueError, match="noise_conditioning='ddpm_index' needs a DiscreteDDPM"):
        Denoiser(identity, S.VPLinear(), noise_conditioning="ddpm_index")(
            None, jnp.zeros((1, 2)), 0.5
        )
    with pytest.raises(ValueError, match="input_scaling='karras' is not one of"):
        Denoiser(identity, S.EDM(), "edm", input_scaling="karras")
