"""Writes tests/data/reference_runs.json: the tiny variants of flow2d, ddpm_digits and gmm under
the suite's precision settings, with the revision that produced them (rerun after a numerics change)."""

import json
import sys

sys.path.insert(0, ".")  # run from the repository root: python tests/data/make_reference_runs.py
import tests.conftest  # noqa: F401,E402  the suite's settings: float64 enabled, strict promotion, fresh cache
from configs import ddpm_digits, flow2d, gmm
from experiments.provenance import environment, git_revision
from experiments.run import train_and_evaluate
from tests.cases import configured

keys = {
    "flow2d": ("w2", "npe", "final_loss"),
    "ddpm_digits": ("fd", "bits_per_dim", "final_loss"),
    "gmm": ("w2", "denoiser_error", "sampler_error", "pf_nll", "kl", "final_loss"),
}
runs = {}
for name, module in (("flow2d", flow2d), ("ddpm_digits", ddpm_digits), ("gmm", gmm)):
    r = train_and_evaluate(configured(module), f"/tmp/refruns/{name}", fresh=True)
    runs[name] = {k: r[k] for k in keys[name]}
json.dump(
    {
        "revision": git_revision(),
        "command": "python tests/data/make_reference_runs.py",
        "runs": runs,
        "environment": environment(),
    },
    open("tests/data/reference_runs.json", "w"),
    indent=2,
)
print(runs)
