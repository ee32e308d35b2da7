"""The features area's reads of the store."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from watchtower.features._history import partition_of, read_managers


def list_partitions(engine: sa.Engine, as_of: dt.date) -> list[str]:
    """Slugs of the manager types present as of ``as_of`` (sorted): the peer groups a
    scheduler maps the feature and scoring steps over."""
    with engine.connect() as conn:
        managers, _ = read_managers(conn, as_of)
    return sorted(set(partition_of(managers["primary_invest_type"])))
