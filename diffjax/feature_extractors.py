"""Feature spaces for Frechet distances: Inception-v3 (FID) and a digits classifier.

FID (Heusel et al. 2017) is the Frechet distance between Gaussians fitted to Inception-v3 pool
features. diffjax never downloads weights: `load_inception_fid(path)` reads a local copy of
pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (the TF FID graph's weights) and says where to
get it when the path is missing. On an offline machine, image metrics that run anywhere use the
penultimate layer of a small CNN trained here on sklearn digits (`digits_classifier`): the same
Frechet formula, in a feature space that knows digits.
"""

from __future__ import annotations

import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import serialization

from diffjax.data.images import load_digits
from diffjax.metrics import frechet_distance
from diffjax.networks.inception import (
    FID_WEIGHTS_URL,
    InceptionV3FID,
    variables_from_torch_state_dict,
)

FEATURE_DIM = 64


class DigitsClassifier(nn.Module):
    """CNN on (N, 8, 8, 1) images in [-1, 1] -> (logits (N, 10), features (N, FEATURE_DIM))."""

    @nn.compact
    def __call__(self, x):
        h = nn.gelu(nn.Conv(32, (3, 3))(x))
        h = nn.gelu(nn.Conv(64, (3, 3), strides=(2, 2))(h))
        h = h.reshape(h.shape[0], -1)
        features = nn.Dense(FEATURE_DIM)(h)
        return nn.Dense(10)(nn.gelu(features)), features


def train_digits_classifier(seed: int = 0, steps: int = 1500, batch_size: int = 128):
    """Adam 1e-3 on the digits training split with +-1 pixel shifts; returns (params, accuracy on
    the held-out split). Deterministic for a given seed (about 10 s on a CPU), also under
    jax_enable_x64: it always trains in 32-bit mode, whose random streams differ from x64's."""
    with jax.enable_x64(False):
        return _train_digits_classifier(seed, steps, batch_size)


def _train_digits_classifier(seed: int, steps: int, batch_size: int):
    train, test = load_digits("train"), load_digits("test")
    model = DigitsClassifier()
    key = jax.random.PRNGKey(seed)
    params = model.init(key, jnp.zeros((1, 8, 8, 1), jnp.float32))
    opt = optax.adam(1e-3)
    # padded by one pixel (value -1, the background) so shifts are dynamic slices
    padded = jnp.pad(
        jnp.asarray(train.images), ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-1
    )
    labels = jnp.asarray(train.labels)

    def loss_fn(p, x, y):
        logits, _ = model.apply(p, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(p, s, k):
        k_idx, k_shift = jax.random.split(k)
        idx = jax.random.randint(k_idx, (batch_size,), 0, padded.shape[0])
        offset = jax.random.randint(k_shift, (2,), 0, 3)  # shift by -1, 0 or +1 pixel
        x = jax.lax.dynamic_slice(padded[idx], (0, offset[0], offset[1], 0), (batch_size, 8, 8, 1))
        g = jax.grad(loss_fn)(p, x, labels[idx])
        with jax.numpy_dtype_promotion("standard"):
            u, s = opt.update(g, s, p)
        return optax.apply_updates(p, u), s

    # a Python loop of jitted steps: on XLA:CPU the same step inside lax.scan, with the
    # parameters in the carry, ran 13x slower (conv gradients; jax 0.10.2)
    opt_state = opt.init(params)
    for k in jax.random.split(jax.random.fold_in(key, 1), steps):
        params, opt_state = step(params, opt_state, k)
    logits, _ = model.apply(params, jnp.asarray(test.images))
    accuracy = float(np.mean(np.asarray(jnp.argmax(logits, -1)) == np.asarray(test.labels)))
    return params, accuracy


def digits_classifier(cache_dir: str | None = None, seed: int = 0):
    """(params, accuracy), trained once and cached in cache_dir (default $DIFFJAX_CACHE_DIR, else
    ~/.cache/diffjax)."""
    cache_dir = cache_dir or os.environ.get(
        "DIFFJAX_CACHE_DIR", os.path.join(os.path.expanduser("~"), ".cache", "diffjax")
    )
    path = os.path.join(cache_dir, f"digits_classifier_seed{seed}.msgpack")
    template = DigitsClassifier().init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 1), jnp.float32))
    if os.path.exists(path):
        with open(path, "rb") as f:
            stored = serialization.msgpack_restore(f.read())
        return serialization.from_state_dict(template, stored["params"]), float(stored["accuracy"])
    params, accuracy = train_digits_classifier(seed)
    os.makedirs(cache_dir, exist_ok=True)
    blob = {"params": serialization.to_state_dict(params), "accuracy": accuracy}
    with open(path + ".tmp", "wb") as f:
        f.write(serialization.msgpack_serialize(jax.device_get(blob)))
    os.replace(path + ".tmp", path)  # atomic: concurrent runs never read half a file
    return params, accuracy


@jax.jit
def _digits_apply(params, images):
    return DigitsClassifier().apply(params, images)


def digits_features(params, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Penultimate-layer features (N, FEATURE_DIM) of images (N, 8, 8, 1) in [-1, 1]."""
    images = np.asarray(images, np.float32)
    if images.shape[1:] != (8, 8, 1):
        raise ValueError(f"images must have shape (N, 8, 8, 1); got {images.shape}.")
    out = [
        np.asarray(_digits_apply(params, images[i : i + batch_size])[1], np.float64)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out)


def digits_predictions(params, images: np.ndarray) -> np.ndarray:
    """Predicted class of each image (N,)."""
    logits, _ = _digits_apply(params, jnp.asarray(images, jnp.float32))
    return np.asarray(jnp.argmax(logits, -1))


def digits_frechet_distance(params, images_a: np.ndarray, images_b: np.ndarray) -> float:
    """Frechet distance between two image sets in the digits classifier's feature space."""
    return frechet_distance(digits_features(params, images_a), digits_features(params, images_b))


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
