"""Bulk inserts and bound values without SQLAlchemy's per-row statement machinery, through
public APIs only: compiled statements, the types' own bind processors, the DBAPI cursor."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa

__all__ = ["IN_CHUNK", "bind_values", "insert_many"]

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
    # exec_driver_sql: the compiled text and the processed values straight to the cursor's
    # executemany, with SQLAlchemy's events and its wrapping of driver errors (sa.exc.*)
    sql = str(compiled)
    for i in range(0, len(params), 5000):
        conn.exec_driver_sql(sql, params[i : i + 5000])


def bind_values(dialect: sa.Dialect, params: Mapping[str, Any]) -> dict[str, Any]:
    """A compiled statement's bound values (``construct_params()``) as the dialect sends them
    to the driver: dates and datetimes through the dialect's own ``Date`` / ``DateTime`` bind
    processors (SQLite: ISO text, as sqlite3's own date adapters are deprecated), every other
    value as it is. Lets a caller run the compiled text on the DBAPI cursor with the values
    SQLAlchemy would have sent."""
    procs = {
        kind: sa_type.dialect_impl(dialect).bind_processor(dialect)
        for kind, sa_type in ((dt.datetime, sa.DateTime()), (dt.date, sa.Date()))
    }
    out = dict(params)
    for key, value in out.items():
        # datetime first: a datetime is also a date
        kind = dt.datetime if isinstance(value, dt.datetime) else dt.date
        proc = procs[kind] if isinstance(value, dt.date) else None
        if proc is not None:
            out[key] = proc(value)
    return out
