"""Conditional flow matching (Lipman et al. 2023; Tong et al. 2024) and [SF]2M, per example.

The model's velocity dx_t/dt (the raw output of a VelocityPrediction denoiser, a conversion
of any other) regresses the conditional velocity u_t of a `Path` (see `presets` for the
papers' paths). Papers with noise at t = 0 (torchcfm, Lipman) use s = 1 - t and the negated
velocity.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance
from diffjax.losses._denoising import LossFn, split_dropout_key
from diffjax.losses._path import BrownianBridge, Path
from diffjax.losses._time_sampling import TimeSampling, UniformTime
from diffjax.parameterisations import broadcast_to_data

Array = jax.Array


def _mean_dims(a: Array) -> Array:
    return jnp.mean(a, axis=tuple(range(1, a.ndim)))


def _check_path(denoiser, path: Path, time_sampling: TimeSampling) -> None:
    check_instance("path", path, Path)
    check_instance("time_sampling", time_sampling, TimeSampling)
    if path.schedule != denoiser.schedule:
        raise ValueError(
            "path.schedule must be the denoiser's schedule (velocities convert with it); got "
            f"{path.schedule!r} and {denoiser.schedule!r}."
        )
    time_sampling.check(path.schedule)


def flow_matching_loss(
    denoiser, path: Path, *, time_sampling: TimeSampling = UniformTime()
) -> LossFn:
    """Returns loss(params, batch, key) -> (batch,) of mean_dims ||v(x_t, t) - u_t||^2.

    batch: {'data': x0, optional 'source' (N(0, I) when absent), optional 'cond'}; couplings
    permute the batch and carry cond (labels) with the data.
    """
    _check_path(denoiser, path, time_sampling)

    def loss(params, batch, key: Array) -> Array:
        k_drop, key = split_dropout_key(denoiser, key)
        ps = path.draw(key, batch["data"], time_sampling, batch.get("source"), batch.get("cond"))
        v = denoiser.velocity(params, ps.x_t, ps.t, ps.cond, key=k_drop)
        return _mean_dims((v - ps.u_t) ** 2)

    return loss


def sf2m_loss(flow, score, path: Path, *, time_sampling: TimeSampling = UniformTime()) -> LossFn:
    """[SF]2M (Tong et al. 2024, eq. 13): flow loss plus ||lambda(t) s(x_t, t) + z||^2.

    On the Brownian bridge c(t) = sigma sqrt(t(1-t)) the conditional score is -z / c(t); with
    lambda(t) = 2 c(t) / sigma^2 the score model's raw output s learns (g^2 / 2) grad log p_t,
    g = sigma, the drift correction of the SDE. flow and score are denoisers on the path's
    schedule (both get the same params). Returns loss(params, batch, key) -> (batch,).
    """
    _check_path(flow, path, time_sampling)
    if not isinstance(path.bridge, BrownianBridge):
        raise ValueError(f"sf2m_loss needs a BrownianBridge path; got bridge={path.bridge!r}.")
    sigma = path.bridge.sigma

    def loss(params, batch, key: Array) -> Array:
        ps = path.draw(key, batch["data"], time_sampling, batch.get("source"), batch.get("cond"))
        lam = broadcast_to_data(2.0 * ps.c / sigma**2, ps.x_t)
        v = flow.velocity(params, ps.x_t, ps.t, ps.cond)
        s = score.predict(params, ps.x_t, ps.t, ps.cond).pred
        return _mean_dims((v - ps.u_t) ** 2) + _mean_dims((lam * s + ps.z) ** 2)

    return loss
