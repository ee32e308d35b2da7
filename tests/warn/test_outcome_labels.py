"""A supervisor's outcomes are labels: an alert closed as a confirmed risk is a harm label that
training (as of its closing day or later) and evaluation read; a false alarm or an explained
closing is not; reopening withdraws it."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from tests.digest.world import AS_OF, build_world
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.alerts import alerts
from watchtower.store.labels import CONFIRMED_ALERT, incident_labels
from watchtower.warn.lifecycle import reopen, transition

NOW = dt.datetime(2024, 7, 1, 9, 0)


def _labels(conn: sa.Connection, known_by: dt.date | None = None) -> set[tuple[str, dt.date]]:
    frame = incident_labels(conn, known_by)
    mine = frame[frame["incident_type"] == CONFIRMED_ALERT]
    return set(zip(mine["register_no"], mine["incident_date"], strict=True))


def test_confirmed_outcomes_are_labels_from_their_closing_day(settings: Settings) -> None:
    build_world(settings)
    engine = open_store(settings.db_url)
    with engine.begin() as c:
        ids = {r: i for i, r in c.execute(sa.select(alerts.c.id, alerts.c.register_no))}
        assert _labels(c) == set()
        for reg, outcome in (
            ("P3000001", "confirmed"),
            ("P3000002", "false_positive"),
            ("P3000003", "resolved"),  # explained
            ("P3000005", "confirmed"),
        ):
            transition(
                c,
                ids[reg],
                "closed",
                by="王科长",
                note="核查",
                as_of=AS_OF,
                now=NOW,
                resolution=outcome,
            )
        assert _labels(c) == {("P3000001", AS_OF), ("P3000005", AS_OF)}
        # point in time: a run as of the day before the closing does not know them
        assert _labels(c, AS_OF - dt.timedelta(days=1)) == set()
        assert _labels(c, AS_OF) == {("P3000001", AS_OF), ("P3000005", AS_OF)}
        # a reopened case is no longer confirmed
        reopen(c, ids["P3000005"], by="王科长", note="新情况", as_of=AS_OF, now=NOW)
        assert _labels(c) == {("P3000001", AS_OF)}
