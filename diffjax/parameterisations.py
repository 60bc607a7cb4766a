"""What a network predicts, and closed-form conversions between every pair of parameterisations.

With x = alpha x0 + sigma eps (the schedule record at t), a network may predict
  eps       the noise (Ho et al. 2020)
  x0        the clean data
  v         v = alpha eps - sigma x0 (Salimans & Ho 2022; for alpha^2 + sigma^2 != 1 this is
            the same linear form, and x0 = (alpha x - sigma v)/(alpha^2 + sigma^2))
  score     grad_x log p_t(x) = -eps / sigma
  velocity  u = dx_t/dt = alpha' x0 + sigma' eps (flow matching, in diffjax's time direction)
  edm       EDM's F (Karras et al. 2022): x0 = c_skip x~ + c_out F, with x~ = x/alpha,
            sigma~ = sigma/alpha, c_skip = sd^2/(sigma~^2 + sd^2), c_out = sigma~ sd / sqrt(...)
Every conversion goes through the pair (x0, eps): `to_x0_eps` and `from_x0_eps`.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice
from diffjax.schedules import ScheduleRecord

Array = jax.Array

PARAMETERISATIONS = ("eps", "x0", "v", "score", "velocity", "edm")


def broadcast_to_data(value: Array, x: Array) -> Array:
    """Reshapes a per-example value of shape () or (batch,) to broadcast against x (batch, ...)."""
    value = jnp.asarray(value)
    return value.reshape(value.shape + (1,) * (x.ndim - value.ndim))


def _fields(rec, x: Array):
    """Every field of a record (ScheduleRecord, EDMCoefficients) broadcast against x."""
    return type(rec)(*(broadcast_to_data(f, x) for f in rec))


class EDMCoefficients(NamedTuple):
    """EDM preconditioning (Karras et al. 2022, Table 1) for the scaled input x~ = x/alpha."""

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


def to_x0_eps(
    pred: Array, x: Array, rec: ScheduleRecord, parameterisation: str, sigma_data: float = 0.5
) -> tuple[Array, Array]:
    """Converts a prediction to (x0, eps) given x_t and the schedule record at t.

    Args:
      pred: network output, shape (batch, ...), in the named parameterisation.
      x: the noisy input x_t, same shape.
      rec: schedule record at t; fields of shape () or (batch,).
      parameterisation: one of PARAMETERISATIONS.
      sigma_data: EDM's data standard deviation (only for 'edm').
    Returns:
      (x0, eps), each of x's shape, with x = alpha x0 + sigma eps.
    """
    check_choice("parameterisation", parameterisation, PARAMETERISATIONS)
    r = _fields(rec, x)
    a, s = r.alpha, r.sigma
    if parameterisation == "eps":
        return (x - s * pred) / a, pred
    if parameterisation == "score":
        eps = -s * pred
        return (x - s * eps) / a, eps
    if parameterisation == "x0" or parameterisation == "edm":
        if parameterisation == "edm":
            c = _fields(edm_coefficients(rec, sigma_data), x)
            pred = c.c_skip * (x / a) + c.c_out * pred
        return pred, (x - a * pred) / s
    if parameterisation == "v":
        norm = a**2 + s**2
        return (a * x - s * pred) / norm, (s * x + a * pred) / norm
    # velocity: solve [alpha sigma; alpha' sigma'] [x0; eps] = [x; u]
    det = a * r.d_sigma - s * r.d_alpha
    return (r.d_sigma * x - s * pred) / det, (a * pred - r.d_alpha * x) / det


def from_x0_eps(
    x0: Array,
    eps: Array,
    x: Array,
    rec: ScheduleRecord,
    parameterisation: str,
    sigma_data: float = 0.5,
) -> Array:
    """The prediction in the named parameterisation that corresponds to (x0, eps) at x_t.

    Args and shapes as `to_x0_eps`. Returns an array of x's shape.
    """
    check_choice("parameterisation", parameterisation, PARAMETERISATIONS)
    r = _fields(rec, x)
    if parameterisation == "eps":
        return eps
    if parameterisation == "x0":
        return x0
    if parameterisation == "v":
        return r.alpha * eps - r.sigma * x0
    if parameterisation == "score":
        return -eps / r.sigma
    if parameterisation == "velocity":
        return r.d_alpha * x0 + r.d_sigma * eps
    c = _fields(edm_coefficients(rec, sigma_data), x)
    return (x0 - c.c_skip * (x / r.alpha)) / c.c_out


def convert(
    pred: Array,
    x: Array,
    rec: ScheduleRecord,
    source: str,
    target: str,
    sigma_data: float = 0.5,
) -> Array:
    """Converts a prediction from parameterisation `source` to `target` (closed form, via x0/eps)."""
    check_choice("target", target, PARAMETERISATIONS)
    x0, eps = to_x0_eps(pred, x, rec, source, sigma_data)
    return from_x0_eps(x0, eps, x, rec, target, sigma_data)


def x0_error_scale(rec: ScheduleRecord, parameterisation: str, sigma_data: float = 0.5) -> Array:
    """c(t) with pred_error = c(t) x0_error at fixed x_t: losses move weights between spaces.

    eps: -alpha/sigma; x0: 1; v: -(alpha^2 + sigma^2)/sigma; score: alpha/sigma^2;
    velocity: (sigma alpha' - alpha sigma')/sigma; edm: 1/c_out. Shape of the record's fields.
    """
    check_choice("parameterisation", parameterisation, PARAMETERISATIONS)
    a, s = rec.alpha, rec.sigma
    return {
        "eps": lambda: -a / s,
        "x0": lambda: jnp.ones_like(a),
        "v": lambda: -(a**2 + s**2) / s,
        "score": lambda: a / s**2,
        "velocity": lambda: (s * rec.d_alpha - a * rec.d_sigma) / s,
        "edm": lambda: 1.0 / edm_coefficients(rec, sigma_data).c_out,
    }[parameterisation]()
