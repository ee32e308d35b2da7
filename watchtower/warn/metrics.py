"""The oversight figures of a reader's scope (the console's ``/metrics``, ``watchtower alerts
metrics``): what supervisors report upward.

Over a period (days ``start`` to ``end``, both included) the figures are of the alerts
*opened* in it (their ``opened_at`` day: when the store raised them), as they stand now:

- the funnel: opened, acknowledged (a person took it up:
  :data:`~watchtower.warn.service.ACK_ACTIONS`), investigated (an ``investigate`` in its
  trail), closed as confirmed risk; a case may skip a step (closed as confirmed straight from
  new), so each step counts the alerts that reached it;
- per tier (the alert's current one): days from opening to acknowledging and, for those a
  person closed (the quiet period's automatic closing is not a person's work), to closing:
  median and 90th percentile (:func:`percentile`, linear between ranks);
- precision per tier from the outcomes: confirmed / (confirmed + false alarm); *explained*
  (``resolved`` by a person; the quiet period's closing is not an outcome) is counted apart
  and in neither;
- overdue now (on the as-of day, whatever the period): the open alerts overdue to close and to
  acknowledge (:func:`~watchtower.warn.service.overdue`), per tier;
- per district (for readers of every district): opened, confirmed and overdue now.

Counts are SQL aggregates over the same scoped select as the queue
(:mod:`watchtower.warn.queries`, :mod:`watchtower.warn.scope`); the durations are read as rows
for the percentiles, which portable SQL does not compute.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchtower.config import RoutingAddress
from watchtower.store.alerts import TIERS, alert_events, alerts
from watchtower.warn.lifecycle import SYSTEM_ACTOR
from watchtower.warn.queries import _filtered, _with_places
from watchtower.warn.scope import district_of
from watchtower.warn.service import (
    ACK_ACTIONS,
    ServiceLevels,
    acknowledged_at_column,
    overdue_condition,
)

__all__ = [
    "AlertMetrics",
    "DistrictMetrics",
    "TierMetrics",
    "alert_metrics",
    "percentile",
]

_DAY_SECONDS = 86400.0
#: The funnel and outcome counts, in the order they are shown.
_COUNTS = ("opened", "acknowledged", "investigated", "confirmed", "false_positive", "explained")


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) of ``values``, linear between the closest ranks (as
    numpy's default); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass(frozen=True)
class TierMetrics:
    """The figures of one tier (``tier`` "all": every tier together)."""

    tier: str
    opened: int
    acknowledged: int
    investigated: int
    confirmed: int
    false_positive: int
    explained: int
    precision: float | None  # confirmed / (confirmed + false_positive); None: no outcome yet
    acknowledge_median_days: float | None
    acknowledge_p90_days: float | None
    close_median_days: float | None
    close_p90_days: float | None
    overdue_acknowledge: int
    overdue_close: int


@dataclass(frozen=True)
class DistrictMetrics:
    """Per district (None: a manager placed in none): opened in the period, confirmed among
    them, and overdue now."""

    jurisdiction: str | None
    opened: int
    confirmed: int
    overdue: int


@dataclass(frozen=True)
class AlertMetrics:
    """The oversight figures of one scope over a period, and the day overdue was judged on."""

    start: dt.date
    end: dt.date
    as_of: dt.date
    tiers: tuple[TierMetrics, ...]  # red, orange, yellow, blue
    total: TierMetrics
    districts: tuple[DistrictMetrics, ...] | None  # None: not asked for


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _did(*actions: str) -> sa.ColumnElement[bool]:
    """A person (or the system) did one of ``actions`` to the alert."""
    return sa.exists().where(
        alert_events.c.alert_id == alerts.c.id, alert_events.c.action.in_(actions)
    )


def _flag(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.case((condition, 1), else_=0)


def _place_columns(q: sa.Select[Any]) -> Sequence[sa.ColumnElement[Any]]:
    """The columns :func:`district_of` reads, as ``q`` (a :func:`_with_places` select) has
    them: what a per-district aggregate groups by."""
    names = ("place_placed", "place_agg", "place_province", "place_city", "province", "city")
    return [q.selected_columns[n] for n in names]


def _scoped(
    conn: sa.Connection,
    columns: Sequence[sa.ColumnElement[Any]],
    districts: Collection[str] | None,
    jurisdiction: str | None,
    address: RoutingAddress,
) -> sa.Select[Any]:
    q, where = _filtered(
        conn,
        [*columns, alerts.c.province.label("province"), alerts.c.city.label("city")],
        status="all",
        tier=None,
        province=None,
        city=None,
        districts=districts,
        jurisdiction=jurisdiction,
        rule=None,
        search=None,
        register_no=None,
        address=address,
    )
    return _with_places(q, where)


def _counts(
    conn: sa.Connection, q: sa.Select[Any]
) -> tuple[dict[str, dict[str, int]], dict[str | None, dict[str, int]]]:
    """The funnel and outcome counts of ``q``'s alerts per tier and per district (SQL
    aggregates grouped by tier and place; the places are named in Python)."""
    closed_as = alerts.c.resolution
    sums = [
        sa.func.count().label("opened"),
        sa.func.sum(_flag(_did(*ACK_ACTIONS))).label("acknowledged"),
        sa.func.sum(_flag(_did("investigate"))).label("investigated"),
        sa.func.sum(_flag(closed_as == "confirmed")).label("confirmed"),
        sa.func.sum(_flag(closed_as == "false_positive")).label("false_positive"),
        # explained by a person: the quiet period's closing is no one's judgement
        sa.func.sum(
            _flag(sa.and_(closed_as == "resolved", alerts.c.closed_by != SYSTEM_ACTOR))
        ).label("explained"),
    ]
    places = _place_columns(q)
    grouped = q.with_only_columns(alerts.c.tier, *places, *sums).group_by(alerts.c.tier, *places)
    per_tier: dict[str, dict[str, int]] = {t: dict.fromkeys(_COUNTS, 0) for t in TIERS}
    per_district: dict[str | None, dict[str, int]] = {}
    for r in conn.execute(grouped).mappings():
        district = per_district.setdefault(district_of(r), {"opened": 0, "confirmed": 0})
        for key in _COUNTS:
            per_tier[r["tier"]][key] += int(r[key] or 0)
        district["opened"] += int(r["opened"])
        district["confirmed"] += int(r["confirmed"] or 0)
    return per_tier, per_district


def _durations(
    conn: sa.Connection, q: sa.Select[Any]
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Days to acknowledge and days to close (closed by a person) per tier of ``q``'s alerts."""
    acked = acknowledged_at_column()
    rows = conn.execute(
        q.with_only_columns(
            alerts.c.tier,
            alerts.c.opened_at,
            acked.label("acknowledged_at"),
            alerts.c.closed_at,
            alerts.c.closed_by,
        ).where(sa.or_(acked.is_not(None), alerts.c.closed_at.is_not(None)))
    ).mappings()
    to_ack: dict[str, list[float]] = {t: [] for t in TIERS}
    to_close: dict[str, list[float]] = {t: [] for t in TIERS}
    for r in rows:
        if r["acknowledged_at"] is not None:
            to_ack[r["tier"]].append(_days_between(r["opened_at"], r["acknowledged_at"]))
        if r["closed_at"] is not None and r["closed_by"] != SYSTEM_ACTOR:
            to_close[r["tier"]].append(_days_between(r["opened_at"], r["closed_at"]))
    return to_ack, to_close


