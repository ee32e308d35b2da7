"""Alert lifecycle: open, escalate, de-escalate, acknowledge, investigate, close, auto-resolve.

States: new -> acknowledged -> investigating -> closed (confirmed | false_positive | resolved);
new and acknowledged may also go straight to closed, new straight to investigating. Every
change appends one ``alert_events`` row (who, when, what, why). Closing as confirmed or
false positive also writes an ``alert_labels`` row for retraining.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchtower.store.alerts import RESOLUTIONS, alert_events, alert_labels, alerts
from watchtower.warn.policy import TierPolicy, higher, rank

SYSTEM_ACTOR = "watchtower"
_CHUNK = 5000  # rows per executemany
_IDS = 500  # ids per IN (...) list

#: Allowed manual status transitions.
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "investigating", "closed"}),
    "acknowledged": frozenset({"investigating", "closed"}),
    "investigating": frozenset({"closed"}),
    "closed": frozenset(),
}


class AlertError(ValueError):
    """An alert does not exist or cannot make the requested change."""


@dataclass(frozen=True)
class Signal:
    """One manager's outcome of today's run, as the lifecycle needs it."""

    register_no: str
    manager_name: str | None
    province: str | None
    city: str | None
    score: float
    tier: str | None
    rule_hits: Sequence[str]
    reasons: Sequence[Mapping[str, Any]]


@dataclass
class LifecycleCounts:
    opened: int = 0
    escalated: int = 0
    deescalated: int = 0
    auto_resolved: int = 0


def _event_row(
    alert: Mapping[str, Any],
    *,
    as_of: dt.date,
    at: dt.datetime,
    actor: str,
    action: str,
    to_status: str | None = None,
    to_tier: str | None = None,
    score: float | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """One ``alert_events`` row: the change ``action`` made to ``alert`` (its state before)."""
    return dict(
        alert_id=alert["id"],
        register_no=alert["register_no"],
        as_of=as_of,
        at=at,
        actor=actor,
        action=action,
        from_status=alert.get("status"),
        to_status=to_status or alert.get("status"),
        from_tier=alert.get("tier"),
        to_tier=to_tier or alert.get("tier"),
        score=alert.get("score") if score is None else score,
        note=note,
    )


def _event(conn: sa.Connection, alert: Mapping[str, Any], **kwargs: Any) -> None:
    conn.execute(alert_events.insert().values(**_event_row(alert, **kwargs)))


def _insert_events(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append audit rows in order, in bulk (one executemany per chunk)."""
    for i in range(0, len(rows), _CHUNK):
        conn.execute(alert_events.insert(), list(rows[i : i + _CHUNK]))


def _snoozed(conn: sa.Connection, as_of: dt.date, policy: TierPolicy) -> dict[str, int]:
    """Managers whose alert a person closed as a false positive within the last
    ``policy.false_positive_snooze_days``: register_no -> rank of the tier it had. Such a
    manager gets a new alert only at a higher tier than the one judged false."""
    if policy.false_positive_snooze_days <= 0:
        return {}
    since = as_of - dt.timedelta(days=policy.false_positive_snooze_days)
    rows = conn.execute(
        sa.select(alerts.c.register_no, alerts.c.peak_tier).where(
            alerts.c.resolution == "false_positive",
            alerts.c.closed_as_of >= since,
            alerts.c.closed_as_of <= as_of,
        )
    )
    out: dict[str, int] = {}
    for reg, peak in rows:
        out[reg] = max(out.get(reg, 0), rank(peak))
    return out


def _why(signal: Signal) -> str:
    rules = ", ".join(signal.rule_hits) or "-"
    return f"score {signal.score:.1f}; rules: {rules}"


