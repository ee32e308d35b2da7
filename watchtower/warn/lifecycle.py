"""Alert lifecycle: open, escalate, de-escalate, acknowledge, investigate, close, auto-resolve.

States: new -> acknowledged -> investigating -> closed (confirmed | false_positive | resolved);
new and acknowledged may also go straight to closed, new straight to investigating. Every
change appends one ``alert_events`` row (who, when, what, why). Closing as confirmed or
false positive also writes an ``alert_labels`` row for retraining.

The system's changes of a warn run are decided by
:func:`watchtower.warn.decide.decide_lifecycle` on plain data; this module reads the state it
decides on and writes the changes in bulk (:func:`apply_signals`). A person's changes
(:func:`transition`, :func:`assign`, :func:`add_note`, :func:`reopen`, :func:`snooze`,
:func:`unsnooze`) are checked and written here, one alert at a time, each through
:func:`_apply_change` (compare and set, then the audit row).

A snooze is a day on the alert (``snoozed_until``), not a status: the alert keeps its status
and leaves the default queue while the store's latest warn day is before that day
(:func:`watchtower.warn.decide.asleep`, the same rule in the queue's SQL), so it expires by
itself; an escalation to a higher tier during a warn run ends it at once (action ``wake``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchtower.store.alerts import RESOLUTIONS, alert_events, alert_labels, alerts
from watchtower.warn.decide import (
    AlertState,
    Change,
    Deescalate,
    Escalate,
    FalsePositive,
    OpenAlert,
    Refresh,
    Resolve,
    Signal,
    asleep,
    decide_lifecycle,
    snooze_since,
    snoozed_ranks,
    why,
)
from watchtower.warn.policy import TIER_LABELS, TierPolicy
from watchtower.warn.queries import latest_warn_day

SYSTEM_ACTOR = "watchtower"
#: The longest snooze, in days after the latest warn day (longer is closing it, not snoozing).
MAX_SNOOZE_DAYS = 365
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


def _state_event(
    alert: AlertState, *, as_of: dt.date, at: dt.datetime, action: str, **kwargs: Any
) -> dict[str, Any]:
    """:func:`_event_row` for a system change of an open alert (plain :class:`AlertState`)."""
    return _event_row(
        {
            "id": alert.id,
            "register_no": alert.register_no,
            "status": alert.status,
            "tier": alert.tier,
            "score": alert.score,
        },
        as_of=as_of,
        at=at,
        actor=SYSTEM_ACTOR,
        action=action,
        **kwargs,
    )


def _event(conn: sa.Connection, alert: Mapping[str, Any], **kwargs: Any) -> None:
    conn.execute(alert_events.insert().values(**_event_row(alert, **kwargs)))


def _insert_events(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append audit rows in order, in bulk (one executemany per chunk)."""
    for i in range(0, len(rows), _CHUNK):
        conn.execute(alert_events.insert(), list(rows[i : i + _CHUNK]))


# --- reading the state the lifecycle decides on ---------------------------------------------

_STATE = (
    "id",
    "register_no",
    "status",
    "tier",
    "peak_tier",
    "score",
    "last_as_of",
    "last_signal_as_of",
    "snoozed_until",
)


def read_open_alerts(conn: sa.Connection) -> dict[str, AlertState]:
    """Every open alert, by register number (one a manager: the unique ``open_key``)."""
    rows = conn.execute(
        sa.select(*(alerts.c[n] for n in _STATE)).where(alerts.c.open_key.is_not(None))
    )
    return {r[1]: AlertState(*r) for r in rows}


def read_false_positives(
    conn: sa.Connection, as_of: dt.date, policy: TierPolicy
) -> list[FalsePositive]:
    """Alerts closed as false positives in the snooze window ending ``as_of``."""
    since = snooze_since(as_of, policy)
    if since is None:
        return []
    rows = conn.execute(
        sa.select(alerts.c.register_no, alerts.c.peak_tier, alerts.c.closed_as_of).where(
            alerts.c.resolution == "false_positive",
            alerts.c.closed_as_of >= since,
            alerts.c.closed_as_of <= as_of,
        )
    )
    return [FalsePositive(*r) for r in rows]