def _days_between(start: dt.datetime, end: dt.datetime) -> float:
    return max((end - start).total_seconds(), 0.0) / _DAY_SECONDS


def _overdue_now(
    conn: sa.Connection, q: sa.Select[Any], levels: ServiceLevels, as_of: dt.date
) -> tuple[dict[str, dict[str, int]], dict[str | None, int]]:
    """The alerts overdue on ``as_of`` per tier (to close, to acknowledge) and per district."""
    places = _place_columns(q)
    late = overdue_condition(levels, as_of)
    grouped = (
        q.with_only_columns(
            alerts.c.tier,
            *places,
            sa.func.sum(_flag(overdue_condition(levels, as_of, "close"))).label("close"),
            sa.func.sum(_flag(overdue_condition(levels, as_of, "acknowledge"))).label("ack"),
        )
        .where(late)
        .group_by(alerts.c.tier, *places)
    )
    per_tier = {t: {"close": 0, "acknowledge": 0} for t in TIERS}
    per_district: dict[str | None, int] = {}
    for r in conn.execute(grouped).mappings():
        per_tier[r["tier"]]["close"] += int(r["close"] or 0)
        per_tier[r["tier"]]["acknowledge"] += int(r["ack"] or 0)
        d = district_of(r)
        per_district[d] = per_district.get(d, 0) + int(r["close"] or 0) + int(r["ack"] or 0)
    return per_tier, per_district


