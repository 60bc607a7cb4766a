"""DiT (Peebles & Xie 2023): patchified transformer with adaLN-Zero conditioning, small variants."""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from diffjax.networks.embeddings import sinusoidal_embedding


def sincos_2d(grid: int, dim: int) -> np.ndarray:
    """Fixed 2-D sine-cosine position embedding of a grid x grid patch layout, (grid^2, dim)."""

    def one_axis(pos, d):
        omega = 1.0 / 10_000 ** (np.arange(d // 2) / (d / 2))
        out = pos.reshape(-1)[:, None] * omega[None]
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)

    ys, xs = np.meshgrid(
        np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij"
    )
    return np.concatenate([one_axis(ys, dim // 2), one_axis(xs, dim // 2)], axis=1).astype(
        np.float32
    )


def modulate(x, shift, scale):
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    hidden: int
    heads: int
    mlp_ratio: float = 4.0

    @nn.compact
    def __call__(self, x, c):
        mods = nn.Dense(6 * self.hidden, kernel_init=nn.initializers.zeros)(jax.nn.silu(c))
        shift1, scale1, gate1, shift2, scale2, gate2 = jnp.split(mods, 6, axis=-1)
        norm = lambda: nn.LayerNorm(use_scale=False, use_bias=False, epsilon=1e-6)
        h = modulate(norm()(x), shift1, scale1)
        x = x + gate1[:, None] * nn.MultiHeadDotProductAttention(self.heads)(h, h)
        h = modulate(norm()(x), shift2, scale2)
        h = nn.Dense(self.hidden)(
            jax.nn.gelu(nn.Dense(int(self.hidden * self.mlp_ratio))(h), approximate=True)
        )
        return x + gate2[:, None] * h


class DiT(nn.Module):
    """__call__(x, t, cond=None) on NHWC images; t the noise input, cond integer labels."""

    patch: int = 2
    hidden: int = 384
    depth: int = 12
    heads: int = 6
    num_classes: int | None = None
    out_ch: int | None = None

    @nn.compact
    def __call__(self, x, t, cond=None, train: bool = False):
        b, hgt, wid, ch = x.shape
        p = self.patch
        if hgt % p or wid % p or hgt != wid:
            raise ValueError(f"DiT needs square images divisible by patch={p}; got {hgt}x{wid}.")
        tokens = nn.Conv(self.hidden, (p, p), strides=(p, p))(x).reshape(b, -1, self.hidden)
        tokens = tokens + jnp.asarray(sincos_2d(hgt // p, self.hidden), x.dtype)[None]
        c = sinusoidal_embedding(t, 256).astype(x.dtype)
        c = nn.Dense(self.hidden)(jax.nn.silu(nn.Dense(self.hidden)(c)))
        if self.num_classes is not None:
            if cond is None:
                raise ValueError("this DiT is class-conditional: pass cond (integer labels).")
            c = c + nn.Embed(self.num_classes + 1, self.hidden)(cond)  # last row: 'no label'
        for _ in range(self.depth):
            tokens = DiTBlock(self.hidden, self.heads)(tokens, c)
        shift, scale = jnp.split(
            nn.Dense(2 * self.hidden, kernel_init=nn.initializers.zeros)(jax.nn.silu(c)), 2, -1
        )
        tokens = modulate(
            nn.LayerNorm(use_scale=False, use_bias=False, epsilon=1e-6)(tokens), shift, scale
        )
        out_ch = self.out_ch or ch
        out = nn.Dense(p * p * out_ch, kernel_init=nn.initializers.zeros)(tokens)
        g = hgt // p
        out = out.reshape(b, g, g, p, p, out_ch).transpose(0, 1, 3, 2, 4, 5)
        return out.reshape(b, hgt, wid, out_ch)


dit_s2 = functools.partial(DiT, patch=2, hidden=384, depth=12, heads=6)  # DiT-S/2
dit_tiny = functools.partial(DiT, patch=2, hidden=64, depth=2, heads=2)
