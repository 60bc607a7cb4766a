import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from diffjax.training import ema_decay, init_train_state, make_optimizer, make_train_step, train


def test_eight_fake_devices_give_the_same_step_as_one():
    """I-CFM, SB-CFM (Sinkhorn on the devices) and OT-CFM with the exact coupling made on the host
    (vs the 1-device step coupling through its callback): 3 steps on 8 devices = on 1 (<= 1e-6)."""
    script = os.path.join(os.path.dirname(__file__), "_train_step_devices.py")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    methods = ["icfm", "sbcfm", "otcfm_host"]
    out = subprocess.run(
        [sys.executable, script, *methods], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line.split() for line in out.stdout.strip().splitlines()[-len(methods) :]]
    assert [name for name, *_ in lines] == methods
    for _, param_diff, loss_diff in lines:
        assert float(param_diff) <= 1e-6 and float(loss_diff) <= 1e-6


def test_train_step_matches_a_hand_written_adam_step_and_ema():
    """One step on a quadratic loss equals optax.adam applied by hand; EMA follows its formula."""
    params = {"w": jnp.array([1.0, -2.0], jnp.float32)}
    loss_fn = lambda p, batch, key: jnp.sum((p["w"][None] - batch) ** 2, axis=1)
    opt = make_optimizer("adam", 0.1)
    state = init_train_state(jax.tree.map(jnp.copy, params), opt, jax.random.PRNGKey(0))  # donated
    step = make_train_step(loss_fn, opt, ema=0.5, ema_warmup=False)
    batch = jnp.array([[0.0, 0.0], [2.0, 2.0]], jnp.float32)
    new, metrics = step(state, batch)
    grads = jax.grad(lambda p: jnp.mean(loss_fn(p, batch, None)))(params)
    ref_opt = optax.adam(0.1)
    with jax.numpy_dtype_promotion("standard"):  # optax is not strict-promotion clean
        updates, _ = ref_opt.update(grads, ref_opt.init(params), params)
    expected = optax.apply_updates(params, updates)
    np.testing.assert_allclose(new.params["w"], expected["w"], rtol=1e-6)
    np.testing.assert_allclose(
        new.ema_params["w"], 0.5 * params["w"] + 0.5 * expected["w"], rtol=1e-6
    )
    assert int(new.step) == 1
    np.testing.assert_allclose(metrics["loss"], jnp.mean(loss_fn(params, batch, None)), rtol=1e-6)


def test_ema_warmup_and_optimizer_errors():
    np.testing.assert_allclose(ema_decay(jnp.asarray(0), 0.9999), 0.1)
    np.testing.assert_allclose(ema_decay(jnp.asarray(10**6), 0.9999), 0.9999)
    with pytest.raises(ValueError, match="optimizer='sgd' is not one of 'adam', 'adamw'"):
        make_optimizer("sgd")
    with pytest.raises(ValueError, match="lr_schedule='cosine' needs total_steps"):
        make_optimizer("adam", lr_schedule="cosine")
    warm = make_optimizer("adam", 1.0, warmup_steps=10, grad_clip=1.0)
    assert warm.init({"w": jnp.zeros(2)}) is not None


def _quadratic_setup():
    loss_fn = lambda p, batch, key: jnp.sum((p["w"][None] - batch) ** 2, axis=1)
    opt = make_optimizer("adam", 0.05)
    state = init_train_state({"w": jnp.zeros(2, jnp.float32)}, opt, jax.random.PRNGKey(0))
    step = make_train_step(loss_fn, opt, ema=0.9)
    batches_from = lambda k: (np.full((4, 2), float(s % 3), np.float32) for s in range(k, 10**6))
    return state, step, batches_from


