"""Experiment 1: the 2-D flow-matching table of [SF]2M (Tong et al. 2024), one (method, task, seed).

train_and_evaluate(config, workdir) trains the 3 x 64 SELU MLP with the named CFM loss (AdamW),
integrates 100 Euler steps from the test source to t = 0, and writes results.json (W2, NPE, wall
times), metrics.jsonl, tensorboard/, samples.png and the config to workdir. Run: see configs/flow2d.py.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from diffjax import Denoiser, FlaxNetwork, metrics, resolve
from diffjax.data import TASKS, sample_2d
from diffjax.losses import (
    ExactOT,
    Independent,
    exact_ot_pairs_on_host,
    flow_matching_loss,
    presets,
)
from diffjax.networks import MLP
from diffjax.parameterisations import VelocityPrediction
from diffjax.plotting import plot_trajectories_2d
from diffjax.samplers import Euler, sample
from diffjax.training import (
    Checkpointer,
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


def _datasets(config):
    source_name, target_name = TASKS[config.task]
    seed = config.seed
    num_test = config.quick_num_test if config.quick else config.num_test
    return (
        sample_2d(source_name, config.num_train, seed * 10 + 1),
        sample_2d(target_name, config.num_train, seed * 10 + 2),
        sample_2d(source_name, num_test, seed * 10 + 3),
        sample_2d(target_name, num_test, seed * 10 + 4),
    )


def _fit(config, workdir, params, loss_fn, batches_from, total, key):
    """Trains from `params` with AdamW for `total` steps, checkpointed in workdir (resumable)."""
    opt = make_optimizer("adamw", config.learning_rate, weight_decay=config.weight_decay)
    state = init_train_state(params, opt, key)
    step = make_train_step(
        loss_fn, opt, ema=0.0, ema_warmup=False, steps_per_call=config.steps_per_call
    )
    ckpt = Checkpointer(os.path.join(workdir, "checkpoints"), every=config.checkpoint_every)
    ckpt.install_sigterm_handler()
    writer = MetricWriter(workdir)
    start = time.perf_counter()
    state, finished = train(
        state,
        step,
        batches_from,
        total,
        checkpointer=ckpt,
        writer=writer,
        log_every=config.log_every,
        progress=config.progress,
    )
    ckpt.close()
    writer.close()
    if not finished:
        raise SystemExit(f"stopped by SIGTERM at step {int(state.step)}; rerun to resume.")
    return state.params, time.perf_counter() - start


def _euler(denoiser, params, x_source, steps: int, return_trajectory: bool = False):
    """Euler on the learned velocity from the source (t = 1) to the target (t = 0).

    The network is evaluated on the closed interval [0, 1], as torchcfm integrates it (training
    draws t inside the path's [1e-5, 1 - 1e-5]; velocities need no clip)."""
    closed = dataclasses.replace(denoiser.schedule, t_min=0.0, t_max=1.0)
    denoiser = dataclasses.replace(denoiser, schedule=closed)
    grid = np.linspace(1.0, 0.0, steps + 1)
    out = sample(
        denoiser,
        jnp.asarray(x_source),
        grid,
        Euler(),
        params=params,
        return_trajectory=return_trajectory,
    )
    return grid, out


def build(config):
    """(path, denoiser, host_ot) of the config: the method's preset path (with its paper's sigma
    unless config.sigma is set), the coupling override, and the MLP predicting the velocity on
    the path's schedule."""
    sigma = {} if config.sigma is None else {"sigma": config.sigma}
    path = resolved("method", resolve.path, {"name": config.method, **sigma})
    if config.coupling is not None:
        spec = {"name": config.coupling}
        if config.epsilon is not None:
            spec["epsilon"] = config.epsilon
        path = dataclasses.replace(path, coupling=resolved("coupling", resolve.coupling, spec))
    # OT-CFM with the coupling in the input pipeline is the I-CFM loss on OT-paired batches; on
    # several devices always (a host callback inside a multi-device step deadlocks XLA:CPU)
    several = jax.device_count() > 1
    host_ot = (config.couple_on_host or several) and isinstance(path.coupling, ExactOT)
    if host_ot:
        path = dataclasses.replace(path, coupling=Independent())
    model = MLP(width=config.width, depth=config.depth)
    denoiser = Denoiser(FlaxNetwork(model), path.schedule, VelocityPrediction())
    return path, denoiser, host_ot


def _batches_over(config, target, source, paired: bool, total: int, host_ot: bool):
    """batches_from(k): the batches of steps k, k + 1, ...; the data order is a function of
    (seed, epoch), so a resumed run sees the same batches. Unpaired sets are shuffled
    independently (the coupling is the loss's job); host_ot pairs them by exact OT here."""
    per_epoch = config.num_train // config.batch_size

    def batches_from(first_step):
        orders = {}
        for k in range(first_step, total):
            epoch, b = divmod(k, per_epoch)
            if epoch not in orders:
                rng = np.random.default_rng([config.seed, epoch])
                order_t = rng.permutation(config.num_train)
                order_s = order_t if paired else rng.permutation(config.num_train)
                orders = {epoch: (order_t, order_s)}
            order_t, order_s = orders[epoch]
            sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
            data, source_b = target[order_t[sl]], source[order_s[sl]]
            if host_ot:
                source_b = exact_ot_pairs_on_host(data, source_b)
            yield {"data": data, "source": source_b}

    return batches_from


def _evaluate(config, denoiser, params, src_test, tgt_test) -> tuple[dict, np.ndarray]:
    """W2 of the Euler samples to the test targets and the NPE of their paths, with timings."""
    start = time.perf_counter()
    grid, out = _euler(denoiser, params, src_test, config.euler_steps, return_trajectory=True)
    traj = np.asarray(out.trajectory)
    sample_time = time.perf_counter() - start
    velocities = np.diff(traj, axis=0) / np.diff(grid)[:, None, None]
    start = time.perf_counter()
    w2 = metrics.wasserstein2(traj[-1], tgt_test)
    w2_src_tgt = metrics.wasserstein2(src_test, tgt_test)
    npe = metrics.normalised_path_energy(metrics.path_energy(velocities, np.diff(grid)), w2_src_tgt)
    timing = {"sample_seconds": sample_time, "eval_seconds": time.perf_counter() - start}
    return {"w2": w2, "npe": npe, **timing}, traj


def _train_with_reflow(config, workdir, denoiser, path, host_ot, params, key, data, total):
    """The first training, then config.reflow rounds (Liu et al. 2023): each pairs the training
    sources with the current flow's images of them and fine-tunes the same network on those
    fixed pairs (a k-rectified flow after k - 1). Returns (params, train seconds)."""
    src_train, tgt_train = data
    loss_fn = flow_matching_loss(denoiser, path)
    batches = _batches_over(config, tgt_train, src_train, False, total, host_ot)
    params, train_time = _fit(
        config, workdir, params, loss_fn, batches, total, jax.random.fold_in(key, 1)
    )
    for k in range(1, config.reflow + 1):
        images = np.asarray(_euler(denoiser, params, src_train, config.euler_steps)[1].samples)
        batches = _batches_over(config, images, src_train, True, total, host_ot)
        round_dir = os.path.join(workdir, f"reflow{k}")
        fold = jax.random.fold_in(key, 1 + k)
        params, seconds = _fit(config, round_dir, params, loss_fn, batches, total, fold)
        train_time += seconds
    return params, train_time


def validate(config) -> None:
    """Every value checked before any work (the key is named in the error)."""
    if config.task not in TASKS:
        raise ValueError(f"config.task={config.task!r} is not one of {sorted(TASKS)}.")
    if config.reflow and config.method != "rf":
        raise ValueError(f"config.reflow={config.reflow} needs config.method='rf'.")
    check.positive_int(config, "num_train", "num_test", "quick_num_test", "batch_size")
    check.positive_int(config, "epochs", "quick_epochs", "width", "depth", "euler_steps")
    check.positive_int(config, "checkpoint_every", "log_every", "steps_per_call")
    check.positive(config, "learning_rate")
    check.non_negative(config, "weight_decay", "reflow")
    check.at_most(config, "batch_size", config.num_train, "config.num_train")
    epochs = config.quick_epochs if config.quick else config.epochs
    total = epochs * (config.num_train // config.batch_size)
    if total % config.steps_per_call:
        raise check.ConfigError(
            f"config.steps_per_call={config.steps_per_call} must divide the {total} steps."
        )


def _run(config, workdir: str) -> dict:
    path, denoiser, host_ot = build(config)
    src_train, tgt_train, src_test, tgt_test = _datasets(config)
    key = jax.random.PRNGKey(config.seed)
    params = denoiser.init(key, jnp.zeros((1, 2), jnp.float32))
    epochs = config.quick_epochs if config.quick else config.epochs
    total = epochs * (config.num_train // config.batch_size)
    params, train_time = _train_with_reflow(
        config, workdir, denoiser, path, host_ot, params, key, (src_train, tgt_train), total
    )
    scores, traj = _evaluate(config, denoiser, params, src_test, tgt_test)
    last_dir = os.path.join(workdir, f"reflow{config.reflow}") if config.reflow else workdir
    final_loss = next((r["loss"] for r in reversed(read_metrics(last_dir)) if "loss" in r), None)
    results = {
        "method": config.method,
        "task": config.task,
        "seed": config.seed,
        "quick": config.quick,
        "sigma": presets.noise_scale(path),
        "w2": scores["w2"],
        "npe": scores["npe"],
        "reflow": config.reflow,
        "final_loss": final_loss,
        "epochs": epochs,
        "train_seconds": train_time,
        "sample_seconds": scores["sample_seconds"],
        "eval_seconds": scores["eval_seconds"],
    }
    with open(os.path.join(workdir, "results.json"), "w") as f:
        json.dump(results, f, indent=2)
    rounds = f" + {config.reflow} reflow" if config.reflow else ""
    title = (
        f"{config.method}{rounds} {config.task}: W2 {results['w2']:.3f}, NPE {results['npe']:.3f}"
    )
    plot_trajectories_2d(os.path.join(workdir, "samples.png"), traj, tgt_test, title)
    return results


train_and_evaluate = guarded(validate, build, _run)


if __name__ == "__main__":
    from experiments.launch import launch

    launch(train_and_evaluate, "configs/flow2d.py", "runs/flow2d")
