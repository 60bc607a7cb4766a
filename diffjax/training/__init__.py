"""Training: train state, optimizer, a jitted data-parallel train step, checkpoints, the loop."""

from diffjax.training.checkpoint import Checkpointer
from diffjax.training.loop import Hook, TrainingDiverged, train
from diffjax.training.metric_writer import MetricWriter, read_metrics
from diffjax.training.state import TrainState, ema_decay, init_train_state, make_optimizer
from diffjax.training.step import data_mesh, make_train_step

__all__ = [
    "Checkpointer",
    "Hook",
    "MetricWriter",
    "TrainState",
    "TrainingDiverged",
    "data_mesh",
    "ema_decay",
    "init_train_state",
    "make_optimizer",
    "make_train_step",
    "read_metrics",
    "train",
]
