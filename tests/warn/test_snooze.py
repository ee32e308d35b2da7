"""Snoozing an alert until a day: out of the default queue, back by itself on the day (judged
on the store's latest warn day, no job), woken at once by an escalation in a warn run; every
snooze, unsnooze and wake in the audit trail. And the queue's assignee and age filters."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from tests.warn.scores import NOW, insert_scores, score_row
from tests.warn.test_decide import POLICY, alert, signal
from watchtower import pipeline
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.alerts import alert_events, alerts
from watchtower.warn import (
    AlertError,
    assign,
    latest_warn_day,
    list_alerts,
    snooze,
    transition,
    unsnooze,
)
from watchtower.warn.decide import Deescalate, Escalate, Refresh, asleep, decide_lifecycle

D0 = dt.date(2024, 6, 3)
CLOCK = FixedClock(NOW)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def _regs(rows: list[dict[str, object]]) -> list[object]:
    return [r["register_no"] for r in rows]


def _trail(engine: sa.Engine, reg: str) -> list[tuple[str, str, str | None]]:
    with engine.connect() as c:
        q = sa.select(alert_events.c.action, alert_events.c.actor, alert_events.c.note).where(
            alert_events.c.register_no == reg
        )
        return [tuple(r) for r in c.execute(q.order_by(alert_events.c.id))]


def _warn(settings: Settings, n: int, scores: dict[str, float]) -> None:
    insert_scores(
        open_store(settings.db_url), [score_row(r, s, as_of=day(n)) for r, s in scores.items()]
    )
    pipeline.warn(settings, day(n), clock=CLOCK)


def test_asleep_until_the_day_itself_and_never_without_a_day() -> None:
    until = day(5)
    assert asleep(until, day(4)) and asleep(until, day(0))
    assert not asleep(until, day(5))  # back in the queue on the day
    assert not asleep(until, day(6))
    assert not asleep(None, day(0))
    assert not asleep(until, None)  # no warn run yet: nothing sleeps


def test_the_queue_judges_snoozes_in_sql_as_asleep_does(settings: Settings) -> None:
    """The SQL of the ``open`` and ``snoozed`` statuses against the pure rule, for every
    snooze day around the latest warn day."""
    engine = open_store(settings.db_url)
    _warn(settings, 0, {f"P20000{i:02d}": 60 for i in range(5)})
    untils = [None, day(-1), day(0), day(1), day(30)]
    with engine.begin() as c:
        for i, until in enumerate(untils):
            c.execute(
                alerts.update()
                .where(alerts.c.register_no == f"P20000{i:02d}")
                .values(snoozed_until=until)
            )
        warn_day = latest_warn_day(c)
        assert warn_day == day(0)
        awake = set(_regs(list_alerts(c)))
        sleeping = set(_regs(list_alerts(c, status="snoozed")))
        statuses = set(_regs(list_alerts(c, status="new")))
    for i, until in enumerate(untils):
        reg = f"P20000{i:02d}"
        assert (reg in sleeping) is asleep(until, warn_day), until
        assert (reg in awake) is not asleep(until, warn_day), until
        assert reg in statuses  # one status lists snoozed and awake alike


def test_an_escalation_wakes_a_sleeping_alert_and_nothing_else_does() -> None:
    sleeping = alert("P1", "yellow", id=1)._replace(snoozed_until=dt.date(2024, 7, 1))
    expired = alert("P2", "yellow", id=2)._replace(snoozed_until=dt.date(2024, 6, 20))
    red = alert("P3", "red", id=3, peak="red")._replace(snoozed_until=dt.date(2024, 7, 1))
    same = alert("P4", "orange", id=4)._replace(snoozed_until=dt.date(2024, 7, 1))
    current = {a.register_no: a for a in (sleeping, expired, red, same)}
    s1, s2, s3, s4 = (
        signal("P1", 90, "red"),
        signal("P2", 90, "red"),
        signal("P3", 60, "yellow"),
        signal("P4", 72, "orange"),
    )
    day_ = dt.date(2024, 6, 20)  # the run's day: P2's snooze ended on it
    assert decide_lifecycle(current, [s1, s2, s3, s4], day_, POLICY) == [
        Escalate(sleeping, s1, peak_tier="red", woken=dt.date(2024, 7, 1)),
        Escalate(expired, s2, peak_tier="red"),  # awake already: nothing to wake
        Deescalate(red, s3, peak_tier="red"),  # a lower tier keeps it asleep
        Refresh(same, s4, alerting=True),
    ]


def test_snooze_leaves_the_queue_until_its_day_and_escalation_wakes_at_once(
    settings: Settings,
) -> None:
    engine = open_store(settings.db_url)
    _warn(settings, 0, {"P2100001": 60, "P2100002": 60, "P2100003": 60})
    with engine.begin() as c:
        a = snooze(c, "P2100001", until=day(3), by="王科长", note="等材料", as_of=D0, now=NOW)
        assert a["snoozed_until"] == day(3) and a["status"] == "new"  # a day, not a status
        snooze(c, "P2100002", until=day(10), by="王科长", note=None, as_of=D0, now=NOW)
        assert _regs(list_alerts(c)) == ["P2100003"]
        assert set(_regs(list_alerts(c, status="snoozed"))) == {"P2100001", "P2100002"}
    # before the day: still asleep (the queue's day is the latest warn day, day 2)
    _warn(settings, 2, {"P2100001": 60, "P2100002": 60, "P2100003": 60})
    with engine.connect() as c:
        assert _regs(list_alerts(c)) == ["P2100003"]
    # on the day: back by itself, no job and no write (the column keeps the day it slept to)
    _warn(settings, 3, {"P2100001": 60, "P2100002": 60, "P2100003": 60})
    with engine.connect() as c:
        assert set(_regs(list_alerts(c))) == {"P2100001", "P2100003"}
        assert _regs(list_alerts(c, status="snoozed")) == ["P2100002"]
        assert c.execute(
            sa.select(alerts.c.snoozed_until).where(alerts.c.register_no == "P2100001")
        ).scalar_one() == day(3)
    # an escalation to a higher tier wakes the other one at once, in the audit trail
    _warn(settings, 4, {"P2100001": 60, "P2100002": 90, "P2100003": 60})
    with engine.connect() as c:
        assert set(_regs(list_alerts(c))) == {"P2100001", "P2100002", "P2100003"}
        woken = c.execute(sa.select(alerts).where(alerts.c.register_no == "P2100002")).mappings()
        row = woken.one()
    assert (row["tier"], row["snoozed_until"]) == ("red", None)
    trail = _trail(engine, "P2100002")
    assert [(action, actor) for action, actor, _ in trail] == [
        ("open", "watchtower"),
        ("snooze", "王科长"),
        ("escalate", "watchtower"),
        ("wake", "watchtower"),
    ]
    assert f"snoozed until {day(10)}" in (trail[-1][2] or "") and "red" in (trail[-1][2] or "")
    assert trail[1][2] == f"until {day(10)}"
    assert _trail(engine, "P2100001")[1] == ("snooze", "王科长", f"until {day(3)}: 等材料")
    # a re-run of the day changes nothing more
    pipeline.warn(settings, day(4), clock=CLOCK)
    assert len(_trail(engine, "P2100002")) == 4


def test_snooze_and_unsnooze_refuse_what_they_cannot_do(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    _warn(settings, 0, {"P2200001": 60})
    kw: dict[str, Any] = {"by": "王科长", "note": None, "as_of": D0, "now": NOW}
    with engine.begin() as c:
        for until in (day(0), day(-1), day(366)):
            with pytest.raises(AlertError, match="snooze until a day after"):
                snooze(c, "P2200001", until=until, **kw)
        with pytest.raises(AlertError, match="--by"):
            snooze(c, "P2200001", until=day(1), **{**kw, "by": " "})
        with pytest.raises(AlertError, match="not snoozed"):
            unsnooze(c, "P2200001", **kw)
        snooze(c, "P2200001", until=day(365), **kw)  # a year is the longest
        moved = snooze(c, "P2200001", until=day(7), **kw)  # snoozing again moves the day
        assert moved["snoozed_until"] == day(7)
        back = unsnooze(c, "P2200001", **{**kw, "note": "有新线索"})
        assert back["snoozed_until"] is None
        assert _regs(list_alerts(c)) == ["P2200001"]
        transition(c, "P2200001", "closed", resolution="resolved", **kw)
        with pytest.raises(AlertError, match="closed"):
            snooze(c, "P2200001", until=day(3), **kw)
    notes = [(a, n) for a, _, n in _trail(engine, "P2200001")]
    assert notes[1:4] == [
        ("snooze", f"until {day(365)}"),
        ("snooze", f"until {day(7)} (was {day(365)})"),
        ("unsnooze", f"was snoozed until {day(7)}: 有新线索"),
    ]


def test_no_snooze_before_the_first_warn_run(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    with engine.begin() as c:
        c.execute(
            alerts.insert().values(
                register_no="P2300001",
                open_key="P2300001",
                status="new",
                tier="red",
                peak_tier="red",
                score=90,
                rule_hits=[],
                reasons=[],
                opened_as_of=D0,
                last_as_of=D0,
                last_signal_as_of=D0,
                opened_at=NOW,
                updated_at=NOW,
            )
        )
        assert latest_warn_day(c) is None
        with pytest.raises(AlertError, match="no warn run"):
            snooze(c, "P2300001", until=day(3), by="x", note=None, as_of=D0, now=NOW)
        assert _regs(list_alerts(c)) == ["P2300001"]
        assert list_alerts(c, min_age_days=0) == []  # no warn day, no age


def test_assignee_and_age_filters_are_sql_where_clauses(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    _warn(settings, 0, {"P2400001": 90, "P2400002": 80})
    _warn(settings, 2, {"P2400001": 90, "P2400002": 80, "P2400003": 60})
    _warn(settings, 5, {"P2400001": 90, "P2400002": 80, "P2400003": 60, "P2400004": 60})
    with engine.begin() as c:
        kw: dict[str, Any] = {"by": "王科长", "note": None, "as_of": D0, "now": NOW}
        assign(c, "P2400001", "gd", **kw)
        assign(c, "P2400003", "ana", **kw)
        assert _regs(list_alerts(c, assignee="gd")) == ["P2400001"]
        assert _regs(list_alerts(c, assignee=" GD ")) == ["P2400001"]  # stored lower case
        assert _regs(list_alerts(c, assignee="none")) == ["P2400002", "P2400004"]
        assert list_alerts(c, assignee="nobody-such") == []
        # ages count from the latest warn day (day 5): opened more than N days before it
        assert _regs(list_alerts(c, min_age_days=0)) == ["P2400001", "P2400002", "P2400003"]
        assert _regs(list_alerts(c, min_age_days=2)) == ["P2400001", "P2400002", "P2400003"]
        assert _regs(list_alerts(c, min_age_days=3)) == ["P2400001", "P2400002"]
        assert list_alerts(c, min_age_days=5) == []
        assert _regs(list_alerts(c, min_age_days=3, assignee="none")) == ["P2400002"]
        with pytest.raises(ValueError, match="number of days"):
            list_alerts(c, min_age_days=-1)
        # the filters are in the statement, not applied to its rows afterwards
        sql: list[str] = []
        sa.event.listen(c, "before_cursor_execute", lambda *a: sql.append(str(a[2])), named=False)
        list_alerts(c, assignee="gd", min_age_days=3)
        assert any("alerts.assignee = " in s and "alerts.opened_as_of < " in s for s in sql)
