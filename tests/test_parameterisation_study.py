"""The parameterisation study (experiments/studies/parameterisation.py): its theory claims, its
analysis and its tiny variant end to end."""

import os

import jax.numpy as jnp
import numpy as np
import pytest

from diffjax import resolve
from diffjax.losses import elbo_weight
from experiments import study as S
from experiments.studies import parameterisation as P
from experiments.studies import parameterisation_report as R

STUDY = "experiments/studies/parameterisation.py"


def _w_lambda(weighting: str, process: str, lam: np.ndarray) -> np.ndarray:
    """Kingma & Gao's w(lambda) of a study weighting on a process, at log-SNR values lam."""
    spec = P.WEIGHTINGS[weighting]
    sched = resolve.schedule(P.PROCESSES[process]["process.schedule"])
    t = sched.t_from_logsnr(jnp.asarray(lam))
    law = resolve.time_sampling(spec["objective.time_sampling"])
    w = resolve.weighting(spec["objective.weighting"], resolve.parameterisation("eps"))
    return np.asarray(elbo_weight(w, sched(t), law.density(t, sched)))


def test_schedule_invariant_weightings_are_one_objective_on_every_process():
    """ELBO, sigmoid and EDM's lambda with log-normal sigma: one w(lambda) up to a constant (the
    uniform law's 1/(t_max - t_min)) on vp, cosine, edm and rf inside every range; SNR with
    uniform t is not (what the study's groups rely on). ELBO with uniform t is w = p(t)."""
    lam = np.linspace(-6.0, 6.0, 41)
    for weighting in R.INVARIANT_OVER_PROCESS:
        ref = _w_lambda(weighting, "vp", lam)
        for process in ("cosine", "edm", "rf"):
            ratio = _w_lambda(weighting, process, lam) / ref
            np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6, err_msg=f"{weighting}/{process}")
    vp = resolve.schedule("vp")
    np.testing.assert_allclose(_w_lambda("elbo", "vp", lam), 1.0 / (vp.t_max - vp.t_min), rtol=1e-9)
    spread = _w_lambda("snr", "rf", lam) / _w_lambda("snr", "vp", lam)
    assert spread.max() / spread.min() > 2.0


def _records(values) -> list[dict]:
    cells = [
        (d, pr, pa, w)
        for d in P.DATA
        for pr in P.PROCESSES
        for pa in P.PARAMETERISATIONS
        for w in P.WEIGHTINGS
    ]
    names = ("data", "process", "parameterisation", "weighting")
    return [
        {"cell": dict(zip(names, c, strict=True)), "values": {m: values(c) for m in R.TESTED}}
        for c in cells
    ]


def test_theory_groups_cover_the_factorial():
    groups = R.theory_groups(_records(lambda c: [1.0, 1.1]))
    kinds = [k for k, _, _ in groups]
    assert kinds.count("same weighting, any target") == 2 * 4 * 6
    assert kinds.count("schedule-invariant, any process") == 2 * 5 * 3
    assert kinds.count("same weighting, v/velocity/edm") == 2 * 4 * 6
    snr = [c for k, label, c in groups if label == "2d/rf/snr"][0]
    assert ("2d", "rf", "eps", "simple") in snr and len(snr) == 6
    assert all(len(c) == 4 for k, _, c in groups if k.startswith("schedule"))


def test_equal_within_noise_tells_seed_noise_from_a_real_difference():
    rng = np.random.default_rng(0)
    same = [list(np.exp(rng.normal(0.0, 0.1, 3))) for _ in range(5)]
    shifted = same[:4] + [list(np.exp(rng.normal(1.0, 0.1, 3)))]
    p_same, _ = R.equal_within_noise(same)
    p_shift, spread = R.equal_within_noise(shifted)
    assert p_same > 0.05 and p_shift < 1e-3 and spread > 5
    summary, detail = R.equivalence_table(
        _records(lambda c: [1.0, 1.2] if c[2] != "x0" else [30.0, 33.0])
    )
    # x0 differs in every group it joins; schedule-invariant groups hold one target: all equal
    assert "| same weighting, any target | kl | 0 | 48 |" in summary
    assert "| schedule-invariant, any process | kl | 30 | 0 |" in summary
    assert "| same weighting, v/velocity/edm | kl | 48 | 0 |" in summary


def test_the_tiny_variant_runs_and_writes_the_report(tmp_path):
    """A tiny job (v with SNR weighting on vp): its results, the report and its plots."""
    docs = tmp_path / "docs" / "param.md"
    os.makedirs(docs.parent)
    argv = [
        "--study", STUDY, "--workdir", str(tmp_path / "w"), "--variant", "study,tiny",
        "--only", "data=2d", "--only", "process=vp", "--only", "parameterisation=v",
        "--only", "weighting=snr", "--seeds", "0", "--docs", str(docs),
    ]  # fmt: skip
    assert S.main(argv) == 0
    text = docs.read_text()
    assert "Same objective in theory" in text and "| 2d | vp | v | snr | 1 |" in text
    for png in ("param_weightings.png", "param_denoiser_error_2d.png"):
        assert (docs.parent / png).stat().st_size > 10_000
    rows = S.collect(S.load_study(STUDY), str(tmp_path / "w"))[0]
    assert [r["cell"]["parameterisation"] for r in rows] == ["v"]
    assert np.isfinite(rows[0]["kl"]) and rows[0]["w2_nfe8"] > 0
    assert len(rows[0]["denoiser_error_by_logsnr"]) == 9


@pytest.mark.parametrize("nfe", [7, 0])
def test_an_nfe_the_sampler_cannot_spend_fails_before_work(nfe):
    from experiments.evaluation import nfe_steps

    with pytest.raises(ValueError, match="nfe_sweep"):
        nfe_steps(resolve.sampler("midpoint"), nfe)
    assert nfe_steps(resolve.sampler("midpoint"), 10) == 5
