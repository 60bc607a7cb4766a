"""Tables of 'everything under test', shared by the contract suites."""

from diffjax import resolve
from diffjax import schedules as S

ALL_SCHEDULES = {
    "ddpm_linear": S.DiscreteDDPM(),
    "ddpm_scaled_linear": S.DiscreteDDPM(
        beta_schedule=S.BetaSchedule.SCALED_LINEAR, beta_start=0.00085, beta_end=0.012
    ),
    "ddpm_cosine": S.DiscreteDDPM(beta_schedule=S.BetaSchedule.COSINE),
    "vp": S.VPLinear(),
    "subvp": S.SubVP(),
    "ve": S.VE(),
    "cosine": S.Cosine(),
    "edm": S.EDM(),
    "rectified_flow": S.RectifiedFlow(),
    "lipman": S.LipmanFM(),
    "trigonometric": S.Trigonometric(),
    "interpolated": S.InterpolatedLogSNR(times=(0.0, 0.5, 1.0), logsnrs=(10.0, 0.0, -10.0)),
    "ztsnr_ddpm": S.ZeroTerminalSNR(base=S.DiscreteDDPM(beta_start=0.00085, beta_end=0.012)),
    "shifted_rf": S.Shifted(base=S.RectifiedFlow(), shift=3.0),
}

VP_SCHEDULES = [
    "ddpm_linear",
    "ddpm_scaled_linear",
    "ddpm_cosine",
    "vp",
    "cosine",
    "trigonometric",
    "interpolated",
    "ztsnr_ddpm",
]


def configured(module, variant="tiny", **overrides):
    """A config family's variant (default tiny) without progress bars, with dotted-key overrides."""
    config = module.get_config(variant)
    with config.unlocked():
        config.train.progress = False
        for key, value in overrides.items():
            node = config
            *parents, leaf = key.split(".")
            for p in parents:
                node = getattr(node, p)
            if leaf not in node:
                raise KeyError(f"override {key!r}: the config has no such key.")
            setattr(node, leaf, value)
    return config


def parameterisation(name: str, schedule):
    """resolve.parameterisation(name) for a denoiser on `schedule`: Ho's posterior mean ('mean')
    one step of 1/T back on a DDPM schedule, of 0.01 on the others (which have no T)."""
    step = name == "mean" and not isinstance(schedule, S.DiscreteDDPM)
    return resolve.parameterisation({"name": name, **({"step": 0.01} if step else {})}, schedule)
