"""Studies as one command: a base config, axes of overrides and seeds, run as resumable jobs.

A study file (experiments/studies/*.py) defines `get_study() -> Study`. Each job is one
`experiments.run` run in `<workdir>/jobs/<label>/.../seed<seed>`: resumable from its
checkpoints and skipped once its results.json exists, so a study can be stopped (even killed) and
rerun at will, split into shares across machines (`--share i/n`) and merged (`--merge DIR`).
The summary (`table.md`, `rows.json`, one plot per metric) gives mean +- std over the finished
seeds per cell next to the paper's numbers; every row keeps its git revision, config hash,
versions, device and wall time, and the table names the command and the revisions.

    python -m experiments.study --study experiments/studies/flow2d_table.py --workdir runs/flow2d_table
    python -m experiments.study --study ... --workdir ... --share 0/2          # this machine's half
    python -m experiments.study --study ... --workdir ... --merge other/runs/flow2d_table --summarise_only
    python -m experiments.study --study ... --workdir ... --summarise_only --docs docs/flow2d_table.md
    python -m experiments.study --study ... --workdir ... --kept_only   # score kept checkpoints now
"""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import itertools
import json
import os
import shutil
import sys
import traceback

from experiments.workdir import EVALUATION

COMPUTED_AT = (
    "_computed_at"  # baselines.json: '<column>: <key>' -> the code revision that computed it
)


@dataclasses.dataclass(frozen=True)
class Axis:
    """One factor of a study: `values` maps each level's label to its config overrides.

    An `eval_only` axis sets only sample.* / eval.* keys: its levels share one training (the run
    with the axis's first level) and the others score that run's checkpoint (`--trained`)."""

    name: str
    values: dict  # label -> {dotted config key: value}
    eval_only: bool = False

    def __post_init__(self):
        if self.eval_only:
            bad = [k for o in self.values.values() for k in o if not k.startswith(EVALUATION)]
            if bad:
                raise ValueError(
                    f"Axis {self.name!r} is eval_only: its levels may set only "
                    f"{' / '.join(p + '*' for p in EVALUATION)} keys, not {sorted(set(bad))}."
                )


@dataclasses.dataclass(frozen=True)
class Study:
    name: str
    config: str  # config file, optionally with ':variant'
    axes: tuple
    seeds: tuple
    metrics: tuple  # results.json keys summarised (mean +- std over seeds)
    overrides: dict = dataclasses.field(default_factory=dict)  # applied to every job
    paper: dict = dataclasses.field(
        default_factory=dict
    )  # cell labels -> {metric: (mean, std) | value}
    skip: dict = dataclasses.field(default_factory=dict)  # cell labels -> why the study skips it
    # column -> (key(config), value(config)): a reference each job is scored against (e.g. the
    # two-sample floor of its test set), computed once per key with --baselines
    baselines: dict = dataclasses.field(default_factory=dict)
    notes: str = ""
    # report(study, rows, records, directory, prefix) -> markdown: the study's own analysis
    # (plots written to directory as <prefix>*.png), placed before the table
    report: object = None


@dataclasses.dataclass(frozen=True)
class Job:
    cell: tuple  # one label per axis
    seed: int
    overrides: dict
    train_cell: tuple | None = None  # the labels of the training axes (None: every axis)
    eval_cell: tuple = ()  # the labels of the eval_only axes
    trained: Job | None = None  # the training this job scores (an eval_only level), or None

    def directory(self, workdir: str) -> str:
        """jobs/<training labels>/seed<s>, and a scored level of an eval_only axis below it in
        evals/<its labels>."""
        train_cell = self.cell if self.train_cell is None else self.train_cell
        base = os.path.join(workdir, "jobs", *train_cell, f"seed{self.seed}")
        if self.trained is None:
            return base
        return os.path.join(base, "evals", *self.eval_cell)


