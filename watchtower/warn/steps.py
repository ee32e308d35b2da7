"""The warn step: today's risk_scores -> tiers (with hysteresis) -> alert lifecycle.

Reads, then decides (:mod:`watchtower.warn.decide`), then writes, in one write transaction."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from watchtower.config import ConfigError
from watchtower.store.alerts import alerts, manager_tiers
from watchtower.store.scoring import risk_scores
from watchtower.warn._txn import write_transaction
from watchtower.warn.decide import DayTiers, ScoredManager, StoredTier, TierRow, decide_day_tiers
from watchtower.warn.lifecycle import apply_signals
from watchtower.warn.policy import TierPolicy
from watchtower.warn.tiers import PreviousTier

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
    #: how the day's thresholds were found (models/tiers.yaml ``basis``) and what they were
    #: (None: no score reached the tier that day)
    basis: str = "score"
    thresholds: dict[str, float | None] = field(default_factory=dict)
    note: str = ""


class WarnOrderError(ConfigError):
    """A day earlier than the last warned day, outside backfill mode."""


_TIER_FIELDS = ("score", "raw_tier", "floor_tier", "tier", "down_streak")
_SCORE_FIELDS = (
    "register_no",
    "manager_name",
    "province",
    "city",
    "score",
    "rule_hits",
    "reasons",
    "probability_12m",
)


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


def _scores(conn: sa.Connection, as_of: dt.date) -> list[ScoredManager]:
    """The day's ``risk_scores``, in register-number order (new alerts get ids in it)."""
    t = risk_scores
    rows = conn.execute(
        sa.select(*(t.c[n] for n in _SCORE_FIELDS))
        .where(t.c.as_of == as_of)
        .order_by(t.c.register_no)
    )
    return [
        ScoredManager(
            reg,
            name,
            prov,
            city,
            float(score),
            hits or (),
            reasons or (),
            None if prob is None else float(prob),
        )
        for reg, name, prov, city, score, hits, reasons, prob in rows
    ]


def _stored(conn: sa.Connection, as_of: dt.date) -> dict[str, StoredTier]:
    """The day's ``manager_tiers`` rows an earlier run wrote."""
    mt = manager_tiers
    rows = conn.execute(
        sa.select(mt.c.register_no, mt.c.id, *(mt.c[f] for f in _TIER_FIELDS)).where(
            mt.c.as_of == as_of
        )
    )
    return {reg: StoredTier(*rest) for reg, *rest in rows}


def _tier_values(row: TierRow) -> dict[str, Any]:
    return dict(
        register_no=row.register_no,
        manager_name=row.manager_name,
        province=row.province,
        city=row.city,
        score=row.score,
        raw_tier=row.raw_tier,
        floor_tier=row.floor_tier,
        tier=row.tier,
        down_streak=row.down_streak,
    )


def _write_tiers(
    conn: sa.Connection, as_of: dt.date, day: DayTiers, policy: TierPolicy, now: dt.datetime
) -> None:
    """Insert the day's new tier rows and revise the changed ones, in bulk."""
    mt = manager_tiers
    if day.new:
        conn.execute(
            mt.insert(),
            [
                {
                    **_tier_values(r),
                    "as_of": as_of,
                    "policy_version": policy.version,
                    "created_at": now,
                }
                for r in day.new
            ],
        )
    if day.revised:
        conn.execute(
            mt.update()
            .where(mt.c.id == sa.bindparam("_id"))
            .values({f: sa.bindparam(f) for f in (*_TIER_FIELDS, "policy_version")}),
            [
                {
                    "_id": r.id,
                    **{f: getattr(r.row, f) for f in _TIER_FIELDS},
                    "policy_version": policy.version,
                }
                for r in day.revised
            ],
        )


def _plain_thresholds(day: DayTiers) -> dict[str, float | None]:
    """The day's thresholds for the summary (JSON has no infinity: an unreachable one is None)."""
    if day.thresholds is None:
        return {}
    return {
        t: (round(v, 3) if math.isfinite(v) else None) for t, v in day.thresholds.thresholds.items()
    }


def _warn_once(
    conn: sa.Connection, as_of: dt.date, policy: TierPolicy, now: dt.datetime
) -> WarnSummary:
    """Read the day, decide its tiers (:func:`~watchtower.warn.decide.decide_day_tiers`),
    write them, then let the alert lifecycle turn them into alert changes."""
    scores = _scores(conn, as_of)
    day = decide_day_tiers(scores, _stored(conn, as_of), _previous(conn, as_of), policy)
    _write_tiers(conn, as_of, day, policy, now)
    counts = apply_signals(conn, as_of, day.signals, policy, now)
    open_alerts = conn.execute(
        sa.select(sa.func.count()).select_from(alerts).where(alerts.c.open_key.is_not(None))
    ).scalar_one()
    return WarnSummary(
        as_of=as_of,
        scored=len(scores),
        tiers=day.tier_counts,
        held=day.held,
        opened=counts.opened,
        escalated=counts.escalated,
        deescalated=counts.deescalated,
        auto_resolved=counts.auto_resolved,
        open_alerts=int(open_alerts),
        policy_version=policy.version,
        rerun=day.rerun,
        revised=len(day.revised),
        basis=day.thresholds.applied if day.thresholds else policy.basis,
        thresholds=_plain_thresholds(day),
        note=day.thresholds.note if day.thresholds else "",
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
