import json
import os

import numpy as np
import pytest

from configs import flow2d as flow2d_config
from experiments import flow2d


@pytest.mark.parametrize("method", ["icfm", "otcfm", "sbcfm"])
def test_flow2d_runs_end_to_end(method, tmp_path):
    config = flow2d_config.get_config()
    config.method = method
    config.quick = True
    config.quick_epochs = 1
    config.num_train = 1024
    config.quick_num_test = 256
    config.euler_steps = 5
    results = flow2d.train_and_evaluate(config, str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["method"] == method and np.isfinite(saved["w2"]) and np.isfinite(saved["npe"])
    assert saved["sigma"] == (1.0 if method == "sbcfm" else 0.1)
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
    config.method = "cfm"
    with pytest.raises(ValueError, match="method='cfm' is not one of 'icfm'"):
        flow2d.train_and_evaluate(config, str(tmp_path))