# --- the writer -----------------------------------------------------------------------------


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

    Reads the state once, lets :func:`~watchtower.warn.decide.decide_lifecycle` decide, and
    writes its changes with :func:`write_changes`."""
    snoozed = snoozed_ranks(read_false_positives(conn, as_of, policy), as_of, policy)
    changes = decide_lifecycle(read_open_alerts(conn), signals, as_of, policy, snoozed)
    return write_changes(conn, changes, as_of, now)


def _new_alert(s: Signal, as_of: dt.date, now: dt.datetime) -> dict[str, Any]:
    """The ``alerts`` row of an :class:`OpenAlert`."""
    return dict(
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


def _update_values(
    c: Refresh | Escalate | Deescalate, as_of: dt.date, now: dt.datetime
) -> dict[str, Any]:
    """The columns a change of an open alert sets (and its id, ``_id``)."""
    s = c.signal
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
    if not isinstance(c, Refresh) or c.alerting:
        values["last_signal_as_of"] = as_of
    if not isinstance(c, Refresh):
        values["tier"] = s.tier
        values["peak_tier"] = c.peak_tier
    if isinstance(c, Escalate) and c.woken is not None:
        values["snoozed_until"] = None  # the escalation ends the snooze at once
    values["_id"] = c.alert.id
    return values


def _audit_rows(
    changes: Sequence[Change], ids: Mapping[str, int], as_of: dt.date, now: dt.datetime
) -> list[dict[str, Any]]:
    """The audit rows of the opens, escalations and de-escalations, in decision order (new
    alerts by their ids in ``ids``, by register number)."""
    events: list[dict[str, Any]] = []
    for c in changes:
        if isinstance(c, OpenAlert):
            s = c.signal
            events.append(
                _event_row(
                    {"id": ids[s.register_no], "register_no": s.register_no},
                    as_of=as_of,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    action="open",
                    to_status="new",
                    to_tier=s.tier,
                    score=s.score,
                    note=why(s),
                )
            )
        elif isinstance(c, Escalate | Deescalate):
            events.append(
                _state_event(
                    c.alert,
                    as_of=as_of,
                    at=now,
                    action="escalate" if isinstance(c, Escalate) else "deescalate",
                    to_tier=c.signal.tier,
                    score=c.signal.score,
                    note=why(c.signal),
                )
            )
            if isinstance(c, Escalate) and c.woken is not None:
                events.append(_wake_event(c, as_of, now))
    return events


def _wake_event(c: Escalate, as_of: dt.date, now: dt.datetime) -> dict[str, Any]:
    """The audit row of an escalation ending a snooze (after the escalation's own row: the
    alert is at its new tier by then)."""
    tier = c.signal.tier
    return _state_event(
        c.alert._replace(tier=tier or c.alert.tier, score=c.signal.score),
        as_of=as_of,
        at=now,
        action="wake",
        note=(
            f"snoozed until {c.woken}; woken by the escalation to {tier}; "
            f"等级升至{TIER_LABELS[tier]['zh'] if tier else '-'}色，暂缓提前结束"
        ),
    )


def write_changes(
    conn: sa.Connection, changes: Sequence[Change], as_of: dt.date, now: dt.datetime
) -> LifecycleCounts:
    """Apply lifecycle ``changes`` in bulk: new alerts in one executemany per chunk (their ids
    returned with their register numbers), updates in one executemany per shape and chunk,
    auto-resolutions guarded by status (an alert a person moved meanwhile is left alone, as
    with :func:`transition`), and one audit row per change, in the order of ``changes``."""
    counts = LifecycleCounts()
    new_alerts: list[dict[str, Any]] = []
    # updates grouped by the columns they set (executemany needs one shape per statement)
    updates: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    resolves: list[Resolve] = []
    for c in changes:
        if isinstance(c, OpenAlert):
            new_alerts.append(_new_alert(c.signal, as_of, now))
        elif isinstance(c, Resolve):
            resolves.append(c)
        else:
            values = _update_values(c, as_of, now)
            updates.setdefault(tuple(values), []).append(values)
            counts.escalated += isinstance(c, Escalate)
            counts.deescalated += isinstance(c, Deescalate)
    counts.opened = len(new_alerts)
    ids = _insert_alerts(conn, new_alerts) if new_alerts else {}
    # SET takes the columns named by the parameter dicts (one shape per executemany)
    stmt = alerts.update().where(alerts.c.id == sa.bindparam("_id"))
    for rows in updates.values():
        for i in range(0, len(rows), _CHUNK):
            conn.execute(stmt, rows[i : i + _CHUNK])
    _insert_events(conn, _audit_rows(changes, ids, as_of, now))
    counts.auto_resolved = _resolve(conn, resolves, as_of, now)
    return counts


def _insert_alerts(conn: sa.Connection, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert new alerts in bulk; register number -> id of its new alert."""
    ids: dict[str, int] = {}
    stmt = alerts.insert().returning(
        alerts.c.register_no, alerts.c.id, sort_by_parameter_order=True
    )
    for i in range(0, len(rows), _CHUNK):
        ids.update((str(r[0]), int(r[1])) for r in conn.execute(stmt, list(rows[i : i + _CHUNK])))
    if len(ids) != len(rows):  # pragma: no cover - a driver without RETURNING rows
        raise RuntimeError(f"inserted {len(rows)} alerts but got {len(ids)} ids back")
    return ids