def apply_signals(
    conn: sa.Connection,
    as_of: dt.date,
    signals: Sequence[Signal],
    policy: TierPolicy,
    now: dt.datetime,
) -> LifecycleCounts:
    """Open, escalate or de-escalate alerts for today's ``signals``, then auto-resolve quiet
    ones. Idempotent: running it again for the same day changes nothing. Runs inside the
    caller's transaction; a concurrent run opening the same alert fails on the unique
    ``open_key`` (the caller retries).

    Bulk: the open alerts are read once, the changes decided in memory, then written with
    one executemany per kind of change (new alerts with their ids returned in order, updates,
    audit rows in the order the changes were decided)."""
    counts = LifecycleCounts()
    # what the decisions and audit rows read of an open alert (not its JSON columns)
    names = ("id", "register_no", "status", "tier", "peak_tier", "score", "last_as_of")
    open_rows = {
        r[1]: dict(zip(names, r, strict=True))
        for r in conn.execute(
            sa.select(*(alerts.c[n] for n in names)).where(alerts.c.open_key.is_not(None))
        )
    }
    min_rank = rank(policy.min_tier)
    snoozed = _snoozed(conn, as_of, policy)
    new_alerts: list[dict[str, Any]] = []
    # audit rows in decision order; an "open" row gets its alert id after the insert
    events: list[dict[str, Any]] = []
    opened_at: list[int] = []  # positions in ``events`` of the "open" rows, as new_alerts
    # updates grouped by the columns they set (executemany needs one shape per statement)
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for s in signals:
        alerting = rank(s.tier) >= min_rank
        current = open_rows.get(s.register_no)
        if current is None:
            if not alerting or rank(s.tier) <= snoozed.get(s.register_no, 0):
                continue
            assert s.tier is not None
            new_alerts.append(
                dict(
                    register_no=s.register_no,
                    open_key=s.register_no,
                    manager_name=s.manager_name,
                    province=s.province,
                    city=s.city,
                    status="new",
                    tier=s.tier,
                    peak_tier=s.tier,
                    score=s.score,
                    rule_hits=list(s.rule_hits),
                    reasons=list(s.reasons),
                    opened_as_of=as_of,
                    last_as_of=as_of,
                    last_signal_as_of=as_of,
                    opened_at=now,
                    updated_at=now,
                )
            )
            row = {"id": None, "register_no": s.register_no, "status": None, "tier": None}
            opened_at.append(len(events))
            events.append(
                _event_row(
                    row, as_of=as_of, at=now, actor=SYSTEM_ACTOR, action="open",
                    to_status="new", to_tier=s.tier, score=s.score, note=_why(s),
                )
            )  # fmt: skip
            counts.opened += 1
            continue
        if current["last_as_of"] > as_of:
            continue  # a replay of an older day never rewinds a newer state
        values: dict[str, Any] = dict(
            score=s.score,
            rule_hits=list(s.rule_hits),
            reasons=list(s.reasons),
            manager_name=s.manager_name,
            province=s.province,
            city=s.city,
            last_as_of=as_of,
            updated_at=now,
        )
        if alerting:
            assert s.tier is not None
            values["last_signal_as_of"] = as_of
            if s.tier != current["tier"]:
                action = "escalate" if rank(s.tier) > rank(current["tier"]) else "deescalate"
                events.append(
                    _event_row(
                        current, as_of=as_of, at=now, actor=SYSTEM_ACTOR, action=action,
                        to_tier=s.tier, score=s.score, note=_why(s),
                    )
                )  # fmt: skip
                values["tier"] = s.tier
                values["peak_tier"] = higher(current["peak_tier"], s.tier)
                if action == "escalate":
                    counts.escalated += 1
                else:
                    counts.deescalated += 1
        values["_id"] = current["id"]
        updates.setdefault(tuple(values), []).append(values)
    if new_alerts:
        ids = _insert_alerts(conn, new_alerts)
        for pos, alert_id in zip(opened_at, ids, strict=True):
            events[pos]["alert_id"] = alert_id
    # SET takes the columns named by the parameter dicts (one shape per executemany)
    stmt = alerts.update().where(alerts.c.id == sa.bindparam("_id"))
    for rows in updates.values():
        for i in range(0, len(rows), _CHUNK):
            conn.execute(stmt, rows[i : i + _CHUNK])
    _insert_events(conn, events)
    counts.auto_resolved = auto_resolve(conn, as_of, policy, now)
    return counts


