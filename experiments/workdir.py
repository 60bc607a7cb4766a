"""A workdir that cannot lie: one process at a time, and only the config that made it.

`open_workdir(config, workdir)` takes an exclusive lock (a second process on the same workdir
fails at once, naming the holder) and records the resolved config in `config.json`; a later run
with a different config stops with the keys that differ. To start afresh, delete the workdir
(or pass `--fresh` to the launcher, which does it under the lock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import time

LOCK = ".lock"
RECORD = "config.json"
# keys that change how a run looks or what it keeps, not what it computes: a resume may differ
COSMETIC = frozenset({"train.progress", "train.keep_checkpoints_every"})
# keys that only change how a trained model is sampled and scored (experiments.run --trained)
EVALUATION = ("sample.", "eval.")


class WorkdirError(RuntimeError):
    """The workdir is held by another process, or was made by another config."""


def flatten(tree: dict, prefix: str = "") -> dict:
    """{'a': {'b': 1}} -> {'a.b': 1}; tuples become lists (as JSON stores them)."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def set_key(config, dotted: str, value, what: str = "override") -> None:
    """config.<dotted> = value (a JSON list becomes a tuple where the key holds one); a key the
    config lacks fails naming it."""
    *parents, leaf = dotted.split(".")
    node = config
    for name in parents:
        node = getattr(node, name)
    if leaf not in node:
        raise KeyError(f"{what} {dotted!r}: the config has no such key.")
    if isinstance(node[leaf], tuple) and isinstance(value, list):
        value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
    setattr(node, leaf, value)


def config_dict(config) -> dict:
    return json.loads(config.to_json()) if hasattr(config, "to_json") else dict(config)


def base_defaults() -> dict:
    """The flattened defaults of configs/common.base(): every key's value when nobody sets it."""
    from configs import common

    return flatten(config_dict(common.base()))


def differing_keys(recorded: dict, current: dict, defaults: dict | None = None) -> list[str]:
    """'key: recorded -> current' for every key whose value differs (or exists on one side).

    A key the record lacks but `defaults` holds at the current value is no difference: the run
    predates the key, and a key is added with the default that keeps the old behaviour."""
    a, b = flatten(recorded), flatten(current)
    defaults = base_defaults() if defaults is None else defaults
    missing = object()
    return [
        f"{k}: {a.get(k, '<absent>')!r} -> {b.get(k, '<absent>')!r}"
        for k in sorted(set(a) | set(b))
        if k not in COSMETIC
        and a.get(k, missing) != b.get(k, missing)
        and not (k not in a and k in defaults and defaults[k] == b.get(k, missing))
    ]


def _acquire(workdir: str):
    handle = open(os.path.join(workdir, LOCK), "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise WorkdirError(
            f"workdir {workdir} is in use by {holder}; wait or pick another."
        ) from None
    handle.seek(0)
    handle.truncate()
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    handle.write(f"pid {os.getpid()} on {socket.gethostname()} since {started}")
    handle.flush()
    return handle


def _check_record(workdir: str, current: dict) -> None:
    path = os.path.join(workdir, RECORD)
    if os.path.exists(path):
        with open(path) as f:
            recorded = json.load(f)
        diff = differing_keys(recorded, current)
        if diff:
            raise WorkdirError(
                f"workdir {workdir} was made by another config; differing keys:\n  "
                + "\n  ".join(diff)
                + "\nRerun with the recorded config to resume, or start afresh with --fresh "
                "(or delete the workdir)."
            )
        return
    with open(path + ".tmp", "w") as f:
        json.dump(current, f, indent=2)
    os.replace(path + ".tmp", path)


def check_trained(config, trained: str) -> dict:
    """The results of the finished run in `trained` ({} for a run in progress when config scores a
    kept checkpoint), after checking that `config` differs from the run's recorded config only in
    EVALUATION keys (not sample.* when train.reflow > 0)."""
    record, results = os.path.join(trained, RECORD), os.path.join(trained, "results.json")
    finished = os.path.exists(results)
    if not finished and config.eval.checkpoint_step is None:
        raise WorkdirError(
            f"{trained} holds no finished run (no results.json): train it first, or score one of "
            "its kept checkpoints (eval.checkpoint_step), which a run in progress may hold."
        )
    with open(record) as f:
        recorded = json.load(f)
    free = ("eval.",) if config.train.reflow else EVALUATION
    diff = [d for d in differing_keys(recorded, config_dict(config)) if not d.startswith(free)]
    if diff:
        raise WorkdirError(
            f"{trained} was trained by another config; only {' and '.join(free)}* keys may differ "
            "when evaluating a trained run; differing keys:\n  " + "\n  ".join(diff)
        )
    if not finished:
        return {}
    with open(results) as f:
        return json.load(f)


@contextlib.contextmanager
def open_workdir(config, workdir: str, *, fresh: bool = False):
    """Locks `workdir` and checks (or writes) its config record for the duration of a run."""
    os.makedirs(workdir, exist_ok=True)
    handle = _acquire(workdir)
    try:
        if fresh:
            for name in os.listdir(workdir):
                if name != LOCK:
                    target = os.path.join(workdir, name)
                    shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)
        _check_record(workdir, config_dict(config))
        yield workdir
    finally:
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def guarded(validate, build, run):
    """train_and_evaluate(config, workdir, *, fresh=False) of an experiment: its config values
    checked and its components resolved before the workdir is touched, then `run` under the
    workdir's lock and config record."""

    def train_and_evaluate(config, workdir: str, *, fresh: bool = False) -> dict:
        validate(config)
        build(config)
        with open_workdir(config, workdir, fresh=fresh):
            return run(config, workdir)

    return train_and_evaluate
