"""What the store knew of a day: the fingerprint that says when a day's derived rows are stale.

A day's features, scores and tiers follow from the history rows known by that day. Rows are
only ever added, one loaded batch at a time, and each batch records the earliest known_from
of the rows it stored; so the loaded batches whose rows reach back to a day or before, counted
and with their highest id, change exactly when what was known by that day changed (a late
first delivery, a correction received on or before it, a re-admitted batch).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from watchtower.store.schema import batches

__all__ = ["knowledge_of"]


def knowledge_of(conn: sa.Connection, day: dt.date) -> str:
    """The fingerprint of what was known by ``day`` (``"<batches>:<highest batch id>"``)."""
    count, highest = conn.execute(
        sa.select(sa.func.count(), sa.func.max(batches.c.id)).where(
            batches.c.status == "loaded", batches.c.known_from_min <= day
        )
    ).one()
    return f"{int(count)}:{int(highest or 0)}"
