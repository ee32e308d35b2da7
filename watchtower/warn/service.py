"""Service levels per tier (``models/service_levels.yaml``) and when an alert is overdue.

The rule is decided once, on plain data, by :func:`overdue`; :func:`overdue_condition` is the
same rule as a SQL condition, so the queue can keep only overdue alerts in the query
(``tests/warn/test_service.py`` holds the two equal on a grid of cases). Days are calendar
days of the as-of day the caller gets from its clock:

- an alert that is closed is never overdue;
- one opened on day O is **overdue to close** on day D when ``D - O > close_days`` of its
  current tier;
- else it is **overdue to acknowledge** when ``D - O > acknowledge_days`` and nobody has
  taken it up by the end of D: no person's ``acknowledge``, ``investigate``, ``close`` or
  ``reopen`` in its audit trail (:data:`ACK_ACTIONS`; a case may skip acknowledging).

O is the day the alert was raised in the store (``opened_at``), not its data day
(``opened_as_of``): a replayed history opens alerts with old data days that nobody could
have answered then.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from watchtower.config import ConfigError
from watchtower.store.alerts import TIERS, alert_events, alerts
from watchtower.warn.policy import read_yaml_file

__all__ = [
    "ACK_ACTIONS",
    "OVERDUE_KINDS",
    "Overdue",
    "ServiceLevel",
    "ServiceLevelError",
    "ServiceLevels",
    "acknowledged_at_column",
    "load_service_levels",
    "overdue",
    "overdue_condition",
]

#: What a person does that takes an alert up (the first of them is when it was acknowledged).
ACK_ACTIONS: tuple[str, ...] = ("acknowledge", "investigate", "close", "reopen")
Overdue = Literal["acknowledge", "close"]
#: The kinds of overdue, the more pressing first.
OVERDUE_KINDS: tuple[Overdue, ...] = ("close", "acknowledge")
_FILE = "service_levels.yaml"
_TIER_KEYS = ("acknowledge_days", "close_days")


class ServiceLevelError(ConfigError):
    """``models/service_levels.yaml`` is missing or malformed; the message names the file."""


@dataclass(frozen=True)
class ServiceLevel:
    """One tier's days to acknowledge and to close."""

    acknowledge_days: int
    close_days: int


@dataclass(frozen=True)
class ServiceLevels:
    """The service level of every tier (see models/service_levels.yaml)."""

    tiers: Mapping[str, ServiceLevel]

    def of(self, tier: str) -> ServiceLevel:
        return self.tiers[tier]


