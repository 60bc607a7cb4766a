"""The model object: a network becomes a Denoiser once; its noise input; Flax modules as networks."""

from diffjax.models._conditioning import (
    DDPMIndexInput,
    EDMNoiseInput,
    LogSNRInput,
    NoiseConditioning,
    TimeInput,
)
from diffjax.models._denoiser import Denoiser, Network, Prediction
from diffjax.models._network import FlaxNetwork
from diffjax.models._score_flow import ScoreFlow

__all__ = [
    "DDPMIndexInput",
    "Denoiser",
    "EDMNoiseInput",
    "FlaxNetwork",
    "LogSNRInput",
    "Network",
    "NoiseConditioning",
    "Prediction",
    "ScoreFlow",
    "TimeInput",
]
