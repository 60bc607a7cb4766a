"""The train state and the optimizer built from config values."""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from diffjax._checks import check_choice

OPTIMIZERS = ("adam", "adamw")
LR_SCHEDULES = ("constant", "cosine")


class TrainState(NamedTuple):
    params: Any  # network parameters (pytree of float32 arrays)
    ema_params: Any  # exponential moving average of params, same structure
    opt_state: Any  # optax state
    step: jax.Array  # int32 (), optimizer steps taken
    key: jax.Array  # PRNG key; step k uses fold_in(key, k)


def make_optimizer(
    name: str = "adam",
    learning_rate: float = 2e-4,
    *,
    warmup_steps: int = 0,
    lr_schedule: str = "constant",
    total_steps: int | None = None,
    grad_clip: float | None = None,
    weight_decay: float = 0.0,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-8,
) -> optax.GradientTransformation:
    """Adam/AdamW with linear warm-up, then a constant or cosine learning rate, after optional
    global-norm clipping (DDPM: Adam 2e-4, warm-up 5000, clip 1.0)."""
    check_choice("optimizer", name, OPTIMIZERS)
    check_choice("lr_schedule", lr_schedule, LR_SCHEDULES)
    if lr_schedule == "cosine":
        if not total_steps:
            raise ValueError("lr_schedule='cosine' needs total_steps.")
        lr = optax.warmup_cosine_decay_schedule(
            0.0, learning_rate, max(warmup_steps, 1), total_steps
        )
    elif warmup_steps:
        lr = optax.linear_schedule(0.0, learning_rate, warmup_steps)
    else:
        lr = learning_rate
    opt = (
        optax.adamw(lr, b1, b2, eps, weight_decay=weight_decay)
        if name == "adamw"
        else optax.adam(lr, b1, b2, eps)
    )
    return optax.chain(optax.clip_by_global_norm(grad_clip), opt) if grad_clip else opt


def init_train_state(params, optimizer: optax.GradientTransformation, key: jax.Array) -> TrainState:
    return TrainState(
        params=params,
        ema_params=jax.tree.map(jnp.copy, params),
        opt_state=optimizer.init(params),
        step=jnp.zeros((), jnp.int32),
        key=key,
    )


def ema_decay(step: jax.Array, decay: float, warmup: bool = True) -> jax.Array:
    """decay, or min(decay, (1 + step)/(10 + step)) with warm-up (as in many EMA implementations)."""
    if not warmup:
        return jnp.asarray(decay, jnp.float32)
    s = step.astype(jnp.float32)
    return jnp.minimum(decay, (1.0 + s) / (10.0 + s))
