"""One jitted, donated train step, data-parallel over a device mesh (batch sharded, state
replicated): the same code runs on 1 device, 8 devices, or several hosts."""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from diffjax.training.state import TrainState, ema_decay

LossFn = Callable[..., jax.Array]  # (params, batch, key) -> per-example losses (batch,)


def data_mesh(devices=None) -> Mesh:
    """A 1-D mesh named 'data' over the given (default: all global) devices."""
    devices = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devices, ("data",))


def optimizer_step(loss_fn: LossFn, optimizer, ema: float, ema_warmup: bool):
    """step(state, batch) -> (state, metrics): one optimizer step on the batch-mean loss, the
    EMA of the parameters, the key of step k being fold_in(state.key, k)."""

    def step(state: TrainState, batch):
        key = jax.random.fold_in(state.key, state.step)

        def mean_loss(params):
            return jnp.mean(loss_fn(params, batch, key))

        loss, grads = jax.value_and_grad(mean_loss)(state.params)
        with jax.numpy_dtype_promotion("standard"):  # optax mixes int counts and float rates
            updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        d = ema_decay(state.step, ema, ema_warmup)
        ema_params = jax.tree.map(lambda e, p: d * e + (1 - d) * p, state.ema_params, params)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads)}
        return TrainState(params, ema_params, opt_state, state.step + 1, state.key), metrics

    return step


def _scanned(step):
    """k optimizer steps in one lax.scan over k stacked batches, metrics averaged."""

    def multi_step(state: TrainState, batches):
        state, metrics = jax.lax.scan(step, state, batches)
        return state, jax.tree.map(jnp.mean, metrics)

    return multi_step


def _global_batch(batch, sharded: NamedSharding):
    """With several processes each host passes its rows (numpy): the global arrays."""
    if jax.process_count() == 1:
        return batch
    to_global = lambda x: (
        x
        if isinstance(x, jax.Array)
        else jax.make_array_from_process_local_data(sharded, np.asarray(x))
    )
    return jax.tree.map(to_global, batch)


def make_train_step(
    loss_fn: LossFn,
    optimizer: optax.GradientTransformation,
    *,
    ema: float = 0.9999,
    ema_warmup: bool = True,
    mesh: Mesh | None = None,
    steps_per_call: int = 1,
):
    """Returns step(state, batch) -> (state, metrics), jitted with the state donated.

    batch is a pytree whose leaves have the global batch on axis 0 (sharded over mesh 'data');
    the loss is the mean of loss_fn's per-example values over the global batch; the key of step k
    is fold_in(state.key, k), so the run is a pure function of (seed, data order).
    steps_per_call = k > 1: batch leaves are k stacked batches (k, batch, ...) and one call runs
    k optimizer steps in a lax.scan (metrics averaged over them), which saves the per-dispatch cost
    of small models (I-CFM MLP at batch 512 on this CPU: ~3x fewer ms per step).
    """
    if steps_per_call < 1:
        raise ValueError(f"steps_per_call must be >= 1; got {steps_per_call}.")
    mesh = mesh or data_mesh()
    replicated = NamedSharding(mesh, P())
    sharded = NamedSharding(mesh, P(None, "data") if steps_per_call > 1 else P("data"))
    step = optimizer_step(loss_fn, optimizer, ema, ema_warmup)
    body = step if steps_per_call == 1 else _scanned(step)
    jitted = {}

    def jit_for(batch):
        struct = jax.tree.structure(batch)
        if struct not in jitted:
            jitted[struct] = jax.jit(
                body,
                in_shardings=(replicated, jax.tree.map(lambda _: sharded, batch)),
                out_shardings=(replicated, replicated),
                donate_argnums=(0,),
            )
        return jitted[struct]

    def run(state: TrainState, batch):
        """batch: global arrays, or with several processes this host's rows (numpy)."""
        batch = _global_batch(batch, sharded)
        return jit_for(batch)(state, batch)

    run.mesh = mesh
    run.lower = lambda state, batch: jit_for(batch).lower(state, batch)  # for cost analysis
    run.steps_per_call = steps_per_call
    return run
