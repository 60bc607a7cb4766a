"""Every choice of the generic experiment, resolved from its config into library objects.

`build(config)` turns the config's strings (network, process or path, parameterisation, noise
conditioning, loss, weighting, time sampling, coupling, optimizer, sampler, grid, guidance) into
validated components, naming the config key of any bad value; it needs no data and does no work.
"""

from __future__ import annotations

import dataclasses
import functools

import jax

from diffjax import Denoiser, FlaxNetwork, analytic, resolve
from diffjax.data import TFDS_IMAGE_DATASETS
from diffjax.data.images import DIGITS_LEVELS
from diffjax.losses import (
    ExactOT,
    Independent,
    Path,
    ReverseVariance,
    denoising_loss,
    flow_matching_loss,
    make_hybrid_loss,
    make_vlb_loss,
    with_label_dropout,
)
from diffjax.networks import MLP, DiT, UNet
from diffjax.samplers import ClipX0, pairing_ok
from diffjax.training import make_optimizer
from experiments.datasets import MIXTURES
from experiments.launch import resolved

NETWORKS = {"mlp": MLP, "unet": UNet, "dit": DiT}
LOSSES = ("flow_matching", "denoising", "hybrid", "vlb")
VLB_VARIANCES = {
    "beta": ReverseVariance.FIXED_LARGE,
    "beta_tilde": ReverseVariance.FIXED_SMALL,
    "learned": ReverseVariance.LEARNED_RANGE,
}


@dataclasses.dataclass(frozen=True, eq=False)
class Components:
    denoiser: Denoiser  # the model trained
    loss: object  # loss(params, batch, key) -> (batch,)
    path: Path  # how x_t is drawn (the denoiser's diffusion process unless a flow path is set)
    host_ot: bool  # exact OT pairs formed in the input pipeline instead of inside the step
    optimizer: object
    sampler: object
    grid: object
    sampling_denoiser: object  # the denoiser that samples: guidance / x0 clipping / closed time
    shape: tuple = ()  # one example's shape (set from the data by with_data)
    images: bool = False


def with_data(comps: Components, data) -> Components:
    """The components with the data's example shape; a learned variance must match its channels."""
    if comps.denoiser.learned_variance and data.shape[-1] != _channels_of(comps):
        raise ValueError(
            f"config.objective (a learned variance): the network outputs {_channels_of(comps)} channels "
            f"per half, the data has {data.shape[-1]}."
        )
    return dataclasses.replace(comps, shape=tuple(data.shape), images=data.images)


def _channels_of(comps: Components) -> int:
    module = comps.denoiser.network.module
    return (getattr(module, "out_dim", None) or getattr(module, "out_ch", None)) // 2


def num_classes(config) -> int:
    """The number of labels of config.data.name (0 when it has none), without loading it."""
    name = config.data.name
    if name.startswith("gmm:") and name[4:] in MIXTURES:
        return int(MIXTURES[name[4:]]().weights.shape[0])
    if name == "digits":
        return 10
    spec = TFDS_IMAGE_DATASETS.get(name)
    return spec.num_classes if spec else 0


def network(config, classes: int, channels: int | None):
    """The Flax module of config.network.name with its own sub-config; a learned variance
    doubles the output (mean and variance interpolation v, Nichol & Dhariwal)."""
    n = config.network
    if n.name not in NETWORKS:
        raise ValueError(f"config.network.name={n.name!r} is not one of {sorted(NETWORKS)}.")
    options = getattr(n, n.name).to_dict()
    cond = classes if config.data.conditional else None
    if cond is not None:
        options["num_classes"] = cond
    if learned_variance(config):
        key = "out_dim" if n.name == "mlp" else "out_ch"
        options[key] = 2 * channels
    return NETWORKS[n.name](**options)


def learned_variance(config) -> bool:
    """Whether the network also outputs Nichol & Dhariwal's variance interpolation."""
    o = config.objective
    if o.loss == "vlb" and o.vlb_variance not in VLB_VARIANCES:
        raise ValueError(
            f"config.objective.vlb_variance={o.vlb_variance!r} is not one of {list(VLB_VARIANCES)}."
        )
    return o.loss == "hybrid" or (o.loss == "vlb" and o.vlb_variance == "learned")


def _path(config) -> Path:
    p = config.process
    if p.path is None:
        return Path(schedule=resolved("process.schedule", resolve.schedule, p.schedule))
    sigma = {} if p.sigma is None else {"sigma": p.sigma}
    path = resolved("process.path", resolve.path, {"name": p.path, **sigma})
    if p.coupling is not None:
        coupling = resolved("process.coupling", resolve.coupling, p.coupling)
        path = dataclasses.replace(path, coupling=coupling)
    return path


