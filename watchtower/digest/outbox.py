"""The outbox: digests are rendered to files and a row first, then sent; each
(recipient, period_key, subscription_key) exactly once.

Files: ``<outbox_dir>/<period>/<sha256 of the key>.eml`` (the message as sent) and ``.html``
(to open in a browser). The name is a hash of the whole key, never a transform of the
address: ``o'brien@x`` and ``o_brien@x`` once shared a file, and one district's digest went
to the other. Row states: pending -> sending -> sent; a failed send goes back to pending with
``last_error`` and is retried on the next send, until ``max_attempts`` marks it failed, where
it stays (and every send reports it) until ``digest --retry-failed`` queues it again
(:func:`requeue_failed`). A send interrupted between claiming and recording (a crash) is
reclaimed after ``reclaim_after_minutes``: that one case may deliver twice, never zero times.
"""

from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path

import sqlalchemy as sa

from watchtower.digest._ledger import claim, claimable
from watchtower.digest.model import DigestData, RenderedDigest
from watchtower.digest.send import Mailer
from watchtower.store.alerts import outbox
from watchtower.warn._txn import write_transaction
from watchtower.warn.routing import Delivery

_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def outbox_key(recipient: str, period_key: str, subscription_key: str) -> str:
    """The collision-free name of one outbox entry: sha256 hex of its whole key."""
    raw = "\x1f".join((recipient, period_key, subscription_key))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def build_message(
    data: DigestData, rendered: RenderedDigest, mail_from: str, date: dt.datetime
) -> EmailMessage:
    """multipart/mixed [ multipart/alternative [text/plain, text/html], text/csv ]."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = formataddr(("Watchtower", mail_from))
    msg["To"] = data.recipient
    msg["Date"] = format_datetime(date.replace(tzinfo=dt.UTC) if date.tzinfo is None else date)
    domain = mail_from.rsplit("@", 1)[-1] or "watchtower"
    digest_id = outbox_key(data.recipient, data.period_key, data.subscription_key)[:32]
    # Stable per outbox entry: a rare duplicate delivery is recognisable as one.
    msg["Message-ID"] = f"<{digest_id}@{domain}>"
    msg["X-Watchtower-Period"] = data.period_key
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    msg.add_attachment(rendered.csv, maintype="text", subtype="csv", filename=rendered.csv_name)
    return msg


def outbox_paths(
    outbox_dir: Path, recipient: str, period_key: str, subscription_key: str
) -> tuple[Path, Path]:
    """(.eml, .html) of one outbox entry. The folder is the period (our own key, made safe);
    the file is the hash of (recipient, period, subscription)."""
    folder = outbox_dir / _UNSAFE.sub("-", period_key.replace(":", "-"))
    stem = outbox_key(recipient, period_key, subscription_key)
    return folder / f"{stem}.eml", folder / f"{stem}.html"


def already_queued(
    conn: sa.Connection, recipient: str, period_key: str, subscription_key: str
) -> bool:
    """True when this entry is in the outbox. A row from before migration 0008 (key '') was
    the one digest of its (recipient, period) and counts for every subscription, so an
    upgrade never sends a period's digest a second time."""
    return (
        conn.execute(
            sa.select(outbox.c.id).where(
                outbox.c.recipient == recipient,
                outbox.c.period_key == period_key,
                outbox.c.subscription_key.in_([subscription_key, ""]),
            )
        ).first()
        is not None
    )


def enqueue(
    engine: sa.Engine,
    outbox_dir: Path,
    data: DigestData,
    rendered: RenderedDigest,
    mail_from: str,
    now: dt.datetime,
) -> Path | None:
    """Write the digest's files and its pending row, once. Returns the HTML path, or None
    when its (recipient, period_key, subscription_key) was queued already (by an earlier or
    concurrent run)."""
    eml_path, html_path = outbox_paths(
        outbox_dir, data.recipient, data.period_key, data.subscription_key
    )
    # CRLF line ends as on the wire: smtplib sends bytes unchanged, and a bare-LF message is
    # one endless line to a strict server (RFC 5321 4.5.3.1.6).
    message = build_message(data, rendered, mail_from, now).as_bytes(policy=email.policy.SMTP)
    eml_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_eml = eml_path.with_suffix(f".eml.{id(data)}.tmp")
    tmp_html = html_path.with_suffix(f".html.{id(data)}.tmp")
    try:
        with write_transaction(engine) as conn:
            if already_queued(conn, data.recipient, data.period_key, data.subscription_key):
                return None
            tmp_eml.write_bytes(message)
            tmp_html.write_text(rendered.html, encoding="utf-8")
            conn.execute(
                outbox.insert().values(
                    recipient=data.recipient,
                    period_key=data.period_key,
                    subscription_key=data.subscription_key,
                    cadence=data.cadence,
                    language=data.language,
                    as_of=data.as_of,
                    subject=rendered.subject,
                    eml_path=str(eml_path),
                    html_path=str(html_path),
                    alert_count=data.alert_count,
                    status="pending",
                    attempts=0,
                    created_at=now,
                )
            )
            tmp_eml.replace(eml_path)
            tmp_html.replace(html_path)
    except sa.exc.IntegrityError:
        return None  # a concurrent run queued it first
    finally:
        tmp_eml.unlink(missing_ok=True)
        tmp_html.unlink(missing_ok=True)
    return html_path


