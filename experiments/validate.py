"""Config values checked before any work, each error naming the key and what it must be."""

from __future__ import annotations

import math


class ConfigError(ValueError):
    """A config value is out of its range; the message names the key."""


def positive_int(config, *keys: str) -> None:
    for key in keys:
        value = _get(config, key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"config.{key} must be a positive integer; got {value!r}.")


def positive(config, *keys: str) -> None:
    for key in keys:
        value = _get(config, key)
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ConfigError(f"config.{key} must be a finite number > 0; got {value!r}.")


def non_negative(config, *keys: str) -> None:
    for key in keys:
        value = _get(config, key)
        if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
            raise ConfigError(f"config.{key} must be a finite number >= 0; got {value!r}.")


def at_most(config, key: str, bound: int, what: str) -> None:
    value = _get(config, key)
    if value > bound:
        raise ConfigError(f"config.{key}={value} must be at most {what} ({bound}).")


def fraction(config, *keys: str) -> None:
    for key in keys:
        value = _get(config, key)
        if not (isinstance(value, int | float) and 0 <= value < 1):
            raise ConfigError(f"config.{key} must lie in [0, 1); got {value!r}.")


def _get(config, key: str):
    node = config
    for part in key.split("."):
        node = getattr(node, part)
    return node


def optional(config, check, *keys: str) -> None:
    """check(config, key) for each key whose value is not None (an unset placeholder)."""
    for key in keys:
        if _get(config, key) is not None:
            check(config, key)