def _days(path: Path, tier: str, key: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ServiceLevelError(f"{path}: tiers.{tier}.{key} must be a whole number of days >= 0")
    return value


def _level(path: Path, tier: str, part: object) -> ServiceLevel:
    if not isinstance(part, Mapping):
        raise ServiceLevelError(
            f"{path}: tiers.{tier} must be a mapping of {', '.join(_TIER_KEYS)}"
        )
    unknown = sorted(str(k) for k in set(part) - set(_TIER_KEYS))
    if unknown:
        raise ServiceLevelError(
            f"{path}: unknown key(s) {unknown} in tiers.{tier}; allowed: {', '.join(_TIER_KEYS)}"
        )
    missing = [k for k in _TIER_KEYS if k not in part]
    if missing:
        raise ServiceLevelError(f"{path}: tiers.{tier} lacks {', '.join(missing)}")
    ack, close = (_days(path, tier, k, part[k]) for k in _TIER_KEYS)
    if close < ack:
        raise ServiceLevelError(
            f"{path}: tiers.{tier}: close_days ({close}) is sooner than acknowledge_days ({ack})"
        )
    return ServiceLevel(ack, close)


def _read(path: Path) -> Any:
    return read_yaml_file(path, ServiceLevelError, "service levels")


def load_service_levels(models_dir: Path) -> ServiceLevels:
    """Read and check ``models_dir/service_levels.yaml``: the one reader of that file."""
    path = models_dir / _FILE
    data = _read(path)
    if not isinstance(data, Mapping):
        raise ServiceLevelError(f"{path}: expected a mapping with the key 'tiers'")
    unknown = sorted(str(k) for k in set(data) - {"tiers"})
    if unknown:
        raise ServiceLevelError(
            f"{path}: unknown key(s) {unknown} in the top level; allowed: tiers"
        )
    tiers = data.get("tiers")
    if not isinstance(tiers, Mapping):
        raise ServiceLevelError(f"{path}: 'tiers' must map each tier to its days")
    strange = sorted(str(k) for k in set(tiers) - set(TIERS))
    if strange:
        raise ServiceLevelError(f"{path}: unknown tier(s) {strange}; tiers are {', '.join(TIERS)}")
    missing = [t for t in TIERS if t not in tiers]
    if missing:
        raise ServiceLevelError(f"{path}: no service level for tier(s) {', '.join(missing)}")
    return ServiceLevels({t: _level(path, t, tiers[t]) for t in TIERS})


def overdue(
    *,
    tier: str,
    status: str,
    opened_at: dt.datetime,
    acknowledged_at: dt.datetime | None,
    levels: ServiceLevels,
    as_of: dt.date,
) -> Overdue | None:
    """Whether an alert is overdue on ``as_of``: ``"close"``, ``"acknowledge"`` or None (see
    the module's docstring). ``acknowledged_at``: when a person first took it up (None:
    never); a time after ``as_of`` does not count yet."""
    if status == "closed":
        return None
    level = levels.of(tier)
    elapsed = (as_of - opened_at.date()).days
    if elapsed > level.close_days:
        return "close"
    taken_up = acknowledged_at is not None and acknowledged_at.date() <= as_of
    if elapsed > level.acknowledge_days and not taken_up:
        return "acknowledge"
    return None


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _opened_before(levels: ServiceLevels, as_of: dt.date, key: str) -> sa.ColumnElement[bool]:
    """The alert's tier allows ``key`` days and more than that have passed since its opening
    day: ``opened_at`` before the first moment of ``as_of - days`` (portable: no date
    arithmetic in SQL)."""
    return sa.or_(
        *(
            sa.and_(
                alerts.c.tier == tier,
                alerts.c.opened_at < _midnight(as_of - dt.timedelta(days=getattr(level, key))),
            )
            for tier, level in levels.tiers.items()
        )
    )


def _taken_up_by(as_of: dt.date) -> sa.ColumnElement[bool]:
    return sa.exists().where(
        alert_events.c.alert_id == alerts.c.id,
        alert_events.c.action.in_(ACK_ACTIONS),
        alert_events.c.at < _midnight(as_of + dt.timedelta(days=1)),
    )


def overdue_condition(
    levels: ServiceLevels, as_of: dt.date, kind: Overdue | None = None
) -> sa.ColumnElement[bool]:
    """:func:`overdue` as a WHERE condition on ``alerts``: the alert is overdue on ``as_of``
    (``kind``: only overdue to close, or only overdue to acknowledge; None: either)."""
    open_ = alerts.c.status != "closed"
    late_close = _opened_before(levels, as_of, "close_days")
    late_ack = sa.and_(_opened_before(levels, as_of, "acknowledge_days"), ~_taken_up_by(as_of))
    if kind == "close":
        return sa.and_(open_, late_close)
    if kind == "acknowledge":
        return sa.and_(open_, ~late_close, late_ack)
    return sa.and_(open_, sa.or_(late_close, late_ack))


def acknowledged_at_column() -> sa.ScalarSelect[Any]:
    """When a person first took the alert up (None: never), for a select of ``alerts``."""
    return (
        sa.select(sa.func.min(alert_events.c.at))
        .where(alert_events.c.alert_id == alerts.c.id, alert_events.c.action.in_(ACK_ACTIONS))
        .scalar_subquery()
    )
