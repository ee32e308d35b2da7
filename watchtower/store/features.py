"""Feature snapshots: one row per manager per as-of day per feature set version.

``values`` holds ``{feature: value}`` (JSON; NaN stored as null). Re-running a day replaces
that day's rows for the managers written (so partitioned runs do not erase each other).
Floats survive the JSON round trip exactly, so a loaded snapshot equals the computed frame.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from watchtower.contract import META_COLUMNS, PARTITION_SLUGS, PARTITIONS, UNKNOWN_PARTITION
from watchtower.store.bulk import IN_CHUNK, insert_many
from watchtower.store.schema import metadata

#: Metadata columns stored beside the values (as computed by watchtower.features).
SNAPSHOT_META: tuple[str, ...] = META_COLUMNS

feature_snapshots = sa.Table(
    "feature_snapshots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("register_no", sa.String(16), nullable=False),
    sa.Column("feature_set_version", sa.String(32), nullable=False),
    sa.Column("manager_name", sa.Text),
    sa.Column("manager_type", sa.String(64)),
    sa.Column("province", sa.String(64)),
    sa.Column("city", sa.String(64)),
    sa.Column("values", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("as_of", "register_no", "feature_set_version"),
    sa.Index("ix_feature_snapshots_register_no_as_of", "register_no", "as_of"),
)

#: What the store knew of a day when its features were computed (one row per day, feature set
#: and partition, "" = all): a stored snapshot is reused only while the day's knowledge is the
#: same (``watchtower.store.knowledge``), so a correction known by the day recomputes it.
feature_runs = sa.Table(
    "feature_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("feature_set_version", sa.String(32), nullable=False),
    sa.Column("partition", sa.String(64), nullable=False),
    sa.Column("knowledge", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("as_of", "feature_set_version", "partition"),
)


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value)


def _texts(column: pd.Series) -> list[str | None]:
    return [_text(v) for v in column.tolist()]


def store_features(
    conn: sa.Connection,
    as_of: dt.date,
    frame: pd.DataFrame,
    version: str,
    *,
    created_at: dt.datetime | None = None,
) -> int:
    """Write ``frame`` (index register_no; metadata columns + float feature columns) as the
    snapshot of ``as_of`` under feature set ``version``; returns the rows written.

    Rows of the same (as_of, version) for the frame's managers are replaced; run it inside
    the caller's transaction (``with engine.begin() as conn``).
    """
    if created_at is None:
        from watchtower.clock import SystemClock

        created_at = SystemClock().now()
    features = [c for c in frame.columns if c not in SNAPSHOT_META]
    keys = [str(k) for k in frame.index]
    t = feature_snapshots
    for i in range(0, len(keys), IN_CHUNK):
        conn.execute(
            t.delete().where(
                t.c.as_of == as_of,
                t.c.feature_set_version == version,
                t.c.register_no.in_(keys[i : i + IN_CHUNK]),
            )
        )
    # Floats as Python objects, NaN -> None (JSON null), one row list per manager: built
    # with array operations, not one call per value (20,000 x 70 values at national scale).
    values = frame[features].to_numpy(dtype="float64", na_value=np.nan)
    cells = values.astype(object)
    cells[np.isnan(values)] = None
    meta = {
        c: _texts(frame[c]) if c in frame.columns else [None] * len(frame) for c in SNAPSHOT_META
    }
    rows = [
        {
            "as_of": as_of,
            "register_no": key,
            "feature_set_version": version,
            **{c: meta[c][i] for c in SNAPSHOT_META},
            "values": dict(zip(features, cells_i, strict=True)),
            "created_at": created_at,
        }
        for i, (key, cells_i) in enumerate(zip(keys, cells.tolist(), strict=True))
    ]
    insert_many(conn, t, rows)
    return len(rows)


def record_feature_run(
    conn: sa.Connection,
    as_of: dt.date,
    version: str,
    knowledge: str,
    *,
    partition: str | None = None,
    created_at: dt.datetime,
) -> None:
    """Note that the snapshot of (``as_of``, ``version``, ``partition``; None = all) was
    computed from ``knowledge`` (``watchtower.store.knowledge.knowledge_of``)."""
    t = feature_runs
    part = partition or ""
    conn.execute(
        t.delete().where(
            t.c.as_of == as_of, t.c.feature_set_version == version, t.c.partition == part
        )
    )
    conn.execute(
        t.insert().values(
            as_of=as_of,
            feature_set_version=version,
            partition=part,
            knowledge=knowledge,
            created_at=created_at,
        )
    )


def fresh_partitions(conn: sa.Connection, as_of: dt.date, version: str, knowledge: str) -> set[str]:
    """Partitions of (``as_of``, ``version``) computed from ``knowledge`` ("" = all of them)."""
    t = feature_runs
    return {
        str(p)
        for (p,) in conn.execute(
            sa.select(t.c.partition).where(
                t.c.as_of == as_of,
                t.c.feature_set_version == version,
                t.c.knowledge == knowledge,
            )
        )
    }


def partition_condition(column: sa.ColumnElement[Any], partition: str) -> sa.ColumnElement[bool]:
    """SQL condition on a manager-type ``column``: the type belongs to ``partition`` (a slug
    of :data:`~watchtower.contract.PARTITION_SLUGS`; ``unknown``: missing or unrecognised),
    so a partition's rows are selected by the database, not filtered after reading them all."""
    if partition not in PARTITION_SLUGS:
        raise ValueError(f"unknown partition {partition!r}; one of {', '.join(PARTITION_SLUGS)}")
    if partition == UNKNOWN_PARTITION:
        return sa.or_(column.is_(None), column.not_in(list(PARTITIONS)))
    types = [t for t, slug in PARTITIONS.items() if slug == partition]
    return column.in_(types)


