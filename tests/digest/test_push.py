"""Immediate red pushes to webhooks, against a real HTTP server on 127.0.0.1: each format's
body, exactly once per escalation, retries with backoff (a recorded sleeper, no waiting), a
4xx recorded as failed, nothing sent anywhere else; and the console links."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.digest.smtp import free_port, smtp_server
from tests.digest.webhooks import webhook_server
from tests.digest.world import AS_OF, CLOCK, build_world
from tests.hostile import FORGED_ENTRY
from tests.warn.scores import insert_scores, score_row
from watchtower import pipeline
from watchtower.config import ConfigError, Settings, load_settings
from watchtower.digest import (
    DeliveryError,
    DigestAlert,
    HttpAnswer,
    HttpPoster,
    markdown_text,
    push_body,
    render_digest,
)
from watchtower.digest.model import DigestData, Reason
from watchtower.digest.push import PushAlert
from watchtower.store import open_store
from watchtower.store.pushes import pushes
from watchtower.warn import load_subscriptions
from watchtower.warn.routing import SubscriptionError

REPO = Path(__file__).resolve().parents[2]


class Sleeps(list[float]):
    """The injected sleeper: records each pause instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Mailbox:
    """A Mailer keeping what it is given (the SMTP path has its own tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> None:
        self.sent.append((sender, list(recipients), message))


def _subs(base: str, *, max_attempts: int = 8, sh_format: str = "json") -> str:
    return f"""\
delivery:
  max_attempts: {max_attempts}
subscribers:
  - recipient: gd-duty@example.gov.cn
    name: 广东证监局 值班
    province: 广东
    cadence: immediate
    language: zh
    webhook:
      - {{url: "{base}/wecom?key=SECRET-KEY", format: wecom}}
      - {{url: "{base}/ding?access_token=SECRET-TOKEN", format: dingtalk}}
      - {{url: "{base}/json", format: json}}
  - recipient: sh-duty@example.gov.cn
    name: Shanghai duty desk
    province: 上海
    cadence: immediate
    language: en
    webhook: {{url: "{base}/sh", format: {sh_format}}}
  - recipient: everyone-else@example.gov.cn
    province: [北京, 天津]
    min_tier: blue
