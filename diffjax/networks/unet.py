"""The DDPM UNet (Ho et al. 2020, appendix B), with class conditioning and small variants.

Per resolution: num_res_blocks residual blocks (GroupNorm(32) -> swish -> conv3x3, + Dense(temb),
GroupNorm -> swish -> dropout -> conv3x3, 1x1 skip when channels change), self-attention at the
listed resolutions, conv downsampling; the middle is res-attn-res; the up path has
num_res_blocks + 1 blocks per resolution on concatenated skips, then nearest + conv upsampling.
The timestep embedding is sinusoidal(ch) -> Dense(4 ch) -> swish -> Dense(4 ch).
CIFAR-10 (`ddpm_cifar10`): ch 128, multipliers (1, 2, 2, 2), 2 blocks, attention at 16x16,
dropout 0.1: 35.7M parameters (tested).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from diffjax.networks.embeddings import sinusoidal_embedding


class ResBlock(nn.Module):
    out_ch: int
    dropout: float = 0.0
    groups: int = 32
    dtype: Any = None

    @nn.compact
    def __call__(self, x, temb, train: bool):
        conv = functools.partial(nn.Conv, self.out_ch, (3, 3), dtype=self.dtype)
        norm = functools.partial(nn.GroupNorm, self.groups, dtype=self.dtype)
        h = conv()(jax.nn.swish(norm()(x)))
        h = h + nn.Dense(self.out_ch, dtype=self.dtype)(jax.nn.swish(temb))[:, None, None, :]
        h = jax.nn.swish(norm()(h))
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = conv(kernel_init=nn.initializers.zeros)(h)
        if x.shape[-1] != self.out_ch:
            x = nn.Dense(self.out_ch, dtype=self.dtype)(x)  # 1x1 'nin' shortcut
        return x + h


class AttnBlock(nn.Module):
    groups: int = 32
    dtype: Any = None

    @nn.compact
    def __call__(self, x):
        b, hgt, wid, c = x.shape
        h = nn.GroupNorm(self.groups, dtype=self.dtype)(x)
        q, k, v = (nn.Dense(c, dtype=self.dtype)(h).reshape(b, hgt * wid, c) for _ in range(3))
        logits = jnp.einsum("bic,bjc->bij", q, k).astype(jnp.float32) * c**-0.5
        w = jax.nn.softmax(logits, axis=-1).astype(v.dtype)  # softmax in float32 under bfloat16
        h = jnp.einsum("bij,bjc->bic", w, v).reshape(b, hgt, wid, c)
        return x + nn.Dense(c, kernel_init=nn.initializers.zeros, dtype=self.dtype)(h)


def time_embedding(t, ch: int, dense, dtype):
    """sinusoidal(ch) -> Dense(4 ch) -> swish -> Dense(4 ch) (Ho et al.'s timestep embedding)."""
    temb = dense(4 * ch)(sinusoidal_embedding(t, ch).astype(dtype))
    return dense(4 * ch)(jax.nn.swish(temb))


def down_path(net, x, temb, train, res_block, conv) -> list:
    """The UNet's encoder, built inside `net`'s compact call (net: ch, ch_mult, num_res_blocks,
    attn_resolutions, groups, dtype): every activation the decoder's skips take, last the lowest
    resolution's."""
    hs = [conv(net.ch)(x)]
    for level, mult in enumerate(net.ch_mult):
        for _ in range(net.num_res_blocks):
            h = res_block(net.ch * mult)(hs[-1], temb, train)
            if h.shape[1] in net.attn_resolutions:
                h = AttnBlock(net.groups, net.dtype)(h)
            hs.append(h)
        if level != len(net.ch_mult) - 1:
            hs.append(conv(hs[-1].shape[-1], strides=(2, 2))(hs[-1]))
    return hs


def middle(net, h, temb, train, res_block):
    """res -> attention -> res at the lowest resolution."""
    h = res_block(h.shape[-1])(h, temb, train)
    h = AttnBlock(net.groups, net.dtype)(h)
    return res_block(h.shape[-1])(h, temb, train)


class UNet(nn.Module):
    """DDPM UNet on NHWC images. __call__(x, t, cond=None, train=False); t is the noise input
    (DDPM feeds the 0-based timestep); cond are integer labels when num_classes is set."""

    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 2, 2)
    num_res_blocks: int = 2
    attn_resolutions: tuple[int, ...] = (16,)
    dropout: float = 0.1
    num_classes: int | None = None
    out_ch: int | None = None
    groups: int = 32
    dtype: Any = None  # computation dtype (e.g. jnp.bfloat16); parameters stay float32

    @nn.compact
    def __call__(self, x, t, cond=None, train: bool = False):
        out_dtype = x.dtype
        dense = functools.partial(nn.Dense, dtype=self.dtype)
        conv = functools.partial(nn.Conv, kernel_size=(3, 3), dtype=self.dtype)
        res_block = functools.partial(
            ResBlock, dropout=self.dropout, groups=self.groups, dtype=self.dtype
        )
        temb = time_embedding(t, self.ch, dense, x.dtype)
        if self.num_classes is not None:
            if cond is None:
                raise ValueError("this UNet is class-conditional: pass cond (integer labels).")
            # one extra embedding row: the 'no label' index num_classes, for guidance dropout
            temb = temb + nn.Embed(self.num_classes + 1, 4 * self.ch, dtype=self.dtype)(cond)
        hs = down_path(self, x, temb, train, res_block, conv)
        h = middle(self, hs[-1], temb, train, res_block)
        for level, mult in reversed(list(enumerate(self.ch_mult))):
            for _ in range(self.num_res_blocks + 1):
                h = res_block(self.ch * mult)(jnp.concatenate([h, hs.pop()], axis=-1), temb, train)
                if h.shape[1] in self.attn_resolutions:
                    h = AttnBlock(self.groups, self.dtype)(h)
            if level != 0:
                b, hh, ww, c = h.shape
                h = jax.image.resize(h, (b, 2 * hh, 2 * ww, c), "nearest")
                h = conv(c)(h)
        h = jax.nn.swish(nn.GroupNorm(self.groups, dtype=self.dtype)(h))
        out = conv(self.out_ch or x.shape[-1], kernel_init=nn.initializers.zeros)(h)
        return out.astype(out_dtype)


ddpm_cifar10 = functools.partial(
    UNet, ch=128, ch_mult=(1, 2, 2, 2), num_res_blocks=2, attn_resolutions=(16,), dropout=0.1
)
ddpm_digits = functools.partial(
    UNet, ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), dropout=0.0, groups=8
)
