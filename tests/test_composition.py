"""Every parameterisation x every process x every sampler composes through the one Denoiser.

For a (parameterisation, process): a Denoiser around a small Flax MLP, one real train step of
the process's loss (denoising for diffusion processes, flow matching for flow paths), then
samplers from the trained parameters for a few steps: finite samples of the right shape. No
adapter code: the same object goes into the loss, the train step and every sampler. The full
factorial is `test_full_factorial` (slow); the CI suite runs a covering subset (below).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from diffjax import Denoiser, FlaxNetwork, resolve
from diffjax import losses as L
from diffjax import samplers as SA
from diffjax import schedules as S
from diffjax.models import EDMNoiseInput, TimeInput
from diffjax.networks import MLP
from diffjax.parameterisations import EDMPreconditioned
from diffjax.training import init_train_state, make_optimizer, make_train_step
from tests import cases

DIFFUSIONS = {
    "ddpm": S.DiscreteDDPM(num_timesteps=100),
    "vp": S.VPLinear(),
    "cosine": S.Cosine(),
    "edm": S.EDM(),
    "ve": S.VE(),
}
FLOWS = {name: resolve.path(name) for name in resolve.PATHS}
PROCESSES = [*DIFFUSIONS, *(f"flow:{name}" for name in FLOWS)]
# a plain denoiser has no score head of its own: the [SF]2M SDE then needs its g
SAMPLERS = [
    resolve.sampler("sf2m_sde(diffusion=1.0)" if name == "sf2m_sde" else name)
    for name in resolve.SAMPLERS
]


def build(parameterisation: str, process: str):
    """(denoiser, loss) of the pair: the loss of the process on the one denoiser."""
    schedule = FLOWS[process[5:]].schedule if process.startswith("flow:") else DIFFUSIONS[process]
    p = cases.parameterisation(parameterisation, schedule)
    conditioning = EDMNoiseInput() if isinstance(p, EDMPreconditioned) else TimeInput()
    network = FlaxNetwork(MLP(width=16, depth=2))
    if process.startswith("flow:"):
        path = FLOWS[process.removeprefix("flow:")]
        den = Denoiser(network, path.schedule, p, conditioning)
        return den, L.flow_matching_loss(den, path)
    den = Denoiser(network, DIFFUSIONS[process], p, conditioning)
    return den, L.denoising_loss(den, weighting=L.SNRWeighting())


def train_one_step(den, loss):
    """Trained parameters after one real step (which must change them)."""
    key = jax.random.PRNGKey(0)
    data = jax.random.normal(key, (32, 2), jnp.float32) * 0.5
    params = den.init(key, data[:1])
    before = jax.tree.map(jnp.copy, params)  # the step donates the state
    opt = make_optimizer("adam", 1e-3)
    step = make_train_step(loss, opt, ema=0.0, ema_warmup=False)
    state, metrics = step(init_train_state(params, opt, key), {"data": data})
    assert np.isfinite(float(metrics["loss"]))
    moved = jax.tree.map(lambda a, b: bool(jnp.any(a != b)), before, state.params)
    assert any(jax.tree.leaves(moved)), "the train step did not change the parameters"
    return state.params


def sample_finite(den, params, sampler, label):
    x = SA.prior_sample(jax.random.PRNGKey(1), (8, 2), den.schedule, dtype=jnp.float32)
    grid = SA.time_grid(den.schedule, 3)
    out = SA.sample(den, x, grid, sampler, key=jax.random.PRNGKey(2), params=params)
    assert out.samples.shape == (8, 2) and out.samples.dtype == jnp.float32
    assert np.all(np.isfinite(np.asarray(out.samples))), (label, sampler)


# CI: every parameterisation on one process of each kind (discrete DDPM, a continuous VP, EDM's
# VE, a flow path with bridge noise), and every other process with one parameterisation in turn;
# the samplers taken in turn so that each loop sampler runs on two trained models. The full
# factorial (all 6 x 10 pairs x all 16 samplers) is the slow test below: ~15 min on 2 cores,
# `pytest -m slow tests/test_composition.py`.
PARAMETERISATIONS = list(resolve.PARAMETERISATIONS)
CORE = ["ddpm", "cosine", "edm", "flow:icfm"]
PAIRS = [(p, q) for q in CORE for p in PARAMETERISATIONS]
PAIRS += [
    (PARAMETERISATIONS[k % len(PARAMETERISATIONS)], q)
    for k, q in enumerate(q for q in PROCESSES if q not in CORE)
]
LOOP = [s for s in SAMPLERS if not isinstance(s, SA.Adaptive)]


@pytest.mark.parametrize("index", range(len(PAIRS)), ids=lambda i: "-".join(PAIRS[i]))
def test_pairs_train_one_step_and_sample(index):
    den, loss = build(*PAIRS[index])
    params = train_one_step(den, loss)
    sample_finite(den, params, LOOP[index % len(LOOP)], PAIRS[index])


@pytest.mark.slow
@pytest.mark.parametrize("process", PROCESSES)
@pytest.mark.parametrize("parameterisation", list(resolve.PARAMETERISATIONS))
def test_full_factorial(parameterisation, process):
    den, loss = build(parameterisation, process)
    params = train_one_step(den, loss)
    for sampler in SAMPLERS:
        sample_finite(den, params, sampler, (parameterisation, process))
