"""The flow-matching paths of the papers, as data: a schedule + a bridge noise + a coupling.

Tong et al. 2024 ([SF]2M Table 2 rows), in diffjax's time direction (t = 0 data):
  icfm            rectified-flow path, constant bridge c = sigma (0.1), independent coupling
  otcfm           as icfm with the exact minibatch OT coupling
  sbcfm           Brownian bridge c = sigma sqrt(t(1-t)) with sigma = 1 (the paper's), Sinkhorn
                  coupling with epsilon = 2 sigma^2
  lipman_fm       Lipman et al. 2023: alpha = 1 - t, sigma(t) = s + (1 - s) t, s = sigma_min
  rectified_flow  Liu et al. 2023: alpha = 1 - t, sigma = t, no bridge noise, independent
Training times are drawn in [1e-5, 1 - 1e-5] (the schedules' clip).
"""

from __future__ import annotations

from diffjax.losses._couplings import Coupling, ExactOT, Independent, Sinkhorn
from diffjax.losses._path import BrownianBridge, ConstantBridge, NoBridge, Path
from diffjax.schedules import LipmanFM, RectifiedFlow


def icfm(sigma: float = 0.1, coupling: Coupling | None = None) -> Path:
    """I-CFM (Tong et al. 2024): straight interpolant with constant bridge noise sigma."""
    return Path(
        schedule=RectifiedFlow(),
        bridge=ConstantBridge(sigma=sigma),
        coupling=coupling or Independent(),
    )


def otcfm(sigma: float = 0.1, coupling: Coupling | None = None) -> Path:
    """OT-CFM (Tong et al. 2024; Pooladian et al. 2023): I-CFM on exact minibatch-OT pairs."""
    return icfm(sigma, coupling or ExactOT())


def sbcfm(sigma: float = 1.0, coupling: Coupling | None = None) -> Path:
    """SB-CFM (Tong et al. 2024): Brownian bridge sigma (1 in their Table 2), Sinkhorn pairs at
    epsilon = 2 sigma^2 (the entropic plan of the Schrodinger bridge)."""
    return Path(
        schedule=RectifiedFlow(),
        bridge=BrownianBridge(sigma=sigma),
        coupling=coupling or Sinkhorn(epsilon=2.0 * sigma**2),
    )


def lipman_fm(sigma: float = 0.1, coupling: Coupling | None = None) -> Path:
    """Flow matching with Lipman et al. (2023)'s OT path; sigma is their sigma_min, the std of
    the path at the data end (0.1 in the [SF]2M runs)."""
    return Path(
        schedule=LipmanFM(sigma_min=sigma), bridge=NoBridge(), coupling=coupling or Independent()
    )


def rectified_flow(coupling: Coupling | None = None) -> Path:
    """Rectified flow (Liu et al. 2023): alpha = 1 - t, sigma = t, no bridge noise."""
    return Path(schedule=RectifiedFlow(), bridge=NoBridge(), coupling=coupling or Independent())


def noise_scale(path: Path) -> float | None:
    """The sigma a preset was built with: the bridge's, or Lipman's sigma_min; None for none."""
    if hasattr(path.bridge, "sigma"):
        return path.bridge.sigma
    return getattr(path.schedule, "sigma_min", None)
