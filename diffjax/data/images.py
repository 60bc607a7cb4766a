"""Image data on the host: sklearn digits, a user's .npz, TFDS datasets; batches through grain.

Every source yields records {"image": float32 (H, W, C) in [-1, 1], "label": int32}. Sources are
random-access (TFDS via `tfds.data_source`, no TensorFlow needed), so `batches(...)` can return
the batch of any step directly: a resumed run reads exactly the batches the uninterrupted run
would have read, and with several hosts each one reads only its own rows of the global batch.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from diffjax._checks import check_choice


class TfdsImageDataset(NamedTuple):
    """How a TFDS image dataset becomes records: its TFDS name, the image/label features, the
    number of levels per pixel, and the preprocessing used by the papers."""

    tfds_name: str
    label_key: str | None
    center_crop: int | None  # side of a central square crop before resizing
    size: int | None  # resize (antialiased) to size x size
    num_classes: int


# Preprocessing conventions: DDPM/score_sde use CIFAR-10 at 32x32 as is; CelebA is centre-cropped
# to 140 and resized to 64 (DDIM, NCSN++'s celeba-64); MNIST-like sets stay at 28x28.
TFDS_IMAGE_DATASETS = {
    "mnist": TfdsImageDataset("mnist", "label", None, None, 10),
    "fashion_mnist": TfdsImageDataset("fashion_mnist", "label", None, None, 10),
    "cifar10": TfdsImageDataset("cifar10", "label", None, None, 10),
    "celeb_a": TfdsImageDataset("celeb_a", None, 140, 64, 0),
}


DIGITS_LEVELS = 17  # sklearn digits' pixel values 0..16


def to_unit_range(images: np.ndarray, num_levels: int = 256) -> np.ndarray:
    """Integer levels 0..num_levels-1 -> float32 in [-1, 1]: x = 2 v / (num_levels - 1) - 1."""
    return (np.asarray(images, np.float32) * (2.0 / (num_levels - 1)) - 1.0).astype(np.float32)


class ArrayImages(Sequence):
    """Random-access records over in-memory arrays (N, H, W, C) float32 in [-1, 1] and labels."""

    def __init__(self, images: np.ndarray, labels: np.ndarray | None = None, num_levels: int = 256):
        images = np.asarray(images)
        if images.ndim != 4:
            raise ValueError(f"images must have shape (N, H, W, C); got {images.shape}.")
        if labels is not None and len(labels) != len(images):
            raise ValueError(f"labels has {len(labels)} entries for {len(images)} images.")
        self.images = images
        self.labels = np.zeros(len(images), np.int32) if labels is None else np.asarray(labels)
        self.num_levels = num_levels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return {"image": self.images[i], "label": np.int32(self.labels[i])}


def load_digits(split: str = "train", *, test_size: int = 297, seed: int = 0) -> ArrayImages:
    """sklearn digits (1797 images 8x8, levels 0..16, 10 classes) scaled to [-1, 1], (N, 8, 8, 1).

    The split is a fixed seeded permutation: `test_size` held-out images, the rest for training.
    Pixels have 17 levels, so bits/dim use num_levels = 17 (`ArrayImages.num_levels`).
    """
    check_choice("split", split, ("train", "test", "all"))
    from sklearn.datasets import load_digits as sk_digits

    d = sk_digits()
    order = np.random.default_rng(seed).permutation(len(d.images))
    idx = {"test": order[:test_size], "train": order[test_size:], "all": order}[split]
    images = to_unit_range(d.images[idx, :, :, None], DIGITS_LEVELS)
    return ArrayImages(images, d.target[idx].astype(np.int32), num_levels=DIGITS_LEVELS)


def load_npz(
    path: str, *, images_key: str = "images", labels_key: str | None = "labels"
) -> ArrayImages:
    """A user's images from an .npz: uint8 (N, H, W[, C]) in 0..255, or float in [-1, 1]."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"path={path!r}: no such .npz file.")
    with np.load(path) as f:
        if images_key not in f:
            raise KeyError(
                f"images_key={images_key!r} is not in {path}; it holds {list(f.keys())}."
            )
        images = f[images_key]
        labels = f[labels_key] if labels_key and labels_key in f else None
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype == np.uint8:
        images = to_unit_range(images)
    elif np.issubdtype(images.dtype, np.floating):
        if images.size and (images.min() < -1.0 or images.max() > 1.0):
            raise ValueError(
                f"float images in {path} must lie in [-1, 1]; got [{images.min()}, {images.max()}]."
            )
        images = images.astype(np.float32)
    else:
        raise ValueError(f"images in {path} must be uint8 or float; got {images.dtype}.")
    return ArrayImages(images, labels)


