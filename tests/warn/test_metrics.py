"""The oversight figures (watchtower.warn.metrics) on a hand-built world, against hand counts:
alerts of 广东 and 上海 opened, taken up and closed at chosen times through the lifecycle
functions (what the console and the CLI call); on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.warn.test_service import LEVELS
from watchtower.store import close_store, open_store
from watchtower.store.alerts import alert_events, alerts
from watchtower.warn import alert_metrics, percentile, transition

AS_OF = dt.date(2024, 7, 1)
START, END = AS_OF - dt.timedelta(days=89), AS_OF
BY = "周科长"


def _at(month: int, day: int, hour: float = 8) -> dt.datetime:
    return dt.datetime(2024, month, day) + dt.timedelta(hours=hour)


#: id -> (province, tier, opened at, [(status it moves to, resolution, when)])
WORLD: dict[int, tuple[str, str, dt.datetime, list[tuple[str, str | None, dt.datetime]]]] = {
    # 广东
    1: (
        "广东",
        "red",
        _at(6, 1),
        [
            ("acknowledged", None, _at(6, 2)),  # 1 day
            ("investigating", None, _at(6, 3)),
            ("closed", "confirmed", _at(6, 11)),  # 10 days
        ],
    ),
    2: (
        "广东",
        "red",
        _at(6, 10),
        [("acknowledged", None, _at(6, 13)), ("closed", "false_positive", _at(6, 20))],
    ),
    3: ("广东", "red", _at(6, 25), []),  # 6 days untouched: overdue to acknowledge
    4: (
        "广东",
        "red",
        _at(6, 1),
        [("acknowledged", None, _at(6, 1, 20)), ("investigating", None, _at(6, 2))],
    ),  # 30 days open: overdue to close
    5: (
        "广东",
        "orange",
        _at(6, 20),
        [("acknowledged", None, _at(6, 21)), ("closed", "resolved", _at(6, 26))],
    ),
    6: ("广东", "orange", _at(5, 1), [("closed", "confirmed", _at(5, 5))]),  # straight from new
    7: ("广东", "yellow", _at(3, 1), []),  # opened before the period; overdue to close now
    8: ("广东", "blue", _at(6, 30), []),
    9: ("广东", "blue", _at(5, 1), []),  # closed by the quiet period (below)
    # 上海
    10: (
        "上海",
        "red",
        _at(6, 15),
        [("acknowledged", None, _at(6, 15, 12)), ("closed", "confirmed", _at(6, 18))],
    ),
    11: ("上海", "orange", _at(6, 1), []),  # 30 days untouched: overdue to acknowledge
}


def _row(n: int, province: str, tier: str, opened: dt.datetime) -> dict[str, Any]:
    reg = f"P{n:07d}"
    return {
        "id": n,
        "register_no": reg,
        "open_key": reg,
        "manager_name": f"m{n}",
        "province": province,
        "city": province,
        "status": "new",
        "tier": tier,
        "peak_tier": tier,
        "score": 70.0,
        "rule_hits": [],
        "reasons": [],
        "opened_as_of": opened.date(),
        "last_as_of": opened.date(),
        "last_signal_as_of": opened.date(),
        "opened_at": opened,
        "updated_at": opened,
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = (
        f"sqlite:///{tmp_path / 'm.db'}"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    engine = open_store(url)
    with engine.begin() as conn:
        for n, (province, tier, opened, moves) in WORLD.items():
            conn.execute(alerts.insert().values(**_row(n, province, tier, opened)))
            for status, resolution, when in moves:
                transition(
                    conn,
                    n,
                    status,
                    by=BY,
                    note=None,
                    as_of=when.date(),
                    now=when,
                    resolution=resolution,
                )
        # the quiet period closes alert 9: not a person's work, no outcome anyone judged
        closed = _at(5, 20)
        conn.execute(
            alerts.update()
            .where(alerts.c.id == 9)
            .values(
                status="closed",
                open_key=None,
                resolution="resolved",
                closed_as_of=closed.date(),
                closed_by="watchtower",
                closed_at=closed,
            )
        )
        conn.execute(
            alert_events.insert().values(
                alert_id=9,
                register_no="P0000009",
                as_of=closed.date(),
                at=closed,
                actor="watchtower",
                action="auto_resolve",
                from_status="new",
                to_status="closed",
                from_tier="blue",
                to_tier="blue",
            )
        )
    yield engine
    close_store(url)


def _metrics(conn: sa.Connection, **kwargs: Any) -> Any:
    return alert_metrics(conn, start=START, end=END, levels=LEVELS, as_of=AS_OF, **kwargs)


def _by_tier(m: Any, field: str) -> dict[str, Any]:
    return {t.tier: getattr(t, field) for t in m.tiers}


def test_a_district_s_figures_match_the_hand_counts(engine: Any) -> None:
    with engine.connect() as conn:
        gd = _metrics(conn, districts={"广东"})
    assert _by_tier(gd, "opened") == {"red": 4, "orange": 2, "yellow": 0, "blue": 2}
    assert _by_tier(gd, "acknowledged") == {"red": 3, "orange": 2, "yellow": 0, "blue": 0}
    assert _by_tier(gd, "investigated") == {"red": 2, "orange": 0, "yellow": 0, "blue": 0}
    assert _by_tier(gd, "confirmed") == {"red": 1, "orange": 1, "yellow": 0, "blue": 0}
    assert _by_tier(gd, "false_positive") == {"red": 1, "orange": 0, "yellow": 0, "blue": 0}
    # explained by a person only: the quiet period's closing of alert 9 is nobody's outcome
    assert _by_tier(gd, "explained") == {"red": 0, "orange": 1, "yellow": 0, "blue": 0}
    assert _by_tier(gd, "precision") == {"red": 0.5, "orange": 1.0, "yellow": None, "blue": None}
    # days to acknowledge: red 0.5, 1, 3; orange 1, 4 (closing straight from new takes it up)
    assert _by_tier(gd, "acknowledge_median_days") == pytest.approx(
        {"red": 1.0, "orange": 2.5, "yellow": None, "blue": None}
    )
    assert _by_tier(gd, "acknowledge_p90_days") == pytest.approx(
        {"red": 2.6, "orange": 3.7, "yellow": None, "blue": None}
    )
    # days to close, by a person: red 10, 10; orange 6, 4; blue none (the quiet period's)
    assert _by_tier(gd, "close_median_days") == pytest.approx(
        {"red": 10.0, "orange": 5.0, "yellow": None, "blue": None}
    )
    assert _by_tier(gd, "close_p90_days") == pytest.approx(
        {"red": 10.0, "orange": 5.8, "yellow": None, "blue": None}
    )
    # overdue now, whenever opened: 3 (acknowledge), 4 and 7 (close)
    assert _by_tier(gd, "overdue_acknowledge") == {"red": 1, "orange": 0, "yellow": 0, "blue": 0}
    assert _by_tier(gd, "overdue_close") == {"red": 1, "orange": 0, "yellow": 1, "blue": 0}
    t = gd.total
    assert (t.opened, t.acknowledged, t.investigated, t.confirmed) == (8, 5, 2, 2)
    assert (t.false_positive, t.explained, t.overdue_acknowledge, t.overdue_close) == (1, 1, 1, 2)
    assert t.precision == pytest.approx(2 / 3)
    assert (t.acknowledge_median_days, t.acknowledge_p90_days) == pytest.approx((1.0, 3.6))
    assert (t.close_median_days, t.close_p90_days) == pytest.approx((8.0, 10.0))
    assert gd.districts is None  # not asked for


def test_two_districts_see_their_own_and_everyone_sees_both(engine: Any) -> None:
    with engine.connect() as conn:
        sh = _metrics(conn, districts={"上海"})
        everyone = _metrics(conn, by_district=True)
        narrowed = _metrics(conn, jurisdiction="上海市")
        none = _metrics(conn, districts={"上海"}, jurisdiction="广东")
    assert _by_tier(sh, "opened") == {"red": 1, "orange": 1, "yellow": 0, "blue": 0}
    assert (sh.total.confirmed, sh.total.precision, sh.total.overdue_acknowledge) == (1, 1.0, 1)
    assert sh.total.acknowledge_median_days == pytest.approx(0.5 / 3)  # four hours
    assert sh.total.close_median_days == pytest.approx(3.0)
    assert narrowed.total == sh.total
    assert none.total.opened == 0 and none.total.overdue_close == 0
    assert everyone.total.opened == 10
    assert [(d.jurisdiction, d.opened, d.confirmed, d.overdue) for d in everyone.districts] == [
        ("上海", 2, 1, 1),
        ("广东", 8, 2, 3),
    ]


def test_the_period_bounds_are_whole_days(engine: Any) -> None:
    with engine.connect() as conn:
        one_day = alert_metrics(
            conn, start=dt.date(2024, 6, 1), end=dt.date(2024, 6, 1), levels=LEVELS, as_of=AS_OF
        )
        with pytest.raises(ValueError, match="before it starts"):
            alert_metrics(conn, start=AS_OF, end=START, levels=LEVELS, as_of=AS_OF)
        with pytest.raises(ValueError, match="not a district"):
            _metrics(conn, jurisdiction="Atlantis")
    assert one_day.total.opened == 3  # alerts 1, 4 and 11, opened that day at 08:00
    assert one_day.total.overdue_close == 2  # overdue is of today, whatever the period


def test_percentile_is_linear_between_ranks() -> None:
    assert percentile([], 50) is None
    assert percentile([4.0], 90) == 4.0
    assert percentile([3.0, 0.5, 1.0], 50) == 1.0
    assert percentile([0.5, 1.0, 3.0], 90) == pytest.approx(2.6)
    assert percentile([1.0, 2.0, 3.0, 4.0], 0) == 1.0 and percentile([1.0, 4.0], 100) == 4.0
