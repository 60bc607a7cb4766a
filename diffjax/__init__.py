"""diffjax: diffusion models and flow matching in JAX.

Layers import only downward: schedules -> parameterisations -> models (the Denoiser) -> losses /
samplers -> training; `resolve` turns config strings into these objects at the edge.
Time runs in [0, 1] with t = 0 data and t = 1 noise; x_t = alpha(t) x0 + sigma(t) eps.
"""

from diffjax import (
    analytic,
    losses,
    metrics,
    models,
    parameterisations,
    resolve,
    samplers,
    schedules,
)
from diffjax.models import Denoiser, FlaxNetwork

__version__ = "0.1.0"

__all__ = [
    "Denoiser",
    "FlaxNetwork",
    "analytic",
    "losses",
    "metrics",
    "models",
    "parameterisations",
    "resolve",
    "samplers",
    "schedules",
]
