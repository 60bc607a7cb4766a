"""Issue 12, part 4: the PyTorch peer of the DDPM on digits, trained and scored like diffjax's.

diffusers' UNet2DModel in the digits UNet's configuration (`benchmarks.gpu_unet.torch_unet`, the
same 0.70M parameters, dropout 0.1) trained on the same 1500 training digits (17 levels in
[-1, 1], `diffjax.data.load_digits`) with the recipe of `configs/ddpm_digits.py:short`: eps
prediction, L_simple at uniform timesteps of the T = 1000 linear-beta schedule, the 0-based
timestep as input, Adam 5e-4 with a linear warm-up over 200 steps and global-norm clipping 1,
EMA 0.999 with the (1 + k)/(10 + k) warm-up, batch 128 from a seeded per-epoch shuffle, 2000 steps.
Sampled with diffusers' DDPMScheduler (ancestral, sigma_t^2 = beta_t: 'fixed_large', no x0
clipping unless --clip_sample) over all 1000 steps from the EMA weights, the images clipped to
[-1, 1], and scored by diffjax's Frechet distance in the digits classifier's features against the
297 held-out digits (1000 samples), exactly as `experiments.evaluation.fd` scores diffjax's runs.

    make peers && .venv-peers/bin/python -m benchmarks.peer_ddpm_digits --seed 0 \
        --threads 1 --resume runs/peer_ddpm/seed0 --out runs/peer_ddpm/seed0.json
                                  # ~90 min at one thread; stopped, the same command resumes it
    .venv-peers/bin/python -m benchmarks.peer_ddpm_digits --table runs/peer_ddpm \
        --out docs/peer_ddpm_digits.md                        # the table next to diffjax's rows
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import time

import numpy as np

BETAS = (1e-4, 0.02, 1000)
RECIPE = dict(steps=2000, batch=128, lr=5e-4, warmup=200, clip=1.0, ema=0.999)
DIFFJAX_ROWS = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "digits_recipes.json"
)
DIFFJAX_RECIPE = "DDPM: eps + linear + L_simple"


def ema_decay(step: int, decay: float) -> float:
    """diffjax.training.ema_decay with warm-up: min(decay, (1 + k)/(10 + k))."""
    return min(decay, (1.0 + step) / (10.0 + step))


class ShuffledBatches:
    """Indices of successive batches read in order from a stream of seeded per-epoch permutations
    (a batch may straddle two epochs, as in diffjax's grain pipeline, `diffjax.data.batches`).
    `state()` / `restore()` carry the generator and the unread stream through a checkpoint."""

    def __init__(self, num: int, batch: int, seed: int):
        self.num, self.batch = num, batch
        self.rng = np.random.default_rng(seed)
        self.stream = np.empty(0, np.int64)

    def __iter__(self):
        return self

    def __next__(self) -> np.ndarray:
        while len(self.stream) < self.batch:
            self.stream = np.concatenate([self.stream, self.rng.permutation(self.num)])
        out, self.stream = self.stream[: self.batch], self.stream[self.batch :]
        return out

    def state(self) -> dict:
        return {"rng": self.rng.bit_generator.state, "stream": self.stream.tolist()}

    def restore(self, state: dict) -> None:
        self.rng.bit_generator.state = state["rng"]
        self.stream = np.asarray(state["stream"], np.int64)


def _save(torch, path: str, state: dict) -> None:
    """Write a checkpoint atomically (a run stopped mid-write keeps the previous one)."""
    if path:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        torch.save(state, path + ".tmp")
        os.replace(path + ".tmp", path)


def _load(torch, path: str) -> dict | None:
    return torch.load(path, weights_only=False) if path and os.path.exists(path) else None


def train(torch, model, images, seed: int, steps: int, checkpoint: str = "", every: int = 100):
    """The training loop; returns (EMA parameters, final loss, training seconds). With a
    `checkpoint` path it saves its whole state (weights, Adam, schedule, EMA, torch's RNG, the
    batch stream) every `every` steps and resumes from it, continuing exactly as the
    uninterrupted run would."""
    r = RECIPE
    abar = torch.cumprod(1 - torch.linspace(*BETAS[:2], BETAS[2], dtype=torch.float64), 0).float()
    data = torch.from_numpy(images.transpose(0, 3, 1, 2).copy())
    opt = torch.optim.Adam(model.parameters(), lr=r["lr"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(k / r["warmup"], 1.0))
    ema = [p.detach().clone() for p in model.parameters()]
    batches = ShuffledBatches(len(images), r["batch"], seed)
    start, seconds, final_loss = 0, 0.0, float("nan")
    if (saved := _load(torch, checkpoint)) is not None:
        start, seconds, final_loss, ema = (
            saved["step"],
            saved["seconds"],
            saved["loss"],
            saved["ema"],
        )
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["opt"])
        sched.load_state_dict(saved["sched"])
        batches.restore(saved["batches"])
        torch.set_rng_state(saved["torch_rng"])
    model.train()
    clock = time.perf_counter()
    for k in range(start, steps):
        x0 = data[next(batches)]
        t = torch.randint(0, BETAS[2], (len(x0),))
        eps = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        loss = torch.mean((model(a.sqrt() * x0 + (1 - a).sqrt() * eps, t).sample - eps) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), r["clip"])
        opt.step()
        sched.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, list(model.parameters()), 1 - ema_decay(k, r["ema"]))
        final_loss = loss.item()
        if checkpoint and ((k + 1) % every == 0 or k + 1 == steps):
            state = dict(model=model.state_dict(), opt=opt.state_dict(), sched=sched.state_dict())
            _save(torch, checkpoint, state | dict(
                step=k + 1, ema=ema, loss=final_loss, batches=batches.state(),
                torch_rng=torch.get_rng_state(), seconds=seconds + time.perf_counter() - clock,
            ))  # fmt: skip
    return ema, final_loss, seconds + time.perf_counter() - clock


def sample(torch, model, num, num_steps, clip_sample, seed, checkpoint="", every=50):
    """DDPMScheduler ancestral sampling; returns ((num, 8, 8, 1) images clipped to [-1, 1],
    seconds). With a `checkpoint` path it saves (x, the generator's state) every `every` steps
    and resumes from it, drawing the same noise as the uninterrupted run."""
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(
        num_train_timesteps=BETAS[2],
        beta_start=BETAS[0],
        beta_end=BETAS[1],
        beta_schedule="linear",
        variance_type="fixed_large",
        clip_sample=clip_sample,
        prediction_type="epsilon",
    )
    scheduler.set_timesteps(num_steps)
    gen = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(num, 1, 8, 8, generator=gen)
    start, seconds = 0, 0.0
    if (saved := _load(torch, checkpoint)) is not None:
        start, seconds, x = saved["step"], saved["seconds"], saved["x"]
        gen.set_state(saved["generator"])
    model.eval()
    clock = time.perf_counter()
    with torch.no_grad():
        for i in range(start, len(scheduler.timesteps)):
            t = scheduler.timesteps[i]
            x = scheduler.step(model(x, t.expand(num)).sample, t, x, generator=gen).prev_sample
            if checkpoint and (i + 1) % every == 0:
                elapsed = seconds + time.perf_counter() - clock
                _save(
                    torch,
                    checkpoint,
                    dict(step=i + 1, x=x, generator=gen.get_state(), seconds=elapsed),
                )
    images = np.clip(x.numpy().transpose(0, 2, 3, 1), -1.0, 1.0).astype(np.float32)
    return images, seconds + time.perf_counter() - clock


def run(seed, steps, num_samples, num_steps, clip_sample, resume="") -> dict:
    """Train, sample and score one seed. With a `resume` directory, training and sampling
    checkpoint there (train.pt, sample.pt) and a stopped run picks up where it stopped."""
    import torch

    from benchmarks.gpu_unet import torch_unet
    from diffjax import metrics
    from diffjax.data import load_digits
    from experiments.provenance import code_revision

    torch.manual_seed(seed)
    train_set, test = load_digits("train"), load_digits("test").images
    model = torch_unet("digits")
    ckpt = lambda name: os.path.join(resume, name) if resume else ""
    ema, final_loss, train_s = train(torch, model, train_set.images, seed, steps, ckpt("train.pt"))
    with torch.no_grad():
        for p, e in zip(model.parameters(), ema, strict=True):
            p.copy_(e)
    images, sample_s = sample(
        torch, model, num_samples, num_steps, clip_sample, seed, ckpt("sample.pt")
    )
    params, _ = metrics.digits_classifier()
    return {
        "seed": seed,
        "steps": steps,
        "sampler": f"DDPMScheduler {num_steps} steps" + (", clip_sample" if clip_sample else ""),
        "fd": metrics.digits_frechet_distance(params, images, test),
        "inception_score": metrics.digits_inception_score(params, images),
        "final_loss": final_loss,
        "num_params": sum(p.numel() for p in model.parameters()),
        "train_seconds": train_s,
        "sample_seconds": sample_s,
        "torch_threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "diffusers": _version("diffusers")},
        "revision": code_revision(),
    }


def _version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


def _mean_std(values) -> str:
    from experiments.tables import mean_std

    return f"{mean_std(values)} (n={len(values)})"


def table(rows_dir: str) -> str:
    """Markdown: the peer's seeds next to diffjax's DDPM recipe rows at the same budget."""
    peer = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(rows_dir, "*.json")))]
    ours = [
        r
        for r in json.load(open(DIFFJAX_ROWS))
        if r["cell"]["recipe"] == DIFFJAX_RECIPE and r["cell"]["sampler"] == "own"
    ]
    lines = [
        "| model | sampler | steps | seeds | FD (digits classifier) | FD per seed |"
        " Inception-Score analogue |",
        "|---|---|---|---|---|---|---|",
    ]
    for who, rows, sampler in (
        ("diffjax UNet", ours, "DDPM ancestral 1000 (sigma^2 = beta)"),
        ("diffusers UNet2DModel + DDPMScheduler", peer, peer[0]["sampler"] if peer else "-"),
    ):
        if rows:
            lines.append(
                f"| {who} | {sampler} | {rows[0]['steps']} | {[r['seed'] for r in rows]} | "
                f"{_mean_std([r['fd'] for r in rows])} | "
                f"{' / '.join(format(r['fd'], '.2f') for r in rows)} | "
                f"{_mean_std([r['inception_score'] for r in rows])} |"
            )
    return "\n".join(lines)


def document(rows_dir: str) -> str:
    """The table with its header: what ran, the command, the revision summarising it."""
    from experiments.provenance import git_revision

    peer = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(rows_dir, "*.json")))]
    versions = peer[0]["versions"] if peer else {}
    return (
        "# diffusers' DDPM on digits next to diffjax's, same recipe and budget (issue 12, part 4)\n\n"
        f"Peer rows: `.venv-peers/bin/python -m benchmarks.peer_ddpm_digits --seed S --threads 1 --resume"
        f" runs/peer_ddpm/seedS"
        f" --out {rows_dir}/seedS.json` (torch {versions.get('torch', '?')}, diffusers "
        f"{versions.get('diffusers', '?')}); table: `... --table {rows_dir} --out "
        f"docs/peer_ddpm_digits.md` at revision {git_revision()}. diffjax rows: "
        f"`docs/digits_recipes.json` ({DIFFJAX_RECIPE!r}, own sampler). Both score 1000 samples against the "
        "297 held-out digits in the in-project digits classifier's features (floor 14.20).\n\n"
        + table(rows_dir)
        + "\n"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=RECIPE["steps"])
    p.add_argument("--num_samples", type=int, default=1000)
    p.add_argument("--sample_steps", type=int, default=1000)
    p.add_argument("--clip_sample", action="store_true", help="diffusers' x0 clipping (Ho's)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument(
        "--resume", default="", help="a directory for checkpoints: a stopped run continues there"
    )
    p.add_argument("--table", default="", help="a directory of rows: print the table instead")
    p.add_argument("--out", default="", help="where the row (json) or the table (markdown) goes")
    args = p.parse_args()
    if args.table:
        text = document(args.table)
    else:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        text = json.dumps(
            run(
                args.seed,
                args.steps,
                args.num_samples,
                args.sample_steps,
                args.clip_sample,
                args.resume,
            )
        )
    print(text)
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
