"""One manager's profile as known on day D, read from the point-in-time store.

Every history row read has ``known_from <= D``; derived rows (scores, tiers, feature snapshots)
are those of days ``<= D``. SQLAlchemy Core selects only; nothing is written.

Also here: :func:`terminal_text`, which makes any text from the feed safe to print on a
terminal (no forged lines, no escape sequences, no bidi reordering).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from watchtower.contract import INCIDENT_TYPE_ZH, PLACEHOLDERS
from watchtower.store.alerts import alert_events, alerts, manager_tiers
from watchtower.store.features import feature_snapshots
from watchtower.store.schema import (
    cancellations,
    change_events,
    events,
    fund_snapshots,
    incidents,
    manager_details,
    manager_snapshots,
)
from watchtower.store.scoring import risk_scores

# --------------------------------------------------------------------------- terminal escaping

# --------------------------------------------------------------------------- the profile


@dataclass(frozen=True)
class Snapshot:
    """The manager's latest list snapshot (私募基金管理人公示) known by D."""

    known_from: dt.date
    manager_name: str | None
    manager_type: str | None
    org_form: str | None
    uscc: str | None
    register_address: str | None
    register_province: str | None
    register_city: str | None
    reg_adr_agg: str | None
    office_address: str | None
    office_province: str | None
    office_city: str | None
    office_adr_agg: str | None
    artificial_person_name: str | None
    member_type: str | None
    establish_date: dt.date | None
    register_date: dt.date | None
    fund_count: int | None
    fund_scale: float | None  # 万元
    subscribed_capital: float | None  # 万元; None when the list gives its placeholder
    paid_in_capital: float | None  # 万元; idem
    has_special_tips: bool | None
    special_tips: str | None
    has_credit_tips: bool | None
    in_blacklist: bool | None
    last_update_date: dt.date | None


@dataclass(frozen=True)
class Details:
    """The latest detail page (管理人详情) known by D."""

    known_from: dt.date
    subscribed_capital: float | None  # 万元
    paid_in_capital: float | None  # 万元
    paid_in_ratio: float | None  # 0..1
    employee_count: int | None
    qualified_employee_count: int | None
    scale_range: str | None
    scale_low: float | None  # 万元
    scale_high: float | None  # 万元
    actual_controller: str | None
    org_nature: str | None
    legal_opinion_status: str | None
    integrity_tips: Any
    institution_tips: Any
    special_tips: Any
    last_update_date: dt.date | None


@dataclass(frozen=True)
class SnapshotChange:
    """One snapshot day and what changed from the previous snapshot ({field: [old, new]})."""

    known_from: dt.date
    changes: dict[str, list[Any]] = field(default_factory=dict)
    first: bool = False


@dataclass(frozen=True)
class Event:
    """One item of the timeline: a derived change, an external event, a deregistration or an
    incident. ``kind`` says which table it comes from."""

    event_type: str
    event_date: dt.date
    source: str
    description: str | None
    known_from: dt.date
    kind: str  # change | event | cancellation | incident
    severity: int | None = None
    field: str | None = None
    old_value: str | None = None
    new_value: str | None = None
    cancel_kind: str | None = None
    reason_class: str | None = None


@dataclass(frozen=True)
class Features:
    as_of: dt.date
    feature_set_version: str
    values: dict[str, Any]


@dataclass(frozen=True)
class Score:
    as_of: dt.date
    score: float
    rule_score: float | None
    anomaly_score: float | None
    supervised_score: float | None
    rule_hits: list[str]
    model_id: str
    feature_set_version: str
    #: calibrated P(incident within 12 months); None: too few past labels to calibrate
    probability_12m: float | None = None


@dataclass(frozen=True)
class AlertState:
    """The manager's alert open on D, with its status and tier as of D (audit trail)."""

    id: int
    status: str
    tier: str | None
    peak_tier: str | None
    opened_as_of: dt.date


@dataclass(frozen=True)
class Tier:
    """The latest tier run <= D. ``tier`` None: scored below every tier (no alert)."""

    as_of: dt.date
    tier: str | None
    raw_tier: str | None
    floor_tier: str | None
    score: float
    policy_version: str
    alert: AlertState | None


@dataclass(frozen=True)
class LinkedFund:
    fund_no: str | None
    fund_name: str | None
    working_state: str | None
    put_on_record_date: dt.date | None
    link_method: str | None
    known_from: dt.date
    fund_type: str | None = None  # not in the real list rows: see manager_funds


