"""Bulk inserts without SQLAlchemy's per-row statement machinery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["IN_CHUNK", "insert_many"]

#: Keys per ``IN (...)`` list: keeps every query under each backend's bound-parameter limit
#: (SQLite's is the lowest). The one chunk size of every keyed read and delete.
IN_CHUNK = 500


def insert_many(conn: sa.Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``conn.execute(table.insert(), rows)`` through the DBAPI cursor's executemany.

    Each value goes through its column type's own bind processor for the dialect (dates,
    JSON), exactly as SQLAlchemy would send it; skipping SQLAlchemy's per-row statement
    machinery halves the time at national scale (feature snapshots: 20,000 rows of ~70
    values; ingest: a quarter's 480,000 history rows)."""
    if not rows:
        return
    dialect = conn.dialect
    names = list(rows[0])
    compiled = table.insert().compile(dialect=dialect, column_keys=names)
    order = list(compiled.positiontup or ()) if compiled.positional else names
    columns = []
    for name in order:
        values = [row[name] for row in rows]
        proc = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            first = values[0]
            if all(v is first for v in values):  # one value for all rows: process it once
                values = [proc(first)] * len(values)
            else:
                values = [proc(v) for v in values]
        columns.append(values)
    params: list[Any] = list(zip(*columns, strict=True))
    if not compiled.positional:
        params = [dict(zip(order, p, strict=True)) for p in params]
    cursor = conn.connection.cursor()
    try:
        for i in range(0, len(params), 5000):
            cursor.executemany(str(compiled), params[i : i + 5000])
    finally:
        cursor.close()
