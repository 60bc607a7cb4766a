"""[SF]2M's pair of models (Tong et al. 2024) as one model object for the samplers."""

from __future__ import annotations

import dataclasses
from typing import Any

from diffjax._checks import check_positive


@dataclasses.dataclass(frozen=True)
class ScoreFlow:
    """A flow and a score model trained together by `losses.sf2m_loss` on a Brownian-bridge path
    of noise `sigma`.

    Called, it is the flow's denoiser (params, x, t, cond) -> (x0_hat, eps_hat), so every ODE
    sampler runs it; `score_of` is grad log p_t = (2 / sigma^2) s(x_t, t), s the score model's raw
    output (which learns (sigma^2 / 2) grad log p_t). `samplers.ScoreFlowSDE` uses both.
    """

    flow: Any  # a Denoiser on the path's schedule
    score: Any  # a Denoiser whose raw output is (sigma^2 / 2) grad log p_t
    sigma: float

    def __post_init__(self):
        check_positive("sigma", self.sigma)
        if self.flow.schedule != self.score.schedule:
            raise ValueError(
                "ScoreFlow: flow and score must share the path's schedule; got "
                f"{self.flow.schedule!r} and {self.score.schedule!r}."
            )

    @property
    def schedule(self):
        return self.flow.schedule

    def __call__(self, params, x, t, cond=None):
        return self.flow(params, x, t, cond)

    def score_of(self, params, x, t, cond=None):
        return (2.0 / self.sigma**2) * self.score.predict(params, x, t, cond).pred
