"""Sample-quality metrics: exact 2-Wasserstein, normalised path energy, MMD, straightness, Frechet
distance. Host-side numpy/POT (they run once per evaluation, not in a train step)."""

from __future__ import annotations

import numpy as np


def finite(name: str, values) -> np.ndarray:
    """values as float64, or a ValueError naming `name` if any entry is NaN or infinite (a
    diverged model's samples must not be scored: POT's W2 of NaN samples is 0)."""
    arr = np.asarray(values, np.float64)
    bad = ~np.isfinite(arr)
    if bad.any():
        raise ValueError(
            f"{name} has {int(bad.sum())} non-finite entries of {arr.size}: refusing to score it."
        )
    return arr


def wasserstein2(x: np.ndarray, y: np.ndarray) -> float:
    """Exact W2 between the empirical measures of x (n, d) and y (m, d): sqrt of the optimal mean
    squared Euclidean cost (POT's network simplex, as in the [SF]2M protocol)."""
    import ot

    x, y = finite("x", x), finite("y", y)
    cost = ot.dist(x, y)  # squared Euclidean
    a, b = np.full(len(x), 1.0 / len(x)), np.full(len(y), 1.0 / len(y))
    return float(np.sqrt(ot.emd2(a, b, cost, numItermax=10_000_000)))


def path_energy(velocities: np.ndarray, dt: np.ndarray) -> float:
    """E int ||v||^2 dt by the Riemann sum over Euler steps: velocities (steps, n, d), dt (steps,)."""
    sq = np.sum(finite("velocities", velocities) ** 2, axis=-1)  # (steps, n)
    return float(np.mean(np.sum(sq * np.abs(np.asarray(dt))[:, None], axis=0)))


def normalised_path_energy(energy: float, w2_source_target: float) -> float:
    """NPE = |E int ||v||^2 dt - W2^2(source, target)| / W2^2(source, target) (Tong et al. 2024)."""
    w2sq = w2_source_target**2
    return abs(energy - w2sq) / w2sq


def mmd(x: np.ndarray, y: np.ndarray, bandwidths=(0.1, 1.0, 10.0)) -> float:
    """Unbiased squared MMD with a sum of Gaussian kernels exp(-||a - b||^2 / (2 h^2))."""
    x, y = finite("x", x), finite("y", y)

    def kernel(a, b):
        d2 = np.sum(a**2, 1)[:, None] + np.sum(b**2, 1)[None] - 2 * a @ b.T
        return sum(np.exp(-d2 / (2 * h * h)) for h in bandwidths)

    kxx, kyy, kxy = kernel(x, x), kernel(y, y), kernel(x, y)
    n, m = len(x), len(y)
    return float(
        (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
        + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        - 2 * kxy.mean()
    )


def straightness(trajectory: np.ndarray, times: np.ndarray) -> float:
    """Liu et al. (2023): E int ||(x_end - x_start)/(t_end - t_start) - dx/dt||^2 dt over a discrete
    trajectory (steps + 1, n, d) at times (steps + 1,); 0 for straight constant-speed paths."""
    traj, times = finite("trajectory", trajectory), np.asarray(times, np.float64)
    dt = np.diff(times)
    v = np.diff(traj, axis=0) / dt[:, None, None]
    chord = (traj[-1] - traj[0]) / (times[-1] - times[0])
    return float(np.mean(np.sum(np.sum((v - chord[None]) ** 2, -1) * np.abs(dt)[:, None], 0)))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two feature sets (n, k) (FID's formula)."""
    return frechet_distance_from_statistics(
        *feature_statistics(features_a), *feature_statistics(features_b)
    )


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (k,), covariance (k, k)) of features (n, k), in float64: what FID stores per data set."""
    f = finite("features", features)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be (n >= 2, k); got shape {f.shape}.")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance_from_statistics(mu_a, cov_a, mu_b, cov_b, eps: float = 1e-6) -> float:
    """Frechet distance between N(mu_a, cov_a) and N(mu_b, cov_b). When cov_a cov_b is singular
    (fewer samples than features) its square root is taken of (cov_a + eps I)(cov_b + eps I)."""
    from scipy import linalg

    root = linalg.sqrtm(cov_a @ cov_b)
    if not np.all(np.isfinite(root)):
        offset = eps * np.eye(len(cov_a))
        root = linalg.sqrtm((cov_a + offset) @ (cov_b + offset))
    root = np.real(root)  # imaginary parts are round-off of a PSD product
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * root))
