"""Samplers: one entry point, every method a small frozen record, one jitted lax.scan per run.

>>> out = sample(denoiser, prior_sample(key, shape, denoiser.schedule),
...              time_grid(denoiser.schedule, 20, KarrasGrid()), DPMSolverPP(order=2))
"""

from diffjax.samplers._adaptive import Adaptive, AdaptiveSolver
from diffjax.samplers._ancestral import DDIM, DDPM, EulerAncestral
from diffjax.samplers._base import LoopState, Sampler, StepContext, pf_velocity
from diffjax.samplers._core import SampleOutput, prior_sample, sample
from diffjax.samplers._dpm_solver import (
    DPMSolver,
    DPMSolverPP,
    DPMSolverPP2S,
    DPMSolverPP2SAncestral,
    DPMSolverPPSDE,
    ThirdOrderTerm,
)
from diffjax.samplers._grids import (
    DDPMTimestepGrid,
    Grid,
    KarrasGrid,
    LogSNRGrid,
    QuadraticGrid,
    RecommendedGrid,
    Spacing,
    UniformGrid,
    explicit_grid,
    recommended_grid,
    time_grid,
)
from diffjax.samplers._guidance import (
    AdaptiveProjectedGuidance,
    CFGPlusPlus,
    ClassifierFreeGuidance,
    ClassifierGuidance,
    ClipX0,
    DynamicThresholding,
    pair_consistent,
    pairing_ok,
)
from diffjax.samplers._likelihood import (
    Divergence,
    ExactDivergence,
    Hutchinson,
    Probe,
    bits_per_dim_dequantized,
    log_likelihood,
)
from diffjax.samplers._linear_multistep import DEIS, IPNDM, LMS
from diffjax.samplers._ode import RK4, Euler, Heun, Midpoint
from diffjax.samplers._peer_grids import (
    KDiffusionGrid,
    KDiffusionSpacing,
    k_diffusion_sigmas,
    times_from_alphas_cumprod,
    times_from_sigmas,
)
from diffjax.samplers._restart import Restart
from diffjax.samplers._sde import EulerMaruyama, PredictorCorrector, ScoreFlowSDE
from diffjax.samplers._unipc import UniPC

__all__ = [
    "DDIM",
    "DDPM",
    "RK4",
    "Restart",
    "Adaptive",
    "AdaptiveProjectedGuidance",
    "AdaptiveSolver",
    "CFGPlusPlus",
    "ClassifierFreeGuidance",
    "ClassifierGuidance",
    "ClipX0",
    "Divergence",
    "DynamicThresholding",
    "ExactDivergence",
    "pair_consistent",
    "pairing_ok",
    "Hutchinson",
    "Probe",
    "bits_per_dim_dequantized",
    "log_likelihood",
    "DDPMTimestepGrid",
    "DEIS",
    "DPMSolver",
    "DPMSolverPP",
    "DPMSolverPP2S",
    "DPMSolverPP2SAncestral",
    "IPNDM",
    "LMS",
    "DPMSolverPPSDE",
    "Euler",
    "EulerAncestral",
    "EulerMaruyama",
    "Grid",
    "Heun",
    "KDiffusionGrid",
    "KDiffusionSpacing",
    "KarrasGrid",
    "LogSNRGrid",
    "LoopState",
    "Midpoint",
    "PredictorCorrector",
    "QuadraticGrid",
    "RecommendedGrid",
    "SampleOutput",
    "ScoreFlowSDE",
    "Sampler",
    "Spacing",
    "StepContext",
    "ThirdOrderTerm",
    "UniPC",
    "UniformGrid",
    "explicit_grid",
    "k_diffusion_sigmas",
    "times_from_alphas_cumprod",
    "times_from_sigmas",
    "pf_velocity",
    "recommended_grid",
    "prior_sample",
    "sample",
    "time_grid",
]
