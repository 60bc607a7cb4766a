"""The command line shared by every experiment: --config (ml_collections, locked: unknown keys
fail), --config.key=value overrides, --workdir; prints the results and where they are."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


def resolved(key: str, resolver: Callable[[Any], Any], spec: Any) -> Any:
    """resolver(spec), an error naming the config key that held the spec."""
    try:
        return resolver(spec)
    except (TypeError, ValueError) as err:
        raise type(err)(f"config.{key}: {err}") from None


def launch(train_and_evaluate: Callable, default_config: str, default_workdir: str) -> None:
    from absl import app, flags
    from ml_collections import config_flags

    FLAGS = flags.FLAGS
    config_flags.DEFINE_config_file("config", default_config, "experiment config", lock_config=True)
    flags.DEFINE_string("workdir", default_workdir, "where results are written")

    def main(argv):
        del argv
        results = train_and_evaluate(FLAGS.config, FLAGS.workdir)
        print(json.dumps(results, indent=2))
        print(f"results written to {FLAGS.workdir}/ (results.json, metrics.jsonl, plots)")

    app.run(main)
