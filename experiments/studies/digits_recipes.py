"""Each paper's recipe side by side on sklearn digits, at one training budget (issue 12, part 2).

    python -m experiments.study --study experiments/studies/digits_recipes.py --workdir runs/recipes
    ... --share 0/2 and --share 1/2 (two processes)   ... --variant tiny (seconds, the test)
    ... --only recipe=<label>,<label> (a subset; labels hold no commas)    ... --summarise_only --baselines --docs docs/digits_recipes.md

Every cell trains the same 0.70M-parameter UNet (configs/ddpm_digits.py) with the same optimizer
(Adam 5e-4, warm-up 200, clip 1, EMA 0.999 with warm-up), batch 128 and BUDGET steps, and differs
only in what each paper changes: the process, the network's target and input, the loss weighting
and its time sampling, and the sampler:
- DDPM (Ho et al. 2020): eps, linear betas over T = 1000, L_simple, the timestep index; ancestral
  sampling over the 1000 steps with sigma_t^2 = beta_t;
- v + cosine (Salimans & Ho 2022): v, the cosine schedule in continuous time, the unit v-MSE
  (w_x0 = SNR + 1), 999 t; DDIM with 100 steps;
- EDM (Karras et al. 2022): the preconditioned F (sigma_data 0.5), sigma in [0.002, 80], EDM's
  lambda with log-normal sigma (P_mean -1.2, P_std 1.2), c_noise = ln(sigma) / 4; Heun on the
  rho = 7 grid, 18 steps (35 NFE);
- rectified flow (Esser et al. 2024, SD3): the velocity, alpha = 1 - t, sigma = t, the unit
  velocity MSE with logit-normal(0, 1) t, 999 t; Euler with 50 steps.
Then a weighting sweep on v + cosine (the same objective reweighted over log-SNR, Kingma & Gao
2023): the eps-MSE (w_x0 = SNR), min-SNR-5 (Hang et al. 2023) and sigmoid(2 - lambda).
Each trained model is scored by its own sampler and by one shared one (iPNDM, 50 NFE, the grid
measured best per schedule) so that the training recipe is compared apart from its sampler.
Metrics: Frechet distance (1000 samples against the 297 held-out digits in the digits classifier's
features), the probability-flow bits/dim on the first PF_EXAMPLES held-out digits (uniform
dequantisation, Hutchinson, every model) and the discrete bound (DDPM only).
"""

from experiments.studies.ddpm_digits import BASELINES
from experiments.study import Axis, Study

BUDGET, PF_EXAMPLES = 2000, 64  # configs/ddpm_digits.py:short (a third of its 6000 steps)
OWN = ("fd", "pf_nll")


def _continuous(schedule: str, parameterisation: str, weighting: str, time_sampling: str) -> dict:
    return {
        "process.schedule": schedule,
        "objective.parameterisation": parameterisation,
        "objective.weighting": weighting,
        "objective.time_sampling": time_sampling,
        "objective.noise_conditioning": "scaled_t",
        "sample.clip_x0": None,
    }


def _v_cosine(weighting: str) -> dict:
    return {
        **_continuous("cosine", "v", weighting, "uniform"),
        "sample.sampler": "ddim",
        "sample.grid": "uniform",
        "sample.num_steps": 100,
        "eval.metrics": OWN,
    }


RECIPES = {
    "DDPM: eps + linear + L_simple": {"eval.metrics": ("fd", "bound", "pf_nll")},
    "v + cosine + SNR+1 (Salimans & Ho)": _v_cosine("output"),
    "EDM: F + log-normal sigma + Heun": {
        **_continuous(
            "edm",
            "edm(sigma_data=0.5)",
            "edm(sigma_data=0.5)",
            "edm_lognormal(p_mean=-1.2, p_std=1.2)",
        ),
        "objective.noise_conditioning": "edm",
        "sample.sampler": "heun",
        "sample.grid": "karras(rho=7.0)",
        "sample.num_steps": 18,
        "eval.metrics": OWN,
    },
    "rectified flow + logit-normal (SD3)": {
        **_continuous("rectified_flow", "velocity", "velocity", "logit_normal(mean=0.0, std=1.0)"),
        "sample.sampler": "euler",
        "sample.grid": "uniform",
        "sample.num_steps": 50,
        "eval.metrics": OWN,
    },
    "v + cosine + eps-MSE (w = SNR)": _v_cosine("snr"),
    "v + cosine + min-SNR-5": _v_cosine("min_snr(gamma=5.0)"),
    "v + cosine + sigmoid(2 - lambda)": _v_cosine("sigmoid(bias=2.0)"),
}

SAMPLERS = {
    "own": {},
    "iPNDM 50 (shared)": {
        "sample.sampler": "ipndm",
        "sample.grid": "auto",
        "sample.num_steps": 50,
        "sample.clip_x0": None,
        "eval.metrics": ("fd",),
    },
}

NOTES = f"""
Budget: {BUDGET} optimizer steps of batch 128 per model (one third of configs/ddpm_digits.py's
6000), the same UNet, optimizer and EMA for every recipe. bits_per_dim is DDPM's discrete bound
on the 297 held-out digits; pf_bits_per_dim the probability-flow NLL (dequantised, one Hutchinson
probe) on the first {PF_EXAMPLES} of them, with its standard error in rows.json; the categorical
and mixture baselines are on all 297. FD: 1000 samples against the 297 held-out digits.
"""


def get_study() -> Study:
    return Study(
        name="Each paper's recipe on digits at one budget, and a weighting sweep",
        config="configs/ddpm_digits.py:short",
        axes=(Axis("recipe", RECIPES), Axis("sampler", SAMPLERS, eval_only=True)),
        seeds=(0, 1),
        metrics=("fd", "pf_bits_per_dim", "bits_per_dim"),
        baselines=BASELINES,
        notes=NOTES,
    )
