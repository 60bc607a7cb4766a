"""Samplers' laws against the exact data law: DDIM's Table 1 and EDM's sampler ablation on
Gaussian mixtures (issue 13).

    python -m benchmarks.sampler_laws          (docs/sampler_laws.md + .json, ~15 min on 2 cores)
    python -m benchmarks.sampler_laws --tiny   (seconds: the test)

With the exact denoiser of a Gaussian mixture (ring8 in 2-D, random4_8d in 8-D) the only error
left is the sampler's own, so each cell measures the method and not a network. Score: exact W2
(POT) between `n` samples and `n` fresh data draws, mean +- std over 3 independent sets (prior,
sampler noise and data draws all fresh); the floor is the same estimator between two sets of data
draws, i.e. its value at the exact law. Tables:
- DDIM (Song et al. 2021, Table 1) on DDPM's discrete schedule (T = 1000, linear betas), DDIM's
  uniform timestep subsequence ('leading'): S in {10, 20, 50, 100, 1000} x eta in {0, 0.2, 0.5,
  1} and sigma-hat (the ancestral step with the larger variance beta, `DDPM(variance=beta)`).
- EDM (Karras et al. 2022, sec. 3-4) on `EDM()`: Euler (in sigma) vs Heun over the grid's rho at
  NFE ~ 10 / 20 / 50, and Heun's churn S_churn with the paper's S_tmin = 0.05, S_tmax = 50,
  S_noise in {1, 1.003} at 18 and 64 steps.
"""

from __future__ import annotations

import argparse
import json
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
from diffjax.metrics import wasserstein2  # noqa: E402

MIXTURES = ("ring8", "random4_8d")
SETS = 3
DDIM_STEPS = (10, 20, 50, 100, 1000)
DDIM_METHODS = {
    **{f"eta {eta}": SA.DDIM(eta=eta) for eta in (0.0, 0.2, 0.5, 1.0)},
    "sigma-hat": SA.DDPM(variance=S.ReverseVariance.FIXED_LARGE),
}
EDM_NFES = (10, 20, 50)
EDM_RHOS = (1.0, 2.0, 3.0, 5.0, 7.0, 10.0)
CHURNS = (0.0, 5.0, 10.0, 20.0, 40.0, 80.0)
CHURN_STEPS = (18, 64)


def mixture(name: str):
    from experiments.datasets import MIXTURES as ALL

    return ALL[name]()


def law_distance(gmm, schedule, grid, sampler, key, n: int) -> list[float]:
    """W2 to fresh data draws of `SETS` independent sets of n samples (one sampling run)."""
    k_prior, k_run, k_data = jax.random.split(key, 3)
    dim = gmm.means.shape[1]
    x_T = SA.prior_sample(k_prior, (SETS * n, dim), schedule, dtype=jnp.float64)
    den = analytic.exact_denoiser(gmm, schedule)
    out = np.asarray(SA.sample(den, x_T, grid, sampler, key=k_run).samples)
    data = np.asarray(analytic.sample(gmm, k_data, SETS * n)[0])
    return [wasserstein2(out[i * n : (i + 1) * n], data[i * n : (i + 1) * n]) for i in range(SETS)]


def floor(gmm, key, n: int) -> list[float]:
    a, b = (np.asarray(analytic.sample(gmm, k, SETS * n)[0]) for k in jax.random.split(key))
    return [wasserstein2(a[i * n : (i + 1) * n], b[i * n : (i + 1) * n]) for i in range(SETS)]


def row(table, problem, setting, column, w2) -> dict:
    return dict(
        table=table, problem=problem, setting=setting, column=column, w2=w2,
        mean=float(np.mean(w2)), std=float(np.std(w2, ddof=1)),
    )  # fmt: skip


def ddim_rows(name: str, steps, methods, n: int) -> list[dict]:
    gmm, schedule = mixture(name), S.DiscreteDDPM()
    rows = []
    for s in steps:
        grid = SA.time_grid(schedule, s, SA.DDPMTimestepGrid(spacing=SA.Spacing.LEADING))
        for label in methods:
            key = jax.random.PRNGKey(s)  # the same prior and noise across the row
            w2 = law_distance(gmm, schedule, grid, DDIM_METHODS[label], key, n)
            rows.append(row("ddim", name, f"S = {s}", label, w2))
    return rows


