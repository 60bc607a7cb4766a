"""experiments.redraw: a metric of fixed models over fresh sample draws (eval.seed)."""

import json
import os

import numpy as np

from configs import gmm
from experiments import redraw
from experiments.run import evaluate_trained, train_and_evaluate
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
    stamp = os.path.getmtime(work / "last" / "draw1" / "results.json")
    redraw.main(argv)  # adopted: nothing scored again
    assert os.path.getmtime(work / "last" / "draw1" / "results.json") == stamp
