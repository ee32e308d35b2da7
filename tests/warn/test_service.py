"""Service levels (models/service_levels.yaml) and the overdue rule: the loader refuses what
it does not read, the pure decision on hand cases, and the SQL condition the queue filters by
agrees with it on a grid of cases (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchtower.config import ConfigError
from watchtower.store import close_store, open_store
from watchtower.store.alerts import TIERS, alert_events, alerts
from watchtower.warn import (
    OverdueOn,
    ServiceLevel,
    ServiceLevels,
    list_alerts,
    load_service_levels,
    overdue,
)
from watchtower.warn.service import overdue_condition

MODELS = Path(__file__).resolve().parents[2] / "models"
LEVELS = load_service_levels(MODELS)
AS_OF = dt.date(2024, 7, 1)


def test_the_shipped_levels_are_the_documented_defaults() -> None:
    assert {t: (v.acknowledge_days, v.close_days) for t, v in LEVELS.tiers.items()} == {
        "red": (1, 14),
        "orange": (3, 30),
        "yellow": (7, 60),
        "blue": (14, 90),
    }


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((MODELS / "service_levels.yaml").read_text("utf-8"))
    return data


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda d: d.update(tiers_x=1), ["['tiers_x']", "top level", "allowed: tiers"]),
        (lambda d: d["tiers"]["red"].update(ack_days=1), ["['ack_days']", "tiers.red"]),
        (lambda d: d["tiers"]["orange"].update(close_days=-1), ["tiers.orange.close_days", ">= 0"]),
        (lambda d: d["tiers"]["blue"].update(acknowledge_days=1.5), ["tiers.blue.acknowledge"]),
        (lambda d: d["tiers"]["blue"].update(acknowledge_days=True), ["tiers.blue.acknowledge"]),
        (lambda d: d["tiers"].pop("yellow"), ["no service level for tier(s) yellow"]),
        (lambda d: d["tiers"]["red"].pop("close_days"), ["tiers.red lacks close_days"]),
        (lambda d: d["tiers"].update(purple={}), ["unknown tier(s) ['purple']"]),
        (lambda d: d["tiers"]["red"].update(close_days=0), ["sooner than acknowledge_days"]),
        (lambda d: d.update(tiers=[1, 2]), ["'tiers' must map"]),
        (lambda d: d["tiers"].update(red=3), ["tiers.red must be a mapping"]),
    ],
)
def test_the_loader_refuses_what_it_does_not_read(
    tmp_path: Path, change: Any, words: list[str]
) -> None:
    data = _shipped()
    change(data)
    path = tmp_path / "service_levels.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_service_levels(tmp_path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    for word in words:
        assert word in message, message


def test_a_missing_or_broken_file_names_itself(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="service levels not found"):
        load_service_levels(tmp_path)
    (tmp_path / "service_levels.yaml").write_text("tiers: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML") as info:
        load_service_levels(tmp_path)
    assert "\n" not in str(info.value)


def _decide(tier: str, status: str, opened: dt.datetime, acked: dt.datetime | None) -> Any:
    return overdue(
        tier=tier,
        status=status,
        opened_at=opened,
        acknowledged_at=acked,
        levels=LEVELS,
        as_of=AS_OF,
    )


def test_overdue_on_hand_cases() -> None:
    day = dt.timedelta(days=1)
    late_evening = dt.datetime(2024, 6, 30, 23, 59)
    # red: 1 day to acknowledge: opened yesterday is still in time, the day before is not
    assert _decide("red", "new", late_evening, None) is None
    assert _decide("red", "new", late_evening - day, None) == "acknowledge"
    # taken up (at any hour of the as-of day) is no longer late to acknowledge
    assert _decide("red", "new", late_evening - day, dt.datetime(2024, 7, 1, 23)) is None
    # ... but being taken up tomorrow does not count today
    assert _decide("red", "new", late_evening - day, dt.datetime(2024, 7, 2, 0)) == "acknowledge"
    # 14 days to close: day 14 is in time, day 15 is late, acknowledged or not
    opened = dt.datetime(2024, 6, 17, 9)
    assert _decide("red", "investigating", opened, opened) is None
    assert _decide("red", "investigating", opened - day, opened) == "close"
    assert _decide("red", "new", opened - day, None) == "close"  # the more pressing one
    # a closed alert is never late; other tiers have other deadlines
    assert _decide("red", "closed", opened - 40 * day, None) is None
    assert _decide("blue", "new", opened - day, None) == "acknowledge"  # 15 days > 14
    assert _decide("blue", "new", opened, None) is None
    # an alert opened after the as-of day (a replay) is not late
    assert _decide("red", "new", dt.datetime(2024, 7, 5), None) is None


def _grid() -> list[dict[str, Any]]:
    """Alerts across tiers, ages around every deadline, opening hours, acknowledgements
    (none, on the opening day, on the as-of day, after it) and statuses."""
    ages = (0, 1, 2, 3, 4, 7, 8, 13, 14, 15, 29, 30, 31, 59, 60, 61, 89, 90, 91)
    hours = (0.0, 23.5)
    acks = (None, "opening", "as_of", "after")
    statuses = ("new", "acknowledged", "investigating", "closed")
    cases = []
    for n, (tier, age, hour, ack, status) in enumerate(
        itertools.product(TIERS, ages, hours, acks, statuses), start=1
    ):
        opened = dt.datetime.combine(AS_OF - dt.timedelta(days=age), dt.time())
        opened += dt.timedelta(hours=hour)
        acked = {
            None: None,
            "opening": opened + dt.timedelta(minutes=5),
            "as_of": dt.datetime.combine(AS_OF, dt.time(23, 59, 59)),
            "after": dt.datetime.combine(AS_OF + dt.timedelta(days=1), dt.time()),
        }[ack]
        cases.append({"n": n, "tier": tier, "status": status, "opened": opened, "acked": acked})
    return cases


def _alert_row(case: dict[str, Any]) -> dict[str, Any]:
    reg = f"P{case['n']:07d}"
    closed = case["status"] == "closed"
    return {
        "id": case["n"],
        "register_no": reg,
        "open_key": None if closed else reg,
        "manager_name": reg,
        "province": "广东",
        "city": "广州",
        "status": case["status"],
        "tier": case["tier"],
        "peak_tier": case["tier"],
        "score": 50.0,
        "rule_hits": [],
        "reasons": [],
        "opened_as_of": AS_OF,
        "last_as_of": AS_OF,
        "last_signal_as_of": AS_OF,
        "opened_at": case["opened"],
        "updated_at": case["opened"],
        "closed_as_of": AS_OF if closed else None,
    }


def _event_rows(case: dict[str, Any]) -> list[dict[str, Any]]:
    base = {
        "alert_id": case["n"],
        "register_no": f"P{case['n']:07d}",
        "as_of": AS_OF,
        "from_status": "new",
        "to_status": case["status"],
        "from_tier": case["tier"],
        "to_tier": case["tier"],
        "score": 50.0,
        "note": None,
    }
    # the opening and a note never count as taking the alert up
    rows = [
        {**base, "at": case["opened"], "actor": "watchtower", "action": "open"},
        {**base, "at": case["opened"], "actor": "周科长", "action": "note"},
    ]
    if case["acked"] is not None:
        action = "investigate" if case["status"] == "investigating" else "acknowledge"
        rows.append({**base, "at": case["acked"], "actor": "周科长", "action": action})
    return rows


@pytest.fixture(params=["sqlite", "postgresql"])
def grid_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'grid.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = open_store(url)
    cases = _grid()
    with engine.begin() as conn:
        conn.execute(alerts.insert(), [_alert_row(c) for c in cases])
        conn.execute(alert_events.insert(), [e for c in cases for e in _event_rows(c)])
    yield engine, cases
    close_store(url)


def test_the_sql_condition_agrees_with_the_decision(grid_engine: Any) -> None:
    engine, cases = grid_engine
    expected = {c["n"]: _decide(c["tier"], c["status"], c["opened"], c["acked"]) for c in cases}
    # the grid reaches every answer, so agreeing is not agreeing on nothing
    assert set(expected.values()) == {None, "acknowledge", "close"}
    with engine.connect() as conn:
        for kind in (None, "acknowledge", "close"):
            found = set(
                conn.execute(
                    alerts.select()
                    .with_only_columns(alerts.c.id)
                    .where(overdue_condition(LEVELS, AS_OF, kind))
                ).scalars()
            )
            wanted = {n for n, v in expected.items() if v is not None and kind in (None, v)}
            assert found == wanted, kind
        # the queue: the filter in SQL, the marker from the decision on the rows it read
        on = OverdueOn(LEVELS, AS_OF)
        rows = list_alerts(conn, status="all", overdue_on=on, overdue_only=True)
        assert {r["id"] for r in rows} == {n for n, v in expected.items() if v}
        every = list_alerts(conn, status="all", overdue_on=on)
        assert len(every) == len(cases)
        assert {r["id"]: r["overdue"] for r in every} == expected
        acked = {c["n"]: c["acked"] for c in cases}
        assert all(r["acknowledged_at"] == acked[r["id"]] for r in every)


def test_overdue_only_needs_the_levels(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    try:
        with open_store(url).connect() as conn, pytest.raises(ValueError, match="overdue_on"):
            list_alerts(conn, overdue_only=True)
    finally:
        close_store(url)


def test_a_bureau_may_set_its_own_levels() -> None:
    strict = ServiceLevels({t: ServiceLevel(0, 0) for t in TIERS})
    opened = dt.datetime(2024, 6, 30, 12)
    assert (
        overdue(
            tier="blue",
            status="new",
            opened_at=opened,
            acknowledged_at=None,
            levels=strict,
            as_of=AS_OF,
        )
        == "close"
    )
