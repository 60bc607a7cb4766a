"""The parameterisation interface: what a network predicts, and its conversions to (x0, eps)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax.schedules import ScheduleRecord

Array = jax.Array


def broadcast_to_data(value: Array, x: Array) -> Array:
    """Reshapes a per-example value of shape () or (batch,) to broadcast against x (batch, ...)."""
    value = jnp.asarray(value)
    return value.reshape(value.shape + (1,) * (x.ndim - value.ndim))


def broadcast_record(rec, x: Array):
    """Every field of a record (ScheduleRecord, EDMCoefficients) broadcast against x."""
    return type(rec)(*(broadcast_to_data(f, x) for f in rec))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Parameterisation:
    """What a network predicts at x_t = alpha x0 + sigma eps (a frozen, hashable record).

    Subclasses write `to_x0_eps`, `from_x0_eps` and `error_scale` in closed form; every other
    conversion goes through the pair (x0, eps). Record fields have shape () or (batch,).
    """

    def to_x0_eps(self, pred: Array, x: Array, rec: ScheduleRecord) -> tuple[Array, Array]:
        """(x0, eps), each of x's shape, with x = alpha x0 + sigma eps."""
        raise NotImplementedError

    def from_x0_eps(self, x0: Array, eps: Array, x: Array, rec: ScheduleRecord) -> Array:
        """The prediction that corresponds to (x0, eps) at x_t; x's shape."""
        raise NotImplementedError

    def error_scale(self, rec: ScheduleRecord) -> Array:
        """c(t) with pred_error = c(t) x0_error at fixed x_t (losses move weights between spaces)."""
        raise NotImplementedError

    def check(self, schedule) -> None:
        """Raises if this parameterisation cannot serve a denoiser on `schedule` (none here)."""
        del schedule

    def network_input(self, x: Array, rec: ScheduleRecord) -> Array:
        """What the network sees for x_t: x_t itself unless the parameterisation preconditions."""
        del rec
        return x

    def velocity(self, pred: Array, x: Array, rec: ScheduleRecord) -> Array:
        """dx_t/dt = alpha' x0 + sigma' eps of the prediction (flow-matching losses regress it)."""
        x0, eps = self.to_x0_eps(pred, x, rec)
        r = broadcast_record(rec, x)
        return r.d_alpha * x0 + r.d_sigma * eps


def convert(
    pred: Array, x: Array, rec: ScheduleRecord, source: Parameterisation, target: Parameterisation
) -> Array:
    """Converts a prediction from `source` to `target` (closed form, through (x0, eps))."""
    x0, eps = source.to_x0_eps(pred, x, rec)
    return target.from_x0_eps(x0, eps, x, rec)
