"""Runs that cannot lie: each failure a user met (issue 11's list) is refused clearly."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import ddpm_digits as ddpm_config
from configs import flow2d as flow2d_config
from diffjax.training import (
    Checkpointer,
    MetricWriter,
    TrainingDiverged,
    init_train_state,
    make_optimizer,
    make_train_step,
    read_metrics,
    train,
)
from diffjax.training import checkpoint as checkpoint_module
from experiments.run import train_and_evaluate
from experiments.validate import ConfigError
from experiments.workdir import WorkdirError, open_workdir
from tests.cases import configured

ROOT = os.path.dirname(os.path.dirname(__file__))


def tiny_flow2d(**overrides):
    return configured(flow2d_config, **overrides)


def test_a_workdir_refuses_another_config_and_can_start_afresh(tmp_path):
    with open_workdir(tiny_flow2d(), str(tmp_path)):
        pass  # what a first run leaves: the config record
    other = tiny_flow2d(**{"process.path": "icfm", "data.name": "2d:gaussian_to_moons"})
    with pytest.raises(
        WorkdirError,
        match=r"(?s)another config.*data.name: .*gaussian_to_moons.*process.path: 'otcfm' -> 'icfm'",
    ):
        train_and_evaluate(other, str(tmp_path))
    assert not (tmp_path / "results.json").exists()
    # a cosmetic key (the progress bar) is not a different config
    with open_workdir(tiny_flow2d(**{"train.progress": True}), str(tmp_path)):
        pass
    with open_workdir(other, str(tmp_path), fresh=True):
        recorded = json.loads((tmp_path / "config.json").read_text())
    assert recorded["process"]["path"] == "icfm"


def test_a_record_older_than_a_key_matches_the_key_at_its_default_only(tmp_path):
    """A workdir written before a key existed ('<absent>') is the same config when the key is at
    the default it was added with (configs.common.base), and another config otherwise."""
    with open_workdir(tiny_flow2d(), str(tmp_path)):
        pass
    record = tmp_path / "config.json"
    older = json.loads(record.read_text())
    del older["objective"]["vlb_variance"], older["eval"]["bound_decoder_steps"]
    record.write_text(json.dumps(older))
    with open_workdir(tiny_flow2d(), str(tmp_path)):
        pass  # both keys at their defaults ('beta', ())
    other = tiny_flow2d(**{"objective.vlb_variance": "learned"})
    with pytest.raises(WorkdirError, match=r"objective.vlb_variance: '<absent>' -> 'learned'"):
        with open_workdir(other, str(tmp_path)):
            pass
    # keeping more checkpoints is not another config (what it computes is the same)
    with open_workdir(tiny_flow2d(**{"train.keep_checkpoints_every": 1000}), str(tmp_path)):
        pass


def test_a_second_process_on_a_workdir_fails_at_once_naming_the_holder(tmp_path):
    holder = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {ROOT!r})
        from configs import flow2d
        from experiments.workdir import open_workdir
        with open_workdir(flow2d.get_config(), {str(tmp_path)!r}):
            print("locked", flush=True)
            time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(WorkdirError, match=rf"in use by pid {proc.pid} on"):
            with open_workdir(flow2d_config.get_config(), str(tmp_path)):
                pass
    finally:
        proc.kill()
        proc.wait()
    with open_workdir(flow2d_config.get_config(), str(tmp_path)):  # free again once it ends
        pass


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("optim.learning_rate", -1.0, "config.optim.learning_rate must be a finite number > 0"),
        ("train.epochs", -5, "config.train.epochs must be a positive integer"),
        (
            "train.batch_size",
            20000,
            r"config.train.batch_size=20000 must be at most config.data.num_train \(1024\)",
        ),
        ("train.batch_size", 0, "config.train.batch_size must be a positive integer"),
        ("sample.num_steps", 0, "config.sample.num_steps must be a positive integer"),
        ("train.checkpoint_every", 0, "config.train.checkpoint_every must be a positive integer"),
        ("train.log_every", 0, "config.train.log_every must be a positive integer"),
        ("train.steps_per_call", 3, "config.train.steps_per_call=3 must divide the 2 steps"),
        (
            "optim.weight_decay",
            float("nan"),
            "config.optim.weight_decay must be a finite number >= 0",
        ),
        ("optim.grad_clip", 0.0, "config.optim.grad_clip must be a finite number > 0"),
        ("data.num_train", 0, "config.data.num_train must be a positive integer"),
        ("objective.label_dropout", 1.0, r"config.objective.label_dropout must lie in \[0, 1\)"),
    ],
)
def test_flow2d_config_values_are_checked_before_any_work(tmp_path, key, value, message):
    config = tiny_flow2d(**{key: value})
    with pytest.raises(ConfigError, match=message):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_ddpm_config_values_are_checked_before_any_work(tmp_path):
    for key, value, message in [
        ("train.num_steps", 0, "config.train.num_steps must be a positive integer"),
        ("optim.learning_rate", 0.0, "config.optim.learning_rate must be a finite number > 0"),
        ("optim.ema", 1.0, r"config.optim.ema must lie in \[0, 1\)"),
        ("process.schedule", "ddpm(num_timesteps=-3)", "config.process.schedule: .*num_timesteps"),
        ("eval.bound_variance", "large", "'large' is not one of"),
    ]:
        config = configured(ddpm_config, **{key: value})
        with pytest.raises((ConfigError, ValueError), match=message):
            train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def quadratic_run(tmp_path, loss_fn, steps=12, every=4):
    opt = make_optimizer("adam", 0.05)
    state = init_train_state({"w": jnp.ones(2, jnp.float32)}, opt, jax.random.PRNGKey(0))
    step = make_train_step(loss_fn, opt, ema=0.0, ema_warmup=False)
    batches = lambda k: (jnp.full((4, 2), float(i), jnp.float32) for i in range(k, steps))
    ckpt = Checkpointer(str(tmp_path / "ckpt"), every=every, async_save=False)
    try:
        return train(state, step, batches, steps, checkpointer=ckpt, log_every=1, progress=False)
    finally:
        ckpt.close()


def test_a_non_finite_loss_stops_training_naming_the_step_and_the_last_checkpoint(tmp_path):
    def loss_fn(p, batch, key):  # NaN from the batch of step 7 on (batch value 6)
        bad = jnp.where(batch[:, 0] >= 6.0, jnp.nan, 0.0)
        return jnp.sum((p["w"][None] - batch) ** 2, axis=1) + bad

    with pytest.raises(TrainingDiverged, match=r"non-finite loss by step 7.*checkpoint is step 4"):
        quadratic_run(tmp_path, loss_fn)
    # the diverged state was never saved
    assert Checkpointer(str(tmp_path / "ckpt")).latest_step() == 4


def test_a_damaged_last_metrics_line_is_tolerated_on_resume(tmp_path):
    lines = [json.dumps({"step": s, "loss": 1.0 / s}) for s in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("\n".join(lines) + '\n{"step": 4, "lo')
    assert [r["step"] for r in read_metrics(str(tmp_path))] == [1, 2, 3]
    writer = MetricWriter(str(tmp_path), tensorboard=False)
    writer.rewind(2)
    writer.write_scalars(3, {"loss": 0.5})
    assert [(r["step"], r["loss"]) for r in read_metrics(str(tmp_path))] == [
        (1, 1.0),
        (2, 0.5),
        (3, 0.5),
    ]
    (tmp_path / "metrics.jsonl").write_text('{"step": 1\n' + lines[1] + "\n")
    with pytest.raises(ValueError, match="line 1 is not a JSON record"):
        read_metrics(str(tmp_path))


def test_a_full_disk_is_reported_at_once(tmp_path, monkeypatch):
    usage = checkpoint_module.shutil.disk_usage(str(tmp_path))
    monkeypatch.setattr(checkpoint_module.shutil, "disk_usage", lambda p: usage._replace(free=10))
    loss_fn = lambda p, batch, key: jnp.sum((p["w"][None] - batch) ** 2, axis=1)
    with pytest.raises(OSError, match=r"no room for a checkpoint in .*ckpt: 0.0 MB free"):
        quadratic_run(tmp_path, loss_fn)


def logged_steps(directory, tag="loss") -> list[int]:
    """Steps of `tag` in the TensorBoard event files on disk (TFRecord framing, read directly)."""
    import glob
    import struct

    from tensorboardX.proto import event_pb2

    steps = []
    for path in sorted(glob.glob(os.path.join(directory, "events.out.tfevents.*"))):
        data, pos = open(path, "rb").read(), 0
        while pos + 12 <= len(data):
            (length,) = struct.unpack("<Q", data[pos : pos + 8])
            record = data[pos + 12 : pos + 12 + length]
            pos += 16 + length
            event = event_pb2.Event.FromString(record)
            steps += [event.step for v in event.summary.value if v.tag == tag]
    return steps


def test_tensorboard_events_are_on_disk_at_every_checkpoint(tmp_path):
    """What a kill -9 right after a checkpoint leaves: the event file holds the scalars so far."""

    opt = make_optimizer("adam", 0.05)
    state = init_train_state({"w": jnp.ones(2, jnp.float32)}, opt, jax.random.PRNGKey(0))
    step = make_train_step(
        lambda p, b, k: jnp.sum((p["w"][None] - b) ** 2, axis=1), opt, ema=0.0, ema_warmup=False
    )
    writer = MetricWriter(str(tmp_path))
    ckpt = Checkpointer(str(tmp_path / "ckpt"), every=4, async_save=False)

    def batches(k):
        for i in range(k, 12):
            if i == 8:  # after the checkpoint at step 8: read the event file as a kill would
                assert logged_steps(str(tmp_path / "tensorboard")) == [2, 4, 6, 8]
            yield jnp.full((4, 2), float(i), jnp.float32)

    train(state, step, batches, 12, checkpointer=ckpt, writer=writer, log_every=2, progress=False)
    ckpt.close()
    writer.close()


def run_cli(args, env=None, timeout=300):
    return subprocess.run(
        [sys.executable, "-m", "experiments.run", "--config", "configs/flow2d.py:tiny", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=timeout,
    )


def test_cli_help_lists_every_key_and_unknown_keys_suggest_the_nearest():
    out = run_cli(["--help"])
    assert out.returncode == 0
    assert "  optim.learning_rate = 0.001" in out.stdout
    assert "  process.path = 'otcfm'  # flow path preset icfm" in out.stdout
    assert "  train.epochs = 1  #" in out.stdout  # the variant's value, the base's description
    wrong = run_cli(["--config.optim.learning_rat=1.0"])
    assert wrong.returncode != 0
    assert (
        "unknown config key config.optim.learning_rat; did you mean config.optim.learning_rate?"
        in wrong.stderr
    )
    nested = run_cli(["--config.model.name=dit"])
    assert nested.returncode != 0 and "unknown config key config.model.name" in nested.stderr


@pytest.mark.parametrize("devices", [8])
def test_otcfm_runs_on_several_devices_and_the_console_stays_short(tmp_path, devices):
    """The default method on 8 fake CPU devices (it used to hang, then abort), quietly."""
    args = [f"--workdir={tmp_path}", "--config.train.progress=False"]
    flags = f"--xla_force_host_platform_device_count={devices}"
    out = run_cli(args, env={"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"}, timeout=240)
    assert out.returncode == 0, out.stderr[-2000:]
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["name"] == "otcfm" and np.isfinite(results["w2"])
    assert results["provenance"]["device"].startswith(f"{devices} x")
    console = (out.stdout + out.stderr).strip().splitlines()
    assert len(console) <= 10, console
    assert not any("INFO" in line for line in console), console
