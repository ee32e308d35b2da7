"""The manager page and its API: the score and tier chart (well-formed, accessible SVG), one
timeline of changes and alert events, funds, peers, related managers within the reader's
scope, each as known on a day."""

from __future__ import annotations

import re
import statistics
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.console.manager_world import (
    ADDRESS,
    CHANGED,
    CONTROLLER,
    EXECUTIVE,
    NEW_REP,
    PAID_IN,
    SECURITIES,
    TYPES,
    add_manager_world,
)
from tests.console.world import login
from tests.digest.world import DAYS, MANAGERS
from tests.hostile import SCRIPT_NAME
from watchtower.chart import ScorePoint, score_timeline_svg
from watchtower.config import Settings
from watchtower.detect import DetectConfig
from watchtower.managers import (
    change_timeline,
    manager_profile,
    peer_comparison,
    related_managers,
    score_history,
)
from watchtower.store import open_store

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def world(console_settings: Settings) -> Settings:
    add_manager_world(open_store(console_settings.db_url))
    return console_settings


@pytest.fixture
def gd(world: Settings, make_client: Callable[..., TestClient]) -> TestClient:
    client = make_client()
    login(client, "gd")
    return client


def _svg_of(html: str) -> ET.Element:
    found = re.search(r"<svg\b.*?</svg>", html, re.S)
    assert found, "no SVG in the page"
    return ET.fromstring(found.group(0))  # well-formed, or this raises


def test_the_chart_is_well_formed_accessible_svg_of_every_run_day(gd: TestClient) -> None:
    page = gd.get("/managers/P3000001")
    assert page.status_code == 200
    svg = _svg_of(page.text)
    assert svg.tag == f"{SVG}svg" and svg.get("width") == "100%" and svg.get("viewBox")
    assert svg.get("role") == "img"
    title, desc = svg.find(f"{SVG}title"), svg.find(f"{SVG}desc")
    assert title is not None and desc is not None
    assert svg.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert title.text == "评分与等级走势" and "10 次运行" in (desc.text or "")
    # one dot per run day, in the tier it reached (P3000001 rose from 50 to 92)
    dots = svg.findall(f".//{SVG}circle")
    assert len(dots) == len(DAYS)
    assert dots[-1].get("data-tier") == "red" and dots[0].get("data-tier") == "blue"
    assert all(d.get("aria-label") and d.find(f"{SVG}title") is not None for d in dots)
    # the four tier bands from the policy's thresholds (models/tiers.yaml)
    bands = svg.findall(f".//{SVG}g[@class='bands']/{SVG}rect")
    labels = [b.findtext(f"{SVG}title") for b in bands]
    assert labels == ["红色 ≥ 85", "橙色 ≥ 70", "黄色 ≥ 55", "蓝色 ≥ 40"]
    assert "<script" not in page.text.split("<svg", 1)[1].split("</svg>", 1)[0]
    # the table fallback holds the same days
    assert page.text.count('<td data-label="日期">') == len(DAYS)
    # English on request
    en = _svg_of(gd.get("/managers/P3000001?lang=en").text)
    assert en.findtext(f"{SVG}title") == "Score and tier over time"


def test_the_chart_escapes_text_and_draws_a_single_day() -> None:
    hostile = '</svg><script>alert("x")</script>'
    svg = score_timeline_svg(
        [ScorePoint(DAYS[0], 42.0, "blue")],
        {"red": 85, "orange": 70, "yellow": 55, "blue": 40},
        title=hostile,
        desc=hostile,
        tier_label=lambda t: str(t),
        point_label=lambda p: hostile,
    )
    root = ET.fromstring(svg)
    assert root.findtext(f"{SVG}title") == hostile  # as text, not markup
    assert "<script>" not in svg
    assert len(root.findall(f".//{SVG}circle")) == 1


def test_the_alert_page_shows_the_managers_chart_and_peers(gd: TestClient) -> None:
    alerts = {a["register_no"]: a["id"] for a in gd.get("/api/alerts").json()["alerts"]}
    page = gd.get(f"/alerts/{alerts['P3000001']}").text
    assert len(_svg_of(page).findall(f".//{SVG}circle")) == len(DAYS)
    assert 'data-feature="paid_in_ratio"' in page


def test_the_timeline_merges_changes_and_alert_events_newest_first(gd: TestClient) -> None:
    body = gd.get("/api/managers/P3000001").json()
    timeline = body["timeline"]
    days = [e["day"] for e in timeline]
    assert days == sorted(days, reverse=True)
    rep = [e for e in timeline if e["kind"] == "snapshot"]
    assert [(e["day"], e["code"], e["old"], e["new"]) for e in rep] == [
        (CHANGED.isoformat(), "artificial_person_name", MANAGERS["P3000001"][4], NEW_REP)
    ]
    assert rep[0]["label"] == {"zh": "法定代表人", "en": "Legal representative"}
    event = next(e for e in timeline if e["kind"] == "event")
    assert (event["day"], event["code"], event["text"]) == (
        DAYS[7].isoformat(),
        "litigation",
        SCRIPT_NAME,
    )
    assert event["label"] == {"zh": "涉诉", "en": "litigation"}
    actions = [e for e in timeline if e["kind"] == "alert"]
    assert actions[-1]["code"] == "open" and actions[-1]["label"]["en"] == "alert opened"
    assert {e["code"] for e in actions} >= {"open", "escalate"}
    assert all(e["actor"] and e["alert_id"] for e in actions)
    page = gd.get("/managers/P3000001").text
    assert "法定代表人" in page and f"{MANAGERS['P3000001'][4]} → {NEW_REP}" in page
    assert "&lt;script&gt;" in page and SCRIPT_NAME not in page  # hostile text escaped
    assert "alert opened" in gd.get("/managers/P3000001?lang=en").text