@dataclass(frozen=True)
class ManagerProfile:
    register_no: str
    as_of: dt.date
    manager_name: str | None
    snapshot: Snapshot | None
    details: Details | None
    snapshots: tuple[SnapshotChange, ...]
    events: tuple[Event, ...]
    features: Features | None
    score: Score | None
    tier: Tier | None
    reasons: tuple[dict[str, Any], ...]
    funds: tuple[LinkedFund, ...]


#: Snapshot fields compared for the history (the ones a supervisor reads).
HISTORY_FIELDS: tuple[str, ...] = (
    "manager_name",
    "manager_type",
    "org_form",
    "register_address",
    "reg_adr_agg",
    "office_address",
    "office_adr_agg",
    "artificial_person_name",
    "member_type",
    "fund_count",
    "has_special_tips",
    "special_tips",
    "has_credit_tips",
    "in_blacklist",
)

_SNAPSHOT_COLUMNS = {
    "manager_type": "primary_invest_type",
}


def _money(camel: str, value: Any) -> float | None:
    """A list-page money value, None for the feed's placeholders (the store nulls them
    already; this keeps a placeholder from ever being shown as a fact)."""
    if value is None or float(value) in PLACEHOLDERS["managers"].get(camel, ()):
        return None
    return float(value)


def _snapshot(row: sa.RowMapping) -> Snapshot:
    kwargs: dict[str, Any] = {}
    for name in Snapshot.__dataclass_fields__:
        col = _SNAPSHOT_COLUMNS.get(name, name)
        kwargs[name] = row[col]
    kwargs["subscribed_capital"] = _money("subscribedCapital", row["subscribed_capital"])
    kwargs["paid_in_capital"] = _money("paidInCapital", row["paid_in_capital"])
    return Snapshot(**kwargs)


def _details(row: sa.RowMapping) -> Details:
    return Details(**{name: row[name] for name in Details.__dataclass_fields__})


def _latest_per_day(rows: Iterable[sa.RowMapping]) -> list[sa.RowMapping]:
    """One row per known_from day: the last loaded (rows sorted by known_from, id)."""
    by_day: dict[dt.date, sa.RowMapping] = {}
    for r in rows:
        by_day[r["known_from"]] = r
    return [by_day[d] for d in sorted(by_day)]


def _history(snaps: Sequence[Snapshot]) -> tuple[SnapshotChange, ...]:
    out: list[SnapshotChange] = []
    prev: Snapshot | None = None
    for s in snaps:
        if prev is None:
            out.append(SnapshotChange(s.known_from, {}, first=True))
        else:
            changes = {
                f: [getattr(prev, f), getattr(s, f)]
                for f in HISTORY_FIELDS
                if getattr(prev, f) is not None
                and getattr(s, f) is not None
                and getattr(prev, f) != getattr(s, f)
            }
            out.append(SnapshotChange(s.known_from, changes))
        prev = s
    return tuple(out)


def _timeline(conn: sa.Connection, regno: str, day: dt.date) -> tuple[Event, ...]:
    items: dict[tuple[Any, ...], Event] = {}

    ce = change_events
    for r in conn.execute(
        sa.select(ce)
        .where(ce.c.register_no == regno, ce.c.known_from <= day)
        .order_by(ce.c.event_date, ce.c.id)
    ).mappings():
        items[("change", r["natural_key"])] = Event(
            event_type=r["event_type"],
            event_date=r["event_date"],
            source=r["source"],
            description=r["description"],
            known_from=r["known_from"],
            kind="change",
            severity=r["severity"],
            field=r["field"],
            old_value=r["old_value"],
            new_value=r["new_value"],
        )

    ev = events
    for r in conn.execute(
        sa.select(ev)
        .where(ev.c.register_no == regno, ev.c.known_from <= day)
        .order_by(ev.c.known_from, ev.c.id)
    ).mappings():
        key: tuple[Any, ...] = (
            "event",
            r["event_date"],
            r["event_type"],
            r["source"],
            r["description"],
        )
        items.setdefault(
            key,
            Event(
                event_type=r["event_type"],
                event_date=r["event_date"],
                source=r["source"] or "events",
                description=r["description"],
                known_from=r["known_from"],
                kind="event",
                severity=r["severity"],
            ),
        )

    ca = cancellations
    for r in conn.execute(
        sa.select(ca)
        .where(ca.c.register_no == regno, ca.c.known_from <= day)
        .order_by(ca.c.known_from, ca.c.id)
    ).mappings():
        key = ("cancellation", r["cancel_date"], r["status"], r["org_name"])
        parts = [p for p in (r["status_name"], r["cancel_type"], r["cancel_reason"]) if p]
        items.setdefault(
            key,
            Event(
                event_type="deregistration",
                event_date=r["cancel_date"] or r["known_from"],
                source="cancellations",
                description=" / ".join(parts) or None,
                known_from=r["known_from"],
                kind="cancellation",
                cancel_kind=r["cancel_kind"],
                reason_class=r["reason_class"],
            ),
        )

    inc = incidents
    for r in conn.execute(
        sa.select(inc)
        .where(inc.c.register_no == regno, inc.c.known_from <= day)
        .order_by(inc.c.known_from, inc.c.id)
    ).mappings():
        kind = r["incident_type"]
        key = ("incident", r["incident_date"], kind)
        items.setdefault(
            key,
            Event(
                event_type=kind or "incident",
                event_date=r["incident_date"],
                source="incidents",
                description=f"{INCIDENT_TYPE_ZH.get(kind, kind)} / {kind}" if kind else None,
                known_from=r["known_from"],
                kind="incident",
            ),
        )

    order = {"change": 0, "event": 1, "cancellation": 2, "incident": 3}
    return tuple(sorted(items.values(), key=lambda e: (e.event_date, order[e.kind])))


