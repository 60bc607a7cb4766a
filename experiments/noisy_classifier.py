"""The noise-aware classifier that classifier guidance needs (Dhariwal & Nichol 2021), trained
in-project on the run's own training images, labels and diffusion process (issue 13).

`NoisyClassifier` (the run's UNet options: its encoder and middle, then a pooled linear head) on
x_t at the same noise input as the run's network, cross-entropy at t ~ the run's time law, Adam
with the run's learning rate, batches and warm-up, `eval.classifier_steps` steps in one jitted,
donated step (`training.make_train_step`; no EMA). Its held-out accuracy at a few t is reported
beside the guidance table.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from diffjax import losses, resolve
from diffjax.networks import NoisyClassifier
from diffjax.training import init_train_state, make_optimizer, make_train_step
from experiments.datasets import image_batches

ACCURACY_TIMES = (0.1, 0.3, 0.5, 0.7, 0.9)


def _module(config, classes: int) -> NoisyClassifier:
    u = config.network.unet
    return NoisyClassifier(
        num_classes=classes,
        ch=u.ch,
        ch_mult=tuple(u.ch_mult),
        num_res_blocks=u.num_res_blocks,
        attn_resolutions=tuple(u.attn_resolutions),
        groups=u.groups,
    )


def classify_fn(config, classes: int):
    module = _module(config, classes)
    return lambda params, x, noise: module.apply(params, x, noise)


def train_noisy_classifier(config, comps, data, classes: int, key) -> tuple[object, dict]:
    """(params, {f"classifier_accuracy_t{t}": held-out accuracy at t}) after
    config.eval.classifier_steps steps over the run's own input pipeline (same seed, batch size)."""
    den = comps.denoiser
    classify = classify_fn(config, classes)
    time_law = resolve.time_sampling(config.objective.time_sampling)
    loss = losses.noisy_classifier_loss(classify, den.schedule, den.noise_conditioning, time_law)
    optimizer = make_optimizer(
        "adam", config.optim.learning_rate, warmup_steps=config.optim.warmup_steps, grad_clip=1.0
    )
    step = make_train_step(loss, optimizer, ema=0.0)
    x0 = jnp.zeros((1, *data.shape), jnp.float32)
    params = _module(config, classes).init(key, x0, jnp.zeros((1,), jnp.float32))
    state = init_train_state(params, optimizer, jax.random.fold_in(key, 1))
    steps = config.eval.classifier_steps
    for batch in itertools.islice(image_batches(data, config, steps)(0), steps):
        state, _ = step(state, {"data": batch["data"], "cond": batch["cond"]})
    return state.params, heldout_accuracy(classify, den, state.params, data, key)


def heldout_accuracy(classify, den, params, data, key) -> dict:
    """Accuracy of argmax p(y | x_t) on the held-out digits noised to each of ACCURACY_TIMES."""
    x0 = jnp.asarray(data.test, jnp.float32)
    out = {}
    for i, t in enumerate(ACCURACY_TIMES):
        t_b = jnp.full((len(x0),), t, jnp.float32)
        rec = den.schedule(t_b)
        eps = jax.random.normal(jax.random.fold_in(key, 100 + i), x0.shape, jnp.float32)
        x_t = rec.alpha[:, None, None, None] * x0 + rec.sigma[:, None, None, None] * eps
        logits = classify(params, x_t, den.noise_conditioning(t_b, rec, den.schedule))
        hits = np.asarray(jnp.argmax(logits, -1)) == np.asarray(data.test_labels)
        out[f"classifier_accuracy_t{t:g}"] = float(hits.mean())
    return out
