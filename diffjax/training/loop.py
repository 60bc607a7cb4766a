"""The training loop: resume, steps, checkpoints, metrics, progress bar and periodic hooks.

Every experiment runs the same loop; what differs is the step function, the batches and the hooks
(evaluation, sample grids). The Python loop only dispatches jitted steps: metrics stay on the
device and are averaged and fetched every `log_every` steps. At most `max_in_flight` steps are
dispatched ahead of the host: with 8 fake CPU devices on 2 cores, ~200 queued multi-device steps
deadlocked XLA:CPU's collectives (a 40 s rendezvous timeout; never with <= 10 in flight).
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable, Iterable
from typing import NamedTuple

import jax
import numpy as np
from tqdm.auto import tqdm

from diffjax.training.checkpoint import Checkpointer
from diffjax.training.metric_writer import MetricWriter
from diffjax.training.state import TrainState


class Hook(NamedTuple):
    """fn(step, state) -> dict of scalars to log (or None), run every `every` steps and at the end."""

    every: int
    fn: Callable[[int, TrainState], dict | None]


def _check_steps(max_in_flight: int, num_steps: int, per_call: int) -> None:
    if max_in_flight < 1:
        raise ValueError(f"max_in_flight must be >= 1; got {max_in_flight}.")
    if num_steps % per_call:
        raise ValueError(
            f"num_steps={num_steps} must be a multiple of the step function's "
            f"steps_per_call={per_call}."
        )


def _next_batch(batches, per_call: int):
    """The next batch, or per_call batches stacked on a new leading axis."""
    if per_call == 1:
        return next(batches)
    group = [next(batches) for _ in range(per_call)]
    return jax.tree.map(lambda *leaves: np.stack(leaves), *group)


class TrainingDiverged(FloatingPointError):
    """A non-finite loss: training stops before the state is checkpointed or evaluated."""


class _Logger:
    """Averages the metrics of a log interval (one device transfer) and writes them; a
    non-finite loss raises TrainingDiverged naming the step and the last good checkpoint."""

    def __init__(self, step: int, writer: MetricWriter | None, bar, checkpointer=None):
        self.pending, self.t, self.step = [], time.perf_counter(), step
        self.writer, self.bar, self.checkpointer = writer, bar, checkpointer

    def check_finite(self, step: int, fetched=None) -> None:
        """Raises if any loss since the last log is NaN or infinite (called before saves)."""
        fetched = jax.device_get(self.pending) if fetched is None else fetched
        losses = np.asarray([m["loss"] for m in fetched], np.float64)
        if np.all(np.isfinite(losses)):
            return
        per_call = (step - self.step) // len(losses)
        first = self.step + (int(np.argmax(~np.isfinite(losses))) + 1) * per_call
        ckpt = self.checkpointer
        last = None if ckpt is None else ckpt.latest_step()
        where = (
            f"the last good checkpoint is step {last} in {ckpt.manager.directory}"
            if last is not None
            else "no checkpoint was saved"
        )
        raise TrainingDiverged(
            f"training diverged: non-finite loss by step {first} (checked at step {step}); "
            f"{where}. Nothing was evaluated or written; lower the learning rate, or resume."
        )

    def log(self, step: int) -> None:
        fetched = jax.device_get(self.pending)
        self.check_finite(step, fetched)
        scalars = {k: float(np.mean([m[k] for m in fetched])) for k in fetched[0]}
        now = time.perf_counter()
        scalars["steps_per_sec"] = (step - self.step) / (now - self.t)
        self.pending, self.t, self.step = [], now, step
        self.bar.set_postfix(
            loss=f"{scalars['loss']:.4g}", steps_s=f"{scalars['steps_per_sec']:.1f}"
        )
        if self.writer is not None:
            self.writer.write_scalars(step, scalars)


def _progress_bar(total: int, initial: int, progress: bool):
    quiet = not progress or jax.process_index() != 0
    return tqdm(total=total, initial=initial, disable=quiet, dynamic_ncols=True, mininterval=1.0)


def _run_hooks(hooks, crossed, step: int, num_steps: int, state, writer) -> None:
    for hook in hooks:
        if crossed(hook.every) or step == num_steps:
            out = hook.fn(step, state)
            if writer is not None and out:
                writer.write_scalars(step, out)


_now = time.perf_counter  # the loop's clock (tests replace it)


def _resume(checkpointer: Checkpointer | None, state: TrainState) -> tuple[TrainState, float]:
    """(the latest checkpoint's state, the training seconds recorded with it), or (state, 0)."""
    if checkpointer is None or checkpointer.latest_step() is None:
        return state, 0.0
    state, meta = checkpointer.restore(state)
    return state, float((meta or {}).get("train_seconds", 0.0))


def train(
    state: TrainState,
    step_fn: Callable,
    batches_from: Callable[[int], Iterable],
    num_steps: int,
    *,
    checkpointer: Checkpointer | None = None,
    writer: MetricWriter | None = None,
    log_every: int = 100,
    hooks: tuple[Hook, ...] = (),
    progress: bool = True,
    max_in_flight: int = 4,
) -> tuple[TrainState, bool]:
    """Trains from the latest checkpoint (or `state`) up to `num_steps`; returns (state, finished).

    batches_from(k) iterates the batches of steps k, k + 1, ... (a function of (seed, step)).
    finished is False when SIGTERM stopped the run (after a save). A step_fn with steps_per_call
    = k > 1 gets k stacked batches per call (num_steps a multiple of k; checkpoints, logs and
    hooks at the first call boundary past each interval). max_in_flight bounds the steps
    dispatched but not finished. A non-finite loss raises TrainingDiverged before any save.
    Every checkpoint's metadata holds train_seconds, the wall time spent in train() by every
    process that trained the run up to it (a resumed run's total, not the last process's).
    """
    per_call = getattr(step_fn, "steps_per_call", 1)
    _check_steps(max_in_flight, num_steps, per_call)
    state, spent = _resume(checkpointer, state)
    started = _now()
    seconds = lambda: spent + _now() - started
    step = int(state.step)
    if step % per_call:
        raise ValueError(f"the run restarts at step {step}, not a multiple of steps_per_call.")
    crossed = lambda every: step // every > (step - per_call) // every
    if writer is not None:
        writer.rewind(step)
    bar = _progress_bar(num_steps, step, progress)
    logger, in_flight = _Logger(step, writer, bar, checkpointer), collections.deque()
    batches = iter(batches_from(step))
    while step < num_steps:
        if checkpointer is not None and checkpointer.should_stop():
            break
        state, metrics = step_fn(state, _next_batch(batches, per_call))
        step += per_call
        logger.pending.append(metrics)
        in_flight.append(metrics)
        if len(in_flight) > max_in_flight:
            jax.block_until_ready(in_flight.popleft())
        bar.update(per_call)
        if crossed(log_every) or step == num_steps:
            logger.log(step)
        if checkpointer is not None and crossed(checkpointer.every):
            logger.check_finite(step)
            checkpointer.save(step, state, {"train_seconds": seconds()}, force=True)
            if writer is not None:  # a kill loses no metrics up to a checkpoint
                writer.flush()
        _run_hooks(hooks, crossed, step, num_steps, state, writer)
    bar.close()
    if checkpointer is not None and checkpointer.latest_step() != step:
        if logger.pending:
            logger.check_finite(step)
        meta = {"finished": step >= num_steps, "train_seconds": seconds()}
        checkpointer.save(step, state, meta, force=True)
    if writer is not None:
        writer.flush()
    return state, step >= num_steps
