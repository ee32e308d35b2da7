"""The alert read queries: filters in the database, regions compared normalized."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from watchtower.store import close_store, open_store
from watchtower.store.alerts import alerts
from watchtower.warn.queries import alerts_open_on, list_alerts

DAY = dt.date(2024, 6, 30)
NOW = dt.datetime(2024, 7, 1, 3)


def _alert(n: int, province: str | None, city: str | None, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "register_no": f"P{n:07d}",
        "open_key": f"P{n:07d}",
        "manager_name": f"m{n}",
        "province": province,
        "city": city,
        "status": "new",
        "tier": "red",
        "peak_tier": "red",
        "score": 50.0 + n,
        "rule_hits": [],
        "reasons": [],
        "opened_as_of": DAY,
        "last_as_of": DAY,
        "last_signal_as_of": DAY,
        "opened_at": NOW,
        "updated_at": NOW,
        "closed_as_of": None,  # every row has every key: an executemany takes the first's
    }
    row.update(extra)
    return row


@pytest.fixture
def engine(tmp_path: Path) -> Any:
    url = f"sqlite:///{tmp_path / 'q.db'}"
    engine = open_store(url)
    rows = [
        _alert(1, "广东省", "广州市"),
        _alert(2, "广东", "深圳市", tier="orange", peak_tier="orange"),
        _alert(3, "北京市", "北京市"),
        _alert(4, None, None),
        _alert(5, "广东省", "广州", open_key=None, status="closed", closed_as_of=DAY),
    ]
    with engine.begin() as conn:
        conn.execute(alerts.insert(), rows)
    yield engine
    close_store(url)


def _regs(rows: list[dict[str, Any]]) -> list[str]:
    return [r["register_no"] for r in rows]


def test_regions_match_in_their_normalized_form(engine: Any) -> None:
    with engine.connect() as conn:
        # most severe first: red before orange, then the higher score
        assert _regs(list_alerts(conn, province="广东")) == ["P0000001", "P0000002"]
        assert _regs(list_alerts(conn, province="广东省", tier="orange")) == ["P0000002"]
        assert _regs(list_alerts(conn, city="广州", status="all")) == ["P0000005", "P0000001"]
        assert _regs(list_alerts(conn, province="上海")) == []
        assert _regs(list_alerts(conn, status="closed")) == ["P0000005"]
        assert len(list_alerts(conn, status="all")) == 5
        with pytest.raises(ValueError, match="unknown alert status"):
            list_alerts(conn, status="maybe")


def test_open_on_a_day(engine: Any) -> None:
    with engine.connect() as conn:
        assert _regs(alerts_open_on(conn, DAY)) == ["P0000001", "P0000002", "P0000003", "P0000004"]
        assert len(alerts_open_on(conn, None)) == 5
        assert alerts_open_on(conn, DAY - dt.timedelta(days=1)) == []
