"""The migrations build exactly the schema the code declares, and 0009 dates the batches stored
before it (what a day knew is then fingerprinted the same way for old and new batches)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from watchtower.store import metadata, open_store
from watchtower.store.alerts import alerts
from watchtower.store.engine import upgrade


def test_migrated_schema_equals_the_declared_metadata(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_0009_gives_batches_stored_before_it_their_earliest_known_from(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = sa.create_engine(url)
    upgrade(engine, "0007")
    day = dt.date(2024, 12, 31)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into batches (id, source, file_name, file_path, content_hash, "
                "loaded_hash, status, file_date, rows_read, rows_loaded, rows_quarantined, "
                "rows_rejected, rows_flagged, ingested_at) values (1, 'managers', 'm.csv', "
                "'/l/m.csv', 'h', 'h', 'loaded', :d, 1, 1, 0, 0, 0, :t)"
            ),
            {"d": day, "t": dt.datetime(2025, 1, 1)},
        )
        conn.execute(
            sa.text(
                "insert into manager_snapshots (batch_id, row_number, known_from, register_no, "
                "snapshot_date) values (1, 1, :d, 'P1000000', :d)"
            ),
            {"d": day},
        )
    engine.dispose()
    engine = open_store(url)
    with engine.connect() as conn:
        first = conn.execute(sa.text("select known_from_min from batches")).scalar_one()
    assert str(first) == str(day)


def test_0011_adds_the_console_to_a_store_with_alerts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before-console.db'}"
    engine = sa.create_engine(url)
    upgrade(engine, "0008")
    now = dt.datetime(2024, 7, 1, 8, 0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into alerts (id, register_no, open_key, status, tier, peak_tier, score, "
                "rule_hits, reasons, opened_as_of, last_as_of, last_signal_as_of, opened_at, "
                "updated_at) values (1, 'P1', 'P1', 'new', 'red', 'red', 90, '[]', '[]', :d, :d, "
                ":d, :t, :t)"
            ),
            {"d": dt.date(2024, 6, 30), "t": now},
        )
    engine.dispose()
    engine = open_store(url)
    with engine.begin() as conn:
        assert conn.execute(sa.text("select assignee from alerts")).all() == [(None,)]
        conn.execute(
            sa.text("insert into console_audit (at, actor, action) values (:t, 'gd', 'login')"),
            {"t": now},
        )
    for statement in ("update console_audit set actor = 'x'", "delete from console_audit"):
        with engine.begin() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
            conn.execute(sa.text(statement))


def _alert_before_snooze(engine: sa.Engine) -> None:
    """The store at 0011 (the console) with one open alert, as before snoozing existed."""
    upgrade(engine, "0011")
    now = dt.datetime(2024, 7, 1, 8, 0)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "insert into alerts (id, register_no, open_key, status, tier, peak_tier, score, "
                "rule_hits, reasons, opened_as_of, last_as_of, last_signal_as_of, opened_at, "
                "updated_at, assignee) values (1, 'P1', 'P1', 'new', 'red', 'red', 90, '[]', "
                "'[]', :d, :d, :d, :t, :t, 'gd')"
            ),
            {"d": dt.date(2024, 6, 30), "t": now},
        )
    engine.dispose()


def _snooze_column_works(engine: sa.Engine) -> None:
    """After 0012: the old alert is awake, and a snooze day is stored as a date."""
    with engine.begin() as conn:
        assert conn.execute(sa.text("select assignee, snoozed_until from alerts")).all() == [
            ("gd", None)
        ]
        conn.execute(sa.text("update alerts set snoozed_until = :d"), {"d": dt.date(2024, 7, 8)})
        until = conn.execute(sa.select(alerts.c.snoozed_until)).scalar_one()
    assert until == dt.date(2024, 7, 8)


def test_0012_adds_the_snooze_day_to_a_store_with_alerts(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'before-snooze.db'}"
    _alert_before_snooze(sa.create_engine(url))
    _snooze_column_works(open_store(url))


@pytest.mark.postgres
def test_0012_adds_the_snooze_day_on_postgresql(postgres_url: str) -> None:
    _alert_before_snooze(sa.create_engine(postgres_url))
    _snooze_column_works(open_store(postgres_url))


@pytest.mark.postgres
def test_migrated_postgresql_schema_equals_the_declared_metadata(postgres_url: str) -> None:
    engine = open_store(postgres_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    with engine.begin() as conn:  # a row-level trigger: it needs a row to refuse
        conn.execute(
            sa.text("insert into console_audit (at, actor, action) values (now(), 'gd', 'login')")
        )
    with engine.begin() as conn, pytest.raises(sa.exc.DatabaseError, match="append-only"):
        conn.execute(sa.text("delete from console_audit"))
