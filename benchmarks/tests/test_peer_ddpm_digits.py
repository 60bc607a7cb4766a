"""benchmarks/peer_ddpm_digits.py's recipe helpers match diffjax's training (no torch needed)."""

import json

import jax.numpy as jnp
import numpy as np

from benchmarks import peer_ddpm_digits as peer
from diffjax.training.state import ema_decay


def test_the_peers_ema_decay_is_diffjax_s():
    for k in (0, 1, 5, 50, 1000, 5000):
        assert abs(peer.ema_decay(k, 0.999) - float(ema_decay(jnp.int32(k), 0.999))) < 1e-7


def test_the_peers_batches_visit_every_digit_once_per_epoch():
    gen = peer.shuffled_batches(10, 4, seed=0)
    drawn = np.concatenate([next(gen) for _ in range(5)])  # 20 indices = 2 epochs of 10
    assert all(len(b) == 4 for b in [next(gen)])
    assert sorted(drawn[:10]) == list(range(10)) and sorted(drawn[10:]) == list(range(10))
    assert not np.array_equal(drawn[:10], drawn[10:])  # reshuffled each epoch


def test_the_table_puts_the_peers_seeds_next_to_diffjax_s_rows(tmp_path):
    for seed, fd in ((0, 23.5), (1, 25.5)):
        row = {"seed": seed, "steps": 2000, "sampler": "DDPMScheduler 1000 steps", "fd": fd}
        (tmp_path / f"seed{seed}.json").write_text(json.dumps(row | {"inception_score": 9.0}))
    text = peer.table(str(tmp_path))
    assert (
        "| diffusers UNet2DModel + DDPMScheduler | DDPMScheduler 1000 steps | 2000 | [0, 1] |"
        in text
    )
    assert "24.500 +- 1.414 (n=2) | 23.50 / 25.50 |" in text  # sample std of {23.5, 25.5}
    assert "| diffjax UNet |" in text  # the committed recipe rows (docs/digits_recipes.json)