def load_features(
    engine: sa.Engine | sa.Connection,
    as_of: dt.date,
    version: str | None = None,
    *,
    features: Sequence[str] | None = None,
    partition: str | None = None,
) -> pd.DataFrame:
    """The stored snapshot of ``as_of`` as the frame :func:`store_features` was given.

    ``version`` None takes the newest version stored for that day (by creation time). The
    frame is indexed by register_no (sorted), metadata columns first, then float64 features
    (order of ``features`` if given, else as stored). Empty frame when nothing is stored.
    ``partition``: only the rows of managers of that partition's types (read with a SQL
    condition, see :func:`partition_condition`).
    """
    t = feature_snapshots
    conn_ctx = engine.connect() if isinstance(engine, sa.Engine) else None
    conn: sa.Connection = conn_ctx.__enter__() if conn_ctx is not None else engine  # type: ignore[assignment]
    try:
        if version is None:
            version = conn.execute(
                sa.select(t.c.feature_set_version)
                .where(t.c.as_of == as_of)
                .order_by(t.c.created_at.desc(), t.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            if version is None:
                return pd.DataFrame(index=pd.Index([], name="register_no", dtype="str"))
        where = [t.c.as_of == as_of, t.c.feature_set_version == version]
        if partition is not None:
            where.append(partition_condition(t.c.manager_type, partition))
        rows = conn.execute(
            sa.select(t.c.register_no, *[t.c[c] for c in SNAPSHOT_META], t.c["values"])
            .where(*where)
            .order_by(t.c.register_no)
        ).fetchall()
    finally:
        if conn_ctx is not None:
            conn_ctx.__exit__(None, None, None)
    index = pd.Index([r[0] for r in rows], name="register_no", dtype="str")
    meta = pd.DataFrame(
        {c: [r[i + 1] for r in rows] for i, c in enumerate(SNAPSHOT_META)}, index=index
    ).astype("str")
    if features is None:
        seen: dict[str, None] = {}
        for r in rows:
            seen.update(dict.fromkeys(r[-1]))
        features = list(seen)
    values = pd.DataFrame(
        [[np.nan if r[-1].get(f) is None else r[-1][f] for f in features] for r in rows],
        index=index,
        columns=list(features),
        dtype="float64",
    )
    out = pd.concat([meta, values], axis=1)
    out.attrs["feature_set_version"] = version
    return out
