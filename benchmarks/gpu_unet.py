"""Benchmark 6: DDPM UNets (Ho et al. 2020) against diffusers' UNet2DModel of the same
configuration: the CIFAR-10 UNet (35.7M parameters) on one accelerator, and the digits UNet
(`configs/ddpm_digits.py`, 0.70M, 8x8x1) on any device, this CPU included (`--model digits`).

Training: images/s of one full train step (L_simple, uniform timesteps, dropout 0.1, Adam with
clipping 1, EMA), and model-FLOPs utilisation = XLA's FLOP count of the diffjax step / time / the
device's dense peak (float32 against the TF32 tensor-core peak, the math both libraries use for
float32 convolutions by default; bfloat16 against the bfloat16 peak; the same FLOP count is used for
torch). Sampling: images/s of DDIM with `--nfe` network evaluations at `--sample_batch`.
diffjax: the train step users run (`make_train_step`) and `sample(..., DDIM())`, UNet(dtype=...)
for bfloat16 (float32 parameters). Peers (`--peers`): diffusers' UNet2DModel with the same
configuration (google/ddpm-cifar10-32's: same parameter count), torch Adam + EMA, autocast for
bfloat16, in eager mode and with torch.compile; DDIMScheduler loop for sampling.

    python -m benchmarks.gpu_unet --out docs/gpu_unet.md                  # diffjax only
    .venv-peers/bin/python -m benchmarks.gpu_unet --peers --out docs/gpu_unet.md
    python -m benchmarks.gpu_unet --quick                                 # tiny UNet, CPU smoke test
    .venv-peers/bin/python -m benchmarks.gpu_unet --model digits --peers --dtypes float32 \
        --out docs/cpu_unet.md                                            # issue 12, part 5

On a CPU the MFU column is against the float32 throughput this run measures for a large matmul
(`measured_peak_tflops`: the best XLA:CPU reaches here), so it says how far each step sits above
its FLOP floor (XLA's count / that throughput).
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp

from benchmarks.peers import emit, import_torchvision
from diffjax import Denoiser, FlaxNetwork
from diffjax.losses import DiscreteTime, denoising_loss
from diffjax.models import DDPMIndexInput
from diffjax.networks import UNet, ddpm_cifar10
from diffjax.parameterisations import EpsPrediction
from diffjax.samplers import DDIM, DDPMTimestepGrid, sample, time_grid
from diffjax.schedules import DiscreteDDPM
from diffjax.training import init_train_state, make_optimizer, make_train_step

# dense (no sparsity) peak TFLOP/s per device kind: (TF32 tensor cores, bfloat16), vendor sheets
PEAK_TFLOPS = {"H200": (494.7, 989.4), "H100": (494.7, 989.4), "A100": (156.0, 312.0)}
# name: (image shape, diffjax UNet options (None: ddpm_cifar10), diffusers UNet2DModel blocks)
_SMALL_TORCH = dict(
    channels=(32, 64),
    layers=1,
    groups=8,
    down=("DownBlock2D", "AttnDownBlock2D"),
    up=("AttnUpBlock2D", "UpBlock2D"),
)
MODELS = {
    "cifar10": (
        (32, 32, 3),
        None,
        dict(
            channels=(128, 256, 256, 256),
            layers=2,
            groups=32,
            down=("DownBlock2D", "AttnDownBlock2D", "DownBlock2D", "DownBlock2D"),
            up=("UpBlock2D", "UpBlock2D", "AttnUpBlock2D", "UpBlock2D"),
        ),
    ),
    # configs/common.py's UNet (ch 32, mults 1-2, attention at 4 x 4) on 8x8 digits
    "digits": (
        (8, 8, 1),
        dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(4,), groups=8),
        _SMALL_TORCH,
    ),
    "quick": (
        (32, 32, 3),
        dict(ch=32, ch_mult=(1, 2), num_res_blocks=1, attn_resolutions=(16,), groups=8),
        _SMALL_TORCH,
    ),
}


def peak_tflops(dtype: str) -> float | None:
    kind = jax.devices()[0].device_kind
    for name, (tf32, bf16) in PEAK_TFLOPS.items():
        if name in kind:
            return bf16 if dtype == "bfloat16" else tf32
    if jax.devices()[0].platform == "cpu" and dtype == "float32":
        return measured_peak_tflops()
    return None


_MEASURED: dict = {}


def measured_peak_tflops(n: int = 2048) -> float:
    """float32 TFLOP/s of an n x n matmul under jit on this device (best of 5 after warm-up):
    the practical peak on a machine without a vendor number (a CPU)."""
    if "peak" not in _MEASURED:
        a = jax.random.normal(jax.random.PRNGKey(0), (n, n), jnp.float32)
        mm = jax.jit(lambda a: a @ a)
        jax.block_until_ready(mm(a))
        best = min(timed(lambda: mm(a), 3, jax.block_until_ready) for _ in range(5))
        _MEASURED["peak"] = 2 * n**3 / best / 1e12
    return _MEASURED["peak"]


def timed(fn, steps: int, sync) -> float:
    """Seconds per call of fn over `steps` calls, after 2 warm-up calls (compilation)."""
    for _ in range(2):
        sync(fn())
    start = time.perf_counter()
    for _ in range(steps):
        out = fn()
    sync(out)
    return (time.perf_counter() - start) / steps


# ---------------------------------------------------------------- diffjax


def diffjax_unet(dtype: str, model: str) -> UNet:
    """The `model` UNet (MODELS) computing in `dtype`, parameters in float32."""
    options = MODELS[model][1]
    if options is None:
        return ddpm_cifar10(dtype=jnp.dtype(dtype))
    return UNet(dtype=jnp.dtype(dtype), **options)


def ddpm_denoiser(model) -> Denoiser:
    """Ho et al.'s model: eps prediction, the 0-based timestep as the network's input."""
    return Denoiser(FlaxNetwork(model), DiscreteDDPM(), EpsPrediction(), DDPMIndexInput())


def diffjax_train(batch: int, dtype: str, steps: int, model: str) -> dict:
    den = ddpm_denoiser(diffjax_unet(dtype, model))
    loss_fn = denoising_loss(den, time_sampling=DiscreteTime())
    key = jax.random.PRNGKey(0)
    x = {"data": jax.random.normal(key, (batch, *MODELS[model][0]), jnp.float32)}
    params = den.init(key, x["data"][:1])
    opt = make_optimizer("adam", 2e-4, warmup_steps=5000, grad_clip=1.0)
    step = make_train_step(loss_fn, opt, ema=0.9999)
    holder = {"state": init_train_state(params, opt, key)}
    flops = step.lower(holder["state"], x).compile().cost_analysis()
    flops = (flops[0] if isinstance(flops, list) else flops).get("flops", float("nan"))

    def one():
        holder["state"], metrics = step(holder["state"], x)
        return metrics["loss"]

    seconds = timed(one, steps, jax.block_until_ready)
    n_params = sum(p.size for p in jax.tree.leaves(params))
    return {"seconds": seconds, "flops": flops, "params": n_params}


def diffjax_sample(batch: int, nfe: int, dtype: str, model: str) -> float:
    den = ddpm_denoiser(diffjax_unet(dtype, model))
    x = jax.random.normal(jax.random.PRNGKey(1), (batch, *MODELS[model][0]), jnp.float32)
    params = den.init(jax.random.PRNGKey(0), x[:1])
    grid = time_grid(den.schedule, nfe, DDPMTimestepGrid())
    run = jax.jit(lambda p, x: sample(den, x, grid, DDIM(), params=p).samples)
    return timed(lambda: run(params, x), 3, jax.block_until_ready)


# ---------------------------------------------------------------- diffusers / torch


def torch_unet(model: str):
    """diffusers' UNet2DModel in the configuration of MODELS[model] (attention where diffjax has
    it, the same parameter count)."""
    import_torchvision()  # diffusers' model imports use it; a CPU torch here needs the workaround
    from diffusers import UNet2DModel

    (size, _, channels), blocks = MODELS[model][0], MODELS[model][2]
    return UNet2DModel(
        sample_size=size,
        in_channels=channels,
        out_channels=channels,
        block_out_channels=blocks["channels"],
        down_block_types=blocks["down"],
        up_block_types=blocks["up"],
        layers_per_block=blocks["layers"],
        norm_num_groups=blocks["groups"],
        dropout=0.1,
        flip_sin_to_cos=False,
        freq_shift=1,
        downsample_padding=0,
        attention_head_dim=None,
        norm_eps=1e-6,
    )


def torch_setup(model_name: str, compile_: bool):
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = torch_unet(model_name).to(device)
    run = torch.compile(model) if compile_ else model
    sync = (lambda _: torch.cuda.synchronize()) if device == "cuda" else (lambda _: None)
    return torch, device, model, run, sync


def _torch_shape(model: str) -> tuple:
    h, w, c = MODELS[model][0]
    return (c, h, w)


def torch_train(batch: int, dtype: str, steps: int, model_name: str, compile_: bool) -> dict:
    torch, device, model, run, sync = torch_setup(model_name, compile_)
    model.train()
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 1000, device=device), 0)
    opt = torch.optim.Adam(model.parameters(), lr=2e-4)
    ema = [p.detach().clone() for p in model.parameters()]
    x0 = torch.randn(batch, *_torch_shape(model_name), device=device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == "bfloat16")

    def one():
        t = torch.randint(0, 1000, (batch,), device=device)
        eps = torch.randn_like(x0)
        a = abar[t].view(-1, 1, 1, 1)
        with autocast:
            pred = run(a.sqrt() * x0 + (1 - a).sqrt() * eps, t).sample
        loss = torch.mean((pred.float() - eps) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            torch._foreach_lerp_(ema, list(model.parameters()), 1 - 0.9999)
        return loss

    return {"seconds": timed(one, steps, sync)}


def torch_sample(batch: int, nfe: int, dtype: str, model_name: str, compile_: bool) -> float:
    import_torchvision()
    from diffusers import DDIMScheduler

    torch, device, model, run, sync = torch_setup(model_name, compile_)
    model.eval()
    scheduler = DDIMScheduler(
        num_train_timesteps=1000,
        timestep_spacing="trailing",
        clip_sample=False,
        set_alpha_to_one=False,
    )
    scheduler.set_timesteps(nfe)
    x_T = torch.randn(batch, *_torch_shape(model_name), device=device)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=dtype == "bfloat16")

    @torch.no_grad()
    def one():
        x = x_T
        for t in scheduler.timesteps:
            with autocast:
                eps = run(x, t.to(device).expand(batch)).sample
            x = scheduler.step(eps.float(), t, x).prev_sample
        return x

    return timed(one, 3, sync)


# ---------------------------------------------------------------- tables


def run(args) -> tuple[list, list, dict]:
    train_rows, sample_rows = [], []
    info = {}
    for dtype in args.dtypes:
        r = diffjax_train(args.batch, dtype, args.steps, args.model)
        info.update(flops=r["flops"], params=r["params"])
        train_rows.append(("diffjax", dtype, r["seconds"]))
        sample_rows.append(
            ("diffjax", dtype, diffjax_sample(args.sample_batch, args.nfe, dtype, args.model))
        )
        if args.peers:
            for mode in ("eager", "compile") if args.compile else ("eager",):
                label = f"diffusers {mode}"
                train_rows.append(
                    (
                        label,
                        dtype,
                        torch_train(args.batch, dtype, args.steps, args.model, mode == "compile")[
                            "seconds"
                        ],
                    )
                )
                sample_rows.append(
                    (
                        label,
                        dtype,
                        torch_sample(
                            args.sample_batch, args.nfe, dtype, args.model, mode == "compile"
                        ),
                    )
                )
    if args.peers:
        import torch

        info["torch_params"] = sum(p.numel() for p in torch_unet(args.model).parameters())
        info["torch"] = torch.__version__
    return train_rows, sample_rows, info


def tables(train_rows, sample_rows, info, args) -> str:
    device = jax.devices()[0]
    peaks = {dt: peak_tflops(dt) for _, dt, _ in train_rows}
    head = (
        f"Device: {device.device_kind} ({device.platform}), jax {jax.__version__}"
        + (f", torch {info['torch']}" if "torch" in info else "")
        + f". UNet {getattr(args, 'model', 'cifar10')} on {MODELS[getattr(args, 'model', 'cifar10')][0]} images,"
        f" parameters: diffjax {info['params'] / 1e6:.2f}M"
        + (f", diffusers {info['torch_params'] / 1e6:.2f}M" if "torch_params" in info else "")
        + f". Train step: batch {args.batch}, {info['flops'] / 1e12:.3f} TFLOP (XLA count); "
        f"sampling: DDIM, {args.nfe} steps, batch {args.sample_batch}."
        + (
            f" MFU against {_MEASURED['peak']:.3f} TFLOP/s, this run's float32 matmul."
            if "peak" in _MEASURED
            else ""
        )
        + "\n\n"
    )
    base = {dt: s for lib, dt, s in train_rows if lib == "diffjax"}
    lines = [
        "| library | dtype | ms / step | images / s | MFU | diffjax speed-up |",
        "|---|---|---|---|---|---|",
    ]
    for lib, dt, s in train_rows:
        peak = peaks[dt]
        mfu = f"{info['flops'] / s / (peak * 1e12):.1%}" if peak else "n/a (unknown peak)"
        lines.append(
            f"| {lib} | {dt} | {1e3 * s:.1f} | {args.batch / s:.0f} | {mfu} | {s / base[dt]:.2f}x |"
        )
    text = head + "Training:\n\n" + "\n".join(lines) + "\n"
    base = {dt: s for lib, dt, s in sample_rows if lib == "diffjax"}
    lines = [
        "| library | dtype | s / batch | images / s | steps / s | diffjax speed-up |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {lib} | {dt} | {s:.3f} | {args.sample_batch / s:.0f} | {args.nfe / s:.1f} "
        f"| {s / base[dt]:.2f}x |"
        for lib, dt, s in sample_rows
    ]
    return text + "\nSampling:\n\n" + "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--sample_batch", type=int, default=256)
    parser.add_argument("--nfe", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20, help="timed train steps")
    parser.add_argument(
        "--dtypes", nargs="+", default=["float32", "bfloat16"], choices=["float32", "bfloat16"]
    )
    parser.add_argument("--peers", action="store_true", help="also diffusers (needs torch)")
    parser.add_argument(
        "--no_compile", dest="compile", action="store_false", help="skip the torch.compile rows"
    )
    parser.add_argument("--model", default="cifar10", choices=sorted(MODELS))
    parser.add_argument("--quick", action="store_true", help="tiny UNet, small batches (CPU)")
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    if args.quick:
        args.model = "quick"
        args.batch, args.sample_batch, args.nfe, args.steps = 4, 4, 2, 2
    emit(tables(*run(args), args), args.out)


if __name__ == "__main__":
    main()
