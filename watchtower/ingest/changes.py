"""Write the change events that consecutive snapshots show (``snapshot_diff``) to the store.

The decision is :func:`watchtower.ingest.snapshot_diff.snapshot_events`, a pure function; this
module reads the snapshots it needs and inserts the events it returns that the store does not
hold yet (the unique ``natural_key`` makes a re-run or a re-delivery count once).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from watchtower.ingest.snapshot_diff import snapshot_events
from watchtower.store.schema import batches, change_events, fund_snapshots, manager_snapshots

_DATE = re.compile(r"\d{4}[-_.]?\d{2}(?:[-_.]?\d{2})?|\d{4}Q[1-4]", re.IGNORECASE)
_MANAGER_COLUMNS = (
    "register_no",
    "snapshot_date",
    "known_from",
    "batch_id",
    "manager_name",
    "artificial_person_name",
    "register_address",
    "office_address",
    "reg_adr_agg",
    "office_adr_agg",
    "member_type",
    "fund_count",
    "has_special_tips",
    "has_credit_tips",
)


def feed_of(file_name: str, part: str | None) -> str:
    """The query a snapshot came from: the file name without its dates, plus the bundle part
    (``pof_manager_query_shaanxi_office.json`` of every day is one feed)."""
    stem = _DATE.sub("", file_name.rsplit(".", 1)[0]).strip("-_. ")
    return f"{stem}#{part}" if part else stem


def derive_change_events(engine: sa.Engine, *, batch_ids: Sequence[int]) -> int:
    """Derive and store the change events of every manager with a snapshot in ``batch_ids``
    (their whole history is compared, so a snapshot that arrives late still slots into place).
    Returns the number of new events."""
    with engine.connect() as conn:
        managers = _touched(conn, manager_snapshots, batch_ids)
        managers |= _touched(conn, fund_snapshots, batch_ids)
        if not managers:
            return 0
        feeds = {
            int(r.id): feed_of(r.file_name, r.part)
            for r in conn.execute(
                sa.select(batches.c.id, batches.c.file_name, batches.c.part).where(
                    batches.c.source == "managers", batches.c.status == "loaded"
                )
            )
        }
        frame = _read(conn, manager_snapshots, _MANAGER_COLUMNS, managers)
        funds = _read(
            conn,
            fund_snapshots,
            ("fund_no", "register_no", "snapshot_date", "known_from", "working_state"),
            managers,
        )
        seen = pd.DataFrame(
            conn.execute(
                sa.select(
                    manager_snapshots.c.batch_id, manager_snapshots.c.snapshot_date
                ).distinct()
            ).all(),
            columns=["batch_id", "snapshot_date"],
        )
        existing = _existing_keys(conn, managers)
    frame["feed"] = frame["batch_id"].map(feeds).fillna("")
    seen["feed"] = seen["batch_id"].map(feeds)
    feeds_seen = {
        feed: sorted(pd.to_datetime(group["snapshot_date"]).dt.date.unique())
        for feed, group in seen.dropna(subset=["feed"]).groupby("feed")
    }
    funds = funds.dropna(subset=["fund_no", "register_no"])
    events = snapshot_events(
        frame.drop(columns=["batch_id"]), funds if len(funds) else None, feeds_seen
    )
    if events.empty:
        return 0
    # A manager that left one query's list but is on another list that day has not left.
    on_day = set(zip(frame["register_no"], pd.to_datetime(frame["snapshot_date"]), strict=True))
    left = events["event_type"] == "left_list"
    still = [
        (r, pd.Timestamp(d)) in on_day
        for r, d in zip(events["register_no"], events["event_date"], strict=True)
    ]
    events = events[~(left & pd.Series(still, index=events.index))]
    new = events[~events["natural_key"].isin(existing)]
    if new.empty:
        return 0
    records = [
        {
            "natural_key": r.natural_key,
            "register_no": r.register_no,
            "event_type": r.event_type,
            "event_date": pd.Timestamp(r.event_date).date(),
            "known_from": pd.Timestamp(r.reported_date).date(),
            "source": r.source,
            "severity": int(r.severity),
            "field": r.field,
            "old_value": r.old_value,
            "new_value": r.new_value,
            "description": r.description,
        }
        for r in new.itertuples(index=False)
    ]
    with engine.begin() as conn:
        conn.execute(change_events.insert(), records)
    return len(records)


def _existing_keys(conn: sa.Connection, managers: set[str]) -> set[str]:
    """Natural keys already stored for these managers (only theirs can be derived again)."""
    keys: set[str] = set()
    ids = sorted(managers)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(change_events.c.natural_key).where(
                change_events.c.register_no.in_(ids[start : start + 500])
            )
        )
        keys |= {k for (k,) in rows}
    return keys


def _touched(conn: sa.Connection, table: sa.Table, batch_ids: Sequence[int]) -> set[str]:
    out: set[str] = set()
    ids = list(batch_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(
            sa.select(table.c.register_no)
            .where(table.c.batch_id.in_(ids[start : start + 500]))
            .distinct()
        )
        out |= {r for (r,) in rows if r}
    return out


def _read(
    conn: sa.Connection, table: sa.Table, columns: Sequence[str], managers: set[str]
) -> pd.DataFrame:
    chunks = []
    ids = sorted(managers)
    for start in range(0, len(ids), 500):
        stmt = sa.select(*(table.c[c] for c in columns)).where(
            table.c.register_no.in_(ids[start : start + 500])
        )
        chunks.append(pd.DataFrame(conn.execute(stmt).all(), columns=list(columns)))
    frame = pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame(columns=columns)
    for c in ("snapshot_date", "known_from"):
        frame[c] = pd.to_datetime(frame[c]).astype("datetime64[s]")
    return frame
