"""Inception FID (Heusel et al. 2017): the Frechet distance between Gaussians fitted to
Inception-v3 pool features.

diffjax never downloads weights: `load_inception_fid(path)` reads a local copy of pytorch-fid's
`pt_inception-2015-12-05-6726825d.pth` (the TF FID graph's weights) and says where to get it when
the path is missing.
"""

from __future__ import annotations

import os

import jax
import numpy as np

from diffjax.metrics._distances import frechet_distance
from diffjax.networks.inception import (
    FID_WEIGHTS_URL,
    InceptionV3FID,
    variables_from_torch_state_dict,
)


def load_inception_fid(weights_path: str) -> dict:
    """Flax variables of `InceptionV3FID` from a local file: pytorch-fid's
    `pt_inception-2015-12-05-6726825d.pth` (read with torch; either torch serialisation format) or
    an `.npz` of the same state dict (`save_inception_npz`, for machines without torch)."""
    if not weights_path:
        raise ValueError(
            "inception_weights_path is empty: FID needs a local copy of pytorch-fid's Inception "
            f"weights ({FID_WEIGHTS_URL}); diffjax never downloads them."
        )
    if not os.path.exists(weights_path):
        raise FileNotFoundError(
            f"inception_weights_path {weights_path!r} does not exist. diffjax does not download "
            f"weights: fetch {FID_WEIGHTS_URL} on a machine with internet access and pass its "
            "local path (.pth, or the .npz that diffjax.feature_extractors.save_inception_npz "
            "writes from it)."
        )
    if weights_path.endswith(".npz"):
        with np.load(weights_path) as f:
            state_dict = {k: f[k] for k in f.files}
    else:
        try:
            import torch
        except ImportError as e:
            raise ImportError(
                f"reading {weights_path!r} (a torch file) needs torch; install the CPU build "
                "(pip install torch==2.13.0), or convert it once with save_inception_npz where "
                "torch is installed and pass the .npz."
            ) from e
        loaded = torch.load(weights_path, map_location="cpu", weights_only=True)
        state_dict = {k: v.numpy() for k, v in loaded.items()}
    return variables_from_torch_state_dict(state_dict)


def save_inception_npz(pth_path: str, npz_path: str) -> None:
    """Convert pytorch-fid's .pth to an .npz of the same state dict (needs torch, once)."""
    import torch

    loaded = torch.load(pth_path, map_location="cpu", weights_only=True)
    np.savez(npz_path, **{k: v.numpy() for k, v in loaded.items()})


@jax.jit
def _inception_apply(variables, images):
    return InceptionV3FID().apply(variables, images)


def inception_features(variables, images: np.ndarray, batch_size: int = 100) -> np.ndarray:
    """Pool-3 features (N, 2048) of images (N, H, W, 1 or 3) in [-1, 1] (resized to 299 x 299)."""
    images = np.asarray(images, np.float32)
    out = [
        np.asarray(_inception_apply(variables, images[i : i + batch_size]), np.float64)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out)


def inception_fid(variables, images_a: np.ndarray, images_b: np.ndarray) -> float:
    """FID between two image sets in [-1, 1] (use >= 10k images per set for published numbers)."""
    return frechet_distance(
        inception_features(variables, images_a), inception_features(variables, images_b)
    )