def _loss(config, denoiser, path, classes: int):
    o = config.objective
    if o.loss not in LOSSES:
        raise ValueError(f"config.objective.loss={o.loss!r} is not one of {list(LOSSES)}.")
    times = resolved("objective.time_sampling", resolve.time_sampling, o.time_sampling)
    if o.loss == "flow_matching":
        loss = flow_matching_loss(denoiser, path, time_sampling=times)
    elif o.loss == "denoising":
        weighting = resolved(
            "objective.weighting",
            functools.partial(resolve.weighting, parameterisation=denoiser.parameterisation),
            o.weighting,
        )
        try:
            loss = denoising_loss(denoiser, weighting=weighting, time_sampling=times, path=path)
        except ValueError as err:
            raise ValueError(f"config.objective.loss='denoising': {err}") from None
    elif o.loss == "hybrid":
        loss = make_hybrid_loss(denoiser, vlb_weight=o.hybrid_vlb_weight)
    else:
        levels = DIGITS_LEVELS if config.data.name == "digits" else 256
        variance = VLB_VARIANCES[o.vlb_variance]
        try:
            loss = make_vlb_loss(denoiser, variance=variance, num_levels=levels)
        except (TypeError, ValueError) as err:
            raise ValueError(f"config.objective.loss='vlb': {err}") from None
    if o.label_dropout > 0:
        if not config.data.conditional:
            raise ValueError(
                "config.objective.label_dropout > 0 needs config.data.conditional=True."
            )
        loss = with_label_dropout(loss, o.label_dropout, classes)
    return loss


def optimizer(config, total_steps: int | None = None):
    o = config.optim
    try:
        return make_optimizer(
            o.name,
            o.learning_rate,
            warmup_steps=o.warmup_steps,
            lr_schedule=o.lr_schedule,
            total_steps=total_steps,
            grad_clip=o.grad_clip,
            weight_decay=o.weight_decay,
        )
    except ValueError as err:
        raise ValueError(f"config.optim: {err}") from None


def sampling_denoiser(config, denoiser):
    """The denoiser that samples under config.sample: guidance, x0 clipping, closed time."""
    return _sampling_denoiser(config, denoiser, num_classes(config))


def _sampling_denoiser(config, denoiser, classes: int):
    s = config.sample
    if not s.clip_time:  # the network on the closed [0, 1], as torchcfm integrates flows
        closed = dataclasses.replace(denoiser.schedule, t_min=0.0, t_max=1.0)
        denoiser = dataclasses.replace(denoiser, schedule=closed)
    if s.clip_x0 is not None:
        denoiser = ClipX0(denoiser, s.clip_x0)
    if s.guidance_scale is not None:
        if not config.data.conditional:
            raise ValueError("config.sample.guidance_scale needs config.data.conditional=True.")
        denoiser = resolved(
            "sample.guidance",
            lambda spec: resolve.guidance(spec, denoiser, s.guidance_scale, classes),
            s.guidance,
        )
        check_guided_sampler(config, denoiser, "config.sample.guidance")
    return denoiser


def check_guided_sampler(config, guided, key: str) -> None:
    """CFG++ hands the sampler an (x0, eps) pair that does not reconstruct x: only DDIM steps
    from that pair as the method means; any other config.sample.sampler is refused."""
    sampler = resolved("sample.sampler", resolve.sampler, config.sample.sampler)
    if not pairing_ok(guided, sampler):
        raise ValueError(
            f"{key}: {type(guided).__name__} renoises with the unconditional eps and needs "
            f"config.sample.sampler='ddim' (any eta); got {config.sample.sampler!r}."
        )


def build(config, total_steps: int | None = None) -> Components:
    classes = num_classes(config)
    if config.data.conditional and not classes:
        raise ValueError(f"config.data.conditional=True: {config.data.name!r} has no labels.")
    path = _path(config)
    o = config.objective
    param = resolved(
        "objective.parameterisation",
        functools.partial(resolve.parameterisation, schedule=path.schedule),
        o.parameterisation,
    )
    noise = resolved(
        "objective.noise_conditioning", resolve.noise_conditioning, o.noise_conditioning
    )
    channels = _channels(config)
    module = network(config, classes, channels)
    try:
        denoiser = Denoiser(
            FlaxNetwork(module),
            path.schedule,
            param,
            noise,
            learned_variance=learned_variance(config),
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"config.objective / config.process: {err}") from None
    # OT-CFM with the coupling in the input pipeline is the I-CFM loss on OT-paired batches; on
    # several devices always (a host callback inside a multi-device step deadlocks XLA:CPU)
    several = jax.device_count() > 1
    host_ot = (config.train.couple_on_host or several) and isinstance(path.coupling, ExactOT)
    if host_ot:
        path = dataclasses.replace(path, coupling=Independent())
    sampler = resolved("sample.sampler", resolve.sampler, config.sample.sampler)
    if (
        getattr(sampler, "variance", None) is ReverseVariance.LEARNED_RANGE
        and not denoiser.learned_variance
    ):
        raise ValueError(
            "config.sample.sampler: variance 'learned_range' needs a model with a learned variance "
            "(config.objective.loss='hybrid', or 'vlb' with vlb_variance='learned')."
        )
    return Components(
        denoiser=denoiser,
        loss=_loss(config, denoiser, path, classes),
        path=path,
        host_ot=host_ot,
        optimizer=optimizer(config, total_steps),
        sampler=sampler,
        grid=resolved("sample.grid", resolve.grid, config.sample.grid),
        sampling_denoiser=_sampling_denoiser(config, denoiser, classes),
    )


def _channels(config) -> int:
    """The last axis of one example (2 for 2-D sets, d for a mixture, image channels)."""
    name = config.data.name
    if name.startswith("2d:"):
        return 2
    if name.startswith("gmm:") and name[4:] in MIXTURES:
        return int(MIXTURES[name[4:]]().means.shape[1])
    return 3 if name in ("cifar10", "celeb_a") else 1


def exact_reference(data, components):
    """The exact denoiser of the data's mixture on the sampling schedule (None without one)."""
    if data.gmm is None:
        return None
    return analytic.exact_denoiser(data.gmm, components.sampling_denoiser.schedule)
