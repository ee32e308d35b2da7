"""The digest area's reads of the store (the outbox)."""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.alerts import outbox


def pending_count(conn: sa.Connection) -> int:
    """Digests in the outbox waiting to be sent (state pending)."""
    count = conn.execute(
        sa.select(sa.func.count()).select_from(outbox).where(outbox.c.status == "pending")
    ).scalar_one()
    return int(count)
