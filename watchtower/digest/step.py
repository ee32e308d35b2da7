"""The digest step: per subscription and period, collect -> render -> outbox (-> send)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from watchtower.digest.collect import collect_digest, period_for
from watchtower.digest.outbox import SendResult, already_queued, enqueue, send_pending
from watchtower.digest.render import render_digest
from watchtower.digest.send import Mailer
from watchtower.warn.policy import TierPolicy
from watchtower.warn.routing import Delivery, Subscription


@dataclass(frozen=True)
class DigestSummary:
    """Outcome of one digest run. ``rendered``: new digests queued in the outbox (their HTML
    files in ``html_paths``); ``already_queued``: (recipient, period) done by an earlier run;
    ``nothing_new``: subscribers with nothing to report; ``not_due``: weekly subscribers on
    another weekday; ``sent`` / ``retry_later`` / ``failed``: delivery, when sending."""

    as_of: dt.date
    cadence: str | None
    rendered: int = 0
    already_queued: int = 0
    nothing_new: int = 0
    not_due: int = 0
    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    html_paths: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SendSummary:
    """Outcome of sending the outbox: digests sent, kept for a retry, given up on."""

    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    pending_before: int = 0
    errors: list[str] = field(default_factory=list)


def adhoc_subscription(
    to: str, *, cadence: str = "daily", language: str = "zh", min_tier: str = "blue"
) -> Subscription:
    """A one-off subscription covering every jurisdiction (``digest --to ADDRESS``)."""
    return Subscription(
        recipient=to,
        min_tier=min_tier,
        cadence=cadence,  # type: ignore[arg-type]
        language=language,
        everywhere=True,
    )


def run_digest(
    engine: sa.Engine,
    *,
    as_of: dt.date,
    subscriptions: Sequence[Subscription],
    policy: TierPolicy,
    outbox_dir: Path,
    mail_from: str,
    now: dt.datetime,
    cadence: str | None = None,
    adhoc: bool = False,
) -> DigestSummary:
    """Queue the digests due on ``as_of`` for ``subscriptions`` (only those of ``cadence``
    when given). Ad-hoc digests (``adhoc``) are always rendered, whatever the weekday and
    even when nothing is new; their period keys start with ``adhoc-``."""
    out_dir = outbox_dir
    rendered = queued = nothing = not_due = 0
    paths: list[str] = []
    for sub in subscriptions:
        if cadence and sub.cadence != cadence and not adhoc:
            continue
        period = period_for(sub.cadence, as_of, sub.weekday, force=adhoc)
        if period is None:
            not_due += 1
            continue
        if adhoc:
            period = (period[0], period[1], f"adhoc-{period[2]}")
        with engine.connect() as conn:
            if already_queued(conn, sub.recipient, period[2]):
                queued += 1
                continue
            data = collect_digest(
                conn, sub, as_of=as_of, cadence=sub.cadence, period=period, policy=policy
            )
        worth_sending = data.is_news or (sub.cadence == "weekly" and data.alert_count > 0)
        if not adhoc and not worth_sending:
            nothing += 1
            continue
        html = enqueue(engine, out_dir, data, render_digest(data), mail_from, now)
        if html is None:
            queued += 1
        else:
            rendered += 1
            paths.append(str(html))
    return DigestSummary(
        as_of=as_of,
        cadence=cadence,
        rendered=rendered,
        already_queued=queued,
        nothing_new=nothing,
        not_due=not_due,
        html_paths=paths,
    )


def deliver(
    engine: sa.Engine,
    mailer: Mailer,
    mail_from: str,
    delivery: Delivery,
    now: dt.datetime,
    recipient: str | None = None,
) -> SendResult:
    """Send what the outbox holds (only ``recipient``'s when given); see
    :func:`watchtower.digest.outbox.send_pending`."""
    return send_pending(engine, mailer, mail_from, delivery, now, recipient=recipient)
