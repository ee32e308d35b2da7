"""Delivery you can trust (issue 11, items 1, 6 and 7): outbox identity, exactly once at
QUIT, digests given up are loud and can be queued again, no login in clear text, and names
that cannot forge a line in the text digest or its CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.digest.smtp import free_port, smtp_server
from tests.digest.world import AS_OF, CLOCK, build_world
from tests.hostile import FORGED_ENTRY, FORMULA_CELL
from watchtower import pipeline
from watchtower.cli import app
from watchtower.config import ConfigError, Settings, SmtpSettings, load_settings
from watchtower.digest import (
    DeliveryError,
    SmtpMailer,
    neutralize_cell,
    render_digest,
    smtp_settings_from_url,
)
from watchtower.digest.model import DigestAlert, DigestData, Reason
from watchtower.digest.outbox import already_queued, outbox_key
from watchtower.store.alerts import outbox
from watchtower.store.engine import create_engine, upgrade

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


def _settings(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    subscriptions: str | None = None,
    **env: str,
) -> Settings:
    """Settings on ``settings``' store with a config dir of our own (subscriptions.yaml
    replaced when given) and the environment ``env``."""
    config = tmp_path / "config"
    config.mkdir()
    for name in ("features", "expectations"):
        (config / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "models", config / "models")
    if subscriptions is not None:
        (config / "models" / "subscriptions.yaml").write_text(subscriptions, encoding="utf-8")
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config))
    monkeypatch.setenv("WATCHTOWER_MAIL_FROM", "watchtower@jianguan.example.gov.cn")
    monkeypatch.setenv("WATCHTOWER_SMTP_HOST", "127.0.0.1")
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings().with_db(settings.db_url)


def _rows(settings: Settings) -> list[dict[str, Any]]:
    with sa.create_engine(settings.db_url).connect() as c:
        return [dict(r) for r in c.execute(sa.select(outbox).order_by(outbox.c.id)).mappings()]


# --- 1. outbox identity ------------------------------------------------------------------------

LOOKALIKES = """\
subscribers:
  - {recipient: "o'brien@example.gov.cn", province: 广东, min_tier: blue}
  - {recipient: o_brien@example.gov.cn, province: 上海, min_tier: blue}
"""


def test_lookalike_addresses_get_their_own_digest(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(settings)
    with smtp_server() as (port, inbox):
        s = _settings(settings, tmp_path, monkeypatch, LOOKALIKES, WATCHTOWER_SMTP_PORT=str(port))
        summary = pipeline.digest(s, AS_OF, send=True, clock=CLOCK)
        assert (summary.rendered, summary.sent, summary.retry_later) == (2, 2, 0)
        assert summary.unrouted == 2  # 深圳 and 北京: nobody subscribes here
    rows = _rows(s)
    assert len({r["eml_path"] for r in rows}) == 2 and len({r["html_path"] for r in rows}) == 2
    for r in rows:  # named by the hash of the whole key, never by the address
        key = outbox_key(r["recipient"], r["period_key"], r["subscription_key"])
        assert Path(r["eml_path"]).name == f"{key}.eml" and re.fullmatch(r"[0-9a-f]{64}", key)
    got = {}
    for m in inbox.messages:
        body = m.message.get_body(preferencelist=("plain",))
        assert body is not None
        got[m.rcpt_tos[0]] = (m.message["To"], body.get_content())
    gd_to, gd = got["o'brien@example.gov.cn"]
    sh_to, sh = got["o_brien@example.gov.cn"]
    assert gd_to == "o'brien@example.gov.cn" and sh_to == "o_brien@example.gov.cn"
    assert "P3000001" in gd and "P3000007" not in gd  # 广东's digest to 广东
    assert "P3000007" in sh and "P3000001" not in sh  # 上海's to 上海


def test_two_subscriptions_of_one_address_are_two_digests(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(settings)
    subs = """\
subscribers:
  - {recipient: desk@example.gov.cn, name: 广东, province: 广东, min_tier: blue}
  - {recipient: desk@example.gov.cn, name: 上海, province: 上海, min_tier: blue}
