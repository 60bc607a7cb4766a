"""The prediction targets: eps, x0, v, score, velocity (closed-form conversions to (x0, eps)).

With x = alpha x0 + sigma eps:
  eps       the noise (Ho et al. 2020)
  x0        the clean data
  v         alpha eps - sigma x0 (Salimans & Ho 2022); for alpha^2 + sigma^2 != 1 the same
            linear form, with x0 = (alpha x - sigma v)/(alpha^2 + sigma^2)
  score     grad_x log p_t(x) = -eps/sigma
  velocity  u = dx_t/dt = alpha' x0 + sigma' eps (flow matching, in diffjax's time direction)
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax.parameterisations._base import Parameterisation, broadcast_record
from diffjax.schedules import ScheduleRecord

Array = jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class EpsPrediction(Parameterisation):
    """The network predicts eps (Ho et al. 2020): x0 = (x - sigma eps)/alpha; c(t) = -alpha/sigma."""

    def to_x0_eps(self, pred, x, rec):
        r = broadcast_record(rec, x)
        return (x - r.sigma * pred) / r.alpha, pred

    def from_x0_eps(self, x0, eps, x, rec):
        return eps

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return -rec.alpha / rec.sigma


@dataclasses.dataclass(frozen=True, kw_only=True)
class X0Prediction(Parameterisation):
    """The network predicts x0: eps = (x - alpha x0)/sigma; c(t) = 1."""

    def to_x0_eps(self, pred, x, rec):
        r = broadcast_record(rec, x)
        return pred, (x - r.alpha * pred) / r.sigma

    def from_x0_eps(self, x0, eps, x, rec):
        return x0

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return jnp.ones_like(rec.alpha)


@dataclasses.dataclass(frozen=True, kw_only=True)
class VPrediction(Parameterisation):
    """v = alpha eps - sigma x0 (Salimans & Ho 2022); c(t) = -(alpha^2 + sigma^2)/sigma."""

    def to_x0_eps(self, pred, x, rec):
        r = broadcast_record(rec, x)
        norm = r.alpha**2 + r.sigma**2
        return (r.alpha * x - r.sigma * pred) / norm, (r.sigma * x + r.alpha * pred) / norm

    def from_x0_eps(self, x0, eps, x, rec):
        r = broadcast_record(rec, x)
        return r.alpha * eps - r.sigma * x0

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return -(rec.alpha**2 + rec.sigma**2) / rec.sigma


@dataclasses.dataclass(frozen=True, kw_only=True)
class ScorePrediction(Parameterisation):
    """The network predicts grad log p_t = -eps/sigma; c(t) = alpha/sigma^2."""

    def to_x0_eps(self, pred, x, rec):
        r = broadcast_record(rec, x)
        eps = -r.sigma * pred
        return (x - r.sigma * eps) / r.alpha, eps

    def from_x0_eps(self, x0, eps, x, rec):
        return -eps / broadcast_record(rec, x).sigma

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return rec.alpha / rec.sigma**2


@dataclasses.dataclass(frozen=True, kw_only=True)
class VelocityPrediction(Parameterisation):
    """The network predicts u = dx_t/dt = alpha' x0 + sigma' eps (flow matching).

    Inverse: solve [alpha sigma; alpha' sigma'] [x0; eps] = [x; u]; c(t) = (sigma alpha' -
    alpha sigma')/sigma.
    """

    def to_x0_eps(self, pred, x, rec):
        r = broadcast_record(rec, x)
        det = r.alpha * r.d_sigma - r.sigma * r.d_alpha
        return (r.d_sigma * x - r.sigma * pred) / det, (r.alpha * pred - r.d_alpha * x) / det

    def from_x0_eps(self, x0, eps, x, rec):
        r = broadcast_record(rec, x)
        return r.d_alpha * x0 + r.d_sigma * eps

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return (rec.sigma * rec.d_alpha - rec.alpha * rec.d_sigma) / rec.sigma

    def velocity(self, pred, x, rec):
        return pred
