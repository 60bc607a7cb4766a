"""The metrics of the generic experiment (`config.eval.metrics`), each fitting some data:

- `w2`: exact W2 (POT) of the samples to the test set (points);
- `npe`: normalised path energy of the sampling trajectories (2-D tasks with a source);
- `fd`: Frechet distance in the in-project digits classifier's features, with the train-vs-held-out
  floor and the samples' class histogram (8x8 digits);
- `fid`: Inception FID against the evaluation split (needs `eval.inception_weights`, a local file);
- `bound`: the DDPM variational bound in bits/dim on held-out data, with its parts over
  timesteps (prior, decoder, KL terms by range of i) (a DiscreteDDPM process);
- `pf_nll`: NLL by the probability-flow ODE (bits/dim for images, after uniform dequantisation;
  nats/example for points, with the KL estimate E[log p - log q] where the density is exact);
- `denoiser_error`: E||x0_hat - E[x0 | x_t]||^2 / d against the exact denoiser, over log-SNR (mixtures);
- `nfe_sweep`: W2 and sampler error at each NFE of `eval.nfe_sweep` (mixtures);
- `guidance_sweep`: FD, class accuracy and the Inception-Score analogue at each guidance method
  and scale of `eval.guidance_methods` x `eval.guidance_sweep` (class-conditional digits;
  `experiments/guidance_eval.py`);
- `sampler_error`: RMS distance of the samples to those of the exact denoiser through the same
  sampler, grid and initial noise: the error the network adds to the solver's (mixtures).

Every metric refuses non-finite samples (`diffjax.metrics`), so a diverged model is never scored.
"""

from __future__ import annotations

import dataclasses
import functools
import time
import zlib

import jax
import jax.numpy as jnp
import numpy as np

from diffjax import analytic, metrics
from diffjax.samplers import (
    ClipX0,
    Hutchinson,
    log_likelihood,
    sample,
    time_grid,
)
from diffjax.samplers._likelihood import bits_per_dim_dequantized
from diffjax.schedules import DiscreteDDPM
from experiments.bound_eval import bound, check_bound, standard_error
from experiments.guidance_eval import check_guidance_methods, guidance_sweep


@dataclasses.dataclass(frozen=True, eq=False)
class Evaluation:
    """What a metric sees: the run's config, data and components, the EMA (or final) params,
    the samples with their initial noise, trajectory and grid, and a key of its own."""

    config: object
    data: object
    components: object
    params: object
    samples: np.ndarray
    x_init: np.ndarray
    cond: np.ndarray | None
    trajectory: np.ndarray | None
    grid: np.ndarray
    key: jax.Array


def w2(ev: Evaluation) -> dict:
    return {"w2": metrics.wasserstein2(ev.samples, ev.data.test)}


def npe(ev: Evaluation) -> dict:
    velocities = np.diff(ev.trajectory, axis=0) / np.diff(ev.grid)[:, None, None]
    w2_src_tgt = metrics.wasserstein2(ev.data.test_source, ev.data.test)
    energy = metrics.path_energy(velocities, np.diff(ev.grid))
    return {"npe": metrics.normalised_path_energy(energy, w2_src_tgt)}


def digit_scores(params, images: np.ndarray, test: np.ndarray, labels=None) -> dict:
    """FD to the held-out digits, the Inception-Score analogue and, given the labels asked for,
    the fraction of images classified as them (the digits classifier's predictions)."""
    scores = {
        "fd": metrics.digits_frechet_distance(params, images, test),
        "inception_score": metrics.digits_inception_score(params, images),
    }
    if labels is not None:
        predicted = metrics.digits_predictions(params, images)
        scores["class_accuracy"] = float(np.mean(predicted == np.asarray(labels)))
    return scores


def fd(ev: Evaluation) -> dict:
    """Samples vs held-out digits; the floor is as many training digits vs held-out."""
    params, accuracy = metrics.digits_classifier()
    train = ev.data.train_images
    n = min(len(ev.samples), len(train))
    train_images = np.stack([train[i]["image"] for i in range(n)])
    counts = np.bincount(metrics.digits_predictions(params, ev.samples), minlength=10)
    return digit_scores(params, ev.samples, ev.data.test, ev.cond) | {
        "fd_train_vs_heldout": metrics.digits_frechet_distance(params, train_images, ev.data.test),
        "classifier_heldout_accuracy": accuracy,
        "sample_class_fractions": (counts / counts.sum()).round(4).tolist(),
    }