def make_job(study: Study, cell: tuple, seed: int) -> Job:
    """The job of a cell: a training run, or (off the first level of an eval_only axis) the
    scoring of the training run of its cell with every eval_only axis at its first level."""
    overrides = dict(study.overrides)
    for axis, label in zip(study.axes, cell, strict=True):
        overrides.update(axis.values[label])
    pairs = list(zip(study.axes, cell, strict=True))
    train_cell = tuple(c for a, c in pairs if not a.eval_only)
    eval_cell = tuple(c for a, c in pairs if a.eval_only)
    first = tuple(next(iter(a.values)) if a.eval_only else c for a, c in pairs)
    trained = None if first == cell else make_job(study, first, seed)
    return Job(cell, seed, overrides, train_cell, eval_cell, trained)


def load_study(path: str, variant: str | None = None) -> Study:
    """The study of a study file; with `variant`, its config runs that variant (e.g. tiny), and a
    `get_study(variant)` that takes the argument scales its own levels to it."""
    spec = importlib.util.spec_from_file_location("study_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    takes_variant = bool(inspect.signature(module.get_study).parameters)
    study = module.get_study(variant) if takes_variant else module.get_study()
    if variant is not None:
        study = dataclasses.replace(study, config=study.config.split(":")[0] + ":" + variant)
    return study


def jobs(study: Study, only: dict | None = None, seeds=None) -> list[Job]:
    """Every (cell, seed), seed-major (a partial study covers every cell); `only` keeps the
    labels given per axis name; skipped cells are left out."""
    only = only or {}
    for name in only:
        if name not in [a.name for a in study.axes]:
            raise ValueError(f"--only: {name!r} is not an axis of {[a.name for a in study.axes]}.")
    out = []
    for seed in seeds or study.seeds:
        for levels in itertools.product(*(a.values.items() for a in study.axes)):
            cell = tuple(label for label, _ in levels)
            if cell in study.skip or any(
                label not in only.get(a.name, [label])
                for a, label in zip(study.axes, cell, strict=False)
            ):
                continue
            out.append(make_job(study, cell, seed))
    return out


def job_config(study: Study, job: Job):
    """The study's config with the job's overrides, seed and name (a locked config: a key the
    config lacks fails here)."""
    from ml_collections import config_flags

    from experiments.workdir import set_key

    config = config_flags.config_flags._ConfigFileParser("config").parse(study.config)
    with config.unlocked():
        train_cell = job.cell if job.train_cell is None else job.train_cell
        config.name = "/".join(train_cell) or config.name
        config.seed = job.seed
        config.train.progress = sys.stdout.isatty()  # no bars in a study's log
    for key, value in job.overrides.items():
        set_key(config, key, value, what="study override")
    return config


def kept_now(study: Study, job: Job, workdir: str) -> bool:
    """Is `job` the scoring of a kept checkpoint (eval.checkpoint_step) that its training,
    finished or still running, has saved?"""
    from diffjax.training import Checkpointer

    step = job_config(study, job).eval.checkpoint_step
    directory = os.path.join(job.trained.directory(workdir), "checkpoints") if job.trained else ""
    if step is None or not os.path.isdir(directory):
        return False
    ckpt = Checkpointer(directory, read_only=True)
    try:
        return step in ckpt.all_steps()
    finally:
        ckpt.close()


def run_job(study: Study, job: Job, workdir: str, *, train_first: bool = True) -> dict | None:
    """Runs one job unless done (a scoring job first runs its training, unless `train_first` is
    False: a kept checkpoint of a training in progress); a failure is recorded in failed.json
    (no result is written) and the study goes on."""
    from experiments.rescore import evaluate_trained
    from experiments.run import train_and_evaluate

    d = job.directory(workdir)
    if os.path.exists(os.path.join(d, "results.json")):
        return None
    if job.trained is not None and train_first:
        run_job(study, job.trained, workdir)
        if not os.path.exists(os.path.join(job.trained.directory(workdir), "results.json")):
            return None  # its training failed (recorded there)
    try:
        if job.trained is None:
            result = train_and_evaluate(job_config(study, job), d)
        else:
            result = evaluate_trained(job_config(study, job), d, job.trained.directory(workdir))
    except Exception as err:  # noqa: BLE001 -- the study records it and goes on
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "failed.json"), "w") as f:
            json.dump({"error": f"{type(err).__name__}: {err}", "trace": traceback.format_exc()}, f)
        print(
            f"FAILED {'/'.join(job.cell)} seed {job.seed}: {type(err).__name__}: {err}", flush=True
        )
        return None
    if os.path.exists(os.path.join(d, "failed.json")):
        os.remove(os.path.join(d, "failed.json"))
    shown = ", ".join(
        f"{m} {result[m]:.4g}" for m in study.metrics if isinstance(result.get(m), float)
    )
    print(f"{'/'.join(job.cell)} seed {job.seed}: {shown}", flush=True)
    return result


