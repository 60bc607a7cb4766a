"""The probability path a model is trained on: drawing x_t and the training targets, once.

Between a data point x0 (t = 0) and a source point x1 (t = 1; Gaussian noise eps for diffusion):
  x_t = alpha(t) x0 + sigma(t) x1 + c(t) z,      z ~ N(0, I),
  u_t = alpha'(t) x0 + sigma'(t) x1 + c'(t) z    (= dx_t/dt, the conditional velocity),
with (alpha, sigma) a schedule, c(t) the bridge noise and (x0, x1) paired by a coupling
(Lipman et al. 2023; Tong et al. 2024). Diffusion is the case c = 0 with an independent
Gaussian source: x_t = alpha x0 + sigma eps (Ho et al. 2020; Song et al. 2021).
"""

from __future__ import annotations

import dataclasses
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance, check_positive, check_same_shape
from diffjax.losses._couplings import Coupling, Independent
from diffjax.losses._time_sampling import TimeSampling
from diffjax.parameterisations import broadcast_to_data
from diffjax.schedules import Schedule, ScheduleRecord

Array = jax.Array


@dataclasses.dataclass(frozen=True, kw_only=True)
class BridgeNoise:
    """c(t) and c'(t) of the noise added along the conditional path (t of shape (batch,))."""

    def __call__(self, t: Array) -> tuple[Array, Array]:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True, kw_only=True)
class NoBridge(BridgeNoise):
    """c = 0: the deterministic interpolant (diffusion, rectified flow, Lipman's FM)."""

    def __call__(self, t):
        return jnp.zeros_like(t), jnp.zeros_like(t)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConstantBridge(BridgeNoise):
    """c = sigma (I-CFM / OT-CFM, Tong et al. 2024)."""

    sigma: float

    def __post_init__(self):
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0; got {self.sigma!r}.")

    def __call__(self, t):
        return jnp.full_like(t, self.sigma), jnp.zeros_like(t)


@dataclasses.dataclass(frozen=True, kw_only=True)
class BrownianBridge(BridgeNoise):
    """c = sigma sqrt(t (1 - t)), c' = sigma (1 - 2t) / (2 sqrt(t (1 - t))) (SB-CFM)."""

    sigma: float

    def __post_init__(self):
        check_positive("sigma", self.sigma)

    def __call__(self, t):
        root = jnp.sqrt(t * (1.0 - t))
        return self.sigma * root, self.sigma * (1.0 - 2.0 * t) / (2.0 * root)


class PathSample(NamedTuple):
    """A batch on the path: arrays (batch, ...), t and c of shape (batch,)."""

    t: Array  # the drawn times
    rec: ScheduleRecord  # the schedule at t
    x_t: Array  # alpha x0 + sigma x1 + c z
    u_t: Array  # alpha' x0 + sigma' x1 + c' z, the conditional velocity dx_t/dt
    x0: Array  # data, reordered by the coupling
    x1: Array  # source (eps for diffusion), reordered by the coupling
    z: Array | None  # bridge noise draw (None for diffusion)
    c: Array  # c(t)
    cond: Any  # conditioning, reordered with the data


@dataclasses.dataclass(frozen=True, kw_only=True)
class Path:
    """A schedule, a bridge noise and a coupling: everything that draws x_t for training.

    `Path(schedule=VPLinear())` is a diffusion process; presets (`icfm`, `otcfm`, `sbcfm`,
    `lipman_fm`, `rectified_flow`) build the flow-matching paths of their papers.
    """

    schedule: Schedule
    bridge: BridgeNoise = NoBridge()
    coupling: Coupling = Independent()

    def __post_init__(self):
        check_instance("schedule", self.schedule, Schedule)
        check_instance("bridge", self.bridge, BridgeNoise)
        check_instance("coupling", self.coupling, Coupling)

    @property
    def is_diffusion(self) -> bool:
        """No bridge noise and no coupling: x_t = alpha x0 + sigma eps with eps drawn here."""
        return isinstance(self.bridge, NoBridge) and isinstance(self.coupling, Independent)

    def draw(self, key, x0, time_sampling: TimeSampling, source=None, cond=None) -> PathSample:
        """Draws t, pairs (x0, source) and forms x_t. Without a source, x1 ~ N(0, I).

        Keys: a diffusion path splits key into (t, eps), as Ho et al.'s loss draws them; any
        other path into (coupling, t, z), with a Gaussian source (when none is given) from a
        further split.
        """
        if source is None and self.is_diffusion:
            key_t, key_eps = jax.random.split(key)
            t = time_sampling(key_t, x0.shape[0], self.schedule, x0.dtype)
            eps = jax.random.normal(key_eps, x0.shape, x0.dtype)
            rec = self.schedule(t)
            b = lambda v: broadcast_to_data(v, x0)
            x_t = b(rec.alpha) * x0 + b(rec.sigma) * eps
            u_t = b(rec.d_alpha) * x0 + b(rec.d_sigma) * eps
            return PathSample(t, rec, x_t, u_t, x0, eps, None, jnp.zeros_like(t), cond)
        if source is None:
            key, key_source = jax.random.split(key)
            source = jax.random.normal(key_source, x0.shape, x0.dtype)
        return self._draw_paired(key, x0, source, cond, time_sampling)

    def _draw_paired(self, key, x0, source, cond, time_sampling) -> PathSample:
        check_same_shape("x_data", x0, "x_source", source)
        key_pair, key_t, key_z = jax.random.split(key, 3)
        i, j = self.coupling(key_pair, x0, source)
        x0, source = x0[i], source[j]
        cond = None if cond is None else jax.tree.map(lambda c: c[i], cond)
        t = time_sampling(key_t, x0.shape[0], self.schedule, x0.dtype)
        z = jax.random.normal(key_z, x0.shape, x0.dtype)
        rec = self.schedule(t)
        x_t, u_t, c = self.interpolate(x0, source, z, t, rec)
        return PathSample(t, rec, x_t, u_t, x0, source, z, c, cond)

    def interpolate(self, x0, x1, z, t, rec=None) -> tuple[Array, Array, Array]:
        """(x_t, u_t, c(t)) of the conditional path; arrays (batch, ...), t (batch,)."""
        rec = self.schedule(t) if rec is None else rec
        c, dc = self.bridge(t)
        b = lambda v: broadcast_to_data(v, x0)
        x_t = b(rec.alpha) * x0 + b(rec.sigma) * x1 + b(c) * z
        u_t = b(rec.d_alpha) * x0 + b(rec.d_sigma) * x1 + b(dc) * z
        return x_t, u_t, c
