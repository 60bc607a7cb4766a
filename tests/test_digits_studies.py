"""The digits studies (experiments/studies/digits_recipes.py, ho_table2.py): each cell resolves to
the recipe it names, and each study's tiny variant runs end to end through its own command."""

import json
import os
import shutil

import numpy as np
import pytest

from diffjax import samplers
from diffjax.parameterisations import (
    EDMPreconditioned,
    EpsPrediction,
    MeanPrediction,
    VelocityPrediction,
    VPrediction,
)
from diffjax.schedules import EDM, Cosine, DiscreteDDPM, RectifiedFlow
from experiments import components
from experiments import study as S
from tests.test_study import run_study

STUDY = "experiments/studies/digits_recipes.py"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# label -> (schedule, parameterisation, sampler, steps) each paper uses
PAPERS = {
    "DDPM": (DiscreteDDPM, EpsPrediction, samplers.DDPM, 1000),
    "v + cosine": (Cosine, VPrediction, samplers.DDIM, 100),
    "EDM": (EDM, EDMPreconditioned, samplers.Heun, 18),
    "rectified flow": (RectifiedFlow, VelocityPrediction, samplers.Euler, 50),
}


def _paper(label):
    return next(v for k, v in PAPERS.items() if label.startswith(k))


def test_every_cell_resolves_to_the_recipe_it_names():
    study = S.load_study(os.path.join(ROOT, STUDY))
    jobs = S.jobs(study, seeds=[0])
    assert len(jobs) == 14 and all("," not in c for j in jobs for c in j.cell)  # --only splits on ,
    for job in jobs:
        config = S.job_config(study, job)
        comps = components.build(config)
        schedule, param, sampler, steps = _paper(job.cell[0])
        assert isinstance(comps.denoiser.schedule, schedule), job.cell
        assert isinstance(comps.denoiser.parameterisation, param), job.cell
        shared = job.cell[1] != "own"
        assert isinstance(comps.sampler, samplers.IPNDM if shared else sampler), job.cell
        assert config.sample.num_steps == (50 if shared else steps), job.cell
        assert config.train.num_steps == 2000 and config.seed == 0
    edm = S.job_config(study, next(j for j in jobs if j.cell[0].startswith("EDM")))
    assert components.build(edm).denoiser.parameterisation.sigma_data == 0.5


def test_the_tiny_variant_runs_a_recipe_and_its_shared_sampler(tmp_path):
    """EDM's cell (the most distinct recipe: F, c_noise, Heun on Karras' grid) on seed 0, scored by
    its own sampler and by iPNDM from one training, then summarised into the study's table."""
    args = ["--study", STUDY, "--workdir", str(tmp_path), "--variant", "tiny", "--seeds", "0"]
    args += ["--only", "recipe=EDM: F + log-normal sigma + Heun"]
    with open(tmp_path / "log.txt", "w") as log:
        assert run_study(args, log).wait(timeout=600) == 0, (tmp_path / "log.txt").read_text()[
            -3000:
        ]
    seed0 = tmp_path / "jobs" / "EDM: F + log-normal sigma + Heun" / "seed0"
    own = json.loads((seed0 / "results.json").read_text())
    shared = json.loads((seed0 / "evals" / "iPNDM 50 (shared)" / "results.json").read_text())
    assert np.isfinite(own["fd"]) and np.isfinite(own["pf_bits_per_dim"]) and own["fd"] > 0
    assert np.isfinite(shared["fd"]) and "pf_bits_per_dim" not in shared
    assert len(list(seed0.glob("checkpoints/*"))) >= 1 and not list(
        seed0.glob("evals/*/checkpoints")
    )
    summary = [
        "--study",
        STUDY,
        "--workdir",
        str(tmp_path),
        "--variant",
        "tiny",
        "--summarise_only",
    ]
    with open(tmp_path / "log2.txt", "w") as log:
        assert run_study(summary, log).wait(timeout=300) == 0, (tmp_path / "log2.txt").read_text()
    table = (tmp_path / "table.md").read_text()
    assert "iPNDM 50 (shared)" in table and f"{own['fd']:.3f}" in table


@pytest.mark.slow
def test_the_whole_tiny_variant_runs(tmp_path):
    """Every recipe and both seeds (~10 min on 2 cores)."""
    args = ["--study", STUDY, "--workdir", str(tmp_path), "--variant", "tiny"]
    with open(tmp_path / "log.txt", "w") as log:
        assert run_study(args, log).wait(timeout=1800) == 0, (tmp_path / "log.txt").read_text()[
            -3000:
        ]
    assert len(list(tmp_path.glob("jobs/*/seed*/results.json"))) == 14
    assert len(list(tmp_path.glob("jobs/*/seed*/evals/*/results.json"))) == 14


HO = "experiments/studies/ho_table2.py"


