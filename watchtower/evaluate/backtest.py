"""Backtest: replay features, scoring and tiers on a calendar of past as-of days, point in time.

Each day runs exactly what the scheduler runs on that day (``pipeline.run`` then
``pipeline.warn``) against the stored history, which only shows rows known by then. A day
whose scores and tiers are already stored is skipped (so an interrupted backtest resumes where
it stopped); ``force`` recomputes it. Days run in calendar order, because tier hysteresis
carries each manager's previous tier forward.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from watchtower.store.alerts import manager_tiers

Freq = Literal["weekly", "monthly", "quarterly"]
#: The one calendar of as-of days (the backtest, the backfill DAG): every day, week ends
#: (Sundays), month ends, quarter ends; as pandas frequencies.
CALENDAR: dict[str, str] = {"daily": "D", "weekly": "W-SUN", "monthly": "ME", "quarterly": "QE"}
#: The frequencies a backtest replays (a daily backtest of years is the backfill DAG's job).
FREQS: dict[str, str] = {k: CALENDAR[k] for k in ("weekly", "monthly", "quarterly")}

DayProgress = Callable[[Iterable[dt.date]], Iterable[dt.date]]


@dataclass(frozen=True)
class BacktestSummary:
    """Outcome of a backtest. ``ran``: days computed now; ``skipped``: already stored;
    ``seconds``: wall time of the computed days; ``tiers``: managers per tier on the last day."""

    start: dt.date
    end: dt.date
    freq: str
    days: list[dt.date]
    ran: list[dt.date] = field(default_factory=list)
    skipped: list[dt.date] = field(default_factory=list)
    seconds: float = 0.0
    scored_last: int = 0
    tiers_last: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def as_of_days(start: dt.date, end: dt.date, freq: str) -> list[dt.date]:
    """The as-of days of ``freq`` (see CALENDAR) in [start, end], oldest first; may be empty.

    Raises ValueError for an unknown frequency or an empty range (end before start).
    """
    if freq not in CALENDAR:
        raise ValueError(f"unknown frequency {freq!r}; one of {', '.join(CALENDAR)}")
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [d.date() for d in pd.date_range(start, end, freq=CALENDAR[freq])]


def backtest_days(start: dt.date, end: dt.date, freq: str) -> list[dt.date]:
    """Calendar of backtest days in [start, end]: week ends (Sundays), month ends or quarter
    ends (:func:`as_of_days`).

    Raises ValueError for an unknown frequency, an empty range, or a range holding no such day.
    """
    if freq not in FREQS:
        raise ValueError(f"unknown frequency {freq!r}; one of {', '.join(FREQS)}")
    days = as_of_days(start, end, freq)
    if not days:
        raise ValueError(f"no {freq} as-of day between {start} and {end}")
    return days


def tiered_days(engine: sa.Engine) -> set[dt.date]:
    """Days whose tiers are stored (warn ran after scoring): the backtest's "done" mark."""
    with engine.connect() as conn:
        return set(conn.execute(sa.select(manager_tiers.c.as_of).distinct()).scalars())


def clear_tiers(engine: sa.Engine, day: dt.date) -> int:
    """Delete one day's tier rows so that ``warn`` recomputes them (``--force``).

    Scores and features are replaced by the scoring step itself; the alert audit trail is
    append-only and keeps the first run's events.
    """
    with engine.begin() as conn:
        result = conn.execute(manager_tiers.delete().where(manager_tiers.c.as_of == day))
        return int(result.rowcount or 0)


def replay_days(
    engine: sa.Engine,
    days: list[dt.date],
    run_day: Callable[[dt.date], tuple[int, dict[str, int]]],
    *,
    force: bool = False,
    progress: DayProgress | None = None,
    freq: str = "",
    notes: list[str] | None = None,
) -> BacktestSummary:
    """Run ``run_day(d)`` (returning (managers scored, tier counts)) for each day not done.

    ``progress`` wraps the iterable of days to run (a tqdm bar in the CLI).
    """
    done = set() if force else tiered_days(engine)
    todo = [d for d in days if d not in done]
    skipped = [d for d in days if d in done]
    ran: list[dt.date] = []
    scored, tiers = 0, dict[str, int]()
    began = time.perf_counter()
    for day in progress(todo) if progress is not None else todo:
        if force:
            clear_tiers(engine, day)
        scored, tiers = run_day(day)
        ran.append(day)
    return BacktestSummary(
        start=days[0],
        end=days[-1],
        freq=freq,
        days=days,
        ran=ran,
        skipped=skipped,
        seconds=round(time.perf_counter() - began, 3),
        scored_last=scored,
        tiers_last=dict(tiers),
        notes=list(notes or []),
    )


def leakage_notes(engine: sa.Engine, first_day: dt.date) -> list[str]:
    """Warn when the champion model was trained on data after the first backtest day.

    Scoring uses the champion when there is one; a champion with cut-off T scores days before
    T with knowledge of labels (and a fit) from after them, so those days are not point in
    time. Without a champion every day is scored by a model fitted on that day alone.
    """
    from watchtower.detect.registry import champion

    record = champion(engine)
    if record is None or record.train_end <= first_day:
        return []
    return [
        f"champion model {record.id} was trained with cut-off {record.train_end}, after the "
        f"first backtest day {first_day}: days before {record.train_end} are not strictly "
        "point in time (backtest in a store without a champion, or before training)"
    ]
