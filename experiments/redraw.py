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
"""

from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from experiments.tables import write

FROM_RECORD = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "from_record.py")


def _results(directory: str) -> dict:
    with open(os.path.join(directory, "results.json")) as f:
        return json.load(f)


def redraw(run: str, draw: int, metric: str, workdir: str) -> float:
    """The metric of `run`'s parameters scored with eval.seed = draw (adopted when finished)."""
    from experiments.launch import _load
    from experiments.run import evaluate_trained

    if os.path.exists(os.path.join(workdir, "results.json")):
        return _results(workdir)[metric]
    config = _load(f"{FROM_RECORD}:{os.path.join(run, 'config.json')}")
    with config.unlocked():
        config.eval.seed = draw
        config.eval.metrics = (metric,)
    trained = _results(run).get("trained_in", run)
    return evaluate_trained(config, workdir, trained)[metric]


def spread_table(rows: dict, draws: list[int], metric: str) -> str:
    """Markdown: per run, its own value, each draw, and mean +- std over all of them."""
    head = f"| run | own | {' | '.join(f'draw {d}' for d in draws)} | mean +- std (n) |"
    lines = [head, "|---|---|" + "---|" * len(draws) + "---|"]
    for label, values in rows.items():
        v = np.asarray(values, np.float64)
        cells = " | ".join(f"{x:.2f}" for x in v)
        lines.append(f"| {label} | {cells} | {v.mean():.2f} +- {v.std(ddof=1):.2f} ({v.size}) |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m experiments.redraw", description=__doc__)
    p.add_argument("--run", action="append", required=True, help="LABEL=DIR (repeatable)")
    p.add_argument("--draws", default="1,2,3,4", help="comma-separated eval.seed values")
    p.add_argument("--metric", default="fd")
    p.add_argument("--workdir", required=True)
    p.add_argument("--out", default="", help="also write the table here (markdown + .json)")
    args = p.parse_args(argv)
    draws = [int(d) for d in args.draws.split(",")]
    rows = {}
    for spec in args.run:
        label, run = spec.split("=", 1)
        own = _results(run)[args.metric]
        rows[label] = [own] + [
            redraw(run, d, args.metric, os.path.join(args.workdir, label, f"draw{d}"))
            for d in draws
        ]
    table = spread_table(rows, draws, args.metric)
    print(table)
    if args.out:
        from experiments.provenance import code_revision

        command = "python -m experiments.redraw " + " ".join(
            f'"{a}"' if " " in a else a for a in (argv if argv is not None else sys.argv[1:])
        )
        header = (
            f"# {args.metric} of fixed models over sample draws (generated)\n\nCommand: "
            f"`{command}` at revision {code_revision()}. Own: the run's value (eval.seed unset); "
            "draw d: the same parameters scored with eval.seed = d.\n\n"
        )
        write(args.out, header + table)
        json_path = os.path.splitext(args.out)[0] + ".json"
        write(json_path, {"command": command, "revision": code_revision(), "rows": rows})


if __name__ == "__main__":
    main()