def test_every_ho_table2_cell_is_the_row_it_names():
    study = S.load_study(os.path.join(ROOT, HO))
    jobs = S.jobs(study, seeds=[0])
    assert len(jobs) == 14 and all("," not in c for j in jobs for c in j.cell)
    for job in jobs:
        config = S.job_config(study, job)
        den = components.build(config).denoiser
        objective, variance = job.cell
        want = MeanPrediction if objective.startswith("mu~") else EpsPrediction
        assert isinstance(den.parameterisation, want), job.cell
        assert den.learned_variance == ("learned" in objective), job.cell
        assert config.objective.loss == (
            "vlb" if " L " in objective else "hybrid" if "hybrid" in objective else "denoising"
        )
        fixed = {"own Sigma": "beta", "beta~": "beta_tilde"}[variance]
        own = "learned_range" if den.learned_variance and variance == "own Sigma" else fixed
        assert config.eval.bound_variance == fixed and own in config.sample.sampler, job.cell
        metrics = ("fd", "bound") if variance == "own Sigma" else ("bound",)
        assert config.eval.metrics == metrics and config.train.num_steps == 2000


def test_ho_table2_tiny_runs_the_mean_prediction_on_the_bound_with_a_learned_variance(tmp_path):
    """Ho's baseline row end to end (mu~, L, learned Sigma), sampled with its learned variance
    and scored on the bound under beta~: its bound uses the model's own variance, so both levels'
    bounds agree; the beta~ level draws no Frechet distance."""
    label = "mu~ + L + learned Sigma"
    args = ["--study", HO, "--workdir", str(tmp_path), "--variant", "tiny", "--seeds", "0"]
    with open(tmp_path / "log.txt", "w") as log:
        code = run_study([*args, "--only", f"objective={label}"], log).wait(timeout=600)
    assert code == 0, (tmp_path / "log.txt").read_text()[-3000:]
    seed0 = tmp_path / "jobs" / label / "seed0"
    beta = json.loads((seed0 / "results.json").read_text())
    tilde = json.loads((seed0 / "evals" / "beta~" / "results.json").read_text())
    assert np.isfinite(beta["bits_per_dim"]) and beta["bits_per_dim"] == tilde["bits_per_dim"]
    assert np.isfinite(beta["fd"]) and "fd" not in tilde


SIZE = "experiments/studies/ddpm_digits_size.py"


def test_the_size_study_trains_each_width_once_and_scores_its_kept_checkpoints():
    study = S.load_study(os.path.join(ROOT, SIZE))
    jobs = S.jobs(study, seeds=[0])
    trainings = [j for j in jobs if j.trained is None]
    assert [S.job_config(study, j).network.unet.ch for j in trainings] == [32, 48, 64]
    for job in jobs:
        config = S.job_config(study, job)
        assert config.train.num_steps == 6000 and config.train.keep_checkpoints_every == 2000
        step = None if job.cell[1] == "6000" else int(job.cell[1])
        assert config.eval.checkpoint_step == step, job.cell
    tiny = S.load_study(os.path.join(ROOT, SIZE), "tiny")
    assert list(tiny.axes[1].values) == ["20", "10"] and tiny.config.endswith(":tiny")


def test_the_size_study_tiny_variant_draws_a_learning_curve(tmp_path):
    """One width at 20 steps, its step-10 checkpoint scored from the same training: a different
    model (other samples), the table's curve filled and its training time left to the run."""
    args = ["--study", SIZE, "--workdir", str(tmp_path), "--variant", "tiny", "--seeds", "0"]
    with open(tmp_path / "log.txt", "w") as log:
        code = run_study([*args, "--only", "size=ch 32 (0.70M)"], log).wait(timeout=600)
    assert code == 0, (tmp_path / "log.txt").read_text()[-3000:]
    seed0 = tmp_path / "jobs" / "ch 32 (0.70M)" / "seed0"
    last = json.loads((seed0 / "results.json").read_text())
    early = json.loads((seed0 / "evals" / "10" / "sigma-hat" / "results.json").read_text())
    assert early["trained_step"] == 10 and last["steps"] == 20
    assert np.isfinite(early["bits_per_dim"]) and early["bits_per_dim"] != last["bits_per_dim"]
    table, report = (tmp_path / "table.md").read_text(), (tmp_path / "report.md").read_text()
    curve = next(line for line in report.splitlines() if "| FD, sigma-hat |" in line)
    assert f"{early['fd']:.3f}" in curve and f"{last['fd']:.3f}" in curve
    row = next(line for line in table.splitlines() if "| 10 | sigma-hat |" in line)
    assert row.split("|")[-3].strip() == "-"  # train s / run: a kept checkpoint has none
    # --kept_only scores the kept checkpoints of a training in progress and trains nothing
    shutil.rmtree(seed0 / "evals" / "10")
    os.rename(seed0 / "results.json", seed0 / "results.done")
    with open(tmp_path / "log2.txt", "w") as log:
        code = run_study([*args, "--only", "size=ch 32 (0.70M)", "--kept_only"], log).wait(600)
    assert code == 0, (tmp_path / "log2.txt").read_text()[-3000:]
    again = json.loads((seed0 / "evals" / "10" / "sigma-hat" / "results.json").read_text())
    assert again["fd"] == early["fd"] and again["trained_revision"] is None
    assert (seed0 / "evals" / "10" / "ddim eta=0" / "results.json").exists()
    assert not (seed0 / "results.json").exists()  # the training was not run again
