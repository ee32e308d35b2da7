"""watchtower managers show: a manager's profile as known on a day, built on the real fixtures."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.hostile import CONTROL_NAME, FORGED_LINE
from tests.store_rows import loaded_batch
from watchtower import pipeline
from watchtower.cli import app
from watchtower.config import Settings, load_settings
from watchtower.managers import manager_profile
from watchtower.store import open_store
from watchtower.store.alerts import manager_tiers
from watchtower.store.features import feature_snapshots
from watchtower.store.schema import manager_snapshots
from watchtower.store.scoring import risk_scores
from watchtower.text import terminal_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real_amac"
OLD_OFFICE = "陕西省西安市雁塔区曲江新区万众国际A座1501-3"
NEW_OFFICE = "陕西省西安市雁塔区曲江新区曲江环球中心101609室"
HOSTILE_NO = "P1999999"
HOSTILE = CONTROL_NAME
RELATED_NO = "P1999998"
SCORED_NO = "P1005988"
REQUIRED = (
    "register_no",
    "as_of",
    "manager_name",
    "snapshot",
    "details",
    "snapshots",
    "events",
    "features",
    "score",
    "tier",
    "reasons",
    "funds",
)
runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real fixtures ingested once, plus a hostile manager and one scored manager."""
    root = tmp_path_factory.mktemp("managers")
    landing = root / "landing"
    shutil.copytree(FIXTURES, landing)
    (landing / "SOURCES.md").unlink()
    settings = load_settings({"WATCHTOWER_HOME": str(root / "home")})
    pipeline.ingest(settings, landing)
    engine = open_store(settings.db_url)
    now = dt.datetime(2026, 5, 21, 8, 0)
    with engine.begin() as conn:
        batch = loaded_batch(conn, source="managers", at=now, name="hostile.csv")
        conn.execute(
            manager_snapshots.insert().values(
                batch_id=batch,
                row_number=1,
                known_from=dt.date(2026, 5, 20),
                register_no=HOSTILE_NO,
                manager_name=HOSTILE,
                office_address="西安\r\n伪造行",
            )
        )
        # a second hostile manager at the same (hostile) office: a related manager
        conn.execute(
            manager_snapshots.insert().values(
                batch_id=batch,
                row_number=2,
                known_from=dt.date(2026, 5, 20),
                register_no=RELATED_NO,
                manager_name=FORGED_LINE,
                office_address="西安\r\n伪造行",
            )
        )
        reasons = [
            {
                "kind": "rule",
                "code": "R1",
                "severity": 2,
                "value": 1.0,
                "zh": "在管基金减少",
                "en": "Fund count fell",
            }
        ]
        conn.execute(
            risk_scores.insert().values(
                as_of=dt.date(2026, 5, 13),
                register_no=SCORED_NO,
                score=61.5,
                rule_score=70.0,
                rule_hits=["R1"],
                reasons=reasons,
                model_id="m1",
                feature_set_version="fs1",
                created_at=now,
            )
        )
        for day, value in ((dt.date(2026, 5, 13), 1.0), (dt.date(2026, 5, 19), 9.0)):
            conn.execute(
                feature_snapshots.insert().values(
                    as_of=day,
                    register_no=SCORED_NO,
                    feature_set_version="fs1",
                    values={"fund_count_drop_90d": value},
                    created_at=now,
                )
            )
        conn.execute(
            manager_tiers.insert().values(
                as_of=dt.date(2026, 5, 13),
                register_no=SCORED_NO,
                score=61.5,
                raw_tier="yellow",
                tier="yellow",
                down_streak=0,
                policy_version="p1",
                created_at=now,
            )
        )
    engine.dispose()
    return settings


@pytest.fixture(scope="module")
def engine(store: Settings) -> sa.Engine:
    return open_store(store.db_url)


def _show(store: Settings, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["managers", "show", *args, "--db", store.db_url])
    return result.exit_code, result.stdout, result.stderr


def test_address_change_is_on_the_timeline_on_the_day_it_became_known(engine: sa.Engine) -> None:
    p = manager_profile(engine, "P1028974", dt.date(2026, 5, 20))
    assert p is not None
    assert p.manager_name == "深圳鑫泰禾私募证券投资基金管理有限公司"
    moves = [e for e in p.events if e.event_type == "address_change"]
    assert len(moves) == 1
    move = moves[0]
    assert move.event_date == dt.date(2026, 5, 20) and move.source == "snapshot_diff"
    assert (move.old_value, move.new_value) == (OLD_OFFICE, NEW_OFFICE)
    assert OLD_OFFICE in (move.description or "") and NEW_OFFICE in (move.description or "")
    assert p.snapshot is not None and p.snapshot.office_address == NEW_OFFICE
    assert p.snapshots[-1].changes == {"office_address": [OLD_OFFICE, NEW_OFFICE]}
    assert p.snapshots[0].first and [h.known_from for h in p.snapshots] == sorted(
        {h.known_from for h in p.snapshots}
    )
    assert [e.event_date for e in p.events] == sorted(e.event_date for e in p.events)


def test_point_in_time_the_day_before(engine: sa.Engine) -> None:
    p = manager_profile(engine, "P1028974", dt.date(2026, 5, 19))
    assert p is not None and p.as_of == dt.date(2026, 5, 19)
    assert not [e for e in p.events if e.event_type == "address_change"]
    assert p.snapshot is not None and p.snapshot.office_address == OLD_OFFICE
    assert p.snapshot.known_from == dt.date(2026, 5, 19)
    assert all(h.known_from <= dt.date(2026, 5, 19) for h in p.snapshots)
    assert all(f.known_from <= dt.date(2026, 5, 19) for f in p.funds)