def _funds(conn: sa.Connection, regno: str, day: dt.date) -> tuple[LinkedFund, ...]:
    """Per fund ever tied to the manager by D: its latest snapshot by D, if still tied."""
    f = fund_snapshots
    key = sa.func.coalesce(f.c.fund_no, f.c.fund_name)
    ours = sa.select(key).where(f.c.register_no == regno, f.c.known_from <= day).distinct()
    latest: dict[str, sa.RowMapping] = {}
    for r in conn.execute(
        sa.select(key.label("fund_key"), f)
        .where(key.in_(ours.scalar_subquery()), f.c.known_from <= day)
        .order_by(f.c.known_from, f.c.id)
    ).mappings():
        latest[r["fund_key"]] = r
    funds = [
        LinkedFund(
            fund_no=r["fund_no"],
            fund_name=r["fund_name"],
            working_state=r["working_state"],
            put_on_record_date=r["put_on_record_date"],
            link_method=r["link_method"],
            known_from=r["known_from"],
            fund_type=r["fund_type"],
        )
        for r in latest.values()
        if r["register_no"] == regno
    ]
    funds.sort(
        key=lambda x: (x.put_on_record_date or dt.date.max, x.fund_no or "", x.fund_name or "")
    )
    return tuple(funds)


def _scoring(
    conn: sa.Connection, regno: str, day: dt.date
) -> tuple[Score | None, tuple[dict[str, Any], ...], Features | None, Tier | None]:
    srow = _latest(conn, risk_scores, regno, day)
    score = None
    reasons: tuple[dict[str, Any], ...] = ()
    fs = feature_snapshots
    fq = sa.select(fs).where(fs.c.register_no == regno, fs.c.as_of <= day)
    if srow is not None:
        score = Score(
            as_of=srow["as_of"],
            score=srow["score"],
            rule_score=srow["rule_score"],
            anomaly_score=srow["anomaly_score"],
            supervised_score=srow["supervised_score"],
            rule_hits=list(srow["rule_hits"] or []),
            model_id=srow["model_id"],
            feature_set_version=srow["feature_set_version"],
            probability_12m=srow["probability_12m"],
        )
        reasons = tuple(dict(r) for r in srow["reasons"] or [])
        fq = fq.where(
            fs.c.as_of == srow["as_of"], fs.c.feature_set_version == srow["feature_set_version"]
        )
    frow = (
        conn.execute(fq.order_by(fs.c.as_of.desc(), fs.c.created_at.desc(), fs.c.id.desc()))
        .mappings()
        .first()
    )
    features = (
        Features(frow["as_of"], frow["feature_set_version"], dict(frow["values"]))
        if frow is not None
        else None
    )

    trow = _latest(conn, manager_tiers, regno, day)
    tier = None
    if trow is not None:
        tier = Tier(
            as_of=trow["as_of"],
            tier=trow["tier"],
            raw_tier=trow["raw_tier"],
            floor_tier=trow["floor_tier"],
            score=trow["score"],
            policy_version=trow["policy_version"],
            alert=_alert_state(conn, regno, day),
        )
    return score, reasons, features, tier


