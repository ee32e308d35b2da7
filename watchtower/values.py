"""Plain values: a number read from anything, a result made plain JSON.

One owner for two conversions several layers need: the reasons and rules read feature values
that may be missing, NaN, a string or a numpy scalar (:func:`finite_float`); the DAGs' XCom and
the logs want a step's summary as plain JSON (:func:`plain_json`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from pathlib import Path
from typing import Any

__all__ = ["finite_float", "plain_json"]


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float; None when missing, NaN, infinite or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def plain_json(value: Any) -> Any:
    """A step's summary as plain JSON (dates and paths as strings) for XCom and the logs:
    dataclasses and mappings become dicts, sequences and sets lists, a float that is not
    finite null (JSON has no NaN: "not computable"), anything else unknown its ``str``."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_json(v) for v in value]
    if isinstance(value, dt.date | Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
