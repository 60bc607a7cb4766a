"""diffjax: diffusion models and flow matching in JAX.

Layers import only downward: schedules -> parameterisations -> denoiser -> losses / samplers.
Time runs in [0, 1] with t = 0 data and t = 1 noise; x_t = alpha(t) x0 + sigma(t) eps.
"""

from diffjax import analytic, couplings, losses, parameterisations, schedules
from diffjax.denoiser import Denoiser
from diffjax.parameterisations import PARAMETERISATIONS, convert, from_x0_eps, to_x0_eps
from diffjax.schedules import get_schedule

__version__ = "0.1.0"

__all__ = [
    "PARAMETERISATIONS",
    "Denoiser",
    "analytic",
    "convert",
    "couplings",
    "from_x0_eps",
    "get_schedule",
    "losses",
    "parameterisations",
    "schedules",
    "to_x0_eps",
]
