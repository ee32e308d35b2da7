"""The warn step: today's risk_scores -> tiers (with hysteresis) -> alert lifecycle."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from watchtower.config import ConfigError
from watchtower.store.alerts import TIERS, alerts, manager_tiers
from watchtower.store.scoring import risk_scores
from watchtower.warn._txn import write_transaction
from watchtower.warn.lifecycle import Signal, apply_signals
from watchtower.warn.policy import TierPolicy
from watchtower.warn.tiers import PreviousTier, assign_tier

_RETRIES = 5


@dataclass(frozen=True)
class WarnSummary:
    """Outcome of ``warn`` for one as-of day. ``tiers``: managers per tier today;
    ``held``: managers hysteresis kept above today's candidate tier."""

    as_of: dt.date
    scored: int
    tiers: dict[str, int] = field(default_factory=dict)
    held: int = 0
    opened: int = 0
    escalated: int = 0
    deescalated: int = 0
    auto_resolved: int = 0
    open_alerts: int = 0
    policy_version: str = ""
    rerun: bool = False  # tiers for this day existed already and none changed
    revised: int = 0  # managers whose tier row for this day changed (their scores did)


class WarnOrderError(ConfigError):
    """A day earlier than the last warned day, outside backfill mode."""


_TIER_FIELDS = ("score", "raw_tier", "floor_tier", "tier", "down_streak")


def _previous(conn: sa.Connection, as_of: dt.date) -> dict[str, PreviousTier]:
    latest = (
        sa.select(manager_tiers.c.register_no, sa.func.max(manager_tiers.c.as_of).label("d"))
        .where(manager_tiers.c.as_of < as_of)
        .group_by(manager_tiers.c.register_no)
        .subquery()
    )
    rows = conn.execute(
        sa.select(
            manager_tiers.c.register_no, manager_tiers.c.tier, manager_tiers.c.down_streak
        ).join(
            latest,
            sa.and_(
                latest.c.register_no == manager_tiers.c.register_no,
                latest.c.d == manager_tiers.c.as_of,
            ),
        )
    )
    return {reg: PreviousTier(tier, streak or 0) for reg, tier, streak in rows}


def _warn_once(
    conn: sa.Connection, as_of: dt.date, policy: TierPolicy, now: dt.datetime
) -> WarnSummary:
    t = risk_scores
    names = ("register_no", "manager_name", "province", "city", "score", "rule_hits", "reasons")
    scores = [dict(zip(names, r, strict=True)) for r in conn.execute(
        sa.select(*(t.c[n] for n in names)).where(t.c.as_of == as_of).order_by(t.c.register_no)
    )]  # fmt: skip
    mt = manager_tiers
    done = {
        r["register_no"]: dict(r)
        for r in conn.execute(
            sa.select(mt.c.id, mt.c.register_no, *(mt.c[f] for f in _TIER_FIELDS)).where(
                mt.c.as_of == as_of
            )
        ).mappings()
    }
    # Decided again on every run, from the same inputs the first run had: a day re-run after
    # a correction changed its scores gets the tiers the corrected scores call for; an
    # unchanged day gets the same tiers and writes nothing.
    previous = _previous(conn, as_of)
    new_rows: list[dict[str, Any]] = []
    changed_rows: list[dict[str, Any]] = []
    signals: list[Signal] = []
    held = 0
    tier_counts = dict.fromkeys(TIERS, 0)
    for s in scores:
        reg = s["register_no"]
        decision = assign_tier(
            float(s["score"]), s["rule_hits"] or [], s["reasons"] or [],
            previous.get(reg), policy,
        )  # fmt: skip
        tier = decision.tier
        held += decision.held
        row = dict(
            as_of=as_of,
            register_no=reg,
            manager_name=s["manager_name"],
            province=s["province"],
            city=s["city"],
            score=float(s["score"]),
            raw_tier=decision.raw_tier,
            floor_tier=decision.floor_tier,
            tier=tier,
            down_streak=decision.down_streak,
            policy_version=policy.version,
            created_at=now,
        )
        stored = done.get(reg)
        if stored is None:
            new_rows.append(row)
        elif any(stored[f] != row[f] for f in _TIER_FIELDS):
            changed_rows.append({**row, "_id": stored["id"]})
        if tier:
            tier_counts[tier] += 1
        signals.append(
            Signal(
                register_no=reg,
                manager_name=s["manager_name"],
                province=s["province"],
                city=s["city"],
                score=float(s["score"]),
                tier=tier,
                rule_hits=list(s["rule_hits"] or []),
                reasons=list(s["reasons"] or []),
            )
        )
    if new_rows:
        conn.execute(manager_tiers.insert(), new_rows)
    if changed_rows:
        conn.execute(
            mt.update()
            .where(mt.c.id == sa.bindparam("_id"))
            .values({f: sa.bindparam(f) for f in (*_TIER_FIELDS, "policy_version")}),
            [{k: r[k] for k in ("_id", *_TIER_FIELDS, "policy_version")} for r in changed_rows],
        )
    counts = apply_signals(conn, as_of, signals, policy, now)
    open_alerts = conn.execute(
        sa.select(sa.func.count()).select_from(alerts).where(alerts.c.open_key.is_not(None))
    ).scalar_one()
    return WarnSummary(
        as_of=as_of,
        scored=len(scores),
        tiers=tier_counts,
        held=held,
        opened=counts.opened,
        escalated=counts.escalated,
        deescalated=counts.deescalated,
        auto_resolved=counts.auto_resolved,
        open_alerts=int(open_alerts),
        policy_version=policy.version,
        rerun=bool(done) and not new_rows and not changed_rows,
        revised=len(changed_rows),
    )


def check_day_order(last_warned: dt.date | None, as_of: dt.date, *, backfill: bool) -> None:
    """Warnings move forward in time: a day before the last warned day would judge alerts
    opened later by an older day's scores. Allowed only in backfill mode (said explicitly)."""
    if not backfill and last_warned is not None and as_of < last_warned:
        raise WarnOrderError(
            f"--as-of {as_of} is before the last warned day {last_warned}: warn days in order "
            "(a re-run of the last day is fine), or pass --backfill to replay older days "
            "on purpose"
        )


def run_warn(
    engine: sa.Engine,
    as_of: dt.date,
    policy: TierPolicy,
    now: dt.datetime,
    *,
    backfill: bool = False,
) -> WarnSummary:
    """Tier every manager scored on ``as_of`` and update alerts, in one transaction.

    ``as_of`` may not be earlier than the last warned day unless ``backfill``
    (:func:`check_day_order`). A re-run of a day whose scores changed (a correction known by
    that day) revises its tiers, and the alert lifecycle turns the change into alerts.

    Safe to run twice or concurrently for the same day: the second run sees the first's
    ``manager_tiers`` rows and open alerts and changes nothing. Should two runs race past
    each other, the database's unique keys (one open alert a manager, one tier row a manager
    a day) make the loser fail and retry against the winner's rows.
    """
    for attempt in range(_RETRIES):
        try:
            with write_transaction(engine) as conn:
                last = conn.execute(sa.select(sa.func.max(manager_tiers.c.as_of))).scalar()
                check_day_order(last, as_of, backfill=backfill)
                return _warn_once(conn, as_of, policy, now)
        except sa.exc.IntegrityError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
