"""The parameterisation study's analysis: which cells are the same objective in theory and whether
they measure the same within seed noise, each factor's effect, the cells against the baselines,
and the two plots (each weighting over log-SNR, the denoiser's error over log-SNR).

Kingma & Gao (2023): a loss E_t[w_x0(t) ||x0_hat - x0||^2] is the ELBO weighted by
w(lambda) = 2 p(lambda) w_x0 / SNR over log-SNR. It depends on the weighting and the law of t
only, never on what the network predicts, so for a fixed (process, weighting) the five
parameterisations are one objective (and eps with `simple` is the `snr` cell). ELBO, sigmoid and
EDM's lambda with log-normal sigma give a w(lambda) that ignores the process too (the processes
differ only in the ends of their log-SNR range), so across processes those cells are one
objective as well. What differs is the optimisation: the network's input scale and output target.
"""

from __future__ import annotations

import collections
import math
import os

import numpy as np

TESTED = ("kl", "denoiser_error", "w2_nfe50")  # the metrics each equivalence is tested on
INVARIANT_OVER_PROCESS = ("elbo", "sigmoid", "edm")
# the targets whose conversion to x0 stays bounded at both ends of the log-SNR range
WELL_CONDITIONED = ("v", "velocity", "edm")


def _per_seed(records: list[dict], metric: str) -> dict:
    """cell tuple (data, process, parameterisation, weighting) -> per-seed values."""
    return {tuple(r["cell"].values()): r["values"][metric] for r in records}


def theory_groups(records: list[dict]) -> list[tuple[str, str, list[tuple]]]:
    """(kind, label, cells) of every set of cells that is one objective in theory."""
    cells = [tuple(r["cell"].values()) for r in records]
    by = collections.defaultdict(list)
    for data, process, param, weighting in cells:
        if weighting != "simple":
            by[("same weighting, any target", f"{data}/{process}/{weighting}")].append(
                (data, process, param, weighting)
            )
        if weighting == "simple" and param == "eps":  # unit eps MSE = SNR weighting
            by[("same weighting, any target", f"{data}/{process}/snr")].append(
                (data, process, param, weighting)
            )
        if weighting != "simple" and param in WELL_CONDITIONED:
            by[("same weighting, v/velocity/edm", f"{data}/{process}/{weighting}")].append(
                (data, process, param, weighting)
            )
        if weighting in INVARIANT_OVER_PROCESS:
            by[("schedule-invariant, any process", f"{data}/{param}/{weighting}")].append(
                (data, process, param, weighting)
            )
    return [(kind, label, sorted(c)) for (kind, label), c in by.items() if len(c) > 1]


def equal_within_noise(groups_values: list[list[float]]) -> tuple[float, float]:
    """(one-way ANOVA p-value on log values, spread of cell means in pooled seed stds)."""
    import scipy.stats

    logs = [np.log(np.maximum(np.asarray(v, np.float64), 1e-3)) for v in groups_values]
    logs = [v for v in logs if len(v) > 1]
    if len(logs) < 2:
        return float("nan"), float("nan")
    pooled = math.sqrt(np.mean([np.var(v, ddof=1) for v in logs]))
    means = [v.mean() for v in logs]
    spread = (max(means) - min(means)) / pooled if pooled > 0 else float("inf")
    with np.errstate(all="ignore"):
        p = float(scipy.stats.f_oneway(*logs).pvalue) if pooled > 0 else 0.0
    return p, spread


