"""Time grids t_0 > t_1 > ... > t_N for samplers (t = 1 noise, t = 0 data)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from diffjax._checks import check_choice
from diffjax.schedules import DiscreteDDPM, Schedule

GRIDS = ("uniform", "logsnr", "karras", "quadratic", "leading", "trailing", "linspace")


def time_grid(
    schedule: Schedule,
    num_steps: int,
    kind: str = "uniform",
    *,
    t_start: float = 1.0,
    t_end: float | None = None,
    rho: float = 7.0,
) -> np.ndarray:
    """A decreasing grid of num_steps + 1 times (float64 numpy), from t_start to t_end.

    uniform: linear in t. logsnr: linear in lambda (DPM-Solver's 'logSNR'). karras: sigma~ =
    sigma/alpha on EDM's rho-grid (Karras et al. 2022, eq. 5). quadratic: t = t_end + (t_start -
    t_end) (i/N)^2 (DDIM's quadratic). leading / trailing / linspace: integer DDPM timesteps
    spaced as in Lin et al. (2024), Table 2 (DiscreteDDPM only), followed by t_end.
    t_end defaults to 0 (x0 is returned by the final step) for schedules with sigma(0) = 0,
    else to t_min.
    """
    check_choice("grid", kind, GRIDS)
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1; got {num_steps}.")
    if t_end is None:
        t_end = 0.0 if float(schedule(0.0).sigma) == 0.0 else schedule.t_min
    if not 0.0 <= t_end < t_start <= 1.0:
        raise ValueError(f"need 0 <= t_end < t_start <= 1; got t_start={t_start}, t_end={t_end}.")
    n = num_steps
    u = np.linspace(0.0, 1.0, n + 1)
    if kind == "uniform":
        return t_start + (t_end - t_start) * u
    if kind == "quadratic":
        return t_end + (t_start - t_end) * (1.0 - u) ** 2
    if kind in ("logsnr", "karras"):
        # interior end point where lambda is finite; a t_end at sigma = 0 is appended
        lo = max(t_end, schedule.t_min)
        lam_a, lam_b = (float(schedule.logsnr(jnp.asarray(v, jnp.float64))) for v in (t_start, lo))
        steps = n if lo == t_end else n - 1
        w = np.linspace(0.0, 1.0, steps + 1)
        if kind == "logsnr":
            lam = lam_a + (lam_b - lam_a) * w
        else:
            s_a, s_b = np.exp(-0.5 * lam_a), np.exp(-0.5 * lam_b)
            sig = (s_a ** (1 / rho) + w * (s_b ** (1 / rho) - s_a ** (1 / rho))) ** rho
            lam = -2.0 * np.log(sig)
        t = np.array(schedule.t_from_logsnr(jnp.asarray(lam, jnp.float64)), np.float64)
        t[0], t[-1] = t_start, lo
        return t if lo == t_end else np.append(t, t_end)
    if not isinstance(schedule, DiscreteDDPM):
        raise ValueError(
            f"grid={kind!r} spaces integer DDPM timesteps: it needs a DiscreteDDPM schedule."
        )
    T = schedule.num_timesteps
    if kind == "leading":
        steps = np.arange(0, n)[::-1] * (T // n) + 1
    elif kind == "trailing":
        steps = np.round(np.arange(T, 0, -T / n)).astype(int)
    else:
        steps = np.round(np.linspace(T, 1, n)).astype(int)
    return np.append(steps / T, t_end).astype(np.float64)


def explicit_grid(times, schedule: Schedule | None = None) -> np.ndarray:
    """Validates a user grid: a decreasing list of t in [0, 1], or integer DDPM timesteps."""
    arr = np.asarray(times)
    if np.issubdtype(arr.dtype, np.integer):
        if not isinstance(schedule, DiscreteDDPM):
            raise ValueError("integer timesteps need a DiscreteDDPM schedule (t = i / T).")
        arr = arr / schedule.num_timesteps
    arr = arr.astype(np.float64)
    if arr.ndim != 1 or arr.size < 2:
        raise ValueError(
            f"a time grid needs at least 2 times in a 1-D list; got shape {arr.shape}."
        )
    if np.any(arr < 0) or np.any(arr > 1) or np.any(np.diff(arr) >= 0):
        raise ValueError("a time grid must decrease strictly from noise (t <= 1) to data (t >= 0).")
    return arr
