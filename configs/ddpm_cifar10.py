"""DDPM on CIFAR-10 as in Ho et al. 2020: the 35.7M-parameter UNet, batch 128, Adam 2e-4 with 5000
warm-up steps, gradient clipping 1, dropout 0.1, EMA 0.9999, 800k steps; FID 3.17 in the paper.

Runs where CIFAR-10 is available to TFDS (nothing downloads here):
  python -m experiments.run --config configs/ddpm_cifar10.py --workdir runs/ddpm_cifar10 \\
      --config.data.data_dir=/path/to/tensorflow_datasets \\
      --config.eval.inception_weights=/path/to/pt_inception-2015-12-05-6726825d.pth
Differs from the digits base: no digits-classifier distance (8x8 digits only); bits/dim use 256
levels (paper: <= 3.75 with L_simple); FID against the 10k test images (the paper: 50k samples vs
the training set).
"""

from configs import ddpm_digits


def get_config(arg: str = ""):
    c = ddpm_digits.get_config(arg)
    with c.unlocked():
        c.name = "ddpm_cifar10"
        c.data.name = "cifar10"
        c.network.unet.update(
            {
                "ch": 128,
                "ch_mult": (1, 2, 2, 2),
                "num_res_blocks": 2,
                "attn_resolutions": (16,),
                "groups": 32,
            }
        )
        c.optim.learning_rate = 2e-4
        c.optim.warmup_steps = 5000
        c.optim.ema = 0.9999
        c.train.num_steps = 800_000
        c.train.checkpoint_every = 10_000
        c.train.sample_every = 50_000
        c.eval.num_samples = 10_000
        c.eval.metrics = ("bound", "fid")
    return c
