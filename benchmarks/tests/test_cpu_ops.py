"""benchmarks/cpu_ops.py times what it names: its split gradients are the convolution's gradients."""

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks import cpu_ops


def test_the_split_convolution_ops_are_the_forward_and_the_two_gradients():
    ops = cpu_ops.jax_conv_ops(4, 8, np.random.default_rng(0))
    rng = np.random.default_rng(0)  # the same draws as the ops': x, w, dy
    x = jnp.asarray(rng.standard_normal((cpu_ops.BATCH, 4, 4, 8)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((3, 3, 8, 8)) * 0.05, jnp.float32)
    dy = jnp.asarray(rng.standard_normal((cpu_ops.BATCH, 4, 4, 8)), jnp.float32)
    gx, gw = jax.grad(lambda x, w: jnp.sum(cpu_ops._conv(x, w) * dy), argnums=(0, 1))(x, w)
    # the forward against a direct sum over the 3x3 window of the zero-padded input
    xp = np.pad(np.asarray(x, np.float64), ((0, 0), (1, 1), (1, 1), (0, 0)))
    direct = sum(
        xp[:, i : i + 4, j : j + 4, :] @ np.asarray(w, np.float64)[i, j]
        for i in range(3)
        for j in range(3)
    )
    np.testing.assert_allclose(ops["forward"](), direct, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ops["input gradient"](), gx, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(ops["weight gradient"](), gw, rtol=1e-5, atol=1e-4)


def test_the_table_gives_xla_over_torch():
    text = cpu_ops.table([("conv", "forward", 3.0, 1.5)], "# header")
    assert text.splitlines()[-1] == "| conv | forward | 3.00 | 1.50 | 2.00 |"
