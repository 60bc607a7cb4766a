"""The generic experiment: every family's tiny variant end to end, and each choice resolved from
its config key (a bad one named before any work)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import ddpm_cifar10, ddpm_digits, flow2d, gmm
from diffjax import analytic
from experiments import bound_eval, components, datasets
from experiments import evaluation as E
from experiments.run import train_and_evaluate, validate
from experiments.validate import ConfigError
from tests.cases import configured

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.mark.parametrize("path,reflow", [("icfm", 0), ("otcfm", 0), ("sbcfm", 0), ("rf", 1)])
def test_flow2d_runs_end_to_end(path, reflow, tmp_path):
    config = configured(flow2d, **{"process.path": path, "train.reflow": reflow})
    results = train_and_evaluate(config, str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved == json.loads(json.dumps(results))
    assert np.isfinite(saved["w2"]) and np.isfinite(saved["npe"]) and saved["steps"] == 2
    # the reflow round trains (and checkpoints) on its own, after the first training
    assert (tmp_path / "reflow1" / "metrics.jsonl").exists() == bool(reflow)
    assert os.path.getsize(tmp_path / "samples.png") > 1000
    prov = saved["provenance"]
    assert len(prov["config_hash"]) == 12 and prov["jax_version"] == jax.__version__
    assert prov["git_revision"] != "" and prov["wall_seconds"] > 0 and "cpu" in prov["device"]


def test_ddpm_digits_runs_end_to_end_with_its_metrics(tmp_path):
    config = configured(
        ddpm_digits, "tiny,clip", **{"train.sample_every": 10, "eval.bound_decoder_steps": (1, 10)}
    )
    saved = train_and_evaluate(config, str(tmp_path))
    assert sorted(saved["bits_per_dim_decoder_at"]) == ["1", "10"]
    assert all(np.isfinite(v) for v in saved["bits_per_dim_decoder_at"].values())
    # an untrained model's bound is finite and worse than a uniform coder over 17 levels
    assert np.log2(17) < saved["bits_per_dim"] < 100
    # its parts over timesteps (float64 from the per-step terms) add up to the float32 total
    assert sum(saved["bound_parts"].values()) == pytest.approx(saved["bits_per_dim"], rel=1e-5)
    assert np.isfinite(saved["fd"]) and saved["fd"] > saved["fd_train_vs_heldout"]
    assert saved["classifier_heldout_accuracy"] > 0.97
    assert sorted(os.listdir(tmp_path / "samples")) == ["step_0000010.png", "step_0000020.png"]
    samples = np.load(tmp_path / "samples.npz")["samples"]
    assert samples.shape == (16, 8, 8, 1) and np.abs(samples).max() <= 1.0
    logged = [r["step"] for r in map(json.loads, open(tmp_path / "metrics.jsonl")) if "loss" in r]
    assert logged == [10, 20]


def test_the_bound_parts_split_the_timesteps_in_bits_per_dim():
    dims, nats_per_bit = 64, 64 * np.log(2.0)
    terms = np.full((1000, 3), 2.0 * nats_per_bit)  # 2 bits/dim at every step, every example
    terms[0] = [1.0 * nats_per_bit, 2.0 * nats_per_bit, 3.0 * nats_per_bit]  # the decoder: mean 2
    parts = bound_eval.bound_parts(terms, np.full(3, 0.5 * nats_per_bit), dims)
    assert parts == pytest.approx(
        {
            "prior L_T": 0.5,
            "decoder L_0 (i = 1)": 2.0,
            "i = 2-10": 18.0,
            "i = 11-100": 180.0,
            "i = 101-1000": 1800.0,
        }
    )


def test_hos_mean_prediction_trains_on_the_true_bound_with_a_learned_variance(tmp_path):
    """Ho et al.'s Table 2 baseline row from the config alone: mu~ prediction, the bound L as the
    loss, Nichol & Dhariwal's learned variance (used by the bound it is scored with)."""
    overrides = {
        "objective.loss": "vlb",
        "objective.parameterisation": "mean",
        "objective.vlb_variance": "learned",
        "eval.metrics": ("fd", "bound"),
    }
    saved = train_and_evaluate(configured(ddpm_digits, "tiny", **overrides), str(tmp_path))
    # 20 steps from a network whose mu~ is 0 at init: a finite bound, far above a uniform coder
    assert np.log2(17) < saved["bits_per_dim"] < np.inf and np.isfinite(saved["fd"])
    losses = [r["loss"] for r in map(json.loads, open(tmp_path / "metrics.jsonl")) if "loss" in r]
    assert len(losses) == 2 and all(np.isfinite(losses))
    with pytest.raises(ValueError, match=r"config.objective.vlb_variance='large' is not one of"):
        bad = {**overrides, "objective.vlb_variance": "large"}
        train_and_evaluate(configured(ddpm_digits, "tiny", **bad), str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists()


def test_a_conditional_digits_run_sweeps_the_guidance_scale(tmp_path):
    """Guidance at w = 1, 3 from the run's own noise and labels: w = 1 is the conditional model
    itself, so every method reproduces the run's FD and class accuracy there."""
    config = configured(ddpm_digits, "tiny,cfg", **{"eval.guidance_sweep": (1.0, 3.0)})
    r = train_and_evaluate(config, str(tmp_path))
    assert 0.0 <= r["class_accuracy"] <= 1.0 and 1.0 <= r["inception_score"] <= 10.0
    for w in ("1", "3"):
        assert np.isfinite(r[f"fd_w{w}"]) and 0.0 <= r[f"class_accuracy_w{w}"] <= 1.0
        assert 1.0 <= r[f"inception_score_w{w}"] <= 10.0
    np.testing.assert_allclose(r["fd_w1"], r["fd"], rtol=1e-3)
    assert abs(r["class_accuracy_w1"] - r["class_accuracy"]) <= 1 / 16
    table = r["guidance_sweep"]
    assert sorted(table) == sorted(config.eval.guidance_methods)
    assert table["cfg"]["3"]["fd"] == r["fd_w3"]
    # at w = 1 every method is the conditional model (APG: x0_c exactly)
    for method in table:
        np.testing.assert_allclose(table[method]["1"]["fd"], r["fd"], rtol=1e-3)
    from experiments import guidance_report

    guidance_report.main(["--workdir", str(tmp_path), "--out", str(tmp_path / "g.md")])
    text = (tmp_path / "g.md").read_text()
    assert text.count("| cfg | ") == 2 and text.count("| apg(eta=0.0) | ") == 2
    assert f"| cfg | 3 | {r['fd_w3']:.2f} |" in text and (tmp_path / "g.png").exists()
    # the same checkpoint scored by DDIM with CFG and CFG++: at scale 0 both are the
    # unconditional model renoised with eps_u, so they agree; one report holds both runs
    from experiments.rescore import evaluate_trained

    # and the unconditional mode guided by a noise-aware classifier trained in-project is, at
    # scale 0, that same unconditional model
    overrides = {
        "eval.guidance_sweep": (0.0, 1.0),
        "eval.guidance_methods": ("cfg", "cfgpp", "classifier"),
        "eval.classifier_steps": 20,
        "sample.sampler": "ddim",
        "sample.num_steps": 10,
    }
    ddim = configured(ddpm_digits, "tiny,cfg", **overrides)
    result = evaluate_trained(ddim, str(tmp_path / "ddim"), str(tmp_path))
    scored = result["guidance_sweep"]
    np.testing.assert_allclose(scored["cfgpp"]["0"]["fd"], scored["cfg"]["0"]["fd"], rtol=1e-6)
    np.testing.assert_allclose(scored["classifier"]["0"]["fd"], scored["cfg"]["0"]["fd"], rtol=1e-4)
    assert scored["cfgpp"]["1"]["fd"] != scored["cfg"]["1"]["fd"]
    assert scored["classifier"]["1"]["fd"] != scored["classifier"]["0"]["fd"]
    assert 0.0 <= result["classifier_accuracy_t0.5"] <= 1.0
    both = [str(tmp_path), str(tmp_path / "ddim")]
    guidance_report.main(["--workdir", *both, "--out", str(tmp_path / "both.md")])
    text = (tmp_path / "both.md").read_text()
    assert "| ddim, 10 steps | cfgpp | 1 | " in text and "| ipndm, 50 steps | cfg | 3 | " in text


@pytest.mark.parametrize(
    "overrides,error,message",
    [
        (
            {"eval.guidance_methods": ("cfg(phi=0.7)",)},
            TypeError,
            r"config.eval.guidance_methods: guidance 'cfg' got unknown",
        ),
        (  # CFG++'s lambda lies in [0, 1]: the sweep's w = 3 is refused before training
            {
                "eval.guidance_methods": ("cfgpp",),
                "eval.guidance_sweep": (0.5, 3.0),
                "sample.sampler": "ddim",
            },
            ValueError,
            r"config.eval.guidance_methods: guidance 'cfgpp': .*lambda.* 3.0",
        ),
        (  # CFG++ renoises with eps_u: only DDIM steps from that pair
            {"eval.guidance_methods": ("cfgpp",), "eval.guidance_sweep": (0.5,)},
            ValueError,
            r"config.eval.guidance_methods: CFGPlusPlus .* needs config.sample.sampler='ddim'",
        ),
        (
            {"sample.guidance": "cfgpp", "sample.guidance_scale": 0.5},
            ValueError,
            r"config.sample.guidance: CFGPlusPlus .* needs config.sample.sampler='ddim'",
        ),
    ],
    ids=["unknown-option", "cfgpp-scale", "cfgpp-sweep-sampler", "cfgpp-sampler"],
)
def test_a_wrong_guidance_method_fails_before_training(tmp_path, overrides, error, message):
    overrides = {"sample.sampler": "ipndm", **overrides}
    config = configured(ddpm_digits, "tiny,cfg", **overrides)
    with pytest.raises(error, match=message):
        train_and_evaluate(config, str(tmp_path))
    assert not os.path.exists(tmp_path / "results.json")
    assert not os.path.exists(tmp_path / "checkpoints")


def test_a_mixture_run_scores_against_the_exact_references(tmp_path):
    config = configured(
        gmm, "tiny", **{"eval.metrics": ("w2", "denoiser_error", "sampler_error", "pf_nll")}
    )
    r = train_and_evaluate(config, str(tmp_path))
    assert r["denoiser_error"] > 0 and len(r["denoiser_error_by_logsnr"]) == 9
    assert r["sampler_error"] > 0 and np.isfinite(r["w2_exact_sampler"])
    assert np.isfinite(r["pf_nll"]) and np.isfinite(r["kl"])


def _evaluation(config, den, num=256):
    """An Evaluation whose model is `den` (the exact denoiser, to check the metrics' zeros)."""
    data = datasets.load(config)
    comps = components.build(config)
    import dataclasses

    comps = dataclasses.replace(comps, denoiser=den, sampling_denoiser=den, shape=data.shape)
    from experiments.run import draw

    samples, x_init, _, grid = draw(config, comps, None, num, jax.random.PRNGKey(1))
    return E.Evaluation(
        config, data, comps, None, samples, x_init, None, None, grid, jax.random.PRNGKey(2)
    )


def test_the_exact_denoiser_scores_zero_on_the_reference_metrics():
    """Metrics that can fail: the exact model has no denoiser or sampler error (float32 vs the
    float64 reference: < 1e-10), and its probability-flow likelihood is the exact density
    (the KL estimate vanishes to the ODE tolerance) -- a trained model's are far from 0."""
    config = configured(gmm, "tiny")
    gmm_data = jax.tree.map(lambda a: jnp.asarray(a, jnp.float32), datasets.load(config).gmm)
    exact = analytic.exact_denoiser(gmm_data, components.build(config).denoiser.schedule)
    ev = _evaluation(config, exact)
    assert E.denoiser_error(ev)["denoiser_error"] < 1e-10
    assert E.sampler_error(ev)["sampler_error"] < 1e-5
    nll = E.pf_nll(ev)
    assert abs(nll["kl"]) < 1e-3 and 1.0 < nll["pf_nll"] < 20.0


def test_conditional_training_with_label_dropout_and_guidance(tmp_path):
    config = configured(
        gmm,
        "tiny",
        **{
            "data.conditional": True,
            "objective.label_dropout": 0.2,
            "sample.guidance_scale": 2.0,
            "eval.metrics": ("w2",),
        },
    )
    r = train_and_evaluate(config, str(tmp_path))
    assert np.isfinite(r["w2"])
    module = components.build(config).denoiser.network.module
    assert module.num_classes == 8
    config = configured(gmm, "tiny", **{"data.conditional": True})
    with pytest.raises(ValueError, match="'denoiser_error' needs an unconditional model"):
        train_and_evaluate(config, str(tmp_path / "refused"))
    assert not (tmp_path / "refused" / "checkpoints").exists()


def test_configs_of_each_family():
    cifar = ddpm_cifar10.get_config()
    assert (cifar.data.name, cifar.network.unet.ch, cifar.optim.warmup_steps) == (
        "cifar10",
        128,
        5000,
    )
    with pytest.raises(ValueError, match="config variant 'huge' is not one of"):
        flow2d.get_config("huge")
    with pytest.raises(AttributeError, match="learning_rat"):
        flow2d.get_config().optim.learning_rat = 1.0  # locked: unknown keys fail


@pytest.mark.parametrize(
    "key,value,message",
    [
        (
            "data.name",
            "2d:moons_to_spirals",
            r"config.data.name='2d:moons_to_spirals' is not one of",
        ),
        (
            "network.name",
            "resnet",
            r"config.network.name='resnet' is not one of \['dit', 'mlp', 'unet'\]",
        ),
        ("process.path", "otfm", r"config.process.path: .*'otfm'"),
        ("process.coupling", "sinkhorn(eps=1)", r"config.process.coupling: .*eps"),
        ("objective.loss", "kl", r"config.objective.loss='kl' is not one of"),
        ("objective.loss", "vlb", r"config.objective.loss='vlb': denoiser.schedule"),
        ("objective.parameterisation", "noise", r"config.objective.parameterisation: .*'noise'"),
        ("sample.sampler", "dpmpp_4m", r"config.sample.sampler: .*'dpmpp_4m'"),
        ("sample.sampler", "ddpm(variance='learned_range')", "needs a model with a learned var"),
        ("sample.grid", "cosine", r"config.sample.grid: .*'cosine'"),
        ("eval.metrics", ("w2", "fid50k"), r"config.eval.metrics: 'fid50k' is not one of"),
        ("eval.metrics", ("fd",), r"config.eval.metrics: 'fd' needs 8x8 digits"),
        ("train.reflow", 1, r"config.train.reflow=1 needs config.process.path='rf'"),
        ("sample.guidance_scale", 2.0, "guidance_scale needs config.data.conditional=True"),
        ("optim.name", "sgd", "config.optim: .*sgd"),
    ],
)
def test_a_bad_choice_is_named_before_any_work(tmp_path, key, value, message):
    config = configured(flow2d, **{key: value})
    with pytest.raises((ValueError, TypeError, KeyError), match=message):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_run_scored_by_the_bound_alone_draws_only_a_preview(tmp_path):
    config = configured(
        ddpm_digits, "tiny", **{"eval.metrics": ("bound",), "eval.num_samples": 150}
    )
    saved = train_and_evaluate(config, str(tmp_path))
    assert saved["num_samples"] == E.PREVIEW_SAMPLES == 100 and np.isfinite(saved["bits_per_dim"])
    assert np.load(tmp_path / "samples.npz")["samples"].shape == (100, 8, 8, 1)


def test_a_decoder_step_outside_the_chain_is_named_before_any_work(tmp_path):
    config = configured(ddpm_digits, "tiny", **{"eval.bound_decoder_steps": (10, 0)})
    with pytest.raises(ValueError, match=r"bound_decoder_steps: 0 is not a step in 1..T = 50"):
        train_and_evaluate(config, str(tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_missing_inception_file_fails_before_training(tmp_path):
    config = configured(
        ddpm_digits, **{"eval.metrics": ("fid",), "eval.inception_weights": str(tmp_path / "x.pth")}
    )
    with pytest.raises(FileNotFoundError, match="does not download weights"):
        train_and_evaluate(config, str(tmp_path / "fid"))
    assert not (tmp_path / "fid" / "checkpoints").exists()


def test_the_tiny_runs_reproduce_their_committed_results_bit_for_bit(tmp_path):
    """tests/data/reference_runs.json: the tiny variants' results at the revision it names,
    bit-for-bit in the environment that produced them (the same CPU model and instruction-set
    flags, the same jax, numpy, flax, optax ... versions); elsewhere XLA:CPU may order or fuse
    float32 work differently (a fresh install at stop 19 moved the gmm denoiser error by 9e-8
    relative), so another environment is held to 1e-5 relative (1e-4 for the probability-flow NLL
    and KL, whose adaptive step control amplifies that round-off: 2.4e-5 measured between two
    CPU models)."""
    from experiments.provenance import environment

    with open(os.path.join(ROOT, "tests", "data", "reference_runs.json")) as f:
        reference = json.load(f)
    same_environment = reference.get("environment") == environment()
    for name, ref in reference["runs"].items():
        module = {"flow2d": flow2d, "ddpm_digits": ddpm_digits, "gmm": gmm}[name]
        got = train_and_evaluate(configured(module), str(tmp_path / name))
        got = {k: got[k] for k in ref}
        if same_environment:
            assert got == ref, (name, reference["revision"])
        else:
            for k in ref:
                rtol = 1e-4 if k in ("pf_nll", "kl") else 1e-5
                np.testing.assert_allclose(got[k], ref[k], rtol=rtol, err_msg=f"{name}.{k}")


def test_a_kept_checkpoint_is_scored_as_the_run_trained_to_its_step(tmp_path):
    """train.keep_checkpoints_every keeps intermediate checkpoints; --trained with
    eval.checkpoint_step scores one exactly as a run trained for that many steps (constant lr)."""
    from experiments.rescore import evaluate_trained
    from experiments.validate import ConfigError
    from experiments.workdir import WorkdirError

    steps = {"train.epochs": None, "train.checkpoint_every": 2, "train.batch_size": 256}
    long = configured(flow2d, "tiny", **steps, **{"train.num_steps": 8})
    kept = configured(flow2d, "tiny", **steps, **{"train.num_steps": 8,
                                                   "train.keep_checkpoints_every": 2})  # fmt: skip
    short = configured(flow2d, "tiny", **steps, **{"train.num_steps": 2})
    at_2 = configured(flow2d, "tiny", **steps, **{"train.num_steps": 8, "eval.checkpoint_step": 2})

    def short_of(n):
        return configured(flow2d, "tiny", **steps, **{"train.num_steps": n})

    train_and_evaluate(kept, str(tmp_path / "long"))
    direct = train_and_evaluate(short, str(tmp_path / "short"))
    scored = evaluate_trained(at_2, str(tmp_path / "at_2"), str(tmp_path / "long"))
    assert scored["trained_step"] == 2 and "train_seconds" not in scored
    assert scored["w2"] == direct["w2"] and scored["npe"] == direct["npe"]
    # a run in progress (no results.json yet) may be scored at a kept checkpoint, not at its last
    os.rename(tmp_path / "long" / "results.json", tmp_path / "long" / "finished.json")
    again = evaluate_trained(at_2, str(tmp_path / "at_2_early"), str(tmp_path / "long"))
    assert again["w2"] == direct["w2"] and again["trained_revision"] is None
    with pytest.raises(WorkdirError, match="no finished run"):
        evaluate_trained(short_of(8), str(tmp_path / "at_8_early"), str(tmp_path / "long"))
    # without keep_checkpoints_every only the last three saves stay: step 2 is gone
    train_and_evaluate(long, str(tmp_path / "plain"))
    with pytest.raises(WorkdirError, match=r"checkpoint_step=2: .* at steps \[4, 6, 8\] only"):
        evaluate_trained(at_2, str(tmp_path / "at_2_plain"), str(tmp_path / "plain"))
    with pytest.raises(ConfigError, match="eval.checkpoint_step=2 scores a kept checkpoint"):
        train_and_evaluate(at_2, str(tmp_path / "refused"))
    assert not (tmp_path / "refused").exists()
    odd = configured(flow2d, "tiny", **steps, **{"train.num_steps": 8,
                                                  "train.keep_checkpoints_every": 3})  # fmt: skip
    with pytest.raises(ConfigError, match="keep_checkpoints_every=3 must be a multiple"):
        train_and_evaluate(odd, str(tmp_path / "odd"))


def test_a_trained_run_is_scored_again_with_other_sampling_without_training(tmp_path):
    """--trained: the midpoint scores of the euler-sampled run's checkpoint equal those of a run
    trained and sampled with midpoint from the start (same seed: same parameters, same noise)."""
    from experiments.rescore import evaluate_trained
    from experiments.workdir import WorkdirError

    euler = configured(flow2d, "tiny", **{"sample.sampler": "euler"})
    midpoint = configured(flow2d, "tiny", **{"sample.sampler": "midpoint"})
    trained = train_and_evaluate(euler, str(tmp_path / "euler"))
    direct = train_and_evaluate(midpoint, str(tmp_path / "midpoint"))
    scored = evaluate_trained(midpoint, str(tmp_path / "scored"), str(tmp_path / "euler"))
    assert scored["w2"] == direct["w2"] != trained["w2"]
    assert scored["npe"] == direct["npe"]
    assert scored["train_seconds"] == trained["train_seconds"]
    assert scored["trained_in"] == str(tmp_path / "euler")
    assert not (tmp_path / "scored" / "checkpoints").exists()
    other = configured(
        flow2d, "tiny", **{"sample.sampler": "midpoint", "optim.learning_rate": 0.01}
    )
    with pytest.raises(WorkdirError, match="optim.learning_rate"):
        evaluate_trained(other, str(tmp_path / "other"), str(tmp_path / "euler"))
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(WorkdirError, match="no finished run"):
        evaluate_trained(midpoint, str(tmp_path / "x"), str(tmp_path / "unfinished"))
    # a reflow round trains on the flow's own samples: its sampler is part of the training
    reflow = {"process.path": "rf", "train.reflow": 1}
    train_and_evaluate(configured(flow2d, "tiny", **reflow), str(tmp_path / "rf"))
    rf_midpoint = configured(flow2d, "tiny", **reflow, **{"sample.sampler": "midpoint"})
    with pytest.raises(WorkdirError, match="sample.sampler"):
        evaluate_trained(rf_midpoint, str(tmp_path / "rf_midpoint"), str(tmp_path / "rf"))


def test_eval_seed_redraws_the_samples_of_a_trained_run_from_its_own_record(tmp_path):
    """eval.seed (None: seed + 1000, the old key) redraws a finished run's samples from the same
    parameters; configs/from_record.py rebuilds the run's config from its config.json, so a
    redraw names only the keys it changes, and --trained accepts the rebuilt config."""
    from experiments.launch import _load
    from experiments.rescore import evaluate_trained
    from experiments.validate import ConfigError
    from experiments.workdir import config_dict, flatten

    config = configured(gmm, "tiny", **{"seed": 3, "eval.metrics": ("w2",)})
    run = tmp_path / "run"
    trained = train_and_evaluate(config, str(run))
    record = _load(f"configs/from_record.py:{run / 'config.json'}")
    assert flatten(config_dict(record)) == flatten(json.loads((run / "config.json").read_text()))

    def redraw(seed, name):
        with record.unlocked():
            record.eval.seed = seed
        scored = evaluate_trained(record, str(tmp_path / name), str(run))
        return scored["w2"], np.load(tmp_path / name / "samples.npz")["samples"]

    samples = np.load(run / "samples.npz")["samples"]
    w2_none, none = redraw(None, "none")
    w2_same, same = redraw(1003, "same")
    w2_other, other = redraw(7, "other")
    assert w2_none == w2_same == trained["w2"] != w2_other
    assert np.array_equal(none, samples) and np.array_equal(same, samples)
    assert not np.allclose(other, samples) and other.shape == samples.shape
    with pytest.raises(ConfigError, match="config.eval.seed must be a finite number >= 0"):
        evaluate_trained(
            configured(gmm, "tiny", **{"seed": 3, "eval.metrics": ("w2",), "eval.seed": -1}),
            str(tmp_path / "x"),
            str(run),
        )
    (tmp_path / "bad.json").write_text(json.dumps({"train": {"no_such_key": 1}}))
    with pytest.raises(ValueError, match=r"does not have: \['train.no_such_key'\]"):
        _load(f"configs/from_record.py:{tmp_path / 'bad.json'}")


def _image_evaluation(draws: int):
    """An Evaluation of 5 quantised 4x4 'images' (17 levels) scoring 3 with `draws` draws."""
    from types import SimpleNamespace as NS

    levels = np.random.default_rng(0).integers(0, 17, (5, 4, 4, 1))
    data = NS(test=levels / 8.0 - 1.0, test_labels=None, images=True, num_levels=17, gmm=None)
    cfg = NS(
        eval=NS(pf_nll_examples=3, pf_nll_probes=1, pf_nll_dequantisations=draws),
        data=NS(conditional=False),
    )
    return E.Evaluation(
        cfg, data, NS(denoiser=None), None, None, None, None, None, None, jax.random.PRNGKey(4)
    )


def test_pf_nll_averages_each_image_over_its_dequantisation_draws(monkeypatch):
    """eval.pf_nll_dequantisations: each example enters the ODE `draws` times, each copy
    dequantised within its own bins by different noise; an example's bits/dim is its draws' mean, and the
    standard error is over examples (a stand-in log-density, -|x|^2 / 2, replaces the ODE)."""
    seen = []

    def fake_log_likelihood(den, x, params, cond, **kwargs):
        seen.append(np.asarray(x))
        return -0.5 * jnp.sum(x**2, axis=(1, 2, 3))

    monkeypatch.setattr(E, "log_likelihood", fake_log_likelihood)
    ev = _image_evaluation(draws=4)
    out = E.pf_nll(ev)
    x = seen[-1]
    assert x.shape == (12, 4, 4, 1)
    base = np.repeat(ev.data.test[:3], 4, axis=0)
    assert np.all(np.abs(x - base) <= 1.0 / 16) and np.all(np.abs(x - base) > 0)
    assert np.all(np.std(x.reshape(3, 4, -1), axis=1) > 0)  # the copies differ
    dim = 16  # 4 x 4 pixels, 17 levels = 16 bins of width 2/16: -(log q + D log(2/16)) / (D log 2)
    bpd = -(-0.5 * np.sum(x.astype(np.float64) ** 2, axis=(1, 2, 3)) + dim * np.log(2 / 16))
    bpd /= dim * np.log(2)
    assert out["pf_bits_per_dim"] == pytest.approx(bpd.mean(), rel=1e-6)
    per_example = bpd.reshape(3, 4).mean(axis=1)
    assert out["pf_bits_per_dim_se"] == pytest.approx(
        np.std(per_example, ddof=1) / np.sqrt(3), rel=1e-5
    )
    E.pf_nll(_image_evaluation(draws=1))
    assert seen[-1].shape == (3, 4, 4, 1)  # the default scores each example once


def test_pf_nll_dequantisations_and_probes_are_validated():
    for key in ("eval.pf_nll_dequantisations", "eval.pf_nll_probes"):
        with pytest.raises(ConfigError, match=key):
            validate(configured(gmm, "tiny", **{key: 0}))
