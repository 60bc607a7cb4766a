"""The generic diffusion / flow experiment: every choice a config key (configs/common.py).

train_and_evaluate(config, workdir) loads the data (`config.data`), builds the components
(`experiments.components`: network, process or path, parameterisation, loss, optimizer, sampler,
grid, guidance), trains with checkpoints (resumable; `train.reflow` rounds for rectified flow),
samples with the EMA parameters (or the last ones without EMA) and scores the metrics of
`config.eval.metrics`. Writes results.json (with the run's provenance: git revision, config hash,
versions, device, wall time), metrics.jsonl, tensorboard/, samples.png / samples.npz, config.json.

    python -m experiments.run --config configs/flow2d.py --workdir runs/flow2d
    python -m experiments.run --config configs/ddpm_digits.py:quick --workdir runs/ddpm_quick
    python -m experiments.run --config configs/ddpm_digits.py:quick --config.sample.clip_x0=1 \
        --trained runs/ddpm_quick --workdir runs/ddpm_quick/evals/clipped   # no training

`--trained` (experiments.rescore.evaluate_trained) scores a finished run again without training.
"""

from __future__ import annotations

import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from diffjax.losses import exact_ot_pairs_on_host
from diffjax.plotting import plot_trajectories_2d, save_image_grid
from diffjax.samplers import prior_sample, sample, time_grid
from diffjax.training import (
    Checkpointer,
    Hook,
    MetricWriter,
    init_train_state,
    make_train_step,
    read_metrics,
    train,
)
from experiments import components as C
from experiments import datasets, provenance
from experiments import evaluation as E
from experiments import validate as check
from experiments.workdir import guarded


