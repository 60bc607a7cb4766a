"""A noise-aware classifier for classifier guidance (Dhariwal & Nichol 2021, sec. 4): the DDPM
UNet's encoder and middle on x_t with the timestep embedding, then GroupNorm -> swish -> global
average pool -> Dense(num_classes). __call__(x, t, train=False) -> logits (batch, num_classes).
"""

from __future__ import annotations

import functools
from typing import Any

import flax.linen as nn
import jax

from diffjax.networks.unet import ResBlock, down_path, middle, time_embedding


class NoisyClassifier(nn.Module):
    num_classes: int
    ch: int = 32
    ch_mult: tuple[int, ...] = (1, 2)
    num_res_blocks: int = 1
    attn_resolutions: tuple[int, ...] = (4,)
    dropout: float = 0.0
    groups: int = 8
    dtype: Any = None

    @nn.compact
    def __call__(self, x, t, train: bool = False):
        dense = functools.partial(nn.Dense, dtype=self.dtype)
        conv = functools.partial(nn.Conv, kernel_size=(3, 3), dtype=self.dtype)
        res_block = functools.partial(
            ResBlock, dropout=self.dropout, groups=self.groups, dtype=self.dtype
        )
        temb = time_embedding(t, self.ch, dense, x.dtype)
        h = middle(
            self, down_path(self, x, temb, train, res_block, conv)[-1], temb, train, res_block
        )
        h = jax.nn.swish(nn.GroupNorm(self.groups, dtype=self.dtype)(h))
        return dense(self.num_classes)(h.mean(axis=(1, 2))).astype(x.dtype)
