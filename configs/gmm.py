"""Gaussian mixtures with exact references (the score, denoiser, density and probability-flow
map are known in closed form): the family of the parameterisation / schedule / weighting studies.

    python -m experiments.run --config configs/gmm.py --workdir runs/gmm
    --config.data.name=gmm:random4_8d (8-D) --config.objective.parameterisation=v --config.process.schedule=edm
Default: an 8-component ring in 2-D (radius 2, std 0.3), cosine VP process, eps prediction with
L_simple, MLP 3 x 128, Adam 1e-3 with EMA 0.999, 4000 steps at batch 256 (~1 min here); sampled with
DPM-Solver++(2M) on a log-SNR grid, 20 steps. Metrics: W2 to 2000 test points, the denoiser's
error against the exact one over log-SNR, the sampler error against the exact denoiser through
the same solver, probability-flow NLL with its KL to the exact density.
Variants:
  :tiny  20 steps on 512 points, 5 sampler steps (NFE 4 and 8 in the sweep), 32 likelihood
         examples: seconds (the tests)
  :8d    the 8-D mixture of 4 components (gmm:random4_8d)
  :study the parameterisation study's protocol (experiments/studies/parameterisation.py): 3000
         steps, 1000 test points, samples at NFE 10 and 50, 128 likelihood examples (~25 s)
  (variants compose: ':study,tiny' is the study's protocol at test size)
"""

from configs import common


def _tiny(c):
    c.data.num_train = 512
    c.data.num_test = 256
    c.train.batch_size = 128
    c.train.num_steps = 20
    c.train.log_every = 10
    c.train.checkpoint_every = 10
    c.sample.num_steps = 5
    c.eval.pf_nll_examples = 32
    c.eval.nfe_sweep = (4, 8)


def _study(c):
    c.train.num_steps = 3000
    c.data.num_test = 1000
    c.sample.num_steps = 10
    c.eval.pf_nll_examples = 128
    c.eval.nfe_sweep = (10, 50)
    c.eval.metrics = ("denoiser_error", "nfe_sweep", "pf_nll")


def _8d(c):
    c.data.name = "gmm:random4_8d"


def get_config(arg: str = ""):
    c = common.base()
    c.name = "gmm"
    c.data.name = "gmm:ring8"
    c.data.num_test = 2000
    c.network.mlp.width = 128
    c.process.schedule = "cosine"
    c.objective.loss = "denoising"
    c.objective.parameterisation = "eps"
    c.objective.weighting = "simple"
    c.optim.name = "adam"
    c.optim.weight_decay = 0.0
    c.optim.ema = 0.999
    c.train.batch_size = 256
    c.train.num_steps = 4000
    c.sample.sampler = "dpmpp_2m"
    c.sample.grid = "logsnr"
    c.sample.num_steps = 20
    c.eval.metrics = ("w2", "denoiser_error", "sampler_error", "pf_nll")
    return common.variant(c, arg, {"tiny": _tiny, "8d": _8d, "study": _study})
