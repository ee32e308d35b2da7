"""What a digest shows, as plain data: built from the store by ``collect``, turned into
HTML/text/CSV by ``render`` (which never touches the database)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

#: Section keys in display order.
SECTIONS: tuple[str, ...] = ("new", "escalated", "open", "resolved")


@dataclass(frozen=True)
class Reason:
    code: str
    text: str  # in the digest's language, personal names already masked
    severity: float | None = None


@dataclass(frozen=True)
class DigestAlert:
    """One alert as a supervisor sees it. Names of persons are masked before they get here."""

    alert_id: int
    register_no: str
    manager_name: str
    legal_rep: str  # masked, '' when unknown
    province: str
    city: str
    tier: str
    previous_tier: str | None  # before the escalation shown (escalated section)
    score: float
    trend: tuple[float, ...]  # recent run scores, oldest first, ending today
    reasons: tuple[Reason, ...]
    status: str
    opened_as_of: dt.date
    resolution: str | None = None
    closed_as_of: dt.date | None = None
    #: The manager's district as routing places it (None: no known district).
    jurisdiction: str | None = None
    #: A person snoozed it past the period's end (still open, quiet in the console's queue).
    snoozed_until: dt.date | None = None
    #: The calibrated probability of an incident within 12 months beside the score (None:
    #: too few past labels to calibrate).
    probability_12m: float | None = None


@dataclass(frozen=True)
class TierCounts:
    as_of: dt.date
    counts: dict[str, int]  # tier -> managers


@dataclass(frozen=True)
class DigestData:
    """Everything one digest mail shows. ``sections`` maps SECTIONS keys to alerts;
    ``open_total`` counts every still-open alert, of which only ``open_shown`` are listed."""

    recipient: str
    recipient_name: str | None
    language: str  # zh | en
    cadence: str  # immediate | daily | weekly
    jurisdiction: str  # 广东/广州, * for everywhere
    min_tier: str
    as_of: dt.date
    period_start: dt.date
    period_end: dt.date
    period_key: str
    sections: dict[str, list[DigestAlert]] = field(default_factory=dict)
    chart: list[TierCounts] = field(default_factory=list)
    open_total: int = 0
    #: The subscription's identity in the outbox (see Subscription.key).
    subscription_key: str = ""
    #: WATCHTOWER_CONSOLE_URL: each alert links to <console_url>/alerts/<id>; None: no links.
    console_url: str | None = None

    @property
    def alert_count(self) -> int:
        return sum(len(v) for v in self.sections.values())

    @property
    def is_news(self) -> bool:
        """True when something happened in the period (new, escalated or resolved)."""
        return any(self.sections.get(k) for k in ("new", "escalated", "resolved"))


@dataclass(frozen=True)
class RenderedDigest:
    subject: str
    html: str
    text: str
    csv: bytes  # UTF-8 with BOM, so spreadsheet software reads the Chinese right
    csv_name: str
