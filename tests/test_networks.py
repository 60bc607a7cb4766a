import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffjax import Denoiser, FlaxNetwork
from diffjax import schedules as S
from diffjax.networks import MLP, ddpm_cifar10, ddpm_digits, dit_s2, dit_tiny, sinusoidal_embedding
from diffjax.parameterisations import VelocityPrediction
from diffjax.samplers import Euler, sample, time_grid


def count(shapes):
    return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(shapes))


def test_ddpm_cifar10_unet_has_35_7m_parameters():
    model = ddpm_cifar10()
    shapes = jax.eval_shape(
        lambda: model.init(
            jax.random.PRNGKey(0),
            jnp.zeros((1, 32, 32, 3), jnp.float32),
            jnp.zeros((1,), jnp.float32),
        )
    )
    assert round(count(shapes) / 1e6, 1) == 35.7  # Ho et al. 2020, appendix B


def test_dit_s2_has_33m_parameters():
    model = dit_s2(num_classes=1000)
    shapes = jax.eval_shape(
        lambda: model.init(
            jax.random.PRNGKey(0),
            jnp.zeros((1, 32, 32, 4), jnp.float32),
            jnp.zeros((1,), jnp.float32),
            jnp.zeros((1,), jnp.int32),
        )
    )
    assert round(count(shapes) / 1e6) == 33  # Peebles & Xie 2023, Table 1 (DiT-S/2: 33M)


@pytest.mark.parametrize("factory", [ddpm_digits, dit_tiny])
def test_image_networks_shapes_conditioning_and_zero_init(factory):
    model = factory(num_classes=10)
    x = jax.random.normal(jax.random.PRNGKey(0), (3, 8, 8, 1), jnp.float32)
    t = jnp.array([1.0, 10.0, 500.0], jnp.float32)
    y = jnp.array([0, 3, 10])  # 10 = 'no label'
    params = model.init(jax.random.PRNGKey(1), x, t, y)
    out = model.apply(params, x, t, y)
    assert out.shape == x.shape and out.dtype == jnp.float32
    np.testing.assert_allclose(out, 0.0)  # zero-initialised output layer (DDPM, adaLN-Zero)
    perturbed = jax.tree.map(lambda p: p + 0.05 * jnp.sign(p + 0.01), params)
    a = model.apply(perturbed, x, t, y)
    b = model.apply(perturbed, x, t, jnp.array([1, 3, 10]))
    assert not np.allclose(a[0], b[0]) and np.allclose(a[1:], b[1:], atol=1e-5)
    with pytest.raises(ValueError, match="class-conditional: pass cond"):
        model.apply(params, x, t)


def test_sinusoidal_embedding_formula():
    t = jnp.array([0.0, 3.0])
    emb = sinusoidal_embedding(t, 8)
    freqs = np.exp(-np.log(10_000.0) * np.arange(4) / 3)
    np.testing.assert_allclose(
        emb[1], np.concatenate([np.sin(3 * freqs), np.cos(3 * freqs)]), rtol=1e-6
    )
    with pytest.raises(ValueError, match="dim must be even"):
        sinusoidal_embedding(t, 7)


def test_mlp_denoiser_samples_end_to_end_without_recompiling():
    model = MLP(width=64, depth=3)
    f32 = jnp.float32
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((4, 2), f32), jnp.zeros((4,), f32))
    den = Denoiser(FlaxNetwork(model), S.RectifiedFlow(), VelocityPrediction())
    x = jax.random.normal(jax.random.PRNGKey(1), (16, 2), jnp.float32)
    out = sample(den, x, time_grid(den.schedule, 10), Euler(), params=params)
    assert out.samples.shape == (16, 2) and int(out.nfe) == 10
    assert np.all(np.isfinite(np.asarray(out.samples)))


def test_unet_bfloat16_compute_keeps_float32_params_and_tracks_float32():
    """dtype=bfloat16 changes the arithmetic only: the same float32 parameter tree, a float32
    output within bfloat16 round-off (8 bits of mantissa) of the float32 network's."""
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 8, 8, 1), jnp.float32)
    t = jnp.array([3.0, 700.0], jnp.float32)
    params = ddpm_digits().init(jax.random.PRNGKey(1), x, t)
    params = jax.tree.map(lambda p: p + 0.05 * jnp.sign(p + 0.01), params)  # non-zero output
    bf16 = ddpm_digits(dtype=jnp.bfloat16)
    ref = ddpm_digits().apply(params, x, t)
    with jax.numpy_dtype_promotion("standard"):  # Flax's GroupNorm mixes bf16 and f32 statistics
        shapes = jax.eval_shape(bf16.init, jax.random.PRNGKey(1), x, t)
        out = bf16.apply(params, x, t)
    assert jax.tree.map(lambda a: (a.shape, a.dtype), shapes) == jax.tree.map(
        lambda a: (a.shape, a.dtype), params
    )
    assert out.dtype == jnp.float32
    err = float(jnp.max(jnp.abs(out - ref)) / jnp.max(jnp.abs(ref)))
    assert 1e-5 < err < 0.05, err  # really computed in bfloat16, and close


def test_fast_selu_matches_jax_selu_in_float32():
    from diffjax.networks.mlp import selu

    x = jnp.concatenate(
        [
            jnp.linspace(-20.0, 20.0, 100_001, dtype=jnp.float32),
            jnp.array([-1e4, -1e-30, 0.0, 1e-30, 1e4], jnp.float32),
        ]
    )
    ours, ref = selu(x), jax.nn.selu(x)
    assert ours.dtype == jnp.float32 and bool(jnp.all(jnp.isfinite(ours)))
    np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=4e-7)
    g_ours, g_ref = jax.vmap(jax.grad(selu))(x), jax.vmap(jax.grad(jax.nn.selu))(x)
    np.testing.assert_allclose(g_ours, g_ref, rtol=1e-6, atol=4e-7)
