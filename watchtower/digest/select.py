"""Which alerts a digest shows and in which section, as pure functions over plain data.

The selection rule, stated over plain data (the store read,
:func:`watchtower.warn.queries.digest_alerts`, applies it as WHERE clauses; the tests hold the
two equal):

- an alert is shown when it was open at some time in the period and its tier reaches the
  digest's minimum (immediate digests: red only);
- its section: ``resolved`` when closed in the period, else ``new`` when opened in it, else
  ``escalated`` when it went up in it (immediate digests: up to red), else ``open``;
  immediate digests show only new and escalated alerts;
- an escalated alert shows the tier it had before its first escalation in the period.

Records are named tuples: one is built per alert for each subscriber's digest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import NamedTuple

from watchtower.digest.model import TierCounts
from watchtower.store.alerts import TIERS
from watchtower.warn.policy import rank

__all__ = [
    "AlertFacts",
    "Escalation",
    "Placement",
    "first_escalations",
    "place_alerts",
    "shown",
    "shown_min_tier",
    "tier_counts",
]


class AlertFacts(NamedTuple):
    """What the selection reads of an alert."""

    id: int
    tier: str
    opened_as_of: dt.date
    closed_as_of: dt.date | None


class Escalation(NamedTuple):
    """One ``escalate`` audit row of an alert (given in audit order)."""

    alert_id: int
    as_of: dt.date
    from_tier: str | None
    to_tier: str | None


class Placement(NamedTuple):
    """Where a digest shows alert ``alert_id``: its ``section``, the tier it had before the
    escalation shown (``previous_tier``) and whether it closed in the period."""

    alert_id: int
    section: str
    previous_tier: str | None
    closed_in_period: bool


def shown_min_tier(cadence: str, min_tier: str) -> str:
    """The lowest tier a digest of ``cadence`` for a subscriber of ``min_tier`` shows."""
    return "red" if cadence == "immediate" else min_tier


def shown(alert: AlertFacts, start: dt.date, end: dt.date, min_tier: str) -> bool:
    """True when ``alert`` was open at some time in ``start..end`` at ``min_tier`` or above."""
    closed = alert.closed_as_of
    return (
        alert.opened_as_of <= end
        and (closed is None or closed >= start)
        and rank(alert.tier) >= rank(min_tier)
    )


def first_escalations(
    escalations: Iterable[Escalation], start: dt.date, end: dt.date, cadence: str
) -> dict[int, str | None]:
    """alert id -> the tier before its first escalation in ``start..end`` (immediate digests:
    escalations to red only)."""
    out: dict[int, str | None] = {}
    for e in escalations:
        if not start <= e.as_of <= end or (cadence == "immediate" and e.to_tier != "red"):
            continue
        out.setdefault(e.alert_id, e.from_tier)
    return out


def place_alerts(
    alerts: Iterable[AlertFacts],
    escalated_from: Mapping[int, str | None],
    start: dt.date,
    end: dt.date,
    cadence: str,
) -> list[Placement]:
    """The section of each of ``alerts`` (in their order; immediate digests drop the open and
    resolved ones), given :func:`first_escalations` of the period."""
    out: list[Placement] = []
    for a in alerts:
        closed_in_period = a.closed_as_of is not None and start <= a.closed_as_of <= end
        if closed_in_period:
            section = "resolved"
        elif a.opened_as_of >= start:
            section = "new"
        elif a.id in escalated_from:
            section = "escalated"
        else:
            section = "open"
        if cadence == "immediate" and section not in ("new", "escalated"):
            continue
        out.append(Placement(a.id, section, escalated_from.get(a.id), closed_in_period))
    return out


def tier_counts(
    rows: Iterable[tuple[dt.date, str, str | None]],
    dates: Sequence[dt.date],
    covers: Callable[[str], bool] | None = None,
) -> list[TierCounts]:
    """The chart: managers per tier on each of ``dates`` among ``rows`` (day, register
    number, tier) whose manager the digest ``covers`` (None: every row, as read for the
    digest's reach by :func:`watchtower.warn.queries.digest_tier_rows`)."""
    counts: dict[dt.date, dict[str, int]] = {d: dict.fromkeys(TIERS, 0) for d in dates}
    for d, reg, tier in rows:
        if tier is not None and tier in TIERS and d in counts and (covers is None or covers(reg)):
            counts[d][tier] += 1
    return [TierCounts(d, counts[d]) for d in dates]