def share_of(all_jobs: list[Job], share: str) -> list[Job]:
    """'i/n': every n-th training from the i-th (0-based), each with the jobs that score it."""
    i, n = (int(x) for x in share.split("/"))
    if not 0 <= i < n:
        raise ValueError(f"--share={share!r}: need 0 <= i < n.")
    trainings = list(dict.fromkeys((j.trained or j).cell + (j.seed,) for j in all_jobs))
    mine = set(trainings[i::n])
    return [j for j in all_jobs if (j.trained or j).cell + (j.seed,) in mine]


def collect(study: Study, workdir: str) -> tuple[list[dict], list[dict]]:
    """(rows of finished jobs, failures), each with its cell and seed."""
    rows, failed = [], []
    for job in jobs(study):
        d = job.directory(workdir)
        for name, out in (("results.json", rows), ("failed.json", failed)):
            path = os.path.join(d, name)
            if os.path.exists(path):
                with open(path) as f:
                    record = json.load(f)
                out.append(
                    {
                        "cell": dict(zip([a.name for a in study.axes], job.cell, strict=False)),
                        "seed": job.seed,
                        **record,
                    }
                )
                break
    return rows, failed


def merge(study: Study, workdir: str, source: str) -> int:
    """Adopts another study workdir's finished jobs (or a rows.json) that this one lacks."""
    if os.path.isdir(source):
        adopted = 0
        for job in jobs(study):
            src = os.path.join(job.directory(source), "results.json")
            dst = job.directory(workdir)
            if os.path.exists(src) and not os.path.exists(os.path.join(dst, "results.json")):
                os.makedirs(dst, exist_ok=True)
                shutil.copy(src, os.path.join(dst, "results.json"))
                adopted += 1
        return adopted
    with open(source) as f:
        rows = json.load(f)
    names = [a.name for a in study.axes]
    adopted = 0
    for row in rows:
        job = make_job(study, tuple(row["cell"][n] for n in names), row["seed"])
        dst = job.directory(workdir)
        if not os.path.exists(os.path.join(dst, "results.json")):
            os.makedirs(dst, exist_ok=True)
            record = {k: v for k, v in row.items() if k not in ("cell",)}
            with open(os.path.join(dst, "results.json"), "w") as f:
                json.dump({**record, "merged_from": source}, f, indent=2)
            adopted += 1
    return adopted


def baselines(study: Study, workdir: str, compute: bool) -> tuple[dict, list[str]]:
    """({column: {cell/seed: value}}, the code revisions that computed those values), cached in
    <workdir>/baselines.json by each baseline's key. A cached value is not recomputed when the
    code changes (delete the file for that); its revision says which code computed it
    ('unrecorded' for caches older than the record)."""
    from experiments.provenance import code_revision
    from experiments.tables import baseline_key, write

    path = os.path.join(workdir, "baselines.json")
    cache = json.load(open(path)) if os.path.exists(path) else {}
    computed_at = cache.setdefault(COMPUTED_AT, {})
    out, used = {}, set()
    for name, (key_fn, value_fn) in study.baselines.items():
        table = cache.setdefault(name, {})
        out[name] = {}
        for job in jobs(study):
            config = job_config(study, job)
            key = key_fn(config)
            if key not in table and compute:
                table[key] = value_fn(config)
                computed_at[f"{name}: {key}"] = code_revision()
                write(path, cache)
            if key in table:
                out[name][baseline_key(job.cell, job.seed)] = table[key]
                used.add(computed_at.get(f"{name}: {key}", "unrecorded"))
    return out, sorted(used)


