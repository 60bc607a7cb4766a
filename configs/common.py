"""The base of every config: each key of the generic experiment (experiments/run.py) with
its default. A family's config (flow2d.py, ddpm_digits.py, gmm.py) starts from `base()` and sets a
few keys; its variants (`--config configs/<family>.py:<variant>`) set a few more.
Strings name library components and are resolved by diffjax.resolve (see docs/api.md).
"""

import ml_collections
from ml_collections.config_dict import placeholder


def base() -> ml_collections.ConfigDict:
    # one key per line: `--help` reads each line's comment as the key's description
    # fmt: off
    c = ml_collections.ConfigDict()
    c.name = "run"  # a label carried into results.json and study tables
    c.seed = 0  # data draws, initialisation, training and sampling keys derive from it

    c.data = ml_collections.ConfigDict()
    c.data.name = "2d:gaussian_to_8gaussians"  # '2d:<task|set>', 'gmm:<mixture>', 'digits', 'npz:<path>' or a TFDS name
    c.data.num_train = 10_000  # points drawn for training (2-D sets and mixtures)
    c.data.num_test = 10_000  # evaluation points; for images, at most this many held-out images
    c.data.data_dir = placeholder(str)  # TFDS data_dir
    c.data.eval_split = "test"  # images: the held-out split
    c.data.conditional = False  # class-conditional model (mixture components, image labels)

    c.network = ml_collections.ConfigDict()
    c.network.name = "mlp"  # mlp | unet | dit; its options are network.<name>.*
    c.network.mlp = ml_collections.ConfigDict({"width": 64, "depth": 3})
    c.network.unet = ml_collections.ConfigDict(
        {"ch": 32, "ch_mult": (1, 2), "num_res_blocks": 1, "attn_resolutions": (4,), "dropout": 0.1, "groups": 8}
    )
    c.network.dit = ml_collections.ConfigDict({"patch": 2, "hidden": 128, "depth": 4, "heads": 4})

    c.process = ml_collections.ConfigDict()
    c.process.path = placeholder(str)  # flow path preset icfm | otcfm | sbcfm | fm | rf (its schedule); None: diffusion
    c.process.sigma = placeholder(float)  # the path's bridge noise; None: the preset's own
    c.process.coupling = placeholder(str)  # None: the path's own; independent | exact_ot | 'sinkhorn(epsilon=2.0)'
    c.process.schedule = "ddpm"  # diffusion schedule when path is None: ddpm | vp | cosine | edm | rectified_flow | ...

    c.objective = ml_collections.ConfigDict()
    c.objective.loss = "flow_matching"  # flow_matching | denoising | hybrid (Nichol & Dhariwal, learned variance) | vlb (Ho's bound)
    c.objective.parameterisation = "velocity"  # eps | x0 | v | score | velocity | edm | mean (Ho's mu~)
    c.objective.noise_conditioning = "t"  # what the network sees: t | scaled_t | ddpm_index | logsnr | edm
    c.objective.weighting = "simple"  # denoising: simple (=snr) | x0 | min_snr(gamma=5) | sigmoid | edm | elbo | velocity | output
    c.objective.time_sampling = "uniform"  # uniform | discrete | antithetic | logit_normal | edm_lognormal
    c.objective.label_dropout = 0.0  # conditional: probability of the 'no label' index (classifier-free guidance)
    c.objective.hybrid_vlb_weight = 1e-3  # hybrid: lambda of L_simple + lambda L_vlb
    c.objective.vlb_variance = "beta"  # vlb (Ho's true bound L): beta | beta_tilde | learned

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "adamw"  # adam | adamw
    c.optim.learning_rate = 1e-3
    c.optim.weight_decay = 1e-5  # adamw only
    c.optim.warmup_steps = 0  # linear warm-up from 0
    c.optim.lr_schedule = "constant"  # constant | cosine (to 0 at the last step)
    c.optim.grad_clip = placeholder(float)  # global-norm clip; None: none
    c.optim.ema = 0.0  # EMA decay of the evaluated parameters; 0: the last parameters
    c.optim.ema_warmup = False  # decay min(ema, (1 + k) / (10 + k)) (Ho et al.'s warm-up)

    c.train = ml_collections.ConfigDict()
    c.train.batch_size = 512  # global batch (split over devices)
    c.train.num_steps = placeholder(int)  # optimizer steps; None: train.epochs over the points
    c.train.epochs = placeholder(int)  # points only: epochs of num_train // batch_size steps
    c.train.reflow = 0  # rf only: reflow rounds after the first training (1: the 2-rectified flow)
    c.train.couple_on_host = False  # exact OT in the input pipeline (always on several devices)
    c.train.steps_per_call = 1  # >1: that many optimizer steps per dispatch (lax.scan); must divide the total
    c.train.checkpoint_every = 1000  # steps; also saved at the end and on SIGTERM
    c.train.keep_checkpoints_every = 0  # >0: checkpoints at multiples of it are kept (eval.checkpoint_step)
    c.train.log_every = 100  # steps between metrics.jsonl / TensorBoard records
    c.train.sample_every = 0  # images: a sample grid every this many steps (0: none)
    c.train.progress = True  # progress bar

    c.sample = ml_collections.ConfigDict()
    # the measured defaults (docs/samplers.md): iPNDM on the grid measured best for the schedule
    c.sample.sampler = "ipndm"  # euler | heun | ddpm | ddim | dpmpp_2m | unipc | ... ('name(k=v)')
    c.sample.grid = "auto"  # auto | uniform | logsnr | karras | quadratic | leading | trailing(stop=k) | ...
    c.sample.num_steps = 100  # sampler steps (NFE = steps x the sampler's evaluations per step)
    c.sample.t_start = 1.0
    c.sample.t_end = placeholder(float)  # None: 0 where sigma(0) = 0, else the schedule's t_min
    c.sample.clip_time = True  # False: the network is also evaluated at t = 0 and 1 (torchcfm's flows)
    c.sample.clip_x0 = placeholder(float)  # clip x0_hat to [-b, b] at every step (Ho et al.: 1)
    c.sample.guidance = "cfg"  # with guidance_scale: cfg | cfg(rescale=0.7) | apg(eta=0.0, norm_threshold=...)
    c.sample.guidance_scale = placeholder(float)  # classifier-free guidance weight (conditional)
    c.sample.labels = placeholder(int)  # conditional: sample this class; None: the test labels
    c.sample.chunk = 10_000  # samples per sampler call

    c.eval = ml_collections.ConfigDict()
    c.eval.metrics = ("w2",)  # of w2, npe, fd, fid, bound, pf_nll, denoiser_error, sampler_error, nfe_sweep, guidance_sweep
    c.eval.num_samples = placeholder(int)  # None: as many as the test set
    c.eval.checkpoint_step = placeholder(int)  # --trained: score this kept checkpoint (None: the last)
    c.eval.seed = placeholder(int)  # PRNG seed of the samples and metrics (None: seed + 1000); --trained: a fresh draw
    c.eval.bound_variance = "beta"  # bound's reverse variance: beta | beta_tilde
    c.eval.bound_decoder_steps = ()  # 'bound': also the chain stopped at these steps k, decoded from x_k
    c.eval.pf_nll_examples = 256  # test examples scored by the probability-flow ODE
    c.eval.guidance_sweep = (0.0, 1.0, 2.0, 3.0, 4.0)  # 'guidance_sweep': CFG scales (1: conditional)
    c.eval.guidance_methods = ("cfg",)  # 'guidance_sweep': sample.guidance specs swept, or 'classifier'
    c.eval.classifier_steps = 2000  # 'classifier' guidance: steps of its noise-aware classifier
    c.eval.nfe_sweep = (10, 50)  # 'nfe_sweep': the network-evaluation budgets sampled at
    c.eval.pf_nll_probes = 1  # images: Hutchinson probes of the divergence
    c.eval.pf_nll_dequantisations = 1  # images: dequantisations of each example, averaged (its noise / sqrt)
    c.eval.inception_weights = ""  # local Inception weights file for 'fid'
    # fmt: on
    return c


def variant(c: ml_collections.ConfigDict, arg: str, variants: dict) -> ml_collections.ConfigDict:
    """Applies the comma-separated variants named in `arg` (each a function of the config)."""
    for name in filter(None, (arg or "").split(",")):
        if name not in variants:
            raise ValueError(f"config variant {name!r} is not one of {sorted(variants)}.")
        variants[name](c)
    c.lock()
    return c
