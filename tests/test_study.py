"""Studies as one command: a tiny study (two axes, two seeds, the tiny variant) run end to end,
killed in the middle, resumed and summarised; shares, merging, failures and the committed table."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from experiments import study as S
from experiments import tables

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = textwrap.dedent(
    """
    from experiments.study import Axis, Study

    def get_study():
        return Study(
            name="tiny",
            config="configs/flow2d.py:tiny",
            axes=(
                Axis("method", {"icfm": {"process.path": "icfm"}, "rf": {"process.path": "rf"}}),
                Axis("task", {"8g": {"data.name": "2d:gaussian_to_8gaussians"},
                              "moons": {"data.name": "2d:gaussian_to_moons"}}),
            ),
            seeds=(0, 1),
            metrics=("w2", "npe"),
            overrides={"train.epochs": 3},
            paper={("icfm", "8g"): {"w2": (0.373, 0.103), "npe": 0.202}},
        )
    """
)


@pytest.fixture
def tiny_study(tmp_path):
    path = tmp_path / "tiny_study.py"
    path.write_text(TINY)
    return str(path)


def run_study(args, log):
    return subprocess.Popen(
        [sys.executable, "-m", "experiments.study", *args],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )


def finished(workdir):
    return sorted(
        str(p.relative_to(workdir).parent) for p in workdir.glob("jobs/*/*/seed*/results.json")
    )


def test_a_tiny_study_killed_in_the_middle_resumes_and_writes_its_summary(tmp_path, tiny_study):
    workdir = tmp_path / "study"
    args = ["--study", tiny_study, "--workdir", str(workdir)]
    with open(tmp_path / "log.txt", "w") as log:
        proc = run_study(args, log)
        deadline = time.time() + 300
        while len(finished(workdir)) < 3 and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, (tmp_path / "log.txt").read_text()[-3000:]
        os.kill(proc.pid, signal.SIGKILL)  # mid-study: 3 of 8 jobs done, the 4th under way
        proc.wait()
    done = finished(workdir)
    assert 3 <= len(done) < 8
    mtimes = {d: os.path.getmtime(workdir / d / "results.json") for d in done}
    with open(tmp_path / "log2.txt", "w") as log:
        assert run_study(args, log).wait(timeout=600) == 0, (tmp_path / "log2.txt").read_text()[
            -3000:
        ]
    assert len(finished(workdir)) == 8
    # finished jobs were skipped, not rerun
    assert all(os.path.getmtime(workdir / d / "results.json") == m for d, m in mtimes.items())
    table = (workdir / "table.md").read_text()
    assert "| icfm | 8g | 2 |" in table and "0.373 +- 0.103" in table
    cells = json.loads((workdir / "cells.json").read_text())
    assert len(cells) == 4 and all(c["seeds"] == [0, 1] for c in cells)
    rows = json.loads((workdir / "rows.json").read_text())
    first = next(
        r for r in rows if r["cell"] == {"method": "icfm", "task": "8g"} and r["seed"] == 0
    )
    assert cells[0]["mean"]["w2"] == pytest.approx(
        np.mean([r["w2"] for r in rows if r["cell"] == first["cell"]])
    )
    for key in (
        "git_revision",
        "config_hash",
        "diffjax_version",
        "jax_version",
        "device",
        "wall_seconds",
    ):
        assert key in first["provenance"]
    assert (workdir / "w2.png").exists() and (workdir / "npe.png").exists()


def test_shares_partition_the_jobs_and_merge_into_one_summary(tmp_path, tiny_study):
    study = S.load_study(tiny_study)
    jobs = S.jobs(study)
    assert len(jobs) == 8 and [j.seed for j in jobs[:4]] == [0, 0, 0, 0]  # seed-major
    shares = [S.share_of(jobs, f"{i}/3") for i in range(3)]
    assert [len(s) for s in shares] == [3, 3, 2]
    assert {(j.cell, j.seed) for s in shares for j in s} == {(j.cell, j.seed) for j in jobs}
    with pytest.raises(ValueError, match="--only: 'sampler' is not an axis"):
        S.jobs(study, {"sampler": ["x"]})
    # two machines' workdirs, faked with results; merge adopts what this one lacks
    here, there = tmp_path / "here", tmp_path / "there"
    for root, share in ((here, shares[0]), (there, shares[1] + shares[2])):
        for j in share:
            d = j.directory(str(root))
            os.makedirs(d)
            with open(os.path.join(d, "results.json"), "w") as f:
                json.dump(
                    {
                        "w2": 1.0 + j.seed,
                        "npe": 0.5,
                        "train_seconds": 2.0,
                        "provenance": {"git_revision": "abc1234"},
                    },
                    f,
                )
    assert S.merge(study, str(here), str(there)) == len(shares[1] + shares[2])
    assert S.merge(study, str(here), str(there)) == 0
    table = S.summarise(study, str(here))
    assert table.count("| 2 | 1.500 +- 0.707 |") == 4 and table.count("| abc1234 |") == 4
    # the rows of a summary merge back (the docs copy of another machine's study)
    other = tmp_path / "other"
    assert S.merge(study, str(other), str(here / "rows.json")) == 8
    assert S.collect(study, str(other))[0][0]["w2"] == S.collect(study, str(here))[0][0]["w2"]


def test_seeds_beyond_the_studys_are_summarised_when_named(tmp_path, tiny_study, capsys):
    """--seeds 0,1,2 on a study of seeds (0, 1) summarises the third seed too (a third seed run
    later); without --seeds the summary keeps the study's seeds."""
    study = S.load_study(tiny_study)
    for j in S.jobs(study, seeds=(0, 1, 2)):
        d = j.directory(str(tmp_path))
        os.makedirs(d)
        record = {"w2": 1.0 + j.seed, "npe": 0.5, "train_seconds": 2.0}
        json.dump(
            record | {"provenance": {"git_revision": "abc1234"}}, open(f"{d}/results.json", "w")
        )
    base = ["--study", tiny_study, "--workdir", str(tmp_path), "--summarise_only"]
    assert S.main([*base, "--seeds", "0,1,2"]) == 0
    assert capsys.readouterr().out.count("| 3 | 2.000 +- 1.000 |") == 4
    assert S.main(base) == 0
    assert capsys.readouterr().out.count("| 2 | 1.500 +- 0.707 |") == 4


