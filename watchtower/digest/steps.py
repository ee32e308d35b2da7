"""The digest step: per subscription and period, collect -> render -> outbox (-> send)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import sqlalchemy as sa

from watchtower.config import RoutingAddress
from watchtower.digest.collect import collect_digest, period_for
from watchtower.digest.outbox import already_queued, enqueue, send_pending
from watchtower.digest.problems import delivery_problems
from watchtower.digest.push import PushResult, Sleep, queue_pushes, send_pushes
from watchtower.digest.queries import pending_count
from watchtower.digest.render import render_digest
from watchtower.digest.send import Mailer
from watchtower.digest.webhook import Poster
from watchtower.warn.policy import TierPolicy
from watchtower.warn.queries import unrouted_alert_ids
from watchtower.warn.routing import Delivery, Subscription, Webhook, catch_all_subscription


@dataclass(frozen=True)
class DigestSummary:
    """Outcome of one digest run. ``rendered``: new digests queued in the outbox (their HTML
    files in ``html_paths``, their recipients in ``queued_for``); ``already_queued``: done by
    an earlier run; ``nothing_new``: subscribers with nothing to report; ``not_due``: weekly
    subscribers on another weekday; ``unrouted_ids``: open alerts no subscriber receives (sent
    to ``catch_all`` when set); ``requeued``: given-up digests queued again
    (``--retry-failed``); ``sent`` / ``retry_later`` / ``failed``: delivery, when sending,
    ``failed_total`` / ``failed_ids``: digests of the outbox given up and not queued again;
    ``pushes_queued``: red alerts newly queued for the webhooks, ``pushed`` /
    ``push_retry_later`` / ``push_failed_ids`` their delivery, when sending;
    ``problems``: one line each for what needs a person (the command fails while any)."""

    as_of: dt.date
    cadence: str | None
    rendered: int = 0
    already_queued: int = 0
    nothing_new: int = 0
    not_due: int = 0
    unrouted: int = 0
    unrouted_ids: list[int] = field(default_factory=list)
    catch_all: str | None = None
    requeued: int = 0
    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    failed_total: int = 0
    failed_ids: list[int] = field(default_factory=list)
    html_paths: list[str] = field(default_factory=list)
    queued_for: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pushes_queued: int = 0
    pushed: int = 0
    push_retry_later: int = 0
    push_failed_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SendSummary:
    """Outcome of sending the outbox: digests sent, kept for a retry, given up on (in this
    send: ``failed``; in the outbox: ``failed_total`` / ``failed_ids``), the webhook pushes
    likewise (``pushed``, ``push_retry_later``, ``push_failed``; waiting for a retry:
    ``push_waiting_ids``, failed in the ledger: ``push_failed_ids``), and ``problems``."""

    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    pending_before: int = 0
    failed_total: int = 0
    failed_ids: list[int] = field(default_factory=list)
    requeued: int = 0
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    pushed: int = 0
    push_retry_later: int = 0
    push_failed: int = 0
    push_waiting_ids: list[int] = field(default_factory=list)
    push_failed_ids: list[int] = field(default_factory=list)


class DeliveryError(RuntimeError):
    """Something a person must see: alerts that reach nobody, digests given up or waiting
    for a retry. Carries the summary; the message is its problems, one per line."""

    def __init__(self, summary: DigestSummary | SendSummary) -> None:
        super().__init__("; ".join(summary.problems))
        self.summary = summary


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
    address: RoutingAddress = "registered",
    catch_all: str | None = None,
    console_url: str | None = None,
) -> DigestSummary:
    """Queue the digests due on ``as_of`` for ``subscriptions`` (only those of ``cadence``
    when given). Ad-hoc digests (``adhoc``) are always rendered, whatever the weekday and
    even when nothing is new; their period keys start with ``adhoc-``.

    Every open alert that no subscription receives (at any cadence, for its tier; managers
    placed by ``address``) is listed in the summary and, when ``catch_all`` is set, queued in
    that address's daily catch-all digest, whatever ``cadence`` this run renders.

    The immediate subscriptions' webhooks get their pushes queued too (not ad hoc; see
    :func:`watchtower.digest.push.queue_pushes`). ``console_url``: every alert links to
    ``<console_url>/alerts/<id>``."""
    out_dir = outbox_dir
    rendered = queued = nothing = not_due = 0
    paths: list[str] = []
    queued_for: list[str] = []
    lost: list[int] = []
    if not adhoc:
        with engine.connect() as conn:
            lost = unrouted_alert_ids(conn, as_of, subscriptions, address)
    todo = [s for s in subscriptions if adhoc or not cadence or s.cadence == cadence]
    pushes_queued = 0
    if not adhoc:
        pushes_queued = queue_pushes(
            engine,
            todo,
            as_of=as_of,
            policy=policy,
            now=now,
            address=address,
            console_url=console_url,
        )
    if lost and catch_all:
        todo.append(catch_all_subscription(catch_all, lost))
    for sub in todo:
        period = period_for(sub.cadence, as_of, sub.weekday, force=adhoc)
        if period is None:
            not_due += 1
            continue
        if adhoc:
            period = (period[0], period[1], f"adhoc-{period[2]}")
        with engine.connect() as conn:
            if already_queued(conn, sub.recipient, period[2], sub.key):
                queued += 1
                continue
            data = collect_digest(
                conn,
                sub,
                as_of=as_of,
                cadence=sub.cadence,
                period=period,
                policy=policy,
                address=address,
            )
        worth_sending = data.is_news or (
            (sub.cadence == "weekly" or sub.alert_ids is not None) and data.alert_count > 0
        )
        if not adhoc and not worth_sending:
            nothing += 1
            continue
        data = replace(data, console_url=console_url)
        html = enqueue(engine, out_dir, data, render_digest(data), mail_from, now)
        if html is None:
            queued += 1
        else:
            rendered += 1
            paths.append(str(html))
            queued_for.append(f"{sub.recipient} {period[2]}")
    return DigestSummary(
        as_of=as_of,
        cadence=cadence,
        rendered=rendered,
        already_queued=queued,
        nothing_new=nothing,
        not_due=not_due,
        unrouted=len(lost),
        unrouted_ids=lost,
        catch_all=catch_all,
        html_paths=paths,
        queued_for=queued_for,
        problems=delivery_problems(unrouted_ids=lost, catch_all=catch_all),
        pushes_queued=pushes_queued,
    )


def run_send(
    engine: sa.Engine,
    mailer: Mailer,
    mail_from: str,
    delivery: Delivery,
    now: dt.datetime,
    recipient: str | None = None,
    *,
    poster: Poster | None = None,
    channels: Mapping[str, Webhook] | None = None,
    sleep: Sleep = time.sleep,
) -> SendSummary:
    """Send what the outbox holds (only ``recipient``'s when given; see
    :func:`watchtower.digest.outbox.send_pending`), then, with a ``poster`` and not for one
    ``recipient``, the pending webhook pushes to their ``channels`` (Webhook.key -> Webhook;
    pauses between retries through ``sleep``), and say what needs a person."""
    with engine.connect() as conn:
        pending = pending_count(conn)
    result = send_pending(engine, mailer, mail_from, delivery, now, recipient=recipient)
    pushed = PushResult()
    if poster is not None and recipient is None:
        pushed = send_pushes(engine, poster, channels or {}, delivery, now, sleep=sleep)
    return SendSummary(
        sent=result.sent,
        retry_later=result.retry_later,
        failed=result.failed,
        pending_before=pending,
        failed_total=result.failed_total,
        failed_ids=list(result.failed_ids),
        errors=[*result.errors, *pushed.errors],
        problems=delivery_problems(
            retry_later=result.retry_later,
            failed_ids=result.failed_ids,
            errors=result.errors,
            push_waiting_ids=pushed.waiting_ids,
            push_failed_ids=pushed.failed_ids,
            push_errors=pushed.errors,
        ),
        pushed=pushed.sent,
        push_retry_later=pushed.retry_later,
        push_failed=pushed.failed,
        push_waiting_ids=list(pushed.waiting_ids),
        push_failed_ids=list(pushed.failed_ids),
    )
