"""The oversight page (/metrics, /api/metrics, /metrics.csv) and the queue's overdue markers
over HTTP: each supervisor's own numbers, 401 without a session, exports through the one
neutralising CSV writer, and overdue judged on the console's clock."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.console.conftest import StepClock
from tests.console.world import GUANGDONG, SHANGHAI, login
from watchtower.console import app as console_app
from watchtower.store import open_store
from watchtower.store.alerts import alerts
from watchtower.text import neutralize_cell

Client = Callable[..., TestClient]


def _tiers(body: dict[str, Any], field: str) -> dict[str, Any]:
    return {t["tier"]: t[field] for t in body["tiers"]}


def test_the_api_needs_a_session(make_client: Client) -> None:
    c = make_client()
    r = c.get("/api/metrics")
    assert r.status_code == 401 and r.json() == {"error": "not logged in"}
    for path in ("/metrics", "/metrics.csv"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].startswith("/login"), path


def test_two_supervisors_see_their_own_numbers(make_client: Client) -> None:
    gd, sh, ana = make_client(), make_client(), make_client()
    login(gd, "gd")
    login(sh, "sh")
    login(ana, "ana")
    g = gd.get("/api/metrics").json()
    s = sh.get("/api/metrics").json()
    # the digest world: 广东 has P3000001-5 (P3000004 closed as a false alarm), 上海 P3000007
    assert g["total"]["opened"] == len(GUANGDONG) + 1
    assert _tiers(g, "opened") == {"red": 2, "orange": 1, "yellow": 2, "blue": 0}
    assert (g["total"]["false_positive"], g["total"]["precision"]) == (1, 0.0)
    assert g["total"]["acknowledged"] == 1  # closing P3000004 took it up
    assert s["total"]["opened"] == len(SHANGHAI)
    assert _tiers(s, "opened") == {"red": 1, "orange": 0, "yellow": 0, "blue": 0}
    assert s["total"]["precision"] is None and s["total"]["false_positive"] == 0
    assert g["districts"] is None and s["districts"] is None  # supervisors: no breakdown
    everyone = ana.get("/api/metrics").json()
    by = {d["jurisdiction"]: d["opened"] for d in everyone["districts"]}
    assert by["广东"] == g["total"]["opened"] and by["上海"] == s["total"]["opened"]
    assert everyone["total"]["opened"] == sum(by.values())
    # the period defaults to the last 90 days up to the clock's day; levels are shown
    assert (g["start"], g["end"], g["as_of"]) == ("2024-04-03", "2024-07-01", "2024-07-01")
    assert g["service_levels"]["red"] == {"acknowledge_days": 1, "close_days": 14}
    # a jurisdiction narrows a scope, never widens it
    assert sh.get("/api/metrics?jurisdiction=广东").json()["total"]["opened"] == 0
    # the page says the same, in both languages, and is linked from the navigation
    page = gd.get("/metrics").text
    assert "处置漏斗" in page and "准确率" in page and 'href="/metrics"' in page
    assert "Precision" in gd.get("/metrics?lang=en").text
    assert "上海" not in gd.get("/metrics").text.split("<main>")[1]
    assert "分辖区" in ana.get("/metrics?lang=zh").text


def test_a_period_without_alerts_and_bad_parameters(make_client: Client) -> None:
    gd = make_client()
    login(gd, "gd")
    empty = gd.get("/api/metrics?from=2024-01-01&to=2024-06-30").json()
    assert empty["total"]["opened"] == 0 and empty["total"]["acknowledge_median_days"] is None
    assert gd.get("/api/metrics?from=2024-07-01&to=2024-07-01").json()["total"]["opened"] == 5
    assert gd.get("/api/metrics?from=yesterday").status_code == 400
    assert gd.get("/api/metrics?from=2024-07-02&to=2024-07-01").status_code == 400
    assert gd.get("/api/metrics?jurisdiction=Atlantis").status_code == 400
    assert gd.get("/metrics?to=not-a-day").status_code == 400


def test_the_csv_goes_through_the_neutralising_writer(
    make_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    gd, ana = make_client(), make_client()
    login(gd, "gd")
    login(ana, "ana")
    text = gd.get("/metrics.csv").text
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert [(r["group"], r["name"]) for r in rows] == [
        ("tier", t) for t in ("red", "orange", "yellow", "blue", "all")
    ]
    assert rows[-1]["opened"] == "5" and rows[-1]["precision"] == "0.0"
    assert {r["from"] for r in rows} == {"2024-04-03"}
    everyone = list(csv.DictReader(io.StringIO(ana.get("/metrics.csv").text.lstrip("\ufeff"))))
    assert ("district", "广东") in {(r["group"], r["name"]) for r in everyone}
    # every cell, of this export and the queue's, passes the one writer's neutralising
    seen: list[Any] = []

    def spy(value: Any) -> object:
        seen.append(value)
        return neutralize_cell(value)

    monkeypatch.setattr("watchtower.console.app.neutralize_cell", spy)
    body = gd.get("/metrics.csv").text.lstrip("\ufeff")
    cells = sum(len(r) for r in list(csv.reader(io.StringIO(body)))[1:])
    assert len(seen) == cells == 5 * len(console_app._METRICS_COLUMNS)
    seen.clear()
    body = gd.get("/alerts.csv?status=all").text.lstrip("\ufeff")
    assert len(seen) == sum(len(r) for r in list(csv.reader(io.StringIO(body)))[1:]) > 0
    assert neutralize_cell("=1+1") == "'=1+1"  # what the writer does to a formula


def test_overdue_markers_and_filter_follow_the_clock(
    make_client: Client, clock: StepClock, console_settings: Any
) -> None:
    gd = make_client()
    csrf = login(gd, "gd")
    # opened today (the clock's day): nothing is late yet
    assert all(a["overdue"] is None for a in gd.get("/api/alerts").json()["alerts"])
    assert gd.get("/api/alerts?overdue=1").json() == {
        "alerts": [],
        "counts": {"red": 0, "orange": 0, "yellow": 0, "blue": 0},
        "total": 0,
    }
    with open_store(console_settings.db_url).connect() as conn:
        ids = {
            reg: i
            for i, reg in conn.execute(
                alerts.select().with_only_columns(alerts.c.id, alerts.c.register_no)
            )
        }
    # one red alert acknowledged today; two days on, the other red one is late
    r = gd.post(f"/alerts/{ids['P3000001']}/acknowledge", data={"csrf_token": csrf})
    assert r.status_code == 200
    clock.advance(days=2)
    login(gd, "gd")  # the session of two days ago has expired
    body = gd.get("/api/alerts").json()
    late = {a["register_no"]: a["overdue"] for a in body["alerts"]}
    assert late == {
        "P3000001": None,
        "P3000002": "acknowledge",
        "P3000003": None,  # orange: 3 days to acknowledge
        "P3000005": None,
    }
    only = gd.get("/api/alerts?overdue=1").json()
    assert [a["register_no"] for a in only["alerts"]] == ["P3000002"]
    assert only["counts"]["red"] == 1 and only["total"] == 1
    page = gd.get("/alerts").text
    assert page.count('class="overdue"') == 1 and "超时未签收" in page
    assert "overdue to acknowledge" in gd.get("/alerts?lang=en").text
    assert "P3000003" not in gd.get("/alerts?overdue=1").text
    assert gd.get("/api/alerts?overdue=maybe").status_code == 400
    csv_rows = list(
        csv.DictReader(io.StringIO(gd.get("/alerts.csv?overdue=1").text.lstrip("\ufeff")))
    )
    assert [(r["register_no"], r["overdue"]) for r in csv_rows] == [("P3000002", "acknowledge")]
    # the oversight page counts the same, and a supervisor elsewhere sees none of it
    m = gd.get("/api/metrics").json()
    assert _tiers(m, "overdue_acknowledge") == {"red": 1, "orange": 0, "yellow": 0, "blue": 0}
    assert _tiers(m, "acknowledge_median_days") == {
        "red": 0.0,
        "orange": None,
        "yellow": 0.0,
        "blue": None,
    }
    sh = make_client()
    login(sh, "sh")
    assert sh.get("/api/metrics").json()["total"]["overdue_acknowledge"] == 1  # its own red
    assert [a["register_no"] for a in sh.get("/api/alerts?overdue=1").json()["alerts"]] == [
        "P3000007"
    ]
    # thirteen more days: red alerts are past closing (14 days), the acknowledged one too
    clock.advance(days=13)
    login(gd, "gd")
    late = {a["register_no"]: a["overdue"] for a in gd.get("/api/alerts").json()["alerts"]}
    assert late["P3000001"] == "close" and late["P3000002"] == "close"
    assert late["P3000003"] == "acknowledge" and late["P3000005"] == "acknowledge"