def test_a_failed_job_is_recorded_never_scored_and_the_study_goes_on(tmp_path, tiny_study):
    study = S.load_study(tiny_study)
    bad = S.Job(("icfm", "8g"), 0, {"optim.learning_rate": -1.0})
    assert S.run_job(study, bad, str(tmp_path)) is None
    d = bad.directory(str(tmp_path))
    assert not os.path.exists(os.path.join(d, "results.json"))
    failure = json.load(open(os.path.join(d, "failed.json")))
    assert "config.optim.learning_rate must be a finite number > 0" in failure["error"]
    rows, failed = S.collect(study, str(tmp_path))
    assert rows == [] and len(failed) == 1
    with pytest.raises(KeyError, match="study override 'optim.lr'"):
        S.job_config(study, S.Job(("icfm", "8g"), 0, {"optim.lr": 1.0}))


def test_a_sigterm_whose_checkpoint_fails_still_stops_the_study(tmp_path, tiny_study, monkeypatch):
    """A real SIGTERM at the start of training, then its preemption save fails (the workdir gone):
    the study stops (SystemExit) instead of recording a failed job and going on, and the
    process's own SIGTERM handler is back once training is over."""
    from diffjax.training import checkpoint

    install = checkpoint.Checkpointer.install_sigterm_handler

    def install_then_signal(self):
        install(self)
        os.kill(os.getpid(), signal.SIGTERM)

    def save_fails(self, *args, **kwargs):
        raise FileNotFoundError("the workdir was deleted")

    monkeypatch.setattr(checkpoint.Checkpointer, "install_sigterm_handler", install_then_signal)
    monkeypatch.setattr(checkpoint.Checkpointer, "save", save_fails)
    before = signal.getsignal(signal.SIGTERM)
    study = S.load_study(tiny_study)
    job = S.jobs(study)[0]
    with pytest.raises(SystemExit, match=r"SIGTERM; its checkpoint failed \(FileNotFoundError"):
        S.run_job(study, job, str(tmp_path))
    d = job.directory(str(tmp_path))
    assert not os.path.exists(os.path.join(d, "results.json"))
    assert not os.path.exists(os.path.join(d, "failed.json"))
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_cell_shows_its_seed_spread_and_one_seed_shows_no_invented_zero():
    assert tables.mean_std([23.5, 25.5]) == "24.500 +- 1.414"  # sample std: sqrt(2)
    assert tables.mean_std([21.07]) == "21.070"
    assert tables.mean_std([]) == "-"


