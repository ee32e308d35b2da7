"""Write transactions that serialize concurrent writers where the database needs help."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


@contextmanager
def write_transaction(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A transaction that takes the write lock up front on SQLite (``BEGIN IMMEDIATE``).

    SQLite in WAL mode cannot upgrade a read transaction to a write one after another writer
    committed (it fails at once with "database is locked" instead of waiting); taking the lock
    first makes a second concurrent run wait for the busy timeout, then see the first run's
    rows. Elsewhere (PostgreSQL) it is a plain transaction: unique constraints decide, and the
    caller retries on IntegrityError.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with engine.connect() as raw:
        conn = raw.execution_options(isolation_level="AUTOCOMMIT")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
