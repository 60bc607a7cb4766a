"""The config of a finished run, rebuilt from the record it wrote (its config.json).

    python -m experiments.run --config "configs/from_record.py:RUN/config.json" \
        --config.eval.seed=1 --trained RUN --workdir RUN/evals/draw1

scores RUN again with its own config but for the keys overridden on the command line (here a
fresh draw of its samples), without spelling out the overrides the run was trained with (a
study's cell, say). Keys the record lacks (it predates them) keep configs/common.base()'s
defaults, which is what such a run used; a key the base does not know is refused by name.
"""

import json

from configs import common
from experiments.workdir import flatten, set_key


def get_config(record: str):
    with open(record) as f:
        recorded = flatten(json.load(f))
    config = common.base()
    known = flatten(config.to_dict())
    unknown = sorted(set(recorded) - set(known))
    if unknown:
        raise ValueError(f"{record}: keys configs/common.base() does not have: {unknown}")
    for key, value in recorded.items():
        set_key(config, key, value, what="record key")
    return config
