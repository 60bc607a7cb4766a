"""Time / noise-level embeddings."""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp


def sinusoidal_embedding(t: jax.Array, dim: int, max_period: float = 10_000.0) -> jax.Array:
    """[sin(t w_k), cos(t w_k)], w_k = max_period^(-k/(dim/2 - 1)) (Vaswani 2017; Ho 2020's DDPM).

    Args: t of shape (batch,) (DDPM feeds the integer timestep); dim even. Returns (batch, dim).
    """
    if dim % 2:
        raise ValueError(f"dim must be even; got {dim}.")
    half = dim // 2
    t = t if jnp.issubdtype(t.dtype, jnp.floating) else t.astype(jnp.float32)
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=t.dtype) / max(half - 1, 1))
    args = t[:, None] * freqs[None]
    return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=1)


class RandomFourierEmbedding(nn.Module):
    """Gaussian random Fourier features [sin(2 pi t W), cos(2 pi t W)], W ~ N(0, scale^2) fixed
    (Tancik et al. 2020; score SDE's NCSN++ uses scale 16 on log sigma)."""

    dim: int
    scale: float = 16.0

    @nn.compact
    def __call__(self, t):
        init = lambda key, shape: self.scale * jax.random.normal(key, shape)
        w = jax.lax.stop_gradient(self.param("w", init, (self.dim // 2,)))  # fixed, as in NCSN++
        args = 2 * math.pi * t[:, None] * w[None]
        return jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=1)