def summarise(
    study: Study, workdir: str, docs: str = "", command: str = "", compute_baselines=False
) -> str:
    """Writes table.md, rows.json, cells.json and the plots to workdir (and docs/ if given)."""
    from experiments import tables
    from experiments.provenance import git_revision

    revision = git_revision()  # before this summary writes its own files into the checkout
    rows, failed = collect(study, workdir)
    values, computed_at = baselines(study, workdir, compute_baselines)
    table, records = tables.summarise(study, rows, values, failed)
    os.makedirs(workdir, exist_ok=True)
    tables.write(os.path.join(workdir, "table.md"), table)
    tables.write(os.path.join(workdir, "rows.json"), rows)
    tables.write(os.path.join(workdir, "cells.json"), records)
    tables.plot(study, records, workdir)
    report = study.report(study, rows, records, workdir, "") if study.report else ""
    if report:
        tables.write(os.path.join(workdir, "report.md"), report)
    if docs:
        stem = os.path.splitext(docs)[0]
        tables.write(stem + ".json", rows)
        if study.report:
            prefix = os.path.basename(stem) + "_"
            report = study.report(study, rows, records, os.path.dirname(docs) or ".", prefix)
        text = tables.docs_text(
            study,
            report + table,
            command,
            rows,
            os.path.basename(stem) + ".json",
            revision,
            computed_at,
        )
        tables.write(docs, text)
    return table


def _parse(argv):
    import argparse

    p = argparse.ArgumentParser(
        prog="python -m experiments.study", description=__doc__.split("\n")[0]
    )
    p.add_argument("--study", required=True, help="a study file defining get_study()")
    p.add_argument("--workdir", required=True, help="root of the study's job directories")
    p.add_argument(
        "--variant", default=None, help="run the study on this config variant (e.g. tiny)"
    )
    p.add_argument(
        "--only", action="append", default=[], help="AXIS=label,label: only these levels"
    )
    p.add_argument(
        "--seeds",
        default="",
        help="comma-separated seeds, run and summarised (default: the study's)",
    )
    p.add_argument("--share", default="0/1", help="i/n: run every n-th job from the i-th")
    p.add_argument(
        "--merge", action="append", default=[], help="adopt finished jobs of DIR or rows.json"
    )
    p.add_argument("--summarise_only", action="store_true", help="run nothing; summarise")
    p.add_argument(
        "--kept_only",
        action="store_true",
        help="train nothing: score the kept checkpoints (eval.checkpoint_step) that exist now, "
        "of trainings still in progress too (learning curves while training)",
    )
    p.add_argument("--baselines", action="store_true", help="compute the study's baseline columns")
    p.add_argument("--docs", default="", help="also write the table here (markdown + .json rows)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from experiments import provenance

    provenance.code_revision()  # the code this process runs: every job's row names it
    args = _parse(sys.argv[1:] if argv is None else argv)
    study = load_study(args.study, args.variant)
    only = {k: v.split(",") for k, v in (o.split("=", 1) for o in args.only)}
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if seeds:  # the jobs, the merge, the summary and its baselines all cover --seeds
        study = dataclasses.replace(study, seeds=tuple(seeds))
    for source in args.merge:
        print(f"adopted {merge(study, args.workdir, source)} finished jobs from {source}")
    if not args.summarise_only:
        for job in share_of(jobs(study, only), args.share):
            if not args.kept_only:
                run_job(study, job, args.workdir)
            elif kept_now(study, job, args.workdir):
                run_job(study, job, args.workdir, train_first=False)
    command = "python -m experiments.study " + " ".join(sys.argv[1:] if argv is None else argv)
    print(summarise(study, args.workdir, args.docs, command, args.baselines))
    failed = collect(study, args.workdir)[1]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
