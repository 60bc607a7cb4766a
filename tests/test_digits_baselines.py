"""The trivial digits models the DDPM study is judged against (experiments/digits_baselines.py)."""

import numpy as np

from experiments import digits_baselines as B


def _latent_class_data(n, rng, d=16, levels=5):
    """Two classes of pixels, each a product of known categoricals: its entropy is exact."""
    theta = rng.dirichlet(0.3 * np.ones(levels), (2, d))  # (2, d, L)
    z = rng.integers(0, 2, n)
    u = rng.random((n, d, 1))
    x = (u > np.cumsum(theta[z], -1)).sum(-1)
    return x, theta


def test_categorical_bits_per_dim_is_the_smoothed_per_pixel_entropy():
    x = np.array([[0, 1], [0, 1], [0, 0], [2, 1]])
    # pixel 0 counts (3, 0, 1) + 1/2, pixel 1 counts (1, 3, 0) + 1/2, over 3 levels
    p0 = np.array([3.5, 0.5, 1.5]) / 5.5
    p1 = np.array([1.5, 3.5, 0.5]) / 5.5
    test = np.array([[2, 2]])
    expected = -(np.log2(p0[2]) + np.log2(p1[2])) / 2
    assert abs(B.categorical_bits_per_dim(x, test, 3) - expected) < 1e-12


def test_the_mixture_recovers_a_latent_class_model():
    """EM on 4000 draws of a 2-class product model: held-out bits/dim within 0.02 of the true
    model's cross-entropy, well below the single product's."""
    rng = np.random.default_rng(0)
    x, theta = _latent_class_data(6000, rng)
    train, test = x[:4000], x[4000:]
    log_lik = np.log(theta[:, np.arange(16)[None, :], test]).sum(-1)  # (2, n)
    true_bpd = -np.mean(np.logaddexp(*log_lik) + np.log(0.5)) / (16 * np.log(2))
    mix, k = B.mixture_bits_per_dim(train, test, 5, ks=(1, 2, 4))
    single = B.categorical_bits_per_dim(train, test, 5)
    assert k >= 2 and abs(mix - true_bpd) < 0.02 and single > true_bpd + 0.1


def test_noisy_digits_and_pixel_gmm_draws():
    rng = np.random.default_rng(1)
    images = np.clip(rng.normal(0, 0.5, (200, 8, 8, 1)), -1, 1).astype(np.float32)
    noisy = B.noisy_digits(images, 300, std=0.2, seed=0)
    assert noisy.shape == (300, 8, 8, 1) and noisy.min() >= -1 and noisy.max() <= 1
    inside = np.abs(images) < 0.5  # away from the clip: the added noise has std 0.2
    diff = (noisy[:200] - images)[inside]
    assert abs(diff.std() - 0.2) < 0.01
    draws = B.pixel_gmm_samples(images, 100, k=2, seed=0)
    assert draws.shape == (100, 8, 8, 1) and np.all(np.abs(draws) <= 1)
    assert np.array_equal(B.to_levels(np.array([[-1.0, 0.0, 1.0]]), 17), [[0, 8, 16]])


def test_the_pixel_gmm_is_the_same_fit_on_any_number_of_threads():
    """On the digits, sklearn's fit with 2 threads and with 1 reached different mixtures (draws
    up to 2.0 apart) before the fit was pinned to one thread."""
    from threadpoolctl import threadpool_limits

    from configs import ddpm_digits

    images = B.digits_split(ddpm_digits.get_config())[0]  # the study's training digits
    free = B.pixel_gmm_samples(images, 200, k=10, seed=0)
    with threadpool_limits(limits=1):
        one = B.pixel_gmm_samples(images, 200, k=10, seed=0)
    with threadpool_limits(limits=2):
        two = B.pixel_gmm_samples(images, 200, k=10, seed=0)
    assert np.array_equal(free, one) and np.array_equal(one, two)


def test_the_floor_over_subsets_is_the_whole_set_when_a_subset_is_all_of_it():
    """Every subset of all n digits is the whole set (FD invariant to order); smaller subsets
    differ, and their FDs are those of the subsets the seed draws."""
    rng = np.random.default_rng(0)
    train = rng.standard_normal((40, 3))
    test = rng.standard_normal((30, 3)) + 0.5
    from diffjax.metrics import frechet_distance

    fd = lambda x: frechet_distance(x, test)  # noqa: E731
    whole = B.frechet_over_subsets(fd, train, 40, draws=5)
    np.testing.assert_allclose(whole, fd(train), rtol=1e-9)
    part = B.frechet_over_subsets(fd, train, 20, draws=5, seed=1)
    assert part.std() > 0.01 and len(set(np.round(part, 9))) == 5
    again = np.random.default_rng(1)
    first = fd(train[again.choice(40, 20, replace=False)])
    assert part[0] == first