def _resolve(
    conn: sa.Connection, resolves: Sequence[Resolve], as_of: dt.date, now: dt.datetime
) -> int:
    """Close the alerts of ``resolves`` as resolved: one ``UPDATE ... WHERE id IN (...) AND
    status = ... RETURNING id`` per status and chunk, then one audit row per closed alert, in
    the order of ``resolves``. Returns how many were closed."""
    if not resolves:
        return 0
    by_status: dict[str, list[int]] = {}
    for r in resolves:
        by_status.setdefault(r.alert.status, []).append(r.alert.id)
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
    events = [
        _state_event(
            r.alert, as_of=as_of, at=now, action="auto_resolve", to_status="closed", note=r.note
        )
        for r in resolves
        if r.alert.id in closed_ids
    ]
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
        conn,
        row,
        as_of=as_of,
        at=now,
        actor=actor,
        action=action,
        to_status="closed",
        note=f"{resolution}: {note}" if note else resolution,
    )
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


def _apply_change(
    conn: sa.Connection,
    row: Mapping[str, Any],
    *,
    values: Mapping[str, Any] | None,
    actor: str,
    action: str,
    as_of: dt.date,
    now: dt.datetime,
    note: str | None,
    to_status: str | None = None,
) -> dict[str, Any]:
    """A person's change of one alert: set ``values`` on it if it still has the status it was
    read with (compare and set: a change made meanwhile, by a person or a warn run's
    auto-resolution, is not overwritten; :class:`AlertError` asks to try again), then its
    audit row (``action`` by ``actor``). ``values`` None: only the audit row (a note).
    Returns the alert as it is now."""
    if values is not None:
        done = conn.execute(
            alerts.update()
            .where(alerts.c.id == row["id"], alerts.c.status == row["status"])
            .values(**values, updated_at=now)
        ).rowcount
        if not done:
            raise AlertError(f"alert {row['id']} changed meanwhile; try again")
    _event(
        conn,
        row,
        as_of=as_of,
        at=now,
        actor=actor,
        action=action,
        to_status=to_status,
        note=note,
    )
    return get_alert(conn, row["id"])


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
    actor = _person(by)
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
        if not _close(conn, row, resolution, actor, note, as_of, now):
            raise AlertError(f"alert {row['id']} changed meanwhile; try again")
        return get_alert(conn, row["id"])
    action = {"acknowledged": "acknowledge", "investigating": "investigate"}[to_status]
    return _apply_change(
        conn,
        row,
        values={"status": to_status},
        actor=actor,
        action=action,
        as_of=as_of,
        now=now,
        note=note,
        to_status=to_status,
    )


def _person(by: str) -> str:
    if not by or not by.strip():
        raise AlertError("say who makes the change (--by)")
    return by.strip()


def _open_alert(conn: sa.Connection, ref: str | int) -> dict[str, Any]:
    row = get_alert(conn, ref)
    if row["status"] == "closed":
        raise AlertError(f"alert {row['id']} is closed; reopen it first")
    return row


