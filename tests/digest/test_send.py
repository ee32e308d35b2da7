"""Real mail to a real SMTP server (aiosmtpd): message shape, exactly-once, retries, TLS."""

from __future__ import annotations

import csv
import dataclasses
import io
import ssl
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.digest.smtp import free_port, self_signed_cert, smtp_server
from tests.digest.world import AS_OF, CLOCK, build_world
from watchtower import pipeline
from watchtower.config import Settings, SmtpSettings, load_settings
from watchtower.digest import SmtpMailer, smtp_settings_from_url
from watchtower.store.alerts import outbox


def _with_smtp(
    settings: Settings, port: int, monkeypatch: pytest.MonkeyPatch, **env: str
) -> Settings:
    monkeypatch.setenv("WATCHTOWER_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("WATCHTOWER_SMTP_PORT", str(port))
    monkeypatch.setenv("WATCHTOWER_MAIL_FROM", "watchtower@jianguan.example.gov.cn")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings().with_db(settings.db_url)


def _outbox(settings: Settings) -> list[dict[str, Any]]:
    engine = sa.create_engine(settings.db_url)
    with engine.connect() as c:
        return [dict(r) for r in c.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)
    return settings


def test_digests_arrive_once_with_both_parts_and_the_csv(
    world: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as (port, inbox):
        s = _with_smtp(world, port, monkeypatch)
        summary = pipeline.digest(s, AS_OF, send=True, clock=CLOCK)
        assert (summary.rendered, summary.sent, summary.retry_later) == (6, 6, 0)
        again = pipeline.digest(s, AS_OF, send=True, clock=CLOCK)  # the step runs twice
        assert (again.rendered, again.sent) == (0, 0)
        assert len(inbox.messages) == 6
    by_rcpt = {m.rcpt_tos[0]: m for m in inbox.messages}
    assert all(len(m.rcpt_tos) == 1 for m in inbox.messages)  # a digest goes to its reader only
    got = by_rcpt["gd-gz-jianguan@example.gov.cn"]
    msg = got.message
    assert got.mail_from == "watchtower@jianguan.example.gov.cn"
    assert msg["To"] == "gd-gz-jianguan@example.gov.cn"
    assert msg["Subject"].startswith("【Watchtower】广东/广州 风险预警日报 2024-06-28")
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    text_s, html_s = text.get_content(), html.get_content()
    assert "张*丰" in text_s and "张*丰" in html_s and "张三丰" not in text_s + html_s
    assert "&lt;script&gt;" in html_s and "<script>" not in html_s
    attachments = list(msg.iter_attachments())
    assert [a.get_filename() for a in attachments] == ["watchtower-daily-2024-06-28.csv"]
    assert attachments[0].get_content_type() == "text/csv"
    rows = list(csv.reader(io.StringIO(attachments[0].get_content().lstrip("\ufeff"))))
    assert {r[2] for r in rows[1:]} == {"P3000001", "P3000002", "P3000003", "P3000004", "P3000005"}
    assert "张三丰" not in attachments[0].get_content()
    # Shanghai's supervisor never sees Guangdong managers
    sh = by_rcpt["sh-jianguan@example.gov.cn"].message.get_body(preferencelist=("plain",))
    assert sh is not None and "P3000007" in sh.get_content() and "P3000001" not in sh.get_content()
    rows_db = _outbox(world)
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows_db)
    assert all(Path(r["eml_path"]).exists() and Path(r["html_path"]).exists() for r in rows_db)


def test_failed_send_stays_in_outbox_and_is_retried(
    world: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens yet
    s = _with_smtp(world, port, monkeypatch)
    first = pipeline.digest(s, AS_OF, send=True, to="check@example.org", clock=CLOCK)
    assert (first.rendered, first.sent, first.retry_later) == (1, 0, 1)
    (row,) = _outbox(world)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert "ConnectionRefused" in row["last_error"]
    with smtp_server(port=port) as (_, inbox):
        retry = pipeline.send_outbox(s, AS_OF, clock=CLOCK)
        assert (retry.sent, retry.pending_before) == (1, 1)
        assert pipeline.send_outbox(s, AS_OF, clock=CLOCK).sent == 0
    assert len(inbox.messages) == 1
    m = inbox.messages[0].message
    assert m["To"] == "check@example.org" and "全国" in m["Subject"]
    body = m.get_body(preferencelist=("plain",))
    assert body is not None
    for reg in ("P3000001", "P3000006", "P3000007", "P3000008"):  # every jurisdiction
        assert reg in body.get_content()
    (row,) = _outbox(world)
    assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 2, None)


def test_gives_up_after_max_attempts(world: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    (world.models_dir).exists()
    s = _with_smtp(world, free_port(), monkeypatch)
    pipeline.digest(s, AS_OF, to="check@example.org", clock=CLOCK)
    for _ in range(8):
        pipeline.send_outbox(s, clock=CLOCK, strict=False)
    (row,) = _outbox(world)
    assert (row["status"], row["attempts"]) == ("failed", 8)
    assert pipeline.send_outbox(s, clock=CLOCK, strict=False).pending_before == 0


@pytest.mark.parametrize("tls", ["starttls", "ssl"])
def test_tls_and_login(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: str
) -> None:
    cert = self_signed_cert(tmp_path)
    client_ctx = ssl.create_default_context(cafile=str(cert[0]))
    with smtp_server(tls=tls, cert=cert, user="wt", password="s3cret") as (port, inbox):
        s = _with_smtp(
            world,
            port,
            monkeypatch,
            WATCHTOWER_SMTP_TLS=tls,
            WATCHTOWER_SMTP_USER="wt",
            WATCHTOWER_SMTP_PASSWORD="s3cret",
        )
        assert (s.smtp.tls, s.smtp.user) == (tls, "wt")
        mailer = SmtpMailer(s.smtp, ssl_context=client_ctx, timeout=10)
        out = pipeline.digest(s, AS_OF, send=True, to="tls@example.org", clock=CLOCK, mailer=mailer)
        assert out.sent == 1, out.errors
        # a wrong password is a failed send, kept for a retry
        bad = SmtpMailer(dataclasses.replace(s.smtp, password="wrong"), ssl_context=client_ctx)
        pipeline.digest(s, AS_OF, send=True, to="tls2@example.org", clock=CLOCK, mailer=bad)
    assert [m.rcpt_tos for m in inbox.messages] == [["tls@example.org"]]
    assert _outbox(world)[-1]["status"] == "pending"


def test_smtp_settings_from_a_connection_url() -> None:
    got = smtp_settings_from_url("smtp://u%40x:p%2Fw@mail.example.cn:587?tls=starttls&from=w@x.cn")
    assert got == SmtpSettings("mail.example.cn", 587, "starttls", "u@x", "p/w", "w@x.cn")
    assert smtp_settings_from_url("smtps://mail.example.cn").port == 465