def edm_rows(name: str, nfes, rhos, churns, churn_steps, n: int) -> list[dict]:
    gmm, schedule = mixture(name), S.EDM()
    rows = []
    for nfe in nfes:
        for rho in rhos:
            for label, sampler, steps in (
                ("euler", SA.DDIM(), nfe),
                ("heun", SA.Heun(), (nfe + 1) // 2),  # NFE 2N - 1
            ):
                grid = SA.time_grid(schedule, steps, SA.KarrasGrid(rho=rho))
                w2 = law_distance(gmm, schedule, grid, sampler, jax.random.PRNGKey(nfe), n)
                rows.append(row("edm_grid", name, f"NFE {nfe}, {label}", f"rho {rho:g}", w2))
    for steps in churn_steps:
        grid = SA.time_grid(schedule, steps, SA.KarrasGrid())
        for s_noise in (1.0, 1.003):
            for churn in churns:
                heun = SA.Heun(s_churn=churn, s_tmin=0.05, s_tmax=50.0, s_noise=s_noise)
                w2 = law_distance(gmm, schedule, grid, heun, jax.random.PRNGKey(steps), n)
                setting = f"{steps} steps, S_noise {s_noise:g}"
                rows.append(row("edm_churn", name, setting, f"S_churn {churn:g}", w2))
    return rows


TITLES = {
    "ddim": "DDIM, Song et al. 2021 Table 1 (DDPM discrete schedule, 'leading' timesteps)",
    "edm_grid": "EDM: Euler (in sigma) vs Heun over the Karras grid's rho (`EDM()`)",
    "edm_churn": "EDM: Heun's churn, S_tmin = 0.05, S_tmax = 50 (Karras rho = 7 grid, `EDM()`)",
}


def table(rows: list[dict], floors: dict, kind: str, problem: str) -> list[str]:
    sub = [r for r in rows if r["table"] == kind and r["problem"] == problem]
    columns = list(dict.fromkeys(r["column"] for r in sub))
    settings = list(dict.fromkeys(r["setting"] for r in sub))
    lo, sd = np.mean(floors[problem]), np.std(floors[problem], ddof=1)
    lines = [
        f"**{problem}** (floor, data vs data: {lo:.4f} +- {sd:.4f}; best per row in bold)",
        "",
        "| | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for setting in settings:
        cells = {r["column"]: r for r in sub if r["setting"] == setting}
        best = min(cells.values(), key=lambda r: r["mean"])["column"]
        fmt = lambda c: f"{cells[c]['mean']:.4f} +- {cells[c]['std']:.4f}"  # noqa: E731
        text = [f"**{fmt(c)}**" if c == best else fmt(c) for c in columns]
        lines.append(f"| {setting} | " + " | ".join(text) + " |")
    return lines + [""]


def report(rows, floors, command: str, revision: str, seconds: float) -> str:
    lines = [
        "# Samplers' laws against the exact data law",
        "",
        f"Generated by `{command}` at revision {revision} ({seconds / 60:.1f} min).",
        "",
        __doc__.split("\n\n", 2)[2].strip(),
        "",
        f"Cells: W2 (mean +- std over {SETS} sets of {rows[0]['n']} samples) to the mixture.",
        "",
    ]
    for kind, title in TITLES.items():
        if any(r["table"] == kind for r in rows):
            lines += [f"## {title}", ""]
            for problem in dict.fromkeys(r["problem"] for r in rows if r["table"] == kind):
                lines += table(rows, floors, kind, problem)
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="one problem, a few cells")
    parser.add_argument("--out", default="docs/sampler_laws.md", help="markdown (+ .json)")
    parser.add_argument("--problems", nargs="+", default=list(MIXTURES), choices=MIXTURES)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    n = 200 if args.tiny else 2000
    problems = MIXTURES[:1] if args.tiny else args.problems
    rows, floors = [], {}
    for name in problems:
        floors[name] = floor(mixture(name), jax.random.PRNGKey(99), n)
        if args.tiny:
            rows += ddim_rows(name, (10,), ("eta 0.0", "sigma-hat"), n)
            rows += edm_rows(name, (10,), (7.0,), (0.0, 40.0), (8,), n)
        else:
            rows += ddim_rows(name, DDIM_STEPS, list(DDIM_METHODS), n)
            rows += edm_rows(name, EDM_NFES, EDM_RHOS, CHURNS, CHURN_STEPS, n)
        print(f"{name}: {len(rows)} rows, {time.perf_counter() - start:.0f} s", flush=True)
        write(args, rows, floors, n, start)  # after every problem: a stopped run keeps its tables


def write(args, rows, floors, n: int, start: float) -> None:
    for r in rows:
        r["n"] = n
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True)
    command = "python -m benchmarks.sampler_laws" + (" --tiny" if args.tiny else "")
    if not args.tiny and args.problems != list(MIXTURES):
        command += " --problems " + " ".join(args.problems)
    text = report(rows, floors, command, rev.stdout.strip(), time.perf_counter() - start)
    out = pathlib.Path(args.out)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps({"floors": floors, "rows": rows}) + "\n")
    print(text)


if __name__ == "__main__":
    main()
