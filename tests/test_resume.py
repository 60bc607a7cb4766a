"""A run killed with SIGKILL and resumed ends bit-identical to the uninterrupted run."""

import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ARGS = [
    "--config",
    "configs/flow2d.py:tiny",
    "--config.process.path=otcfm",
    "--config.train.epochs=12",
    "--config.data.num_train=2048",
    "--config.train.batch_size=128",
    "--config.train.checkpoint_every=16",  # 192 steps: the last periodic save is the final step
    "--config.train.log_every=16",
    "--config.train.progress=False",
]


def launch(workdir):
    workdir.mkdir(exist_ok=True)
    log = open(workdir / "log.txt", "a")  # a file, not a pipe: absl/orbax logs would fill a pipe
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.run", *ARGS, "--workdir", str(workdir)],
        cwd=ROOT,
        stdout=log,
        stderr=log,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


def final_state(workdir):
    from diffjax.training.checkpoint import Checkpointer

    ckpt = Checkpointer(os.path.join(workdir, "checkpoints"))
    step = ckpt.latest_step()
    restored = ckpt.manager.restore(step)  # raw restore: nested dicts of numpy arrays
    ckpt.close()
    return step, restored["state"]


def test_sigkill_then_resume_is_bit_identical(tmp_path):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    proc = launch(straight)
    assert proc.wait(timeout=600) == 0, (straight / "log.txt").read_text()[-2000:]
    proc = launch(killed)
    ckpt_dir = killed / "checkpoints"
    deadline = time.time() + 300
    while time.time() < deadline:  # kill once a mid-run checkpoint (step >= 50) is on disk
        steps = [int(p) for p in os.listdir(ckpt_dir) if p.isdigit()] if ckpt_dir.exists() else []
        if any(s >= 48 for s in steps) or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc = launch(killed)  # resumes from the latest complete checkpoint
    assert proc.wait(timeout=600) == 0, (killed / "log.txt").read_text()[-2000:]
    step_a, a = final_state(straight)
    step_b, b = final_state(killed)
    assert step_a == step_b == 12 * 16
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    # the resumed run's metrics log reads as the uninterrupted one's: same steps, same losses
    log_a, log_b = (
        [(r["step"], r["loss"]) for r in map(json.loads, open(d / "metrics.jsonl"))]
        for d in (straight, killed)
    )
    assert log_a == log_b and len(log_a) == 12
