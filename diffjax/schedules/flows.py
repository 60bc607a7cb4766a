"""Flow-matching probability paths written as schedules (t = 0 data, t = 1 noise).

Papers that put noise at t = 0 and data at t = 1 (Lipman et al. 2023, torchcfm,
facebookresearch/flow_matching, rectified flow) map to diffjax with s = 1 - t; their velocity
is minus ours.
"""

from __future__ import annotations

import dataclasses
import math

import jax.numpy as jnp

from diffjax._checks import check_positive
from diffjax.schedules.base import Schedule, as_time

_EDGE = 1e-5  # clip where alpha or sigma vanishes: conversions divide by them


@dataclasses.dataclass(frozen=True, kw_only=True)
class RectifiedFlow(Schedule):
    """Rectified flow / CondOT path (Liu et al. 2023; Lipman et al. 2023): alpha = 1 - t, sigma = t."""

    t_min: float = _EDGE
    t_max: float = 1.0 - _EDGE

    def alpha_sigma(self, t):
        return 1.0 - t, t

    def t_from_logsnr(self, logsnr):
        """lambda = 2 log((1 - t)/t)  =>  t = sigmoid(-lambda/2)."""
        return 1.0 / (1.0 + jnp.exp(0.5 * jnp.asarray(logsnr)))


@dataclasses.dataclass(frozen=True, kw_only=True)
class LipmanFM(Schedule):
    """Lipman et al. (2023) OT path with sigma_min: alpha = 1 - t, sigma = sigma_min + (1 - sigma_min) t.

    (Their mean s x1 and std 1 - (1 - sigma_min) s at s = 1 - t.)
    """

    sigma_min: float = 1e-4
    t_max: float = 1.0 - _EDGE

    def __post_init__(self):
        check_positive("sigma_min", self.sigma_min)
        super().__post_init__()

    def alpha_sigma(self, t):
        return 1.0 - t, self.sigma_min + (1.0 - self.sigma_min) * t


@dataclasses.dataclass(frozen=True, kw_only=True)
class Trigonometric(Schedule):
    """Cosine / trigonometric path: alpha = cos(pi t/2), sigma = sin(pi t/2) (variance preserving)."""

    t_min: float = _EDGE
    t_max: float = 1.0 - _EDGE

    def alpha_sigma(self, t):
        # sin((1 - t) pi/2) rather than cos(t pi/2): exactly 0 at t = 1 in any precision
        return jnp.sin(0.5 * math.pi * (1.0 - t)), jnp.sin(0.5 * math.pi * t)

    def t_from_logsnr(self, logsnr):
        """lambda = -2 log tan(pi t/2)  =>  t = (2/pi) arctan(exp(-lambda/2))."""
        return (2.0 / math.pi) * jnp.arctan(jnp.exp(-0.5 * as_time(logsnr)))
