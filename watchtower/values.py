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

__all__ = ["PROBABILITY_LABEL", "finite_float", "plain_json", "probability_text"]

#: the calibrated probability's label wherever it is shown (zh, en)
PROBABILITY_LABEL = ("12个月内出险概率", "probability of an incident within 12 months")


def finite_float(value: Any) -> float | None:
    """``value`` as a finite float; None when missing, NaN, infinite or not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def probability_text(value: Any) -> str:
    """A calibrated probability as a percentage ("12.5%"), "—" when there is none (too few
    past labels to calibrate: no number is made up)."""
    p = finite_float(value)
    return "—" if p is None else f"{100 * p:.1f}%"


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