def _insert_alerts(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert new alerts in bulk; their ids in the order of ``rows``."""
    ids: list[int] = []
    stmt = alerts.insert().returning(alerts.c.id, sort_by_parameter_order=True)
    for i in range(0, len(rows), _CHUNK):
        ids.extend(int(r[0]) for r in conn.execute(stmt, list(rows[i : i + _CHUNK])))
    if len(ids) != len(rows):  # pragma: no cover - a driver without RETURNING rows
        raise RuntimeError(f"inserted {len(rows)} alerts but got {len(ids)} ids back")
    return ids


def auto_resolve(conn: sa.Connection, as_of: dt.date, policy: TierPolicy, now: dt.datetime) -> int:
    """Close as ``resolved`` every open alert (in ``policy.auto_resolve_statuses``) whose
    manager has had no tier for ``policy.quiet_days`` days up to ``as_of``.

    In bulk: one ``UPDATE ... WHERE id IN (...) AND status = ... RETURNING id`` per status and
    chunk (an alert a person moved meanwhile is left alone, as with :func:`transition`), then
    one audit row per closed alert, in the order the quiet alerts were read."""
    cutoff = as_of - dt.timedelta(days=policy.quiet_days)
    quiet = [
        dict(r)
        for r in conn.execute(
            sa.select(alerts).where(
                alerts.c.open_key.is_not(None),
                alerts.c.status.in_(policy.auto_resolve_statuses),
                alerts.c.last_signal_as_of <= cutoff,
            )
        ).mappings()
    ]
    if not quiet:
        return 0
    by_status: dict[str, list[int]] = {}
    for row in quiet:
        by_status.setdefault(row["status"], []).append(row["id"])
    closed_ids: set[int] = set()
    for status, ids in by_status.items():
        for i in range(0, len(ids), _IDS):
            stmt = (
                alerts.update()
                .where(alerts.c.id.in_(ids[i : i + _IDS]), alerts.c.status == status)
                .values(**_closing_values("resolved", SYSTEM_ACTOR, as_of, now))
                .returning(alerts.c.id)
            )
            closed_ids.update(int(r[0]) for r in conn.execute(stmt))
    events = []
    for row in quiet:
        if row["id"] not in closed_ids:
            continue
        days = (as_of - row["last_signal_as_of"]).days
        note = f"quiet {days} days (period {policy.quiet_days}); 连续{days}天未达预警等级,自动解除"
        events.append(
            _event_row(
                row, as_of=as_of, at=now, actor=SYSTEM_ACTOR, action="auto_resolve",
                to_status="closed", note=f"resolved: {note}",
            )
        )  # fmt: skip
    _insert_events(conn, events)
    return len(events)


def _closing_values(
    resolution: str, actor: str, as_of: dt.date, now: dt.datetime
) -> dict[str, Any]:
    return dict(
        status="closed",
        open_key=None,
        resolution=resolution,
        closed_as_of=as_of,
        closed_by=actor,
        closed_at=now,
        updated_at=now,
    )


def _close(
    conn: sa.Connection,
    row: dict[str, Any],
    resolution: str,
    actor: str,
    note: str | None,
    as_of: dt.date,
    now: dt.datetime,
    action: str = "close",
) -> bool:
    done = conn.execute(
        alerts.update()
        .where(alerts.c.id == row["id"], alerts.c.status == row["status"])
        .values(**_closing_values(resolution, actor, as_of, now))
    ).rowcount
    if not done:
        return False
    _event(
        conn, row, as_of=as_of, at=now, actor=actor, action=action, to_status="closed",
        note=f"{resolution}: {note}" if note else resolution,
    )  # fmt: skip
    if resolution in ("confirmed", "false_positive"):
        conn.execute(
            alert_labels.insert().values(
                alert_id=row["id"],
                register_no=row["register_no"],
                label=resolution,
                opened_as_of=row["opened_as_of"],
                closed_as_of=as_of,
                peak_tier=row["peak_tier"],
                score=row["score"],
                rule_hits=row["rule_hits"],
                labelled_by=actor,
                note=note,
                labelled_at=now,
            )
        )
    return True


def get_alert(conn: sa.Connection, ref: str | int) -> dict[str, Any]:
    """An alert by id, or the open (else latest) alert of a register number."""
    if isinstance(ref, int) or str(ref).isdigit():
        row = conn.execute(sa.select(alerts).where(alerts.c.id == int(ref))).mappings().first()
    else:
        row = (
            conn.execute(
                sa.select(alerts)
                .where(alerts.c.register_no == str(ref).strip().upper())
                .order_by(alerts.c.open_key.is_(None), alerts.c.id.desc())
            )
            .mappings()
            .first()
        )
    if row is None:
        raise AlertError(f"no alert {ref!r}")
    return dict(row)


def transition(
    conn: sa.Connection,
    ref: str | int,
    to_status: str,
    *,
    by: str,
    note: str | None,
    as_of: dt.date,
    now: dt.datetime,
    resolution: str | None = None,
) -> dict[str, Any]:
    """Move an alert to ``to_status`` by a person. Closing needs a ``resolution`` (confirmed,
    false_positive, resolved). Raises :class:`AlertError` for an invalid change; returns the
    updated alert."""
    if not by or not by.strip():
        raise AlertError("say who makes the change (--by)")
    row = get_alert(conn, ref)
    allowed = TRANSITIONS[row["status"]]
    if to_status not in allowed:
        raise AlertError(
            f"alert {row['id']} is {row['status']}; cannot go to {to_status} "
            f"(allowed: {', '.join(sorted(allowed)) or 'none, it is closed'})"
        )
    if to_status == "closed":
        if resolution not in RESOLUTIONS:
            raise AlertError(f"closing needs a resolution: {', '.join(RESOLUTIONS)}")
        if not _close(conn, row, resolution, by.strip(), note, as_of, now):
            raise AlertError(f"alert {row['id']} changed meanwhile; try again")
        return get_alert(conn, row["id"])
    done = conn.execute(
        alerts.update()
        .where(alerts.c.id == row["id"], alerts.c.status == row["status"])
        .values(status=to_status, updated_at=now)
    ).rowcount
    if not done:
        raise AlertError(f"alert {row['id']} changed meanwhile; try again")
    action = {"acknowledged": "acknowledge", "investigating": "investigate"}[to_status]
    _event(
        conn, row, as_of=as_of, at=now, actor=by.strip(), action=action,
        to_status=to_status, note=note,
    )  # fmt: skip
    return get_alert(conn, row["id"])