class TfdsImages(Sequence):
    """Random-access records of a TFDS image dataset via `tfds.data_source` (no TensorFlow)."""

    def __init__(self, name: str, split: str = "train", data_dir: str | None = None):
        check_choice("dataset", name, TFDS_IMAGE_DATASETS)
        import tensorflow_datasets as tfds

        self.spec = TFDS_IMAGE_DATASETS[name]
        self.source = tfds.data_source(self.spec.tfds_name, split=split, data_dir=data_dir)
        self.num_levels = 256

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i):
        ex = self.source[i]
        image = preprocess(np.asarray(ex["image"]), self.spec.center_crop, self.spec.size)
        label = np.int32(ex[self.spec.label_key]) if self.spec.label_key else np.int32(0)
        return {"image": image, "label": label}


def preprocess(image: np.ndarray, center_crop: int | None, size: int | None) -> np.ndarray:
    """uint8 (H, W, C) -> optional central crop, antialiased resize, float32 in [-1, 1]."""
    if center_crop:
        h, w = image.shape[:2]
        top, left = (h - center_crop) // 2, (w - center_crop) // 2
        image = image[top : top + center_crop, left : left + center_crop]
    if size and image.shape[0] != size:
        from PIL import Image

        squeeze = image.shape[-1] == 1
        pil = Image.fromarray(image[..., 0] if squeeze else image)
        image = np.asarray(pil.resize((size, size), Image.Resampling.BICUBIC, reducing_gap=None))
        image = image[..., None] if squeeze else image
    return to_unit_range(image)


def image_source(name: str, split: str = "train", *, data_dir: str | None = None) -> Sequence:
    """'digits', 'npz:<path>', or a TFDS name in TFDS_IMAGE_DATASETS."""
    if name == "digits":
        return load_digits(split)
    if name.startswith("npz:"):
        return load_npz(name[4:])
    if name not in TFDS_IMAGE_DATASETS:
        raise ValueError(
            f"dataset={name!r} is not one of 'digits', 'npz:<path>', "
            f"{', '.join(map(repr, TFDS_IMAGE_DATASETS))}."
        )
    return TfdsImages(name, split, data_dir)


def batches(
    source: Sequence,
    global_batch_size: int,
    num_steps: int,
    *,
    seed: int,
    transform: Callable[[dict], dict] | None = None,
    process_index: int | None = None,
    process_count: int | None = None,
):
    """A grain MapDataset whose element s is this host's rows of the global batch of step s.

    The global batch of step s holds records shuffled[s B + j], j < B, where `shuffled` is grain's
    seeded per-epoch shuffle of `source`; host p of n reads rows p B/n .. (p + 1) B/n - 1. So the
    global batch does not depend on the number of hosts, and `batches(...)[s:]` resumes at step s.
    Iterate with `.to_iter_dataset(grain.ReadOptions(...))` for background prefetching.
    """
    import grain
    import jax

    p = jax.process_index() if process_index is None else process_index
    n = jax.process_count() if process_count is None else process_count
    if global_batch_size % n:
        raise ValueError(
            f"global_batch_size={global_batch_size} must be divisible by the number of hosts ({n})."
        )
    if len(source) == 0:
        raise ValueError("source is empty.")
    local = global_batch_size // n
    shuffled = grain.MapDataset.source(source).shuffle(seed=seed)

    def record(j):
        s, k = divmod(j, local)
        return shuffled[s * global_batch_size + p * local + k]

    ds = grain.MapDataset.range(num_steps * local).map(record)
    if transform is not None:
        ds = ds.map(transform)
    return ds.batch(local, drop_remainder=True)