@dataclass(frozen=True)
class SendResult:
    """``failed``: given up in this send; ``failed_total`` / ``failed_ids``: every digest of
    the outbox in state failed (given up now or before, not queued again)."""

    sent: int = 0
    retry_later: int = 0
    failed: int = 0
    errors: tuple[str, ...] = ()
    failed_total: int = 0
    failed_ids: tuple[int, ...] = ()


def failed_rows(conn: sa.Connection, recipient: str | None = None) -> list[dict[str, object]]:
    """Outbox rows given up on (state failed), oldest first."""
    q = sa.select(
        outbox.c.id, outbox.c.recipient, outbox.c.period_key, outbox.c.attempts, outbox.c.last_error
    ).where(outbox.c.status == "failed")
    if recipient:
        q = q.where(outbox.c.recipient == recipient)
    return [dict(r) for r in conn.execute(q.order_by(outbox.c.id)).mappings()]


def requeue_failed(engine: sa.Engine, now: dt.datetime, recipient: str | None = None) -> int:
    """Queue the given-up digests again (``digest --retry-failed``): state pending, attempts
    from zero, the re-queue counted and dated in the row (``last_error`` is kept until a send
    succeeds). Returns how many."""
    with write_transaction(engine) as conn:
        q = outbox.update().where(outbox.c.status == "failed")
        if recipient:
            q = q.where(outbox.c.recipient == recipient)
        return int(
            conn.execute(
                q.values(
                    status="pending",
                    attempts=0,
                    claimed_at=None,
                    requeues=outbox.c.requeues + 1,
                    requeued_at=now,
                )
            ).rowcount
        )


def send_pending(
    engine: sa.Engine,
    mailer: Mailer,
    mail_from: str,
    delivery: Delivery,
    now: dt.datetime,
    *,
    recipient: str | None = None,
) -> SendResult:
    """Send every pending digest (only ``recipient``'s when given) and reclaim interrupted
    ones. Each row is claimed with a conditional UPDATE before sending, so two concurrent
    senders never send one digest twice."""
    stale = now - dt.timedelta(minutes=delivery.reclaim_after_minutes)
    only = [outbox.c.recipient == recipient] if recipient else []
    with engine.connect() as conn:
        rows = claimable(conn, outbox, stale, *only)
    sent = retry = failed = 0
    errors: list[str] = []
    for r in rows:
        row = claim(engine, outbox, r, now, attempts=r["attempts"] + 1)
        if row is None:
            continue  # another sender has it
        try:
            message = Path(row["eml_path"]).read_bytes()
            mailer.send(mail_from, [row["recipient"]], message)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
            give_up = row["attempts"] >= delivery.max_attempts
            with engine.begin() as conn:
                conn.execute(
                    outbox.update()
                    .where(outbox.c.id == row["id"])
                    .values(status="failed" if give_up else "pending", last_error=error)
                )
            errors.append(f"{row['recipient']} {row['period_key']}: {error}")
            failed += give_up
            retry += not give_up
            continue
        with engine.begin() as conn:
            conn.execute(
                outbox.update()
                .where(outbox.c.id == row["id"])
                .values(status="sent", sent_at=now, last_error=None)
            )
        sent += 1
    with engine.connect() as conn:
        given_up = failed_rows(conn, recipient)
    return SendResult(
        sent=sent,
        retry_later=retry,
        failed=failed,
        errors=tuple(errors),
        failed_total=len(given_up),
        failed_ids=tuple(int(str(r["id"])) for r in given_up),
    )
