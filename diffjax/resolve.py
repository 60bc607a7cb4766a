"""The edge: config values (names, "name(key=value, ...)" or {"name": ..., key: value}) become the
library's objects, one function per family. Nothing else in diffjax compares strings.

  >>> resolve.sampler("dpmpp_2m")            # DPMSolverPP(order=2)
  >>> resolve.sampler("ddim(eta=0.5)")       # DDIM(eta=0.5)
  >>> resolve.parameterisation({"name": "edm", "sigma_data": 0.5})
An unknown name lists the valid ones (and the nearest); an unknown option lists the allowed
ones; a bad value fails in the object's own validation, all before any work is done.
"""

from __future__ import annotations

import ast
import dataclasses
import difflib
import enum
import functools
from collections.abc import Callable, Mapping
from typing import Any

from diffjax import losses as L
from diffjax import models as M
from diffjax import parameterisations as P
from diffjax import samplers as SA
from diffjax import schedules as S

SCHEDULES = {
    "ddpm": S.DiscreteDDPM,
    "vp": S.VPLinear,
    "subvp": S.SubVP,
    "ve": S.VE,
    "cosine": S.Cosine,
    "edm": S.EDM,
    "rectified_flow": S.RectifiedFlow,
    "lipman": S.LipmanFM,
    "trigonometric": S.Trigonometric,
    "interpolated": S.InterpolatedLogSNR,
}
PARAMETERISATIONS = {
    "eps": P.EpsPrediction,
    "x0": P.X0Prediction,
    "v": P.VPrediction,
    "score": P.ScorePrediction,
    "velocity": P.VelocityPrediction,
    "edm": P.EDMPreconditioned,
    "mean": P.MeanPrediction,
}
NOISE_CONDITIONINGS = {
    "t": M.TimeInput,
    "scaled_t": functools.partial(M.TimeInput, scale=999.0),
    "ddpm_index": M.DDPMIndexInput,
    "logsnr": M.LogSNRInput,
    "edm": M.EDMNoiseInput,
}
WEIGHTINGS = {
    "simple": L.SNRWeighting,
    "snr": L.SNRWeighting,
    "x0": L.ConstantWeighting,
    "snr_plus_one": L.SNRPlusOneWeighting,
    "truncated_snr": L.TruncatedSNRWeighting,
    "min_snr": L.MinSNRWeighting,
    "edm": L.EDMWeighting,
    "elbo": L.ELBOWeighting,
    "sigmoid": L.SigmoidWeighting,
    "velocity": L.VelocityWeighting,
    "output": L.OutputWeighting,
}
TIME_SAMPLINGS = {
    "uniform": L.UniformTime,
    "discrete": L.DiscreteTime,
    "antithetic": L.AntitheticTime,
    "logit_normal": L.LogitNormalTime,
    "edm_lognormal": L.LogNormalSigmaTime,
}
COUPLINGS = {"independent": L.Independent, "exact_ot": L.ExactOT, "sinkhorn": L.Sinkhorn}
BRIDGES = {"none": L.NoBridge, "constant": L.ConstantBridge, "brownian": L.BrownianBridge}
PATHS = {
    "icfm": L.presets.icfm,
    "otcfm": L.presets.otcfm,
    "sbcfm": L.presets.sbcfm,
    "fm": L.presets.lipman_fm,
    "rf": L.presets.rectified_flow,
}
SAMPLERS = {
    "euler": SA.Euler,
    "midpoint": SA.Midpoint,
    "rk4": SA.RK4,
    "heun": SA.Heun,
    "ddpm": SA.DDPM,
    "ddim": SA.DDIM,
    "euler_sigma": SA.DDIM,  # Euler in (x/alpha, sigma/alpha): diffusers' and k-diffusion's Euler
    "euler_ancestral": SA.EulerAncestral,
    "dpm_solver": SA.DPMSolver,
    "dpmpp_2s": SA.DPMSolverPP2S,
    "dpmpp_2s_ancestral": SA.DPMSolverPP2SAncestral,
    "dpmpp_2m": functools.partial(SA.DPMSolverPP, order=2),
    "dpmpp_3m": functools.partial(SA.DPMSolverPP, order=3),
    "dpmpp_2m_sde": SA.DPMSolverPPSDE,
    "dpmpp_3m_sde": functools.partial(SA.DPMSolverPPSDE, order=3),
    "unipc": SA.UniPC,
    "lms": SA.LMS,
    "ipndm": SA.IPNDM,
    "deis": SA.DEIS,
    "euler_maruyama": SA.EulerMaruyama,
    "pc": SA.PredictorCorrector,
    "restart": SA.Restart,
    "sf2m_sde": SA.ScoreFlowSDE,
    "adaptive": SA.Adaptive,
}
GRIDS = {
    "auto": SA.RecommendedGrid,  # the measured choice for the schedule (docs/samplers.md)
    "uniform": SA.UniformGrid,
    "logsnr": SA.LogSNRGrid,
    "karras": SA.KarrasGrid,
    "quadratic": SA.QuadraticGrid,
    "leading": functools.partial(SA.DDPMTimestepGrid, spacing=SA.Spacing.LEADING),
    "trailing": functools.partial(SA.DDPMTimestepGrid, spacing=SA.Spacing.TRAILING),
    "linspace": functools.partial(SA.DDPMTimestepGrid, spacing=SA.Spacing.LINSPACE),
    **{
        f"k_{s.value}": functools.partial(SA.KDiffusionGrid, spacing=s)
        for s in SA.KDiffusionSpacing
    },
}
# aliases of enum values that papers and peers use
_ENUM_ALIASES = {"beta_tilde": "fixed_small", "beta": "fixed_large"}


