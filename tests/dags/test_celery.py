"""The distributed setup for real, without Docker: Redis broker, PostgreSQL for the Airflow
metadata and the Watchtower store, Airflow's execution API server, and a Celery worker process
executing one watchtower_pipeline run.

This is the docker-compose deployment minus the containers: the same executor settings
(``AIRFLOW__CORE__EXECUTOR=CeleryExecutor``, ``AIRFLOW__CELERY__BROKER_URL=redis://...``,
``AIRFLOW__CELERY__RESULT_BACKEND=db+postgresql...``), the same worker command
(``airflow celery worker``) and the same path of a task: queued to Redis by the executor,
picked up by the worker, run by the worker's task supervisor, which reports to the API
server's execution API. The run is driven by ``dag.test(use_executor=True)`` — the scheduler
loop in miniature, handing every task to the configured executor — instead of starting a full
scheduler and DAG processor, which would only add start-up time.

Proof that the worker ran the tasks: only the worker process is given the Watchtower store
(the driving process points WATCHTOWER_DB_URL at a file that must never appear), and every
task instance of the run shows up in the worker's log as a Celery workload it executed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.dags.conftest import (
    DAGTEST,
    LOGICAL_DATE,
    PIPELINE_TASKS,
    REPORT_PREFIX,
    RUN_DAY,
    airflow_base_env,
    run_airflow,
    run_spec,
)
from tests.pg import new_database

pytestmark = [pytest.mark.airflow, pytest.mark.postgres, pytest.mark.slow]

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``cmd`` in its own process group; on exit stop that group (and only it)."""
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            yield proc
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_for(
    what: str,
    ready: object,
    procs: list[subprocess.Popen[bytes]],
    logs: list[Path],
    timeout: float = 180,
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for proc, log in zip(procs, logs, strict=True):
            if proc.poll() is not None:
                raise AssertionError(f"{log.name} exited early:\n{log.read_text()[-5000:]}")
        if ready():  # type: ignore[operator]
            return
        time.sleep(0.5)
    tails = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs)
    raise AssertionError(f"timed out waiting for {what}\n{tails}")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


@pytest.mark.skipif(not Path(REDIS).exists(), reason="redis-server not installed")
def test_celery_worker_executes_the_pipeline_run(
    postgres_server: str, tmp_path: Path, world_landing: Path
) -> None:
    airflow_db = new_database(postgres_server, "airflow_celery")
    store_db = new_database(postgres_server, "watchtower_celery")
    redis_port, api_port = _free_port(), _free_port()
    landing = tmp_path / "landing"
    shutil.copytree(world_landing, landing)

    env = airflow_base_env(tmp_path / "airflow", airflow_db)
    env.update(
        {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_db.replace(
                "+psycopg://", "+psycopg_async://"
            ),
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://127.0.0.1:{redis_port}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{airflow_db}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": "celery-test-jwt-secret-0123456789abcdef",
            "AIRFLOW__API__SECRET_KEY": "celery-test-secret-key",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        }
    )
    # The Watchtower store is known to the worker only.
    decoy = tmp_path / "decoy" / "watchtower.db"
    driver_env = {
        **env,
        "WATCHTOWER_HOME": str(tmp_path / "decoy"),
        "WATCHTOWER_DB_URL": f"sqlite:///{decoy}",
    }
    worker_env = {
        **env,
        "WATCHTOWER_HOME": str(tmp_path / "watchtower"),
        "WATCHTOWER_DB_URL": store_db,
        "WATCHTOWER_LANDING_DIR": str(landing),
    }
    run_airflow(env, "db", "migrate")

    airflow = str(Path(sys.executable).with_name("airflow"))
    logs = [tmp_path / "redis.log", tmp_path / "api-server.log", tmp_path / "worker.log"]
    with (
        _process(
            [
                REDIS,
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            env,
            logs[0],
        ) as redis,
        _process(
            [
                airflow,
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(api_port),
                "--apps",
                "execution",
                "--workers",
                "1",
            ],
            env,
            logs[1],
        ) as api,
        _process(
            [
                airflow,
                "celery",
                "worker",
                "--concurrency",
                "2",
                "--skip-serve-logs",
                "--without-gossip",
                "--without-mingle",
            ],
            worker_env,
            logs[2],
        ) as worker,
    ):
        procs = [redis, api, worker]
        _wait_for(
            "the execution API",
            lambda: _http_ok(f"http://127.0.0.1:{api_port}/execution/health"),
            procs,
            logs,
        )
        _wait_for("the Celery worker", lambda: b" ready." in logs[2].read_bytes(), procs, logs)

        began = time.monotonic()
        spec = run_spec("watchtower_pipeline", logical_date=LOGICAL_DATE, use_executor=True)
        proc = subprocess.run(
            [sys.executable, str(DAGTEST), json.dumps([spec])],
            env=driver_env,
            capture_output=True,
            text=True,
            timeout=900,
            cwd=tmp_path,
        )
        seconds = time.monotonic() - began
        worker_log = logs[2].read_text(errors="replace")
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(REPORT_PREFIX)]
        assert proc.returncode == 0 and lines, (
            proc.stdout[-5000:] + proc.stderr[-10000:] + "\n--- worker\n" + worker_log[-10000:]
        )
        report = json.loads(lines[-1][len(REPORT_PREFIX) :])

    worker_log = logs[2].read_text(errors="replace")  # complete now the worker has stopped
    tis = report["tis"]
    bad = [t for t in tis if t["state"] != "success"]
    assert report["state"] == "success" and not bad, f"{bad}\n{_failed_task_logs(tmp_path)}"
    assert {t["task_id"] for t in tis} == PIPELINE_TASKS
    # Every task instance was a workload of the Celery worker, in another process.
    received = [ln for ln in worker_log.splitlines() if "Executing workload in Celery" in ln]
    finished = [
        ln
        for ln in worker_log.splitlines()
        if "Workload finished" in ln and "final_state=success" in ln
    ]
    for ti in tis:
        assert any(ti["id"] in ln for ln in received), f"{ti} not received by the worker"
        assert any(f"workload_id={ti['id']}" in ln for ln in finished), f"{ti} not run there"
        assert ti["pid"] and ti["pid"] != report["test_pid"]

    # The results are in the Watchtower store only the worker knew about.
    assert not decoy.exists()
    engine = sa.create_engine(store_db)
    try:
        with engine.connect() as conn:
            scored = conn.execute(
                sa.text("SELECT count(*) FROM risk_scores WHERE as_of = :d"), {"d": RUN_DAY}
            ).scalar_one()
            alerts = conn.execute(
                sa.text("SELECT count(*) FROM alerts WHERE status <> 'closed'")
            ).scalar_one()
    finally:
        engine.dispose()
    assert scored > 0 and alerts > 0
    print(f"celery run: {len(tis)} task instances in {seconds:.0f} s")


def _failed_task_logs(root: Path) -> str:
    """The task logs that mention an error, so a failure in CI says why."""
    texts = []
    for log in sorted(root.rglob("attempt=*.log")):
        text = log.read_text(errors="replace")
        if "Traceback" in text or '"level":"error"' in text or "[error" in text:
            texts.append(f"--- {log.relative_to(root)}\n{text[-6000:]}")
    return "\n".join(texts) or "(no task log mentions an error)"
