import json
import os

import numpy as np
import pytest

from configs import ddpm_cifar10, ddpm_digits
from configs import flow2d as flow2d_config
from experiments import ddpm_images, flow2d, flow2d_table


@pytest.mark.parametrize("method", ["icfm", "otcfm", "sbcfm", "rf2"])
def test_flow2d_runs_end_to_end(method, tmp_path):
    config = flow2d_config.get_config()
    config.method, config.reflow = ("rf", 1) if method == "rf2" else (method, 0)
    config.quick = True
    config.quick_epochs = 1
    config.num_train = 1024
    config.quick_num_test = 256
    config.euler_steps = 5
    results = flow2d.train_and_evaluate(config, str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["method"] == config.method and saved["reflow"] == config.reflow
    assert np.isfinite(saved["w2"]) and np.isfinite(saved["npe"])
    assert saved["sigma"] == {"sbcfm": 1.0, "rf2": None}.get(method, 0.1)
    # the reflow round trains (and checkpoints) on its own, after the first training
    assert (tmp_path / "reflow1" / "metrics.jsonl").exists() == (method == "rf2")
    assert os.path.getsize(tmp_path / "samples.png") > 1000
    assert results["w2"] == saved["w2"]


def test_flow2d_config_errors(tmp_path):
    config = flow2d_config.get_config()
    with pytest.raises(AttributeError, match="learning_rat"):
        config.learning_rat = 1.0  # locked: unknown keys fail
    config.task = "moons_to_spirals"
    with pytest.raises(ValueError, match="config.task='moons_to_spirals' is not one of"):
        flow2d.train_and_evaluate(config, str(tmp_path))
    config.task = "gaussian_to_moons"
    config.reflow = 1
    with pytest.raises(ValueError, match="config.reflow=1 needs config.method='rf'"):
        flow2d.train_and_evaluate(config, str(tmp_path))
    config.reflow = 0
    config.coupling = "sinkhorn"  # without epsilon
    with pytest.raises(TypeError, match="coupling 'sinkhorn'.*epsilon"):
        flow2d.train_and_evaluate(config, str(tmp_path))
    config.coupling = None
    config.method = "cfm"
    with pytest.raises(ValueError, match="path='cfm' is not one of 'icfm'"):
        flow2d.train_and_evaluate(config, str(tmp_path))


def test_flow2d_table_skips_pairs_the_paper_leaves_blank(tmp_path, capsys):
    flow2d_table.run_jobs(str(tmp_path), ["sbcfm"], ["moons_to_8gaussians"], [42])
    assert "skipping sbcfm moons_to_8gaussians" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())


def test_flow2d_table_summary_pairs_ours_with_the_paper():
    rows = [
        {
            "method": "otcfm",
            "task": "gaussian_to_moons",
            "seed": s,
            "w2": w,
            "npe": 0.1,
            "train_seconds": 1.0,
        }
        for s, w in ((42, 0.12), (43, 0.14))
    ]
    floor = {"gaussian_to_moons": {"42": 0.03, "43": 0.05, "44": 9.0}}  # seed 44 not finished
    table, records = flow2d_table.summarise(rows, floor)
    assert "| OT-CFM | N -> moons | 2 | 0.130 +- 0.014 | 0.130 +- 0.016 | 0.040 +- 0.014 |" in table
    assert records[0]["w2_intervals_overlap"] is True
    assert records[0]["two_sample_floor"] == [0.03, 0.05]


def test_flow2d_table_merge_adopts_another_sweeps_seeds(tmp_path):
    rows = [
        {
            "method": "icfm",
            "task": "gaussian_to_moons",
            "seed": s,
            "w2": w,
            "npe": n,
            "train_seconds": t,
        }
        for s, w, n, t in ((44, 0.20, 0.9, 3.0), (42, 0.16, 0.8, 1.0))
    ]
    floor = {"gaussian_to_moons": {"42": 0.03, "44": 0.04}}
    _, records = flow2d_table.summarise(rows, floor)
    assert records[0]["seeds"] == [42, 44] and records[0]["w2"] == [0.16, 0.20]
    other = tmp_path / "other.json"
    other.write_text(json.dumps(records))
    here = tmp_path / "here"
    # seed 42 already finished here: kept, not overwritten
    flow2d_table.merge(str(here), str(other))  # creates the workdir
    kept = here / "icfm" / "gaussian_to_moons" / "seed42" / "results.json"
    kept.write_text(json.dumps({**rows[1], "w2": 0.5}))
    (here / "icfm" / "gaussian_to_moons" / "seed44" / "results.json").unlink()
    assert flow2d_table.merge(str(here), str(other)) == 1
    merged = flow2d_table.collect(str(here))
    assert [(r["seed"], r["w2"], r["train_seconds"]) for r in merged] == [
        (42, 0.5, 1.0),
        (44, 0.20, 3.0),
    ]
    assert json.loads((here / "floors.json").read_text()) == floor


def _tiny_ddpm_config(quick_steps=2):
    config = ddpm_digits.get_config()
    config.quick = True
    config.quick_steps = quick_steps
    config.quick_num_samples = 16
    config.model.ch = 8
    config.model.groups = 4
    config.diffusion.num_timesteps = 20
    config.sample_every = 1
    config.log_every = 1
    config.progress = False
    return config


def test_ddpm_images_runs_end_to_end(tmp_path):
    results = ddpm_images.train_and_evaluate(_tiny_ddpm_config(), str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == results
    # an untrained model's bound is finite and worse than a uniform coder over 17 levels
    assert np.log2(17) < saved["bits_per_dim"] < 100
    assert np.isfinite(saved["fd"]) and saved["fd"] > saved["fd_train_vs_heldout"]
    assert saved["classifier_heldout_accuracy"] > 0.97
    assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000001.png", "step_0000002.png"]
    assert np.load(tmp_path / "samples.npz")["images"].shape == (16, 8, 8, 1)
    assert [
        r["step"] for r in map(json.loads, open(tmp_path / "metrics.jsonl")) if "loss" in r
    ] == [1, 2]


def test_ddpm_configs_and_errors(tmp_path):
    cifar = ddpm_cifar10.get_config()
    assert (cifar.dataset, cifar.model.ch, cifar.optim.warmup_steps) == ("cifar10", 128, 5000)
    config = _tiny_ddpm_config()
    with pytest.raises(AttributeError, match="num_stepz"):
        config.num_stepz = 1
    config.diffusion.sampler_variance = "large"
    with pytest.raises(
        ValueError, match="config.diffusion.sampler_variance: .*'large' is not one of"
    ):
        ddpm_images.train_and_evaluate(config, str(tmp_path))
    config = _tiny_ddpm_config()
    config.dataset = "imagenet"
    with pytest.raises(ValueError, match="dataset='imagenet' is not one of 'digits'"):
        ddpm_images.train_and_evaluate(config, str(tmp_path))
    config = _tiny_ddpm_config()
    config.eval.inception_weights = str(tmp_path / "missing.pth")
    with pytest.raises(FileNotFoundError, match="does not download weights"):
        ddpm_images.train_and_evaluate(config, str(tmp_path / "fid"))
    assert not (tmp_path / "fid" / "checkpoints").exists()  # failed before training
