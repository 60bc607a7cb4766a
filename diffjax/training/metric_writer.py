"""Metrics to JSONL (always) and TensorBoard event files (tensorboardX: no TensorFlow needed).

Only process 0 writes. After a resume, `rewind(step)` drops what the killed run logged past its
last checkpoint, so the logs read as those of one uninterrupted run.
"""

from __future__ import annotations

import json
import os

import jax
import numpy as np


class MetricWriter:
    def __init__(self, workdir: str, *, tensorboard: bool = True):
        self.path = os.path.join(workdir, "metrics.jsonl")
        self.tb_dir = os.path.join(workdir, "tensorboard")
        self.enabled = jax.process_index() == 0
        self.tensorboard = tensorboard
        self._tb = None
        if self.enabled:
            os.makedirs(workdir, exist_ok=True)

    def rewind(self, step: int) -> None:
        """Forget records with step > `step` (JSONL rewritten; TensorBoard purges them)."""
        if not self.enabled:
            return
        if os.path.exists(self.path):
            kept = [r for r in read_metrics(os.path.dirname(self.path)) if r["step"] <= step]
            with open(self.path, "w") as f:
                f.writelines(json.dumps(r) + "\n" for r in kept)
        if self.tensorboard:
            self._open_tb(purge_step=step + 1 if step else None)

    def _open_tb(self, purge_step=None):
        from tensorboardX import SummaryWriter

        if self._tb is not None:
            self._tb.close()
        self._tb = SummaryWriter(self.tb_dir, purge_step=purge_step)

    def write_scalars(self, step: int, scalars: dict) -> None:
        if not self.enabled or not scalars:
            return
        values = {k: float(np.asarray(v)) for k, v in scalars.items()}
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": int(step), **values}) + "\n")
        if self.tensorboard:
            if self._tb is None:
                self._open_tb()
            for k, v in values.items():
                self._tb.add_scalar(k, v, int(step))

    def write_image(self, step: int, name: str, image: np.ndarray) -> None:
        """image: uint8 (H, W, C), e.g. a sample grid."""
        if self.enabled and self.tensorboard:
            if self._tb is None:
                self._open_tb()
            self._tb.add_image(name, image, int(step), dataformats="HWC")

    def flush(self) -> None:
        """TensorBoard events to disk (the JSONL is closed after every record)."""
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(workdir: str) -> list[dict]:
    """The records of <workdir>/metrics.jsonl, in order ([] if there is none). A damaged last
    line (a record cut short by a kill) is dropped; a damaged line before it is an error."""
    path = os.path.join(workdir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [line for line in f if line.strip()]
    records = []
    for n, line in enumerate(lines):
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if n != len(lines) - 1:
                raise ValueError(f"{path}: line {n + 1} is not a JSON record.") from None
    return records
