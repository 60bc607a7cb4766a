import numpy as np
import pytest

from diffjax.data import DATASETS, TASKS, sample_2d


@pytest.mark.parametrize("name", list(DATASETS))
def test_every_dataset_shape_dtype_and_seeding(name):
    a = sample_2d(name, 1000, seed=3)
    assert a.shape == (1000, 2) and a.dtype == np.float32 and np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, sample_2d(name, 1000, seed=3))
    assert not np.array_equal(a, sample_2d(name, 1000, seed=4))


def nearest_centre_residuals(x, centres):
    d = np.linalg.norm(x[:, None] - centres[None], axis=-1)
    return x - centres[np.argmin(d, 1)]


def test_eight_gaussians_radius_and_std():
    x = sample_2d("8gaussians", 40000, 0)
    k = np.arange(8)
    centres = 5 * np.stack([np.cos(2 * np.pi * k / 8), np.sin(2 * np.pi * k / 8)], 1)
    res = nearest_centre_residuals(x, centres)
    # std 1 around centres 3.8 apart: nearest-centre assignment truncates slightly
    assert 0.9 < res.std() < 1.0
    np.testing.assert_allclose(x.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(
        np.mean(np.sum(x**2, 1)), 25 + 2, rtol=0.02
    )  # E||x||^2 = r^2 + 2 std^2


def test_dsb_pair_scales():
    target = sample_2d("dsb_8gaussians", 40000, 0)
    np.testing.assert_allclose(np.mean(np.sum(target**2, 1)), 144 + 2 * 1.5**2, rtol=0.02)
    source = sample_2d("dsb_moons", 40000, 0)
    np.testing.assert_allclose(source.mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(source.std(), 7.0, rtol=1e-5)


def test_moons_scurve_checkerboard_geometry():
    m = sample_2d("moons", 20000, 0)
    assert -3.4 < m[:, 0].min() and m[:, 0].max() < 3.4 and -1.4 < m[:, 1].min()
    s = sample_2d("scurve", 20000, 0)
    assert np.abs(s).max() < 1.5 * 2.3
    c = sample_2d("checkerboard", 20000, 0) * 0.45
    parity = (np.floor(c[:, 0]) + np.floor(c[:, 1])) % 2
    assert np.all(parity == 0)  # only the 'black' squares are populated
    assert set(TASKS) == {
        "gaussian_to_8gaussians",
        "moons_to_8gaussians",
        "gaussian_to_moons",
        "gaussian_to_scurve",
    }


def test_tutorial_quirks():
    x = sample_2d("tutorial_8gaussians", 40000, 0)
    k = np.arange(8)
    centres = 5 * np.stack([np.cos(2 * np.pi * k / 8), np.sin(2 * np.pi * k / 8)], 1)
    np.testing.assert_allclose(nearest_centre_residuals(x, centres).std(), 0.1**0.25, rtol=0.02)
    m = sample_2d("tutorial_moons", 1000, 0)
    assert m[:, 0].min() > -1.0 - 1e-6 - 3.0 and m[:, 1].max() <= 3 * 1.2 - 1 + 1e-5
