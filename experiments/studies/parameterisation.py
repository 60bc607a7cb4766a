"""Which prediction target, process and weighting? A full factorial on Gaussian mixtures, where the
denoiser, density and probability-flow map are exact (issue 12, part 1).

    python -m experiments.study --study experiments/studies/parameterisation.py --workdir runs/param
    ... --share 0/2 and --share 1/2 (two processes)   ... --variant study,tiny (seconds: the test)
    ... --summarise_only --baselines --docs docs/parameterisation.md (the committed tables)

5 parameterisations x 4 processes x 7 weightings x 2 mixtures (ring8 in 2-D, random4_8d in 8-D) x
2 seeds = 560 runs of configs/gmm.py:study (MLP 3 x 128, Adam 1e-3, EMA 0.999, 3000 steps at batch 256,
DPM-Solver++(2M) on a log-SNR grid). Every cell sees the same network, optimizer, steps, seeds,
noise conditioning (t) and evaluation; only the three factors change.
"""

import math

import numpy as np

from experiments.studies.parameterisation_report import report
from experiments.study import Axis, Study

SIGMA_DATA = 1.4  # per-coordinate std of both mixtures (1.45 for ring8, 1.32 for random4_8d)
# EDM's log-normal sigma recipe (P_mean -1.2, P_std 1.2 at sigma_data 0.5), moved with sigma_data
P_MEAN = round(-1.2 + math.log(SIGMA_DATA / 0.5), 2)

PARAMETERISATIONS = {
    "eps": {"objective.parameterisation": "eps"},
    "x0": {"objective.parameterisation": "x0"},
    "v": {"objective.parameterisation": "v"},
    "velocity": {"objective.parameterisation": "velocity"},
    "edm": {"objective.parameterisation": f"edm(sigma_data={SIGMA_DATA})"},
}
PROCESSES = {
    "vp": {"process.schedule": "vp"},  # DDPM's linear beta, continuous time (Song et al. 2021)
    "cosine": {"process.schedule": "cosine"},
    "edm": {"process.schedule": "edm"},
    "rf": {"process.schedule": "rectified_flow"},
}


def _w(weighting: str, time_sampling: str = "uniform") -> dict:
    return {"objective.weighting": weighting, "objective.time_sampling": time_sampling}


WEIGHTINGS = {
    "simple": _w("output"),  # unit MSE on whatever the network predicts (each paper's L_simple)
    "snr": _w("snr"),  # w_x0 = SNR: the eps MSE whatever the target (Ho et al.'s L_simple)
    "min_snr5": _w("min_snr(gamma=5.0)"),  # Hang et al. 2023
    "sigmoid": _w("sigmoid(bias=2.0)"),  # Kingma & Gao 2023
    "edm": _w(f"edm(sigma_data={SIGMA_DATA})", f"edm_lognormal(p_mean={P_MEAN}, p_std=1.2)"),
    "logit_normal": _w("velocity", "logit_normal(mean=0.0, std=1.0)"),  # SD3 (Esser et al. 2024)
    "elbo": _w("elbo"),  # Kingma et al. 2021: w(lambda) = 1
}
DATA = {"2d": {"data.name": "gmm:ring8"}, "8d": {"data.name": "gmm:random4_8d"}}
METRICS = (
    "kl",
    "denoiser_error",
    "w2_nfe10",
    "w2_nfe50",
    "sampler_error_nfe10",
    "sampler_error_nfe50",
)


def _data_key(config) -> str:
    return f"{config.data.name}/seed{config.seed}/{config.data.num_test}"


def _gaussian_fit(config):
    """The moment-matched Gaussian of the training points: the model every cell must beat."""
    from experiments.datasets import load

    data = load(config)
    mean, cov = data.train.mean(0), np.cov(data.train, rowvar=False)
    return data, mean, cov