def _latest(conn: sa.Connection, table: sa.Table, regno: str, day: dt.date) -> sa.RowMapping | None:
    """The manager's latest row of a per-day table (scores, tiers) as of ``day``."""
    return (
        conn.execute(
            sa.select(table)
            .where(table.c.register_no == regno, table.c.as_of <= day)
            .order_by(table.c.as_of.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )


def _alert_state(conn: sa.Connection, regno: str, day: dt.date) -> AlertState | None:
    """The alert open on D (opened by D, not closed by D), its status/tier as of D."""
    a = alerts
    arow = (
        conn.execute(
            sa.select(a)
            .where(
                a.c.register_no == regno,
                a.c.opened_as_of <= day,
                sa.or_(a.c.closed_as_of.is_(None), a.c.closed_as_of > day),
            )
            .order_by(a.c.opened_as_of.desc(), a.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if arow is None:
        return None
    e = alert_events
    status, tier = arow["status"], arow["tier"]
    for ev in conn.execute(
        sa.select(e.c.to_status, e.c.to_tier)
        .where(e.c.alert_id == arow["id"], e.c.as_of <= day)
        .order_by(e.c.id)
    ):
        status = ev.to_status or status
        tier = ev.to_tier or tier
    return AlertState(arow["id"], status, tier, arow["peak_tier"], arow["opened_as_of"])


def latest_known_day(engine: sa.Engine | sa.Connection, register_no: str) -> dt.date | None:
    """The latest day the store knows anything about the manager (None: nothing at all)."""
    regno = register_no.strip().upper()
    days = [
        sa.select(sa.func.max(t.c.known_from)).where(t.c.register_no == regno)
        for t in (
            manager_snapshots,
            manager_details,
            change_events,
            events,
            cancellations,
            incidents,
            fund_snapshots,
        )
    ] + [
        sa.select(sa.func.max(t.c.as_of)).where(t.c.register_no == regno)
        for t in (risk_scores, manager_tiers, feature_snapshots)
    ]
    with _connection(engine) as conn:
        found = [conn.execute(q).scalar() for q in days]
    present = [d for d in found if d is not None]
    return max(present) if present else None


class _connection:
    def __init__(self, engine: sa.Engine | sa.Connection) -> None:
        self._engine = engine
        self._own: sa.Connection | None = None

    def __enter__(self) -> sa.Connection:
        if isinstance(self._engine, sa.Connection):
            return self._engine
        self._own = self._engine.connect()
        return self._own

    def __exit__(self, *exc: object) -> None:
        if self._own is not None:
            self._own.close()


def manager_profile(
    engine: sa.Engine | sa.Connection, register_no: str, as_of: dt.date | None = None
) -> ManagerProfile | None:
    """The profile of manager ``register_no`` as known on ``as_of`` (default: the latest day
    the store knows anything about it). None when nothing about it is known by that day."""
    regno = register_no.strip().upper()
    if as_of is None:
        as_of = latest_known_day(engine, regno)
        if as_of is None:
            return None
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    day = as_of
    with _connection(engine) as conn:
        ms = manager_snapshots
        snap_rows = _latest_per_day(
            conn.execute(
                sa.select(ms)
                .where(ms.c.register_no == regno, ms.c.known_from <= day)
                .order_by(ms.c.known_from, ms.c.id)
            ).mappings()
        )
        snaps = [_snapshot(r) for r in snap_rows]
        md = manager_details
        drow = (
            conn.execute(
                sa.select(md)
                .where(md.c.register_no == regno, md.c.known_from <= day)
                .order_by(md.c.known_from.desc(), md.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        timeline = _timeline(conn, regno, day)
        if not snaps and drow is None and not timeline:
            return None
        funds = _funds(conn, regno, day)
        score, reasons, features, tier = _scoring(conn, regno, day)

    snapshot = snaps[-1] if snaps else None
    name = snapshot.manager_name if snapshot else None
    if name is None and drow is not None:
        name = drow["manager_name"]
    return ManagerProfile(
        register_no=regno,
        as_of=day,
        manager_name=name,
        snapshot=snapshot,
        details=_details(drow) if drow is not None else None,
        snapshots=_history(snaps),
        events=timeline,
        features=features,
        score=score,
        tier=tier,
        reasons=reasons,
        funds=funds,
    )


def latest_snapshot_day(engine: sa.Engine | sa.Connection) -> dt.date | None:
    """The latest day a manager snapshot is known from (None: no snapshot yet): the newest
    cut-off a model can be trained with."""
    with _connection(engine) as conn:
        day = conn.execute(sa.select(sa.func.max(manager_snapshots.c.known_from))).scalar()
    return day
