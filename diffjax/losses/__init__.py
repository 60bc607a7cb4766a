"""Training losses: denoising score matching, the DDPM bound, conditional flow matching."""

from diffjax.losses.denoising import make_denoising_loss, weighted_denoising_error
from diffjax.losses.flow_matching import (
    BRIDGE_NOISES,
    FLOW_MATCHING_METHODS,
    FlowMatchingSetup,
    bridge_noise,
    conditional_flow,
    flow_matching_setup,
    make_flow_matching_loss,
    make_sf2m_loss,
)
from diffjax.losses.time_sampling import TIME_SAMPLINGS, sample_time
from diffjax.losses.vlb import (
    VARIANCES,
    bits_per_dim,
    ddpm_posterior,
    ddpm_vlb,
    discretized_gaussian_log_likelihood,
    gaussian_kl,
    hybrid_loss,
    prior_kl,
    vlb_term,
)
from diffjax.losses.weighting import WEIGHTINGS, dlogsnr_dt, loss_weight, snr

__all__ = [
    "BRIDGE_NOISES",
    "FLOW_MATCHING_METHODS",
    "TIME_SAMPLINGS",
    "VARIANCES",
    "WEIGHTINGS",
    "FlowMatchingSetup",
    "bits_per_dim",
    "bridge_noise",
    "conditional_flow",
    "ddpm_posterior",
    "ddpm_vlb",
    "discretized_gaussian_log_likelihood",
    "dlogsnr_dt",
    "flow_matching_setup",
    "gaussian_kl",
    "hybrid_loss",
    "loss_weight",
    "make_denoising_loss",
    "make_flow_matching_loss",
    "make_sf2m_loss",
    "prior_kl",
    "sample_time",
    "snr",
    "vlb_term",
    "weighted_denoising_error",
]