def test_the_timeline_is_as_known_on_a_day(world: Settings) -> None:
    engine = open_store(world.db_url)
    with engine.connect() as conn:
        before = manager_profile(conn, "P3000001", DAYS[3])
        assert before is not None
        entries = change_timeline(conn, before)
        points = score_history(conn, "P3000001", DAYS[3])
    assert {e.kind for e in entries} == {"alert"}  # no change, no event known yet
    assert all(e.day <= DAYS[3] for e in entries)
    assert [p.as_of for p in points] == DAYS[:4]


def test_funds_with_their_type_state_and_filing_date(gd: TestClient) -> None:
    funds = gd.get("/api/managers/P3000001").json()["funds"]
    shown = [
        (f["fund_no"], f["fund_name"], f["fund_type"], f["working_state"], f["put_on_record_date"])
        for f in funds
    ]
    assert shown == [
        ("S0001", "甲号证券投资基金", "私募证券投资基金", "正在运作", "2020-01-02"),  # detail page
        ("S0002", "乙号股权投资基金", "私募股权投资基金", "提前清算", "2021-03-04"),  # list row
    ]
    page = gd.get("/managers/P3000001").text
    assert "提前清算" in page and "私募证券投资基金" in page


def test_peers_on_the_features_the_reasons_name(gd: TestClient) -> None:
    peers = gd.get("/api/managers/P3000001").json()["peers"]
    # eight managers on the day, fewer than models/detectors.yaml's min_size: one pooled group
    assert (peers["peer_group"], peers["group_size"], peers["as_of"]) == (
        "*",
        len(PAID_IN),
        DAYS[-1].isoformat(),
    )
    (f,) = peers["features"]
    assert f["feature"] == "paid_in_ratio" and f["label"]["zh"]
    assert f["value"] == pytest.approx(0.12)
    assert f["peer_median"] == pytest.approx(statistics.median(PAID_IN.values()))
    assert f["percentile"] == pytest.approx(100 * 0.5 / len(PAID_IN), abs=0.05)  # the lowest
    page = gd.get("/managers/P3000001").text
    assert "同类中位数" in page and "全体管理人" in page


def test_peers_are_the_detectors_peer_groups(world: Settings) -> None:
    with open_store(world.db_url).connect() as conn:
        peers = peer_comparison(conn, "P3000001", config=DetectConfig(peer_min_size=3))
    assert peers is not None
    own = [v for r, v in PAID_IN.items() if TYPES[r] == SECURITIES]
    assert (peers.peer_group, peers.group_size) == (SECURITIES, len(own))
    (f,) = peers.features
    assert f.peer_median == pytest.approx(statistics.median(own))
    assert f.percentile == pytest.approx(100 * 0.5 / len(own))
    assert f.peers == len(own)


def _related(body: dict[str, Any]) -> dict[str, list[list[str]]]:
    return {m["register_no"]: m["links"] for m in body["related"]}


def test_related_managers_only_inside_the_readers_scope(
    gd: TestClient, make_client: Callable[..., TestClient]
) -> None:
    related = _related(gd.get("/api/managers/P3000001").json())
    # P3000007 (上海) shares the representative and P3000008 (北京) the address: not gd's
    assert related == {
        "P3000002": [["legal_rep", NEW_REP]],
        "P3000003": [["controller", CONTROLLER]],
        "P3000005": [["executive", EXECUTIVE]],
    }
    tiers = {
        m["register_no"]: m["tier"] for m in gd.get("/api/managers/P3000001").json()["related"]
    }
    # scored 20, P3000002 is red by its blacklist rule's floor; 75 is orange, 57 yellow
    assert tiers == {"P3000002": "red", "P3000003": "orange", "P3000005": "yellow"}
    page = gd.get("/managers/P3000001").text
    assert "P3000007" not in page and "P3000008" not in page
    assert "同一实际控制人" in page and "&lt;script&gt;" in page
    ana = make_client()
    login(ana, "ana")
    everywhere = _related(ana.get("/api/managers/P3000001").json())
    assert everywhere["P3000007"] == [["legal_rep", NEW_REP]]
    assert everywhere["P3000008"] == [["office_address", ADDRESS]]
    assert set(everywhere) == {"P3000002", "P3000003", "P3000005", "P3000007", "P3000008"}


def test_related_managers_as_known_on_a_day(world: Settings) -> None:
    with open_store(world.db_url).connect() as conn:
        before = related_managers(conn, "P3000001", districts=None, as_of=DAYS[3])
        after = related_managers(conn, "P3000001", districts=["广东"], as_of=CHANGED)
    assert before == []  # 张三丰 is nobody else's representative; nothing else known yet
    assert [m.register_no for m in after] == ["P3000002", "P3000003", "P3000005"]


@pytest.mark.postgres
def test_related_managers_and_peers_on_postgresql(postgres_url: str, settings: Settings) -> None:
    from dataclasses import replace

    from tests.digest.world import build_world

    engine = build_world(replace(settings, db_url=postgres_url))
    add_manager_world(engine)
    with engine.connect() as conn:
        related = related_managers(conn, "P3000001", districts=["广东"], as_of=CHANGED)
        peers = peer_comparison(conn, "P3000001", config=DetectConfig())
    assert {m.register_no: m.links for m in related} == {
        "P3000002": (("legal_rep", NEW_REP),),
        "P3000003": (("controller", CONTROLLER),),
        "P3000005": (("executive", EXECUTIVE),),  # matched in the JSON text, as on SQLite
    }
    assert peers is not None and peers.group_size == len(PAID_IN)
