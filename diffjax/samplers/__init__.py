"""Samplers: one entry point, every method a small step function, one jitted lax.scan per run."""

from diffjax.samplers.core import (
    METHODS,
    SAMPLERS,
    SampleOutput,
    method_table,
    prior_sample,
    sample,
)
from diffjax.samplers.grids import GRIDS, explicit_grid, time_grid

__all__ = [
    "GRIDS",
    "METHODS",
    "SAMPLERS",
    "SampleOutput",
    "explicit_grid",
    "method_table",
    "prior_sample",
    "sample",
    "time_grid",
]
