"""Foundation tables: ingest batches, quarantine and the point-in-time history tables.

History tables keep every row ever loaded with ``known_from``, the date it became known
(contract, "Point in time"). Nothing is updated or deleted: a run as of day D reads rows with
``known_from <= D``. Later stages add their tables to the same :data:`metadata` in sibling
modules (see ``watchtower.store.__init__``).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from watchtower.contract import FIELDS, Field, Source

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

#: History table per contract source.
HISTORY_TABLES: dict[Source, str] = {
    "managers": "manager_snapshots",
    "funds": "fund_snapshots",
    "reports": "reports",
    "events": "events",
    "incidents": "incidents",
}

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("file_name", sa.String(500), nullable=False),
    sa.Column("file_path", sa.Text, nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    # Set only for loaded batches: the database itself refuses loading one content twice.
    sa.Column("loaded_hash", sa.String(64), unique=True),
    sa.Column("status", sa.String(20), nullable=False),  # loaded | failed | rejected
    sa.Column("file_date", sa.Date),
    sa.Column("rows_read", sa.Integer, nullable=False, default=0),
    sa.Column("rows_loaded", sa.Integer, nullable=False, default=0),
    sa.Column("rows_quarantined", sa.Integer, nullable=False, default=0),
    sa.Column("message", sa.Text),
    sa.Column("ingested_at", sa.DateTime, nullable=False),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False, index=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("row_number", sa.Integer, nullable=False),  # 1-based record index in the file
    sa.Column("field", sa.String(100), nullable=False),  # first failing field
    sa.Column("reason", sa.Text, nullable=False),  # every failure, "; "-joined
    sa.Column("details", sa.JSON, nullable=False),  # [{"field", "check", "reason"}, ...]
    sa.Column("raw", sa.JSON, nullable=False),  # the record as read, nothing lost
)


def _sql_type(f: Field) -> sa.types.TypeEngine[Any]:
    kind = f.kind
    if kind == "date":
        return sa.Date()
    if kind in ("money", "float"):
        return sa.Float()
    if kind == "int":
        return sa.Integer()
    if kind == "bool":
        return sa.Boolean()
    if kind in ("code", "enum", "period"):
        return sa.String(64)
    return sa.Text()


def _history_table(source: Source) -> sa.Table:
    cols: list[Any] = [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("known_from", sa.Date, nullable=False, index=True),
    ]
    cols += [sa.Column(f.column, _sql_type(f)) for f in FIELDS[source]]
    cols.append(sa.Column("extra", sa.JSON(none_as_null=True)))  # unknown columns, kept as read
    table = sa.Table(HISTORY_TABLES[source], metadata, *cols)
    key = {"managers": "register_no", "funds": "fund_no", "reports": "fund_no"}.get(source)
    if key:
        sa.Index(f"ix_{table.name}_{key}_known_from", table.c[key], table.c.known_from)
    elif source in ("events", "incidents"):
        sa.Index(f"ix_{table.name}_register_no", table.c.register_no)
    return table


manager_snapshots = _history_table("managers")
fund_snapshots = _history_table("funds")
reports = _history_table("reports")
events = _history_table("events")
incidents = _history_table("incidents")

HISTORY: dict[Source, sa.Table] = {
    "managers": manager_snapshots,
    "funds": fund_snapshots,
    "reports": reports,
    "events": events,
    "incidents": incidents,
}
