"""Sample grids (PNG) and 2-D scatter / trajectory plots."""

from __future__ import annotations

import math

import numpy as np


def image_grid(images: np.ndarray, ncols: int | None = None, pad: int = 1) -> np.ndarray:
    """(N, H, W, C) in [-1, 1] -> one uint8 (rows (H + pad), cols (W + pad), C) image."""
    images = np.asarray(images, np.float32)
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, H, W, C); got {images.shape}.")
    n, h, w, c = images.shape
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    pixels = np.round((np.clip(images, -1, 1) + 1) * 127.5).astype(np.uint8)
    grid = np.full((nrows * (h + pad) + pad, ncols * (w + pad) + pad, c), 255, np.uint8)
    for k in range(n):
        r, q = divmod(k, ncols)
        top, left = pad + r * (h + pad), pad + q * (w + pad)
        grid[top : top + h, left : left + w] = pixels[k]
    return grid


def save_image_grid(path: str, images: np.ndarray, ncols: int | None = None, scale: int = 1):
    """Writes image_grid(images) as a PNG, upscaled `scale` times (nearest) for small images."""
    from PIL import Image

    grid = image_grid(images, ncols)
    grid = np.repeat(np.repeat(grid, scale, 0), scale, 1)
    Image.fromarray(grid[..., 0] if grid.shape[-1] == 1 else grid).save(path)
    return grid


def plot_trajectories_2d(path: str, trajectory: np.ndarray, target: np.ndarray, title: str = ""):
    """Scatter of the source, the samples and the target, with 200 trajectories in grey.

    trajectory: (steps + 1, N, 2) from the source (index 0) to the samples (index -1).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    n = min(2000, trajectory.shape[1])
    for k in range(min(200, n)):
        ax.plot(trajectory[:, k, 0], trajectory[:, k, 1], color="0.8", lw=0.4, zorder=0)
    ax.scatter(target[:n, 0], target[:n, 1], s=2, c="tab:orange", label="target")
    ax.scatter(trajectory[-1, :n, 0], trajectory[-1, :n, 1], s=2, c="tab:blue", label="samples")
    ax.scatter(trajectory[0, :n, 0], trajectory[0, :n, 1], s=1, c="0.5", label="source")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
