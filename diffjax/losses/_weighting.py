"""Loss weightings, each written as the weight on ||x0_hat - x0||^2 (EDM's convention).

A weight w_x0 equals w_eps / SNR on ||eps_hat - eps||^2; `denoising_loss` moves it to whatever
space the network predicts in. Each weighting is a frozen record called on the schedule record
at t; it returns the shape of the record's fields. Kingma & Gao (2023) write every one of them
as a weighting of the ELBO over log-SNR; `elbo_weight` gives that view.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance, check_positive
from diffjax.parameterisations import Parameterisation
from diffjax.schedules import ScheduleRecord

Array = jax.Array


def snr(rec: ScheduleRecord) -> Array:
    """alpha^2 / sigma^2."""
    return (rec.alpha / rec.sigma) ** 2


def dlogsnr_dt(rec: ScheduleRecord) -> Array:
    """d lambda/dt = 2 (alpha'/alpha - sigma'/sigma) (negative)."""
    return 2.0 * (rec.d_alpha / rec.alpha - rec.d_sigma / rec.sigma)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Weighting:
    """The weight w_x0(t) on the x0 squared error at the record of t."""

    def __call__(self, rec: ScheduleRecord) -> Array:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, kw_only=True)
class SNRWeighting(Weighting):
    """SNR: Ho et al. (2020)'s unweighted eps MSE, L_simple ('SNR weighting', Salimans & Ho)."""

    def __call__(self, rec):
        return snr(rec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConstantWeighting(Weighting):
    """1: the unweighted x0 MSE."""

    def __call__(self, rec):
        return jnp.ones_like(snr(rec))


@dataclasses.dataclass(frozen=True, kw_only=True)
class SNRPlusOneWeighting(Weighting):
    """SNR + 1: the v MSE for VP schedules (Salimans & Ho 2022)."""

    def __call__(self, rec):
        return snr(rec) + 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class TruncatedSNRWeighting(Weighting):
    """max(SNR, 1) (Salimans & Ho 2022)."""

    def __call__(self, rec):
        return jnp.maximum(snr(rec), 1.0)


@dataclasses.dataclass(frozen=True, kw_only=True)
class MinSNRWeighting(Weighting):
    """min(SNR, gamma) (Hang et al. 2023, Min-SNR-gamma; gamma = 5 in the paper)."""

    gamma: float = 5.0

    def __post_init__(self):
        check_positive("gamma", self.gamma)

    def __call__(self, rec):
        return jnp.minimum(snr(rec), self.gamma)


@dataclasses.dataclass(frozen=True, kw_only=True)
class EDMWeighting(Weighting):
    """(s^2 + sd^2)/(s sd)^2 with s = sigma/alpha (Karras et al. 2022, Table 1): unit loss weight
    on EDM's F target."""

    sigma_data: float = 0.5

    def __post_init__(self):
        check_positive("sigma_data", self.sigma_data)

    def __call__(self, rec):
        s2 = 1.0 / snr(rec)
        return (s2 + self.sigma_data**2) / (s2 * self.sigma_data**2)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ELBOWeighting(Weighting):
    """SNR (-d lambda/dt)/2: the continuous-time ELBO (Kingma et al. 2021, VDM eq. 17)."""

    def __call__(self, rec):
        return 0.5 * snr(rec) * -dlogsnr_dt(rec)


@dataclasses.dataclass(frozen=True, kw_only=True)
class SigmoidWeighting(Weighting):
    """SNR (-d lambda/dt)/2 sigmoid(b - lambda) (Kingma & Gao 2023), b = bias."""

    bias: float = 2.0

    def __call__(self, rec):
        return ELBOWeighting()(rec) * jax.nn.sigmoid(self.bias - rec.logsnr)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VelocityWeighting(Weighting):
    """alpha^2 (d lambda/dt)^2 / 4: unit weight on the velocity MSE ||u_hat - dx_t/dt||^2 (flow
    matching; with logit-normal t, SD3's recipe, Esser et al. 2024). 1/t^2 for rectified flow."""

    def __call__(self, rec):
        return 0.25 * (rec.alpha * dlogsnr_dt(rec)) ** 2


@dataclasses.dataclass(frozen=True, kw_only=True)
class OutputWeighting(Weighting):
    """c(t)^2 of the parameterisation: unit weight on the MSE of whatever the network predicts
    (the 'simple' loss of each target: SNR for eps, 1 for x0, SNR + 1 for VP v, EDM's lambda for
    EDM's F, `VelocityWeighting` for velocity)."""

    parameterisation: Parameterisation

    def __post_init__(self):
        check_instance("parameterisation", self.parameterisation, Parameterisation)

    def __call__(self, rec):
        return self.parameterisation.error_scale(rec) ** 2


def elbo_weight(weighting: Weighting, rec: ScheduleRecord, time_density: Array) -> Array:
    """Kingma & Gao (2023)'s w(lambda): the weighting as a multiple of the ELBO's integrand.

    A loss E_{t ~ p(t)}[w_x0(t) ||x0_hat - x0||^2] equals int w(lambda) (SNR/2)||.||^2 d lambda
    with w(lambda) = 2 p(t) w_x0(t) / (SNR |d lambda/dt|); time_density is p(t) at the record.
    Equal w(lambda) means the same objective; ELBO weighting with uniform t gives w = 1.
    """
    return 2.0 * time_density * weighting(rec) / (snr(rec) * -dlogsnr_dt(rec))