def equivalence_table(records: list[dict]) -> tuple[str, str]:
    """(summary counts, detailed table) of the theory groups."""
    values = {m: _per_seed(records, m) for m in TESTED}
    detail = [
        "| kind | group | cells | " + " | ".join(f"{m}: min..max (p)" for m in TESTED) + " |",
        "|" + "---|" * (3 + len(TESTED)),
    ]
    counts = collections.Counter()
    for kind, label, cells in theory_groups(records):
        row = [kind, label, str(len(cells))]
        for m in TESTED:
            vals = [values[m].get(c, []) for c in cells]
            p, _ = equal_within_noise(vals)
            means = [np.mean(v) for v in vals if v]
            row.append(f"{min(means):.3g}..{max(means):.3g} ({p:.2g})" if means else "-")
            if not math.isnan(p):
                counts[(kind, m, p > 0.05)] += 1
        detail.append("| " + " | ".join(row) + " |")
    kinds = sorted({k for k, _, _ in counts})
    summary = [
        "| kind | metric | equal within seed noise (p > 0.05) | differ |",
        "|---|---|---|---|",
    ]
    for kind in kinds:
        for m in TESTED:
            summary.append(
                f"| {kind} | {m} | {counts[(kind, m, True)]} | {counts[(kind, m, False)]} |"
            )
    return "\n".join(summary) + "\n", "\n".join(detail) + "\n"


def factor_table(
    records: list[dict], axis: str, metrics=("kl", "denoiser_error", "w2_nfe10", "w2_nfe50")
) -> str:
    """Per data set and level of `axis`: the median over the other factors' cells of each metric
    (medians, since a few cells blow up by orders of magnitude)."""
    lines = [f"| data | {axis} | " + " | ".join(f"median {m}" for m in metrics) + " |"]
    lines.append("|" + "---|" * (2 + len(metrics)))
    levels = list(dict.fromkeys(r["cell"][axis] for r in records))
    for data in dict.fromkeys(r["cell"]["data"] for r in records):
        for level in levels:
            sel = [r for r in records if r["cell"]["data"] == data and r["cell"][axis] == level]
            row = [data, level]
            for m in metrics:
                v = [r["mean"][m] for r in sel if m in r["mean"]]
                row.append(f"{np.median(v):.3g}" if v else "-")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def best_cells(records: list[dict], metric: str, baseline: str, k: int = 8) -> str:
    """The k best cells by `metric` per data set, and how many cells beat `baseline`."""
    out = []
    for data in dict.fromkeys(r["cell"]["data"] for r in records):
        sel = [r for r in records if r["cell"]["data"] == data and metric in r["mean"]]
        sel.sort(key=lambda r: r["mean"][metric])
        base = [v for r in sel for v in r["baselines"].get(baseline, [])]
        ref = float(np.mean(base)) if base else float("nan")
        beat = sum(r["mean"][metric] < ref for r in sel)
        cells = ", ".join(
            f"{'/'.join(list(r['cell'].values())[1:])} {r['mean'][metric]:.3g}" for r in sel[:k]
        )
        floor = [v for r in sel for v in r["baselines"].get("two-sample W2", [])]
        also = f"; two-sample W2 floor {np.mean(floor):.3g}" if floor and "w2" in metric else ""
        out.append(
            f"- {data}: {beat} of {len(sel)} cells beat the {baseline} ({ref:.3g}{also}); "
            f"best: {cells}"
        )
    return "\n".join(out) + "\n"


def plot_weightings(directory: str, prefix: str) -> str:
    """Each cell's w(lambda) (Kingma & Gao) per process, normalised to a peak of 1."""
    import jax.numpy as jnp
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from diffjax import resolve
    from diffjax.losses import elbo_weight
    from experiments.studies import parameterisation as P

    fig, axes = plt.subplots(1, len(P.PROCESSES), figsize=(4 * len(P.PROCESSES), 3.4), sharey=True)
    for ax, (pname, po) in zip(axes, P.PROCESSES.items(), strict=True):
        sched = resolve.schedule(po["process.schedule"])
        t = jnp.linspace(sched.t_min, sched.t_max, 2001)[1:-1]
        rec = sched(t)
        for wname, wo in P.WEIGHTINGS.items():
            law = resolve.time_sampling(wo["objective.time_sampling"])
            params = P.PARAMETERISATIONS if wname == "simple" else {"eps": None}
            for param in params:
                spec = P.PARAMETERISATIONS[param]["objective.parameterisation"]
                w = resolve.weighting(wo["objective.weighting"], resolve.parameterisation(spec))
                curve = np.asarray(elbo_weight(w, rec, law.density(t, sched)))
                label = f"simple ({param})" if wname == "simple" else wname
                ax.plot(
                    rec.logsnr,
                    curve / np.nanmax(curve),
                    "--" if wname == "simple" else "-",
                    label=label,
                    lw=1,
                )
        ax.set(title=pname, xlabel="log-SNR lambda", yscale="log", ylim=(1e-4, 2), xlim=(-15, 15))
    axes[0].set_ylabel("w(lambda) / max (ELBO weighting = 1)")
    axes[-1].legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    name = f"{prefix}weightings.png"
    fig.savefig(os.path.join(directory, name), dpi=110)
    plt.close(fig)
    return name


