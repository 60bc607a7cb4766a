"""The `guidance_sweep` metric: a class-conditional digits model sampled at each guidance method
of `eval.guidance_methods` and scale of `eval.guidance_sweep` (classifier-free guidance and its
variants, Ho & Salimans 2022; a noise-aware classifier's guidance, Dhariwal & Nichol 2021), each
scored by the in-project digits classifier from the run's own initial noise and labels."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import jax
import numpy as np

from diffjax import losses, metrics
from diffjax.samplers import ClassifierGuidance

if TYPE_CHECKING:
    from experiments.evaluation import Evaluation


def guidance_sweep(ev: Evaluation) -> dict:
    """Per guidance method of eval.guidance_methods (a sample.guidance spec) and scale w of
    eval.guidance_sweep (w = 0 unconditional, 1 conditional; Ho & Salimans 2022), from the run's
    initial noise and labels: FD, class accuracy and Inception-Score analogue in the digits
    classifier, under `guidance_sweep[method][w]`; the first method also as `fd_w<w>`,
    `class_accuracy_w<w>`, `inception_score_w<w>`."""
    params, _ = metrics.digits_classifier()
    out, table = {}, {}
    for i, method in enumerate(ev.config.eval.guidance_methods):
        table[method] = {}
        if method == CLASSIFIER:
            noisy, accuracy = _noisy_classifier(ev)
            out.update(accuracy)
        for w in ev.config.eval.guidance_sweep:
            if method == CLASSIFIER:
                scores = _classifier_guided_scores(ev, params, noisy, float(w))
            else:
                scores = _guided_scores(ev, params, method, float(w))
            table[method][f"{w:g}"] = scores
            if i == 0:
                out.update({f"{k}_w{w:g}": v for k, v in scores.items()})
    return out | {"guidance_sweep": table}


CLASSIFIER = "classifier"  # eval.guidance_methods entry: a noise-aware classifier's guidance


def _guided_scores(ev: Evaluation, params, method: str, w: float) -> dict:
    from experiments.components import sampling_denoiser

    config = ev.config.copy_and_resolve_references()
    config.sample.guidance, config.sample.guidance_scale = method, w
    den = sampling_denoiser(config, ev.components.denoiser)
    return _score_guided(ev, params, den, ev.params, f"{method} at guidance scale {w}")


def _noisy_classifier(ev: Evaluation):
    from experiments.components import num_classes
    from experiments.noisy_classifier import classify_fn, train_noisy_classifier

    classes = num_classes(ev.config)
    key = jax.random.fold_in(ev.key, 7)
    params, accuracy = train_noisy_classifier(ev.config, ev.components, ev.data, classes, key)
    log_prob = losses.classifier_log_prob(
        classify_fn(ev.config, classes),
        ev.components.denoiser.schedule,
        ev.components.denoiser.noise_conditioning,
    )
    return (params, log_prob, classes), accuracy


def _classifier_guided_scores(ev: Evaluation, params, noisy, w: float) -> dict:
    """The unconditional mode of the run's network (its 'no label' index) guided by the
    noise-aware classifier at scale w (Dhariwal & Nichol 2021)."""
    from experiments.components import sampling_denoiser

    clf_params, log_prob, classes = noisy
    config = ev.config.copy_and_resolve_references()
    config.sample.guidance_scale = None
    base = sampling_denoiser(config, ev.components.denoiser)
    den = ClassifierGuidance(base, log_prob, w, null_cond=classes)
    return _score_guided(ev, params, den, (ev.params, clf_params), f"classifier guidance at {w}")


def _score_guided(ev: Evaluation, params, den, model_params, what: str) -> dict:
    from experiments.evaluation import digit_scores
    from experiments.run import draw

    labels = np.asarray(ev.cond)
    comps = dataclasses.replace(ev.components, sampling_denoiser=den)
    images = draw(ev.config, comps, model_params, len(labels), ev.key, ev.x_init, labels)[0]
    images = metrics.finite(f"samples of {what}", images)
    return digit_scores(params, images, ev.data.test, labels)


def check_guidance_methods(config) -> None:
    """Each eval.guidance_methods entry at each swept scale, before any work: a guidance spec
    (its options, CFG++'s range and sampler) or 'classifier' (needs the UNet it is built from)."""
    from diffjax import resolve
    from experiments import validate
    from experiments.components import check_guided_sampler
    from experiments.launch import resolved

    for method in config.eval.guidance_methods:  # checked with no model attached
        if method == CLASSIFIER:
            if config.network.name != "unet":
                raise ValueError(
                    "config.eval.guidance_methods: 'classifier' builds its classifier from "
                    f"config.network.unet; needs config.network.name='unet', got "
                    f"{config.network.name!r}."
                )
            validate.positive_int(config, "eval.classifier_steps")
            continue
        for w in config.eval.guidance_sweep:
            guided = resolved(
                "eval.guidance_methods",
                lambda m, w=w: resolve.guidance(m, None, float(w), 0),
                method,
            )
            check_guided_sampler(config, guided, "config.eval.guidance_methods")
