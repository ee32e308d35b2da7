"""Deterioration features: a manager's value on D against its own value k months earlier.

A benign outlier (a giant, a newcomer, a sloppy but honest filer) is unusual at every date; a
manager heading for trouble gets worse than it was. Each change feature compares a level
feature on D with the same feature at the reference day R = the month end on or before
D - k months, computed by the same engine from what the store knew by R (point in time twice
over: nothing known after R enters the past value, nothing known after D the present one).

``difference``: present - past. ``log_ratio`` (sizes and counts): ln((1 + present) /
(1 + past)), so 12 -> 3 staff is ln(4/13) and a count rising from 0 stays finite. A manager
absent from R's frame (registered later, or not yet in the store) or whose past value is
missing gets NaN: missing is missing, never a change of 0.

Reference frames are cached per (engine, R, partition, bases, the store's history rows): R is
a month end, so a daily scheduler reuses one frame a month, and a month-end frame computed as
the day's own features serves later days whose reference day it is.
"""

from __future__ import annotations

import datetime as dt
import math
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from watchtower.clock import is_month_end, month_end_on_or_before
from watchtower.features._history import history_fingerprint, minus

ChangeKind = Literal["difference", "log_ratio"]


@dataclass(frozen=True)
class ChangeDef:
    """One change feature: ``base`` compared with itself ``months`` months earlier."""

    base: str
    months: int
    kind: ChangeKind

    @property
    def name(self) -> str:
        return change_name(self.base, self.months, self.kind)


def change_name(base: str, months: int, kind: ChangeKind) -> str:
    """``employee_count_logchange_6m`` / ``qualified_staff_share_change_12m``."""
    word = "logchange" if kind == "log_ratio" else "change"
    return f"{base}_{word}_{months}m"


#: The change features the engine computes (their catalog entries declare direction, texts).
CHANGES: tuple[ChangeDef, ...] = (
    ChangeDef("employee_count", 3, "log_ratio"),
    ChangeDef("employee_count", 6, "log_ratio"),
    ChangeDef("qualified_staff_share", 12, "difference"),
    ChangeDef("paid_in_ratio", 12, "difference"),
    ChangeDef("operating_fund_count", 6, "log_ratio"),
    ChangeDef("operating_fund_count", 12, "log_ratio"),
    ChangeDef("scale_midpoint_log", 12, "difference"),
    ChangeDef("missing_report_share_12m", 6, "difference"),
    ChangeDef("missing_report_share_12m", 12, "difference"),
    ChangeDef("not_updated_share", 6, "difference"),
)
CHANGE_BY_NAME: dict[str, ChangeDef] = {c.name: c for c in CHANGES}
#: Every base of :data:`CHANGES`: a reference frame always holds all of them, so that one
#: cached frame serves any catalog.
BASES: list[str] = sorted({c.base for c in CHANGES})


def reference_day(as_of: dt.date, months: int) -> dt.date:
    """The month end on or before ``as_of`` - ``months`` months (2024-06-15, 3 -> 2024-02-29).

    Months are counted from the day after ``as_of`` so that a month end maps to the month end
    (2024-06-30, 3 -> 2024-03-31, not 2024-03-30 and hence 2024-02-29)."""
    start = minus(as_of + dt.timedelta(days=1), f"{months}m") - dt.timedelta(days=1)
    return month_end_on_or_before(start)


#: Base frames of reference days per engine: key -> frame (index register_no, one column per
#: base). Per engine object (two in-memory stores share a URL), forgotten with the engine.
_CACHES: weakref.WeakKeyDictionary[sa.Engine, OrderedDict[tuple[object, ...], pd.DataFrame]]
_CACHES = weakref.WeakKeyDictionary()
_CACHE_SIZE = 24


def _key(
    engine: sa.Engine, day: dt.date, partition: str | None, bases: Iterable[str]
) -> tuple[object, ...]:
    """The day, the partition, the bases and the history they come from: any row added to the
    store (an ingest, a test inserting rows) makes a new key, never a stale value."""
    with engine.connect() as conn:
        history = history_fingerprint(conn)
    return (day, partition, tuple(sorted(bases)), history)


def _cache(engine: sa.Engine) -> OrderedDict[tuple[object, ...], pd.DataFrame]:
    cache = _CACHES.get(engine)
    if cache is None:
        cache = _CACHES[engine] = OrderedDict()
    return cache


def remember(
    engine: sa.Engine, day: dt.date, partition: str | None, frame: pd.DataFrame, bases: list[str]
) -> None:
    """Keep the day's base values as a reference frame (month ends only: only they are R)."""
    if not is_month_end(day) or not bases:
        return
    _put(_cache(engine), _key(engine, day, partition, bases), frame[bases].copy())


def _put(
    cache: OrderedDict[tuple[object, ...], pd.DataFrame],
    key: tuple[object, ...],
    frame: pd.DataFrame,
) -> None:
    cache[key] = frame
    cache.move_to_end(key)
    while len(cache) > _CACHE_SIZE:
        cache.popitem(last=False)


def clear_cache() -> None:
    """Forget every reference frame (to measure the cost of computing them)."""
    _CACHES.clear()


BaseCompute = Callable[[dt.date, list[str]], pd.DataFrame]


def past_values(
    engine: sa.Engine,
    day: dt.date,
    partition: str | None,
    bases: list[str],
    compute: BaseCompute,
) -> pd.DataFrame:
    """The base features as of ``day`` from what was known by ``day`` (cached)."""
    cache = _cache(engine)
    key = _key(engine, day, partition, bases)
    hit = cache.get(key)
    if hit is not None:
        cache.move_to_end(key)
        return hit
    frame = compute(day, bases)[bases].copy()
    _put(cache, key, frame)
    return frame


def change_values(present: pd.Series, past: pd.Series, kind: ChangeKind) -> pd.Series:
    """present vs past per manager (NaN where either is missing or a size is negative)."""
    past = past.reindex(present.index).astype("float64")
    now = present.astype("float64")
    if kind == "difference":
        return now - past
    ok = (now >= 0) & (past >= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log1p(now.where(ok)) - np.log1p(past.where(ok))
    return ratio.astype("float64")


def past_of(present: float, change: float, kind: ChangeKind) -> float:
    """The past value a change was computed from (the inverse of :func:`change_values`)."""
    if kind == "difference":
        return present - change
    return math.expm1(math.log1p(present) - change)


def compute_changes(
    engine: sa.Engine,
    as_of: dt.date,
    partition: str | None,
    values: pd.DataFrame,
    names: list[str],
    compute: BaseCompute,
) -> pd.DataFrame:
    """Change features ``names`` for the managers of ``values`` (which holds the bases on D)."""
    defs = [CHANGE_BY_NAME[n] for n in names]
    bases = BASES
    out = {}
    for months in sorted({d.months for d in defs}):
        past = past_values(engine, reference_day(as_of, months), partition, bases, compute)
        for d in defs:
            if d.months == months:
                out[d.name] = change_values(values[d.base], past[d.base], d.kind)
    return pd.DataFrame(out, index=values.index, dtype="float64")[names]