def test_loop_logs_hooks_and_resumes_like_one_run(tmp_path):
    import json

    from diffjax.training import Checkpointer, Hook, MetricWriter, train

    calls = []
    hook = Hook(every=4, fn=lambda s, st: calls.append(s) or {"eval": float(s)})
    state, step, batches_from = _quadratic_setup()
    ref, finished = train(
        state,
        step,
        batches_from,
        10,
        writer=MetricWriter(str(tmp_path / "a")),
        log_every=3,
        hooks=(hook,),
        progress=False,
    )
    assert finished and int(ref.step) == 10 and calls == [4, 8, 10]
    records = [json.loads(line) for line in open(tmp_path / "a" / "metrics.jsonl")]
    assert [r["step"] for r in records if "loss" in r] == [3, 6, 9, 10]
    assert [r["eval"] for r in records if "eval" in r] == [4.0, 8.0, 10.0]
    assert os.listdir(tmp_path / "a" / "tensorboard")  # an event file

    # 7 steps with a checkpoint every 3 (last at 6), a stale log past it, then resume to 10
    state, step, batches_from = _quadratic_setup()
    ckpt = Checkpointer(str(tmp_path / "b" / "ckpt"), every=3, async_save=False)
    writer = MetricWriter(str(tmp_path / "b"))
    train(
        state, step, batches_from, 7, checkpointer=ckpt, writer=writer, log_every=3, progress=False
    )
    ckpt.manager.delete(7)  # as if killed between the step-6 checkpoint and the end
    writer.write_scalars(7, {"loss": -1.0})
    state, step, batches_from = _quadratic_setup()
    out, _ = train(
        state, step, batches_from, 10, checkpointer=ckpt, writer=writer, log_every=3, progress=False
    )
    ckpt.close()
    for x, y in zip(jax.tree.leaves(out), jax.tree.leaves(ref), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    resumed = [json.loads(line) for line in open(tmp_path / "b" / "metrics.jsonl")]
    # the records past the step-6 checkpoint (7 and the stale one) are gone; the rest match run a
    assert [(r["step"], r["loss"]) for r in resumed] == [
        (r["step"], r["loss"]) for r in records if "loss" in r
    ]


def test_training_time_adds_up_over_resumed_processes(tmp_path, monkeypatch):
    """Each checkpoint records the wall time spent in train() by every process so far: a run
    stopped at step 7 (checkpoints at 3, 6) and resumed to 10 reports the step-6 checkpoint's
    seconds plus the second process's, not the second process's alone. A fake clock ticks one
    second per reading."""
    from diffjax.training import Checkpointer, loop, train

    ticks = iter(range(1000))
    monkeypatch.setattr(loop, "_now", lambda: float(next(ticks)))
    state, step, batches_from = _quadratic_setup()
    ckpt = Checkpointer(str(tmp_path / "ckpt"), every=3, async_save=False)
    train(state, step, batches_from, 7, checkpointer=ckpt, progress=False)
    first = {s: ckpt.meta(s)["train_seconds"] for s in (3, 6, 7)}
    assert first == {3: 1.0, 6: 2.0, 7: 3.0}  # start read 0; saves read 1, 2, 3
    ckpt.manager.delete(7)  # killed after the step-6 checkpoint
    state, step, batches_from = _quadratic_setup()
    train(state, step, batches_from, 10, checkpointer=ckpt, progress=False)
    assert ckpt.meta(9)["train_seconds"] == 2.0 + 1.0  # step 6's, then one tick since restart
    assert ckpt.meta()["train_seconds"] == 2.0 + 2.0 and ckpt.meta()["finished"]
    ckpt.close()


def test_loop_stops_after_sigterm_with_a_checkpoint(tmp_path):
    from diffjax.training import Checkpointer, train

    state, step, batches_from = _quadratic_setup()
    ckpt = Checkpointer(str(tmp_path / "ckpt"), every=100, async_save=False)
    ckpt._sigterm = True  # what the SIGTERM handler sets
    out, finished = train(state, step, batches_from, 10, checkpointer=ckpt, progress=False)
    assert not finished and ckpt.latest_step() == int(out.step) == 0
    ckpt.close()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_with_jax_distributed_match_one(tmp_path):
    """2 local processes (jax.distributed, gloo): each reads its half of the global batch, both
    checkpoint and restore; the parameters after 4 steps equal the 1-process run's."""
    script = os.path.join(os.path.dirname(__file__), "_distributed_worker.py")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    env.pop("XLA_FLAGS", None)
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir(), two.mkdir()
    ref = subprocess.run(
        [sys.executable, script, "0", "1", "0", str(one)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ref.returncode == 0, ref.stderr[-2000:]
    port = str(_free_port())
    logs = [open(two / f"log{i}.txt", "w") for i in range(2)]
    procs = [
        subprocess.Popen(
            [sys.executable, script, port, "2", str(i), str(two)],
            env=env,
            stdout=logs[i],
            stderr=logs[i],
        )
        for i in range(2)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert codes == [0, 0], (two / "log0.txt").read_text()[-2000:]
    a, b = np.load(one / "result.npz"), np.load(two / "result.npz")
    assert a.files == b.files and len(a.files) > 0
    for k in a.files:
        np.testing.assert_allclose(a[k], b[k], atol=1e-6, rtol=0)


def test_several_steps_per_call_match_single_steps(tmp_path):
    import json

    from diffjax.training import Checkpointer, MetricWriter, train

    loss_fn = lambda p, batch, key: (
        jnp.sum((p["w"][None] - batch) ** 2, axis=1)
        * (1.0 + 0.1 * jax.random.uniform(key, dtype=jnp.float32))
    )
    opt = make_optimizer("adam", 0.05)
    fresh = lambda: init_train_state({"w": jnp.zeros(2, jnp.float32)}, opt, jax.random.PRNGKey(0))
    batches_from = lambda k: (np.full((4, 2), float(s % 5), np.float32) for s in range(k, 10**6))
    one, _ = train(
        fresh(), make_train_step(loss_fn, opt, ema=0.9), batches_from, 12, progress=False
    )
    multi_step = make_train_step(loss_fn, opt, ema=0.9, steps_per_call=4)
    ckpt = Checkpointer(str(tmp_path / "ckpt"), every=6, async_save=False)
    four, finished = train(
        fresh(),
        multi_step,
        batches_from,
        12,
        checkpointer=ckpt,
        writer=MetricWriter(str(tmp_path)),
        log_every=3,
        progress=False,
    )
    assert finished and int(four.step) == 12
    for x, y in zip(jax.tree.leaves(one), jax.tree.leaves(four), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-6, atol=1e-7)
    assert ckpt.manager.all_steps() == [8, 12]  # first call boundaries at or after 6 and 12
    ckpt.close()
    steps = [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")]
    assert steps == [4, 8, 12]
    with pytest.raises(ValueError, match="multiple of the step function's steps_per_call=4"):
        train(fresh(), multi_step, batches_from, 10, progress=False)
    with pytest.raises(ValueError, match="steps_per_call must be >= 1"):
        make_train_step(loss_fn, opt, steps_per_call=0)


def test_loop_keeps_at_most_max_in_flight_steps_dispatched(monkeypatch):
    """The host waits for step s - k before dispatching step s + 1 (k = max_in_flight): unbounded
    queues of multi-device steps deadlocked XLA:CPU collectives (benchmarks/scaling.py)."""
    events = []
    state = init_train_state({"w": jnp.zeros(())}, optax.sgd(0.1), jax.random.PRNGKey(0))

    def step_fn(st, batch):
        events.append(("dispatch", int(st.step) + 1))
        return st._replace(step=st.step + 1), {"loss": np.float32(int(st.step) + 1)}

    monkeypatch.setattr(jax, "block_until_ready", lambda m: events.append(("wait", int(m["loss"]))))
    train(
        state,
        step_fn,
        lambda k: iter(range(k, 100)),
        10,
        log_every=100,
        progress=False,
        max_in_flight=3,
    )
    expected = []
    for s in range(1, 11):
        expected.append(("dispatch", s))
        if s > 3:
            expected.append(("wait", s - 3))
    assert events == expected
    with pytest.raises(ValueError, match="max_in_flight must be >= 1"):
        train(state, step_fn, lambda k: iter(range(k, 100)), 10, progress=False, max_in_flight=0)
