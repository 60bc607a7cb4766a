"""Data: 2-D benchmark distributions and image datasets (host-side numpy, batched by grain)."""

from diffjax.data.images import (
    TFDS_IMAGE_DATASETS,
    ArrayImages,
    TfdsImages,
    batches,
    image_source,
    load_digits,
    load_npz,
)
from diffjax.data.toy2d import DATASETS, TASKS, sample_2d

__all__ = [
    "DATASETS",
    "TASKS",
    "TFDS_IMAGE_DATASETS",
    "ArrayImages",
    "TfdsImages",
    "batches",
    "image_source",
    "load_digits",
    "load_npz",
    "sample_2d",
]
