"""DDPM on CIFAR-10 as in Ho et al. 2020: the 35.7M-parameter UNet, batch 128, Adam 2e-4 with 5000
warm-up steps, gradient clipping 1, dropout 0.1, EMA 0.9999, 800k steps; FID 3.17 in the paper.

Runs where CIFAR-10 is available to TFDS (nothing downloads here):
  python -m experiments.ddpm_images --config configs/ddpm_cifar10.py --workdir runs/ddpm_cifar10 \\
      --config.data_dir=/path/to/tensorflow_datasets \
      --config.eval.inception_weights=/path/to/pt_inception-2015-12-05-6726825d.pth
Only the base's digits-specific evaluation differs: the Frechet distance in the digits classifier's
space applies to 8x8 digits only and is skipped; bits/dim use 256 levels (paper: <= 3.75 with
L_simple); FID is against the 10k test images (the paper: 50k samples vs the training set).
"""

from configs import ddpm_digits


def get_config():
    c = ddpm_digits.get_config()
    c.dataset = "cifar10"
    c.model.ch = 128
    c.model.ch_mult = (1, 2, 2, 2)
    c.model.num_res_blocks = 2
    c.model.attn_resolutions = (16,)
    c.model.dropout = 0.1
    c.model.groups = 32
    c.optim.learning_rate = 2e-4
    c.optim.warmup_steps = 5000
    c.optim.ema = 0.9999
    c.num_steps = 800_000
    c.checkpoint_every = 10_000
    c.sample_every = 50_000
    c.eval.num_samples = 10_000
    return c