@functools.lru_cache(maxsize=2)
def inception(path: str):
    """The Inception network of a local weights file (loaded once; a bad path fails at once)."""
    return metrics.load_inception_fid(path)


def fid(ev: Evaluation) -> dict:
    network = inception(ev.config.eval.inception_weights)
    return {"fid": metrics.inception_fid(network, ev.samples, ev.data.test)}


def pf_nll(ev: Evaluation) -> dict:
    """-log p by the probability-flow ODE on the first eval.pf_nll_examples test examples. Images
    are dequantised uniformly within each level's bin, eval.pf_nll_dequantisations times per
    example with eval.pf_nll_probes Hutchinson probes each; an example's bits/dim is the mean over
    its draws."""
    cfg, den = ev.config.eval, ev.components.denoiser
    draws = cfg.pf_nll_dequantisations if ev.data.images else 1
    x = np.repeat(np.asarray(ev.data.test[: cfg.pf_nll_examples], np.float32), draws, axis=0)
    cond = (
        None
        if ev.data.test_labels is None or not ev.config.data.conditional
        else jnp.asarray(np.repeat(ev.data.test_labels[: cfg.pf_nll_examples], draws, axis=0))
    )
    k_deq, k_probe = jax.random.split(ev.key)
    if ev.data.images:
        width = 2.0 / (ev.data.num_levels - 1)
        x = x + width * (np.asarray(jax.random.uniform(k_deq, x.shape)) - 0.5)
    divergence = Hutchinson(num_probes=cfg.pf_nll_probes) if ev.data.images else None
    kwargs = {"divergence": divergence, "key": k_probe} if divergence else {}
    try:
        log_q = log_likelihood(den, jnp.asarray(x), params=ev.params, cond=cond, **kwargs)
        log_q = np.asarray(log_q)
    except jax.errors.JaxRuntimeError as err:  # a field too stiff to integrate: say so, no number
        if "maximum number of solver steps" not in str(err):
            raise
        return {"pf_nll_error": "the probability-flow ODE hit the solver's max_steps (16384)"}
    log_q = metrics.finite("probability-flow log-likelihood", log_q)
    if ev.data.images:
        bpd = np.asarray(bits_per_dim_dequantized(log_q, x, num_bins=ev.data.num_levels - 1))
        bpd = bpd.reshape(-1, draws).mean(axis=1)
        return {"pf_bits_per_dim": float(bpd.mean()), "pf_bits_per_dim_se": standard_error(bpd)}
    out = {"pf_nll": float(-log_q.mean()), "pf_nll_se": standard_error(-log_q)}
    if ev.data.gmm is not None:  # the exact density at the ODE's start t_min, in float64
        with jax.enable_x64(True):
            rec = den.schedule(jnp.full((len(x),), den.schedule.t_min, jnp.float64))
            x64 = jnp.asarray(x, jnp.float64)
            log_p = np.asarray(analytic.log_density(_float64(ev.data.gmm), x64, rec))
        out.update(kl=float(np.mean(log_p - log_q)), kl_se=standard_error(log_p - log_q))
    return out


def _float64(gmm):
    return jax.tree.map(lambda a: jnp.asarray(a, jnp.float64), gmm)


def denoiser_error(ev: Evaluation, num_levels: int = 9) -> dict:
    """E||x0_hat - E[x0 | x_t]||^2 / d at log-SNR levels from +8 to -8 (clipped to the
    schedule's range), x_t from the test points; the reference in float64. The mean over the
    levels is `denoiser_error`."""
    den = ev.components.denoiser
    sched = den.schedule
    with jax.enable_x64(True):
        lo, hi = (
            float(sched(jnp.asarray(t, jnp.float64)).logsnr) for t in (sched.t_max, sched.t_min)
        )
        levels = np.linspace(min(8.0, hi), max(-8.0, lo), num_levels)
        times = [float(sched.t_from_logsnr(jnp.asarray(lam, jnp.float64))) for lam in levels]
    x0 = jnp.asarray(ev.data.test, jnp.float32)
    model = jax.jit(lambda x, t: den(ev.params, x, t, _cond(ev, len(x0)))[0])
    with jax.enable_x64(True):
        exact = analytic.exact_denoiser(_float64(ev.data.gmm), sched)
        truth_at = jax.jit(lambda x, t: exact(None, x, t)[0])
    errors = {}
    for i, (lam, t) in enumerate(zip(levels, times, strict=True)):
        t_b = jnp.full((len(x0),), t, jnp.float32)
        rec = sched(t_b)
        eps = jax.random.normal(jax.random.fold_in(ev.key, i), x0.shape, jnp.float32)
        x_t = rec.alpha[:, None] * x0 + rec.sigma[:, None] * eps
        pred = np.asarray(model(x_t, t_b), np.float64)
        with jax.enable_x64(True):
            truth = truth_at(jnp.asarray(x_t, jnp.float64), jnp.asarray(t_b, jnp.float64))
            errors[f"{lam:.1f}"] = float(np.mean((pred - np.asarray(truth)) ** 2))
    mean = float(np.mean(list(errors.values())))
    return {"denoiser_error": mean, "denoiser_error_by_logsnr": errors}