def test_default_as_of_is_the_latest_day_known(engine: sa.Engine) -> None:
    p = manager_profile(engine, "p1028974")
    assert p is not None and p.as_of == dt.date(2026, 5, 20)


def test_nothing_known_before_the_first_snapshot(engine: sa.Engine) -> None:
    assert manager_profile(engine, "P1028974", dt.date(2026, 5, 6)) is None
    assert manager_profile(engine, "P0000001", dt.date(2026, 5, 20)) is None


def test_linked_funds_and_no_placeholders(engine: sa.Engine) -> None:
    p = manager_profile(engine, "P1028974", dt.date(2026, 5, 20))
    assert p is not None
    assert p.funds and all(f.fund_no and f.link_method for f in p.funds)
    assert len({f.fund_no for f in p.funds}) == len(p.funds)  # latest per fund, once
    # the list API's placeholder capital (0 / 1) is never shown as the manager's capital
    assert p.snapshot is not None
    assert p.snapshot.paid_in_capital is None and p.snapshot.subscribed_capital is None


def test_unscored_manager_has_null_score_and_tier(store: Settings) -> None:
    code, out, _ = _show(store, "P1028974", "--as-of", "2026-05-20", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert set(REQUIRED) <= set(data)
    assert data["register_no"] == "P1028974" and data["as_of"] == "2026-05-20"
    assert data["score"] is None and data["tier"] is None and data["reasons"] == []
    for e in data["events"]:
        assert {"event_type", "event_date", "source", "description"} <= set(e)
    move = next(e for e in data["events"] if e["event_type"] == "address_change")
    assert move["event_date"] == "2026-05-20" and move["source"] == "snapshot_diff"
    assert data["snapshot"]["office_address"] == NEW_OFFICE
    assert data["funds"] and {
        "fund_no",
        "fund_name",
        "working_state",
        "put_on_record_date",
        "link_method",
    } <= set(data["funds"][0])

    code, text, _ = _show(store, "P1028974", "--as-of", "2026-05-20")
    assert code == 0
    assert "未评分 / not scored by 2026-05-20" in text
    for header in ("最新公示信息 / Latest snapshot", "事件 / Events", "关联基金 / Linked funds"):
        assert header in text
    assert "address_change [snapshot_diff]" in text and NEW_OFFICE in text


def test_scored_manager_score_tier_features_point_in_time(engine: sa.Engine) -> None:
    before = manager_profile(engine, SCORED_NO, dt.date(2026, 5, 12))
    assert before is None or (before.score is None and before.tier is None)
    p = manager_profile(engine, SCORED_NO, dt.date(2026, 5, 20))
    assert p is not None and p.score is not None and p.tier is not None
    assert p.score.score == 61.5 and p.score.as_of == dt.date(2026, 5, 13)
    assert p.reasons[0]["code"] == "R1"
    assert p.tier.tier == "yellow" and p.tier.alert is None
    # the feature snapshot of the scoring day, not a later unscored one
    assert p.features is not None and p.features.as_of == dt.date(2026, 5, 13)
    assert p.features.values == {"fund_count_drop_90d": 1.0}


def test_unknown_register_number_is_one_line_exit_1(store: Settings) -> None:
    code, out, err = _show(store, "P0000001")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ") and "P0000001" in err
    code, _, err = _show(store, "P1028974", "--as-of", "2026-05-01")
    assert code == 1 and err.count("\n") == 1


def test_hostile_name_prints_on_one_line_with_visible_escapes(store: Settings) -> None:
    code, text, _ = _show(store, HOSTILE_NO)
    assert code == 0, text
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    first = text.splitlines()[0]
    assert (
        first == f"{HOSTILE_NO}  恶意\\n公司\\x1b[31m红色\\r\\u202e反转  (截至 / as of 2026-05-20)"
    )
    name_lines = [line for line in text.splitlines() if line.startswith("  名称 / Name:")]
    assert name_lines == ["  名称 / Name: 恶意\\n公司\\x1b[31m红色\\r\\u202e反转"]
    assert "  办公地址 / Office address: 西安\\r\\n伪造行" in text.splitlines()
    # JSON keeps the original value
    code, out, _ = _show(store, HOSTILE_NO, "--json")
    assert json.loads(out)["manager_name"] == HOSTILE


def test_related_managers_are_listed_with_their_link_escaped(store: Settings) -> None:
    code, text, _ = _show(store, HOSTILE_NO)
    assert code == 0, text
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    lines = text.splitlines()
    start = lines.index("== 关联机构 / Related managers (1) ==")
    assert lines[start + 1] == (
        f"  {RELATED_NO}  Evil\\nFAKE ALERT red 100  等级 / tier -  出险 / incident -"
    )
    assert lines[start + 2] == (
        "    与 Evil\\nFAKE ALERT red 100 共用办公地址（西安\\r\\n伪造行） / shares an address "
        "(the other's office address) (西安\\r\\n伪造行) with Evil\\nFAKE ALERT red 100"
    )
    assert not any(line.startswith("FAKE ALERT") for line in lines)
    code, text, _ = _show(store, "P1028974")
    assert code == 0 and "== 关联机构 / Related managers (0) ==\n  无 / none" in text


def test_terminal_text() -> None:
    assert terminal_text("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert terminal_text("\x1b[31m\x9b\x00\x7f") == "\\x1b[31m\\x9b\\x00\\x7f"
    assert terminal_text("\u202a\u202e\u2066\u2069") == "\\u202a\\u202e\\u2066\\u2069"
    assert terminal_text("陕西省西安市 A座") == "陕西省西安市 A座"
    assert terminal_text(None) == ""
