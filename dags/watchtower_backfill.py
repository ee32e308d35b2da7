"""watchtower_backfill: replay past days point in time. Manual only; wiring only.

Params: ``start`` and ``end`` (ISO dates, inclusive) and ``frequency`` (daily, weekly: week
ends, Sundays, month_end): the days of the one calendar ``watchtower backtest`` uses too
(``pipeline.as_of_days``), so a backfill and a backtest of the same range replay the same days.
Each day is replayed as it was known then: features and scores read only rows with
``known_from`` <= that day, so the replay equals what the daily run would have produced.
Features and scores of different days are independent and run as one mapped task per day (more
workers, sooner done); warn carries alert state from one day to the next, so it walks the days
in order in one task. Re-running a range changes nothing.
No asset is published: a replay must not mail old news to supervisors.
"""

from __future__ import annotations

from typing import Any

from _watchtower_common import START_DATE, default_args, load_settings, to_xcom
from airflow.sdk import Param, dag, task

_DOC = __doc__
#: The DAG's frequency names -> the calendar's (watchtower.evaluate.backtest.CALENDAR).
CALENDAR_NAMES = {"daily": "daily", "weekly": "weekly", "month_end": "monthly"}
FREQUENCIES = list(CALENDAR_NAMES)


@dag(
    dag_id="watchtower_backfill",
    description="Manual: replay features → score → warn for past days, point in time",
    schedule=None,
    start_date=START_DATE,
    catchup=False,
    default_args=default_args(),
    tags=["watchtower", "backfill"],
    doc_md=_DOC,
    params={
        "start": Param("2024-01-01", type="string", format="date", description="first day"),
        "end": Param("2024-01-31", type="string", format="date", description="last day"),
        "frequency": Param("weekly", enum=FREQUENCIES, description="which days to replay"),
    },
)
def watchtower_backfill() -> None:
    @task
    def days(**context: Any) -> list[str]:
        """The as-of days to replay, oldest first (ISO strings)."""
        import datetime as dt

        from watchtower import pipeline

        params = context["params"]
        freq = params["frequency"]
        if freq not in CALENDAR_NAMES:
            raise ValueError(f"frequency must be one of {FREQUENCIES}, not {freq!r}")
        every = pipeline.as_of_days(
            dt.date.fromisoformat(params["start"]),
            dt.date.fromisoformat(params["end"]),
            CALENDAR_NAMES[freq],
        )
        return [d.isoformat() for d in every]

    @task(map_index_template="{{ task.op_kwargs['as_of'] }}", max_active_tis_per_dagrun=8)
    def replay(as_of: str) -> dict[str, Any]:
        """Features and scores of one past day (all partitions)."""
        import datetime as dt

        from watchtower import pipeline

        return to_xcom(pipeline.run(load_settings(), dt.date.fromisoformat(as_of)))

    @task
    def warn_in_order(as_ofs: list[str]) -> list[dict[str, Any]]:
        """Tiers and alert lifecycle, day after day: each day's state feeds the next."""
        import datetime as dt

        from watchtower import pipeline

        settings = load_settings()
        # backfill mode: the days replayed may lie before days warned already
        return [
            to_xcom(pipeline.warn(settings, dt.date.fromisoformat(d), backfill=True))
            for d in as_ofs
        ]

    dates = days()
    # A task called with an upstream's XComArg: Airflow types the call with the function's own
    # signature (its mypy plugin is not shipped, apache/airflow#39514), hence the ignores.
    replay.expand(as_of=dates) >> warn_in_order(dates)  # type: ignore[arg-type]


watchtower_backfill()