"""


def _settings(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subs: str, **env: str
) -> Settings:
    config = tmp_path / "config"
    config.mkdir(exist_ok=True)
    for name in ("features", "expectations"):
        if not (config / name).exists():
            (config / name).symlink_to(REPO / name)
    if not (config / "models").exists():
        shutil.copytree(REPO / "models", config / "models")
    (config / "models" / "subscriptions.yaml").write_text(subs, encoding="utf-8")
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config))
    monkeypatch.setenv("WATCHTOWER_DIGEST_CATCH_ALL", "catch-all@example.gov.cn")
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)  # 127.0.0.1 directly, never via a proxy
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return load_settings().with_db(settings.db_url)


def _ledger(s: Settings) -> list[dict[str, Any]]:
    with sa.create_engine(s.db_url).connect() as c:
        return [dict(r) for r in c.execute(sa.select(pushes).order_by(pushes.c.id)).mappings()]


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)  # on AS_OF: P3000001 (广州) orange -> red, P3000007 (上海) new red
    return settings


# --- 1. the bodies ---------------------------------------------------------------------------


def test_each_format_gets_its_body_once_with_mail_and_console_links(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks), smtp_server() as (port, inbox):
        s = _settings(
            world,
            tmp_path,
            monkeypatch,
            _subs(base),
            WATCHTOWER_CONSOLE_URL="https://watchtower.example.gov.cn/console/",
            WATCHTOWER_SMTP_HOST="127.0.0.1",
            WATCHTOWER_SMTP_PORT=str(port),
        )
        summary = pipeline.digest(s, AS_OF, cadence="immediate", send=True, clock=CLOCK)
    assert summary.pushes_queued == 4 and summary.pushed == 4 and summary.problems == []
    # the run sent the immediate mails too (and the catch-all digest of the lesser tiers)
    assert sorted(m.rcpt_tos[0] for m in inbox.messages) == [
        "catch-all@example.gov.cn",
        "gd-duty@example.gov.cn",
        "sh-duty@example.gov.cn",
    ]
    link = "https://watchtower.example.gov.cn/console/alerts/1"
    (wecom,) = hooks.to("/wecom")
    assert wecom.path == "/wecom?key=SECRET-KEY"
    assert wecom.headers["Content-Type"] == "application/json; charset=utf-8"
    body = wecom.json()
    assert list(body) == ["msgtype", "markdown"] and body["msgtype"] == "markdown"
    content = body["markdown"]["content"]
    assert content.startswith("**【Watchtower】红色预警 · 上调为红色**\n")
    assert "登记编号: P3000001" in content and "辖区: 广东" in content
    assert "风险分: 92.0 (橙 → 红)" in content
    assert f"[在控制台查看]({link})" in content
    assert "张三丰" not in content  # the legal representative's name is masked as in the mail
    (ding,) = hooks.to("/ding")
    d = ding.json()
    assert d["msgtype"] == "markdown" and set(d["markdown"]) == {"title", "text"}
    assert d["markdown"]["title"].startswith("【Watchtower】红色预警: ")
    assert d["markdown"]["text"] == content  # one message, two envelopes
    (plain,) = hooks.to("/json")
    j = plain.json()
    assert {k: j[k] for k in ("alert_id", "register_no", "jurisdiction", "tier", "score")} == {
        "alert_id": 1,
        "register_no": "P3000001",
        "jurisdiction": "广东",
        "tier": "red",
        "score": 92.0,
    }
    assert j["previous_tier"] == "orange" and j["event"] == "escalated"
    assert j["console_url"] == link and j["as_of"] == "2024-06-28" and j["language"] == "zh"
    assert (
        j["manager_name"] and j["reasons"] and all({"code", "text"} == set(r) for r in j["reasons"])
    )
    # Shanghai's channel: its own manager only, in English
    (sh,) = hooks.to("/sh")
    assert sh.json()["register_no"] == "P3000007" and sh.json()["event"] == "new"
    assert sh.json()["language"] == "en" and sh.json()["jurisdiction"] == "上海"
    assert all(b"P3000007" not in p.body for p in hooks.received if p.path != "/sh")  # 广东's
    # the ledger holds no secret of the URLs
    rows = _ledger(s)
    assert all(r["status"] == "sent" and r["attempts"] == 1 for r in rows)
    assert "SECRET" not in json.dumps(
        [r["target"] for r in rows] + [r["channel_key"] for r in rows]
    )
    assert {r["target"] for r in rows} >= {f"wecom {base}/wecom", f"dingtalk {base}/ding"}


def test_english_markdown_and_no_link_without_a_console_url(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks):
        s = _settings(world, tmp_path, monkeypatch, _subs(base, sh_format="wecom"))
        pipeline.digest(s, AS_OF, cadence="immediate", send=True, clock=CLOCK, mailer=Mailbox())
    content = hooks.to("/sh")[0].json()["markdown"]["content"]
    assert content.startswith("**[Watchtower] Red alert · new**\n")
    assert "Register no.: P3000007" in content and "Score: 95.0 (Red)" in content
    assert "console" not in content and "watchtower alerts ack 7 --by NAME" in content
    assert hooks.to("/json")[0].json()["console_url"] is None


def test_a_hostile_name_is_inert_markdown_on_one_line() -> None:
    name = (
        '恶意\n# 标题\r\n> 引用 **粗** [点我](http://evil.example/x) <font color="red">x</font> '
        "@all `c` |t|"
    )
    alert = DigestAlert(
        alert_id=9,
        register_no="P9000009",
        manager_name=name,
        legal_rep="",
        province="广东",
        city="广州",
        tier="red",
        previous_tier=None,
        score=99.0,
        trend=(99.0,),
        reasons=(Reason("r", "![img](http://evil.example/i.png)\n- 列表"),),
        status="new",
        opened_as_of=AS_OF,
    )
    p = PushAlert(alert, "广东", "new", AS_OF, "zh", "https://wt.example.gov.cn")
    for fmt in ("wecom", "dingtalk"):
        body = json.loads(push_body(p, fmt))
        text = body["markdown"]["content" if fmt == "wecom" else "text"]
        lines = text.split("\n")
        manager = next(line for line in lines if line.startswith("> 管理人: "))
        assert manager == (
            "> 管理人: 恶意 ＃ 标题 ＞ 引用 ＊＊粗＊＊ ［点我］（http:／／evil.example/x） "
            '＜font color="red"＞x＜/font＞ ＠all ｀c｀ ｜t｜'
        )
        # the only link is ours; no line of the message starts with the name's markup
        assert text.count("](") == 1 and "](https://wt.example.gov.cn/alerts/9)" in text
        assert "- ！［img］（http:／／evil.example/i.png） - 列表" in lines
        assert not any(line.startswith(("#", "<")) for line in lines)
    title = json.loads(push_body(p, "dingtalk"))["markdown"]["title"]
    assert "\n" not in title and "\r" not in title
    forged = markdown_text(FORGED_ENTRY)
    assert "\n" not in forged and "\r" not in forged and "［红色］" in forged
    assert markdown_text("x" * 500, limit=10) == "x" * 9 + "…"
    # JSON carries the value as data (a JSON string cannot break out)
    assert json.loads(push_body(p, "json"))["manager_name"] == name


# --- 2. exactly once, retries, failures -------------------------------------------------------


def test_a_500_then_200_is_retried_with_backoff_and_delivered_once(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleeps = Sleeps()
    with webhook_server() as (base, hooks):
        hooks.script["/json"] = [(500, "busy"), (503, "still busy")]
        s = _settings(world, tmp_path, monkeypatch, _subs(base))
        summary = pipeline.digest(
            s, AS_OF, cadence="immediate", send=True, clock=CLOCK, mailer=Mailbox(), sleep=sleeps
        )
    assert len(hooks.to("/json")) == 3  # 500, 503, then 200
    assert sleeps == [1.0, 2.0]  # exponential backoff, through the injected sleeper
    assert summary.pushed == 4 and summary.problems == []
    row = next(r for r in _ledger(s) if r["format"] == "json" and r["alert_id"] == 1)
    assert (row["status"], row["attempts"], row["response_status"]) == ("sent", 3, 200)


def test_two_sends_of_the_same_run_deliver_once(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks):
        s = _settings(world, tmp_path, monkeypatch, _subs(base))
        for _ in range(2):  # the DAG's render and send re-run (a retry, a cleared task)
            pipeline.digest(s, AS_OF, cadence="immediate", clock=CLOCK, strict=True)
            pipeline.send_outbox(s, AS_OF, clock=CLOCK, mailer=Mailbox())
        again = pipeline.digest(s, AS_OF, send=True, clock=CLOCK, mailer=Mailbox())
    assert again.pushes_queued == 0 and again.pushed == 0
    assert sorted(p.path.split("?")[0] for p in hooks.received) == [
        "/ding",
        "/json",
        "/sh",
        "/wecom",
    ]
    assert len(_ledger(s)) == 4


def test_a_second_climb_to_red_is_a_new_push(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    days = [dt.date(2024, 7, 1) + dt.timedelta(days=i) for i in range(6)]
    scores = [75, 90, 72, 72, 92, 93]  # orange, red, (hysteresis) red, orange, red, red
    engine = open_store(settings.db_url)
    with webhook_server() as (base, hooks):
        s = _settings(settings, tmp_path, monkeypatch, _subs(base))
        tiers = []
        for day, score in zip(days, scores, strict=True):
            insert_scores(engine, [score_row("P4000001", score, as_of=day, name=FORGED_ENTRY)])
            pipeline.warn(s, day, clock=CLOCK)
            pipeline.digest(s, day, cadence="immediate", send=True, clock=CLOCK, mailer=Mailbox())
            with engine.connect() as c:
                tiers.append(c.execute(sa.text("select tier from alerts")).scalar_one())
        assert tiers == ["orange", "red", "red", "orange", "red", "red"]
    posted = hooks.to("/json")
    assert [p.json()["as_of"] for p in posted] == ["2024-07-02", "2024-07-05"]
    assert {p.json()["alert_id"] for p in posted} == {1}  # one alert, two escalations
    rows = [r for r in _ledger(s) if r["format"] == "json"]
    assert len(rows) == 2 and rows[0]["event_id"] != rows[1]["event_id"]
    # the forged entry in the name did not forge a line of the robot message
    content = hooks.to("/wecom")[0].json()["markdown"]["content"]
    assert not any(line.startswith(("[红色]", "［红色］")) for line in content.split("\n"))


def test_a_400_is_recorded_as_failed_and_listed_until_queued_again(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks):
        hooks.script["/wecom"] = [(400, '{"errcode":93000,"errmsg":"invalid webhook url"}')]
        s = _settings(world, tmp_path, monkeypatch, _subs(base))
        first = pipeline.digest(
            s, AS_OF, cadence="immediate", send=True, clock=CLOCK, mailer=Mailbox()
        )
        row = next(r for r in _ledger(s) if r["format"] == "wecom")
        assert (row["status"], row["attempts"], row["response_status"]) == ("failed", 1, 400)
        assert "invalid webhook url" in row["response_body"] and "HTTP 400" in row["last_error"]
        assert len(hooks.to("/wecom")) == 1  # a 4xx is not retried
        assert first.push_failed_ids == [row["id"]]
        assert any(f"push ids {row['id']}" in p for p in first.problems)
        # the send task fails (and mails the data engineers) while it is failed; nothing re-posted
        with pytest.raises(DeliveryError, match="webhook pushes were refused or given up"):
            pipeline.send_outbox(s, AS_OF, clock=CLOCK, mailer=Mailbox())
        assert len(hooks.to("/wecom")) == 1
        again = pipeline.digest(
            s, AS_OF, retry_failed=True, send=True, clock=CLOCK, mailer=Mailbox()
        )
        assert again.requeued == 1 and again.pushed == 1 and again.problems == []
    assert len(hooks.to("/wecom")) == 2
    assert next(r for r in _ledger(s) if r["format"] == "wecom")["status"] == "sent"


def test_a_robot_refusing_in_a_200_is_a_failure(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks):
        hooks.script["/ding"] = [(200, '{"errcode":310000,"errmsg":"keywords not in content"}')]
        hooks.script["/wecom"] = [(200, '{"errcode":45009,"errmsg":"api freq out of limit"}')]
        s = _settings(world, tmp_path, monkeypatch, _subs(base))
        sleeps = Sleeps()
        pipeline.digest(
            s, AS_OF, cadence="immediate", send=True, clock=CLOCK, mailer=Mailbox(), sleep=sleeps
        )
    by_format = {r["format"]: r for r in _ledger(s) if r["alert_id"] == 1}
    assert by_format["dingtalk"]["status"] == "failed"  # refused: not retried
    assert (by_format["wecom"]["status"], by_format["wecom"]["attempts"]) == ("sent", 2)
    assert len(hooks.to("/ding")) == 1 and sleeps == [1.0]


def test_no_answer_is_retried_a_bounded_number_of_times_then_failed(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: connection refused
    with webhook_server() as (base, hooks):
        subs = _subs(base, max_attempts=4).replace(f"{base}/sh", f"{dead}/sh")
        s = _settings(world, tmp_path, monkeypatch, subs)
        sleeps = Sleeps()
        first = pipeline.digest(
            s, AS_OF, cadence="immediate", send=True, clock=CLOCK, mailer=Mailbox(), sleep=sleeps
        )
        (row,) = [r for r in _ledger(s) if r["target"].endswith("/sh")]
        assert (row["status"], row["attempts"]) == ("pending", 3)  # three tries this send
        assert sleeps == [1.0, 2.0] and "Connection refused" in (row["last_error"] or "")
        assert first.push_retry_later == 1
        assert any("wait for a retry (push ids" in p for p in first.problems)
        second = pipeline.send_outbox(
            s, AS_OF, clock=CLOCK, mailer=Mailbox(), strict=False, sleep=sleeps
        )
        (row,) = [r for r in _ledger(s) if r["target"].endswith("/sh")]
        assert (row["status"], row["attempts"]) == ("failed", 4)  # max_attempts in all
        assert second.push_failed_ids == [row["id"]] and second.push_failed == 1
        assert len(hooks.received) == 3  # the live channels, once each


def test_a_slow_server_times_out_and_is_retried(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks):
        hooks.script["/json"] = [(200, "late")]
        hooks.delay["/json"] = 0.5
        s = _settings(world, tmp_path, monkeypatch, _subs(base))
        sleeps = Sleeps()

        class Once:
            """The first /json post gives up long before the server answers (0.5 s)."""

            def __init__(self) -> None:
                self.fast = HttpPoster(timeout=5.0)
                self.slow = HttpPoster(timeout=0.1)
                self.first = True

            def post(self, url: str, body: bytes) -> HttpAnswer:
                if url.endswith("/json") and self.first:
                    self.first = False
                    return self.slow.post(url, body)
                return self.fast.post(url, body)

        summary = pipeline.digest(
            s,
            AS_OF,
            cadence="immediate",
            send=True,
            clock=CLOCK,
            mailer=Mailbox(),
            sleep=sleeps,
            poster=Once(),
        )
    assert summary.pushed == 4 and sleeps == [1.0]
    row = next(r for r in _ledger(s) if r["format"] == "json" and r["alert_id"] == 1)
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_a_channel_gone_from_the_subscriptions_is_failed_not_posted_elsewhere(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, hooks):
        s = _settings(world, tmp_path, monkeypatch, _subs(base))
        pipeline.digest(s, AS_OF, cadence="immediate", clock=CLOCK)  # queued, not sent
        s = _settings(world, tmp_path, monkeypatch, _subs(base).replace("/sh", "/sh-new"))
        summary = pipeline.send_outbox(s, AS_OF, clock=CLOCK, mailer=Mailbox(), strict=False)
    assert hooks.to("/sh") == [] and hooks.to("/sh-new") == []
    (row,) = [r for r in _ledger(s) if r["target"].endswith("/sh")]
    assert row["status"] == "failed" and "no longer in subscriptions.yaml" in row["last_error"]
    assert summary.push_failed_ids == [row["id"]]


# --- 3. subscriptions and settings ------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> Any:
    path = tmp_path / "subscriptions.yaml"
    path.write_text(text, encoding="utf-8")
    return load_subscriptions(path)


def test_webhooks_in_the_subscriptions_file(tmp_path: Path) -> None:
    subs, _ = _load(tmp_path, _subs("https://qyapi.weixin.qq.com"))
    assert [h.format for h in subs[0].webhooks] == ["wecom", "dingtalk", "json"]
    assert subs[1].webhooks[0].target == "json https://qyapi.weixin.qq.com/sh"
    assert "SECRET" not in repr(subs[0])  # the URL (and its key) is not in the repr
    head = "subscribers:\n  - recipient: a@b.cn\n    province: 广东\n"
    cases = {
        "    cadence: daily\n    webhook: {url: 'https://x.cn/h'}\n": "cadence: immediate",
        "    cadence: immediate\n    webhook: {url: 'ftp://x.cn/h?key=SECRET'}\n": "http(s)",
        "    cadence: immediate\n    webhook: {url: 'https://x.cn:99999/h?key=SECRET'}\n": (
            "a bad port"
        ),
        "    cadence: immediate\n    webhook: {url: 'https://x.cn/h', format: slack}\n": (
            "format 'slack' not one of wecom, dingtalk, json"
        ),
        "    cadence: immediate\n    webhook: {url: 'https://x.cn/h', secret: s}\n": (
            "unknown keys ['secret']"
        ),
        "    cadence: immediate\n    webhook: 'https://x.cn/h'\n": "takes {url: ..., format: ...}",
        "    cadence: immediate\n    webhook: [{url: 'https://x.cn/h'}, {url: 'https://x.cn/h'}]"
        "\n": "named twice",
    }
    for body, message in cases.items():
        with pytest.raises(SubscriptionError) as err:
            _load(tmp_path, "# a comment\n" + head + body)
        assert f"{tmp_path / 'subscriptions.yaml'}:3: subscriber #1" in str(err.value)
        assert message in str(err.value) and "SECRET" not in str(err.value)


def test_console_url_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings({}).console_url is None
    assert load_settings({"WATCHTOWER_CONSOLE_URL": "https://wt.example.gov.cn/"}).console_url == (
        "https://wt.example.gov.cn"
    )
    for bad in (
        "javascript:alert(1)",
        "https://x.cn/a b",
        'https://x.cn/"onmouseover',
        "https://x.cn/?q=1",
    ):
        with pytest.raises(ConfigError, match="WATCHTOWER_CONSOLE_URL"):
            load_settings({"WATCHTOWER_CONSOLE_URL": bad})


def _data(console_url: str | None, language: str = "zh") -> DigestData:
    alert = DigestAlert(
        alert_id=42,
        register_no="P3000001",
        manager_name="广州测试私募基金管理有限公司",
        legal_rep="",
        province="广东",
        city="广州",
        tier="red",
        previous_tier=None,
        score=92.0,
        trend=(80.0, 92.0),
        reasons=(Reason("r", "规则命中"),),
        status="new",
        opened_as_of=AS_OF,
    )
    return DigestData(
        recipient="a@b.cn",
        recipient_name=None,
        language=language,
        cadence="daily",
        jurisdiction="广东",
        min_tier="yellow",
        as_of=AS_OF,
        period_start=AS_OF,
        period_end=AS_OF,
        period_key="daily:2024-06-28",
        sections={"new": [alert], "escalated": [], "open": [], "resolved": []},
        console_url=console_url,
    )


@pytest.mark.parametrize("language", ["zh", "en"])
def test_digests_link_every_alert_to_the_console_when_set(language: str) -> None:
    linked = render_digest(_data("https://wt.example.gov.cn/c", language))
    url = "https://wt.example.gov.cn/c/alerts/42"
    assert f'<a href="{url}"' in linked.html and url in linked.text
    assert "alerts ack" not in linked.html + linked.text  # the console replaces the CLI hint
    plain = render_digest(_data(None, language))
    assert "/alerts/" not in plain.html + plain.text and "<a " not in plain.html
    assert "watchtower alerts ack" in plain.html and "watchtower alerts ack" in plain.text


def test_the_digest_run_links_to_the_console(
    world: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with webhook_server() as (base, _):
        s = _settings(
            world,
            tmp_path,
            monkeypatch,
            _subs(base),
            WATCHTOWER_CONSOLE_URL="https://wt.example.gov.cn",
        )
        summary = pipeline.digest(s, AS_OF, cadence="daily", clock=CLOCK)
    assert summary.html_paths
    html = Path(summary.html_paths[0]).read_text(encoding="utf-8")
    assert 'href="https://wt.example.gov.cn/alerts/' in html
