"""DDPM (Ho et al. 2020) on sklearn digits (1500 train / 297 held-out, 8x8, 17 levels in [-1, 1]).

    python -m experiments.run --config configs/ddpm_digits.py --workdir runs/ddpm_digits
Protocol: T = 1000 linear betas 1e-4..0.02, eps prediction, L_simple (uniform discrete timesteps),
the 0.70M-parameter UNet (ch 32, mults 1-2) seeing the 0-based timestep, Adam 5e-4 (warm-up 200,
clip 1), EMA 0.999, batch 128, 6000 steps; ancestral sampling with sigma_t^2 = beta_t over all 1000
steps; Frechet distance in the digits classifier's features (1000 samples vs the 297 held-out;
train-vs-held-out is the floor) and the held-out bound in bits/dim (discretised decoder, 17 levels).
Runtime and results on the 2-core CPU: docs/experiments.md (~25 min; FD ~23, bound ~2.9 bits/dim);
the width and step count measured against ch 48 and 2000-6000 steps: docs/ddpm_digits_size.md
(samples score best at 4000 steps, --config.train.num_steps=4000; the bound keeps falling to 6000).
Variants:
  :quick  300 steps, 64 samples, the bound on 64 held-out digits: ~1 min
  :tiny   20 steps, 16 samples over 50 timesteps: seconds (the tests run it)
  :short  2000 steps, the probability-flow NLL on 64 held-out digits (experiments/studies/digits_recipes.py)
  :clip   x0_hat clipped to [-1, 1] at every step (Ho et al.'s sampler)
  :cfg    class-conditional with label dropout 0.1 (Ho & Salimans 2022), sampled by iPNDM on 50
          steps; FD, class accuracy and Inception-Score analogue at guidance scales 0-4 for
          CFG, CFG rescale 0.7 (Lin et al.) and APG (Sadat et al.) (`:tiny,cfg` in the tests)
"""

from configs import common


def _quick(c):
    c.train.num_steps = 300
    c.eval.num_samples = 64
    c.data.num_test = 64


def _tiny(c):
    c.train.num_steps = 20
    c.train.log_every = 10
    c.train.checkpoint_every = 10
    c.process.schedule = "ddpm(num_timesteps=50)"
    c.sample.num_steps = 50
    c.eval.num_samples = 16
    c.data.num_test = 16
    c.network.unet.ch = 16
    c.network.unet.groups = 4


def _short(c):
    c.train.num_steps = 2000
    c.eval.pf_nll_examples = 64


def _clip(c):
    c.sample.clip_x0 = 1.0


def _cfg(c):
    c.data.conditional = True
    c.objective.label_dropout = 0.1
    c.sample.sampler = "ipndm"
    c.sample.grid = "auto"
    c.sample.num_steps = min(c.sample.num_steps, 50)
    c.eval.metrics = ("fd", "guidance_sweep")
    c.eval.guidance_methods = ("cfg", "cfg(rescale=0.7)", "apg(eta=0.0)")


def get_config(arg: str = ""):
    c = common.base()
    c.name = "ddpm_digits"
    c.seed = 0
    c.data.name = "digits"
    c.network.name = "unet"
    c.process.schedule = (
        "ddpm(num_timesteps=1000, beta_schedule='linear', beta_start=1e-4, beta_end=0.02)"
    )
    c.objective.loss = "denoising"
    c.objective.parameterisation = "eps"
    c.objective.noise_conditioning = "ddpm_index"
    c.objective.weighting = "simple"
    c.objective.time_sampling = "discrete"
    c.optim.name = "adam"
    c.optim.learning_rate = 5e-4
    c.optim.weight_decay = 0.0
    c.optim.warmup_steps = 200
    c.optim.grad_clip = 1.0
    c.optim.ema = 0.999
    c.optim.ema_warmup = True
    c.train.batch_size = 128
    c.train.num_steps = 6000
    c.train.sample_every = 2000
    c.sample.sampler = "ddpm(variance='beta')"
    c.sample.grid = "trailing"
    c.sample.num_steps = 1000
    c.sample.chunk = 1000
    c.eval.metrics = ("fd", "bound")
    c.eval.num_samples = 1000
    c.eval.bound_variance = "beta"
    return common.variant(
        c, arg, {"quick": _quick, "tiny": _tiny, "short": _short, "clip": _clip, "cfg": _cfg}
    )
