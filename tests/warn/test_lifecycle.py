"""Alert lifecycle on a real store: open, escalate, hysteresis, auto-resolve, manual
transitions, labels, the append-only audit trail, and one open alert per manager."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa

from tests.warn.scores import NOW, insert_scores, score_row
from watchtower import pipeline
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.alerts import alert_events, alert_labels, alerts, manager_tiers
from watchtower.store.scoring import risk_scores
from watchtower.warn import AlertError, transition

D0 = dt.date(2024, 6, 3)
CLOCK = FixedClock(NOW)


def day(n: int) -> dt.date:
    return D0 + dt.timedelta(days=n)


def events(engine: sa.Engine, reg: str) -> list[tuple[str, str | None, str | None]]:
    with engine.connect() as c:
        return [
            (r.action, r.from_tier, r.to_tier)
            for r in c.execute(
                sa.select(alert_events)
                .where(alert_events.c.register_no == reg)
                .order_by(alert_events.c.id)
            )
        ]


def open_alerts(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    with engine.connect() as c:
        return {
            r["register_no"]: dict(r)
            for r in c.execute(sa.select(alerts).where(alerts.c.open_key.is_not(None))).mappings()
        }


@pytest.fixture
def engine(settings: Settings) -> sa.Engine:
    return open_store(settings.db_url)


def test_open_escalate_deescalate_and_rerun_is_idempotent(
    settings: Settings, engine: sa.Engine
) -> None:
    insert_scores(
        engine,
        [
            score_row("P1000001", 60, as_of=day(0)),
            score_row("P1000002", 20, as_of=day(0)),
            score_row("P1000003", 5, as_of=day(0), rule_hits=["blacklist"]),
        ],
    )
    s = pipeline.warn(settings, day(0), clock=CLOCK)
    assert (s.scored, s.opened, s.tiers["red"], s.tiers["yellow"]) == (3, 2, 1, 1)
    again = pipeline.warn(settings, day(0), clock=CLOCK)
    assert again.rerun and again.opened == 0 and again.open_alerts == 2
    with engine.connect() as c:
        assert c.execute(sa.select(sa.func.count()).select_from(manager_tiers)).scalar() == 3

    insert_scores(engine, [score_row("P1000001", 90, as_of=day(1))])
    s = pipeline.warn(settings, day(1), clock=CLOCK)
    assert s.escalated == 1
    insert_scores(engine, [score_row("P1000001", 60, as_of=day(2))])  # below red's band: held
    assert pipeline.warn(settings, day(2), clock=CLOCK).deescalated == 0
    insert_scores(engine, [score_row("P1000001", 60, as_of=day(3))])  # second run: steps down
    assert pipeline.warn(settings, day(3), clock=CLOCK).deescalated == 1
    assert events(engine, "P1000001") == [
        ("open", None, "yellow"),
        ("escalate", "yellow", "red"),
        ("deescalate", "red", "yellow"),
    ]
    a = open_alerts(engine)["P1000001"]
    assert (a["tier"], a["peak_tier"], a["status"], a["opened_as_of"]) == (
        "yellow",
        "red",
        "new",
        day(0),
    )


def test_auto_resolve_after_quiet_period_but_not_while_investigating(
    settings: Settings, engine: sa.Engine
) -> None:
    insert_scores(
        engine, [score_row("P1000011", 75, as_of=day(0)), score_row("P1000012", 75, as_of=day(0))]
    )
    pipeline.warn(settings, day(0), clock=CLOCK)
    with engine.begin() as c:
        transition(
            c, "P1000012", "investigating", by="李监管", note="on site visit", as_of=day(1), now=NOW
        )
    # Nothing scored for 13 days: still open; on day 14 (quiet_days) the first is resolved.
    assert pipeline.warn(settings, day(13), clock=CLOCK).auto_resolved == 0
    s = pipeline.warn(settings, day(14), clock=CLOCK)
    assert s.auto_resolved == 1
    assert set(open_alerts(engine)) == {"P1000012"}
    with engine.connect() as c:
        row = (
            c.execute(sa.select(alerts).where(alerts.c.register_no == "P1000011")).mappings().one()
        )
    assert (row["status"], row["resolution"], row["closed_by"], row["open_key"]) == (
        "closed",
        "resolved",
        "watchtower",
        None,
    )
    assert events(engine, "P1000011")[-1][0] == "auto_resolve"


def test_manual_transitions_labels_and_invalid_changes(
    settings: Settings, engine: sa.Engine
) -> None:
    insert_scores(engine, [score_row("P1000021", 88, as_of=day(0))])
    pipeline.warn(settings, day(0), clock=CLOCK)
    with engine.begin() as c:
        a = transition(
            c, "P1000021", "acknowledged", by="王科长", note="收到", as_of=day(0), now=NOW
        )
        assert a["status"] == "acknowledged"
        with pytest.raises(AlertError, match="cannot go to acknowledged"):
            transition(c, a["id"], "acknowledged", by="王科长", note=None, as_of=day(0), now=NOW)
        with pytest.raises(AlertError, match="resolution"):
            transition(c, a["id"], "closed", by="王科长", note=None, as_of=day(0), now=NOW)
        with pytest.raises(AlertError, match="--by"):
            transition(c, a["id"], "investigating", by=" ", note=None, as_of=day(0), now=NOW)
        transition(c, a["id"], "investigating", by="王科长", note="调取材料", as_of=day(1), now=NOW)
        closed = transition(
            c,
            a["id"],
            "closed",
            by="王科长",
            note="已立案",
            as_of=day(2),
            now=NOW,
            resolution="confirmed",
        )
        assert (closed["status"], closed["open_key"], closed["resolution"]) == (
            "closed",
            None,
            "confirmed",
        )
        with pytest.raises(AlertError, match="closed"):
            transition(c, a["id"], "acknowledged", by="王科长", note=None, as_of=day(2), now=NOW)
        with pytest.raises(AlertError, match="no alert"):
            transition(c, "P9999999", "acknowledged", by="x", note=None, as_of=day(2), now=NOW)
        label = c.execute(sa.select(alert_labels)).mappings().one()
    assert (label["register_no"], label["label"], label["labelled_by"]) == (
        "P1000021",
        "confirmed",
        "王科长",
    )
    assert [e[0] for e in events(engine, "P1000021")] == [
        "open",
        "acknowledge",
        "investigate",
        "close",
    ]
    with engine.connect() as c:
        who = c.execute(
            sa.select(alert_events.c.actor, alert_events.c.note, alert_events.c.at).where(
                alert_events.c.action == "close"
            )
        ).one()
    assert who.actor == "王科长" and "已立案" in who.note and who.at == NOW
    # The manager is still red the next day: a new alert opens (a new case, not the old one).
    insert_scores(engine, [score_row("P1000021", 88, as_of=day(3))])
    assert pipeline.warn(settings, day(3), clock=CLOCK).opened == 1


def test_false_positive_snoozes_reopening_at_the_same_tier(
    settings: Settings, engine: sa.Engine
) -> None:
    insert_scores(engine, [score_row("P1000031", 72, as_of=day(0))])
    pipeline.warn(settings, day(0), clock=CLOCK)
    with engine.begin() as c:
        transition(
            c,
            "P1000031",
            "closed",
            by="赵",
            note="数据错误",
            as_of=day(0),
            now=NOW,
            resolution="false_positive",
        )
    insert_scores(engine, [score_row("P1000031", 72, as_of=day(1))])
    assert pipeline.warn(settings, day(1), clock=CLOCK).opened == 0
    insert_scores(engine, [score_row("P1000031", 90, as_of=day(2))])
    assert pipeline.warn(settings, day(2), clock=CLOCK).opened == 1  # worse than judged: alert


def test_audit_trail_is_append_only_in_the_database(settings: Settings, engine: sa.Engine) -> None:
    insert_scores(engine, [score_row("P1000041", 88, as_of=day(0))])
    pipeline.warn(settings, day(0), clock=CLOCK)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as c:
        c.execute(alert_events.update().values(actor="someone else"))
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as c:
        c.execute(alert_events.delete())
    assert len(events(engine, "P1000041")) == 1


def test_database_refuses_a_second_open_alert(settings: Settings, engine: sa.Engine) -> None:
    insert_scores(engine, [score_row("P1000051", 88, as_of=day(0))])
    pipeline.warn(settings, day(0), clock=CLOCK)
    a = open_alerts(engine)["P1000051"]
    dup = {k: v for k, v in a.items() if k != "id"}
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(alerts.insert().values(**dup))
    # closed alerts (open_key NULL) do not collide
    with engine.begin() as c:
        for _ in range(2):
            c.execute(alerts.insert().values(**{**dup, "open_key": None, "status": "closed"}))
    # and the check constraint keeps open_key and status consistent
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        c.execute(alerts.insert().values(**{**dup, "open_key": None, "status": "new"}))


def test_older_day_replay_does_not_rewind_an_alert(settings: Settings, engine: sa.Engine) -> None:
    insert_scores(engine, [score_row("P1000061", 90, as_of=day(5))])
    pipeline.warn(settings, day(5), clock=CLOCK)
    insert_scores(engine, [score_row("P1000061", 45, as_of=day(1))])
    pipeline.warn(settings, day(1), clock=CLOCK, backfill=True)
    a = open_alerts(engine)["P1000061"]
    assert (a["tier"], a["last_as_of"]) == ("red", day(5))


def test_a_day_before_the_last_warned_day_is_refused_outside_backfill(
    settings: Settings, engine: sa.Engine
) -> None:
    from watchtower.warn import WarnOrderError

    insert_scores(engine, [score_row("P1000062", 90, as_of=day(5))])
    pipeline.warn(settings, day(5), clock=CLOCK)
    insert_scores(engine, [score_row("P1000062", 45, as_of=day(1))])
    with pytest.raises(WarnOrderError, match="before the last warned day"):
        pipeline.warn(settings, day(1), clock=CLOCK)
    assert pipeline.warn(settings, day(5), clock=CLOCK).rerun  # the last day again is fine


def test_a_rerun_after_the_days_scores_changed_revises_tiers_and_alerts(
    settings: Settings, engine: sa.Engine
) -> None:
    """A correction known by the day changed its score: the re-run turns it into an alert."""
    insert_scores(engine, [score_row("P1000063", 10, as_of=day(2))])
    first = pipeline.warn(settings, day(2), clock=CLOCK)
    assert first.opened == 0 and "P1000063" not in open_alerts(engine)
    with engine.begin() as c:
        c.execute(
            risk_scores.update()
            .where(risk_scores.c.register_no == "P1000063", risk_scores.c.as_of == day(2))
            .values(score=95.0)
        )
    again = pipeline.warn(settings, day(2), clock=CLOCK)
    assert (again.revised, again.opened, again.rerun) == (1, 1, False)
    assert open_alerts(engine)["P1000063"]["tier"] == "red"
    assert pipeline.warn(settings, day(2), clock=CLOCK).rerun


def test_bulk_lifecycle_across_chunks_keeps_ids_events_and_states_aligned(
    settings: Settings, engine: sa.Engine
) -> None:
    """More alerts than one executemany chunk: new alerts get ids in register-number order,
    each audit row points at its own alert, updates of different shapes land on the right
    rows, and the bulk auto-resolve closes only the statuses the policy allows."""
    from watchtower.warn import lifecycle

    n = lifecycle._CHUNK + 37
    regs = [f"P{3000000 + i}" for i in range(n)]
    insert_scores(engine, [score_row(r, 45 + (i % 50), as_of=day(0)) for i, r in enumerate(regs)])
    assert pipeline.warn(settings, day(0), clock=CLOCK).opened == n
    with engine.connect() as c:
        ids = dict(c.execute(sa.select(alerts.c.register_no, alerts.c.id)).all())
        opens = dict(
            c.execute(
                sa.select(alert_events.c.register_no, alert_events.c.alert_id).where(
                    alert_events.c.action == "open"
                )
            ).all()
        )
    assert opens == ids and sorted(ids, key=ids.__getitem__) == regs
    with engine.begin() as c:
        transition(c, regs[1], "investigating", by="李", note=None, as_of=day(0), now=NOW)
        transition(c, regs[2], "acknowledged", by="李", note=None, as_of=day(0), now=NOW)
    # days 1-2: the first manager escalates, the second drops out (after the hysteresis run)
    for d in (1, 2):
        insert_scores(
            engine,
            [
                score_row(r, 95 if i == 0 else 10 if i == 1 else 45 + (i % 50), as_of=day(d))
                for i, r in enumerate(regs)
            ],
        )
        s = pipeline.warn(settings, day(d), clock=CLOCK)
        assert (s.opened, s.escalated, s.deescalated) == (0, int(d == 1), 0)
    a = open_alerts(engine)
    assert (a[regs[0]]["tier"], a[regs[0]]["last_signal_as_of"]) == ("red", day(2))
    assert (a[regs[1]]["tier"], a[regs[1]]["last_signal_as_of"]) == ("blue", day(1))
    assert a[regs[1]]["last_as_of"] == day(2) and a[regs[5]]["last_signal_as_of"] == day(2)
    # nothing scored for quiet_days: all close but the one under investigation
    s = pipeline.warn(settings, day(16), clock=CLOCK)
    assert s.auto_resolved == n - 1 and set(open_alerts(engine)) == {regs[1]}
    assert events(engine, regs[2])[-1] == ("auto_resolve", "blue", "blue")
    with engine.connect() as c:
        closed = c.execute(
            sa.select(alert_events.c.alert_id, alert_events.c.from_status).where(
                alert_events.c.action == "auto_resolve"
            )
        ).all()
    assert sorted(i for i, _ in closed) == sorted(v for k, v in ids.items() if k != regs[1])
    assert {st for _, st in closed} == {"new", "acknowledged"}