def total_steps(config, data_size: int | None = None) -> int:
    """train.num_steps, or train.epochs full batches over the training points."""
    t = config.train
    if t.num_steps is not None:
        return t.num_steps
    size = config.data.num_train if data_size is None else data_size
    return t.epochs * (size // t.batch_size)


def draw(config, comps, params, num: int, key, x_init=None, cond=None, trajectory=False):
    """Samples from t_start to t_end with the configured sampler and grid, in chunks of
    sample.chunk (chunk i: fold_in(key, i) split into the prior's key and the sampler's);
    images are clipped to [-1, 1]. Returns (samples, x_init, trajectory or None, grid)."""
    s, den = config.sample, comps.sampling_denoiser
    grid = time_grid(den.schedule, s.num_steps, comps.grid, t_start=s.t_start, t_end=s.t_end)
    outs, inits, trajs = [], [], []
    for i, start in enumerate(range(0, num, s.chunk)):
        stop = min(num, start + s.chunk)
        k_init, k_run = jax.random.split(jax.random.fold_in(key, i))
        if x_init is None:
            x0 = prior_sample(
                k_init, (stop - start, *comps.shape), den.schedule, s.t_start, jnp.float32
            )
        else:
            x0 = jnp.asarray(x_init[start:stop])
        c = None if cond is None else jnp.asarray(cond[start:stop])
        k_run = k_run if comps.sampler.stochastic else None
        res = sample(
            den,
            x0,
            grid,
            comps.sampler,
            key=k_run,
            params=params,
            cond=c,
            return_trajectory=trajectory,
        )
        outs.append(np.asarray(res.samples))
        inits.append(np.asarray(x0))
        trajs.append(np.asarray(res.trajectory) if trajectory else None)
    samples = np.concatenate(outs)
    if comps.images:
        samples = np.clip(samples, -1.0, 1.0)
    traj = np.concatenate(trajs, axis=1) if trajectory else None
    return samples, np.concatenate(inits), traj, grid


def _fit(config, workdir, comps, params, batches_from, total, key, hooks=()):
    """Trains from `params` for `total` steps, checkpointed in workdir (resumable)."""
    o, t = config.optim, config.train
    state = init_train_state(params, comps.optimizer, key)
    step = make_train_step(
        comps.loss,
        comps.optimizer,
        ema=o.ema,
        ema_warmup=o.ema_warmup,
        steps_per_call=t.steps_per_call,
    )
    ckpt = Checkpointer(
        os.path.join(workdir, "checkpoints"),
        every=t.checkpoint_every,
        keep_period=t.keep_checkpoints_every or None,
    )
    ckpt.install_sigterm_handler()
    writer = MetricWriter(workdir)
    start = time.perf_counter()
    try:
        state, finished = train(
            state, step, batches_from, total, checkpointer=ckpt, writer=writer,
            log_every=t.log_every, hooks=tuple(h(writer) for h in hooks), progress=t.progress,
        )  # fmt: skip
        seconds = ckpt.meta().get("train_seconds")  # every process's, when the run resumed
    except Exception as err:
        if ckpt.should_stop():  # a SIGTERM still stops the run (and a study) when its save fails
            raise SystemExit(
                f"stopped by SIGTERM; its checkpoint failed ({type(err).__name__}: {err}); "
                "rerun to resume from the last periodic checkpoint."
            ) from err
        raise
    finally:
        ckpt.close()
        writer.close()
    if not finished:
        raise SystemExit(f"stopped by SIGTERM at step {int(state.step)}; rerun to resume.")
    params = state.ema_params if o.ema > 0 else state.params
    return params, time.perf_counter() - start if seconds is None else seconds


def _batches(config, data, comps, total, train=None, paired=False):
    if data.images:
        return datasets.image_batches(data, config, total)
    pair = exact_ot_pairs_on_host if comps.host_ot else None
    return datasets.point_batches(data, config, total, train=train, paired=paired, pair=pair)


def _sample_grid_hook(config, workdir, comps):
    """Every train.sample_every steps, 64 samples (EMA params) to samples/ and TensorBoard; a
    conditional model draws the classes in turn (row i of the 8x8 grid starts at class i)."""
    os.makedirs(os.path.join(workdir, "samples"), exist_ok=True)
    classes = C.num_classes(config) if config.data.conditional else 0
    cond = np.arange(64) % classes if classes else None

    def hook(writer):
        def run(k, state):
            images = draw(config, comps, state.ema_params, 64, jax.random.PRNGKey(k), cond=cond)[0]
            path = os.path.join(workdir, "samples", f"step_{k:07d}.png")
            writer.write_image(k, "samples", save_image_grid(path, images, scale=4))

        return Hook(config.train.sample_every, run)

    return hook


def _train_all(config, workdir, comps, data, params, key):
    """The first training, then train.reflow rounds (Liu et al. 2023): each pairs the training
    sources with the current flow's images of them and fine-tunes the same network on those
    fixed pairs (a k-rectified flow after k - 1). Returns (params, train seconds)."""
    total = total_steps(config, data.num_train)
    hooks = ()
    if data.images and config.train.sample_every:
        hooks = (_sample_grid_hook(config, workdir, comps),)
    batches = _batches(config, data, comps, total)
    params, seconds = _fit(
        config, workdir, comps, params, batches, total, jax.random.fold_in(key, 1), hooks
    )
    for k in range(1, config.train.reflow + 1):
        num = len(data.train_source)
        images = draw(config, comps, params, num, key, x_init=data.train_source)[0]
        batches = _batches(config, data, comps, total, train=images, paired=True)
        round_dir = os.path.join(workdir, f"reflow{k}")
        params, more = _fit(
            config, round_dir, comps, params, batches, total, jax.random.fold_in(key, 1 + k)
        )
        seconds += more
    return params, seconds


def sample_seed(config) -> int:
    """The seed of an evaluation's samples and metric noise: eval.seed, or seed + 1000 unset."""
    return config.seed + 1000 if config.eval.seed is None else config.eval.seed


def evaluate_params(config, workdir, comps, data, params) -> dict:
    """Samples (written to workdir), then every metric of config.eval.metrics. When no metric
    scores samples (the bound, the probability-flow NLL, the denoiser error) only a preview of
    E.PREVIEW_SAMPLES is drawn: a 1000-step ancestral sampling would cost more than the metric.
    The key of samples and metrics is eval.seed's (None: seed + 1000): with --trained, another
    eval.seed redraws them from the same parameters (a metric's spread over draws)."""
    key = jax.random.PRNGKey(sample_seed(config))
    num = config.eval.num_samples or len(data.test)
    if set(config.eval.metrics) <= E.SAMPLE_FREE:
        num = min(num, E.PREVIEW_SAMPLES)
    x_init = data.test_source[:num] if data.test_source is not None else None
    cond = None
    if config.data.conditional:
        cond = (
            np.resize(data.test_labels, num)
            if config.sample.labels is None
            else (np.full(num, config.sample.labels, np.int32))
        )
    start = time.perf_counter()
    samples, inits, traj, grid = draw(
        config,
        comps,
        params,
        num,
        key,
        x_init=x_init,
        cond=cond,
        trajectory="npe" in config.eval.metrics,
    )
    sample_time = time.perf_counter() - start
    _save_samples(workdir, data, samples, traj)
    ev = E.Evaluation(config, data, comps, params, samples, inits, cond, traj, grid, key)
    start = time.perf_counter()
    scores = E.evaluate(ev)
    return {
        **scores,
        "num_samples": num,
        "sample_seconds": sample_time,
        "eval_seconds": time.perf_counter() - start,
    }


def _save_samples(workdir, data, samples, traj) -> None:
    np.savez_compressed(os.path.join(workdir, "samples.npz"), samples=samples)
    path = os.path.join(workdir, "samples.png")
    if data.images:
        save_image_grid(path, samples[:100], ncols=10, scale=4)
    elif data.shape == (2,):
        trajectory = traj if traj is not None else samples[None]
        plot_trajectories_2d(path, trajectory, data.test, "samples")


def validate(config) -> None:
    """Every value checked before any work (the key is named in the error)."""
    datasets.check_name(config.data.name)
    check.positive_int(config, "data.num_train", "data.num_test", "train.batch_size")
    check.positive_int(config, "train.checkpoint_every", "train.log_every", "train.steps_per_call")
    check.positive_int(config, "sample.num_steps", "sample.chunk")
    check.positive_int(config, "eval.pf_nll_probes", "eval.pf_nll_dequantisations")
    check.positive_int(config, "network.mlp.width", "network.mlp.depth")
    check.positive(config, "optim.learning_rate")
    check.non_negative(config, "optim.weight_decay", "optim.warmup_steps", "train.reflow")
    check.non_negative(config, "train.sample_every", "eval.pf_nll_examples")
    check.non_negative(config, "train.keep_checkpoints_every")
    check.optional(config, check.positive_int, "eval.checkpoint_step")
    check.optional(config, check.non_negative, "eval.seed")
    if config.train.keep_checkpoints_every % config.train.checkpoint_every:
        raise check.ConfigError(
            f"config.train.keep_checkpoints_every={config.train.keep_checkpoints_every} must be a "
            f"multiple of config.train.checkpoint_every={config.train.checkpoint_every} "
            "(only saved steps can be kept)."
        )
    check.fraction(config, "optim.ema", "objective.label_dropout")
    check.optional(
        config, check.positive_int, "train.num_steps", "train.epochs", "eval.num_samples"
    )
    check.optional(config, check.positive, "optim.grad_clip", "sample.clip_x0")
    if config.train.num_steps is None and config.train.epochs is None:
        raise check.ConfigError("set config.train.num_steps or config.train.epochs.")
    if config.train.reflow and config.process.path != "rf":
        raise check.ConfigError(
            f"config.train.reflow={config.train.reflow} needs config.process.path='rf'."
        )
    if not config.data.name.startswith(("2d:", "gmm:")) and config.train.num_steps is None:
        raise check.ConfigError("image data: set config.train.num_steps (epochs count points).")
    E.check_metrics(config)
    if config.data.name.startswith(("2d:", "gmm:")):
        check.at_most(config, "train.batch_size", config.data.num_train, "config.data.num_train")
        total = total_steps(config)
        if total < 1:
            raise check.ConfigError(f"the config trains {total} steps (train.epochs x batches).")
        if total % config.train.steps_per_call:
            raise check.ConfigError(
                f"config.train.steps_per_call={config.train.steps_per_call} must divide the {total} steps."
            )


def build(config):
    """The components, checked without data (the shape is filled in once the data is loaded)."""
    return C.build(config, total_steps(config) if config.optim.lr_schedule != "constant" else None)


def prepare(config):
    """(data, components, key, freshly initialised params) of a run."""
    data = datasets.load(config)
    if data.images and config.data.num_test < len(data.test):
        data = datasets.truncate_test(data, config.data.num_test)
    check.at_most(
        config, "train.batch_size", data.num_train, f"the {data.num_train} training examples"
    )
    E.check_metrics(config, data)
    comps = C.with_data(build(config), data)
    key = jax.random.PRNGKey(config.seed)
    cond = jnp.zeros((1,), jnp.int32) if config.data.conditional else None
    params = comps.denoiser.init(key, jnp.zeros((1, *data.shape), jnp.float32), cond)
    return data, comps, key, params


def run_started() -> tuple[float, str]:
    """When and at which revision a run starts (the code it imports is the start's)."""
    return time.perf_counter(), provenance.code_revision()


def write_results(config, workdir, results: dict, started: tuple[float, str]) -> dict:
    wall, revision = time.perf_counter() - started[0], started[1]
    results = {**results, "provenance": provenance.record(config, wall, revision)}
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    return results


def _run(config, workdir: str) -> dict:
    started = run_started()
    data, comps, key, params = prepare(config)
    num_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    params, train_time = _train_all(config, workdir, comps, data, params, key)
    scores = evaluate_params(config, workdir, comps, data, params)
    last = os.path.join(workdir, f"reflow{config.train.reflow}") if config.train.reflow else workdir
    final_loss = next((r["loss"] for r in reversed(read_metrics(last)) if "loss" in r), None)
    results = {
        "name": config.name,
        "data": config.data.name,
        "seed": config.seed,
        **scores,
        "final_loss": final_loss,
        "steps": total_steps(config, data.num_train),
        "num_params": num_params,
        "train_seconds": train_time,
    }
    return write_results(config, workdir, results, started)


def _validate_training(config) -> None:
    validate(config)
    if config.eval.checkpoint_step is not None:
        raise check.ConfigError(
            f"config.eval.checkpoint_step={config.eval.checkpoint_step} scores a kept checkpoint "
            "of a finished run: pass it with --trained, not to a training run."
        )


train_and_evaluate = guarded(_validate_training, build, _run)


if __name__ == "__main__":
    from experiments.launch import launch
    from experiments.rescore import evaluate_trained

    launch(train_and_evaluate, "configs/flow2d.py", "runs/flow2d", evaluate_trained)
