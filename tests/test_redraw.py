"""experiments.redraw: a metric of fixed models over fresh sample draws (eval.seed)."""

import json
import os

import numpy as np

from configs import gmm
from experiments import redraw
from experiments.rescore import evaluate_trained
from experiments.run import train_and_evaluate
from tests.cases import configured


def test_redraws_score_the_same_parameters_with_other_keys_and_resume(tmp_path):
    """The run's own value is the draw at eval.seed = seed + 1000; other draws differ; a draw of
    a --trained evaluation keeps that evaluation's sampler; finished draws are adopted."""
    base = {"seed": 3, "eval.metrics": ("w2",)}
    run, scored = tmp_path / "run", tmp_path / "run" / "evals" / "heun"
    trained = train_and_evaluate(configured(gmm, "tiny", **base), str(run))
    heun = configured(gmm, "tiny", **base, **{"sample.sampler": "heun"})
    other = evaluate_trained(heun, str(scored), str(run))
    out, work = tmp_path / "draws.md", tmp_path / "draws"
    argv = ["--run", f"last={run}", "--run", f"heun={scored}", "--draws", "1003,1",
            "--metric", "w2", "--workdir", str(work), "--out", str(out)]  # fmt: skip
    redraw.main(argv)
    rows = json.loads((tmp_path / "draws.json").read_text())["rows"]
    assert rows["last"][0] == rows["last"][1] == trained["w2"] != rows["last"][2]
    assert rows["heun"][0] == rows["heun"][1] == other["w2"] != rows["heun"][2]
    record = json.loads((work / "heun" / "draw1" / "config.json").read_text())
    assert record["sample"]["sampler"] == "heun" and record["eval"]["seed"] == 1
    v = np.asarray(rows["heun"])
    text = out.read_text()
    assert f"| heun | {v[0]:.2f} | {v[1]:.2f} | {v[2]:.2f} | {v.mean():.2f} +- " in text
    assert "Command: `python -m experiments.redraw --run" in text
    fit = json.loads((tmp_path / "draws.json").read_text())["key_effects"]
    assert list(fit["key_effects"]) == ["1", "1003"] and fit["dof"] == 1  # 4 values, 3 unknowns
    paired = np.subtract(rows["last"][1:], rows["heun"][1:]).mean()
    np.testing.assert_allclose(fit["run_means"]["last"] - fit["run_means"]["heun"], paired)
    assert "| effect | " in text and "Residual std" in text
    assert json.loads((tmp_path / "draws.json").read_text())["sample_class_fractions"] == {
        "last": {},
        "heun": {},
    }  # w2 has no class mix
    stamp = os.path.getmtime(work / "last" / "draw1" / "results.json")
    redraw.main(argv)  # adopted: nothing scored again
    assert os.path.getmtime(work / "last" / "draw1" / "results.json") == stamp


def test_key_effects_recover_an_additive_table_and_match_two_way_anova():
    """Exact run means and key effects from an additive table with a missing cell; on a full
    table with noise, the residual std is the two-way ANOVA's (x - row - column + grand mean);
    runs with no key in common are refused."""
    rng = np.random.default_rng(0)
    mu, kappa = np.array([20.0, 18.0, 23.0]), np.array([1.0, -2.0, 0.5, 0.5])
    keys = [1000, 1, 2, 7]
    table = {f"r{i}": {k: mu[i] + kappa[j] for j, k in enumerate(keys)} for i in range(3)}
    del table["r2"][7]
    fit = redraw.key_effects(table)
    np.testing.assert_allclose(list(fit["run_means"].values()), mu, atol=1e-12)
    np.testing.assert_allclose([fit["key_effects"][k] for k in keys], kappa, atol=1e-12)
    assert fit["residual_std"] < 1e-12 and fit["dof"] == 11 - 3 - 4 + 1
    x = mu[:, None] + kappa[None, :] + rng.normal(size=(3, 4))
    full = {f"r{i}": dict(zip(keys, x[i], strict=True)) for i in range(3)}
    fit = redraw.key_effects(full)
    anova = x - x.mean(1, keepdims=True) - x.mean(0, keepdims=True) + x.mean()
    assert fit["dof"] == 6
    np.testing.assert_allclose(fit["residual_std"], np.sqrt((anova**2).sum() / 6), rtol=1e-12)
    np.testing.assert_allclose(list(fit["run_means"].values()), x.mean(1), rtol=1e-12)
    with np.testing.assert_raises_regex(ValueError, "share too few keys"):
        redraw.key_effects({"a": {1: 1.0, 2: 2.0}, "b": {3: 1.0, 4: 0.0}})


def test_class_mix_fit_correlation_and_multinomial_spread():
    """An FD that is a linear function of the class mix's chi-square distance correlates 1; a
    fixed mix resampled multinomially spreads as (C - 1) / n, a mix that itself moves more."""
    rng = np.random.default_rng(1)
    n, reference = 1000, np.full(10, 0.1)
    mix = np.array([0.11, 0.09, 0.1, 0.1, 0.12, 0.08, 0.1, 0.1, 0.1, 0.1])
    draws = {k: rng.multinomial(n, mix) / n for k in range(400)}
    fd = {k: 15.0 + 30.0 * (((q - reference) ** 2) / reference).sum() for k, q in draws.items()}
    fit = redraw.class_mix_fit(fd, draws, reference, n)
    np.testing.assert_allclose(fit["correlation"], 1.0, atol=1e-12)
    assert fit["draws"] == 400 and fit["multinomial_chi2"] == 9 / n
    np.testing.assert_allclose(fit["chi2_around_mean"], 9 / n, rtol=0.1)  # sd ~2.4%
    moving = {k: rng.multinomial(n, rng.dirichlet(300 * mix)) / n for k in range(400)}
    assert redraw.class_mix_fit(fd, moving, reference, n)["chi2_around_mean"] > 1.5 * 9 / n
