"""Fixtures of the DAG tests: a migrated Airflow metadata database, a small synthetic world.

Airflow reads its configuration when it is imported, so the tests never import it here: every
Airflow step runs in a subprocess with an environment the fixtures build (a temporary
AIRFLOW_HOME, a SQLite metadata database copied from one migrated per session, the repo's
dags/ folder, and a temporary WATCHTOWER_HOME with its own store and landing folder).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "dags"
DAGTEST = Path(__file__).with_name("_dagtest.py")
REPORT_PREFIX = "DAGTEST-REPORT "

#: The small synthetic world every DAG test runs on (seconds to write and ingest).
WORLD = {"managers": 80, "start": dt.date(2023, 1, 1), "end": dt.date(2024, 6, 30), "seed": 11}
#: The as-of day of the runs: the world's last quarter end, 18:00 in Beijing (10:00 UTC).
RUN_DAY = dt.date(2024, 6, 30)
#: The tasks of one watchtower_pipeline run (features and score are mapped per peer group).
PIPELINE_TASKS = frozenset(
    {"fetch", "ingest", "validate", "partitions", "features", "score", "warn"}
)
LOGICAL_DATE = "2024-06-30T10:00:00+00:00"

if importlib.util.find_spec("airflow") is None:  # pragma: no cover - depends on the install
    pytest.skip("apache-airflow is not installed (pip install .[airflow])", allow_module_level=True)


def _clean_env() -> dict[str, str]:
    """The parent's environment without any AIRFLOW_* / WATCHTOWER_* setting."""
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "WATCHTOWER_", "_AIRFLOW"))
    }


def airflow_base_env(home: Path, sql_alchemy_conn: str) -> dict[str, str]:
    """Environment for an Airflow process on ``home`` with the repo's dags/ folder."""
    env = _clean_env()
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": sql_alchemy_conn,
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        }
    )
    return env


def run_airflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``airflow ARGS`` in a subprocess; raise with its output when it fails."""
    airflow = Path(sys.executable).with_name("airflow")
    proc = subprocess.run(
        [str(airflow), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@dataclass
class AirflowRun:
    """One ``dag.test()`` run: its report (state, task instances) and the process output."""

    report: dict[str, Any]
    output: str

    @property
    def state(self) -> str:
        return str(self.report.get("state"))

    def states(self) -> dict[str, list[str]]:
        """task_id -> states of its task instances (mapped tasks: one per map index)."""
        out: dict[str, list[str]] = {}
        for ti in self.report["tis"]:
            out.setdefault(ti["task_id"], []).append(ti["state"])
        return out


def run_spec(
    dag_id: str,
    *,
    logical_date: str | None = LOGICAL_DATE,
    conf: dict[str, Any] | None = None,
    retries: int | None = 0,
    use_executor: bool = False,
    env: dict[str, str] | None = None,
) -> dict[str, Any]:
    """One run for :meth:`AirflowEnv.dag_tests` (retries 0: a test does not wait minutes)."""
    return {
        "dag_id": dag_id,
        "logical_date": logical_date,
        "conf": conf,
        "retries": retries,
        "use_executor": use_executor,
        "env": env or {},
    }


@dataclass
class AirflowEnv:
    """An isolated Airflow + Watchtower environment under ``root``:
    root/airflow (AIRFLOW_HOME, SQLite metadata), root/watchtower (WATCHTOWER_HOME, store),
    root/landing (the landing folder)."""

    root: Path

    @property
    def env(self) -> dict[str, str]:
        home = self.root / "airflow"
        env = airflow_base_env(home, f"sqlite:///{home / 'airflow.db'}")
        env.update(
            {
                "WATCHTOWER_HOME": str(self.watchtower_home),
                "WATCHTOWER_DB_URL": self.db_url,
                "WATCHTOWER_LANDING_DIR": str(self.landing),
            }
        )
        return env

    @property
    def watchtower_home(self) -> Path:
        return self.root / "watchtower"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.watchtower_home / 'watchtower.db'}"

    @classmethod
    def create(cls, root: Path, metadata_db: Path, landing: Path) -> AirflowEnv:
        (root / "airflow").mkdir(parents=True)
        shutil.copy(metadata_db, root / "airflow" / "airflow.db")
        shutil.copytree(landing, root / "landing")
        (root / "watchtower").mkdir()
        return cls(root)

    def clone(self, root: Path) -> AirflowEnv:
        """A copy of this environment's state (metadata DB, store, landing) under ``root``."""
        for name in ("airflow", "watchtower", "landing"):
            shutil.copytree(self.root / name, root / name, symlinks=True)
        return AirflowEnv(root)

    def dag_tests(self, *specs: dict[str, Any], timeout: float = 900) -> list[AirflowRun]:
        """``dag.test()`` of each spec (:func:`run_spec`), in order, in one subprocess."""
        cmd = [sys.executable, str(DAGTEST), json.dumps(list(specs))]
        proc = subprocess.run(
            cmd, env=self.env, capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        output = proc.stdout + proc.stderr
        reports = [
            json.loads(ln[len(REPORT_PREFIX) :])
            for ln in proc.stdout.splitlines()
            if ln.startswith(REPORT_PREFIX)
        ]
        if proc.returncode != 0 or len(reports) != len(specs):
            raise AssertionError(f"dag.test crashed (rc={proc.returncode}):\n{output[-20000:]}")
        return [AirflowRun(report, output) for report in reports]

    def dag_test(self, dag_id: str, **kwargs: Any) -> AirflowRun:
        """``dag.test()`` of one DAG in a subprocess; kwargs as :func:`run_spec`."""
        return self.dag_tests(run_spec(dag_id, **kwargs))[0]


@pytest.fixture(scope="session")
def airflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite Airflow metadata database migrated once per session (copied per test)."""
    home = tmp_path_factory.mktemp("airflow-template")
    env = airflow_base_env(home, f"sqlite:///{home / 'airflow.db'}")
    run_airflow(env, "db", "migrate")
    return home / "airflow.db"


@pytest.fixture(scope="session")
def world_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A landing folder of the small synthetic world (written once per session)."""
    from watchtower.synth import write_world

    out = tmp_path_factory.mktemp("world") / "landing"
    write_world(out, **WORLD)  # type: ignore[arg-type]
    return out


@pytest.fixture
def airflow_env(tmp_path: Path, airflow_template: Path, world_landing: Path) -> AirflowEnv:
    """Airflow on a fresh copy of the metadata DB; Watchtower on its own home and landing."""
    return AirflowEnv.create(tmp_path / "env", airflow_template, world_landing)
