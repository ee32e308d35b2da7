"""``watchtower demo`` end to end on a small world: every step runs and says what it did."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from watchtower.cli import app


@pytest.mark.slow
def test_demo_runs_the_whole_flow_and_points_at_its_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHTOWER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    result = CliRunner().invoke(
        app,
        ["demo", "--managers", "80", "--start", "2023-01-01", "--end", "2024-12-31", "--seed", "5"],
    )
    out = result.output
    assert result.exit_code == 0, out
    for step in ("synthesize", "ingest", "backtest", "warn and render digests"):
        assert step in out
    assert "Evaluation 评估" in out and "evaluation skipped" not in out
    assert "AUC-ROC" in out and "Rules only" in out and "IForest" in out
    # the calibrated probability beside each listed score, and its reliability measured
    assert "Calibration 校准" in out
    listed = out.split("Most severe open alerts", 1)[1].splitlines()[1:4]
    assert listed and all(" / 100 " in line for line in listed)
    assert all(line.split(" / 100 ")[1].split()[0].endswith(("%", "—")) for line in listed)
    digest = next(line for line in out.splitlines() if line.startswith("Open a digest: "))
    html = Path(digest.removeprefix("Open a digest: "))
    assert html.is_file() and "<html" in html.read_text(encoding="utf-8").lower()
    assert (tmp_path / "home" / "watchtower.db").is_file()
    # Running it again reuses the store: files already loaded are skipped, days already done too.
    again = CliRunner().invoke(
        app,
        ["demo", "--managers", "80", "--start", "2023-01-01", "--end", "2024-12-31", "--seed", "5"],
    )
    assert again.exit_code == 0, again.output
    assert "0 loaded" in again.output and "already done" in again.output
    assert dt.date(2024, 12, 31).isoformat() in again.output


@pytest.mark.slow
def test_a_supervisor_works_the_demo_store_in_the_console(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13's "done when": after the demo, ``users add`` and the console, a supervisor of
    one district sees only that district's alerts (page and API), opens a manager with its
    chart and reasons, snoozes and closes an alert, all in the audit trail; another district's
    manager answers 404."""
    from collections import Counter

    from fastapi.testclient import TestClient

    from tests.console.world import csrf_of, login
    from watchtower.config import load_settings
    from watchtower.console import console_audit_rows, create_app
    from watchtower.store import close_store, open_store
    from watchtower.warn import alert_trail

    monkeypatch.setenv("WATCHTOWER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    runner = CliRunner()
    demo = ["demo", "--managers", "80", "--start", "2023-01-01", "--end", "2024-12-31"]
    assert runner.invoke(app, [*demo, "--seed", "5"]).exit_code == 0
    listed = runner.invoke(app, ["alerts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    open_alerts = json.loads(listed.output)
    places = Counter(a["jurisdiction"] for a in open_alerts if a["jurisdiction"])
    district, mine = places.most_common(1)[0]
    other = next(a for a in open_alerts if a["jurisdiction"] not in (district, None))
    password = "demo passphrase 2024"
    added = runner.invoke(
        app,
        ["users", "add", "sup", "--role", "supervisor", "--jurisdiction", district],
        input=password + "\n",
    )
    assert added.exit_code != 0  # without --password-stdin it asks a terminal; refused here
    added = runner.invoke(
        app,
        [
            "users",
            "add",
            "sup",
            "--role",
            "supervisor",
            "--jurisdiction",
            district,
            "--password-stdin",
        ],
        input=password + "\n",
    )
    assert added.exit_code == 0, added.output

    settings = load_settings()
    with TestClient(create_app(settings)) as client:
        token = login(client, "sup", password)
        queue = client.get("/api/alerts").json()
        assert queue["total"] == mine
        assert {a["jurisdiction"] for a in queue["alerts"]} == {district}
        page = client.get("/alerts").text
        assert other["register_no"] not in page
        assert client.get(f"/managers/{other['register_no']}").status_code == 404
        assert client.get(f"/api/managers/{other['register_no']}").status_code == 404

        alert = queue["alerts"][0]
        manager = client.get(f"/managers/{alert['register_no']}")
        assert manager.status_code == 200 and "<svg" in manager.text
        detail = client.get(f"/alerts/{alert['id']}").text
        assert "预警原因" in detail  # the reasons, with their values
        day = dt.date.fromisoformat(alert["last_as_of"])
        r = client.post(
            f"/alerts/{alert['id']}/snooze",
            data={"csrf_token": token, "until": str(day + dt.timedelta(days=14)), "note": "待核实"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
        assert alert["id"] not in {a["id"] for a in client.get("/api/alerts").json()["alerts"]}
        token = csrf_of(client.get(f"/alerts/{alert['id']}").text)
        r = client.post(
            f"/alerts/{alert['id']}/close",
            data={"csrf_token": token, "resolution": "confirmed", "note": "现场核查属实"},
            follow_redirects=False,
        )
        assert r.status_code == 303, r.text
    with open_store(settings.db_url).connect() as c:
        trail = [(e["actor"], e["action"]) for e in alert_trail(c, alert["id"])]
        audit = [(e["actor"], e["action"]) for e in console_audit_rows(c)]
    close_store(settings.db_url)
    assert trail[-2:] == [("sup", "snooze"), ("sup", "close")]
    assert ("sup", "login") in audit
