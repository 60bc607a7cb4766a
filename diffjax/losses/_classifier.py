"""The noise-aware classifier of classifier guidance (Dhariwal & Nichol 2021, sec. 4): trained by
cross-entropy on x_t = alpha x0 + sigma eps at t ~ a time law, and its log p(y | x_t) for
`samplers.ClassifierGuidance`."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from diffjax.losses._time_sampling import TimeSampling, UniformTime
from diffjax.models import NoiseConditioning, TimeInput
from diffjax.parameterisations import broadcast_to_data
from diffjax.schedules import Schedule

Classify = Callable  # (params, x_t, noise_input) -> logits (batch, num_classes)


def classifier_log_prob(
    classify: Classify, schedule: Schedule, noise_conditioning: NoiseConditioning = TimeInput()
):
    """log_prob(params, x, t, labels) -> (batch,) log p(labels | x_t), the classifier evaluated
    at t clipped to the schedule's [t_min, t_max] (as a denoiser is)."""

    def log_prob(params, x, t, labels):
        t = jnp.broadcast_to(schedule.clip(jnp.asarray(t, x.dtype)), x.shape[:1])
        logits = classify(params, x, noise_conditioning(t, schedule(t), schedule))
        return jnp.take_along_axis(jax.nn.log_softmax(logits), labels[:, None], 1)[:, 0]

    return log_prob


def noisy_classifier_loss(
    classify: Classify,
    schedule: Schedule,
    noise_conditioning: NoiseConditioning = TimeInput(),
    time_sampling: TimeSampling = UniformTime(),
):
    """loss(params, batch, key) -> (batch,) -log p(y | x_t): batch {"data": x0, "cond": y},
    x_t = alpha(t) x0 + sigma(t) eps with t ~ time_sampling, eps ~ N(0, I)."""
    time_sampling.check(schedule)
    log_prob = classifier_log_prob(classify, schedule, noise_conditioning)

    def loss(params, batch, key):
        x0 = batch["data"]
        k_t, k_eps = jax.random.split(key)
        t = schedule.clip(time_sampling(k_t, x0.shape[0], schedule, x0.dtype))
        rec = schedule(t)
        eps = jax.random.normal(k_eps, x0.shape, x0.dtype)
        x_t = broadcast_to_data(rec.alpha, x0) * x0 + broadcast_to_data(rec.sigma, x0) * eps
        return -log_prob(params, x_t, t, batch["cond"])

    return loss
