"""Denoising score matching for any prediction target, unreduced per example."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from diffjax._checks import check_instance
from diffjax.losses._path import NoBridge, Path
from diffjax.losses._time_sampling import TimeSampling, UniformTime
from diffjax.losses._weighting import SNRWeighting, Weighting
from diffjax.parameterisations import Parameterisation
from diffjax.schedules import ScheduleRecord

Array = jax.Array
LossFn = Callable[..., Array]  # (params, batch, key) -> (batch,) per-example losses


def weighted_denoising_error(
    pred: Array,
    x0: Array,
    eps: Array,
    x: Array,
    rec: ScheduleRecord,
    parameterisation: Parameterisation,
    weight_x0: Array,
) -> Array:
    """w_x0(t) ||x0_hat - x0||^2, computed in the network's own output space.

    With c(t) = parameterisation.error_scale (pred error per unit x0 error at fixed x_t), the
    loss is (w_x0 / c^2) mean_dims (pred - target)^2. Args: pred, x0, eps, x of shape
    (batch, ...); rec fields and weight_x0 of shape (batch,). Returns (batch,).
    """
    target = parameterisation.from_x0_eps(x0, eps, x, rec)
    weight = weight_x0 / parameterisation.error_scale(rec) ** 2
    sq_err = jnp.mean((pred - target) ** 2, axis=tuple(range(1, pred.ndim)))
    return weight * sq_err


def split_dropout_key(denoiser, key: Array) -> tuple[Array | None, Array]:
    """(dropout key or None, the rest): a network with dropout takes the first half of a split."""
    if getattr(getattr(denoiser, "network", None), "takes_train", False):
        k_drop, key = jax.random.split(key)
        return k_drop, key
    return None, key


def denoising_loss(
    denoiser,
    *,
    weighting: Weighting = SNRWeighting(),
    time_sampling: TimeSampling = UniformTime(),
    path: Path | None = None,
) -> LossFn:
    """Returns loss(params, batch, key) -> (batch,): E w_x0(t) ||x0_hat - x0||^2.

    batch: {'data': x0 (batch, ...), optional 'source' (x1), optional 'cond'}. x_t is drawn by
    `path` (default: the diffusion process of the denoiser's schedule, x_t = alpha x0 + sigma
    eps) at t ~ time_sampling; the network predicts in the denoiser's parameterisation and the
    weight on the x0 error is `weighting` (Ho et al.'s L_simple is SNRWeighting).
    """
    check_instance("weighting", weighting, Weighting)
    check_instance("time_sampling", time_sampling, TimeSampling)
    path = Path(schedule=denoiser.schedule) if path is None else path
    check_instance("path", path, Path)
    if path.schedule != denoiser.schedule:
        raise ValueError("path.schedule must be the denoiser's schedule (the targets use it).")
    if not isinstance(path.bridge, NoBridge):
        raise ValueError(
            "denoising_loss needs a path without bridge noise (x_t = alpha x0 + sigma x1); "
            f"got bridge={path.bridge!r}: use flow_matching_loss."
        )
    time_sampling.check(path.schedule)

    def loss(params, batch, key: Array) -> Array:
        k_drop, key = split_dropout_key(denoiser, key)
        ps = path.draw(key, batch["data"], time_sampling, batch.get("source"), batch.get("cond"))
        pred = denoiser.predict(params, ps.x_t, ps.t, ps.cond, key=k_drop)
        weight = weighting(pred.rec)
        return weighted_denoising_error(
            pred.pred, ps.x0, ps.x1, ps.x_t, pred.rec, denoiser.parameterisation, weight
        )

    return loss


def with_label_dropout(loss_fn: LossFn, rate: float, null_label: int) -> LossFn:
    """Classifier-free guidance training (Ho & Salimans 2022): each example's label is replaced
    by `null_label` (the network's 'no label' index) with probability `rate`, drawn from a key
    split off the step's key; the wrapped loss gets the other half."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"rate must lie in [0, 1); got {rate!r}.")

    def loss(params, batch, key: Array) -> Array:
        if "cond" not in batch:
            raise ValueError("with_label_dropout needs batch['cond'] (integer labels).")
        k_drop, key = jax.random.split(key)
        cond = batch["cond"]
        dropped = jax.random.bernoulli(k_drop, rate, jnp.shape(cond))
        cond = jnp.where(dropped, jnp.asarray(null_label, jnp.asarray(cond).dtype), cond)
        return loss_fn(params, {**batch, "cond": cond}, key)

    return loss
