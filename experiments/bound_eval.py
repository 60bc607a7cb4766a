"""The `bound` metric: the DDPM variational bound in bits/dim on held-out data (Ho et al. 2020,
eq. 5), its parts over timesteps, and the bound of the chain stopped at the steps of
`eval.bound_decoder_steps` with a discretised decoder there (`diffjax.losses.truncated_bound`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np

from diffjax.losses import bits_per_dim, ddpm_bound, decoder_nll, prior_kl, truncated_bound

if TYPE_CHECKING:
    from experiments.evaluation import Evaluation


def bound(ev: Evaluation, chunk: int = 500) -> dict:
    """The full bound L_T + sum_t L_{t-1} (one lax.scan over all T terms), in bits/dim, and its
    parts (`bound_parts`): where a model's bits go."""
    den, images = ev.components.denoiser, ev.data.test
    variance = resolve_variance(ev.config)
    levels = ev.data.num_levels or 256
    run = jax.jit(
        lambda x, k: ddpm_bound(den, ev.params, x, k, variance=variance, num_levels=levels)
    )
    outs = _chunked(run, images, ev.key, chunk)
    nats = np.concatenate([np.asarray(total) for total, _ in outs])
    terms = np.concatenate([np.asarray(t) for _, t in outs], axis=1)
    bpd = np.asarray(bits_per_dim(jnp.asarray(nats), jnp.asarray(images)))
    prior = np.asarray(prior_kl(den.schedule, jnp.asarray(images)))
    return {
        "bits_per_dim": float(bpd.mean()),
        "bits_per_dim_se": standard_error(bpd),
        "bound_parts": bound_parts(terms, prior, images[0].size),
    } | _truncated_bounds(ev, terms, prior, levels, chunk)


def _truncated_bounds(ev: Evaluation, terms, prior, levels: int, chunk: int) -> dict:
    """bits/dim of the chain stopped at each k of eval.bound_decoder_steps and decoded from x_k
    (`diffjax.losses.truncated_bound`), from the full bound's own terms."""
    steps = tuple(ev.config.eval.bound_decoder_steps)
    if not steps:
        return {}
    den, images = ev.components.denoiser, ev.data.test
    # one compilation for every k: the step is an argument (checked by check_bound)
    decode = jax.jit(lambda x, key, k: decoder_nll(den, ev.params, x, k, key, num_levels=levels))
    out, out_se = {}, {}
    for k in steps:
        key = jax.random.fold_in(ev.key, 1_000_003 + k)
        run = lambda x, kk, k=k: decode(x, kk, jnp.int32(k))
        decoder = np.concatenate([np.asarray(d) for d in _chunked(run, images, key, chunk)])
        nats = np.asarray(truncated_bound(terms, prior, decoder, k), np.float64)
        bpd = nats / (images[0].size * np.log(2.0))
        out[str(k)], out_se[str(k)] = float(bpd.mean()), standard_error(bpd)
    return {"bits_per_dim_decoder_at": out, "bits_per_dim_decoder_at_se": out_se}


def _chunked(run, images: np.ndarray, key, chunk: int) -> list:
    """run(x, key) on consecutive chunks of images, chunk i with fold_in(key, i's offset)."""
    return [
        run(jnp.asarray(images[i : i + chunk]), jax.random.fold_in(key, i))
        for i in range(0, len(images), chunk)
    ]


def bound_parts(terms: np.ndarray, prior: np.ndarray, dims: int) -> dict:
    """The bound's mean over examples split over timesteps, bits/dim: the prior L_T, the decoder
    L_0 (i = 1) and the KL terms L_{i-1} summed over i in 2-10, 11-100 and 101-T. The parts add
    up to the bound. terms: (T, batch) nats for i = 1..T; prior: (batch,) nats."""
    per_step = np.mean(np.asarray(terms, np.float64), axis=1) / (dims * np.log(2.0))
    parts = {"prior L_T": float(np.mean(prior) / (dims * np.log(2.0)))}
    parts["decoder L_0 (i = 1)"] = float(per_step[0])
    for lo, hi in ((2, 10), (11, 100), (101, len(per_step))):
        parts[f"i = {lo}-{hi}"] = float(np.sum(per_step[lo - 1 : hi]))
    return parts


def resolve_variance(config):
    from diffjax import resolve
    from experiments.launch import resolved

    spec = {"name": "ddpm", "variance": config.eval.bound_variance}
    return resolved("eval.bound_variance", resolve.sampler, spec).variance


def check_bound(config) -> None:
    """eval.bound_variance and eval.bound_decoder_steps, before any work."""
    from experiments.evaluation import config_schedule

    resolve_variance(config)
    steps = tuple(config.eval.bound_decoder_steps)
    schedule = config_schedule(config)
    T = getattr(schedule, "num_timesteps", None)
    if steps and T is None:
        raise ValueError("config.eval.bound_decoder_steps needs a DiscreteDDPM process.")
    for k in steps:
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= T:
            raise ValueError(f"config.eval.bound_decoder_steps: {k!r} is not a step in 1..T = {T}.")


def standard_error(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0.0
