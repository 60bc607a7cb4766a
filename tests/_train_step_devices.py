"""Run as a script with 8 fake CPU devices: prints the max |difference| between 3 train steps on
8 devices and on 1 device (same data, same seed)."""

import os

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
os.environ["JAX_PLATFORMS"] = "cpu"

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from diffjax import Denoiser, FlaxNetwork, resolve  # noqa: E402
from diffjax.data import sample_2d  # noqa: E402
from diffjax.losses import exact_ot_pairs_on_host, flow_matching_loss  # noqa: E402
from diffjax.networks import MLP  # noqa: E402
from diffjax.parameterisations import VelocityPrediction  # noqa: E402
from diffjax.training import data_mesh, init_train_state, make_optimizer, make_train_step  # noqa: E402


def run(devices, method):
    """method 'otcfm_host': OT pairs made on the host (input pipeline) + the I-CFM loss."""
    host_ot = method == "otcfm_host"
    path = resolve.path("icfm(sigma=0.1)" if host_ot else f"{method}(sigma=0.1)")
    den = Denoiser(FlaxNetwork(MLP(width=64, depth=3)), path.schedule, VelocityPrediction())
    loss_fn = flow_matching_loss(den, path)
    opt = make_optimizer("adamw", 1e-3, weight_decay=1e-5)
    params = den.init(jax.random.PRNGKey(0), jnp.zeros((1, 2), jnp.float32))
    state = init_train_state(params, opt, jax.random.PRNGKey(1))
    step = make_train_step(loss_fn, opt, ema=0.999, mesh=data_mesh(devices))
    losses = []
    for k in range(3):
        data, source = (
            sample_2d("8gaussians", 512, seed=k),
            sample_2d("gaussian", 512, seed=100 + k),
        )
        if host_ot:
            source = exact_ot_pairs_on_host(data, source)
        batch = {"data": jnp.asarray(data), "source": jnp.asarray(source)}
        state, metrics = step(state, batch)
        losses.append(float(metrics["loss"]))
    return state, losses


if __name__ == "__main__":
    import sys

    assert jax.device_count() == 8
    for method in sys.argv[1:]:
        many, l8 = run(jax.devices(), method)
        # the reference couples inside the 1-device step (pure_callback)
        one, l1 = run(jax.devices()[:1], "otcfm" if method == "otcfm_host" else method)
        diff = max(
            float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
            for a, b in zip(jax.tree.leaves(many.params), jax.tree.leaves(one.params), strict=True)
        )
        print(method, diff, np.max(np.abs(np.array(l8) - np.array(l1))))
