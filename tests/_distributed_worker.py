"""One process of a multi-host training run on localhost (CPU, gloo collectives).

    python tests/_distributed_worker.py PORT NUM_PROCESSES PROCESS_ID WORKDIR

Trains 4 I-CFM steps on a global batch of 64 read through `diffjax.data.batches` (each process
reads only its rows), checkpoints with orbax from every process, restores, and process 0 writes
the final parameters and losses to WORKDIR/result.npz. With NUM_PROCESSES=1 it is the reference.
"""

import os
import sys

os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402

port, num_processes, process_id, workdir = sys.argv[1:5]
if int(num_processes) > 1:  # before any other JAX call
    jax.distributed.initialize(f"127.0.0.1:{port}", int(num_processes), int(process_id))

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from diffjax import Denoiser, FlaxNetwork  # noqa: E402
from diffjax.data import batches, sample_2d  # noqa: E402
from diffjax.losses import flow_matching_loss, presets  # noqa: E402
from diffjax.networks import MLP  # noqa: E402
from diffjax.parameterisations import VelocityPrediction  # noqa: E402
from diffjax.training import (  # noqa: E402
    Checkpointer,
    init_train_state,
    make_optimizer,
    make_train_step,
    train,
)


def main():
    assert jax.process_count() == int(num_processes)
    path = presets.icfm(0.1)
    den = Denoiser(FlaxNetwork(MLP(width=32, depth=2)), path.schedule, VelocityPrediction())
    loss_fn = flow_matching_loss(den, path)
    opt = make_optimizer("adam", 1e-3)
    params = den.init(jax.random.PRNGKey(0), jnp.zeros((1, 2), jnp.float32))
    state = init_train_state(params, opt, jax.random.PRNGKey(1))
    step = make_train_step(loss_fn, opt, ema=0.9)
    target, source = sample_2d("moons", 256, 0), sample_2d("gaussian", 256, 1)
    records = [{"data": target[i], "source": source[i]} for i in range(256)]
    data = batches(records, 64, 4, seed=0)
    assert len(data[0]["data"]) == 64 // jax.process_count()  # this host's rows only
    ckpt = Checkpointer(os.path.join(workdir, "ckpt"), every=2, async_save=False)
    state, finished = train(
        state, step, lambda k: iter(data[k:]), 4, checkpointer=ckpt, progress=False
    )
    restored, _ = ckpt.restore(state, step=2)  # every process restores the step-2 save
    assert finished and int(restored.step) == 2
    ckpt.close()
    if jax.process_index() == 0:
        leaves = [np.asarray(jax.device_get(x)) for x in jax.tree.leaves(state.params)]
        np.savez(os.path.join(workdir, "result.npz"), *leaves)
    print("ok", jax.process_index(), jax.device_count(), flush=True)


if __name__ == "__main__":
    main()
