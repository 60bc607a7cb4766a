"""Noise schedules: x_t = alpha(t) x0 + sigma(t) eps with t in [0, 1], t = 0 data, t = 1 noise."""

from __future__ import annotations

from diffjax._checks import check_choice
from diffjax.schedules.base import Schedule, ScheduleRecord, as_time
from diffjax.schedules.diffusion import (
    EDM,
    VE,
    Cosine,
    DiscreteDDPM,
    InterpolatedLogSNR,
    SubVP,
    VPLinear,
    discrete_log_alpha_bar,
)
from diffjax.schedules.flows import LipmanFM, RectifiedFlow, Trigonometric
from diffjax.schedules.transforms import Shifted, ZeroTerminalSNR, flux_shift, shift_for_resolution

SCHEDULES = {
    "ddpm": DiscreteDDPM,
    "vp": VPLinear,
    "subvp": SubVP,
    "ve": VE,
    "cosine": Cosine,
    "edm": EDM,
    "rectified_flow": RectifiedFlow,
    "lipman": LipmanFM,
    "trigonometric": Trigonometric,
    "interpolated": InterpolatedLogSNR,
}


def get_schedule(name: str, **kwargs) -> Schedule:
    """Builds a schedule from its config name, e.g. get_schedule('vp', beta_max=20.0)."""
    cls = SCHEDULES[check_choice("schedule", name, SCHEDULES)]
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise TypeError(f"schedule {name!r}: {err}") from None


__all__ = [
    "EDM",
    "SCHEDULES",
    "VE",
    "Cosine",
    "DiscreteDDPM",
    "InterpolatedLogSNR",
    "LipmanFM",
    "RectifiedFlow",
    "Schedule",
    "ScheduleRecord",
    "Shifted",
    "SubVP",
    "Trigonometric",
    "VPLinear",
    "ZeroTerminalSNR",
    "as_time",
    "discrete_log_alpha_bar",
    "flux_shift",
    "get_schedule",
    "shift_for_resolution",
]