def test_a_baseline_equal_on_every_row_is_printed_once_below_the_table(tiny_study):
    study = S.load_study(tiny_study)
    rows = [
        {"cell": {"method": m, "task": t}, "seed": seed, "w2": 1.0 + seed, "npe": 0.5}
        for m in ("icfm", "rf")
        for t in ("8g", "moons")
        for seed in (0, 1)
    ]
    keys = [tables.baseline_key((r["cell"]["method"], r["cell"]["task"]), r["seed"]) for r in rows]
    baselines = {
        "floor": {k: 2.0 + k.endswith("seed1") for k in keys},  # a function of the seed only
        "task baseline": {k: 3.0 + ("moons" in k) for k in keys},  # differs between rows
    }
    table, records = tables.summarise(study, rows, baselines)
    head, *body = table.split("\n\n")[0].splitlines()
    assert "task baseline" in head and "floor" not in head
    # ours and the paper's per metric, then the row's own baseline
    assert (
        "| icfm | 8g | 2 | 1.500 +- 0.707 | 0.373 +- 0.103 | 0.500 +- 0.000 | 0.202 | 3.000 +- 0.000 |"
        in body[1]
    )
    assert "| icfm | moons |" in body[2] and "| 4.000 +- 0.000 |" in body[2]
    assert table.endswith("(seeds 0, 1):\n\n| floor |\n|---|\n| 2.500 +- 0.707 |\n")
    assert all(r["baselines"]["floor"] == [2.0, 3.0] for r in records)


def test_the_docs_table_names_its_command_and_every_rows_revision():
    text = tables.docs_text(
        S.Study("t", "configs/flow2d.py", (), (0,), ("w2",)),
        "| table |\n",
        "python -m experiments.study --study s.py --workdir w --docs d.md",
        [
            {"provenance": {"git_revision": "aaa1111"}},
            {"revision": "17dd7eb"},
            {"revision": "17dd7eb"},
        ],
        "d.json",
    )
    assert "Command: `python -m experiments.study --study s.py --workdir w --docs d.md`" in text
    assert "aaa1111 (1 rows)" in text and "17dd7eb (2 rows)" in text


def test_the_docs_table_names_the_revision_before_the_summary_wrote_its_files(
    tmp_path, tiny_study, monkeypatch
):
    """The docs table and its json are files of the checkout: written first, they would make the
    revision the table names '-dirty' when the checkout was clean."""
    from experiments import provenance

    docs = tmp_path / "docs" / "t.md"
    docs.parent.mkdir()
    dirty = lambda *a: "abc1234" + ("-dirty" if (tmp_path / "docs" / "t.json").exists() else "")
    monkeypatch.setattr(provenance, "git_revision", dirty)
    S.summarise(S.load_study(tiny_study), str(tmp_path / "w"), str(docs), "cmd")
    assert "summarised at revision abc1234.\n" in docs.read_text()


@pytest.mark.slow
def test_a_committed_table_row_reproduces_bit_for_bit(tmp_path):
    """docs/flow2d_table.json: FM on N -> 8gaussians, seed 42 (the full protocol, ~1-2 min), rerun
    at HEAD by the study's own command, equals the committed row and its named revision's W2/NPE."""
    rows = json.load(open(os.path.join(ROOT, "docs", "flow2d_table.json")))
    cell = {"method": "fm", "task": "gaussian_to_8gaussians"}
    row = next(r for r in rows if r["cell"] == cell and r["seed"] == 42)
    assert tables.revision_of(row) != "unknown"
    args = ["--study", "experiments/studies/flow2d_table.py", "--workdir", str(tmp_path)]
    args += ["--only", "method=fm", "--only", "task=gaussian_to_8gaussians", "--seeds", "42"]
    with open(tmp_path / "log.txt", "w") as log:
        assert run_study(args, log).wait(timeout=900) == 0, (tmp_path / "log.txt").read_text()[
            -3000:
        ]
    got = json.load(
        open(tmp_path / "jobs" / "fm" / "gaussian_to_8gaussians" / "seed42" / "results.json")
    )
    assert (got["w2"], got["npe"]) == (row["w2"], row["npe"]), tables.revision_of(row)


