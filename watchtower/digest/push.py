"""Immediate red pushes: each red alert (new, or escalated to red) of an immediate
subscription is posted once to each of its webhooks, as a WeCom or DingTalk robot message or
plain JSON.

Same pattern as the mail outbox: the render step writes one ledger row per (subscription,
channel, alert, escalation event) with the body to post (:func:`queue_pushes`); the send step
claims each pending row with a conditional UPDATE and posts it (:func:`send_pushes`). A 5xx,
408, 429, timeout or dropped connection is retried with exponential backoff, a few times per
send and up to ``delivery.max_attempts`` in all, then the row is failed (and listed by every
send) until ``digest --retry-failed``; any other 4xx (or 3xx) is failed at once with the answer
recorded. Which alerts are pushed is the immediate digest's choice (:func:`collect_digest`),
so the mail and the pushes never disagree; the escalation event's id makes a second climb to
red (after a fall to orange) a new push.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from watchtower.config import RoutingAddress
from watchtower.digest._ledger import claim, claimable
from watchtower.digest.collect import collect_digest, period_for
from watchtower.digest.model import DigestAlert
from watchtower.digest.webhook import HttpAnswer, Poster
from watchtower.store.alerts import alert_events
from watchtower.store.pushes import pushes
from watchtower.warn._txn import write_transaction
from watchtower.warn.policy import TIER_LABELS, TierPolicy
from watchtower.warn.routing import Delivery, Subscription, Webhook

#: Posts per pending push in one send (then it waits for the next send), and the first pause
#: between them in seconds (doubled each time: 1, 2, ...).
TRIES_PER_SEND = 3
BACKOFF_SECONDS = 1.0
#: Robot answers "200, but slow down" (WeCom 45009, DingTalk 130101): retried like a 5xx.
_RATE_LIMITED = {45009, 130101}

Sleep = Callable[[float], None]

LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "【Watchtower】红色预警",
        "new": "新增",
        "escalated": "上调为红色",
        "manager": "管理人",
        "register_no": "登记编号",
        "jurisdiction": "辖区",
        "score": "风险分",
        "alert": "预警编号",
        "as_of": "预警日期",
        "reasons": "主要原因",
        "link": "在控制台查看",
        "act": "处理: watchtower alerts ack {id} --by 姓名",
    },
    "en": {
        "title": "[Watchtower] Red alert",
        "new": "new",
        "escalated": "escalated to red",
        "manager": "Manager",
        "register_no": "Register no.",
        "jurisdiction": "Jurisdiction",
        "score": "Score",
        "alert": "Alert",
        "as_of": "As of",
        "reasons": "Top reasons",
        "link": "Open in the console",
        "act": "To act: watchtower alerts ack {id} --by NAME",
    },
}

# --- the message -----------------------------------------------------------------------------

# Control, format and separator characters (line breaks, bidi, zero-width): a space.
_MD_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]")
# Markdown and HTML control characters become their full-width forms. Not backslash escapes:
# WeCom's markdown has none (a backslash shows), DingTalk's is partial; full-width characters
# render as themselves in both, and Chinese names mostly use （） already.
_MD_SWAP = str.maketrans(
    {
        "\\": "＼",
        "`": "｀",
        "*": "＊",
        "_": "＿",
        "[": "［",
        "]": "］",
        "(": "（",
        ")": "）",
        "{": "｛",
        "}": "｝",
        "#": "＃",
        "<": "＜",
        ">": "＞",
        "|": "｜",
        "~": "～",
        "!": "！",
        "&": "＆",
        "@": "＠",
    }
)


def markdown_text(value: object, limit: int = 200) -> str:
    """``value`` as inert markdown on one line: no line break (a name cannot start a heading,
    a list or a quote), no emphasis, link, image, tag, mention or autolink; at most ``limit``
    characters."""
    text = " ".join(_MD_CONTROL.sub(" ", "" if value is None else str(value)).split())
    text = text.translate(_MD_SWAP).replace("://", ":／／")
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class PushAlert:
    """What one push says: the digest's view of the alert, where routing put it, why now."""

    alert: DigestAlert
    jurisdiction: str
    event: Literal["new", "escalated"]
    as_of: dt.date
    language: str
    console_url: str | None = None

    @property
    def link(self) -> str | None:
        return f"{self.console_url}/alerts/{self.alert.alert_id}" if self.console_url else None


def _markdown(p: PushAlert) -> tuple[str, str]:
    """(title, markdown text) in the push's language; every value from the data is inert."""
    L, a, lang = LABELS[p.language], p.alert, p.language
    tier = TIER_LABELS[a.tier][lang]
    change = (
        f"{TIER_LABELS[a.previous_tier][lang]} → {tier}"
        if p.event == "escalated" and a.previous_tier
        else tier
    )
    name = markdown_text(a.manager_name or a.register_no)
    lines = [
        f"**{L['title']} · {L[p.event]}**",
        f"> {L['manager']}: {name}",
        f"> {L['register_no']}: {markdown_text(a.register_no)} · "
        f"{L['jurisdiction']}: {markdown_text(p.jurisdiction)}",
        f"> {L['score']}: {a.score:.1f} ({markdown_text(change)})",
        f"> {L['alert']}: {a.alert_id} · {L['as_of']}: {p.as_of.isoformat()}",
    ]
    if a.reasons:
        lines.append(f"{L['reasons']}:")
        lines.extend(f"- {markdown_text(r.text)}" for r in a.reasons)
    link = p.link
    lines.append(f"[{L['link']}]({link})" if link else L["act"].format(id=a.alert_id))
    return f"{L['title']}: {name}", "\n".join(lines)