def _cond(ev: Evaluation, n: int):
    if not ev.config.data.conditional:
        return None
    return jnp.asarray(ev.data.test_labels[:n])


def sampler_error(ev: Evaluation) -> dict:
    """The exact denoiser through the same sampler, grid and initial noise (unconditional)."""
    ref = exact_samples(ev, ev.grid)
    err = np.sqrt(np.mean((ev.samples - ref) ** 2))
    return {
        "sampler_error": float(err),
        "w2_exact_sampler": metrics.wasserstein2(ref, ev.data.test),
    }


def exact_samples(ev: Evaluation, grid) -> np.ndarray:
    """The exact denoiser (float64) from ev.x_init through the run's sampler on `grid` (cached:
    every cell of a study that shares the mixture, process, sampler and noise shares it)."""
    key = jax.random.fold_in(ev.key, 1) if ev.components.sampler.stochastic else None
    x_init = np.asarray(ev.x_init, np.float64)
    gmm = ev.data.gmm
    return _exact_samples(
        _Keyed(gmm, tuple(np.asarray(a).tobytes() for a in gmm)),
        ev.components.sampling_denoiser.schedule,
        ev.components.sampler,
        ev.config.sample.clip_x0,
        _bytes_keyed(np.asarray(grid, np.float64)),
        _bytes_keyed(x_init),
        None if key is None else _bytes_keyed(np.asarray(jax.random.key_data(key))),
    ).copy()


class _Keyed:
    """A value hashed by a key of its contents (for the cache)."""

    def __init__(self, value, key):
        self.value, self._key = value, key

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return self._key == other._key


def _bytes_keyed(a: np.ndarray) -> _Keyed:
    return _Keyed(a, (a.shape, str(a.dtype), a.tobytes()))


@functools.lru_cache(maxsize=64)
def _exact_samples(gmm, schedule, sampler, clip_x0, grid, x_init, key):
    with jax.enable_x64(True):
        exact = analytic.exact_denoiser(_float64(gmm.value), schedule)
        if clip_x0 is not None:
            exact = ClipX0(exact, clip_x0)
        key = None if key is None else jax.random.wrap_key_data(jnp.asarray(key.value))
        out = sample(exact, jnp.asarray(x_init.value), grid.value, sampler, key=key)
        return np.asarray(out.samples)


def nfe_steps(sampler, nfe: int) -> int:
    """Steps of `sampler` spending `nfe` network evaluations (an integer number per step)."""
    per_step = sampler.nfe_per_step
    if not per_step.isdigit() or nfe % int(per_step) or nfe < int(per_step):
        raise ValueError(
            f"config.eval.nfe_sweep: NFE {nfe} is not a positive multiple of the NFE per step of "
            f"{sampler!r} ({per_step!r})."
        )
    return nfe // int(per_step)