"""
    s = _settings(settings, tmp_path, monkeypatch, subs)
    assert pipeline.digest(s, AS_OF, clock=CLOCK).rendered == 2
    keys = sorted((r["recipient"], r["period_key"], r["subscription_key"]) for r in _rows(s))
    assert keys == [
        ("desk@example.gov.cn", "daily:2024-06-28", "name:上海"),
        ("desk@example.gov.cn", "daily:2024-06-28", "name:广东"),
    ]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0008_keys_the_outbox_by_subscription(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'w.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = create_engine(url)
    upgrade(engine, "0006")  # the outbox as it was: unique (recipient, period_key)
    row = {
        "recipient": "a@b.cn",
        "period_key": "daily:2024-06-28",
        "cadence": "daily",
        "language": "zh",
        "as_of": dt.date(2024, 6, 28),
        "subject": "s",
        "eml_path": "e",
        "html_path": "h",
        "alert_count": 1,
        "status": "sent",
        "attempts": 1,
        "created_at": dt.datetime(2024, 6, 28, 8),
    }
    old = sa.Table("outbox", sa.MetaData(), autoload_with=engine)
    with engine.begin() as c:
        c.execute(old.insert().values(**row))
    upgrade(engine)
    with engine.begin() as c:
        (kept,) = c.execute(sa.select(outbox)).mappings().all()
        assert (kept["subscription_key"], kept["requeues"], kept["requeued_at"]) == ("", 0, None)
        # the digest it was is not sent again under its new identity after the upgrade
        assert already_queued(c, "a@b.cn", "daily:2024-06-28", "name:广东")
        assert not already_queued(c, "a@b.cn", "daily:2024-06-29", "name:广东")
        c.execute(outbox.insert().values(**row, subscription_key="name:上海"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(outbox.insert().values(**row, subscription_key="name:上海"))
    engine.dispose()


# --- 6. delivery -------------------------------------------------------------------------------


def test_accepted_after_data_is_sent_whatever_quit_says(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(settings)
    s = _settings(settings, tmp_path, monkeypatch)
    for i, reply in enumerate(("421", "drop")):
        with smtp_server(quit_reply=reply) as (port, inbox):
            monkeypatch.setenv("WATCHTOWER_SMTP_PORT", str(port))
            s = load_settings().with_db(settings.db_url)
            first = pipeline.digest(s, AS_OF, send=True, to=f"q{i}@example.org", clock=CLOCK)
            assert (first.sent, first.retry_later, first.problems) == (1, 0, [])
            again = pipeline.send_outbox(s, AS_OF, clock=CLOCK)
            assert again.sent == 0
        assert [m.rcpt_tos for m in inbox.messages] == [[f"q{i}@example.org"]]  # once
        row = _rows(s)[-1]
        assert (row["status"], row["attempts"], row["last_error"]) == ("sent", 1, None)


MAX_TWO = "delivery: {max_attempts: 2}\nsubscribers: []\n"


def test_given_up_is_loud_until_queued_again(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_world(settings)
    port = free_port()  # SMTP is down
    s = _settings(settings, tmp_path, monkeypatch, MAX_TWO, WATCHTOWER_SMTP_PORT=str(port))
    pipeline.digest(s, AS_OF, to="x@example.org", clock=CLOCK)
    # the function the DAG's send task calls raises: the task fails and retries
    with pytest.raises(DeliveryError, match="wait for a retry") as down:
        pipeline.send_outbox(s, AS_OF, clock=CLOCK)
    assert down.value.summary.retry_later == 1
    with pytest.raises(DeliveryError, match="--retry-failed") as gave_up:
        pipeline.send_outbox(s, AS_OF, clock=CLOCK)
    (row,) = _rows(s)
    assert (row["status"], row["attempts"]) == ("failed", 2)
    assert gave_up.value.summary.failed == 1 and gave_up.value.summary.failed_ids == [row["id"]]
    # later sends have nothing pending, and still say so (and fail)
    with pytest.raises(DeliveryError, match=f"outbox ids {row['id']}"):
        pipeline.send_outbox(s, AS_OF, clock=CLOCK)
    r = runner.invoke(app, ["send"])
    assert r.exit_code == 1 and "given up in the outbox: 1" in r.stdout
    assert any(ln.startswith("error: 1 digests were given up") for ln in r.stderr.splitlines()), (
        r.stderr
    )
    r = runner.invoke(app, ["digest", "--as-of", str(AS_OF), "--to", "x@example.org", "--send"])
    assert r.exit_code == 1 and "digest --retry-failed" in r.stderr
    # queued again: attempts from zero, the re-queue recorded in the row, then sent once
    with smtp_server(port=port) as (_, inbox):
        r = runner.invoke(
            app,
            ["digest", "--as-of", str(AS_OF), "--to", "x@example.org", "--retry-failed", "--send"],
        )
        assert r.exit_code == 0, r.output
        assert "re-queued 1 given-up digests" in r.stdout and "sent 1," in r.stdout
    assert len(inbox.messages) == 1
    (row,) = _rows(s)
    assert (row["status"], row["attempts"], row["requeues"]) == ("sent", 1, 1)
    assert row["requeued_at"] is not None


def test_no_login_in_clear_text(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"WATCHTOWER_SMTP_USER": "wt", "WATCHTOWER_SMTP_PASSWORD": "s3cret-pw"}
    with pytest.raises(ConfigError, match="clear-text"):
        load_settings(env)
    assert load_settings({**env, "WATCHTOWER_SMTP_TLS": "starttls"}).smtp.user == "wt"
    with pytest.raises(ConfigError, match="clear-text"):
        smtp_settings_from_url("smtp://wt:pw@mail.example.cn:25")
    assert smtp_settings_from_url("smtp://wt:pw@mail.example.cn?allow_cleartext_auth=1").user
    with pytest.raises(ConfigError, match="clear-text"):
        SmtpMailer(SmtpSettings(user="wt", password="pw"))
    # the command: one line, exit 2, before anything is read or sent, no password shown
    build_world(settings)
    with smtp_server(user="wt", password="s3cret-pw") as (port, inbox):
        _settings(settings, tmp_path, monkeypatch, WATCHTOWER_SMTP_PORT=str(port))
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        r = runner.invoke(app, ["digest", "--as-of", str(AS_OF), "--to", "a@b.cn", "--send"])
        assert r.exit_code == 2 and "s3cret" not in r.output
        assert r.stderr.strip().splitlines() == [
            "error: SMTP login over a clear-text connection is refused: set "
            "WATCHTOWER_SMTP_TLS to starttls or ssl (or WATCHTOWER_SMTP_ALLOW_CLEARTEXT_AUTH=1 "
            "to allow it)"
        ]
        assert inbox.messages == []
        # explicitly allowed: it logs in and sends
        monkeypatch.setenv("WATCHTOWER_SMTP_ALLOW_CLEARTEXT_AUTH", "1")
        r = runner.invoke(app, ["digest", "--as-of", str(AS_OF), "--to", "a@b.cn", "--send"])
        assert r.exit_code == 0, r.output
    assert [m.rcpt_tos for m in inbox.messages] == [["a@b.cn"]]


# --- 7. names that cannot forge a line ---------------------------------------------------------

FORGED = FORGED_ENTRY


def _hostile() -> DigestData:
    day = dt.date(2024, 6, 28)
    alert = DigestAlert(
        alert_id=1,
        register_no="P3000001",
        manager_name=FORGED,
        legal_rep="张*丰",
        province="广东\u202e",
        city="广州\x1b[2K",
        tier="red",
        previous_tier=None,
        score=92.0,
        trend=(80.0, 92.0),
        reasons=(Reason("x", "原因\n- 伪造原因\x1b[31m"),),
        status="new",
        opened_as_of=day,
    )
    evil = DigestAlert(
        alert_id=2,
        register_no="P3000002",
        manager_name=FORMULA_CELL,
        legal_rep="",
        province="广东",
        city="广州",
        tier="orange",
        previous_tier=None,
        score=75.0,
        trend=(75.0,),
        reasons=(),
        status="new",
        opened_as_of=day,
    )
    return DigestData(
        recipient="gd@x.cn",
        recipient_name="广东\n证监局",
        language="zh",
        cadence="daily",
        jurisdiction="广东",
        min_tier="blue",
        as_of=day,
        period_start=day,
        period_end=day,
        period_key="daily:2024-06-28",
        sections={"new": [alert, evil]},
    )


def test_a_name_cannot_forge_a_line_in_the_text_digest() -> None:
    out = render_digest(_hostile())
    lines = out.text.splitlines()
    assert not any(ln.lstrip().startswith(("[红色] 伪造", "- 伪造", "证监局")) for ln in lines)
    assert "好资产管理有限公司\\n[红色] 伪造资产管理有限公司 (P9999999, 广东)\\r覆盖" in out.text
    assert "广东\\u202e" in out.text and "广州\\x1b[2K" in out.text
    for part in (out.text, out.html, out.subject):
        assert not re.search("[\x1b\r\u202e]", part)
    assert "伪造资产管理有限公司 (P9999999, 广东)\\r覆盖" in out.html


def test_csv_cells_cannot_forge_a_row_or_run_a_formula() -> None:
    raw = render_digest(_hostile()).csv.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(raw)))
    assert len(rows) == 3 and len(raw.split("\r\n")) == 4  # header, two alerts, end
    cells = [c for r in rows for c in r]
    assert not any(re.search("[\n\r\x1b\u202e]", c) for c in cells)
    assert rows[1][3] == "好资产管理有限公司\\n[红色] 伪造资产管理有限公司 (P9999999, 广东)\\r覆盖"
    assert rows[2][3] == "'=cmd|' /C calc'!A0\\n"
    assert neutralize_cell(neutralize_cell("=1\n")) == neutralize_cell("=1\n") == "'=1\\n"
