"""Formula tests run in float64 with strict dtype promotion (tests that check what users run
ask for float32 explicitly)."""

import os
import tempfile

os.environ.setdefault("JAX_PLATFORMS", "cpu")
# trained artifacts (the digits classifier) go to a fresh folder, not the user's ~/.cache
# (tests/run_suite.py gives all its processes one such folder)
if "DIFFJAX_CACHE_DIR" not in os.environ or not os.environ["DIFFJAX_CACHE_DIR"].startswith(
    os.path.join(tempfile.gettempdir(), "diffjax-test-cache-")
):
    os.environ["DIFFJAX_CACHE_DIR"] = tempfile.mkdtemp(prefix="diffjax-test-cache-")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)
jax.config.update("jax_numpy_dtype_promotion", "strict")


import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _free_compiled_programs():
    """Drops every compiled program after each test module: one process compiles thousands over
    the suite, and without this XLA:CPU crashed compiling in a late module (segfault)."""
    yield
    jax.clear_caches()
