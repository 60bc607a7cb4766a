"""Input validation shared by every module: errors name the argument and the allowed values."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import jax
import numpy as np


def check_choice(argument: str, value: Any, choices: Iterable[str]) -> str:
    """Returns `value` if it is one of `choices`, else raises naming the argument and the choices."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{argument}={value!r} is not one of {', '.join(map(repr, choices))}.")
    return value


def is_concrete(x: Any) -> bool:
    """True when `x` holds values now (not a tracer inside jit/vmap/grad)."""
    return not isinstance(x, jax.core.Tracer)


def check_unit_interval(argument: str, t: Any) -> None:
    """Raises if a concrete `t` has an entry outside [0, 1] or a NaN. Traced values pass unchecked."""
    if not is_concrete(t):
        return
    values = np.asarray(t)
    if values.size and not np.all((values >= 0.0) & (values <= 1.0)):
        bad = values[~((values >= 0.0) & (values <= 1.0))].ravel()[:3]
        raise ValueError(
            f"{argument} must lie in [0, 1] (0 = data, 1 = noise); got values such as {bad.tolist()}."
        )


def check_positive(argument: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{argument} must be > 0; got {value!r}.")


def check_same_shape(name_a: str, a: Any, name_b: str, b: Any) -> None:
    if np.shape(a) != np.shape(b):
        raise ValueError(
            f"{name_a} and {name_b} must have the same shape; got {np.shape(a)} and {np.shape(b)}."
        )


def check_batch_time(x_name: str, x: Any, t_name: str, t: Any) -> None:
    """`t` must be a scalar or have shape (batch,) matching the leading axis of `x`."""
    t_shape, x_shape = np.shape(t), np.shape(x)
    if t_shape == () or (len(t_shape) == 1 and x_shape and t_shape[0] == x_shape[0]):
        return
    raise ValueError(
        f"{t_name} must be a scalar or have shape (batch,) = ({x_shape[0] if x_shape else '?'},) "
        f"to match {x_name} of shape {x_shape}; got shape {t_shape}."
    )


def check_instance(argument: str, value: Any, cls: type) -> None:
    """Raises TypeError unless `value` is a `cls`; a string points to `diffjax.resolve`."""
    if isinstance(value, cls):
        return
    hint = ""
    if isinstance(value, str):
        hint = f" Strings are for configs: `diffjax.resolve` turns {value!r} into a {cls.__name__}."
    raise TypeError(f"{argument} must be a {cls.__name__}; got {value!r}.{hint}")


def check_range(argument: str, value: Any, lo: float, hi: float, *, closed: bool = True) -> None:
    """Raises ValueError unless lo <= value <= hi (lo < value < hi when not closed)."""
    ok = (lo <= value <= hi) if closed else (lo < value < hi)
    if not ok:
        brackets = "[]" if closed else "()"
        raise ValueError(
            f"{argument} must lie in {brackets[0]}{lo}, {hi}{brackets[1]}; got {value!r}."
        )


def check_int(argument: str, value: Any, allowed: Iterable[int] | None = None, minimum=None):
    """Raises unless `value` is an int (not bool) in `allowed` or at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{argument} must be an integer; got {value!r}.")
    if allowed is not None and value not in tuple(allowed):
        raise ValueError(f"{argument} must be one of {tuple(allowed)}; got {value!r}.")
    if minimum is not None and value < minimum:
        raise ValueError(f"{argument} must be >= {minimum}; got {value!r}.")


class Choice(enum.Enum):
    """A closed choice (an enum whose values are the config names); repr Class.MEMBER."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"
