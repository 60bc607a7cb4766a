"""Image sources and the grain batch pipeline: digits, .npz, TFDS (mocked: nothing downloads here)."""

import numpy as np
import pytest

from diffjax.data import batches, image_source, load_digits, load_npz


def test_digits_split_levels_and_labels():
    train, test = load_digits("train"), load_digits("test")
    assert (len(train), len(test)) == (1500, 297)
    assert train.images.shape == (1500, 8, 8, 1) and train.images.dtype == np.float32
    levels = (train.images + 1) * 8  # 17 levels 0..16 map exactly onto 2 v / 16 - 1
    np.testing.assert_allclose(levels, np.round(levels), atol=1e-6)
    assert levels.min() == 0 and levels.max() == 16 and train.num_levels == 17
    assert set(np.unique(train.labels)) == set(range(10))
    # disjoint: no held-out image is a training image (digits has no exact duplicates across them)
    a = {im.tobytes() for im in test.images}
    assert sum(im.tobytes() in a for im in train.images) < 3


def test_npz_uint8_and_float_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    raw = rng.integers(0, 256, (5, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "u8.npz", images=raw, labels=np.arange(5))
    src = load_npz(str(tmp_path / "u8.npz"))
    np.testing.assert_allclose(src.images[..., 0], raw / 127.5 - 1, atol=1e-6)
    assert src[3]["label"] == 3 and src[3]["image"].shape == (4, 4, 1)
    np.savez(tmp_path / "bad.npz", images=np.full((2, 4, 4, 3), 3.0))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        load_npz(str(tmp_path / "bad.npz"))
    with pytest.raises(KeyError, match="images_key='x'"):
        load_npz(str(tmp_path / "u8.npz"), images_key="x")
    with pytest.raises(FileNotFoundError, match="no such"):
        load_npz(str(tmp_path / "missing.npz"))
    assert len(image_source(f"npz:{tmp_path / 'u8.npz'}")) == 5


def test_unknown_dataset_names_the_choices():
    with pytest.raises(ValueError, match="dataset='imagenet'.*'cifar10'"):
        image_source("imagenet")


def test_batches_global_batch_is_independent_of_host_count_and_resumable():
    src = load_digits("train")
    one = batches(src, 64, 60, seed=3)
    halves = [batches(src, 64, 60, seed=3, process_index=p, process_count=2) for p in range(2)]
    for s in (0, 7, 59):
        both = np.concatenate([h[s]["image"] for h in halves])
        np.testing.assert_array_equal(both, one[s]["image"])
    resumed = next(iter(one[23:].to_iter_dataset()))
    np.testing.assert_array_equal(resumed["label"], one[23]["label"])
    with pytest.raises(ValueError, match="divisible"):
        batches(src, 63, 10, seed=0, process_index=0, process_count=2)


def test_batches_visit_every_example_once_per_epoch():
    src = load_digits("train")  # 1500 = 25 x 60
    ds = batches(src, 60, 50, seed=1, transform=lambda r: {"id": r["image"].tobytes()})
    epoch = [i for s in range(25) for i in ds[s]["id"]]
    assert len(set(epoch)) == len({im.tobytes() for im in src.images})
    second = [i for s in range(25, 50) for i in ds[s]["id"]]
    assert epoch != second and set(epoch) == set(second)  # reshuffled each epoch


@pytest.mark.parametrize(
    "name,shape",
    [
        ("mnist", (28, 28, 1)),
        ("fashion_mnist", (28, 28, 1)),
        ("cifar10", (32, 32, 3)),
        ("celeb_a", (64, 64, 3)),
    ],
)
def test_tfds_sources_through_mock_data(name, shape):
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=8, policy=tfds.testing.MockPolicy.USE_CODE):
        src = image_source(name, "train")
        assert len(src) == 8
        rec = src[0]
        assert rec["image"].shape == shape and rec["image"].dtype == np.float32
        assert -1.0 <= rec["image"].min() and rec["image"].max() <= 1.0
        b = batches(src, 4, 3, seed=0, process_index=1, process_count=2)[2]
        assert b["image"].shape == (2, *shape) and b["label"].dtype == np.int32


def test_digits_classifier_trains_accurately_and_caches(tmp_path):
    """The offline feature space of the digits Frechet distance: trained (in 32-bit mode whatever
    jax_enable_x64 says; the claim: 99.66% held-out accuracy, 296 of 297), then read back from the
    cache bit for bit."""
    import jax

    from diffjax.metrics import digits_classifier

    params, accuracy = digits_classifier(cache_dir=str(tmp_path))
    assert accuracy >= 295 / 297
    again, cached_accuracy = digits_classifier(cache_dir=str(tmp_path))
    assert cached_accuracy == accuracy
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(again), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
