"""Read queries over the alerts and tiers: the lists and the audit trail the CLI shows and
exports, the days still to warn and the open alerts per tier (the demo).

Filters run in the database. Regions are compared in their normalized form
(:func:`~watchtower.warn.routing.normalize_region`: 广东省 = 广东); the store keeps the names as
published, so the filter first finds the few distinct stored names that normalize alike, then
selects by them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from watchtower.store.alerts import TIERS, alert_events, alerts, manager_tiers
from watchtower.store.scoring import risk_scores
from watchtower.warn.policy import rank
from watchtower.warn.routing import normalize_region

__all__ = [
    "ALERT_STATUSES",
    "alert_trail",
    "alerts_open_on",
    "days_to_warn",
    "list_alerts",
    "open_alerts_by_tier",
]

#: ``list_alerts`` statuses: ``open`` (any status but closed), one status, or ``all``.
ALERT_STATUSES = ("open", "new", "acknowledged", "investigating", "closed", "all")


def _same_region(conn: sa.Connection, column: sa.Column[Any], name: str) -> sa.ColumnElement[bool]:
    """``column`` holds a name that normalizes as ``name`` does (None counts as blank)."""
    wanted = normalize_region(name)
    stored = conn.execute(sa.select(column).distinct()).scalars()
    matching = [v for v in stored if normalize_region(v) == wanted]
    named = [v for v in matching if v is not None]
    condition: sa.ColumnElement[bool] = column.in_(named)
    if len(named) < len(matching):
        condition = sa.or_(condition, column.is_(None))
    return condition


def list_alerts(
    conn: sa.Connection,
    *,
    status: str = "open",
    tier: str | None = None,
    province: str | None = None,
    city: str | None = None,
) -> list[dict[str, Any]]:
    """Alerts of ``status`` (see ALERT_STATUSES), of one ``tier``, ``province`` and ``city``
    if given, most severe first (tier, then score, then register number)."""
    if status not in ALERT_STATUSES:
        raise ValueError(f"unknown alert status {status!r}; one of {', '.join(ALERT_STATUSES)}")
    q = sa.select(alerts)
    if status == "open":
        q = q.where(alerts.c.open_key.is_not(None))
    elif status != "all":
        q = q.where(alerts.c.status == status)
    if tier:
        q = q.where(alerts.c.tier == tier)
    if province:
        q = q.where(_same_region(conn, alerts.c.province, province))
    if city:
        q = q.where(_same_region(conn, alerts.c.city, city))
    rows = [dict(r) for r in conn.execute(q).mappings()]
    rows.sort(key=lambda r: (-rank(r["tier"]), -r["score"], r["register_no"]))
    return rows


def alert_trail(conn: sa.Connection, alert_id: int) -> list[dict[str, Any]]:
    """The audit trail of one alert, oldest first."""
    q = sa.select(alert_events).where(alert_events.c.alert_id == alert_id)
    return [dict(e) for e in conn.execute(q.order_by(alert_events.c.id)).mappings()]


def alerts_open_on(conn: sa.Connection, day: dt.date | None) -> list[dict[str, Any]]:
    """Alerts open on ``day`` (opened by then, not closed by then); None: every alert ever.
    By id."""
    q = sa.select(alerts).order_by(alerts.c.id)
    if day is not None:
        q = q.where(
            alerts.c.opened_as_of <= day,
            sa.or_(alerts.c.closed_as_of.is_(None), alerts.c.closed_as_of > day),
        )
    return [dict(r) for r in conn.execute(q).mappings()]


def days_to_warn(engine: sa.Engine, as_of: dt.date) -> list[dt.date]:
    """Scored days up to ``as_of`` without tiers yet, oldest first (warn walks them in order)."""
    with engine.connect() as conn:
        scored = set(
            conn.execute(
                sa.select(risk_scores.c.as_of).where(risk_scores.c.as_of <= as_of).distinct()
            ).scalars()
        )
        warned = set(conn.execute(sa.select(manager_tiers.c.as_of).distinct()).scalars())
    return sorted(scored - warned)


def open_alerts_by_tier(engine: sa.Engine) -> dict[str, int]:
    """Open alerts per tier, every tier present (0 when none)."""
    with engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(alerts.c.tier, sa.func.count())
                .where(alerts.c.open_key.is_not(None))
                .group_by(alerts.c.tier)
            ).all()
        )
    return {t: int(counts.get(t, 0)) for t in TIERS}
