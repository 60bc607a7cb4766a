"""EDM's preconditioning (Karras et al. 2022, Table 1), in one place: c_skip, c_out, c_in, c_noise.

For the scaled input x~ = x/alpha with sigma~ = sigma/alpha, the denoiser is
D(x) = c_skip x~ + c_out F(c_in x~, c_noise): the network F predicts a mix of x0 and eps whose
target has unit variance at every noise level.
"""

from __future__ import annotations

import dataclasses
from typing import NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_positive
from diffjax.parameterisations._base import Parameterisation, broadcast_record, broadcast_to_data
from diffjax.schedules import ScheduleRecord

Array = jax.Array


class EDMCoefficients(NamedTuple):
    """EDM preconditioning for the scaled input x~ = x/alpha; fields of the record's shape."""

    c_skip: Array  # sd^2 / (sigma~^2 + sd^2)
    c_out: Array  # sigma~ sd / sqrt(sigma~^2 + sd^2)
    c_in: Array  # 1 / sqrt(sigma~^2 + sd^2), applied to x~ (so to x: c_in / alpha)
    c_noise: Array  # log(sigma~) / 4


def edm_coefficients(rec: ScheduleRecord, sigma_data: float = 0.5) -> EDMCoefficients:
    """EDM's c_skip, c_out, c_in, c_noise at sigma~ = sigma/alpha (shape of the record)."""
    s = rec.sigma / rec.alpha
    norm = jnp.sqrt(s**2 + sigma_data**2)
    return EDMCoefficients(
        sigma_data**2 / norm**2, s * sigma_data / norm, 1.0 / norm, jnp.log(s) / 4
    )


@dataclasses.dataclass(frozen=True, kw_only=True)
class EDMPreconditioned(Parameterisation):
    """EDM's F: x0 = c_skip x~ + c_out F, the network seeing c_in x~ (Karras et al. 2022).

    sigma_data: the data's standard deviation (0.5 for images in [-1, 1]); c(t) = 1/c_out.
    scale_input: feed c_in x/alpha to the network (EDM); False feeds x_t unscaled.
    """

    sigma_data: float = 0.5
    scale_input: bool = True

    def __post_init__(self):
        check_positive("sigma_data", self.sigma_data)

    def coefficients(self, rec: ScheduleRecord) -> EDMCoefficients:
        return edm_coefficients(rec, self.sigma_data)

    def to_x0_eps(self, pred, x, rec):
        r, c = broadcast_record(rec, x), broadcast_record(self.coefficients(rec), x)
        x0 = c.c_skip * (x / r.alpha) + c.c_out * pred
        return x0, (x - r.alpha * x0) / r.sigma

    def from_x0_eps(self, x0, eps, x, rec):
        r, c = broadcast_record(rec, x), broadcast_record(self.coefficients(rec), x)
        return (x0 - c.c_skip * (x / r.alpha)) / c.c_out

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return 1.0 / self.coefficients(rec).c_out

    def network_input(self, x, rec):
        if not self.scale_input:
            return x
        return broadcast_to_data(self.coefficients(rec).c_in / rec.alpha, x) * x