def parse_spec(spec: Any) -> tuple[str, dict]:
    """'name', 'name(k=v, ...)', or a mapping with 'name' -> (name, options)."""
    if isinstance(spec, Mapping) or hasattr(spec, "to_dict"):
        options = dict(spec.to_dict() if hasattr(spec, "to_dict") else spec)
        if "name" not in options:
            raise ValueError(f"a component given as a mapping needs a 'name'; got {options!r}.")
        return str(options.pop("name")), options
    if not isinstance(spec, str):
        raise TypeError(f"expected a name, 'name(key=value, ...)' or a mapping; got {spec!r}.")
    text = spec.strip()
    if "(" not in text:
        return text, {}
    if not text.endswith(")"):
        raise ValueError(f"cannot parse {spec!r}: expected 'name(key=value, ...)'.")
    name, args = text[: text.index("(")].strip(), text[text.index("(") + 1 : -1]
    call = ast.parse(f"f({args})", mode="eval").body
    if call.args:
        raise ValueError(f"cannot parse {spec!r}: options must be given as key=value.")
    return name, {kw.arg: _literal(kw.value) for kw in call.keywords}


def _literal(node: ast.AST) -> Any:
    if isinstance(node, ast.Name):  # a bare word: a string (an enum value)
        return node.id
    return ast.literal_eval(node)


def _fields(factory: Callable) -> dict[str, dataclasses.Field]:
    cls = factory.func if isinstance(factory, functools.partial) else factory
    if dataclasses.is_dataclass(cls):
        return {f.name: f for f in dataclasses.fields(cls) if f.init}
    return {}


def _coerce_enums(family: str, name: str, factory: Callable, options: dict) -> dict:
    """Strings for enum-valued options become the member (aliases allowed); a nested sampler
    option (Restart's base) is resolved as a sampler spec."""
    out = dict(options)
    for key, field in _fields(factory).items():
        default = field.default
        if key in out and isinstance(default, SA.Sampler):  # a nested method, e.g. base=euler
            out[key] = sampler(out[key])
        elif key in out and isinstance(default, enum.Enum) and isinstance(out[key], str):
            cls = type(default)
            value = _ENUM_ALIASES.get(out[key], out[key])
            allowed = [m.value for m in cls]
            if value not in allowed:
                aliases = [a for a, v in _ENUM_ALIASES.items() if v in allowed]
                also = f" (aliases: {', '.join(aliases)})" if aliases else ""
                raise ValueError(
                    f"{family} {name!r}: {key}={out[key]!r} is not one of {allowed}{also}."
                )
            out[key] = cls(value)
    return out


def _build(family: str, table: dict, spec: Any, base: type | None) -> Any:
    if base is not None and isinstance(spec, base):
        return spec
    name, options = parse_spec(spec)
    if name not in table:
        near = difflib.get_close_matches(name, table, n=1)
        hint = f"; did you mean {near[0]!r}?" if near else ""
        raise ValueError(f"{family}={name!r} is not one of {', '.join(map(repr, table))}{hint}")
    factory = table[name]
    fields = _fields(factory)
    if fields:
        unknown = sorted(set(options) - set(fields))
        if unknown:
            allowed = ", ".join(sorted(fields)) or "none"
            raise TypeError(f"{family} {name!r} got unknown options {unknown}; allowed: {allowed}.")
        options = _coerce_enums(family, name, factory, options)
    try:
        return factory(**options)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{family} {name!r}: {err}") from None


def schedule(spec) -> S.Schedule:
    """A schedule, e.g. 'vp', 'ddpm(num_timesteps=1000)', 'edm(sigma_max=80.0)'."""
    return _build("schedule", SCHEDULES, spec, S.Schedule)


