"""Experiment 2: DDPM (Ho et al. 2020) on images: sklearn digits here, CIFAR-10 where available.

train_and_evaluate(config, workdir) trains the UNet with L_simple (eps prediction, uniform
discrete timesteps), keeps an EMA, writes metrics.jsonl / tensorboard / periodic sample grids,
then with the EMA parameters: draws samples by ancestral sampling over all T steps, computes the
full variational bound in bits/dim on the held-out images and, for 8x8 digits, the Frechet
distance in the in-project digits classifier's feature space; with `eval.inception_weights` (a local
path) the Inception FID against the eval split. Writes results.json, samples.png.
Run: see configs/ddpm_digits.py and configs/ddpm_cifar10.py.
"""

from __future__ import annotations

import json
import os
import time

import grain
import jax
import jax.numpy as jnp
import numpy as np

from diffjax import Denoiser, FlaxNetwork, resolve
from diffjax.data import batches, image_source
from diffjax.losses import DiscreteTime, SNRWeighting, bits_per_dim, ddpm_bound, denoising_loss
from diffjax.metrics import inception_fid, load_inception_fid
from diffjax.models import DDPMIndexInput
from diffjax.networks import UNet
from diffjax.parameterisations import EpsPrediction
from diffjax.plotting import save_image_grid
from diffjax.samplers import DDPM, DDPMTimestepGrid, prior_sample, sample, time_grid
from diffjax.training import (
    Checkpointer,
    Hook,
    MetricWriter,
    init_train_state,
    make_optimizer,
    make_train_step,
    read_metrics,
    train,
)
from experiments import validate as check
from experiments.launch import resolved
from experiments.workdir import guarded


def build(config):
    """(model, denoiser, sampler): the UNet sees the 0-based DDPM timestep, as in Ho's code; the
    bound's reverse variance is the sampler's (sigma_t^2 = beta_t or beta~_t)."""
    variance = config.diffusion.sampler_variance
    spec = {"name": "ddpm", "variance": variance}
    sampler = resolved("diffusion.sampler_variance", resolve.sampler, spec)
    model = UNet(**config.model.to_dict())
    d = config.diffusion
    schedule = resolved(
        "diffusion",
        resolve.schedule,
        {
            "name": "ddpm",
            "num_timesteps": d.num_timesteps,
            "beta_schedule": d.beta_schedule,
            "beta_start": d.beta_start,
            "beta_end": d.beta_end,
        },
    )
    denoiser = Denoiser(FlaxNetwork(model), schedule, EpsPrediction(), DDPMIndexInput())
    return model, denoiser, sampler


def draw_samples(denoiser, params, shape, num: int, key, sampler: DDPM, chunk: int = 1000):
    """Ancestral sampling (Ho et al. 2020, Alg. 2) over all T timesteps, in chunks."""
    grid = time_grid(denoiser.schedule, denoiser.schedule.num_timesteps, DDPMTimestepGrid())
    out = []
    for i, start in enumerate(range(0, num, chunk)):
        k_init, k_run = jax.random.split(jax.random.fold_in(key, i))
        x_init = prior_sample(
            k_init, (min(chunk, num - start), *shape), denoiser.schedule, dtype=jnp.float32
        )
        res = sample(denoiser, x_init, grid, sampler, key=k_run, params=params)
        out.append(np.asarray(res.samples))
    return np.clip(np.concatenate(out), -1.0, 1.0)


def heldout_bits_per_dim(denoiser, params, images, key, variance, num_levels, chunk=500):
    """The full bound L_T + sum_t L_{t-1} (one lax.scan over all T terms), in bits/dim."""
    bound = jax.jit(
        lambda x, k: ddpm_bound(denoiser, params, x, k, variance=variance, num_levels=num_levels)[0]
    )
    nats = [
        np.asarray(bound(jnp.asarray(images[i : i + chunk]), jax.random.fold_in(key, i)))
        for i in range(0, len(images), chunk)
    ]
    nats = np.concatenate(nats)
    bpd = np.asarray(bits_per_dim(jnp.asarray(nats), jnp.asarray(images)))
    return float(bpd.mean()), float(bpd.std(ddof=1) / np.sqrt(len(bpd)))


def _fit(config, workdir, denoiser, sampler, train_src, writer):
    """L_simple training with EMA, periodic sample grids, checkpoints; (state, seconds, #params)."""
    shape = tuple(train_src[0]["image"].shape)
    num_steps = config.quick_steps if config.quick else config.num_steps
    loss_fn = denoising_loss(denoiser, weighting=SNRWeighting(), time_sampling=DiscreteTime())
    o = config.optim
    opt = make_optimizer(
        o.name, o.learning_rate, warmup_steps=o.warmup_steps, grad_clip=o.grad_clip
    )
    key = jax.random.PRNGKey(config.seed)
    params = denoiser.init(key, jnp.zeros((1, *shape), jnp.float32))
    num_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    state = init_train_state(params, opt, jax.random.fold_in(key, 1))
    step = make_train_step(loss_fn, opt, ema=o.ema)
    data = batches(
        train_src,
        config.batch_size,
        num_steps,
        seed=config.seed,
        transform=lambda r: {"data": r["image"]},
    )
    options = grain.ReadOptions(num_threads=2, prefetch_buffer_size=8)
    batches_from = lambda k: data[k:].to_iter_dataset(options)
    os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)

    def sample_grid(k, st):
        images = draw_samples(denoiser, st.ema_params, shape, 64, jax.random.PRNGKey(k), sampler)
        path = os.path.join(workdir, "samples", f"step_{k:07d}.png")
        writer.write_image(k, "samples", save_image_grid(path, images, scale=4))

    ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), every=config.checkpoint_every)
    ckpt.install_sigterm_handler()
    start = time.perf_counter()
    hooks = (Hook(config.sample_every, sample_grid),)
    state, finished = train(
        state,
        step,
        batches_from,
        num_steps,
        checkpointer=ckpt,
        writer=writer,
        log_every=config.log_every,
        hooks=hooks,
        progress=config.progress,
    )
    ckpt.close()
    if not finished:
        writer.close()
        raise SystemExit(f"stopped by SIGTERM at step {int(state.step)}; rerun to resume.")
    return state, time.perf_counter() - start, num_params


