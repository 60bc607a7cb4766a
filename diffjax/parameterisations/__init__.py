"""What a network predicts, and closed-form conversions between every pair of parameterisations.

Each parameterisation is a frozen record owning its conversions to and from (x0, eps), its error
scale c(t) (pred_error = c x0_error at fixed x_t) and the network input (EDM scales it).
"""

from diffjax.parameterisations._base import (
    Parameterisation,
    broadcast_record,
    broadcast_to_data,
    convert,
)
from diffjax.parameterisations._edm import EDMCoefficients, EDMPreconditioned, edm_coefficients
from diffjax.parameterisations._mean import MeanPrediction
from diffjax.parameterisations._targets import (
    EpsPrediction,
    ScorePrediction,
    VelocityPrediction,
    VPrediction,
    X0Prediction,
)

__all__ = [
    "EDMCoefficients",
    "EDMPreconditioned",
    "EpsPrediction",
    "MeanPrediction",
    "Parameterisation",
    "ScorePrediction",
    "VPrediction",
    "VelocityPrediction",
    "X0Prediction",
    "broadcast_record",
    "broadcast_to_data",
    "convert",
    "edm_coefficients",
]
