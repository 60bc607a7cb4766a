"""Error against the exact probability-flow solution, per method x grid x NFE (issue 13).

    python -m benchmarks.sampler_accuracy            (the docs table, ~15 min on 2 CPU cores)
    python -m benchmarks.sampler_accuracy --tiny     (one problem, a few cells: the test)

Problems: Gaussian mixtures with an exact denoiser (ring8 in 2-D, random4_8d in 8-D) under three
schedules (DDPM's discrete linear betas, EDM, rectified flow), 256 prior draws at t = 1 in
float64. Reference: the exact ODE solved by diffrax Tsit5 at rtol = atol = 1e-10 down to sigma
= 1e-6 (the exact denoiser extended below the schedule's t_min), then E[x0 | x]. Error: RMS over
draws and coordinates of x_method - x_reference. NFE counts every network evaluation (a step to
sigma = 0 costs one). Peers: the methods and grids diffusers and k-diffusion offer (diffjax's
implementations of them, equal to the peers' to float32 round-off: benchmarks/peer_agreement.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import pathlib
import subprocess
import time

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

from diffjax import analytic  # noqa: E402
from diffjax import samplers as SA  # noqa: E402
from diffjax import schedules as S  # noqa: E402

NFES = (10, 20, 50)
SCHEDULES = {"ddpm": S.DiscreteDDPM(), "edm": S.EDM(), "rf": S.RectifiedFlow()}
MIXTURES = ("ring8", "random4_8d")
TAYLOR, REF = SA.ThirdOrderTerm.TAYLOR, SA.ThirdOrderTerm.REFERENCE
# name -> (sampler, network evaluations per step); every method's step to sigma = 0 costs 1
METHODS = {
    "ddim (euler in sigma)": (SA.DDIM(), 1),
    "euler (in t)": (SA.Euler(), 1),
    "heun": (SA.Heun(), 2),
    "dpm_solver_2": (SA.DPMSolver(order=2), 2),
    "dpm_solver_3": (SA.DPMSolver(order=3), 3),
    "dpmpp_2s": (SA.DPMSolverPP2S(), 2),
    "dpmpp_2m": (SA.DPMSolverPP(order=2), 1),
    "dpmpp_3m": (SA.DPMSolverPP(order=3), 1),
    "dpmpp_3m (peer weight)": (SA.DPMSolverPP(order=3, d2_term=REF), 1),
    "dpmpp_3m (peer weight, lower final)": (
        SA.DPMSolverPP(order=3, d2_term=REF, lower_order_final=True),
        1,
    ),
    "lms": (SA.LMS(), 1),
    "ipndm": (SA.IPNDM(), 1),
    "deis_3 (t-AB)": (SA.DEIS(order=3), 1),
    "unipc_1": (SA.UniPC(order=1), 1),
    "unipc_2": (SA.UniPC(order=2), 1),
    "unipc_3": (SA.UniPC(order=3), 1),
    "unipc_2 (lower final)": (SA.UniPC(order=2, lower_order_final=True), 1),
    "unipc_3 (lower final)": (SA.UniPC(order=3, lower_order_final=True), 1),
}
GRIDS = {
    "uniform": SA.UniformGrid(),
    "logsnr": SA.LogSNRGrid(),
    "karras": SA.KarrasGrid(),
    "quadratic": SA.QuadraticGrid(),
    "trailing": SA.DDPMTimestepGrid(),
    "leading": SA.DDPMTimestepGrid(spacing=SA.Spacing.LEADING),
}
# what diffusers and k-diffusion offer: the methods (diffjax names) and grids per schedule
PEER_METHODS = (
    "ddim (euler in sigma)",
    "heun",
    "dpm_solver_2",
    "dpmpp_2s",
    "dpmpp_2m",
    "lms",
    "ipndm",
    "dpmpp_3m (peer weight)",
    "dpmpp_3m (peer weight, lower final)",
    "unipc_2 (lower final)",
    "unipc_3 (lower final)",
)
PEER_GRIDS = {
    "ddpm": ("trailing", "leading", "karras", "logsnr"),
    "edm": ("karras", "logsnr"),
    "rf": ("uniform", "karras"),
}


def grids_for(schedule_name: str) -> list[str]:
    ddpm_only = ("trailing", "leading")
    return [g for g in GRIDS if schedule_name == "ddpm" or g not in ddpm_only]


def problem(mixture: str, schedule_name: str, num: int = 256):
    from experiments.datasets import MIXTURES as ALL

    gmm = ALL[mixture]()
    schedule = SCHEDULES[schedule_name]
    dim = gmm.means.shape[1]
    x_T = jax.random.normal(jax.random.PRNGKey(0), (num, dim), jnp.float64)
    x_T = x_T * float(schedule(1.0).sigma)
    return gmm, schedule, x_T


def reference(gmm, schedule, x_T) -> np.ndarray:
    """The exact PF-ODE endpoint: Tsit5 at 1e-10 down to sigma = 1e-6, then E[x0 | x]."""
    with jax.ensure_compile_time_eval():
        t_end = float(schedule.t_from_logsnr(jnp.asarray(-2.0 * math.log(1e-6), jnp.float64)))
    wide = dataclasses.replace(schedule, t_min=t_end)
    den = analytic.exact_denoiser(gmm, wide)
    solver = SA.Adaptive(rtol=1e-10, atol=1e-10, max_steps=65536)
    return np.asarray(SA.sample(den, x_T, [1.0, 0.0], solver).samples)


def steps_for(nfe: int, per_step: int) -> int:
    return (nfe - 1) // per_step + 1  # the last step (to sigma = 0) costs one evaluation


def measure(mixture: str, schedule_name: str, methods, grids, nfes) -> list[dict]:
    gmm, schedule, x_T = problem(mixture, schedule_name)
    ref = reference(gmm, schedule, x_T)
    den = analytic.exact_denoiser(gmm, schedule)
    rows = []
    for grid_name in grids:
        for method in methods:
            sampler, per_step = METHODS[method]
            for nfe in nfes:
                grid = SA.time_grid(schedule, steps_for(nfe, per_step), GRIDS[grid_name])
                out = SA.sample(den, x_T, grid, sampler)
                err = float(np.sqrt(np.mean((np.asarray(out.samples) - ref) ** 2)))
                rows.append(
                    dict(
                        problem=f"{mixture}/{schedule_name}",
                        method=method,
                        grid=grid_name,
                        nfe_budget=nfe,
                        nfe=int(out.nfe),
                        error=err if np.isfinite(err) else float("inf"),
                    )
                )
    return rows


def is_peer(row) -> bool:
    schedule_name = row["problem"].split("/")[1]
    return row["method"] in PEER_METHODS and row["grid"] in PEER_GRIDS[schedule_name]


def best_peer(rows) -> dict:
    """(problem, nfe budget) -> the smallest error of any peer method on any peer grid."""
    best = {}
    for r in rows:
        if is_peer(r):
            key = (r["problem"], r["nfe_budget"])
            best[key] = min(best.get(key, float("inf")), r["error"])
    return best


def ranking(rows) -> list[tuple[str, str, float, float]]:
    """(method, grid, geometric-mean ratio to the best peer, worst ratio) over every problem and
    NFE, best first; only cells measured on every problem."""
    best = best_peer(rows)
    ratios: dict = {}
    for r in rows:
        ratios.setdefault((r["method"], r["grid"]), []).append(
            r["error"] / best[(r["problem"], r["nfe_budget"])]
        )
    full = max(len(v) for v in ratios.values())
    out = [
        (m, g, float(np.exp(np.mean(np.log(v)))), float(np.max(v)))
        for (m, g), v in ratios.items()
        if len(v) == full and np.all(np.isfinite(v))
    ]
    return sorted(out, key=lambda c: c[2])


def tables(rows, command: str, revision: str, seconds: float) -> str:
    best = best_peer(rows)
    rank = ranking(rows)
    problems = sorted({r["problem"] for r in rows})
    nfes = sorted({r["nfe_budget"] for r in rows})
    lines = [
        "# Sampler accuracy: error against the exact probability-flow solution",
        "",
        f"Generated by `{command}` at revision {revision} ({seconds / 60:.1f} min).",
        (__doc__ or "").split("\n\n", 2)[2].strip(),
        "",
        "## Every method and grid against the best peer",
        "Geometric mean over problems and NFE budgets of error / (the best peer method on the "
        "best peer grid at that problem and NFE); < 1 beats every peer. `peer`: the schedules "
        "on which the peers offer this method on this grid.",
        "",
        "| rank | method | grid | mean ratio to best peer | worst ratio | peer |",
        "|---|---|---|---|---|---|",
    ]
    for i, (m, g, mean, worst) in enumerate(rank, 1):
        on = [k for k, v in PEER_GRIDS.items() if g in v] if m in PEER_METHODS else []
        peer = ", ".join(on) if on else ""
        lines.append(f"| {i} | {m} | {g} | {mean:.3f} | {worst:.3f} | {peer} |")
    lines += [
        "",
        "## The best cells per schedule",
        "The same ratio over one schedule's problems (both mixtures) and NFE budgets: the grid "
        "that wins depends on how the schedule spaces t.",
        "",
        "| schedule | 1st | 2nd | 3rd | best peer cell |",
        "|---|---|---|---|---|",
    ]
    for name in sorted({p.split("/")[1] for p in problems}):
        sub = [r for r in rows if r["problem"].endswith("/" + name)]
        cells = ranking(sub)
        peer = next(c for c in cells if is_peer(dict(problem="x/" + name, method=c[0], grid=c[1])))
        fmt = lambda c: f"{c[0]} on {c[1]}: {c[2]:.2f} (worst {c[3]:.2f})"  # noqa: E731
        lines.append(f"| {name} | " + " | ".join(fmt(c) for c in cells[:3]) + f" | {fmt(peer)} |")
    top_m, top_g = rank[0][:2]
    lines += ["", f"## The best cell ({top_m} on {top_g}) per problem", ""]
    lines.append("| problem | " + " | ".join(f"NFE {n}: ours / best peer" for n in nfes) + " |")
    lines.append("|---|" + "---|" * len(nfes))
    for p in problems:
        cells = []
        for n in nfes:
            ours = [
                r["error"]
                for r in rows
                if (r["problem"], r["nfe_budget"], r["method"], r["grid"]) == (p, n, top_m, top_g)
            ]
            cells.append(f"{ours[0]:.2e} / {best[(p, n)]:.2e} ({ours[0] / best[(p, n)]:.2f})")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _measured_by(out: pathlib.Path) -> tuple[str, str, float]:
    """(command, revision, seconds) from the header of a table this script wrote."""
    import re

    m = re.search(r"Generated by `([^`]*)` at revision (\S+) \(([\d.]+) min\)", out.read_text())
    if m is None:
        raise ValueError(f"{out} has no 'Generated by' header to keep.")
    return m.group(1), m.group(2), 60.0 * float(m.group(3))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="one problem, a few cells")
    parser.add_argument("--out", default="docs/sampler_accuracy.md", help="markdown (+ .json)")
    parser.add_argument("--tables_only", action="store_true", help="re-tabulate the .json")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    rows = []
    out = pathlib.Path(args.out)
    if args.tables_only:
        rows = json.loads(out.with_suffix(".json").read_text())
    elif args.tiny:
        methods = ["ddim (euler in sigma)", "dpmpp_2m", "unipc_3"]
        rows += measure("ring8", "edm", methods, ["karras", "logsnr"], (10,))
    else:
        for mixture in MIXTURES:
            for name in SCHEDULES:
                rows += measure(mixture, name, list(METHODS), grids_for(name), NFES)
                print(f"{mixture}/{name}: {len(rows)} rows, {time.perf_counter() - start:.0f} s")
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True)
    command = "python -m benchmarks.sampler_accuracy" + (" --tiny" if args.tiny else "")
    seconds = time.perf_counter() - start
    if args.tables_only:  # keep the header of the run that measured the rows
        command, revision, seconds = _measured_by(out)
    text = tables(rows, command, revision if args.tables_only else rev.stdout.strip(), seconds)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=0) + "\n")
    print(text)


if __name__ == "__main__":
    main()
