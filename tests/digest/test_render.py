"""Digest content: routing by jurisdiction, sections, escaping, masking, CSV neutralization."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.digest.world import AS_OF, CLOCK, EVIL_NAME, build_world
from tests.hostile import FORMULA_NAME
from watchtower import pipeline
from watchtower.config import Settings
from watchtower.digest import collect_digest, mask_name, neutralize_cell, period_for, render_digest
from watchtower.digest.model import DigestData
from watchtower.digest.outbox import outbox_paths
from watchtower.warn import Subscription, load_policy, load_subscriptions, normalize_region
from watchtower.warn.routing import Place, SubscriptionError

MODELS = Path(__file__).resolve().parents[2] / "models"


@pytest.mark.parametrize(
    ("name", "masked"),
    [
        ("张三丰", "张*丰"),
        ("张三", "张*"),
        ("欧阳娜娜", "欧**娜"),
        ("阿依·买买提", "阿*·买*提"),
        ("John Smith", "J*** S****"),
        ("  ", ""),
        (None, ""),
        ("王", "王"),
    ],
)
def test_mask_name(name: str | None, masked: str) -> None:
    assert mask_name(name) == masked


@pytest.mark.parametrize(
    ("cell", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+86", "'+86"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "\\t=x"),
        ("正常", "正常"),
        (-2.5, -2.5),
        ("a=b", "a=b"),
        ("a\nb", "a\\nb"),
        ("'=1", "'=1"),
    ],
)
def test_neutralize_cell(cell: object, safe: object) -> None:
    assert neutralize_cell(cell) == safe


def test_region_names_match_with_or_without_suffix() -> None:
    assert normalize_region("广东省") == normalize_region("广东") == "广东"
    assert normalize_region("上海市") == "上海"
    assert normalize_region("广西壮族自治区") == "广西"
    sub = Subscription(recipient="a@b.cn", province="广东省", city="广州")
    assert sub.covers(Place("广东", "广州市")) and not sub.covers(Place("广东", "佛山"))
    assert not sub.covers(Place(None, "广州"))
    # 深圳 is a district of its own (计划单列市): not in 广东's digest
    assert not sub.covers(Place("深圳", "深圳"))
    assert Subscription(recipient="a@b.cn", province="上海").covers(Place("上海", "上海市"))


def test_subscriptions_file_is_valid_and_checked(tmp_path: Path) -> None:
    subs, delivery = load_subscriptions(MODELS / "subscriptions.yaml")
    assert len(subs) >= 5 and delivery.max_attempts >= 1
    assert {s.province for s in subs} >= {"广东", "上海", "北京"}
    bad = tmp_path / "s.yaml"
    bad.write_text("subscribers:\n  - recipient: a@b.cn\n    min_tier: red\n", "utf-8")
    with pytest.raises(SubscriptionError, match="jurisdiction"):
        load_subscriptions(bad)
    bad.write_text("subscribers:\n  - {recipient: a@b.cn, city: 广州, cadence: hourly}\n", "utf-8")
    with pytest.raises(SubscriptionError, match="cadence"):
        load_subscriptions(bad)


def test_periods() -> None:
    assert period_for("daily", AS_OF) == (AS_OF, AS_OF, "daily:2024-06-28")
    assert period_for("weekly", AS_OF, "fri") == (
        AS_OF - dt.timedelta(days=6),
        AS_OF,
        "weekly:2024-W26",
    )
    assert period_for("weekly", AS_OF, "mon") is None
    assert period_for("weekly", AS_OF, "mon", force=True) is not None


def _digest(settings: Settings, sub: Subscription) -> DigestData:
    engine = sa.create_engine(settings.db_url)
    period = period_for(sub.cadence, AS_OF, sub.weekday, force=True)
    assert period is not None
    with engine.connect() as conn:
        return collect_digest(
            conn, sub, as_of=AS_OF, cadence=sub.cadence, period=period, policy=load_policy(MODELS)
        )


@pytest.fixture
def world(settings: Settings) -> Settings:
    build_world(settings)
    return settings


def test_sections_and_jurisdiction(world: Settings) -> None:
    gz = _digest(
        world, Subscription(recipient="gz@x.cn", province="广东", city="广州", min_tier="yellow")
    )
    regs = {k: [a.register_no for a in v] for k, v in gz.sections.items()}
    assert regs == {
        "new": ["P3000005"],
        "escalated": ["P3000001"],
        "open": ["P3000002", "P3000003"],
        "resolved": ["P3000004"],
    }
    esc = gz.sections["escalated"][0]
    assert (esc.previous_tier, esc.tier, esc.trend[-1]) == ("orange", "red", 92.0)
    assert len(esc.trend) == 8  # policy digest.trend_runs
    assert gz.sections["resolved"][0].resolution == "false_positive"
    assert len(gz.chart) == 10 and sum(gz.chart[-1].counts.values()) == 5
    # Province-wide orange subscriber: its district, nothing below orange. 深圳 has a bureau
    # of its own (计划单列市), so P3000006 (深圳) is not 广东's.
    gd = _digest(world, Subscription(recipient="gd@x.cn", province="广东", min_tier="orange"))
    every = {a.register_no for v in gd.sections.values() for a in v}
    assert every == {"P3000001", "P3000002", "P3000003"}
    sz = _digest(world, Subscription(recipient="sz@x.cn", province="深圳", min_tier="orange"))
    assert {a.register_no for v in sz.sections.values() for a in v} == {"P3000006"}
    # Shanghai sees only Shanghai; immediate = red only, new or escalated.
    sh = _digest(world, Subscription(recipient="sh@x.cn", province="上海", cadence="immediate"))
    assert {a.register_no for v in sh.sections.values() for a in v} == {"P3000007"}
    gz_red = _digest(world, Subscription(recipient="g@x.cn", city="广州", cadence="immediate"))
    assert [a.register_no for v in gz_red.sections.values() for a in v] == ["P3000001"]


def test_html_is_escaped_and_names_masked(world: Settings) -> None:
    data = _digest(world, Subscription(recipient="gz@x.cn", city="广州", min_tier="blue"))
    out = render_digest(data)
    assert "<script>" not in out.html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in out.html
    assert EVIL_NAME in out.text  # plain text needs no escaping
    for personal, masked in [
        ("张三丰", "张*丰"),
        ("欧阳娜娜", "欧**娜"),
        ("John Smith", "J*** S****"),
    ]:
        for part in (out.html, out.text, out.csv.decode("utf-8-sig")):
            assert personal not in part
            assert masked in part
    assert "【Watchtower】广州 风险预警日报 2024-06-28" in out.subject
    assert "<" not in out.subject or EVIL_NAME not in out.subject


def test_csv_attachment_is_neutralized_and_complete(world: Settings) -> None:
    data = _digest(world, Subscription(recipient="gz@x.cn", city="广州", min_tier="blue"))
    raw = render_digest(data).csv
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: spreadsheet software reads the Chinese right
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0][:3] == ["分类", "预警编号", "登记编号"]
    assert len(rows) == 1 + data.alert_count
    cells = [c for r in rows for c in r]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'" + FORMULA_NAME in cells  # the formula is kept, as text
    p5 = next(r for r in rows if r[2] == "P3000005")
    assert p5[3] == EVIL_NAME and "=HYPERLINK" in p5[-1]


def test_english_digest(world: Settings) -> None:
    data = _digest(
        world, Subscription(recipient="sz@x.cn", province="广东", city="深圳", language="en")
    )
    out = render_digest(data)
    assert out.subject.startswith("[Watchtower] Daily risk digest 广东/深圳 2024-06-28: 1 new")
    assert "New alerts" in out.html and "Orange" in out.html
    assert "low paid-in ratio (12%)" in out.text


def test_digest_step_routes_everyone_and_skips_the_quiet(world: Settings) -> None:
    s = pipeline.digest(world, AS_OF, clock=CLOCK)
    # 7 subscribers: zhejiang has nothing; its weekly day is monday (not due) anyway.
    assert s.rendered == 6 and s.not_due == 1
    assert s.unrouted == 0 and s.problems == []
    names = sorted(Path(p).name for p in s.html_paths)
    gz = outbox_paths(
        world.outbox_dir,
        "gd-gz-jianguan@example.gov.cn",
        "daily:2024-06-28",
        "name:广东证监局 广州监管组",
    )[1]
    assert gz.name in names and str(gz) in s.html_paths
    again = pipeline.digest(world, AS_OF, clock=CLOCK)
    assert again.rendered == 0 and again.already_queued == 6
    only_daily = pipeline.digest(world, AS_OF + dt.timedelta(days=1), clock=CLOCK, cadence="daily")
    assert only_daily.rendered == 0 and only_daily.nothing_new == 4  # no run that day


def test_a_snoozed_alert_says_so_in_the_weekly_digest(world: Settings) -> None:
    """A snooze quiets the console's queue, not the mail: the weekly digest still lists the
    alert as open and says until when it is snoozed; an expired snooze says nothing."""
    from watchtower.warn.lifecycle import snooze

    engine = sa.create_engine(world.db_url)
    with engine.begin() as c:
        alert_id = c.execute(
            sa.text("SELECT id FROM alerts WHERE register_no = 'P3000003'")
        ).scalar_one()
        snooze(
            c,
            alert_id,
            until=AS_OF + dt.timedelta(days=10),
            by="王科长",
            note=None,
            as_of=AS_OF,
            now=CLOCK.now(),
        )
    for language, label in (("zh", "暂缓至"), ("en", "snoozed until")):
        sub = Subscription(
            recipient="gd@x.cn",
            province="广东",
            cadence="weekly",
            weekday="fri",
            language=language,
        )
        data = _digest(world, sub)
        by_reg = {a.register_no: a for a in data.sections["open"]}
        assert by_reg["P3000003"].snoozed_until == AS_OF + dt.timedelta(days=10)
        others = [a for v in data.sections.values() for a in v if a.register_no != "P3000003"]
        assert others and all(a.snoozed_until is None for a in others)
        out = render_digest(data)
        mark = f"{label} {AS_OF + dt.timedelta(days=10)}"
        assert mark in out.html and mark in out.text
        assert out.text.count(label) == 1


def test_the_calibrated_probability_stands_beside_the_score(world: Settings) -> None:
    engine = sa.create_engine(world.db_url)
    with engine.begin() as c:
        c.execute(
            sa.text(
                "UPDATE risk_scores SET probability_12m = 0.512 WHERE register_no = 'P3000001' "
                "AND as_of = (SELECT last_as_of FROM alerts WHERE register_no = 'P3000001')"
            )
        )
    for language, label in (("zh", "12个月内出险概率"), ("en", "probability of an incident")):
        sub = Subscription(recipient="gz@x.cn", city="广州", min_tier="blue", language=language)
        data = _digest(world, sub)
        alerts = {a.register_no: a for v in data.sections.values() for a in v}
        assert alerts["P3000001"].probability_12m == 0.512
        assert alerts["P3000003"].probability_12m is None  # not calibrated: no number made up
        out = render_digest(data)
        for part in (out.html, out.text):
            assert f"{label}" in part and "51.2%" in part and "—" in part
        rows = list(csv.reader(io.StringIO(out.csv.decode("utf-8-sig"))))
        p1 = next(r for r in rows if r[2] == "P3000001")
        assert "51.2%" in p1
