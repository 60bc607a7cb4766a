"""MLP on (x, t): the network of the 2-D flow-matching benchmarks (Tong et al. 2024: 3 x 64, SELU)."""

from __future__ import annotations

from collections.abc import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp


class MLP(nn.Module):
    """f(x, t) = Dense(out) o (act o Dense(width))^depth applied to [x, t] (t as one extra input).

    Args of __call__: x (batch, d), t (batch,), cond unused (kept for the denoiser signature).
    """

    width: int = 64
    depth: int = 3
    out_dim: int | None = None  # defaults to x's last dimension
    activation: Callable = jax.nn.selu

    @nn.compact
    def __call__(self, x, t, cond=None):
        h = jnp.concatenate([x, t[:, None].astype(x.dtype)], axis=-1)
        for _ in range(self.depth):
            h = self.activation(nn.Dense(self.width)(h))
        return nn.Dense(self.out_dim or x.shape[-1])(h)
