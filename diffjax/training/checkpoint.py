"""Checkpoints with orbax: periodic, keep-k (and every keep_period-th for good), asynchronous,
resume from the workdir, save on SIGTERM.

A run's data order and keys are functions of (seed, step), so restoring the state at step k and
continuing reproduces the uninterrupted run bit for bit.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal

import jax
import orbax.checkpoint as ocp


class Checkpointer:
    """Wraps `ocp.CheckpointManager` for a TrainState plus a JSON dict of metadata."""

    def __init__(
        self,
        directory: str,
        *,
        every: int = 1000,
        keep: int = 3,
        keep_period: int | None = None,
        async_save: bool = True,
        read_only: bool = False,
    ):
        """read_only: restore only, never save, delete or clean up (a run in progress may be
        writing the directory)."""
        self.manager = ocp.CheckpointManager(
            os.path.abspath(directory),
            options=ocp.CheckpointManagerOptions(
                max_to_keep=None if read_only else keep,
                keep_period=keep_period,  # steps divisible by it are never deleted
                save_interval_steps=0 if read_only else every,
                enable_async_checkpointing=async_save,
                read_only=read_only,
                create=not read_only,
            ),
        )
        self.every = every
        self._sigterm = False
        self._previous_handler = None

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return sorted(self.manager.all_steps())

    def save(self, step: int, state, meta: dict | None = None, *, force: bool = False) -> bool:
        """Saves when step is on the interval (or force); returns whether it saved. Refuses at
        once, with the sizes, when the disk cannot hold the checkpoint."""
        check_free_space(str(self.manager.directory), state)
        args = ocp.args.Composite(
            state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta or {})
        )
        return self.manager.save(step, args=args, force=force)

    def restore(self, target, step: int | None = None):
        """(state, meta) at `step` (default latest) shaped like `target` (arrays or ShapeDtypeStructs
        carrying shardings, for restoring onto another device count)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.manager.directory}.")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, target)
        out = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        return type(target)(*out.state) if isinstance(target, tuple) else out.state, out.meta

    def meta(self, step: int | None = None) -> dict:
        """The JSON metadata saved with the checkpoint at `step` (default latest; {} if none),
        after any save in flight has finished."""
        self.manager.wait_until_finished()
        step = self.latest_step() if step is None else step
        if step is None:
            return {}
        args = ocp.args.Composite(meta=ocp.args.JsonRestore())
        return dict(self.manager.restore(step, args=args).meta or {})

    def install_sigterm_handler(self):
        """After SIGTERM, `should_stop()` is True: the loop saves (force=True) and exits. `close()`
        puts the previous handler back, so a SIGTERM after training (during evaluation, between
        a study's jobs) acts as it would without this checkpointer instead of being swallowed."""
        self._previous_handler = signal.signal(
            signal.SIGTERM, lambda *_: setattr(self, "_sigterm", True)
        )

    def should_stop(self) -> bool:
        return self._sigterm

    def close(self):
        if self._previous_handler is not None:
            signal.signal(signal.SIGTERM, self._previous_handler)
            self._previous_handler = None
        self.manager.wait_until_finished()
        self.manager.close()


def check_free_space(directory: str, state, margin: float = 1.2) -> None:
    """Raises OSError(ENOSPC) naming the directory when it has less free space than `margin`
    times the state's bytes (orbax's own error surfaces a save later, asynchronously)."""
    needed = margin * sum(getattr(leaf, "nbytes", 0) for leaf in jax.tree.leaves(state))
    os.makedirs(directory, exist_ok=True)
    free = shutil.disk_usage(directory).free
    if free < needed:
        raise OSError(
            errno.ENOSPC,
            f"no room for a checkpoint in {directory}: {free / 1e6:.1f} MB free, "
            f"{needed / 1e6:.1f} MB needed. Free disk space and rerun to resume.",
        )
