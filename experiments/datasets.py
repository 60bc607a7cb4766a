"""The data of the generic experiment, from `config.data.name`, and its resumable batches.

Names (the config edge; nothing inside the library compares them):
- `2d:<task>`: an [SF]2M source -> target task (`diffjax.data.TASKS`), e.g. `2d:gaussian_to_moons`;
  a flow is trained from the task's source, and samples start from its test source.
- `2d:<distribution>`: one 2-D set (`diffjax.data.DATASETS`) as data, Gaussian noise as source.
- `gmm:<name>`: a Gaussian mixture of `MIXTURES` with its exact score, denoiser and density (the
  analytic reference of every error metric); the component index is the class label.
- `digits`, `npz:<path>` or a TFDS name: images in [-1, 1] (`diffjax.data.image_source`).

Every batch stream is a function of (seed, step) only, so a resumed run sees the same batches.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import numpy as np

from diffjax import analytic
from diffjax.data import DATASETS, TASKS, TFDS_IMAGE_DATASETS, batches, image_source, sample_2d


def _ring(num: int = 8, radius: float = 2.0, std: float = 0.3, dim: int = 2):
    angles = 2 * np.pi * np.arange(num) / num
    means = np.zeros((num, dim))
    means[:, 0], means[:, 1] = radius * np.cos(angles), radius * np.sin(angles)
    return analytic.gaussian_mixture(np.ones(num), means, np.full(num, std**2))


def _random_mixture(dim: int, num: int, seed: int = 0):
    """`num` components in `dim` dimensions: means N(0, 1.5^2 I), diagonal std 0.2-0.6, weights
    Dirichlet(2); a fixed draw (the same mixture for every run)."""
    rng = np.random.default_rng(seed)
    means = 1.5 * rng.standard_normal((num, dim))
    stds = rng.uniform(0.2, 0.6, (num, dim))
    return analytic.gaussian_mixture(rng.dirichlet(2.0 * np.ones(num)), means, stds**2)


# gmm:<name> -> the mixture (float64 parameters; data are drawn in float32)
MIXTURES = {
    "ring8": lambda: _ring(),
    "ring8_8d": lambda: _ring(dim=8),
    "random4_8d": lambda: _random_mixture(8, 4),
    "random8_2d": lambda: _random_mixture(2, 8, seed=1),
}


@dataclasses.dataclass(frozen=True, eq=False)
class Data:
    """Training and test data. Points are arrays; images keep the train split as a random-access
    source (`train_images`) and hold the evaluation split as arrays."""

    train: np.ndarray | None  # (n, d) points; None for images (see train_images)
    test: np.ndarray  # (m, ...) the evaluation target (test points, held-out images)
    shape: tuple[int, ...]  # one example's shape
    train_source: np.ndarray | None = None  # 2-D tasks: the source distribution's draws
    test_source: np.ndarray | None = None
    train_labels: np.ndarray | None = None
    test_labels: np.ndarray | None = None
    num_classes: int = 0
    train_images: Sequence | None = None  # images: records {'image', 'label'}
    num_levels: int | None = None  # images: pixel levels (bits/dim)
    gmm: analytic.GaussianMixture | None = None  # the exact reference, when there is one

    @property
    def images(self) -> bool:
        return self.train_images is not None

    @property
    def num_train(self) -> int:
        return len(self.train_images) if self.images else len(self.train)


def _points(kind: str, name: str, config) -> Data:
    seed, d = config.seed, config.data
    if kind == "2d" and name in TASKS:
        src, tgt = TASKS[name]
        return Data(
            train_source=sample_2d(src, d.num_train, seed * 10 + 1),
            train=sample_2d(tgt, d.num_train, seed * 10 + 2),
            test_source=sample_2d(src, d.num_test, seed * 10 + 3),
            test=sample_2d(tgt, d.num_test, seed * 10 + 4),
            shape=(2,),
        )
    if kind == "2d":
        train, test = (
            sample_2d(name, d.num_train, seed * 10 + 2),
            sample_2d(name, d.num_test, seed * 10 + 4),
        )
        return Data(train=train, test=test, shape=(2,))
    gmm = MIXTURES[name]()
    x, y = analytic.sample(gmm, jax.random.PRNGKey(seed * 10 + 2), d.num_train)
    x_test, y_test = analytic.sample(gmm, jax.random.PRNGKey(seed * 10 + 4), d.num_test)
    as_np = lambda a, dt: np.asarray(a, dt)
    return Data(
        train=as_np(x, np.float32),
        test=as_np(x_test, np.float32),
        shape=(gmm.means.shape[1],),
        train_labels=as_np(y, np.int32),
        test_labels=as_np(y_test, np.int32),
        num_classes=int(gmm.weights.shape[0]),
        gmm=gmm,
    )


def _images(config) -> Data:
    d = config.data
    train = image_source(d.name, "train", data_dir=d.data_dir)
    held = image_source(d.name, d.eval_split, data_dir=d.data_dir)
    records = [held[i] for i in range(len(held))]
    spec = TFDS_IMAGE_DATASETS.get(d.name)
    return Data(
        train=None,
        train_images=train,
        test=np.stack([r["image"] for r in records]),
        test_labels=np.asarray([r["label"] for r in records], np.int32),
        shape=tuple(train[0]["image"].shape),
        num_classes=spec.num_classes if spec else int(max(r["label"] for r in records)) + 1,
        num_levels=getattr(train, "num_levels", 256),
    )


def truncate_test(data: Data, num: int) -> Data:
    """The first `num` evaluation examples (and labels) only."""
    labels = None if data.test_labels is None else data.test_labels[:num]
    return dataclasses.replace(data, test=data.test[:num], test_labels=labels)


def check_name(name: str) -> None:
    """Raises naming config.data.name and the allowed forms when `name` is none of them."""
    kind, _, rest = name.partition(":")
    ok = (
        (kind == "2d" and (rest in TASKS or rest in DATASETS))
        or (kind == "gmm" and rest in MIXTURES)
        or (kind == "npz" and rest)
        or name == "digits"
        or name in TFDS_IMAGE_DATASETS
    )
    if not ok:
        raise ValueError(
            f"config.data.name={name!r} is not one of: '2d:<task>' ({', '.join(sorted(TASKS))}), "
            f"'2d:<set>' ({', '.join(sorted(DATASETS))}), 'gmm:<mixture>' "
            f"({', '.join(sorted(MIXTURES))}), 'digits', 'npz:<path>', "
            f"{', '.join(sorted(TFDS_IMAGE_DATASETS))}."
        )


def load(config) -> Data:
    check_name(config.data.name)
    kind, _, rest = config.data.name.partition(":")
    return _points(kind, rest, config) if kind in ("2d", "gmm") else _images(config)


def point_batches(
    data: Data, config, total: int, *, train=None, source=None, paired=False, pair=None
):
    """batches_from(k): the batches of steps k, k + 1, ... of points: per epoch, a permutation
    drawn from (seed, epoch) orders the data (and, unless `paired`, a second one the source);
    `pair(data, source)` re-pairs each batch (exact OT on the host). Labels follow the data."""
    train = data.train if train is None else train
    source = data.train_source if source is None else source
    size, n = config.train.batch_size, len(train)
    per_epoch = n // size
    labels = data.train_labels if config.data.conditional else None

    def batches_from(first_step):
        orders = {}
        for k in range(first_step, total):
            epoch, b = divmod(k, per_epoch)
            if epoch not in orders:
                rng = np.random.default_rng([config.seed, epoch])
                order = rng.permutation(n)
                order_s = order if paired or source is None else rng.permutation(n)
                orders = {epoch: (order, order_s)}
            order, order_s = orders[epoch]
            sl = slice(b * size, (b + 1) * size)
            batch = {"data": train[order[sl]]}
            if source is not None:
                src = source[order_s[sl]]
                batch["source"] = pair(batch["data"], src) if pair else src
            if labels is not None:
                batch["cond"] = labels[order[sl]]
            yield batch

    return batches_from


def image_batches(data: Data, config, total: int):
    """batches_from(k) over grain's seeded per-epoch shuffle of the training images."""
    import grain

    cond = config.data.conditional

    def record(r):
        return {"data": r["image"], "cond": r["label"]} if cond else {"data": r["image"]}

    ds = batches(
        data.train_images, config.train.batch_size, total, seed=config.seed, transform=record
    )
    options = grain.ReadOptions(num_threads=2, prefetch_buffer_size=8)
    return lambda k: ds[k:].to_iter_dataset(options)
