"""The readers' scope in SQL (watchtower.warn.scope) places every manager where the digests'
routing does (watchtower.digest.collect.manager_places), for both addresses, on SQLite and
PostgreSQL; and the queue's other filters run in the query."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from tests.store_rows import loaded_batch
from tests.warn.scores import NOW, insert_scores, score_row
from watchtower import pipeline
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.digest.collect import manager_places
from watchtower.jurisdiction import JURISDICTIONS
from watchtower.store import open_store
from watchtower.store.alerts import alerts
from watchtower.store.schema import manager_snapshots
from watchtower.warn import count_alerts_by_tier, get_alert_in_scope, list_alerts, manager_in_scope

DAY = dt.date(2024, 6, 28)
D1, D2 = dt.date(2024, 5, 31), dt.date(2024, 6, 14)

# register_no -> snapshots [(known_from, snapshot_date, reg agg, reg prov, reg city, office
# prov, office city)], and the (province, city) the scores carry
S = tuple[dt.date, dt.date | None, str | None, str | None, str | None, str | None, str | None]
WORLD: dict[str, tuple[list[S], tuple[str, str | None]]] = {
    # AMAC's aggregate names the district first
    "P4000001": ([(D1, D1, "深圳市", "广东省", "深圳市", "上海市", "上海市")], ("上海", "上海")),
    "P4000002": ([(D1, D1, None, "廣東省", "广州市", "广东", "广州")], ("广东", "广州")),
    # a 计划单列市 is not its province's district
    "P4000003": ([(D1, D1, None, "广东", "深圳", "浙江省", "宁波市")], ("广东", "深圳")),
    "P4000004": ([(D1, D1, "广东省", "广东省", "广州市", "上海", None)], ("上海", None)),
    # the latest snapshot that has the address wins; a later one without it does not erase it
    "P4000005": (
        [(D1, D1, None, "北京市", "北京市", None, None), (D2, D2, None, None, None, None, None)],
        ("北京", "北京"),
    ),
    "P4000006": (
        [
            (D1, D1, None, "北京", "北京", "北京", "北京"),
            (D2, D2, None, "天津", "天津", "天津", None),
        ],
        ("天津", "天津"),
    ),
    # snapshots without the address: no district (whatever the scores say)
    "P4000007": ([(D1, D1, None, None, None, None, None)], ("广东", "广州")),
    # no snapshot at all: the alert's own place
    "P4000008": ([], ("上海市", "上海市")),
    "P4000009": ([], ("广东", "深圳市")),
    # an aggregate naming no district falls back to the city and the province
    "P4000010": ([(D1, D1, "火星", "浙江省", "宁波市", None, None)], ("浙江", "宁波")),
    # a snapshot of unknown date counts as the oldest
    "P4000011": (
        [
            (D2, None, None, "河北省", "石家庄市", None, None),
            (D1, D1, None, "河南", "郑州", None, None),
        ],
        ("河南", "郑州"),
    ),
    "P4000012": ([(D1, D1, "  ", "Shanghai", "上海", "重慶", None)], ("上海", "上海")),
}


def _build(settings: Settings) -> sa.Engine:
    engine = open_store(settings.db_url)
    with engine.begin() as c:
        batch = loaded_batch(
            c,
            source="managers",
            at=NOW,
            name="m.json",
            path="/m.json",
            content_hash="scope",
            rows=1,
        )
        n = 0
        for reg, (snaps, _) in WORLD.items():
            for known, snap_day, agg, prov, city, oprov, ocity in snaps:
                n += 1
                c.execute(
                    manager_snapshots.insert().values(
                        batch_id=batch,
                        row_number=n,
                        known_from=known,
                        snapshot_date=snap_day,
                        register_no=reg,
                        manager_name=f"测试{reg}",
                        reg_adr_agg=agg,
                        register_province=prov,
                        register_city=city,
                        office_province=oprov,
                        office_city=ocity,
                    )
                )
    insert_scores(
        engine,
        [
            score_row(reg, 95, as_of=DAY, province=place[0], city=place[1] or "")
            for reg, (_, place) in WORLD.items()
        ],
    )
    pipeline.warn(settings, DAY, clock=FixedClock(NOW))
    return engine


def _check_same_places(engine: sa.Engine) -> None:
    with engine.connect() as conn:
        stored = {
            reg: (prov, city)
            for reg, prov, city in conn.execute(
                sa.select(alerts.c.register_no, alerts.c.province, alerts.c.city)
            )
        }
        for address in ("registered", "office"):
            routed = manager_places(conn, stored, DAY, address)
            rows = list_alerts(conn, status="all", address=address)
            assert {r["register_no"]: r["jurisdiction"] for r in rows} == {
                reg: p.district for reg, p in routed.items()
            }, address
            for j in JURISDICTIONS:
                got = {
                    r["register_no"]
                    for r in list_alerts(conn, status="all", districts={j.zh}, address=address)
                }
                assert got == {reg for reg, p in routed.items() if p.district == j.zh}, (
                    address,
                    j.zh,
                )
                assert got == {
                    reg
                    for reg in WORLD
                    if manager_in_scope(conn, reg, districts={j.zh}, address=address)
                }, (address, j.zh)
        assert list_alerts(conn, status="all", districts=set()) == []


def test_the_sql_scope_places_managers_as_the_digests_route_them(settings: Settings) -> None:
    engine = _build(settings)
    _check_same_places(engine)
    with engine.connect() as conn:
        regs = {r["register_no"] for r in list_alerts(conn, districts={"广东"})}
        assert regs == {"P4000002", "P4000004"}  # not 深圳's, not the unplaced one
        office = {r["register_no"] for r in list_alerts(conn, districts={"上海"}, address="office")}
        assert office == {"P4000001", "P4000004", "P4000008"}


@pytest.mark.postgres
def test_the_sql_scope_on_postgresql(postgres_url: str, settings: Settings) -> None:
    from dataclasses import replace

    _check_same_places(_build(replace(settings, db_url=postgres_url)))


def test_filters_counts_and_one_alert_in_scope(settings: Settings) -> None:
    from tests.digest.world import build_world

    engine = build_world(settings)
    with engine.connect() as conn:
        assert [r["register_no"] for r in list_alerts(conn, districts={"广东"})] == [
            "P3000001",
            "P3000002",
            "P3000003",
            "P3000005",
        ]  # red 92, red 20, orange 75, yellow 57: tier first, then score
        assert [r["register_no"] for r in list_alerts(conn, rule="blacklist")] == ["P3000002"]
        assert [r["register_no"] for r in list_alerts(conn, rule="black")] == []  # whole codes
        assert [r["register_no"] for r in list_alerts(conn, search="p3000007")] == ["P3000007"]
        assert [r["register_no"] for r in list_alerts(conn, search="资产管理")] == ["P3000005"]
        assert [r["register_no"] for r in list_alerts(conn, search="100%")] == []  # LIKE escaped
        assert [r["register_no"] for r in list_alerts(conn, jurisdiction="Shenzhen")] == [
            "P3000006"
        ]
        # a filter district outside the scope finds nothing (the scope is not widened)
        assert list_alerts(conn, districts={"广东"}, jurisdiction="上海") == []
        assert len(list_alerts(conn, limit=2)) == 2
        assert count_alerts_by_tier(conn, districts={"广东"}) == {
            "red": 2,
            "orange": 1,
            "yellow": 1,
            "blue": 0,
        }
        one = list_alerts(conn, search="P3000007")[0]
        assert get_alert_in_scope(conn, one["id"], districts={"上海"})["jurisdiction"] == "上海"  # type: ignore[index]
        assert get_alert_in_scope(conn, one["id"], districts={"广东"}) is None
        assert get_alert_in_scope(conn, 99999, districts=None) is None
        with pytest.raises(ValueError, match="not a district"):
            list_alerts(conn, jurisdiction="火星")
