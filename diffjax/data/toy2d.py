"""2-D benchmark distributions, as the torchcfm benchmark runner generates them (numpy, host side).

Each function takes (num, rng) with rng a numpy Generator and returns float32 (num, 2).
The source of every unpaired task is N(0, I) (`gaussian`).
"""

from __future__ import annotations

import numpy as np

from diffjax._checks import check_choice


def gaussian(num: int, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal((num, 2)).astype(np.float32)


def moons(num: int, rng: np.random.Generator, noise: float = 0.05) -> np.ndarray:
    """sklearn make_moons(noise=0.05), then x *= 2 and x[:, 0] -= 1."""
    from sklearn.datasets import make_moons

    x, _ = make_moons(num, noise=noise, random_state=int(rng.integers(2**31)))
    x = 2.0 * x
    x[:, 0] -= 1.0
    return x.astype(np.float32)


def scurve(num: int, rng: np.random.Generator) -> np.ndarray:
    """sklearn make_s_curve(noise=0.05), columns 0 and 2, times 1.5."""
    from sklearn.datasets import make_s_curve

    x, _ = make_s_curve(num, noise=0.05, random_state=int(rng.integers(2**31)))
    return (1.5 * x[:, [0, 2]]).astype(np.float32)


def eight_gaussians(
    num: int, rng: np.random.Generator, radius: float = 5.0, std: float = 1.0
) -> np.ndarray:
    """Centres radius (cos 2 pi k/8, sin 2 pi k/8), k uniform in 0..7, plus std N(0, I)."""
    k = rng.integers(0, 8, num)
    centres = radius * np.stack([np.cos(2 * np.pi * k / 8), np.sin(2 * np.pi * k / 8)], 1)
    return (centres + std * rng.standard_normal((num, 2))).astype(np.float32)


def dsb_moons(num: int, rng: np.random.Generator) -> np.ndarray:
    """The DSB/DSBM source: make_moons(noise=0.1) standardised by the scalar mean and std of all
    entries, times 7."""
    from sklearn.datasets import make_moons

    raw, _ = make_moons(num, noise=0.1, random_state=int(rng.integers(2**31)))
    return (7.0 * (raw - raw.mean()) / raw.std()).astype(np.float32)


def dsb_eight_gaussians(num: int, rng: np.random.Generator) -> np.ndarray:
    """The DSB/DSBM target: centres 4 (+-1, 0), (0, +-1), (+-1/sqrt2, +-1/sqrt2) plus 0.5 N(0, I),
    all times 3 (radius 12, std 1.5)."""
    s = 1.0 / np.sqrt(2.0)
    centres = 4.0 * np.array([[1, 0], [-1, 0], [0, 1], [0, -1], [s, s], [s, -s], [-s, s], [-s, -s]])
    k = rng.integers(0, 8, num)
    return (3.0 * (centres[k] + 0.5 * rng.standard_normal((num, 2)))).astype(np.float32)


def checkerboard(num: int, rng: np.random.Generator) -> np.ndarray:
    """flow_matching's checkerboard: x1 ~ U[-2, 2), x2 = U[0, 1) - 2 B + (floor(x1) mod 2),
    B ~ Bernoulli(1/2); all divided by 0.45."""
    x1 = rng.uniform(-2.0, 2.0, num)
    x2 = rng.uniform(0.0, 1.0, num) - 2.0 * rng.integers(0, 2, num) + np.mod(np.floor(x1), 2)
    return (np.stack([x1, x2], 1) / 0.45).astype(np.float32)


def tutorial_eight_gaussians(num: int, rng: np.random.Generator) -> np.ndarray:
    """torchcfm tutorial's sample_8gaussians: radius 5, covariance 0.1^(1/2) I passed as a variance,
    so the per-coordinate std is 0.1^(1/4) ~ 0.562 (a quirk, kept for comparisons)."""
    return eight_gaussians(num, rng, radius=5.0, std=0.1**0.25)


def tutorial_moons(num: int, rng: np.random.Generator) -> np.ndarray:
    """torchcfm tutorial moons (from torchdyn): deterministic half-circle arcs, one uniform [0, 0.2)
    shift per point added to both coordinates, then x 3 - 1."""
    n_out = num // 2
    n_in = num - n_out
    a, b = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.concatenate(
        [np.stack([np.cos(a), np.sin(a)], 1), np.stack([1 - np.cos(b), 1 - np.sin(b) - 0.5], 1)]
    )
    x = x + 0.2 * rng.uniform(size=(num, 1))
    return (3.0 * x - 1.0).astype(np.float32)


DATASETS = {
    "gaussian": gaussian,
    "moons": moons,
    "scurve": scurve,
    "8gaussians": eight_gaussians,
    "dsb_moons": dsb_moons,
    "dsb_8gaussians": dsb_eight_gaussians,
    "checkerboard": checkerboard,
    "tutorial_8gaussians": tutorial_eight_gaussians,
    "tutorial_moons": tutorial_moons,
}

# the [SF]2M Table 2 tasks: name -> (source, target)
TASKS = {
    "gaussian_to_8gaussians": ("gaussian", "8gaussians"),
    "moons_to_8gaussians": ("dsb_moons", "dsb_8gaussians"),
    "gaussian_to_moons": ("gaussian", "moons"),
    "gaussian_to_scurve": ("gaussian", "scurve"),
}


def sample_2d(name: str, num: int, seed: int) -> np.ndarray:
    """Draws `num` points of a named distribution with a seeded numpy Generator."""
    check_choice("dataset", name, DATASETS)
    return DATASETS[name](num, np.random.default_rng(seed))
