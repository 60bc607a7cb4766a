"""Where the digits UNet's CPU time goes: its layers one at a time, XLA:CPU (jit) against torch.

    .venv-peers/bin/python -m benchmarks.cpu_ops --out docs/cpu_ops.md

The shapes are the digits UNet's at its training batch (configs/common.py: ch 32 at 8x8, 64 at
4x4, GroupNorm(8), attention at 4x4; batch 128), float32, NHWC for JAX (flax's layout) and NCHW
for torch (its own). Each convolution is split into its forward, its input gradient and its
weight gradient (jax.vjp with the other operand closed over, so XLA drops the unused gradient;
torch's aten.convolution_backward with an output mask). Every figure is a minimum over repeats
after half a second of warm-up calls (benchmarks/timing.py); the JAX and torch programs are timed
one after the other. The last column is the JAX time over the torch time (> 1: XLA:CPU is slower).
"""

from __future__ import annotations

import argparse
import platform

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.peers import emit
from benchmarks.timing import min_times

BATCH = 128
DN = ("NHWC", "HWIO", "NHWC")


def _conv(x, w):
    return jax.lax.conv_general_dilated(x, w, (1, 1), "SAME", dimension_numbers=DN)


def jax_conv_ops(size: int, channels: int, rng) -> dict:
    """{op: zero-argument fn} for a 3x3 convolution channels -> channels on size x size."""
    x = jnp.asarray(rng.standard_normal((BATCH, size, size, channels)), jnp.float32)
    w = jnp.asarray(rng.standard_normal((3, 3, channels, channels)) * 0.05, jnp.float32)
    dy = jnp.asarray(rng.standard_normal((BATCH, size, size, channels)), jnp.float32)
    fwd = jax.jit(_conv)
    dx = jax.jit(lambda x, w, dy: jax.vjp(lambda x: _conv(x, w), x)[1](dy)[0])
    dw = jax.jit(lambda x, w, dy: jax.vjp(lambda w: _conv(x, w), w)[1](dy)[0])
    return {
        "forward": lambda: fwd(x, w),
        "input gradient": lambda: dx(x, w, dy),
        "weight gradient": lambda: dw(x, w, dy),
    }


def torch_conv_ops(size: int, channels: int, rng) -> dict:
    import torch

    x = torch.tensor(rng.standard_normal((BATCH, channels, size, size)), dtype=torch.float32)
    w = torch.tensor(rng.standard_normal((channels, channels, 3, 3)) * 0.05, dtype=torch.float32)
    dy = torch.tensor(rng.standard_normal((BATCH, channels, size, size)), dtype=torch.float32)

    def backward(mask):
        return torch.ops.aten.convolution_backward(
            dy, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask
        )

    with torch.no_grad():
        return {
            "forward": lambda: torch.nn.functional.conv2d(x, w, padding=1),
            "input gradient": lambda: backward([True, False, False]),
            "weight gradient": lambda: backward([False, True, False]),
        }


def jax_norm_ops(size: int, channels: int, rng) -> dict:
    """GroupNorm(8) forward and its gradient (input and affine parameters)."""
    x = jnp.asarray(rng.standard_normal((BATCH, size, size, channels)), jnp.float32)
    dy = jnp.asarray(rng.standard_normal(x.shape), jnp.float32)
    norm = nn.GroupNorm(8)
    params = norm.init(jax.random.PRNGKey(0), x)
    fwd = jax.jit(norm.apply)
    grad = jax.jit(jax.grad(lambda p, x: jnp.sum(norm.apply(p, x) * dy), argnums=(0, 1)))
    return {"forward": lambda: fwd(params, x), "gradient": lambda: grad(params, x)}


def torch_norm_ops(size: int, channels: int, rng) -> dict:
    import torch

    x = torch.tensor(
        rng.standard_normal((BATCH, channels, size, size)), dtype=torch.float32, requires_grad=True
    )
    dy = torch.tensor(rng.standard_normal(tuple(x.shape)), dtype=torch.float32)
    norm = torch.nn.GroupNorm(8, channels)

    def grad():
        return torch.autograd.grad(norm(x), [x, *norm.parameters()], dy)

    def fwd():
        with torch.no_grad():
            return norm(x)

    return {"forward": fwd, "gradient": grad}


def rows(rng_seed: int = 0, repeats: int = 15) -> list[tuple]:
    """(layer, op, jax ms, torch ms) for each op at the digits UNet's shapes."""
    layers = [
        ("conv3x3 32->32 at 8x8", jax_conv_ops, torch_conv_ops, (8, 32)),
        ("conv3x3 64->64 at 4x4", jax_conv_ops, torch_conv_ops, (4, 64)),
        ("GroupNorm(8) 32 ch at 8x8", jax_norm_ops, torch_norm_ops, (8, 32)),
        ("GroupNorm(8) 64 ch at 4x4", jax_norm_ops, torch_norm_ops, (4, 64)),
    ]
    out = []
    for name, make_jax, make_torch, shape in layers:
        ours = make_jax(*shape, np.random.default_rng(rng_seed))
        theirs = make_torch(*shape, np.random.default_rng(rng_seed))
        for op in ours:
            a, b = min_times([ours[op], theirs[op]], repeats, interleave=False, warmup_seconds=0.5)
            out.append((name, op, 1e3 * a, 1e3 * b))
    return out


def table(measured: list[tuple], header: str) -> str:
    lines = [
        header,
        "",
        "| layer | op | XLA:CPU ms | torch ms | XLA / torch |",
        "|---|---|---|---|---|",
    ]
    for name, op, a, b in measured:
        lines.append(f"| {name} | {op} | {a:.2f} | {b:.2f} | {a / b:.2f} |")
    return "\n".join(lines) + "\n"


def main():
    import torch

    from experiments.provenance import git_revision

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--note", default="", help="a line on the machine's state (e.g. its load)")
    p.add_argument("--out", default="")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    header = (
        "# The digits UNet's layers on this CPU: XLA:CPU against torch (issue 12, part 5)\n\n"
        f"Command: `.venv-peers/bin/python -m benchmarks.cpu_ops --out {args.out or '-'}` at "
        f"revision {git_revision()}; jax {jax.__version__}, torch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"batch {BATCH}, float32. {args.note}"
    )
    emit(table(rows(repeats=args.repeats), header.strip()), args.out)


if __name__ == "__main__":
    main()
