"""Read what one subscriber's digest shows for one period from the store: its alerts and its
chart's tier rows through the queries the console and the CLI use
(:mod:`watchtower.warn.queries`: the period, the tier floor and the subscriber's reach are
WHERE clauses, nothing is filtered after the read), then its sections as pure functions
(:mod:`watchtower.digest.select`). :func:`manager_places` states the routing rule in Python:
the reference the SQL rule (:mod:`watchtower.warn.scope`) is held equal to by the tests."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from watchtower.config import RoutingAddress
from watchtower.digest.mask import mask_in_text, mask_name
from watchtower.digest.model import DigestAlert, DigestData, Reason, TierCounts
from watchtower.digest.select import (
    AlertFacts,
    Escalation,
    first_escalations,
    place_alerts,
    shown_min_tier,
    tier_counts,
)
from watchtower.jurisdiction import jurisdiction_of
from watchtower.store.alerts import alert_events, manager_tiers
from watchtower.store.schema import manager_snapshots
from watchtower.values import finite_float
from watchtower.warn.decide import asleep
from watchtower.warn.policy import TierPolicy, rank
from watchtower.warn.queries import digest_alerts, digest_tier_rows
from watchtower.warn.routing import WEEKDAYS, Place, Subscription
from watchtower.warn.scope import ADDRESS_COLUMNS as _ADDRESS_COLUMNS

#: Still-open alerts listed in the mail body (all of them are in the CSV attachment).
OPEN_SHOWN = {"daily": 10, "weekly": 25, "immediate": 0}


def period_for(
    cadence: str, as_of: dt.date, weekday: str = "fri", *, force: bool = False
) -> tuple[dt.date, dt.date, str] | None:
    """(start, end, key) of the period a digest on ``as_of`` covers, or None when the
    cadence is not due that day (weekly digests go out on their weekday unless ``force``).
    Keys: ``daily:2024-06-30``, ``immediate:2024-06-30``, ``weekly:2024-W26``."""
    if cadence == "weekly":
        if not force and WEEKDAYS[as_of.weekday()] != weekday:
            return None
        year, week, _ = as_of.isocalendar()
        return as_of - dt.timedelta(days=6), as_of, f"weekly:{year}-W{week:02d}"
    return as_of, as_of, f"{cadence}:{as_of.isoformat()}"


def manager_places(
    conn: sa.Connection,
    stored: Mapping[str, tuple[str | None, str | None]],
    as_of: dt.date,
    address: RoutingAddress = "registered",
) -> dict[str, Place]:
    """Where routing puts each manager of ``stored`` (register_no -> the (province, city) its
    alert or tier row carries) on ``as_of``: the district of its registered address (or its
    office's, ``address="office"``) in its latest snapshot known by ``as_of`` that has that
    address (point in time: nothing known later). A manager whose snapshots all lack that
    address is in no known district (its alerts go to the catch-all); one with no snapshot
    known at all keeps the place its row carries (the scoring stage's, office address else
    registered). The rule in Python: what the digests, the console and the CLI read is the
    same rule in SQL (:func:`watchtower.warn.scope.scope_condition`), which the tests hold
    equal to this."""
    regs = sorted(stored)
    agg_col, prov_col, city_col = (manager_snapshots.c[c] for c in _ADDRESS_COLUMNS[address])
    ms = manager_snapshots
    latest: dict[str, tuple[str | None, str | None, str | None]] = {}
    for start in range(0, len(regs), 500):  # bounded IN lists (PostgreSQL and SQLite alike)
        rows = conn.execute(
            sa.select(ms.c.register_no, agg_col, prov_col, city_col)
            .where(ms.c.register_no.in_(regs[start : start + 500]), ms.c.known_from <= as_of)
            .order_by(
                ms.c.register_no, ms.c.snapshot_date.asc().nulls_first(), ms.c.known_from, ms.c.id
            )
        )
        for reg, agg, prov, city in rows:
            if reg not in latest or any(v is not None for v in (agg, prov, city)):
                latest[reg] = (agg, prov, city)  # ordered: the latest known address wins
    out: dict[str, Place] = {}
    for reg in regs:
        agg, prov, city = latest[reg] if reg in latest else (None, *stored[reg])
        out[reg] = Place(jurisdiction_of(agg, prov, city), city)
    return out


def select_chart_dates(conn: sa.Connection, as_of: dt.date, runs: int) -> list[dt.date]:
    """The last ``runs`` warn days up to ``as_of``, oldest first."""
    mt = manager_tiers
    return [
        d
        for (d,) in conn.execute(
            sa.select(mt.c.as_of)
            .where(mt.c.as_of <= as_of)
            .distinct()
            .order_by(mt.c.as_of.desc())
            .limit(runs)
        )
    ][::-1]


def _legal_reps(conn: sa.Connection, regs: Iterable[str], as_of: dt.date) -> dict[str, str]:
    regs = sorted(set(regs))
    if not regs:
        return {}
    ms = manager_snapshots
    rows = conn.execute(
        sa.select(ms.c.register_no, ms.c.artificial_person_name)
        .where(ms.c.register_no.in_(regs), ms.c.known_from <= as_of)
        .order_by(ms.c.register_no, ms.c.known_from, ms.c.id)
    )
    out: dict[str, str] = {}
    for reg, name in rows:
        if name:
            out[reg] = str(name)  # the latest known wins
    return out


def _trends(
    conn: sa.Connection, regs: Iterable[str], as_of: dt.date, runs: int
) -> dict[str, tuple[float, ...]]:
    regs = sorted(set(regs))
    if not regs:
        return {}
    mt = manager_tiers
    rows = conn.execute(
        sa.select(mt.c.register_no, mt.c.score)
        .where(
            mt.c.register_no.in_(regs),
            mt.c.as_of <= as_of,
            mt.c.as_of > as_of - dt.timedelta(days=max(runs * 31, 62)),
        )
        .order_by(mt.c.register_no, mt.c.as_of)
    )
    series: dict[str, list[float]] = defaultdict(list)
    for reg, score in rows:
        series[reg].append(round(float(score), 1))
    return {reg: tuple(v[-runs:]) for reg, v in series.items()}


def _reach(sub: Subscription) -> tuple[frozenset[str] | None, str | None]:
    """The districts (None: any) and the city (None: the whole district) the reads of ``sub``'s
    digest are narrowed to: none for the catch-all (its alert ids decide) and ``digest --to``
    (everywhere)."""
    if sub.alert_ids is not None or sub.everywhere:
        return None, None
    return sub.districts or None, sub.city_filter


def _chart(
    conn: sa.Connection, sub: Subscription, as_of: dt.date, runs: int, address: RoutingAddress
) -> list[TierCounts]:
    dates = select_chart_dates(conn, as_of, runs)
    districts, city = _reach(sub)
    rows = digest_tier_rows(
        conn, dates, as_of=as_of, districts=districts, city=city, address=address
    )
    return tier_counts(rows, dates)


def _facts(row: Mapping[str, Any]) -> AlertFacts:
    return AlertFacts(int(row["id"]), row["tier"], row["opened_as_of"], row["closed_as_of"])


def _escalations(
    conn: sa.Connection, ids: Sequence[int], start: dt.date, end: dt.date
) -> list[Escalation]:
    """The ``escalate`` audit rows of alerts ``ids`` in ``start..end``, in audit order."""
    if not ids:
        return []
    ev = alert_events
    rows = conn.execute(
        sa.select(ev.c.alert_id, ev.c.as_of, ev.c.from_tier, ev.c.to_tier)
        .where(
            ev.c.alert_id.in_(ids),
            ev.c.action == "escalate",
            ev.c.as_of >= start,
            ev.c.as_of <= end,
        )
        .order_by(ev.c.id)
    )
    return [Escalation(int(i), d, f, t) for i, d, f, t in rows]


def _reasons(raw: Any, language: str, names: list[str], top: int) -> tuple[Reason, ...]:
    other = "en" if language == "zh" else "zh"
    out = []
    for r in (raw or [])[:top]:
        if not isinstance(r, Mapping):
            continue
        text = str(r.get(language) or r.get(other) or r.get("code") or "")
        sev = r.get("severity")
        out.append(
            Reason(
                code=str(r.get("code") or ""),
                text=mask_in_text(text, names),
                severity=float(sev) if isinstance(sev, int | float) else None,
            )
        )
    return tuple(out)


def collect_digest(
    conn: sa.Connection,
    sub: Subscription,
    *,
    as_of: dt.date,
    cadence: str,
    period: tuple[dt.date, dt.date, str],
    policy: TierPolicy,
    address: RoutingAddress = "registered",
) -> DigestData:
    """The digest of ``sub`` for ``period`` (start, end, key), with sections new, escalated,
    still open and resolved. Only managers of the subscriber's jurisdiction (placed by
    ``address`` on the period's end, in SQL: :func:`watchtower.warn.queries.digest_alerts`)
    at or above its minimum tier (``immediate``: red only, new or escalated) are included;
    the catch-all digest (``sub.alert_ids``) has exactly its alerts. The sections are
    decided over the rows read (:func:`~watchtower.digest.select.place_alerts`)."""
    start, end, key = period
    min_tier = shown_min_tier(cadence, sub.min_tier)
    districts, city = _reach(sub)
    # every rule of the selection is a WHERE clause of the one read (see digest_alerts)
    rows = digest_alerts(
        conn,
        start=start,
        end=end,
        min_tier=min_tier,
        districts=districts,
        city=city,
        alert_ids=sub.alert_ids,
        address=address,
    )
    facts = [_facts(r) for r in rows]
    by_id = {f.id: r for f, r in zip(facts, rows, strict=True)}
    escalated_from = first_escalations(
        _escalations(conn, list(by_id), start, end), start, end, cadence
    )
    placements = place_alerts(facts, escalated_from, start, end, cadence)
    regs = [r["register_no"] for r in rows]
    reps = _legal_reps(conn, regs, end)
    trends = _trends(conn, regs, end, policy.trend_runs)
    sections: dict[str, list[DigestAlert]] = {
        k: [] for k in ("new", "escalated", "open", "resolved")
    }
    for p in placements:
        r = by_id[p.alert_id]
        closed_in_period = p.closed_in_period
        rep = reps.get(r["register_no"], "")
        names = [rep] if rep else []
        sections[p.section].append(
            DigestAlert(
                alert_id=int(r["id"]),
                register_no=r["register_no"],
                manager_name=mask_in_text(str(r["manager_name"] or ""), names),
                legal_rep=mask_name(rep),
                province=str(r["province"] or ""),
                city=str(r["city"] or ""),
                tier=r["tier"],
                previous_tier=p.previous_tier,
                score=round(float(r["score"]), 1),
                trend=trends.get(r["register_no"], (round(float(r["score"]), 1),)),
                reasons=_reasons(r["reasons"], sub.language, names, policy.top_reasons),
                status=r["status"] if not closed_in_period else "closed",
                opened_as_of=r["opened_as_of"],
                resolution=r["resolution"] if closed_in_period else None,
                closed_as_of=r["closed_as_of"] if closed_in_period else None,
                jurisdiction=r["jurisdiction"],
                snoozed_until=(
                    r["snoozed_until"]
                    if not closed_in_period and asleep(r["snoozed_until"], end)
                    else None
                ),
                probability_12m=finite_float(r["probability_12m"]),
            )
        )
    for items in sections.values():
        items.sort(key=lambda a: (-rank(a.tier), -a.score, a.register_no))
    return DigestData(
        recipient=sub.recipient,
        recipient_name=sub.name,
        language=sub.language,
        cadence=cadence,
        jurisdiction=sub.jurisdiction,
        min_tier=min_tier,
        as_of=as_of,
        period_start=start,
        period_end=end,
        period_key=key,
        sections=sections,
        chart=_chart(conn, sub, end, policy.chart_runs, address),
        open_total=len(sections["open"]),
        subscription_key=sub.key,
    )
