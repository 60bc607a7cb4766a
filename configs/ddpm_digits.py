"""DDPM (Ho et al. 2020) on sklearn digits: the base config of the image-diffusion experiments.

Launch: python -m experiments.ddpm_images --config configs/ddpm_digits.py --workdir runs/ddpm_digits
Quick smoke run: --config.quick=True (300 steps; 64 samples; the bound on 64 held-out digits).
Protocol: T = 1000 linear betas 1e-4..0.02, eps prediction, L_simple (uniform discrete timesteps),
Adam, EMA; ancestral sampling with sigma_t^2 = beta_t over all 1000 steps. Evaluated on the 297
held-out digits: Frechet distance in the in-project digits classifier's feature space (samples
vs held-out; the train-vs-held-out distance is the floor), bits/dim of the full variational bound
(L_T + sum L_{t-1}, discretised decoder over the 17 pixel levels), classifier label histogram.
Runtime and results on the 2-core CPU: see docs/experiments.md.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.dataset = (
        "digits"  # 'digits', 'npz:<path>', or a TFDS name (mnist, fashion_mnist, cifar10, celeb_a)
    )
    c.data_dir = ml_collections.config_dict.placeholder(str)  # TFDS data_dir
    c.eval_split = "test"

    c.model = ml_collections.ConfigDict()
    c.model.ch = 32  # 0.70M parameters; one training step at batch 128 is ~0.1 s on 2 CPU cores
    c.model.ch_mult = (1, 2)
    c.model.num_res_blocks = 1
    c.model.attn_resolutions = (4,)
    c.model.dropout = 0.1
    c.model.groups = 8

    c.diffusion = ml_collections.ConfigDict()
    c.diffusion.num_timesteps = 1000
    c.diffusion.beta_schedule = "linear"
    c.diffusion.beta_start = 1e-4
    c.diffusion.beta_end = 0.02
    c.diffusion.sampler_variance = (
        "beta"  # ancestral sigma_t^2: 'beta' (Ho's CIFAR-10) or 'beta_tilde'
    )

    c.optim = ml_collections.ConfigDict()
    c.optim.name = "adam"
    c.optim.learning_rate = 5e-4
    c.optim.warmup_steps = 200
    c.optim.grad_clip = 1.0
    c.optim.ema = 0.999

    c.batch_size = 128
    c.num_steps = 6000
    c.log_every = 100
    c.checkpoint_every = 1000
    c.sample_every = 2000  # sample grid (PNG + TensorBoard) with the EMA params
    c.progress = True

    c.eval = ml_collections.ConfigDict()
    c.eval.num_samples = 1000
    # local path to pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or its .npz): adds the
    # Inception FID of the samples against the eval split; empty = skipped (nothing downloads here)
    c.eval.inception_weights = ""

    c.quick = False
    c.quick_steps = 300
    c.quick_num_samples = 64
    c.lock()
    return c
