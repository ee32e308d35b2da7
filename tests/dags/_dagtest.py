"""Run one DAG once with ``dag.test()`` in this process and print a JSON report.

Started by the tests in a subprocess (Airflow reads its configuration at import time, so each
run gets a fresh interpreter with the test's AIRFLOW_* and WATCHTOWER_* environment)::

    python tests/dags/_dagtest.py '[{"dag_id": "watchtower_pipeline", "logical_date": "..."}]'

Prints one line ``DAGTEST-REPORT {json}`` per run with its state and task instances.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPORT_PREFIX = "DAGTEST-REPORT "


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """One ``dag.test()``; ``spec``: dag_id, logical_date (ISO or None), conf, retries,
    use_executor, env (set in os.environ for this run: tasks read settings at call time)."""
    import pendulum
    from airflow.dag_processing.dagbag import BundleDagBag
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    saved = dict(os.environ)
    os.environ.update(spec.get("env") or {})
    try:
        folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).resolve()
        bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
        if bag.import_errors:
            return {"import_errors": bag.import_errors}
        dag = bag.dags[spec["dag_id"]]
        if spec.get("retries") is not None:  # no waiting minutes for a retry inside a test
            for task in dag.tasks:
                task.retries = spec["retries"]
        logical = pendulum.parse(spec["logical_date"]) if spec.get("logical_date") else None
        # pendulum.parse may give a date, time or duration; a logical date is a moment
        assert logical is None or isinstance(logical, pendulum.DateTime), logical
        began = time.perf_counter()
        run = dag.test(
            logical_date=logical,
            run_conf=spec.get("conf"),
            use_executor=bool(spec.get("use_executor")),
        )
        seconds = time.perf_counter() - began
    finally:
        os.environ.clear()
        os.environ.update(saved)

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        return {
            "dag_id": dag.dag_id,
            "run_id": run.run_id,
            "state": str(run.state),
            "seconds": round(seconds, 2),
            "test_pid": os.getpid(),
            "tis": sorted(
                (
                    {
                        "id": str(ti.id),
                        "task_id": ti.task_id,
                        "map_index": ti.map_index,
                        "state": str(ti.state),
                        "try_number": ti.try_number,
                        "hostname": ti.hostname,
                        "pid": ti.pid,
                        "rendered_map_index": ti.rendered_map_index,
                    }
                    for ti in tis
                ),
                key=lambda t: (t["task_id"], t["map_index"]),
            ),
        }


def main(argv: list[str] | None = None) -> int:
    """``argv[0]``: a JSON list of run specs, run in order in this one process (the
    in-process execution API Airflow builds for ``dag.test()`` costs seconds; pay it once)."""
    specs = json.loads((argv if argv is not None else sys.argv[1:])[0])
    for spec in specs:
        report = run_one(spec)
        print(REPORT_PREFIX + json.dumps(report, default=str), flush=True)
        if "import_errors" in report:
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
