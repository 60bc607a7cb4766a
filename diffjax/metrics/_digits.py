"""The in-project digits classifier: the offline feature space for Frechet distances on digits.

On an offline machine, image metrics that run anywhere use the penultimate layer of a small CNN
trained here on sklearn digits: the same Frechet formula as FID, in a feature space that knows
digits.
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
from diffjax.metrics._distances import frechet_distance

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


def digits_class_probabilities(params, images: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """The classifier's p(y | x), (N, 10), float64."""
    images = np.asarray(images, np.float32)
    out = [
        np.asarray(jax.nn.softmax(_digits_apply(params, images[i : i + batch_size])[0]), np.float64)
        for i in range(0, len(images), batch_size)
    ]
    return np.concatenate(out)


def digits_inception_score(params, images: np.ndarray) -> float:
    """The Inception Score (Salimans et al. 2016) in the digits classifier:
    exp E_x KL(p(y | x) || p(y)); 1 for images all alike, at most 10."""
    p = digits_class_probabilities(params, images)
    marginal = p.mean(0, keepdims=True)
    kl = np.sum(p * (np.log(p + 1e-12) - np.log(marginal + 1e-12)), axis=1)
    return float(np.exp(kl.mean()))


def digits_frechet_distance(params, images_a: np.ndarray, images_b: np.ndarray) -> float:
    """Frechet distance between two image sets in the digits classifier's feature space."""
    return frechet_distance(digits_features(params, images_a), digits_features(params, images_b))
