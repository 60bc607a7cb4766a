"""benchmarks/peer_ddpm_digits.py's recipe helpers match diffjax's training (no torch needed)."""

import json

import jax.numpy as jnp
import numpy as np
import pytest

from benchmarks import peer_ddpm_digits as peer
from diffjax.training.state import ema_decay


def test_the_peers_ema_decay_is_diffjax_s():
    for k in (0, 1, 5, 50, 1000, 5000):
        assert abs(peer.ema_decay(k, 0.999) - float(ema_decay(jnp.int32(k), 0.999))) < 1e-7


def test_the_peers_batches_visit_every_digit_once_per_epoch():
    gen = peer.ShuffledBatches(10, 4, seed=0)
    drawn = np.concatenate([next(gen) for _ in range(5)])  # 20 indices = 2 epochs of 10
    assert all(len(b) == 4 for b in [next(gen)])
    assert sorted(drawn[:10]) == list(range(10)) and sorted(drawn[10:]) == list(range(10))
    assert not np.array_equal(drawn[:10], drawn[10:])  # reshuffled each epoch


def test_the_peers_batch_stream_resumes_from_its_state():
    whole = peer.ShuffledBatches(10, 4, seed=3)
    expected = [next(whole) for _ in range(7)]
    first = peer.ShuffledBatches(10, 4, seed=3)
    head = [next(first) for _ in range(3)]  # stops mid-epoch, 2 indices unread
    state = json.loads(json.dumps(first.state()))  # survives serialisation
    resumed = peer.ShuffledBatches(10, 4, seed=99)
    resumed.restore(state)
    tail = [next(resumed) for _ in range(4)]
    np.testing.assert_array_equal(np.stack(head + tail), np.stack(expected))


class _StopsAfter:
    """The model, raising (as a killed process would stop) at its `calls`-th forward pass."""

    def __init__(self, model, calls):
        self.model, self.calls = model, calls

    def eval(self):
        self.model.eval()

    def __call__(self, *args):
        self.calls -= 1
        if self.calls == 0:
            raise KeyboardInterrupt
        return self.model(*args)


def _trained(torch, steps, checkpoint="", stop_at=None):
    from benchmarks.gpu_unet import torch_unet

    images = np.random.default_rng(0).uniform(-1, 1, (12, 8, 8, 1)).astype(np.float32)
    for upto in ([stop_at] if stop_at else []) + [steps]:  # a fresh process for each
        torch.manual_seed(0)
        model = torch_unet("digits")
        ema, loss, _ = peer.train(torch, model, images, 0, upto, checkpoint, every=2)
    with torch.no_grad():
        for p, e in zip(model.parameters(), ema, strict=True):
            p.copy_(e)
    return model, loss


def test_a_stopped_peer_run_resumes_exactly_as_the_uninterrupted_one(tmp_path):
    """Training stopped after step 3 of 5 and sampling killed at its 3rd of 4 steps (checkpoint
    at step 2), each resumed, give bit-identical loss and samples. Needs the peers' environment
    (`.venv-peers/bin/python -m pytest benchmarks/tests/test_peer_ddpm_digits.py`)."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("diffusers")
    torch.set_num_threads(1)
    model, loss = _trained(torch, 5)
    images, _ = peer.sample(torch, model, 3, 4, False, 0)
    resumed, resumed_loss = _trained(torch, 5, str(tmp_path / "train.pt"), stop_at=3)
    ckpt = str(tmp_path / "sample.pt")
    with pytest.raises(KeyboardInterrupt):
        peer.sample(torch, _StopsAfter(resumed, 3), 3, 4, False, 0, ckpt, every=2)
    assert torch.load(ckpt, weights_only=False)["step"] == 2
    resumed_images, _ = peer.sample(torch, resumed, 3, 4, False, 0, ckpt, every=2)
    assert resumed_loss == loss
    np.testing.assert_array_equal(resumed_images, images)
    assert not np.array_equal(images[0], images[1])


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
