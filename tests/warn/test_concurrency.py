"""Concurrent warn runs for the same day never make two open alerts for one manager."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.warn.scores import NOW, insert_scores, score_row
from watchtower.store import open_store
from watchtower.store.alerts import alert_events, alerts, manager_tiers
from watchtower.warn import load_policy, run_warn

D = dt.date(2024, 6, 28)
MODELS = Path(__file__).resolve().parents[2] / "models"
ROOT = Path(__file__).resolve().parents[2]
MANAGERS = 60


def _seed(engine: sa.Engine) -> None:
    insert_scores(
        engine,
        [score_row(f"P{2000000 + i}", 30 + i, as_of=D) for i in range(MANAGERS)],
    )


def _check(engine: sa.Engine) -> None:
    with engine.connect() as c:
        per_manager = c.execute(
            sa.select(alerts.c.register_no, sa.func.count())
            .where(alerts.c.open_key.is_not(None))
            .group_by(alerts.c.register_no)
        ).all()
        opens = c.execute(
            sa.select(sa.func.count())
            .select_from(alert_events)
            .where(alert_events.c.action == "open")
        ).scalar()
        tiers = c.execute(sa.select(sa.func.count()).select_from(manager_tiers)).scalar()
    expected = sum(1 for i in range(MANAGERS) if 30 + i >= 40)
    assert len(per_manager) == expected
    assert all(n == 1 for _, n in per_manager)
    assert opens == expected  # the audit trail holds one "open" per alert, not per run
    assert tiers == MANAGERS


def _race(engine: sa.Engine, runners: int) -> list[BaseException]:
    policy = load_policy(MODELS)
    barrier = threading.Barrier(runners)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            run_warn(engine, D, policy, NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(runners)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_threads_on_one_sqlite_file(tmp_path: Path) -> None:
    engine = open_store(f"sqlite:///{tmp_path / 'wt.db'}")
    _seed(engine)
    assert _race(engine, 4) == []
    _check(engine)


@pytest.mark.slow
def test_processes_on_one_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wt.db'}"
    _seed(open_store(url))
    code = (
        "import datetime as dt; from pathlib import Path;"
        "from watchtower.store import open_store;"
        "from watchtower.warn import load_policy, run_warn;"
        f"run_warn(open_store({url!r}), dt.date({D.year}, {D.month}, {D.day}),"
        f" load_policy(Path({str(MODELS)!r})), dt.datetime(2024, 7, 1))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()
    _check(open_store(url))


@pytest.mark.postgres
def test_threads_on_postgresql(postgres_url: str) -> None:
    engine = open_store(postgres_url)
    _seed(engine)
    assert _race(engine, 4) == []
    _check(engine)
    # the audit trail is append-only on PostgreSQL too
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as c:
        c.execute(alert_events.delete())
    engine.dispose()