def parameterisation(spec, schedule: S.Schedule | None = None) -> P.Parameterisation:
    """eps, x0, v, score, velocity, edm (options: sigma_data, scale_input), mean (Ho's mu~;
    option step, 1/T by default on a DDPM schedule; built for `schedule`)."""
    if not isinstance(spec, P.Parameterisation) and parse_spec(spec)[0] == "mean":
        if schedule is None:
            raise ValueError(
                "parameterisation 'mean' predicts the posterior mean on the denoiser's schedule: "
                "it needs it (resolve.parameterisation(spec, schedule=...))."
            )
        spec = {"name": "mean", **parse_spec(spec)[1], "schedule": schedule}
    return _build("parameterisation", PARAMETERISATIONS, spec, P.Parameterisation)


def noise_conditioning(spec) -> M.NoiseConditioning:
    """t, scaled_t (999 t), ddpm_index (T t - 1), logsnr, edm (log(sigma/alpha)/4)."""
    return _build("noise_conditioning", NOISE_CONDITIONINGS, spec, M.NoiseConditioning)


def weighting(spec, parameterisation: P.Parameterisation | None = None) -> L.Weighting:
    """simple (= snr), x0, snr_plus_one, truncated_snr, min_snr(gamma), edm(sigma_data), elbo,
    sigmoid(bias), velocity, output (unit MSE in the space of `parameterisation`)."""
    if not isinstance(spec, L.Weighting) and parse_spec(spec)[0] == "output":
        if parameterisation is None:
            raise ValueError(
                "weighting 'output' weights the network's own output MSE: it needs the "
                "parameterisation (resolve.weighting(spec, parameterisation=...))."
            )
        spec = {"name": "output", **parse_spec(spec)[1], "parameterisation": parameterisation}
    return _build("weighting", WEIGHTINGS, spec, L.Weighting)


def time_sampling(spec) -> L.TimeSampling:
    """uniform, discrete, antithetic, logit_normal(mean, std), edm_lognormal(p_mean, p_std)."""
    return _build("time_sampling", TIME_SAMPLINGS, spec, L.TimeSampling)


def coupling(spec) -> L.Coupling:
    """independent, exact_ot(solver=pot|scipy), sinkhorn(epsilon, threshold, max_iterations)."""
    return _build("coupling", COUPLINGS, spec, L.Coupling)


def bridge(spec) -> L.BridgeNoise:
    """none, constant(sigma), brownian(sigma)."""
    return _build("bridge", BRIDGES, spec, L.BridgeNoise)


def path(spec) -> L.Path:
    """A flow-matching preset: icfm(sigma), otcfm(sigma), sbcfm(sigma), fm(sigma_min), rf."""
    return _build("path", PATHS, spec, L.Path)


def sampler(spec) -> SA.Sampler:
    """A sampler by name with its options, e.g. 'heun(s_churn=40.0)', 'ddpm(variance=beta)'."""
    return _build("sampler", SAMPLERS, spec, SA.Sampler)


GUIDANCES = {
    "cfg": SA.ClassifierFreeGuidance,
    "apg": SA.AdaptiveProjectedGuidance,
    "cfgpp": SA.CFGPlusPlus,
}


def guidance(spec, denoiser, scale: float, null_cond):
    """A guidance wrapper of `denoiser` at `scale`: 'cfg' (options interval, rescale), 'apg'
    (eta, norm_threshold) or 'cfgpp' (scale = CFG++'s lambda in [0, 1], DDIM only), e.g.
    'cfg(rescale=0.7)'; null_cond is the 'no label' conditioning."""
    name, options = parse_spec(spec)
    if name not in GUIDANCES:
        raise ValueError(f"guidance={name!r} is not one of {', '.join(map(repr, GUIDANCES))}")
    factory = GUIDANCES[name]
    allowed = sorted(set(_fields(factory)) - {"denoiser", "scale", "null_cond"})
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(f"guidance {name!r} got unknown options {unknown}; allowed: {allowed}.")
    try:
        return factory(denoiser, scale=scale, null_cond=null_cond, **options)
    except (TypeError, ValueError) as err:
        raise type(err)(f"guidance {name!r}: {err}") from None


def grid(spec) -> SA.Grid:
    """auto (the measured choice per schedule), uniform, logsnr, karras(rho), quadratic, leading / trailing / linspace (DDPM timesteps),
    k_karras / k_exponential / k_polyexponential / k_vp (k-diffusion's sigmas, final 0)."""
    return _build("grid", GRIDS, spec, SA.Grid)


def sampler_table() -> str:
    """The docs table of every named sampler: its record, order, stochastic, NFE, paper."""
    lines = [
        "| config name | record (defaults) | order | stochastic | NFE per step | paper |",
        "|---|---|---|---|---|---|",
    ]
    for name in SAMPLERS:
        s = sampler(name)
        order = "-" if s.accuracy_order is None else s.accuracy_order
        lines.append(
            f"| {name} | `{s!r}` | {order} | {'yes' if s.stochastic else 'no'} "
            f"| {s.nfe_per_step} | {s.paper} |"
        )
    return "\n".join(lines)
