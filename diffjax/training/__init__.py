"""Training: train state, optimizer, a jitted data-parallel train step."""

from diffjax.training.state import TrainState, ema_decay, init_train_state, make_optimizer
from diffjax.training.step import data_mesh, make_train_step

__all__ = [
    "TrainState",
    "data_mesh",
    "ema_decay",
    "init_train_state",
    "make_optimizer",
    "make_train_step",
]
