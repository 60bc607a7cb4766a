"""Data: 2-D benchmark distributions (host-side numpy)."""

from diffjax.data.toy2d import DATASETS, TASKS, sample_2d

__all__ = ["DATASETS", "TASKS", "sample_2d"]