def push_body(p: PushAlert, fmt: str) -> str:
    """The JSON posted to a webhook of format ``fmt`` (wecom, dingtalk, json)."""
    if fmt == "json":
        a = p.alert
        payload: dict[str, Any] = {
            "source": "watchtower",
            "event": p.event,
            "alert_id": a.alert_id,
            "register_no": a.register_no,
            "manager_name": a.manager_name,
            "jurisdiction": p.jurisdiction,
            "tier": a.tier,
            "previous_tier": a.previous_tier,
            "score": a.score,
            "reasons": [{"code": r.code, "text": r.text} for r in a.reasons],
            "as_of": p.as_of.isoformat(),
            "language": p.language,
            "console_url": p.link,
        }
    else:
        title, text = _markdown(p)
        payload = (
            {"msgtype": "markdown", "markdown": {"content": text}}
            if fmt == "wecom"
            else {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
        )
    return json.dumps(payload, ensure_ascii=False)


# --- queueing --------------------------------------------------------------------------------


def _red_events(conn: sa.Connection, ids: Sequence[int], as_of: dt.date) -> dict[int, int]:
    """alert id -> the audit row (open or escalate, to red, on ``as_of``) that made it red."""
    if not ids:
        return {}
    ev = alert_events
    rows = conn.execute(
        sa.select(ev.c.alert_id, sa.func.max(ev.c.id))
        .where(
            ev.c.alert_id.in_(ids),
            ev.c.as_of == as_of,
            ev.c.action.in_(("open", "escalate")),
            ev.c.to_tier == "red",
        )
        .group_by(ev.c.alert_id)
    )
    return {int(a): int(e) for a, e in rows}


def _insert_once(engine: sa.Engine, row: dict[str, Any]) -> bool:
    """Insert one ledger row unless its key is there (an earlier or concurrent run)."""
    key = ("subscription_key", "channel_key", "alert_id", "event_id")
    try:
        with write_transaction(engine) as conn:
            there = conn.execute(
                sa.select(pushes.c.id).where(*(pushes.c[k] == row[k] for k in key))
            ).first()
            if there is not None:
                return False
            conn.execute(pushes.insert().values(**row))
    except sa.exc.IntegrityError:
        return False  # a concurrent run queued it first
    return True


def queue_pushes(
    engine: sa.Engine,
    subscriptions: Sequence[Subscription],
    *,
    as_of: dt.date,
    policy: TierPolicy,
    now: dt.datetime,
    address: RoutingAddress = "registered",
    console_url: str | None = None,
) -> int:
    """Queue a push of each red alert of ``as_of`` (new or escalated, as the immediate digest
    shows them) to each webhook of each immediate subscription; returns how many were new."""
    queued = 0
    for sub in subscriptions:
        if not sub.webhooks or sub.cadence != "immediate" or sub.alert_ids is not None:
            continue
        period = period_for("immediate", as_of)
        assert period is not None  # immediate digests are due every day
        with engine.connect() as conn:
            data = collect_digest(
                conn,
                sub,
                as_of=as_of,
                cadence="immediate",
                period=period,
                policy=policy,
                address=address,
            )
            shown = [(k, a) for k in ("new", "escalated") for a in data.sections.get(k, [])]
            events = _red_events(conn, [a.alert_id for _, a in shown], as_of)
        for event, a in shown:
            if a.alert_id not in events:
                continue  # red without a red event today: not an escalation of this day
            p = PushAlert(
                alert=a,
                jurisdiction=a.jurisdiction or a.province,
                event=event,  # type: ignore[arg-type]
                as_of=as_of,
                language=sub.language,
                console_url=console_url,
            )
            for hook in sub.webhooks:
                queued += _insert_once(
                    engine,
                    {
                        "subscription_key": sub.key,
                        "channel_key": hook.key,
                        "alert_id": a.alert_id,
                        "event_id": events[a.alert_id],
                        "format": hook.format,
                        "target": hook.target,
                        "as_of": as_of,
                        "body": push_body(p, hook.format),
                        "status": "pending",
                        "attempts": 0,
                        "created_at": now,
                    },
                )
    return queued


# --- sending ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PushResult:
    """``sent`` / ``retry_later`` / ``failed`` in this send; ``waiting_ids``: pushes pending
    after a failed post; ``failed_ids``: every push of the ledger in state failed."""

    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()
    waiting_ids: tuple[int, ...] = ()
    failed_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class _Outcome:
    kind: Literal["sent", "transient", "permanent"]
    attempts: int
    status: int | None = None
    body: str | None = None
    error: str | None = None


def classify(answer: HttpAnswer, fmt: str) -> Literal["sent", "transient", "permanent"]:
    """What an answer means: 2xx sent (a robot's 2xx with a non-zero ``errcode`` is not:
    rate limits are retried, anything else refused); 5xx, 408, 429 retried; the rest
    refused for good."""
    if 200 <= answer.status < 300:
        if fmt == "json":
            return "sent"
        errcode = answer.errcode  # None: not the robot's JSON, the 2xx is all we have
        if errcode in (0, None):
            return "sent"
        return "transient" if errcode in _RATE_LIMITED else "permanent"
    if answer.status >= 500 or answer.status in (408, 429):
        return "transient"
    return "permanent"


def _deliver(
    poster: Poster, hook: Webhook, body: bytes, tries: int, backoff: float, sleep: Sleep
) -> _Outcome:
    """Post up to ``tries`` times, pausing ``backoff``, 2 x ``backoff``, ... between."""
    last = _Outcome("transient", 0, error="no attempt left")
    for n in range(tries):
        if n:
            sleep(backoff * 2 ** (n - 1))
        try:
            answer = poster.post(hook.url, body)
        except OSError as exc:  # no answer: refused, reset, timed out
            last = _Outcome("transient", n + 1, error=f"{type(exc).__name__}: {exc}"[:500])
            continue
        except ValueError as exc:  # a URL the client cannot post to: no retry helps
            return _Outcome("permanent", n + 1, error=f"{type(exc).__name__}: {exc}"[:500])
        kind = classify(answer, hook.format)
        error = None if kind == "sent" else f"HTTP {answer.status}: {answer.body[:300]}"
        last = _Outcome(kind, n + 1, answer.status, answer.body, error)
        if kind != "transient":
            return last
    return last


def _record(
    engine: sa.Engine, row: Mapping[str, Any], out: _Outcome, delivery: Delivery, now: dt.datetime
) -> str:
    attempts = int(row["attempts"]) + out.attempts
    if out.kind == "sent":
        status = "sent"
    elif out.kind == "permanent" or attempts >= delivery.max_attempts:
        status = "failed"
    else:
        status = "pending"
    with engine.begin() as conn:
        conn.execute(
            pushes.update()
            .where(pushes.c.id == row["id"])
            .values(
                status=status,
                attempts=attempts,
                last_error=out.error,
                response_status=out.status,
                response_body=out.body,
                sent_at=now if status == "sent" else None,
            )
        )
    return status


def _ids(conn: sa.Connection, where: Any) -> tuple[int, ...]:
    return tuple(
        int(i) for (i,) in conn.execute(sa.select(pushes.c.id).where(where).order_by(pushes.c.id))
    )


def send_pushes(
    engine: sa.Engine,
    poster: Poster,
    channels: Mapping[str, Webhook],
    delivery: Delivery,
    now: dt.datetime,
    *,
    sleep: Sleep = time.sleep,
    tries: int = TRIES_PER_SEND,
    backoff: float = BACKOFF_SECONDS,
) -> PushResult:
    """Post every pending push (and reclaim interrupted ones) to its channel in
    ``channels`` (Webhook.key -> Webhook, from the subscriptions: the ledger has no URL). A
    push whose channel is gone from the subscriptions is failed, never posted elsewhere."""
    stale = now - dt.timedelta(minutes=delivery.reclaim_after_minutes)
    with engine.connect() as conn:
        rows = claimable(conn, pushes, stale)
    counts = {"sent": 0, "pending": 0, "failed": 0}
    errors: list[str] = []
    for r in rows:
        row = claim(engine, pushes, r, now)
        if row is None:
            continue
        hook = channels.get(row["channel_key"])
        left = delivery.max_attempts - int(row["attempts"])
        if hook is None:
            out = _Outcome("permanent", 0, error="channel no longer in subscriptions.yaml")
        else:
            out = _deliver(
                poster, hook, row["body"].encode("utf-8"), max(1, min(tries, left)), backoff, sleep
            )
        status = _record(engine, row, out, delivery, now)
        counts[status] += 1
        if out.error and status != "sent":
            errors.append(f"push {row['id']} ({row['target']}): {out.error}")
    with engine.connect() as conn:
        failed_ids = _ids(conn, pushes.c.status == "failed")
        waiting = _ids(conn, sa.and_(pushes.c.status == "pending", pushes.c.attempts > 0))
    return PushResult(
        sent=counts["sent"],
        retry_later=counts["pending"],
        failed=counts["failed"],
        errors=tuple(errors),
        waiting_ids=waiting,
        failed_ids=failed_ids,
    )


def requeue_failed_pushes(engine: sa.Engine) -> int:
    """Queue every failed push again (``digest --retry-failed``), attempts from zero."""
    with engine.begin() as conn:
        return int(
            conn.execute(
                pushes.update()
                .where(pushes.c.status == "failed")
                .values(status="pending", attempts=0, claimed_at=None)
            ).rowcount
        )
