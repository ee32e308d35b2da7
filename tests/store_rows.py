"""Rows the tests put straight into the store: a loaded batch for hand-made history rows."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from watchtower.store.schema import batches


def loaded_batch(
    conn: sa.Connection,
    *,
    source: str,
    at: dt.datetime,
    name: str = "hand-made",
    path: str | None = None,
    content_hash: str = "0" * 64,
    rows: int | None = None,
) -> int:
    """Insert one loaded batch of ``source`` (ingested ``at``) and return its id; ``rows``:
    rows read and loaded (none quarantined), unset when None."""
    counts = {} if rows is None else dict(rows_read=rows, rows_loaded=rows, rows_quarantined=0)
    key = conn.execute(
        batches.insert().values(
            source=source,
            file_name=name,
            file_path=name if path is None else path,
            content_hash=content_hash,
            status="loaded",
            ingested_at=at,
            **counts,
        )
    ).inserted_primary_key
    assert key is not None  # one row inserted: its key
    return int(key[0])
