"""The features area's reads of the store."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from watchtower.features._history import partition_of, read_manager_types


def manager_type_counts(engine: sa.Engine, as_of: dt.date) -> dict[str | None, int]:
    """How many managers known on ``as_of`` have each ``primary_invest_type`` (None: type
    missing): the sizes of the candidate peer groups, the ``manager_type`` column of the day's
    feature frame counted without computing or reading any feature."""
    with engine.connect() as conn:
        types = read_manager_types(conn, as_of)
    counts = types.value_counts(dropna=False)
    return {(None if pd.isna(t) else str(t)): int(n) for t, n in counts.items()}


def partition_of_type(manager_type: object) -> str:
    """The partition slug of one manager type (``unknown`` when missing or unrecognised)."""
    return str(partition_of(pd.Series([manager_type], dtype=object)).iloc[0])


def list_partitions(engine: sa.Engine, as_of: dt.date) -> list[str]:
    """Slugs of the manager types present as of ``as_of`` (sorted): the units a scheduler
    maps the feature and scoring steps over (the scoring step decides, from the same counts,
    which of them are whole peer groups: see ``watchtower.detect.steps.run_scoring``)."""
    return sorted({partition_of_type(t) for t in manager_type_counts(engine, as_of)})
