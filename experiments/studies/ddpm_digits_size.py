"""The digits DDPM's model size and training length, chosen by measurement (issue 12, part 4).

    python -m experiments.study --study experiments/studies/ddpm_digits_size.py --workdir runs/ddpm_size
    ... --share 0/2 and --share 1/2 (two processes)   ... --variant tiny (seconds)
    ... --summarise_only --baselines --docs docs/ddpm_digits_size.md (the committed table)

configs/ddpm_digits.py (Ho et al.'s recipe at digits scale) at UNet widths ch 32 / 48 / 64 (the
recipe's 0.70M parameters, 1.6M, 2.8M), each trained once per seed for 6000 steps with the
checkpoints at 2000 and 4000 kept: the `steps` axis scores those (eval.checkpoint_step), so one
training gives the whole learning curve. Each checkpoint is sampled by the best sampler of
docs/ddpm_digits.md (DDPM's ancestral steps with sigma_t^2 = beta_t on 50 trailing steps) and by
DDIM (eta = 0, 50 steps), whose deterministic samples show the network without injected noise.
Held-out bound (bits/dim, 1000 steps) at each checkpoint. Speed on the 2-core CPU: ch 32 ~2.5
steps/s, ch 64 ~0.9 steps/s (both cores).
"""

from experiments.studies.ddpm_digits import BASELINES
from experiments.study import Axis, Study

STEPS = {None: (2000, 4000, 6000), "tiny": (10, 20)}  # the kept checkpoints, per config variant

NOTES = """
Goals (issue 12, part 4): Frechet distance within 1.3x the train-vs-held-out floor; the bound below
the mixture-of-categoricals baseline. FD: 1000 samples against the 297 held-out digits in the
in-project digits classifier's features (floor: the first 1000 training digits; "20 subsets":
mean and std over random 1000-subsets of the 1500). bits_per_dim: the full DDPM bound (1000 steps,
sigma_t^2 = beta_t, discretised decoder over the 17 levels) on the 297 held-out digits.
"""


def _steps(steps: tuple) -> dict:
    levels = {str(steps[-1]): {}}  # the training run's own evaluation, at its last step
    for step in steps[:-1]:
        levels[str(step)] = {"eval.checkpoint_step": step}
    return levels


SAMPLERS = {
    "sigma-hat": {},  # the study's sampler (overrides below)
    "ddim eta=0": {"sample.sampler": "ddim(eta=0.0)", "eval.metrics": ("fd",)},
}


def report(study, rows, records, directory, prefix) -> str:
    """The learning curve: FD per (size, sampler) and the bound per size, over training steps."""
    from experiments.tables import mean_std

    def cell(size, step, sampler, metric):
        rec = next(
            (r for r in records if r["cell"] == {"size": size, "steps": step, "sampler": sampler}),
            None,
        )
        return mean_std(rec["values"][metric]) if rec and metric in rec["values"] else "-"

    steps = sorted(study.axes[1].values, key=int)
    lines = [
        "## Learning curves (mean +- std over seeds)",
        "",
        "| size | what | " + " | ".join(f"step {s}" for s in steps) + " |",
        "|---|---|" + "---|" * len(steps),
    ]
    for size in study.axes[0].values:
        for sampler in study.axes[2].values:
            cells = [cell(size, s, sampler, "fd") for s in steps]
            lines.append(f"| {size} | FD, {sampler} | " + " | ".join(cells) + " |")
        bound = [cell(size, s, "sigma-hat", "bits_per_dim") for s in steps]
        lines.append(f"| {size} | bound bits/dim | " + " | ".join(bound) + " |")
    return "\n".join(lines) + "\n\n"


def get_study(variant: str | None = None) -> Study:
    steps = STEPS[variant]
    return Study(
        name="DDPM on digits: model size and training length",
        config="configs/ddpm_digits.py",
        axes=(
            Axis(
                "size",
                {
                    "ch 32 (0.70M)": {"network.unet.ch": 32},
                    "ch 48 (1.6M)": {"network.unet.ch": 48},
                    "ch 64 (2.8M)": {"network.unet.ch": 64},
                },
            ),
            Axis("steps", _steps(steps), eval_only=True),
            Axis("sampler", SAMPLERS, eval_only=True),
        ),
        seeds=(0, 1),
        metrics=("fd", "bits_per_dim"),
        overrides={
            "train.num_steps": steps[-1],
            "train.keep_checkpoints_every": steps[0],
            "train.sample_every": 0,
            "sample.sampler": "ddpm(variance='beta')",
            "sample.num_steps": 50 if variant is None else 10,
        },
        baselines=BASELINES,
        notes=NOTES,
        report=report,
    )
