"""Run one DAG once with ``dag.test()`` in this process and print a JSON report.

Started by the tests in a subprocess (Airflow reads its configuration at import time, so each
run gets a fresh interpreter with the test's AIRFLOW_* and WATCHTOWER_* environment)::

    python tests/dags/_dagtest.py DAG_ID [--logical-date ISO|none] [--conf JSON]
        [--retries N] [--use-executor]

The last stdout line is ``DAGTEST-REPORT {json}`` with the run's state and task instances.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

REPORT_PREFIX = "DAGTEST-REPORT "


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dag_id")
    parser.add_argument("--logical-date", default="none")
    parser.add_argument("--conf", default=None)
    parser.add_argument("--retries", type=int, default=None)
    parser.add_argument("--use-executor", action="store_true")
    args = parser.parse_args(argv)

    import pendulum
    from airflow.dag_processing.dagbag import BundleDagBag

    folder = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]).resolve()
    bag = BundleDagBag(dag_folder=folder, bundle_path=folder, bundle_name="dags-folder")
    if bag.import_errors:
        print(REPORT_PREFIX + json.dumps({"import_errors": bag.import_errors}))
        return 2
    dag = bag.dags[args.dag_id]
    if args.retries is not None:  # no waiting minutes for a retry inside a test
        for task in dag.tasks:
            task.retries = args.retries
    logical = None if args.logical_date == "none" else pendulum.parse(args.logical_date)
    conf = json.loads(args.conf) if args.conf else None
    began = time.perf_counter()
    run = dag.test(logical_date=logical, run_conf=conf, use_executor=args.use_executor)
    seconds = time.perf_counter() - began

    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = session.query(TaskInstance).filter_by(dag_id=dag.dag_id, run_id=run.run_id).all()
        report: dict[str, Any] = {
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
    print(REPORT_PREFIX + json.dumps(report, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
