"""The first example of docs/api.md runs as written and does what it says."""

import os
import re

import jax
import numpy as np

DOC = os.path.join(os.path.dirname(__file__), "..", "docs", "api.md")


def test_api_example_trains_and_samples_the_two_modes(capsys):
    text = open(DOC).read()
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    assert len(code.strip().splitlines()) <= 25
    namespace = {}
    with jax.numpy_dtype_promotion("standard"), jax.enable_x64(False):
        exec(compile(code, DOC, "exec"), namespace)
    samples = np.asarray(namespace["out"].samples)
    # the data: half near (2, 2) with std 0.3, half at (-2, -2)
    near_a = np.linalg.norm(samples - 2.0, axis=1) < 1.0
    near_b = np.linalg.norm(samples + 2.0, axis=1) < 1.0
    assert near_a.mean() > 0.35 and near_b.mean() > 0.35, (near_a.mean(), near_b.mean())
    assert int(namespace["out"].nfe) == 20
    assert "nan" not in capsys.readouterr().out