def plot_denoiser_errors(rows: list[dict], data: str, directory: str, prefix: str) -> str:
    """E||x0_hat - E[x0|x_t]||^2/d over log-SNR: processes x parameterisations, a line per
    weighting (mean over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from experiments.studies import parameterisation as P

    curves = collections.defaultdict(list)
    for r in rows:
        c = r["cell"]
        if c["data"] == data and "denoiser_error_by_logsnr" in r:
            curves[(c["process"], c["parameterisation"], c["weighting"])].append(
                r["denoiser_error_by_logsnr"]
            )
    procs, params = list(P.PROCESSES), list(P.PARAMETERISATIONS)
    fig, axes = plt.subplots(
        len(procs),
        len(params),
        figsize=(3 * len(params), 2.4 * len(procs)),
        sharex=True,
        sharey=True,
    )
    for i, proc in enumerate(procs):
        for j, param in enumerate(params):
            ax = axes[i, j]
            for wname in P.WEIGHTINGS:
                runs = curves.get((proc, param, wname))
                if runs:
                    lams = sorted(runs[0], key=float)
                    ax.plot(
                        [float(x) for x in lams],
                        [np.mean([run[x] for run in runs]) for x in lams],
                        marker=".",
                        lw=1,
                        label=wname,
                    )
            ax.set(yscale="log", title=f"{proc} / {param}")
            ax.title.set_fontsize(8)
    for ax in axes[-1]:
        ax.set_xlabel("log-SNR")
    drawn = [ax for ax in axes.flat if ax.lines]
    if drawn:
        drawn[0].legend(fontsize=6)
    fig.tight_layout()
    name = f"{prefix}denoiser_error_{data}.png"
    fig.savefig(os.path.join(directory, name), dpi=100)
    plt.close(fig)
    return name


def report(study, rows: list[dict], records: list[dict], directory: str, prefix: str) -> str:
    """The analysis placed before the study's table (docs/parameterisation.md)."""
    summary, detail = equivalence_table(records)
    plots = [plot_weightings(directory, prefix)]
    plots += [
        plot_denoiser_errors(rows, d, directory, prefix)
        for d in dict.fromkeys(r["cell"]["data"] for r in records)
    ]
    stiff = sorted({"/".join(r["cell"].values()) for r in rows if "pf_nll_error" in r})
    stiff_text = (
        f"\nNo KL where the probability-flow ODE was too stiff to integrate (max_steps): "
        f"{', '.join(stiff)}.\n"
        if stiff
        else ""
    )
    parts = [
        "## Same objective in theory: equal in measurement?\n\n" + __doc__.split("\n\n", 1)[1],
        "Tests: a one-way ANOVA over the group's cells of the per-seed log values (p > 0.05: the "
        "cells' differences are within seed noise).\n\n" + summary,
        "## Each factor's effect\n\n"
        + "".join(
            factor_table(records, a) + "\n" for a in ("parameterisation", "process", "weighting")
        ),
        "## Against the baselines\n\nKL to the exact density (the moment-matched Gaussian's KL is the "
        "bar):\n\n"
        + best_cells(records, "kl", "Gaussian KL")
        + "\nW2 at NFE 10 (the two-sample floor is a perfect model's W2):\n\n"
        + best_cells(records, "w2_nfe10", "Gaussian W2")
        + stiff_text,
        "## Plots\n\n" + "\n".join(f"![{p}]({p})" for p in plots),
        "## The groups in detail\n\n" + detail,
        "## Every cell\n\n",
    ]
    return "\n\n".join(parts)
