"""Metrics: exact W2, path energy, MMD, straightness, Frechet distances (from features or stored
statistics), Inception FID from a local weights file, and the in-project digits feature space.

Every metric refuses non-finite samples instead of scoring them.
"""

from diffjax.metrics._digits import (
    digits_class_probabilities,
    digits_classifier,
    digits_features,
    digits_frechet_distance,
    digits_inception_score,
    digits_predictions,
    train_digits_classifier,
)
from diffjax.metrics._distances import (
    feature_statistics,
    finite,
    frechet_distance,
    frechet_distance_from_statistics,
    mmd,
    normalised_path_energy,
    path_energy,
    straightness,
    wasserstein2,
)
from diffjax.metrics._fid import (
    inception_features,
    inception_fid,
    load_inception_fid,
    save_inception_npz,
)

__all__ = [
    "digits_class_probabilities",
    "digits_classifier",
    "digits_features",
    "digits_frechet_distance",
    "digits_inception_score",
    "digits_predictions",
    "feature_statistics",
    "finite",
    "frechet_distance",
    "frechet_distance_from_statistics",
    "inception_features",
    "inception_fid",
    "load_inception_fid",
    "mmd",
    "normalised_path_energy",
    "path_energy",
    "save_inception_npz",
    "straightness",
    "train_digits_classifier",
    "wasserstein2",
]
