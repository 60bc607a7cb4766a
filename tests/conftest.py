"""Formula tests run in float64 with strict dtype promotion (tests that check what users run
ask for float32 explicitly)."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")
