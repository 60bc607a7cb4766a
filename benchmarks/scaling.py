"""Benchmark 5: data-parallel scaling of the train step: 1 device, 8 (fake CPU) devices, 2 processes.

Each configuration runs in fresh processes: I-CFM on the 3 x 64 MLP, AdamW, the same global
batches (a function of the step), `--steps` timed steps after a warm-up. Reported: ms per step,
the ratio to 1 device, and the largest parameter difference to the 1-device run after all steps.
On this 2-core CPU more devices add no compute: the ratio measures the cost of partitioning and of
the collectives (gloo between processes), the difference measures correctness. The host keeps at
most 4 steps in flight, as `diffjax.training.train` does; the last row dispatches all steps
without waiting, which deadlocks XLA:CPU's 8-device collectives here (it is expected to fail).

    python -m benchmarks.scaling [--batch 512] [--steps 200] [--out docs/scaling.md]
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def child(args):
    if args.num_processes > 1:
        import jax

        jax.distributed.initialize(f"127.0.0.1:{args.port}", args.num_processes, args.process_id)
    import jax
    import jax.numpy as jnp
    import numpy as np

    from diffjax import Denoiser, FlaxNetwork
    from diffjax.losses import flow_matching_loss, presets
    from diffjax.networks import MLP
    from diffjax.parameterisations import VelocityPrediction
    from diffjax.training import init_train_state, make_optimizer, make_train_step

    path = presets.icfm(0.1)
    den = Denoiser(FlaxNetwork(MLP(width=64, depth=3)), path.schedule, VelocityPrediction())
    loss_fn = flow_matching_loss(den, path)
    opt = make_optimizer("adamw", 1e-3, weight_decay=1e-5)
    params = den.init(jax.random.PRNGKey(0), jnp.zeros((1, 2), jnp.float32))
    state = init_train_state(params, opt, jax.random.PRNGKey(1))
    step = make_train_step(loss_fn, opt, ema=0.999)
    n, p = jax.process_count(), jax.process_index()
    local = args.batch // n

    def batch(k):  # the global batch of step k; this process takes its rows
        rng = np.random.default_rng(k)
        data = rng.normal(size=(args.batch, 2)).astype(np.float32) * 3
        source = rng.normal(size=(args.batch, 2)).astype(np.float32)
        rows = slice(p * local, (p + 1) * local)
        return {"data": data[rows], "source": source[rows]}

    batches = [batch(k) for k in range(args.steps + 10)]
    for k in range(10):
        state, m = step(state, batches[k])
    jax.block_until_ready(m["loss"])
    start = time.perf_counter()
    in_flight = collections.deque()
    for k in range(10, args.steps + 10):
        state, m = step(state, batches[k])
        in_flight.append(m)
        if args.max_in_flight and len(in_flight) > args.max_in_flight:  # as training.train does
            jax.block_until_ready(in_flight.popleft())
    jax.block_until_ready(m["loss"])
    ms = 1e3 * (time.perf_counter() - start) / args.steps
    if p == 0:
        leaves = [np.asarray(jax.device_get(x)) for x in jax.tree.leaves(state.params)]
        np.savez(args.result, *leaves)
        print(json.dumps({"ms": ms, "devices": jax.device_count()}), flush=True)


def launch(
    devices_per_process: int,
    num_processes: int,
    batch: int,
    steps: int,
    result: str,
    max_in_flight: int = 4,
):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": ROOT}
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices_per_process}"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.scaling",
                "--child",
                f"--batch={batch}",
                f"--steps={steps}",
                f"--num_processes={num_processes}",
                f"--process_id={i}",
                f"--port={port}",
                f"--result={result}",
                f"--max_in_flight={max_in_flight}",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(num_processes)
    ]
    try:
        outs = [proc.communicate(timeout=300) for proc in procs]
    except subprocess.TimeoutExpired as e:
        for proc in procs:
            proc.kill()
        raise RuntimeError(
            f"`{devices_per_process} devices x {num_processes} processes: no progress in 300 s "
            "(hung in a collective)"
        ) from e
    if any(proc.returncode for proc in procs):
        raise RuntimeError(
            f"a child failed ({devices_per_process} devices x {num_processes} processes): "
            + " | ".join(err[-1500:] for _, err in outs)
        )
    return json.loads(outs[0][0].strip().splitlines()[-1])


def run(batch: int = 512, steps: int = 200):
    import numpy as np

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = [  # (name, devices per process, processes, max steps in flight; 0 = unbounded)
            ("1 device", 1, 1, 4),
            ("8 devices, 1 process", 8, 1, 4),
            ("2 processes x 1 device", 1, 2, 4),
            ("2 processes x 4 devices", 4, 2, 4),
            ("8 devices, unbounded dispatch", 8, 1, 0),
        ]
        results = {}
        failures = {}
        for name, devices, procs, in_flight in configs:
            path = os.path.join(tmp, f"{devices}_{procs}_{in_flight}.npz")
            try:
                out = launch(devices, procs, batch, steps, path, in_flight)
            except RuntimeError as e:  # reported in the table, not hidden
                why = " ".join(str(e).split("`")[-1].split())  # one markdown-safe line
                failures[name] = (devices * procs, why.replace("|", "/")[:160])
                continue
            results[name] = (out, np.load(path))
        base_ms, base = results["1 device"][0]["ms"], results["1 device"][1]
        for name, (out, params) in results.items():
            diff = max(float(np.max(np.abs(params[k] - base[k]))) for k in base.files)
            rows.append((name, out["devices"], out["ms"], out["ms"] / base_ms, diff))
        for name, (devices, why) in failures.items():
            rows.append((name, devices, float("nan"), float("nan"), why))
    return rows


def table(rows, batch, steps) -> str:
    lines = [
        f"I-CFM train step, global batch {batch}, {steps} steps:",
        "",
        "| configuration | devices | ms / step | vs 1 device | max param diff vs 1 device |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {d} | {ms:.3f} | {r:.2f} | {diff:.1e} |"
        if isinstance(diff, float)
        else f"| {n} | {d} | failed | - | {diff} |"
        for n, d, ms, r, diff in rows
    ]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--out", default="")
    parser.add_argument("--child", action="store_true")
    parser.add_argument("--num_processes", type=int, default=1)
    parser.add_argument("--process_id", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--result", default="")
    parser.add_argument("--max_in_flight", type=int, default=4, help="0: unbounded")
    args = parser.parse_args()
    if args.child:
        return child(args)
    text = table(run(args.batch, args.steps), args.batch, args.steps)
    from benchmarks.peers import emit  # not at the top: a child initialises jax.distributed first

    emit(text, args.out)


if __name__ == "__main__":
    main()
