"""A metric's spread over sample draws of fixed models: each scored run redrawn with eval.seed.

    python -m experiments.redraw --run "ch 32 seed 0, step 4000=RUN/evals/4000/sigma-hat" \
        --run "ch 32 seed 0, step 6000=RUN" --draws 1,2,3,4 --metric fd \
        --workdir runs/fd_draws --out docs/fd_draws.md

A run is a training directory (scored at its last checkpoint) or a `--trained` evaluation of one
(a kept checkpoint, another sampler). Each draw rebuilds the run's own config from its record
(configs/from_record.py), sets eval.seed and scores the same parameters again (no training), in
<workdir>/<label>/draw<d>; finished draws are adopted, so a stopped command resumes. The table
holds the run's own value (eval.seed unset: seed + 1000), every draw, and mean +- sample std
over all of them: the part of a seed-to-seed difference that resampling alone produces.

Runs scored with the same key share much of a draw's luck: the key fixes the initial noise and so,
largely, which modes the samples fall in, whatever the model. With two or more runs and keys in
common, the table is followed by the additive decomposition value[run, key] = mean[run] +
effect[key] + residual (least squares, key effects summing to zero; `key_effects`): the effect of
each key, common to every run scored with it, and the residual std, a run's own draw noise. Two
runs compared at the same keys differ by their means plus residuals only (std sqrt(2) residual);
compared at different keys, or against a reference that draws no samples, the key effect counts.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from experiments.tables import write

MIX = "sample_class_fractions"  # of an FD draw: the digits classifier's class mix of the samples
MIX_DRAWS = 10  # draws of a model before its class-mix fit is reported
FROM_RECORD = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "from_record.py")


def _results(directory: str) -> dict:
    with open(os.path.join(directory, "results.json")) as f:
        return json.load(f)


def recorded_config(run: str):
    """A run's own config, rebuilt from its config.json (configs/from_record.py)."""
    from experiments.launch import _load

    return _load(f"{FROM_RECORD}:{os.path.join(run, 'config.json')}")


def redraw(run: str, draw: int, metric: str, workdir: str) -> dict:
    """The results of `run`'s parameters scored for `metric` with eval.seed = draw (adopted when
    finished)."""
    from experiments.rescore import evaluate_trained

    if os.path.exists(os.path.join(workdir, "results.json")):
        return _results(workdir)
    config = recorded_config(run)
    with config.unlocked():
        config.eval.seed = draw
        config.eval.metrics = (metric,)
    trained = _results(run).get("trained_in", run)
    return evaluate_trained(config, workdir, trained)


def own_key(run: str) -> int:
    """The key a run was scored with: its eval.seed, or seed + 1000 unset."""
    from experiments.run import sample_seed

    return sample_seed(recorded_config(run))


def key_effects(values: dict[str, dict[int, float]]) -> dict:
    """Least-squares fit of value[run][key] = mean[run] + effect[key] + residual, the effects
    summing to zero over the keys. Returns the run means, the key effects, the residual std with
    its degrees of freedom (observations - runs - keys + 1) and the std of the key effects."""
    runs, keys = list(values), sorted({k for v in values.values() for k in v})
    obs = [(i, keys.index(k), x) for i, r in enumerate(runs) for k, x in values[r].items()]
    design = np.zeros((len(obs) + 1, len(runs) + len(keys)))
    target = np.zeros(len(obs) + 1)
    for row, (i, j, x) in enumerate(obs):
        design[row, i] = design[row, len(runs) + j] = 1.0
        target[row] = x
    design[-1, len(runs) :] = 1.0  # the effects sum to zero
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise ValueError(f"key_effects: runs {runs} share too few keys to separate run and key")
    coef = np.linalg.lstsq(design, target, rcond=None)[0]
    dof = len(obs) - len(runs) - len(keys) + 1
    resid = target[:-1] - design[:-1] @ coef
    effects = coef[len(runs) :]
    return {
        "run_means": dict(zip(runs, coef[: len(runs)].tolist(), strict=True)),
        "key_effects": dict(zip(keys, effects.tolist(), strict=True)),
        "residual_std": float(np.sqrt(resid @ resid / dof)) if dof > 0 else float("nan"),
        "dof": dof,
        "key_effect_std": float(effects.std(ddof=1)),
    }


def effects_table(fit: dict, digits: int = 2) -> str:
    """Markdown: each key's effect, then the residual std and the key effects' std."""
    keys, means = fit["key_effects"], fit["run_means"]
    lines = [
        f"| key | {' | '.join(str(k) for k in keys)} |",
        "|---|" + "---|" * len(keys),
        f"| effect | {' | '.join(f'{e:+.{digits}f}' for e in keys.values())} |",
        "\n| run | mean at the average key |\n|---|---|",
        *(f"| {run} | {m:.{digits}f} |" for run, m in means.items()),
    ]
    return (
        "\n".join(lines)
        + f"\n\nResidual std (a run's own draw noise): {fit['residual_std']:.{digits}f} ({fit['dof']} "
        f"dof); std of the key effects (shared by every run scored with the key): "
        f"{fit['key_effect_std']:.{digits}f}.\n"
    )