def _evaluate(config, workdir, denoiser, sampler, params, train_src, eval_src, inception):
    """Samples (written to workdir), the held-out bound in bits/dim, Frechet distances."""
    shape = tuple(train_src[0]["image"].shape)
    num_samples = config.quick_num_samples if config.quick else config.eval.num_samples
    eval_key = jax.random.PRNGKey(config.seed + 1000)
    start = time.perf_counter()
    samples = draw_samples(denoiser, params, shape, num_samples, eval_key, sampler)
    sample_time = time.perf_counter() - start
    save_image_grid(os.path.join(workdir, "samples.png"), samples[:100], ncols=10, scale=4)
    np.savez_compressed(os.path.join(workdir, "samples.npz"), images=samples)
    heldout = np.stack([eval_src[i]["image"] for i in range(len(eval_src))])
    if config.quick:
        heldout = heldout[:num_samples]
    start = time.perf_counter()
    levels = getattr(eval_src, "num_levels", 256)
    key = jax.random.fold_in(eval_key, 1)
    bpd, bpd_se = heldout_bits_per_dim(denoiser, params, heldout, key, sampler.variance, levels)
    results = {"bits_per_dim": bpd, "bits_per_dim_se": bpd_se}
    results.update(num_heldout=len(heldout), num_samples=len(samples))
    if shape == (8, 8, 1):
        results.update(_digits_metrics(samples, heldout, train_src))
    if inception is not None:  # FID against the eval split (Ho et al. used 50k vs the train set)
        results["fid"] = inception_fid(inception, samples, heldout)
    results.update(sample_seconds=sample_time, eval_seconds=time.perf_counter() - start)
    return results


def validate(config) -> None:
    """Every value checked before any work (the key is named in the error)."""
    check.positive_int(config, "batch_size", "num_steps", "quick_steps", "log_every")
    check.positive_int(config, "checkpoint_every", "sample_every", "quick_num_samples")
    check.positive_int(config, "eval.num_samples", "diffusion.num_timesteps")
    check.positive(config, "optim.learning_rate", "optim.grad_clip")
    check.non_negative(config, "optim.warmup_steps")
    check.fraction(config, "optim.ema", "model.dropout")


def _run(config, workdir: str) -> dict:
    # loaded first: a wrong weights path fails now, not after hours of training
    weights = config.eval.inception_weights
    inception = load_inception_fid(weights) if weights else None
    _, denoiser, sampler = build(config)
    train_src = image_source(config.dataset, "train", data_dir=config.data_dir)
    eval_src = image_source(config.dataset, config.eval_split, data_dir=config.data_dir)
    check.at_most(config, "batch_size", len(train_src), f"the {len(train_src)} training images")
    writer = MetricWriter(workdir)
    state, train_time, num_params = _fit(config, workdir, denoiser, sampler, train_src, writer)
    scores = _evaluate(
        config, workdir, denoiser, sampler, state.ema_params, train_src, eval_src, inception
    )
    num_steps = config.quick_steps if config.quick else config.num_steps
    results = {
        "dataset": config.dataset,
        "quick": config.quick,
        "num_params": num_params,
        "steps": num_steps,
        "final_loss": next(
            (r["loss"] for r in reversed(read_metrics(workdir)) if "loss" in r), None
        ),
        **scores,
        "train_seconds": train_time,
    }
    writer.write_scalars(
        num_steps, {k: v for k, v in results.items() if k.startswith(("fd", "bits"))}
    )
    writer.close()
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def _digits_metrics(samples, heldout, train_src) -> dict:
    """Frechet distance (digits-classifier features) of samples vs held-out digits, with the
    floor set by as many training digits vs held-out, and the class histogram of the samples."""
    from diffjax.metrics import (
        digits_classifier,
        digits_frechet_distance,
        digits_predictions,
    )

    params, accuracy = digits_classifier()
    n = len(samples)
    train_images = np.stack([train_src[i]["image"] for i in range(min(n, len(train_src)))])
    counts = np.bincount(digits_predictions(params, samples), minlength=10)
    return {
        "fd": digits_frechet_distance(params, samples, heldout),
        "fd_train_vs_heldout": digits_frechet_distance(params, train_images, heldout),
        "classifier_heldout_accuracy": accuracy,
        "sample_class_fractions": (counts / counts.sum()).round(4).tolist(),
    }


train_and_evaluate = guarded(validate, build, _run)


if __name__ == "__main__":
    from experiments.launch import launch

    launch(train_and_evaluate, "configs/ddpm_digits.py", "runs/ddpm_digits")
