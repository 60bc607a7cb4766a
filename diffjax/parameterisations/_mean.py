"""Posterior-mean prediction: Ho et al. (2020)'s mu~ baseline (their Table 2, 'mu~ prediction').

The network predicts the mean of q(x_s | x_t, x0) one step back, s = t - step:
  mu~ = c_x0 x0 + c_xt x_t,   c_x0 = alpha_s (1 - e^(lambda_t - lambda_s)),
                              c_xt = (alpha_s / alpha_t) e^(lambda_t - lambda_s)
(Kingma et al. 2021, VDM, eq. 7-9 in log-SNR form; on the T-step DDPM schedule with step 1/T these
are Ho's sqrt(abar_{i-1}) beta_i / (1 - abar_i) and sqrt(alpha_i) (1 - abar_{i-1}) / (1 - abar_i)).
At the first step (s = 0, lambda_s = +inf) mu~ = x0: Ho's decoder mean (also where no step back
exists, at t = 0 of a schedule whose sigma(0) > 0).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance, check_positive
from diffjax.parameterisations._base import Parameterisation, broadcast_to_data
from diffjax.schedules import DiscreteDDPM, Schedule, ScheduleRecord

Array = jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class MeanPrediction(Parameterisation):
    """The network predicts mu~(x_t, x0), the posterior mean one `step` back (Ho et al. 2020).

    schedule: the denoiser's schedule (the coefficients need alpha at t - step); step defaults to
    1/T on a DiscreteDDPM and must be given otherwise. x0 = (mu - c_xt x)/c_x0; c(t) = c_x0.
    """

    schedule: Schedule
    step: float | None = None

    def __post_init__(self):
        check_instance("schedule", self.schedule, Schedule)
        if self.step is None:
            if not isinstance(self.schedule, DiscreteDDPM):
                raise ValueError(
                    f"MeanPrediction: step is needed on {type(self.schedule).__name__} (it "
                    "defaults to 1/T only on DiscreteDDPM)."
                )
            object.__setattr__(self, "step", 1.0 / self.schedule.num_timesteps)
        check_positive("step", self.step)

    def check(self, schedule: Schedule) -> None:
        if schedule != self.schedule:
            raise ValueError(
                f"MeanPrediction was built for {self.schedule!r}, the denoiser's schedule is "
                f"{schedule!r}: the posterior coefficients need the denoiser's own schedule."
            )

    def coefficients(self, rec: ScheduleRecord) -> tuple[Array, Array]:
        """(c_x0, c_xt) at the record's t (found from its log-SNR), of the record's shape."""
        t = self.schedule.t_from_logsnr(rec.logsnr)
        prev = self.schedule(jnp.maximum(t - self.step, 0.0))
        ratio = jnp.exp(rec.logsnr - prev.logsnr)  # SNR_t / SNR_s, 0 at s = 0
        c_x0, c_xt = (
            prev.alpha * -jnp.expm1(rec.logsnr - prev.logsnr),
            prev.alpha / rec.alpha * ratio,
        )
        # no step back from t = 0 (VE's sigma_min > 0 there): the decoder's mean x0, as at s = 0
        none = prev.logsnr <= rec.logsnr
        return jnp.where(none, 1.0, c_x0), jnp.where(none, 0.0, c_xt)

    def to_x0_eps(self, pred, x, rec):
        c_x0, c_xt = (broadcast_to_data(c, x) for c in self.coefficients(rec))
        x0 = (pred - c_xt * x) / c_x0
        alpha, sigma = broadcast_to_data(rec.alpha, x), broadcast_to_data(rec.sigma, x)
        return x0, (x - alpha * x0) / sigma

    def from_x0_eps(self, x0, eps, x, rec):
        c_x0, c_xt = (broadcast_to_data(c, x) for c in self.coefficients(rec))
        return c_x0 * x0 + c_xt * x

    def error_scale(self, rec: ScheduleRecord) -> Array:
        return self.coefficients(rec)[0]
