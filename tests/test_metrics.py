import numpy as np
from scipy.optimize import linear_sum_assignment

from diffjax import metrics


def test_w2_equals_the_optimal_assignment():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 2)), rng.normal(size=(300, 2)) * 2 + 1
    cost = ((x[:, None] - y[None]) ** 2).sum(-1)
    r, c = linear_sum_assignment(cost)
    np.testing.assert_allclose(metrics.wasserstein2(x, y), np.sqrt(cost[r, c].mean()), rtol=1e-10)
    # translation: W2(x, x + v) = |v|
    np.testing.assert_allclose(metrics.wasserstein2(x, x + np.array([3.0, 4.0])), 5.0, rtol=1e-10)


def test_path_energy_of_straight_paths_is_w2_squared():
    """Straight constant-speed optimal paths have energy W2^2, NPE 0, and straightness 0."""
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(200, 2))
    x1 = x0 * 0.5 + np.array([2.0, -1.0])  # a monotone affine map is the optimal map
    times = np.linspace(1.0, 0.0, 11)
    traj = np.stack([x1 + (1 - t) * (x0 - x1) for t in times])  # from x1 at t = 1 to x0 at t = 0
    v = np.diff(traj, axis=0) / np.diff(times)[:, None, None]
    w2 = metrics.wasserstein2(x0, x1)
    energy = metrics.path_energy(v, np.diff(times))
    np.testing.assert_allclose(energy, w2**2, rtol=1e-9)
    assert metrics.normalised_path_energy(energy, w2) < 1e-9
    assert metrics.straightness(traj, times) < 1e-20
    bent = traj + np.sin(np.pi * times)[:, None, None]
    assert metrics.straightness(bent, times) > 1.0


def test_mmd_separates_distributions():
    rng = np.random.default_rng(2)
    same = metrics.mmd(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)))
    diff = metrics.mmd(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)) + 0.5)
    assert abs(same) < 0.01 and diff > 0.05


def test_frechet_distance_closed_form():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(20000, 2)) * np.array([1.0, 2.0])
    b = rng.normal(size=(20000, 2)) * np.array([3.0, 1.0]) + np.array([1.0, 0.0])
    # diagonal Gaussians: |dmu|^2 + sum (s_a - s_b)^2 = 1 + (1 - 3)^2 + (2 - 1)^2 = 6
    np.testing.assert_allclose(metrics.frechet_distance(a, b), 6.0, rtol=0.03)
    np.testing.assert_allclose(metrics.frechet_distance(a, a), 0.0, atol=1e-6)


def test_metrics_refuse_non_finite_samples():
    """A diverged model's NaN samples are refused, not scored (POT's W2 of NaNs is 0)."""
    import pytest

    good = np.random.default_rng(0).normal(size=(20, 2))
    bad = good.copy()
    bad[3, 1] = np.nan
    for call in (
        lambda: metrics.wasserstein2(bad, good),
        lambda: metrics.mmd(good, bad),
        lambda: metrics.frechet_distance(bad, good),
        lambda: metrics.path_energy(np.stack([bad, good]), np.ones(2)),
        lambda: metrics.straightness(np.stack([good, bad * np.inf]), np.array([1.0, 0.0])),
    ):
        with pytest.raises(ValueError, match="non-finite entries .* refusing to score"):
            call()


def test_digits_inception_score_is_one_for_identical_images_and_high_for_real_digits():
    from diffjax.data.images import load_digits

    params, _ = metrics.digits_classifier()
    test = load_digits("test")
    real = metrics.digits_inception_score(params, test.images)
    same = metrics.digits_inception_score(params, np.repeat(test.images[:1], 100, axis=0))
    assert 8.0 < real <= 10.0 and abs(same - 1.0) < 1e-9, (real, same)
    # one class only (every held-out "3"): confident and alike, so close to 1 as well
    threes = test.images[test.labels == 3]
    assert metrics.digits_inception_score(params, threes) < 1.5
    p = metrics.digits_class_probabilities(params, test.images)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-6)
    assert np.mean(p.argmax(1) == test.labels) > 0.95
