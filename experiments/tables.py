"""A study's summary: mean +- std per cell over seeds next to the paper, its records and plots."""

from __future__ import annotations

import collections
import json
import os

import numpy as np


def mean_std(values) -> str:
    """'mean +- std' (sample std, ddof 1) over seeds; one seed has no spread, so the value alone."""
    if not values:
        return "-"
    v = np.asarray(values, np.float64)
    return f"{v.mean():.3f} +- {v.std(ddof=1):.3f}" if v.size > 1 else f"{v[0]:.3f}"


def _paper_text(entry) -> str:
    if entry is None:
        return "-"
    if isinstance(entry, tuple | list):
        return f"{entry[0]:.3f} +- {entry[1]:.3f}"
    return f"{entry:.3f}"


def _overlap(values, entry):
    """Do ours (mean +- std) and the paper's (mean +- std) intervals overlap? None if unknown."""
    if not isinstance(entry, tuple | list) or len(values) < 2:
        return None
    m, s = float(np.mean(values)), float(np.std(values, ddof=1))
    return bool(abs(m - entry[0]) <= s + entry[1])


def cells(study, rows: list[dict]) -> dict:
    """cell labels -> its rows sorted by seed, in the study's axis order."""
    names = [a.name for a in study.axes]
    by_cell = collections.defaultdict(list)
    for r in rows:
        by_cell[tuple(r["cell"][n] for n in names)].append(r)
    order = [tuple(c) for c in _product(study)]
    return {c: sorted(by_cell[c], key=lambda r: r["seed"]) for c in order if c in by_cell}


def _product(study):
    import itertools

    return itertools.product(*(list(a.values) for a in study.axes))


def summarise(
    study, rows: list[dict], baselines: dict | None = None, failed=()
) -> tuple[str, list]:
    """Markdown table and per-cell records. `baselines`: {column: {cell/seed key: value}}; a
    baseline with the same values on every row (same data and seeds) is printed once, below."""
    baselines = baselines or {}
    failures = collections.Counter(tuple(f["cell"].values()) for f in failed)
    grouped = cells(study, rows)
    records = [_cell_record(study, cell, sel, baselines) for cell, sel in grouped.items()]
    shared = [b for b in baselines if records and _same_on_every_row(records, b)]
    per_row = [b for b in baselines if b not in shared]
    head = [a.name for a in study.axes] + ["seeds"]
    for m in study.metrics:
        head += [f"{m} (ours)"] + ([f"{m} (paper)"] if _has_paper(study, m) else [])
    head += per_row + ["train s / run", "revisions"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (cell, sel), rec in zip(grouped.items(), records, strict=True):
        row = list(cell) + [
            str(len(sel)) + (f" ({failures[cell]} failed)" if failures[cell] else "")
        ]
        for m in study.metrics:
            row.append(mean_std(rec["values"][m]))
            if _has_paper(study, m):
                row.append(_paper_text(rec["paper"].get(m)))
        row += [mean_std(rec["baselines"][b]) for b in per_row]
        seconds = [s for s in rec["train_seconds"] if not np.isnan(s)]  # none: a kept checkpoint
        row += [f"{np.mean(seconds):.0f}" if seconds else "-", ", ".join(rec["revisions"])]
        lines.append("| " + " | ".join(row) + " |")
    if shared:
        seeds = ", ".join(str(s) for s in records[0]["seeds"])
        lines += [
            "",
            f"Baselines, the same for every row (seeds {seeds}):",
            "",
            "| " + " | ".join(shared) + " |",
            "|" + "---|" * len(shared),
            "| " + " | ".join(mean_std(records[0]["baselines"][b]) for b in shared) + " |",
        ]
    return "\n".join(lines) + "\n", records


def _same_on_every_row(records: list[dict], baseline: str) -> bool:
    first = records[0]["baselines"][baseline]
    return bool(first) and all(r["baselines"][baseline] == first for r in records)


def _has_paper(study, metric) -> bool:
    return any(metric in entry for entry in study.paper.values())


def _cell_record(study, cell, sel, baselines) -> dict:
    values = {m: [r[m] for r in sel if isinstance(r.get(m), int | float)] for m in study.metrics}
    paper = study.paper.get(cell, {})
    key = lambda r: baseline_key(cell, r["seed"])
    return {
        "cell": dict(zip([a.name for a in study.axes], cell, strict=False)),
        "seeds": [r["seed"] for r in sel],
        "values": values,
        "mean": {m: float(np.mean(v)) for m, v in values.items() if v},
        "std": {m: float(np.std(v, ddof=1)) for m, v in values.items() if len(v) > 1},
        "paper": paper,
        "intervals_overlap": {m: _overlap(values[m], paper.get(m)) for m in paper},
        "baselines": {b: [t[key(r)] for r in sel if key(r) in t] for b, t in baselines.items()},
        "train_seconds": [r.get("train_seconds", float("nan")) for r in sel],
        "revisions": sorted({revision_of(r) for r in sel}),
    }


def baseline_key(cell, seed) -> str:
    return "/".join(cell) + f"/seed{seed}"


def revision_of(row: dict) -> str:
    return row.get("provenance", {}).get("git_revision") or row.get("revision", "unknown")


def plot(study, records: list[dict], directory: str, max_cells: int = 80) -> list[str]:
    """One errorbar plot per metric: ours (mean +- std over seeds) and the paper's, per cell
    (none past max_cells cells: a study that large plots in its own report)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for m in study.metrics:
        sel = [r for r in records if m in r["mean"]]
        if not sel or len(sel) > max_cells:
            continue
        fig, ax = plt.subplots(figsize=(7, 0.35 * len(sel) + 1.2))
        y = np.arange(len(sel))
        ax.errorbar(
            [r["mean"][m] for r in sel],
            y,
            xerr=[r["std"].get(m, 0.0) for r in sel],
            fmt="o",
            label="ours",
        )
        paper = [
            (i, r["paper"][m])
            for i, r in enumerate(sel)
            if isinstance(r["paper"].get(m), tuple | list)
        ]
        if paper:
            ax.errorbar(
                [p[1][0] for p in paper],
                [p[0] + 0.2 for p in paper],
                xerr=[p[1][1] for p in paper],
                fmt="s",
                label="paper",
            )
        ax.set_yticks(y, ["/".join(r["cell"].values()) for r in sel], fontsize=7)
        ax.set_xlabel(m)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(directory, f"{m}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def docs_text(
    study,
    table: str,
    command: str,
    rows: list[dict],
    json_name: str,
    revision: str = "",
    baselines_at: list[str] = (),
) -> str:
    """The committed table: its command, the revision it was summarised at (`revision`, taken
    before the summary wrote anything; default: now), those of its rows and of its baselines."""
    from experiments.provenance import git_revision

    counts = collections.Counter(revision_of(r) for r in rows)
    revs = ", ".join(f"{rev} ({n} rows)" for rev, n in sorted(counts.items()))
    computed = f" Baselines computed at revision {', '.join(baselines_at)}." if baselines_at else ""
    return (
        f"# {study.name} (generated)\n\n"
        f"Command: `{command}`, summarised at revision {revision or git_revision()}.\n"
        f"Rows produced at revisions: {revs}; every row's revision, config hash, versions, device "
        f"and wall time are in `{json_name}`.{computed} Mean +- sample std over the finished "
        "seeds.\n\n" + (study.notes.strip() + "\n\n" if study.notes else "") + table
    )


def write(path: str, obj) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(obj, f, indent=2) if not isinstance(obj, str) else f.write(obj)
    os.replace(path + ".tmp", path)