def gaussian_kl(config) -> float:
    """KL(p || N(mean, cov)) = E_p[log p - log q] on the test points (exact mixture log p)."""
    from scipy.special import logsumexp
    from scipy.stats import multivariate_normal as mvn

    data, mean, cov = _gaussian_fit(config)
    x, g = np.asarray(data.test, np.float64), data.gmm
    log_pk = [
        math.log(float(w)) + mvn(np.asarray(m), np.asarray(c)).logpdf(x)
        for w, m, c in zip(g.weights, g.means, g.covs, strict=True)
    ]
    return float(np.mean(logsumexp(np.stack(log_pk), axis=0) - mvn(mean, cov).logpdf(x)))


def gaussian_w2(config) -> float:
    """W2 of as many draws of the fitted Gaussian as test points to the test points."""
    from diffjax.metrics import wasserstein2

    data, mean, cov = _gaussian_fit(config)
    draws = np.random.default_rng(config.seed + 7).multivariate_normal(mean, cov, len(data.test))
    return wasserstein2(draws, data.test)


def two_sample_w2(config) -> float:
    """W2 between the test points and an independent draw of the mixture: a perfect model."""
    import jax

    from diffjax import analytic
    from diffjax.metrics import wasserstein2
    from experiments.datasets import load

    data = load(config)
    fresh, _ = analytic.sample(data.gmm, jax.random.PRNGKey(config.seed * 10 + 9), len(data.test))
    return wasserstein2(np.asarray(fresh, np.float64), data.test)


NOTES = f"""
Factors. Parameterisations: eps, x0, v (Salimans & Ho), velocity (dx_t/dt, flow matching), EDM's
F (sigma_data {SIGMA_DATA}). Processes: vp (linear beta 0.1..20, continuous), cosine, edm (alpha 1,
sigma 0.002..80, rho 7), rf (alpha 1 - t, sigma t). Weightings (w_x0: weight on ||x0_hat - x0||^2;
t uniform unless named): simple = unit MSE in the network's own output space (w_x0 = c(t)^2: SNR
for eps, 1 for x0, SNR+1 for v on VP, EDM's lambda for F, the velocity weight for velocity),
snr = SNR (the eps MSE), min_snr5 = min(SNR, 5), sigmoid = ELBO weight x sigmoid(2 - lambda), edm =
EDM's lambda(sigma) with ln sigma ~ N({P_MEAN}, 1.2^2) (EDM's -1.2 moved by ln(sigma_data/0.5)),
logit_normal = unit velocity MSE with t ~ logit-normal(0, 1) (SD3), elbo = the continuous ELBO.
Metrics (mean +- std over seeds 0, 1): kl = E_p[log p - log q] with q by the probability-flow ODE
(128 test points, exact divergence, rtol 1e-6) and p the exact mixture density; denoiser_error =
E||x0_hat - E[x0|x_t]||^2/d averaged over 9 log-SNR levels from +8 to -8 (clipped to the process's
range); w2_nfe<N> = W2 of 1000 samples at N network evaluations to 1000 exact test draws;
sampler_error_nfe<N> = RMS distance to the exact denoiser's samples through the same solver and
noise. References per row: the moment-matched Gaussian (its KL and W2: a model every cell must
beat), the two-sample W2 floor (a perfect model's W2) and, per NFE, the exact denoiser through the
same solver (w2_exact_nfe<N> in rows.json).
"""


def get_study() -> Study:
    return Study(
        name="Parameterisation x process x weighting on Gaussian mixtures",
        config="configs/gmm.py:study",
        axes=(
            Axis("data", DATA),
            Axis("process", PROCESSES),
            Axis("parameterisation", PARAMETERISATIONS),
            Axis("weighting", WEIGHTINGS),  # innermost: a cell's jobs reuse the eval compiles
        ),
        seeds=(0, 1),
        metrics=METRICS,
        baselines={
            "Gaussian KL": (_data_key, gaussian_kl),
            "Gaussian W2": (_data_key, gaussian_w2),
            "two-sample W2": (_data_key, two_sample_w2),
        },
        notes=NOTES,
        report=report,
    )