def heldout_mix(run: str) -> np.ndarray:
    """The class fractions of the held-out examples a run's FD is scored against."""
    from experiments import datasets

    config = recorded_config(run)
    labels = np.asarray(datasets.load(config).test_labels)[: config.data.num_test]
    return np.bincount(labels, minlength=10) / len(labels)


def class_mix_fit(values: dict, mixes: dict, reference: np.ndarray, num_samples: int) -> dict:
    """How much of one model's FD spread over draws the class mix of its samples explains.
    Per draw, the chi-square distance sum_c (q_c - p_c)^2 / p_c of the samples' class mix q to
    the held-out mix p; returns its correlation with the FD over the draws, and the mean
    chi-square distance of q to its own mean over draws with the multinomial expectation
    (C - 1) / n for n samples (equal when the key only resamples a fixed mix)."""
    keys = sorted(mixes)
    q = np.asarray([mixes[k] for k in keys], np.float64)
    fd = np.asarray([values[k] for k in keys], np.float64)
    to_reference = (((q - reference) ** 2) / reference).sum(1)
    around_mean = (((q - q.mean(0)) ** 2) / q.mean(0)).sum(1).mean()
    return {
        "draws": len(keys),
        "correlation": float(np.corrcoef(to_reference, fd)[0, 1]),
        "chi2_around_mean": float(around_mean),
        "multinomial_chi2": (q.shape[1] - 1) / num_samples,
    }


def spread_table(rows: dict, draws: list[int], metric: str, digits: int = 2) -> str:
    """Markdown: per run, its own value, each draw, and mean +- std over all of them."""
    head = f"| run | own | {' | '.join(f'draw {d}' for d in draws)} | mean +- std (n) |"
    lines = [head, "|---|---|" + "---|" * len(draws) + "---|"]
    for label, values in rows.items():
        v = np.asarray(values, np.float64)
        cells = " | ".join(f"{x:.{digits}f}" for x in v)
        spread = f"{v.mean():.{digits}f} +- {v.std(ddof=1):.{digits}f}"
        lines.append(f"| {label} | {cells} | {spread} ({v.size}) |")
    return "\n".join(lines) + "\n"


def _explained(fit: dict | None, mix_fits: dict, digits: int = 2) -> str:
    """The key effects' table and, per run drawn MIX_DRAWS times or more, its class-mix line."""
    text = ""
    if fit is not None:
        text += "\nKey effects (additive fit over runs and keys; the own key is seed + 1000):\n\n"
        text += effects_table(fit, digits)
    for label, m in mix_fits.items():
        text += (
            f"\n{label}: over {m['draws']} draws the FD's correlation with the chi-square "
            f"distance of the samples' class mix to the held-out digits' is {m['correlation']:.2f}; "
            f"the mix's chi-square spread around its mean is {m['chi2_around_mean']:.4f} against "
            f"{m['multinomial_chi2']:.4f} for multinomial resampling of a fixed mix.\n"
        )
    return text


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.redraw", description=__doc__)
    p.add_argument("--run", action="append", required=True, help="LABEL=DIR (repeatable)")
    p.add_argument("--draws", default="1,2,3,4", help="comma-separated eval.seed values")
    p.add_argument("--metric", default="fd", help="the eval.metrics entry scored")
    p.add_argument("--value", default="", help="its results key (default: --metric)")
    p.add_argument("--workdir", required=True)
    p.add_argument("--digits", type=int, default=2, help="decimals in the tables")
    p.add_argument("--out", default="", help="also write the table here (markdown + .json)")
    args = p.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    rows, keyed, mixes, mix_fits = {}, {}, {}, {}
    for spec in args.run:
        label, run = spec.split("=", 1)
        results = [_results(run)] + [
            redraw(run, d, args.metric, os.path.join(args.workdir, label, f"draw{d}"))
            for d in draws
        ]
        rows[label] = [r[args.value or args.metric] for r in results]
        keys = [own_key(run), *draws]
        keyed[label] = dict(zip(keys, rows[label], strict=True))
        mixes[label] = {k: r[MIX] for k, r in zip(keys, results, strict=True) if MIX in r}
        if len(mixes[label]) >= MIX_DRAWS:
            n = results[0]["num_samples"]
            mix_fits[label] = class_mix_fit(keyed[label], mixes[label], heldout_mix(run), n)
    fit = key_effects(keyed) if len(rows) > 1 and len(draws) > 1 else None
    table = spread_table(rows, draws, args.metric, args.digits)
    table += _explained(fit, mix_fits, args.digits)
    print(table)
    if args.out:
        from experiments.provenance import code_revision

        command = "python -m experiments.redraw " + " ".join(
            f'"{a}"' if " " in a else a for a in (argv if argv is not None else sys.argv[1:])
        )
        header = (
            f"# {args.value or args.metric} of fixed models over sample draws (generated)\n\nCommand: "
            f"`{command}` at revision {code_revision()}. Own: the run's value (eval.seed unset); "
            "draw d: the same parameters scored with eval.seed = d.\n\n"
        )
        write(args.out, header + table)
        json_path = os.path.splitext(args.out)[0] + ".json"
        record = {"command": command, "revision": code_revision(), "rows": rows}
        extra = {"keys": keyed, "key_effects": fit, MIX: mixes, "class_mix_fits": mix_fits}
        write(json_path, record | extra)


if __name__ == "__main__":
    main()
