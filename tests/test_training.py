import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from diffjax.training import ema_decay, init_train_state, make_optimizer, make_train_step


def test_eight_fake_devices_give_the_same_step_as_one():
    script = os.path.join(os.path.dirname(__file__), "_train_step_devices.py")
    env = {**os.environ, "PYTHONPATH": os.path.dirname(os.path.dirname(__file__))}
    out = subprocess.run(
        [sys.executable, script, "icfm"], capture_output=True, text=True, env=env, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    name, param_diff, loss_diff = out.stdout.strip().splitlines()[-1].split()
    assert name == "icfm" and float(param_diff) <= 1e-6 and float(loss_diff) <= 1e-6


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
