"""[SF]2M Table 2 (Tong et al., AISTATS 2024): conditional flow matching on 2-D tasks.

    python -m experiments.run --config configs/flow2d.py --workdir runs/flow2d
    --config.process.path=icfm --config.data.name=2d:gaussian_to_moons --config.seed=43
    OT-CFM with an entropic coupling: --config.process.coupling='sinkhorn(epsilon=2.0)'
    RF with one reflow round (the paper's RF row): --config.process.path=rf --config.train.reflow=1
Protocol per (method, task, seed): 1000 epochs of 10k points at batch 512 (19k steps), 3 x 64 SELU
MLP, AdamW 1e-3 / 1e-5, 100 Euler steps on the closed [0, 1] from the test source, exact W2 on 10k
vs 10k test points. On this 2-core CPU I-CFM / FM / RF take 1-4 min, SB-CFM 3-5, OT-CFM 10-25.
Expected (OT-CFM, N -> 8gaussians, 5 seeds): W2 0.281 +- 0.050 (paper 0.303 +- 0.043), NPE ~0.01.
Variants:
  :quick  the README's demo, 60 epochs, 2k test points: ~1-2 min here; W2 0.439, NPE 0.025
  :tiny   1 epoch of 1024 points, 256 test points, 5 Euler steps: seconds (the tests run it)
The table of every method and task is a study: experiments/studies/flow2d_table.py.
"""

from configs import common


def _quick(c):
    c.train.epochs = 60
    c.data.num_test = 2000


def _tiny(c):
    c.train.epochs = 1
    c.data.num_train = 1024
    c.data.num_test = 256
    c.sample.num_steps = 5


def get_config(arg: str = ""):
    c = common.base()
    c.name = "otcfm"
    c.seed = 42
    c.data.name = "2d:gaussian_to_8gaussians"
    c.process.path = "otcfm"
    c.objective.loss = "flow_matching"
    c.objective.parameterisation = "velocity"
    c.train.epochs = 1000
    c.sample.sampler = "euler"
    c.sample.num_steps = 100
    c.sample.t_end = 0.0
    c.sample.clip_time = False
    c.eval.metrics = ("w2", "npe")
    return common.variant(c, arg, {"quick": _quick, "tiny": _tiny})
