"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024) in diffjax's time direction.

Conditional path between a data point x_data (t = 0) and a source point x_source (t = 1):
  x_t = alpha(t) x_data + sigma(t) x_source + c(t) z,   z ~ N(0, I),
  u_t = alpha'(t) x_data + sigma'(t) x_source + c'(t) z  (= dx_t/dt),
with (alpha, sigma) a schedule and c(t) the bridge noise: 'none', 'constant' (c = sigma_bridge)
or 'brownian' (c = sigma_bridge sqrt(t (1 - t)), the Brownian bridge of SB-CFM).
Papers with noise at t = 0 (torchcfm, Lipman) use s = 1 - t and the negated velocity.

Methods (Tong et al. 2024, [SF]2M Table 2 rows):
  icfm   rectified-flow path, constant c = sigma, independent coupling
  otcfm  as icfm with the exact minibatch OT coupling
  sbcfm  Brownian bridge c = sigma sqrt(t(1-t)), Sinkhorn coupling with epsilon = 2 sigma^2
  fm     Lipman's path alpha = 1 - t, sigma = sigma_min + (1 - sigma_min) t (Gaussian source)
  rf     rectified flow, c = 0, independent coupling
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp

from diffjax._checks import check_choice, check_same_shape
from diffjax.couplings import COUPLINGS, couple
from diffjax.parameterisations import broadcast_to_data
from diffjax.schedules import LipmanFM, RectifiedFlow, Schedule

Array = jax.Array

BRIDGE_NOISES = ("none", "constant", "brownian")
FLOW_MATCHING_METHODS = ("icfm", "otcfm", "sbcfm", "fm", "rf")


class FlowMatchingSetup(NamedTuple):
    schedule: Schedule  # interpolation coefficients alpha (data), sigma (source)
    bridge_noise: str  # one of BRIDGE_NOISES
    sigma: float  # bridge noise scale
    coupling: str  # one of diffjax.couplings.COUPLINGS
    epsilon: float | None  # entropic regularisation for 'sinkhorn'


def flow_matching_setup(method: str, sigma: float = 0.1) -> FlowMatchingSetup:
    """The path, bridge noise and coupling of a named method (see the module docstring)."""
    check_choice("method", method, FLOW_MATCHING_METHODS)
    rf = RectifiedFlow(t_min=1e-5, t_max=1.0 - 1e-5)
    return {
        "icfm": lambda: FlowMatchingSetup(rf, "constant", sigma, "independent", None),
        "otcfm": lambda: FlowMatchingSetup(rf, "constant", sigma, "exact_ot", None),
        "sbcfm": lambda: FlowMatchingSetup(rf, "brownian", sigma, "sinkhorn", 2.0 * sigma**2),
        "fm": lambda: FlowMatchingSetup(
            LipmanFM(sigma_min=sigma), "none", 0.0, "independent", None
        ),
        "rf": lambda: FlowMatchingSetup(rf, "none", 0.0, "independent", None),
    }[method]()


def bridge_noise(kind: str, sigma: float, t: Array) -> tuple[Array, Array]:
    """(c(t), c'(t)) of the bridge noise; brownian: c = sigma sqrt(t(1-t)), c' = sigma (1-2t)/(2 sqrt(t(1-t)))."""
    check_choice("bridge_noise", kind, BRIDGE_NOISES)
    if kind == "none":
        return jnp.zeros_like(t), jnp.zeros_like(t)
    if kind == "constant":
        return jnp.full_like(t, sigma), jnp.zeros_like(t)
    root = jnp.sqrt(t * (1.0 - t))
    return sigma * root, sigma * (1.0 - 2.0 * t) / (2.0 * root)


def conditional_flow(
    x_data: Array, x_source: Array, z: Array, t: Array, setup: FlowMatchingSetup
) -> tuple[Array, Array, Array]:
    """(x_t, u_t, c(t)) of the conditional path; arrays (batch, ...), t (batch,)."""
    rec = setup.schedule(t)
    c, dc = bridge_noise(setup.bridge_noise, setup.sigma, t)
    b = lambda v: broadcast_to_data(v, x_data)
    x_t = b(rec.alpha) * x_data + b(rec.sigma) * x_source + b(c) * z
    u_t = b(rec.d_alpha) * x_data + b(rec.d_sigma) * x_source + b(dc) * z
    return x_t, u_t, c


