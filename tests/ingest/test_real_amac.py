"""Real AMAC crawls (tests/fixtures/real_amac, committed by others) through ingestion.

Every real file must ingest with nothing rejected or failed; every row is accounted for; funds
link to their managers by AMAC's id; placeholders are unknown; deregistrations are matched and
classified; consecutive snapshots become change events, once.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from watchtower import pipeline
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.ingest import IngestSummary
from watchtower.store import open_store
from watchtower.store.schema import (
    batches,
    cancellations,
    change_events,
    fund_details,
    fund_snapshots,
    manager_details,
    manager_snapshots,
    quarantine,
    vocabulary,
)
from watchtower.text import terminal_text

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "real_amac"
CLOCK = FixedClock(dt.datetime(2026, 5, 21, 9, 0))


def real_landing(tmp_path: Path) -> Path:
    landing = tmp_path / "landing"
    shutil.copytree(FIXTURES, landing)
    (landing / "SOURCES.md").unlink()
    return landing


#: The settings of a store holding the real files, and what ingesting them gave.
Ingested = tuple[Settings, IngestSummary]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    tmp = tmp_path_factory.mktemp("real")
    from watchtower.config import load_settings

    settings = load_settings({"WATCHTOWER_HOME": str(tmp / "home")})
    summary = pipeline.ingest(settings, real_landing(tmp), clock=CLOCK)
    return settings, summary


def count(settings: Settings, table: sa.Table, *where: sa.ColumnElement[bool]) -> int:
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        return int(
            conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()
        )


def test_every_real_file_ingests_with_nothing_rejected_or_failed(ingested: Ingested) -> None:
    settings, summary = ingested
    refused = [r for r in summary.results if r.status in ("failed", "rejected")]
    assert refused == [], refused
    assert summary.files_failed == summary.files_rejected == summary.rows_rejected == 0
    assert summary.files == 25  # every file; the bundle holds several batches
    assert summary.batches > summary.files
    assert {r.source for r in summary.results} == {
        "managers",
        "manager_details",
        "funds",
        "fund_details",
        "cancellations",
    }
    # nothing lost: for every batch and the summary, read = loaded + quarantined + rejected
    for r in summary.results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_rejected, r
    assert summary.rows_read == (
        summary.rows_loaded + summary.rows_quarantined + summary.rows_rejected
    )
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(
                sa.func.sum(batches.c.rows_read),
                sa.func.sum(batches.c.rows_loaded),
                sa.func.sum(batches.c.rows_quarantined),
                sa.func.sum(batches.c.rows_rejected),
            )
        ).one()
        assert tuple(stored) == (
            summary.rows_read,
            summary.rows_loaded,
            summary.rows_quarantined,
            summary.rows_rejected,
        )
        assert conn.execute(sa.select(sa.func.count()).select_from(quarantine)).scalar_one() == (
            summary.rows_quarantined
        )


def test_six_daily_snapshots_of_the_84_shaanxi_managers(ingested: Ingested) -> None:
    settings, _ = ingested
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        days = conn.execute(
            sa.select(
                manager_snapshots.c.snapshot_date,
                sa.func.count(sa.distinct(manager_snapshots.c.register_no)),
            )
            .where(manager_snapshots.c.office_adr_agg == "陕西省")
            .group_by(manager_snapshots.c.snapshot_date)
            .order_by(manager_snapshots.c.snapshot_date)
        ).all()
        # byte-identical answers on consecutive days are still snapshots of their own day
        assert [(d.isoformat(), n) for d, n in days] == [
            (f"2026-05-{day}", 84) for day in ("07", "13", "15", "18", "19", "20")
        ]
        one = conn.execute(
            sa.select(manager_snapshots).where(manager_snapshots.c.register_no == "P1074620")
        ).first()
    assert one is not None
    assert (one.amac_id, one.reg_adr_agg, one.office_adr_agg) == (
        "2303081121100381",
        "北京市",
        "陕西省",
    )
    assert (one.org_form, one.member_type) == ("有限责任公司", "非会员机构")
    assert one.establish_date == dt.date(2022, 11, 14)  # epoch ms at 00:00 UTC
    assert one.manager_has_product is True


def test_list_row_capital_placeholders_are_unknown(ingested: Ingested) -> None:
    settings, _ = ingested
    assert count(settings, manager_snapshots) > 0
    assert count(settings, manager_snapshots, manager_snapshots.c.paid_in_capital.is_not(None)) == 0
    assert (
        count(settings, manager_snapshots, manager_snapshots.c.subscribed_capital.is_not(None)) == 0
    )
    # the real capital comes from the detail pages
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        detail = conn.execute(
            sa.select(manager_details).where(manager_details.c.register_no == "P1075114")
        ).one()
    assert (detail.subscribed_capital, detail.paid_in_capital) == (1000.0, 1000.0)
    assert (detail.paid_in_ratio, detail.employee_count, detail.qualified_employee_count) == (
        1.0,
        5,
        4,
    )
    assert (detail.scale_low, detail.scale_high) == (0.0, 50000.0)  # 0-5亿元 in 万元
    assert detail.actual_controller == "庞珺"


def test_funds_link_to_managers_by_amac_id(ingested: Ingested) -> None:
    settings, _ = ingested
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        shaanxi = set(
            conn.execute(
                sa.select(manager_snapshots.c.register_no).where(
                    manager_snapshots.c.office_adr_agg == "陕西省"
                )
            ).scalars()
        )
        rows = conn.execute(
            sa.select(fund_snapshots.c.register_no, fund_snapshots.c.link_method)
            .join(batches, batches.c.id == fund_snapshots.c.batch_id)
            .where(batches.c.file_name == "pof_fund_shaanxi_office_products.json")
        ).all()
        site = conn.execute(
            sa.select(fund_snapshots.c.fund_no, fund_snapshots.c.fund_name)
            .join(batches, batches.c.id == fund_snapshots.c.batch_id)
            .where(batches.c.file_name == "site_fund_list_1_21.csv")
        ).all()
        page = conn.execute(sa.select(fund_details).where(fund_details.c.fund_no == "S85784")).one()
    assert rows and all(m == "manager_id" for _, m in rows)
    assert {r for r, _ in rows} <= shaanxi
    # the site's table has no fund number (编号 is its row number): funds known by name
    assert len(site) >= 1998 and all(no is None for no, _ in site)
    assert (page.working_state, page.quarterly_due, page.manager_amac_id) == (
        "正在运作",
        0,
        "2210141456107953",
    )


def test_deregistrations_are_matched_and_classified(ingested: Ingested) -> None:
    settings, _ = ingested
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(cancellations)).all()
    by_name = {r.org_name: r for r in rows if r.cancel_date is not None}
    voluntary = by_name["西安嘉泰基金管理有限公司"]
    assert (voluntary.status, voluntary.cancel_kind) == ("100", "voluntary")  # not a harm label
    forced = by_name["上海中通玄华股权投资基金管理有限公司"]
    assert (forced.status, forced.cancel_kind, forced.org_code) == ("300", "incident", "34235622-6")
    parsed = [r for r in rows if r.cancel_reason and "经营异常" in r.cancel_reason]
    assert parsed and all(r.reason_class == "business_abnormal" for r in parsed)
    assert all(r.match_method in ("register_no", "org_code", "name", "none") for r in rows)


def test_the_real_office_move_is_a_change_event_once(ingested: Ingested, tmp_path: Path) -> None:
    settings, summary = ingested
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        moves = conn.execute(
            sa.select(change_events).where(
                change_events.c.register_no == "P1028974",
                change_events.c.event_type == "address_change",
            )
        ).all()
    assert len(moves) == 1
    move = moves[0]
    assert (move.event_date, move.known_from, move.source) == (
        dt.date(2026, 5, 20),
        dt.date(2026, 5, 20),
        "snapshot_diff",
    )
    assert move.old_value == "陕西省西安市雁塔区曲江新区万众国际A座1501-3"
    assert move.new_value == "陕西省西安市雁塔区曲江新区曲江环球中心101609室"
    drops = count(settings, change_events, change_events.c.event_type == "fund_count_drop")
    assert drops == 5
    # a second delivery of the same crawls changes nothing and counts nothing twice
    again = pipeline.ingest(settings, real_landing(tmp_path), clock=CLOCK)
    assert again.files_loaded == 0 and again.change_events == 0
    assert count(settings, change_events) == summary.change_events


def _csv(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_odd_names_and_new_vocabulary_load_flagged_and_drift_is_reported(
    settings: Settings,
) -> None:
    """17 clean managers, 6 odd names and a blacklisted one: every row loads (none dropped
    from supervision), the odd ones flagged; unknown words are vocabulary drift."""
    rows = [f"P10{i:05d},第{i}号私募基金管理有限公司,有限责任公司,否" for i in range(10)]
    odd = [
        "P1100001,<b>粗体</b>私募基金管理有限公司,有限责任公司,否",
        "P1100002,=HYPERLINK(1)私募,有限责任公司,否",
        "P1100003,发财😀私募基金,有限责任公司,否",
        "P1100004,\u202e私募基金\u202c管理公司,有限责任公司,否",
        f"P1100005,{'长' * 300},有限责任公司,否",
        "P1100006,某私募基金（有限合伙）,有限合伙企业（外资）,否",
        "P1100007,黑名单私募基金管理有限公司,有限责任公司,是",
    ]
    landing = settings.home / "landing"
    header = "registerNo,managerName,orgForm,inBlacklist\n"
    _csv(landing / "managers" / "managers_2024-06-30.csv", header + "\n".join(rows + odd) + "\n")
    summary = pipeline.ingest(settings, landing, clock=CLOCK)
    assert (summary.files_loaded, summary.files_rejected) == (1, 0)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_quarantined) == (17, 17, 0)
    assert summary.rows_flagged == 6
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        black = conn.execute(
            sa.select(manager_snapshots.c.in_blacklist).where(
                manager_snapshots.c.register_no == "P1100007"
            )
        ).scalar_one()
        drift = conn.execute(sa.select(vocabulary)).all()
    assert black is True  # the blacklisted manager is in the store, so it can become red
    assert [(d.field, d.value, d._mapping["count"]) for d in drift] == [
        ("org_form", "有限合伙企业（外资）", 1)
    ]
    out = CliRunner().invoke(app, ["quality", "--drift"])
    assert out.exit_code == 0 and "有限合伙企业（外资）" in out.stdout


def test_a_refused_file_waits_for_readmission_after_an_alias_is_added(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    landing = settings.home / "landing"
    _csv(landing / "managers" / "export_2024-06-30.csv", "管理人代码,管理人全称\nP1000001,甲\n")
    first = pipeline.ingest(settings, landing, clock=CLOCK)
    assert (first.files_rejected, first.rows_rejected, first.rows_read) == (1, 1, 1)
    again = pipeline.ingest(settings, landing, clock=CLOCK)
    assert again.files_skipped == 1 and "readmit" in (again.results[0].message or "")
    # the data engineer adds the export's headers to a copy of the configuration
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir / "expectations", config / "expectations")
    aliases = config / "expectations" / "aliases.yaml"
    aliases.write_text(
        aliases.read_text(encoding="utf-8")
        .replace("  registerNo: [register_number,", "  registerNo: [管理人代码, register_number,")
        .replace(
            "  managerName: [基金管理人全称(中文),",
            "  managerName: [管理人全称, 基金管理人全称(中文),",
        ),
        encoding="utf-8",
    )
    fixed = Settings(
        home=settings.home,
        db_url=settings.db_url,
        config_dir=config,
        landing_dir=settings.landing_dir,
        smtp=settings.smtp,
    )
    refused = first.results[0].batch_id
    assert refused is not None  # a rejected file is recorded as a batch
    results = pipeline.readmit(fixed, [refused], clock=CLOCK)
    assert [r.status for r in results[0].results] == ["loaded"]
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        old = conn.execute(sa.select(batches).where(batches.c.id == refused)).one()
        assert old.status == "rejected" and old.readmitted_by == results[0].results[0].batch_id
        assert conn.execute(sa.select(manager_snapshots.c.register_no)).scalars().all() == [
            "P1000001"
        ]
    with pytest.raises(LookupError):
        pipeline.readmit(fixed, [refused], clock=CLOCK)  # once re-admitted, not again


def test_hostile_text_is_escaped_on_the_terminal() -> None:
    shown = terminal_text("甲\n乙\r\x1b[31m丙\u202e丁")
    assert "\n" not in shown and "\r" not in shown and "\x1b" not in shown
    assert shown == "甲\\n乙\\r\\x1b[31m丙\\u202e丁"


def test_forced_deregistrations_are_labels_and_voluntary_exits_are_not(settings: Settings) -> None:
    from watchtower.store.labels import incident_labels

    landing = settings.home / "landing"
    _csv(
        landing / "managers" / "managers_2024-06-30.csv",
        "registerNo,managerName\nP1000001,甲私募基金管理有限公司\nP1000002,乙私募基金管理有限公司\n",
    )
    page = (
        '{"content": ['
        '{"orgName": "甲私募基金管理有限公司", "orgCode": "34235622-6",'
        ' "cancelDate": 1719705600000, "status": 300, "statusName": "协会注销"},'
        '{"orgName": "乙私募基金管理有限公司", "orgCode": "91310000071242090C",'
        ' "cancelDate": 1719705600000, "status": 100, "statusName": "主动注销"}],'
        ' "totalElements": 2, "totalPages": 1}'
    )
    _csv(landing / "2024-07-01" / "cancelled_manager.json", page)
    summary = pipeline.ingest(settings, landing, clock=CLOCK)
    assert summary.files_failed == summary.files_rejected == 0
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        labels = incident_labels(conn)
        before = incident_labels(conn, dt.date(2024, 6, 30))
    assert labels.to_dict("records") == [
        {
            "register_no": "P1000001",
            "incident_date": dt.date(2024, 6, 30),
            "incident_type": "deregistered",
        }
    ]
    assert before.empty  # known from the day the deregistration page was fetched


def test_capital_placeholders_are_the_public_lists_only(settings: Settings) -> None:
    """1/0 capital is a placeholder in AMAC's list rows (they carry its ``id``); a supervisor's
    own export keeps what it says."""
    landing = settings.home / "landing"
    _csv(
        landing / "managers" / "managers_2024-06-30.csv",
        "registerNo,managerName,paidInCapital,subscribedCapital\nP1000001,甲私募,1,0\n",
    )
    _csv(
        landing / "2024-06-30" / "pof_manager_query.json",
        '{"content": [{"id": "2303081121100381", "registerNo": "P1000002", "managerName": "乙私募",'
        ' "paidInCapital": 1, "subscribedCapital": 0}], "totalElements": 1}',
    )
    summary = pipeline.ingest(settings, landing, clock=CLOCK)
    assert summary.files_loaded == 2
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        capital = {
            r.register_no: (r.paid_in_capital, r.subscribed_capital)
            for r in conn.execute(sa.select(manager_snapshots))
        }
    assert capital == {"P1000001": (1.0, 0.0), "P1000002": (None, None)}


def test_detail_composites_split_whatever_header_carried_them(settings: Settings) -> None:
    """A CSV export of detail-page values (Chinese headers) gets the same split as a page."""
    landing = settings.home / "landing"
    _csv(
        landing / "manager_details" / "details_2024-06-30.csv",
        "登记编号,管理规模区间,注册资本实缴比例,机构提示信息\n"
        "P1000001,5-10亿元,37.5%,注册地与办公地不在同一辖区\n",
    )
    _csv(
        landing / "fund_details" / "fund_pages_2024-06-30.csv",
        "基金编号,季报\nSAB123,应披露4条，按时披露3条，未披露1条\n",
    )
    summary = pipeline.ingest(settings, landing, clock=CLOCK)
    assert (summary.files_loaded, summary.rows_quarantined) == (2, 0)
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        m = conn.execute(sa.select(manager_details)).one()
        f = conn.execute(sa.select(fund_details)).one()
    assert (m.scale_low, m.scale_high, m.paid_in_ratio) == (50000.0, 100000.0, 0.375)
    assert m.institution_tips == ["注册地与办公地不在同一辖区"]
    assert (f.quarterly_due, f.quarterly_on_time, f.quarterly_missing) == (4, 3, 1)


def test_a_malformed_aliases_file_is_one_line(
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from watchtower.cli import main

    config = tmp_path / "config"
    shutil.copytree(settings.config_dir / "expectations", config / "expectations")
    (config / "expectations" / "aliases.yaml").write_text(
        "managers:\n  nosuch: [x]\n", encoding="utf-8"
    )
    landing = tmp_path / "landing"
    landing.mkdir()
    monkeypatch.setenv("WATCHTOWER_CONFIG_DIR", str(config))
    monkeypatch.setattr("sys.argv", ["watchtower", "ingest", str(landing)])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "aliases.yaml: managers.nosuch is not a field of managers" in err
