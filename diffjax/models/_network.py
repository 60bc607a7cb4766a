"""A Flax module as the function a Denoiser evaluates: (params, x_in, noise, cond, key) -> output."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import jax

Array = jax.Array


@dataclasses.dataclass(frozen=True)
class FlaxNetwork:
    """Calls `module.apply(params, x, noise, cond)`; with a dropout `key`, in training mode.

    Modules whose __call__ takes `train` get train=True and rngs={'dropout': key} when a key is
    given; deterministic modules (the MLP) ignore the key. Hashable (a jit static argument).
    """

    module: Any

    @property
    def takes_train(self) -> bool:
        return "train" in inspect.signature(type(self.module).__call__).parameters

    def init(self, key: Array, x: Array, noise: Array, cond=None):
        """Parameters for inputs shaped like x (batch, ...) and noise (batch,)."""
        return self.module.init(key, x, noise, cond)

    def __call__(self, params, x: Array, noise: Array, cond=None, key: Array | None = None):
        if key is None or not self.takes_train:
            return self.module.apply(params, x, noise, cond)
        return self.module.apply(params, x, noise, cond, train=True, rngs={"dropout": key})