def _paired_batch(key, x_data, x_source, cond, setup, ot_solver):
    check_same_shape("x_data", x_data, "x_source", x_source)
    key_pair, key_t, key_z = jax.random.split(key, 3)
    i, j = couple(
        key_pair, x_data, x_source, setup.coupling, epsilon=setup.epsilon, solver=ot_solver
    )
    x_data, x_source = x_data[i], x_source[j]
    cond = None if cond is None else jax.tree.map(lambda c: c[i], cond)
    lo, hi = setup.schedule.t_min, setup.schedule.t_max
    t = jax.random.uniform(key_t, (x_data.shape[0],), x_data.dtype, lo, hi)
    z = jax.random.normal(key_z, x_data.shape, x_data.dtype)
    return x_data, x_source, cond, t, z


def _mean_dims(a: Array) -> Array:
    return jnp.mean(a, axis=tuple(range(1, a.ndim)))


def make_flow_matching_loss(
    velocity_fn: Callable[..., Array],
    method: str = "icfm",
    sigma: float = 0.1,
    *,
    ot_solver: str = "pot",
    coupling: str | None = None,
    epsilon: float | None = None,
) -> Callable[..., Array]:
    """Returns loss(params, x_data, x_source, key, cond=None) -> (batch,) of ||v(x_t, t) - u_t||^2.

    velocity_fn(params, x_t, t, cond) predicts dx_t/dt (t = 0 data). The mean is over data
    dimensions. Couplings permute the batch and carry `cond` (labels) with the data.
    coupling / epsilon replace the method's own (e.g. OT-CFM with coupling='sinkhorn',
    epsilon=0.05: the entropic approximation of its exact coupling, on the device).
    """
    setup = flow_matching_setup(method, sigma)
    if coupling is not None:
        check_choice("coupling", coupling, COUPLINGS)
        if coupling == "sinkhorn" and epsilon is None:
            raise ValueError("coupling='sinkhorn' needs epsilon (absolute, on squared distances).")
        setup = setup._replace(coupling=coupling, epsilon=epsilon)

    def loss(params, x_data: Array, x_source: Array, key: Array, cond=None) -> Array:
        x_data, x_source, cond, t, z = _paired_batch(key, x_data, x_source, cond, setup, ot_solver)
        x_t, u_t, _ = conditional_flow(x_data, x_source, z, t, setup)
        return _mean_dims((velocity_fn(params, x_t, t, cond) - u_t) ** 2)

    return loss


def make_sf2m_loss(
    velocity_fn: Callable[..., Array],
    score_fn: Callable[..., Array],
    sigma: float = 1.0,
    *,
    coupling: str = "sinkhorn",
) -> Callable[..., Array]:
    """[SF]2M (Tong et al. 2024, eq. 13): flow loss plus ||lambda(t) s(x_t, t) + z||^2.

    On the Brownian bridge c(t) = sigma sqrt(t(1-t)), the conditional score is -z / c(t);
    with lambda(t) = 2 c(t) / sigma^2 the score network s learns (g^2 / 2) grad log p_t, g = sigma,
    the drift correction of the SDE. Returns loss(params, x_data, x_source, key, cond) -> (batch,).
    """
    setup = flow_matching_setup("sbcfm", sigma)._replace(coupling=coupling)

    def loss(params, x_data: Array, x_source: Array, key: Array, cond=None) -> Array:
        x_data, x_source, cond, t, z = _paired_batch(key, x_data, x_source, cond, setup, "pot")
        x_t, u_t, c = conditional_flow(x_data, x_source, z, t, setup)
        lam = broadcast_to_data(2.0 * c / sigma**2, x_t)
        flow = _mean_dims((velocity_fn(params, x_t, t, cond) - u_t) ** 2)
        score = _mean_dims((lam * score_fn(params, x_t, t, cond) + z) ** 2)
        return flow + score

    return loss
