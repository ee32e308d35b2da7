"""The calibrated probability beside the score: /api/alerts, the queue, the alert and manager
pages ("—" where none was calibrated)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.console.world import login
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.alerts import alerts
from watchtower.store.scoring import risk_scores

Client = Callable[..., TestClient]


def test_the_probability_is_shown_beside_the_score(
    make_client: Client, console_settings: Settings
) -> None:
    engine = open_store(console_settings.db_url)
    with engine.begin() as conn:
        conn.execute(
            risk_scores.update()
            .where(risk_scores.c.register_no == "P3000001")
            .values(probability_12m=0.237)
        )
        alert_id = conn.execute(
            sa.select(alerts.c.id).where(alerts.c.register_no == "P3000001")
        ).scalar_one()
    gd = make_client()
    login(gd, "gd")
    rows = {r["register_no"]: r for r in gd.get("/api/alerts").json()["alerts"]}
    assert rows["P3000001"]["probability_12m"] == 0.237
    assert rows["P3000002"]["probability_12m"] is None  # not calibrated: no number
    queue = gd.get("/alerts").text
    assert "12个月内出险概率" in queue and "23.7%" in queue and "—" in queue
    page = gd.get(f"/alerts/{alert_id}").text
    assert "12个月内出险概率" in page and "23.7%" in page
    manager = gd.get("/managers/P3000001").text
    assert "23.7%" in manager
    assert "Probability of an incident within 12 months" in gd.get("/alerts?lang=en").text
    api = gd.get("/api/managers/P3000001").json()
    assert api["alerts"][0]["probability_12m"] == 0.237
