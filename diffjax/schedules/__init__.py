"""Noise schedules: x_t = alpha(t) x0 + sigma(t) eps with t in [0, 1], t = 0 data, t = 1 noise."""

from __future__ import annotations

from diffjax.schedules.base import Schedule, ScheduleRecord, as_time
from diffjax.schedules.diffusion import (
    EDM,
    VE,
    BetaSchedule,
    Cosine,
    DiscreteDDPM,
    InterpolatedLogSNR,
    ReverseVariance,
    SubVP,
    VPLinear,
    discrete_log_alpha_bar,
)
from diffjax.schedules.flows import LipmanFM, RectifiedFlow, Trigonometric
from diffjax.schedules.transforms import Shifted, ZeroTerminalSNR, flux_shift, shift_for_resolution

__all__ = [
    "BetaSchedule",
    "EDM",
    "VE",
    "Cosine",
    "DiscreteDDPM",
    "InterpolatedLogSNR",
    "LipmanFM",
    "RectifiedFlow",
    "ReverseVariance",
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
    "shift_for_resolution",
]
