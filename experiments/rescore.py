"""A finished run scored again without training (`--trained`): another sampler, a kept
checkpoint (eval.checkpoint_step) or another draw of its samples (eval.seed).

    python -m experiments.run --config configs/ddpm_digits.py:quick --config.sample.clip_x0=1 \
        --trained runs/ddpm_quick --workdir runs/ddpm_quick/evals/clipped

The evaluation has its own workdir, lock and config record; every key but sample.* and eval.*
must equal the trained run's (experiments.workdir.check_trained). Checkpoints are opened read
only, so a run still training can be scored at a kept checkpoint.
"""

from __future__ import annotations

import os

import jax

from diffjax.training import Checkpointer, init_train_state
from experiments import run
from experiments.workdir import WorkdirError, check_trained, open_workdir


def _restore_trained(config, trained: str, comps, params, key):
    """(evaluated parameters (EMA, or the last), step) of the finished run in `trained`: its last
    checkpoint (the last reflow round's), or the kept one at eval.checkpoint_step; refuses a last
    checkpoint short of the run's steps and names the kept steps when the asked one is absent."""
    last = os.path.join(trained, f"reflow{config.train.reflow}") if config.train.reflow else trained
    target = init_train_state(params, comps.optimizer, jax.random.fold_in(key, 1))
    ckpt = Checkpointer(os.path.join(last, "checkpoints"), read_only=True)
    asked = config.eval.checkpoint_step
    try:
        if asked is not None and asked not in ckpt.all_steps():
            raise WorkdirError(
                f"config.eval.checkpoint_step={asked}: {last} keeps checkpoints at steps "
                f"{ckpt.all_steps()} only (train.keep_checkpoints_every keeps more)."
            )
        state, _ = ckpt.restore(target, asked)
    finally:
        ckpt.close()
    total = run.total_steps(config)
    if asked is None and config.train.num_steps is not None and int(state.step) != total:
        raise WorkdirError(
            f"{last}: the last checkpoint is at step {int(state.step)}, not {total}."
        )
    return (state.ema_params if config.optim.ema > 0 else state.params), int(state.step)


_KEPT = ("final_loss", "steps", "num_params", "train_seconds")  # of the trained run's results


def _reevaluate(config, workdir: str, trained: str) -> dict:
    started = run.run_started()
    base = check_trained(config, trained)
    data, comps, key, params = run.prepare(config)
    params, step = _restore_trained(config, trained, comps, params, key)
    scores = run.evaluate_params(config, workdir, comps, data, params)
    kept = ("num_params",) if config.eval.checkpoint_step is not None else _KEPT
    results = {
        "name": config.name,
        "data": config.data.name,
        "seed": config.seed,
        **scores,
        **{k: base[k] for k in kept if k in base},
        "trained_step": step,
        "trained_in": os.path.abspath(trained),
        "trained_revision": base.get("provenance", {}).get("git_revision"),
    }
    return run.write_results(config, workdir, results, started)


def evaluate_trained(config, workdir: str, trained: str, *, fresh: bool = False) -> dict:
    """Samples and scores the finished run in `trained` with this config's sample.* and eval.*
    settings, written to `workdir` (its own lock and config record); every other key must equal
    the trained run's (sample.* too when train.reflow > 0: reflow trains on its samples)."""
    run.validate(config)
    run.build(config)
    if os.path.abspath(workdir) == os.path.abspath(trained):
        raise WorkdirError(f"--workdir must differ from the trained run's directory {trained}.")
    with open_workdir(config, workdir, fresh=fresh):
        return _reevaluate(config, workdir, trained)