def assign(
    conn: sa.Connection,
    ref: str | int,
    assignee: str | None,
    *,
    by: str,
    note: str | None,
    as_of: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """Give an open alert to ``assignee`` (a console user's name; None: to nobody), in the
    audit trail (action ``assign``, the note says to whom). Whether the assignee may see the
    alert is the caller's check. Returns the updated alert."""
    actor = _person(by)
    row = _open_alert(conn, ref)
    to = f"→ {assignee}" if assignee else "→ (nobody)"
    return _apply_change(
        conn,
        row,
        values={"assignee": assignee},
        actor=actor,
        action="assign",
        as_of=as_of,
        now=now,
        note=f"{to}: {note}" if note else to,
    )


def add_note(
    conn: sa.Connection,
    ref: str | int,
    note: str,
    *,
    by: str,
    as_of: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """Add a note to an alert's audit trail (action ``note``; any status). Returns the alert."""
    actor = _person(by)
    if not note or not note.strip():
        raise AlertError("a note needs some text")
    row = get_alert(conn, ref)
    return _apply_change(
        conn,
        row,
        values=None,
        actor=actor,
        action="note",
        as_of=as_of,
        now=now,
        note=note.strip(),
    )


def reopen(
    conn: sa.Connection,
    ref: str | int,
    *,
    by: str,
    note: str | None,
    as_of: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """Reopen a closed alert (back to acknowledged: a person has seen it, and awake), in the
    audit trail. Its outcome no longer holds, so its retraining label (if any) is withdrawn.
    Refused while the manager has another open alert (one open alert a manager)."""
    actor = _person(by)
    row = get_alert(conn, ref)
    if row["status"] != "closed":
        raise AlertError(f"alert {row['id']} is {row['status']}, not closed")
    other = conn.execute(
        sa.select(alerts.c.id).where(alerts.c.open_key == row["register_no"])
    ).scalar()
    if other is not None:
        raise AlertError(
            f"manager {row['register_no']} has another open alert #{other}; work on that one"
        )
    reopened = _apply_change(
        conn,
        row,
        values=dict(
            status="acknowledged",
            open_key=row["register_no"],
            resolution=None,
            closed_as_of=None,
            closed_by=None,
            closed_at=None,
            snoozed_until=None,
        ),
        actor=actor,
        action="reopen",
        as_of=as_of,
        now=now,
        note=note,
        to_status="acknowledged",
    )
    conn.execute(alert_labels.delete().where(alert_labels.c.alert_id == row["id"]))
    return reopened


def snooze(
    conn: sa.Connection,
    ref: str | int,
    *,
    until: dt.date,
    by: str,
    note: str | None,
    as_of: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """Snooze an open alert until ``until`` (exclusive: it is back in the queue on that day):
    out of the default queue meanwhile, woken at once by an escalation to a higher tier
    (:func:`watchtower.warn.decide.decide_lifecycle`). Days are the store's latest warn as-of
    day (:func:`watchtower.warn.queries.latest_warn_day`), the day the queue judges snoozes
    on: ``until`` must be after it and at most :data:`MAX_SNOOZE_DAYS` later. Snoozing a
    snoozed alert moves its day. In the audit trail (action ``snooze``). Returns the alert."""
    actor = _person(by)
    row = _open_alert(conn, ref)
    day = latest_warn_day(conn)
    if day is None:
        raise AlertError("no warn run yet: there is no day to snooze from")
    if not day < until <= day + dt.timedelta(days=MAX_SNOOZE_DAYS):
        raise AlertError(
            f"snooze until a day after {day} (the latest warn day) and at most "
            f"{MAX_SNOOZE_DAYS} days later, not {until}"
        )
    before = row["snoozed_until"]
    what = f"until {until}" + (f" (was {before})" if asleep(before, day) else "")
    return _apply_change(
        conn,
        row,
        values={"snoozed_until": until},
        actor=actor,
        action="snooze",
        as_of=as_of,
        now=now,
        note=f"{what}: {note}" if note else what,
    )


def unsnooze(
    conn: sa.Connection,
    ref: str | int,
    *,
    by: str,
    note: str | None,
    as_of: dt.date,
    now: dt.datetime,
) -> dict[str, Any]:
    """End a snooze before its day: the alert is back in the queue at once, in the audit trail
    (action ``unsnooze``). Refused for an alert that is not asleep. Returns the alert."""
    actor = _person(by)
    row = _open_alert(conn, ref)
    if not asleep(row["snoozed_until"], latest_warn_day(conn)):
        raise AlertError(f"alert {row['id']} is not snoozed")
    what = f"was snoozed until {row['snoozed_until']}"
    return _apply_change(
        conn,
        row,
        values={"snoozed_until": None},
        actor=actor,
        action="unsnooze",
        as_of=as_of,
        now=now,
        note=f"{what}: {note}" if note else what,
    )
