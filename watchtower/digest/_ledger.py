"""Claiming rows of a delivery ledger (the mail outbox, the webhook pushes): one sender at a
time per row, and a row whose sender died mid-send is taken up again once stale.

A row is claimable while pending, or while "sending" since before ``stale``. A sender claims
it with a conditional UPDATE on the status and attempts it read, so of two concurrent senders
exactly one wins and the other skips the row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa


def claimable(
    conn: sa.Connection, table: sa.Table, stale: dt.datetime, *where: sa.ColumnElement[bool]
) -> list[dict[str, Any]]:
    """id, status and attempts of the rows to send, oldest first (``where``: narrower)."""
    c = table.c
    q = sa.select(c.id, c.status, c.attempts).where(
        sa.or_(c.status == "pending", sa.and_(c.status == "sending", c.claimed_at < stale))
    )
    for clause in where:
        q = q.where(clause)
    return [dict(r) for r in conn.execute(q.order_by(c.id)).mappings()]


def claim(
    engine: sa.Engine, table: sa.Table, r: Mapping[str, Any], now: dt.datetime, **values: Any
) -> dict[str, Any] | None:
    """The whole row, claimed for this sender (status "sending", ``values`` set too), or None
    when another sender claimed it first."""
    c = table.c
    with engine.begin() as conn:
        claimed = conn.execute(
            table.update()
            .where(c.id == r["id"], c.status == r["status"], c.attempts == r["attempts"])
            .values(status="sending", claimed_at=now, **values)
        ).rowcount
        if not claimed:
            return None
        return dict(conn.execute(sa.select(table).where(c.id == r["id"])).mappings().one())
