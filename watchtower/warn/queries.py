"""Read queries over the alerts and tiers: the lists and the audit trail the CLI shows and
exports, what each digest shows (its alerts, its chart's tier rows, the alerts no subscriber
receives), the days still to warn and the open alerts per tier (the demo).

Filters run in the database, the reader's scope (its districts) among them
(:mod:`watchtower.warn.scope`). Regions are compared in their normalized form
(:func:`~watchtower.warn.routing.normalize_region`: 广东省 = 广东); the store keeps the names as
published, so the filter first finds the few distinct stored names that normalize alike, then
selects by them.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from watchtower.config import RoutingAddress
from watchtower.jurisdiction import normalize_jurisdiction
from watchtower.store.alerts import TIERS, alert_events, alerts, manager_tiers
from watchtower.store.schema import manager_snapshots
from watchtower.store.scoring import risk_scores
from watchtower.warn.policy import rank
from watchtower.warn.routing import Subscription, normalize_region
from watchtower.warn.scope import Places, city_condition, district_of, places, scope_condition
from watchtower.warn.service import (
    ServiceLevels,
    acknowledged_at_column,
    overdue,
    overdue_condition,
)

__all__ = [
    "ALERT_STATUSES",
    "OverdueOn",
    "alert_trail",
    "alerts_open_on",
    "count_alerts_by_tier",
    "days_to_warn",
    "digest_alerts",
    "digest_tier_rows",
    "get_alert_in_scope",
    "latest_warn_day",
    "list_alerts",
    "manager_in_scope",
    "open_alerts_by_tier",
    "unrouted_alert_ids",
]

#: ``list_alerts`` statuses: ``open`` (not closed and not snoozed: the queue), ``snoozed``
#: (not closed, snoozed), one status (snoozed or not), or ``all``.
ALERT_STATUSES = ("open", "snoozed", "new", "acknowledged", "investigating", "closed", "all")
#: ``list_alerts``' assignee filter: these two words, else a console user's name.
ASSIGNEE_NONE = "none"
#: Most severe first: red, orange, yellow, blue (the order of every alert list).
_SEVERITY = sa.case({t: -rank(t) for t in TIERS}, value=alerts.c.tier, else_=0)


def _probability_column() -> sa.Label[Any]:
    """The calibrated probability of an incident within 12 months stored beside the alert's
    latest score (its manager's score row of ``last_as_of``; NULL: none calibrated)."""
    rs = risk_scores
    return (
        sa.select(rs.c.probability_12m)
        .where(rs.c.register_no == alerts.c.register_no, rs.c.as_of == alerts.c.last_as_of)
        .limit(1)
        .scalar_subquery()
        .label("probability_12m")
    )


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


#: Most ids in one IN list (bounded, for PostgreSQL and SQLite alike).
_IN_CHUNK = 500


def _tiers_from(min_rank: int) -> list[str]:
    """The tiers of ``min_rank`` or above (a tier floor as an IN list)."""
    return [t for t in TIERS if rank(t) >= min_rank]


_RULE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_PLACE_COLUMNS = ("place_placed", "place_agg", "place_province", "place_city")


def latest_warn_day(conn: sa.Connection) -> dt.date | None:
    """The store's latest warn as-of day (None before the first warn run): the day snoozes
    expire on and ages count from, for the queue and for the warn run alike (the data's
    time, not the wall clock's: a replay behaves as production does)."""
    day: dt.date | None = conn.execute(sa.select(sa.func.max(manager_tiers.c.as_of))).scalar()
    return day


def _asleep_clause(day: dt.date | None) -> sa.ColumnElement[bool]:
    """:func:`watchtower.warn.decide.asleep` in SQL: snoozed until after ``day``."""
    if day is None:
        return sa.false()
    return sa.and_(alerts.c.snoozed_until.is_not(None), alerts.c.snoozed_until > day)


def _status_clause(status: str, day: dt.date | None) -> sa.ColumnElement[bool] | None:
    """The WHERE clause of an alert status ("open": not closed and awake on ``day``;
    "snoozed": not closed and asleep; "all": none)."""
    if status not in ALERT_STATUSES:
        raise ValueError(f"unknown alert status {status!r}; one of {', '.join(ALERT_STATUSES)}")
    if status == "open":
        return sa.and_(alerts.c.open_key.is_not(None), sa.not_(_asleep_clause(day)))
    if status == "snoozed":
        return sa.and_(alerts.c.open_key.is_not(None), _asleep_clause(day))
    if status == "all":
        return None
    return alerts.c.status == status


def _work_clauses(
    assignee: str | None, min_age_days: int | None, day: dt.date | None
) -> list[sa.ColumnElement[bool]]:
    """The clauses of the assignee filter (a user's name, or ``none``: nobody's) and the age
    filter (opened more than ``min_age_days`` before ``day``, the latest warn day)."""
    clauses: list[sa.ColumnElement[bool]] = []
    if assignee:
        who = assignee.strip().lower()
        if who == ASSIGNEE_NONE:
            clauses.append(alerts.c.assignee.is_(None))
        else:
            clauses.append(alerts.c.assignee == who)
    if min_age_days is not None:
        if min_age_days < 0:
            raise ValueError(f"an age is a number of days, not {min_age_days}")
        if day is None:  # no warn run, no alert is any age
            clauses.append(sa.false())
        else:
            clauses.append(alerts.c.opened_as_of < day - dt.timedelta(days=min_age_days))
    return clauses


def _wanted_districts(
    districts: Collection[str] | None, jurisdiction: str | None
) -> frozenset[str] | None:
    """The districts a query keeps: the user's scope narrowed to one asked-for district
    (``None``: every district)."""
    wanted = None if districts is None else frozenset(districts)
    if not jurisdiction:
        return wanted
    district = normalize_jurisdiction(jurisdiction)
    if district is None:
        raise ValueError(
            f"{jurisdiction!r} is not a district (辖区): one of the 31 provinces or "
            "深圳, 大连, 宁波, 厦门, 青岛, in any spelling"
        )
    return frozenset({district}) if wanted is None else wanted & {district}


def _rule_clause(rule: str) -> sa.ColumnElement[bool]:
    if not _RULE.match(rule):
        raise ValueError(f"{rule!r} is not a rule code")
    # rule_hits is a JSON list of codes; its text holds each code quoted
    return sa.cast(alerts.c.rule_hits, sa.Text).contains(f'"{rule}"', autoescape=True)


def _search_clause(search: str) -> sa.ColumnElement[bool]:
    text = search.strip()
    return sa.or_(
        alerts.c.manager_name.icontains(text, autoescape=True),
        alerts.c.register_no.icontains(text, autoescape=True),
    )


def _region_clauses(
    conn: sa.Connection, tier: str | None, province: str | None, city: str | None
) -> list[sa.ColumnElement[bool]]:
    """The clauses of the tier and the region (province, city) filters that are given."""
    clauses: list[sa.ColumnElement[bool]] = []
    if tier:
        clauses.append(alerts.c.tier == tier)
    if province:
        clauses.append(_same_region(conn, alerts.c.province, province))
    if city:
        clauses.append(_same_region(conn, alerts.c.city, city))
    return clauses


def _filtered(
    conn: sa.Connection,
    columns: Sequence[sa.ColumnElement[Any] | sa.Table],
    *,
    status: str,
    tier: str | None,
    province: str | None,
    city: str | None,
    districts: Collection[str] | None,
    jurisdiction: str | None,
    rule: str | None,
    search: str | None,
    register_no: str | None,
    address: RoutingAddress,
    overdue_on: OverdueOn | None = None,
    assignee: str | None = None,
    min_age_days: int | None = None,
) -> tuple[sa.Select[Any], Places]:
    """The select of ``columns`` over the alerts joined to their managers' places, with every
    filter as a WHERE clause (nothing is filtered after the query). The clauses are built in
    the filters' order: of two bad values, the error names the first (status, district, rule).
    ``overdue_on``: only the alerts overdue on that day under those service levels. Snoozes
    and ages are judged on the store's latest warn day (:func:`latest_warn_day`)."""
    judged = status in ("open", "snoozed") or min_age_days is not None
    day = latest_warn_day(conn) if judged else None
    status_clause = _status_clause(status, day)
    where = places(address)
    p = where.subquery
    q = sa.select(*columns).select_from(
        alerts.outerjoin(p, p.c.register_no == alerts.c.register_no)
    )
    clauses = [] if status_clause is None else [status_clause]
    clauses += _region_clauses(conn, tier, province, city)
    wanted = _wanted_districts(districts, jurisdiction)
    if wanted is not None:
        clauses.append(scope_condition(conn, wanted, where, alerts.c.province, alerts.c.city))
    if rule:
        clauses.append(_rule_clause(rule))
    if search and search.strip():
        clauses.append(_search_clause(search))
    if register_no:
        clauses.append(alerts.c.register_no == register_no.strip().upper())
    if overdue_on is not None:
        clauses.append(overdue_condition(overdue_on.levels, overdue_on.as_of))
    clauses += _work_clauses(assignee, min_age_days, day)
    for clause in clauses:
        q = q.where(clause)
    return q, where


@dataclass(frozen=True)
class OverdueOn:
    """Service levels and the as-of day (the caller's clock) that decide what is overdue."""

    levels: ServiceLevels
    as_of: dt.date


def _with_overdue(row: dict[str, Any], overdue_on: OverdueOn | None) -> dict[str, Any]:
    """``row`` with ``overdue`` ("acknowledge", "close" or None) when the levels are known."""
    if overdue_on is not None:
        row["overdue"] = overdue(
            tier=row["tier"],
            status=row["status"],
            opened_at=row["opened_at"],
            acknowledged_at=row["acknowledged_at"],
            levels=overdue_on.levels,
            as_of=overdue_on.as_of,
        )
    return row


def _with_places(q: sa.Select[Any], where: Places) -> sa.Select[Any]:
    """``q`` with the columns :func:`district_of` places a manager by."""
    pc = where.subquery.c
    return q.add_columns(
        pc.register_no.label("place_placed"),
        pc.agg.label("place_agg"),
        pc.province.label("place_province"),
        pc.city.label("place_city"),
    )


def _with_jurisdiction(r: sa.RowMapping) -> dict[str, Any]:
    """An alert row of a :func:`_with_places` select: the alert's columns and its manager's
    ``jurisdiction`` (the place columns dropped)."""
    row = {k: v for k, v in r.items() if k not in _PLACE_COLUMNS}
    row["jurisdiction"] = district_of(r)
    return row


def list_alerts(
    conn: sa.Connection,
    *,
    status: str = "open",
    tier: str | None = None,
    province: str | None = None,
    city: str | None = None,
    districts: Collection[str] | None = None,
    jurisdiction: str | None = None,
    rule: str | None = None,
    search: str | None = None,
    register_no: str | None = None,
    address: RoutingAddress = "registered",
    limit: int | None = None,
    overdue_on: OverdueOn | None = None,
    overdue_only: bool = False,
    assignee: str | None = None,
    min_age_days: int | None = None,
) -> list[dict[str, Any]]:
    """Alerts of ``status`` (see ALERT_STATUSES), of one ``tier``, ``province`` and ``city``
    if given, most severe first (tier, then score, then register number).

    ``districts``: the reader's scope, canonical district names (None: every district);
    ``jurisdiction``: only this district (any spelling); both place a manager by the digests'
    routing rule on ``address`` (:mod:`watchtower.warn.scope`), in SQL. ``rule``: only alerts
    whose latest rule hits hold it; ``search``: in the manager's name or register number;
    ``register_no``: one manager's; ``assignee``: a console user's (``none``: nobody's);
    ``min_age_days``: opened more than this many days before the latest warn day. The
    default ``open`` leaves out the alerts snoozed past the latest warn day (``snoozed``
    lists them). Each row carries its manager's ``jurisdiction`` and ``acknowledged_at``
    (when a person first took it up; None: nobody yet), and with ``overdue_on`` its
    ``overdue`` (:func:`watchtower.warn.service.overdue`); ``overdue_only`` keeps the overdue
    ones (in SQL: ``overdue_on`` is then required)."""
    if overdue_only and overdue_on is None:
        raise ValueError("overdue_only needs the service levels and the as-of day (overdue_on)")
    q, where = _filtered(
        conn,
        [alerts, acknowledged_at_column().label("acknowledged_at"), _probability_column()],
        status=status,
        tier=tier,
        province=province,
        city=city,
        districts=districts,
        jurisdiction=jurisdiction,
        rule=rule,
        search=search,
        register_no=register_no,
        address=address,
        overdue_on=overdue_on if overdue_only else None,
        assignee=assignee,
        min_age_days=min_age_days,
    )
    q = _with_places(q, where).order_by(
        _SEVERITY, alerts.c.score.desc(), alerts.c.register_no, alerts.c.id
    )
    if limit:
        q = q.limit(limit)
    return [_with_overdue(_with_jurisdiction(r), overdue_on) for r in conn.execute(q).mappings()]


def count_alerts_by_tier(
    conn: sa.Connection,
    *,
    status: str = "open",
    districts: Collection[str] | None = None,
    jurisdiction: str | None = None,
    rule: str | None = None,
    search: str | None = None,
    address: RoutingAddress = "registered",
    overdue_on: OverdueOn | None = None,
    assignee: str | None = None,
    min_age_days: int | None = None,
) -> dict[str, int]:
    """How many alerts :func:`list_alerts` finds per tier with the same filters (every tier
    present, 0 when none): the queue's counts. ``overdue_on``: only the overdue ones."""
    q, _ = _filtered(
        conn,
        [alerts.c.tier, sa.func.count()],
        status=status,
        tier=None,
        province=None,
        city=None,
        districts=districts,
        jurisdiction=jurisdiction,
        rule=rule,
        search=search,
        register_no=None,
        address=address,
        overdue_on=overdue_on,
        assignee=assignee,
        min_age_days=min_age_days,
    )
    counts = {str(t): int(n) for t, n in conn.execute(q.group_by(alerts.c.tier)).all()}
    return {t: counts.get(t, 0) for t in TIERS}


def get_alert_in_scope(
    conn: sa.Connection,
    alert_id: int,
    *,
    districts: Collection[str] | None,
    address: RoutingAddress = "registered",
) -> dict[str, Any] | None:
    """One alert by id, with its manager's ``jurisdiction``, when it is in ``districts``
    (None: any district); None when there is no such alert or it is outside the scope."""
    q, where = _filtered(
        conn,
        [alerts, _probability_column()],
        status="all",
        tier=None,
        province=None,
        city=None,
        districts=districts,
        jurisdiction=None,
        rule=None,
        search=None,
        register_no=None,
        address=address,
    )
    q = _with_places(q, where).where(alerts.c.id == alert_id)
    r = conn.execute(q).mappings().first()
    if r is None:
        return None
    return _with_jurisdiction(r)


def manager_in_scope(
    conn: sa.Connection,
    register_no: str,
    *,
    districts: Collection[str] | None,
    address: RoutingAddress = "registered",
) -> bool:
    """True when the manager ``register_no`` is known (a snapshot or an alert) and, placed by
    the routing rule, in ``districts`` (None: any district). A manager without a snapshot is
    placed by its alerts' rows."""
    reg = register_no.strip().upper()
    where = places(address)
    p = where.subquery
    if districts is None:
        known = sa.select(sa.literal(1)).where(
            sa.or_(
                sa.exists().where(manager_snapshots.c.register_no == reg),
                sa.exists().where(alerts.c.register_no == reg),
            )
        )
        return conn.execute(known).first() is not None
    placed = sa.select(p.c.register_no).where(
        p.c.register_no == reg,
        scope_condition(conn, districts, where, None, None),
    )
    if conn.execute(placed).first() is not None:
        return True
    by_alert = (
        sa.select(alerts.c.id)
        .select_from(alerts.outerjoin(p, p.c.register_no == alerts.c.register_no))
        .where(
            alerts.c.register_no == reg,
            scope_condition(conn, districts, where, alerts.c.province, alerts.c.city),
        )
        .limit(1)
    )
    return conn.execute(by_alert).first() is not None


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


# --- what the digests read ---------------------------------------------------------------------


def _reach_clauses(
    conn: sa.Connection,
    where: Places,
    districts: Collection[str] | None,
    city: str | None,
    row_province: sa.ColumnElement[Any],
    row_city: sa.ColumnElement[Any],
) -> list[sa.ColumnElement[bool]]:
    """The clauses of a subscriber's reach (the rule of
    :meth:`watchtower.warn.routing.Subscription.covers`): its ``districts`` (None: any) and its
    ``city`` narrowing (None: the whole district), the manager placed by ``where``, else by
    the ``row_province`` and ``row_city`` its row carries."""
    clauses: list[sa.ColumnElement[bool]] = []
    if districts is not None:
        clauses.append(scope_condition(conn, districts, where, row_province, row_city))
    if city:
        clauses.append(city_condition(conn, city, where, row_city))
    return clauses


def digest_alerts(
    conn: sa.Connection,
    *,
    start: dt.date,
    end: dt.date,
    min_tier: str,
    districts: Collection[str] | None = None,
    city: str | None = None,
    alert_ids: Collection[int] | None = None,
    address: RoutingAddress = "registered",
) -> list[dict[str, Any]]:
    """The alerts a digest of the period ``start..end`` shows, every rule a WHERE clause:
    open at some time in the period, at ``min_tier`` or above
    (:func:`watchtower.digest.select.shown`), of a manager in ``districts`` (canonical names;
    None: any; empty: none) and in ``city`` (a subscriber's narrowing, any spelling; None:
    the whole district), placed by the routing rule on ``address`` with the snapshots known by
    ``end`` (point in time); ``alert_ids``: only those (the catch-all digest; read in bounded
    IN lists). By id; each row carries its manager's ``jurisdiction``."""
    in_period = sa.and_(
        alerts.c.opened_as_of <= end,
        sa.or_(alerts.c.closed_as_of.is_(None), alerts.c.closed_as_of >= start),
    )
    # only the period's managers are placed: their snapshots, not the whole table, are ranked
    where = places(address, as_of=end, among=sa.select(alerts.c.register_no).where(in_period))
    p = where.subquery
    q = (
        _with_places(
            sa.select(alerts, _probability_column()).select_from(
                alerts.outerjoin(p, p.c.register_no == alerts.c.register_no)
            ),
            where,
        )
        .where(
            in_period,
            alerts.c.tier.in_(_tiers_from(rank(min_tier))),
            *_reach_clauses(conn, where, districts, city, alerts.c.province, alerts.c.city),
        )
        .order_by(alerts.c.id)
    )
    if alert_ids is None:
        return [_with_jurisdiction(r) for r in conn.execute(q).mappings()]
    ids = sorted(alert_ids)
    return [
        _with_jurisdiction(r)
        for at in range(0, len(ids), _IN_CHUNK)
        for r in conn.execute(q.where(alerts.c.id.in_(ids[at : at + _IN_CHUNK]))).mappings()
    ]


def digest_tier_rows(
    conn: sa.Connection,
    days: Sequence[dt.date],
    *,
    as_of: dt.date,
    districts: Collection[str] | None = None,
    city: str | None = None,
    address: RoutingAddress = "registered",
) -> list[tuple[dt.date, str, str]]:
    """(day, register number, tier) of every manager with a tier on one of ``days`` (a
    digest's chart), of a manager in ``districts`` and ``city`` as :func:`digest_alerts`
    places it on ``as_of`` (a manager without a snapshot by its tier row's province and
    city). By day and register number."""
    if not days:
        return []
    mt = manager_tiers
    on_days = sa.and_(mt.c.as_of.in_(days), mt.c.tier.is_not(None))
    where = places(address, as_of=as_of, among=sa.select(mt.c.register_no).where(on_days))
    p = where.subquery
    reach = _reach_clauses(conn, where, districts, city, mt.c.province, mt.c.city)
    q = (
        sa.select(mt.c.as_of, mt.c.register_no, mt.c.tier)
        .select_from(mt.outerjoin(p, p.c.register_no == mt.c.register_no) if reach else mt)
        .where(on_days, *reach)
        .order_by(mt.c.as_of, mt.c.register_no)
    )
    return [(d, str(reg), str(tier)) for d, reg, tier in conn.execute(q)]


def _receives(conn: sa.Connection, where: Places, sub: Subscription) -> sa.ColumnElement[bool]:
    """An alert's condition to be received by ``sub`` at some cadence: its tier floor and its
    reach (:meth:`~watchtower.warn.routing.Subscription.covers`)."""
    reach = (
        []
        if sub.everywhere
        else _reach_clauses(
            conn, where, sub.districts or None, sub.city_filter, alerts.c.province, alerts.c.city
        )
    )
    return sa.and_(alerts.c.tier.in_(_tiers_from(sub.min_rank())), *reach)


def unrouted_alert_ids(
    conn: sa.Connection,
    as_of: dt.date,
    subscriptions: Sequence[Subscription],
    address: RoutingAddress = "registered",
) -> list[int]:
    """Ids of the alerts open on ``as_of`` that no subscription receives at any cadence for
    their tier (:func:`watchtower.warn.routing.unrouted` as one query: each subscription's
    tier floor and reach a condition, the alert kept when none holds), managers placed on
    ``address`` with the snapshots known by ``as_of``. In id order."""
    open_then = sa.and_(
        alerts.c.opened_as_of <= as_of,
        sa.or_(alerts.c.closed_as_of.is_(None), alerts.c.closed_as_of > as_of),
    )
    where = places(address, as_of=as_of, among=sa.select(alerts.c.register_no).where(open_then))
    p = where.subquery
    covered = [
        _receives(conn, where, s)
        for s in subscriptions
        if s.alert_ids is None  # the catch-all receives what the others do not
    ]
    # CASE, not NOT: over a NULL name a condition is unknown, and NOT unknown drops the row
    nobody = sa.case((sa.or_(*covered), 0), else_=1) == 1 if covered else sa.true()
    q = (
        sa.select(alerts.c.id)
        .select_from(alerts.outerjoin(p, p.c.register_no == alerts.c.register_no))
        .where(open_then, nobody)
        .order_by(alerts.c.id)
    )
    return [int(i) for i in conn.execute(q).scalars()]