def _tier_metrics(
    tier: str,
    counts: Mapping[str, int],
    to_ack: Sequence[float],
    to_close: Sequence[float],
    late: Mapping[str, int],
) -> TierMetrics:
    judged = counts["confirmed"] + counts["false_positive"]
    return TierMetrics(
        tier=tier,
        **{k: counts[k] for k in _COUNTS},
        precision=counts["confirmed"] / judged if judged else None,
        acknowledge_median_days=percentile(to_ack, 50),
        acknowledge_p90_days=percentile(to_ack, 90),
        close_median_days=percentile(to_close, 50),
        close_p90_days=percentile(to_close, 90),
        overdue_acknowledge=late["acknowledge"],
        overdue_close=late["close"],
    )


def _summed(parts: Iterable[Mapping[str, int]], keys: Iterable[str]) -> dict[str, int]:
    listed = list(parts)
    return {k: sum(p[k] for p in listed) for k in keys}


def alert_metrics(
    conn: sa.Connection,
    *,
    start: dt.date,
    end: dt.date,
    levels: ServiceLevels,
    as_of: dt.date,
    districts: Collection[str] | None = None,
    jurisdiction: str | None = None,
    by_district: bool = False,
    address: RoutingAddress = "registered",
) -> AlertMetrics:
    """The oversight figures (see the module's docstring) of the alerts in ``districts`` (the
    reader's scope, None: every district), narrowed to ``jurisdiction`` (any spelling), opened
    from ``start`` to ``end``; overdue judged on ``as_of`` under ``levels``. ``by_district``:
    the per-district counts too. Raises ValueError for an unknown district or a period that
    ends before it starts."""
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")
    scoped = _scoped(conn, [alerts.c.id], districts, jurisdiction, address)
    period = scoped.where(
        alerts.c.opened_at >= _midnight(start),
        alerts.c.opened_at < _midnight(end + dt.timedelta(days=1)),
    )
    counts, opened_in = _counts(conn, period)
    to_ack, to_close = _durations(conn, period)
    late, late_in = _overdue_now(conn, scoped, levels, as_of)
    tiers = tuple(_tier_metrics(t, counts[t], to_ack[t], to_close[t], late[t]) for t in TIERS)
    total = _tier_metrics(
        "all",
        _summed(counts.values(), _COUNTS),
        [d for t in TIERS for d in to_ack[t]],
        [d for t in TIERS for d in to_close[t]],
        _summed(late.values(), ("acknowledge", "close")),
    )
    per_district = None
    if by_district:
        names = sorted(set(opened_in) | set(late_in), key=lambda d: (d is None, d or ""))
        per_district = tuple(
            DistrictMetrics(
                jurisdiction=d,
                opened=opened_in.get(d, {}).get("opened", 0),
                confirmed=opened_in.get(d, {}).get("confirmed", 0),
                overdue=late_in.get(d, 0),
            )
            for d in names
        )
    return AlertMetrics(start, end, as_of, tiers, total, per_district)