EVAL_AXIS = textwrap.dedent(
    """
    from experiments.study import Axis, Study

    def get_study():
        return Study(
            name="one training, three samplers",
            config="configs/flow2d.py:tiny",
            axes=(
                Axis("method", {"icfm": {"process.path": "icfm"}}),
                Axis("sampler", {"euler": {}, "midpoint": {"sample.sampler": "midpoint"},
                                 "rk4": {"sample.sampler": "rk4", "sample.num_steps": 3}},
                     eval_only=True),
            ),
            seeds=(0, 1),
            metrics=("w2",),
        )
    """
)


def test_an_eval_only_axis_trains_once_and_scores_each_level(tmp_path):
    path = tmp_path / "eval_study.py"
    path.write_text(EVAL_AXIS)
    study = S.load_study(str(path))
    jobs = S.jobs(study)
    workdir = tmp_path / "study"
    assert S.main(["--study", str(path), "--workdir", str(workdir), "--share", "1/2"]) == 0
    # the share holds seed 1's training and the levels that score it, nothing of seed 0
    assert not (workdir / "jobs" / "icfm" / "seed0").exists()
    assert S.main(["--study", str(path), "--workdir", str(workdir)]) == 0
    rows, _ = S.collect(study, str(workdir))
    assert len(rows) == len(jobs) == 6
    for seed in (0, 1):
        trained = workdir / "jobs" / "icfm" / f"seed{seed}"
        assert sorted(os.listdir(trained / "evals")) == ["midpoint", "rk4"]
        assert not (trained / "evals" / "rk4" / "checkpoints").exists()
        mine = {r["cell"]["sampler"]: r for r in rows if r["seed"] == seed}
        assert len({r["w2"] for r in mine.values()}) == 3  # three samplers, three scores
        assert {r["train_seconds"] for r in mine.values()} == {mine["euler"]["train_seconds"]}
        assert mine["rk4"]["trained_in"] == str(trained)
    with pytest.raises(ValueError, match="eval_only.*optim.learning_rate"):
        S.Axis("lr", {"a": {"optim.learning_rate": 0.1}}, eval_only=True)


def test_the_committed_table_names_the_revision_that_computed_its_baselines(tiny_study, tmp_path):
    """Cached baselines are not recomputed when the code changes, so the table says which code
    computed them: this process's revision when computed now, 'unrecorded' for an older cache."""
    import dataclasses

    from experiments.provenance import code_revision

    calls = []
    value = lambda config: calls.append(config.data.name) or float(len(calls))  # noqa: E731
    study = dataclasses.replace(
        S.load_study(tiny_study), baselines={"b": (lambda c: c.data.name, value)}
    )
    workdir = str(tmp_path / "w")
    os.makedirs(workdir)
    values, computed_at = S.baselines(study, workdir, compute=True)
    assert len(calls) == 2 and computed_at == [code_revision()]  # one value per task (key)
    assert S.baselines(study, workdir, compute=True)[0] == values and len(calls) == 2  # cached
    cache = json.load(open(os.path.join(workdir, "baselines.json")))
    del cache[S.COMPUTED_AT]["b: 2d:gaussian_to_moons"]  # as a cache written before the record
    tables.write(os.path.join(workdir, "baselines.json"), cache)
    at = S.baselines(study, workdir, compute=False)[1]
    assert at == sorted([code_revision(), "unrecorded"])
    text = tables.docs_text(study, "", "cmd", [], "t.json", "abc1234", at)
    assert f"Baselines computed at revision {', '.join(at)}." in text