def nfe_sweep(ev: Evaluation) -> dict:
    """Per NFE of eval.nfe_sweep: the run's sampler and grid kind at that budget from the same
    initial noise; W2 of its samples to the test points (`w2_nfe<N>`), RMS distance to the exact
    denoiser's samples through the same solver (`sampler_error_nfe<N>`) and their W2
    (`w2_exact_nfe<N>`, the solver's own share). Mixtures, unconditional."""
    c, comps = ev.config.sample, ev.components
    den, out = comps.sampling_denoiser, {}
    for nfe in ev.config.eval.nfe_sweep:
        steps = nfe_steps(comps.sampler, nfe)
        grid = time_grid(den.schedule, steps, comps.grid, t_start=c.t_start, t_end=c.t_end)
        key = jax.random.fold_in(ev.key, 1) if comps.sampler.stochastic else None
        res = sample(den, jnp.asarray(ev.x_init), grid, comps.sampler, key=key, params=ev.params)
        model = metrics.finite(f"samples at NFE {nfe}", np.asarray(res.samples))
        ref = exact_samples(ev, grid)
        out[f"w2_nfe{nfe}"] = metrics.wasserstein2(model, ev.data.test)
        out[f"sampler_error_nfe{nfe}"] = float(np.sqrt(np.mean((model - ref) ** 2)))
        out[f"w2_exact_nfe{nfe}"] = metrics.wasserstein2(ref, ev.data.test)
    return out


SAMPLE_FREE = frozenset({"bound", "pf_nll", "denoiser_error"})  # metrics that score no samples
PREVIEW_SAMPLES = 100  # drawn (samples.png) when every metric is sample-free


METRICS = {
    "w2": w2,
    "npe": npe,
    "fd": fd,
    "fid": fid,
    "bound": bound,
    "pf_nll": pf_nll,
    "denoiser_error": denoiser_error,
    "sampler_error": sampler_error,
    "nfe_sweep": nfe_sweep,
    "guidance_sweep": guidance_sweep,
}


def check_metrics(config, data=None) -> None:
    """Every name in config.eval.metrics exists and fits the data (before any work)."""
    for name in config.eval.metrics:
        if name not in METRICS:
            raise ValueError(f"config.eval.metrics: {name!r} is not one of {sorted(METRICS)}.")
    if "bound" in config.eval.metrics:
        check_bound(config)
    if "nfe_sweep" in config.eval.metrics:
        from diffjax import resolve
        from experiments.launch import resolved

        sampler = resolved("sample.sampler", resolve.sampler, config.sample.sampler)
        for nfe in config.eval.nfe_sweep:
            nfe_steps(sampler, nfe)
    if "guidance_sweep" in config.eval.metrics:
        check_guidance_methods(config)
    if data is None:
        return
    needs = {
        "w2": (not data.images, "points"),
        "npe": (data.test_source is not None, "a 2-D task with a source ('2d:<task>')"),
        "fd": (data.shape == (8, 8, 1), "8x8 digits"),
        "fid": (bool(config.eval.inception_weights), "config.eval.inception_weights"),
        "bound": (isinstance(config_schedule(config), DiscreteDDPM), "a DiscreteDDPM process"),
        "denoiser_error": (
            data.gmm is not None and not config.data.conditional,
            "an unconditional model of a Gaussian mixture ('gmm:<name>')",
        ),
        "sampler_error": (
            data.gmm is not None and not config.data.conditional,
            "an unconditional model of a Gaussian mixture ('gmm:<name>')",
        ),
        "nfe_sweep": (
            data.gmm is not None and not config.data.conditional,
            "an unconditional model of a Gaussian mixture ('gmm:<name>')",
        ),
        "guidance_sweep": (
            data.shape == (8, 8, 1) and config.data.conditional,
            "class-conditional 8x8 digits (data.conditional=True)",
        ),
    }
    for name in config.eval.metrics:
        ok, what = needs.get(name, (True, ""))
        if not ok:
            raise ValueError(f"config.eval.metrics: {name!r} needs {what} ({config.data.name!r}).")
    if "fid" in config.eval.metrics:
        inception(config.eval.inception_weights)  # a wrong path fails now, not after training


def config_schedule(config):
    from experiments.components import _path

    return _path(config).schedule


def evaluate(ev: Evaluation) -> dict:
    """Every metric of config.eval.metrics, with the seconds each took under `metric_seconds`.
    A metric's key is fold_in(key, crc32 of its name): its value does not depend on which other
    metrics run or in what order."""
    out, seconds = {}, {}
    for name in ev.config.eval.metrics:
        start = time.perf_counter()
        key = jax.random.fold_in(ev.key, zlib.crc32(name.encode()) & 0x7FFFFFFF)
        out.update(METRICS[name](dataclasses.replace(ev, key=key)))
        seconds[name] = round(time.perf_counter() - start, 3)
    return {**out, "metric_seconds": seconds}
