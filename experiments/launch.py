"""The command line shared by every experiment: --config (ml_collections, locked), --config.key=value
overrides, --workdir, --fresh (start the workdir afresh), --verbose (library INFO logs), --trained RUN
(score a finished run with other sample.* / eval.* settings, no training); prints a
short summary of the results and where they are.

`--help` lists every config key with its default and the comment its config file gives it; an
unknown key, nested ones included, fails before anything runs and names the nearest valid key.
"""

from __future__ import annotations

import difflib
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from typing import Any


def resolved(key: str, resolver: Callable[[Any], Any], spec: Any) -> Any:
    """resolver(spec), an error naming the config key that held the spec."""
    try:
        return resolver(spec)
    except (TypeError, ValueError) as err:
        raise type(err)(f"config.{key}: {err}") from None


def _load(path: str):
    from ml_collections import config_flags

    return config_flags.config_flags._ConfigFileParser("config").parse(path)


def config_keys(config) -> dict:
    """Every leaf key (dotted) of a config with its default."""
    from experiments.workdir import config_dict, flatten

    return flatten(config_dict(config))


def key_comments(path: str) -> dict:
    """'key' -> the comment on its assignment line (c.key = ...  # comment) in configs/common.py
    (the base every config starts from) or, overriding it, in the config file itself."""
    out, prefix = {}, re.compile(r"^\s*c\.([\w.]+)\s*=.*?#\s*(.+)$")
    base = os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "common.py"
    )
    for file in dict.fromkeys([base, path.split(":")[0]]):
        if os.path.exists(file):
            for line in open(file):
                match = prefix.match(line)
                if match:
                    out[match.group(1)] = match.group(2).strip()
    return out


def help_text(path: str) -> str:
    keys, notes = config_keys(_load(path)), key_comments(path)
    lines = [f"config keys of {path} (override with --config.KEY=VALUE):"]
    lines += [f"  {k} = {v!r}" + (f"  # {notes[k]}" if k in notes else "") for k, v in keys.items()]
    lines += [
        "",
        "--workdir DIR   where results go",
        "--fresh         delete DIR's contents first",
        "--verbose       show the libraries' INFO logs",
        "--trained RUN   evaluate the finished run RUN (only sample.* / eval.* may differ)",
    ]
    return "\n".join(lines)


def check_overrides(argv: list[str], path: str) -> None:
    """Exits naming the nearest valid key when an override names no config key."""
    keys = config_keys(_load(path))
    for arg in argv:
        match = re.match(r"^--config\.([\w.]+)", arg)
        if match and match.group(1) not in keys:
            near = difflib.get_close_matches(match.group(1), keys, n=1, cutoff=0.5)
            hint = f"; did you mean config.{near[0]}?" if near else ""
            sys.exit(f"unknown config key config.{match.group(1)}{hint} (--help lists them)")


def quiet_libraries(verbose: bool) -> None:
    """absl / orbax INFO lines hidden unless --verbose (warnings and errors still show)."""
    from absl import logging as absl_logging

    level = absl_logging.INFO if verbose else absl_logging.WARNING
    absl_logging.set_verbosity(level)
    logging.getLogger().setLevel(logging.INFO if verbose else logging.WARNING)


def summary(results: dict, workdir: str) -> str:
    scalars = {k: v for k, v in results.items() if isinstance(v, int | float | str)}
    body = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in scalars.items()
    )
    return f"{body}\nresults written to {workdir}/ (results.json, metrics.jsonl, plots)"


def config_path(argv: list[str], default: str) -> str:
    """The value of --config=PATH or --config PATH (default when absent)."""
    for i, arg in enumerate(argv):
        if arg.startswith("--config="):
            return arg.split("=", 1)[1]
        if arg == "--config" and i + 1 < len(argv):
            return argv[i + 1]
    return default


def launch(
    train_and_evaluate: Callable,
    default_config: str,
    default_workdir: str,
    evaluate_trained: Callable | None = None,
) -> None:
    from absl import app, flags
    from ml_collections import config_flags

    path = config_path(sys.argv[1:], default_config)
    if "--help" in sys.argv or "-h" in sys.argv:
        print(help_text(path))
        return
    check_overrides(sys.argv[1:], path)
    FLAGS = flags.FLAGS
    config_flags.DEFINE_config_file("config", default_config, "experiment config", lock_config=True)
    flags.DEFINE_string("workdir", default_workdir, "where results are written")
    flags.DEFINE_bool("fresh", False, "delete the workdir's contents before the run")
    flags.DEFINE_bool("verbose", False, "show the libraries' INFO logs")
    if evaluate_trained is not None:
        flags.DEFINE_string(
            "trained", None, "evaluate the finished run in this directory instead of training"
        )

    def main(argv):
        del argv
        quiet_libraries(FLAGS.verbose)
        if evaluate_trained is not None and FLAGS.trained:
            results = evaluate_trained(
                FLAGS.config, FLAGS.workdir, FLAGS.trained, fresh=FLAGS.fresh
            )
        else:
            results = train_and_evaluate(FLAGS.config, FLAGS.workdir, fresh=FLAGS.fresh)
        print(summary(results, FLAGS.workdir))
        with open(f"{FLAGS.workdir}/results.json") as f:
            json.load(f)  # the file the summary points to exists and parses

    app.run(main)
