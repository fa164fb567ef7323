"""Adapters from third-party message formats to watchfloor wire models."""

import math
from typing import Any


class AdapterError(ValueError):
    """A third-party message that cannot be converted; the message names the offending field."""


def finite_number(value: Any, path: str) -> float:
    """A JSON number that is finite; bools are refused (a true/false value is a producer bug).

    >>> finite_number(3, "x")
    3.0
    >>> finite_number(True, "x")
    Traceback (most recent call last):
    ...
    schemas.adapters.AdapterError: x: expected a finite number, got True
    """
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AdapterError(f"{path}: expected a finite number, got {value!r}")
    return float(value)
