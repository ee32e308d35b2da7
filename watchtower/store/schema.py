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
    "manager_details": "manager_details",
    "funds": "fund_snapshots",
    "fund_details": "fund_details",
    "cancellations": "cancellations",
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
    # rows_read = rows_loaded + rows_quarantined + rows_rejected, for every batch
    sa.Column("rows_rejected", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_flagged", sa.Integer, nullable=False, server_default="0"),  # loaded, flagged
    sa.Column("part", sa.Text),  # the list inside a bundle file (None: the whole file)
    # A rejected or failed batch admitted again after a fix: the batch that replaced it.
    sa.Column("readmitted_by", sa.Integer),
    # the day the delivery was received (``ingest --received``): a correction's known_from
    sa.Column("received", sa.Date),
    # the earliest known_from of the rows it stored: the days whose knowledge it changed
    sa.Column("known_from_min", sa.Date, index=True),
    # of rows_loaded: rows equal to the stored version of their record (accepted, not stored
    # again: a re-delivery never counts twice), and corrections (later versions)
    sa.Column("rows_unchanged", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rows_corrected", sa.Integer, nullable=False, server_default="0"),
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
    if kind == "ratio":
        return sa.Float()
    if kind == "json":
        return sa.JSON(none_as_null=True)
    if kind in ("code", "enum", "period"):
        return sa.String(64)
    return sa.Text()


#: Columns the loader adds to a source's rows beside the contract's fields, as (name, type):
#: each history table builds its own ``sa.Column`` from them (a Column belongs to one table).
DERIVED_COLUMNS: dict[Source, tuple[tuple[str, sa.types.TypeEngine[Any]], ...]] = {
    # how the fund was tied to its manager: register_no | manager_id | manager_name | none
    "funds": (("link_method", sa.String(16)), ("link_evidence", sa.Text())),
    # register_no holds the matched manager; match_method says how (org_code | name | none);
    # kind: voluntary (主动注销, a terminal state) | incident (forced: a harm label)
    "cancellations": (
        ("match_method", sa.String(16)),
        ("cancel_kind", sa.String(16)),
        ("reason_class", sa.String(32)),
    ),
}


def _history_table(source: Source) -> sa.Table:
    cols: list[Any] = [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
        sa.Column("row_number", sa.Integer, nullable=False),
        sa.Column("known_from", sa.Date, nullable=False, index=True),
    ]
    cols += [sa.Column(f.column, _sql_type(f)) for f in FIELDS[source]]
    cols += [sa.Column(name, type_) for name, type_ in DERIVED_COLUMNS.get(source, ())]
    cols.append(sa.Column("extra", sa.JSON(none_as_null=True)))  # unknown columns, kept as read
    # data-quality flags of a loaded row: {field: ["check: reason", ...]} (odd but usable)
    cols.append(sa.Column("dq_flags", sa.JSON(none_as_null=True)))
    # the record across deliveries and what it says (watchtower.ingest.versions)
    cols.append(sa.Column("version_key", sa.String(64), index=True))
    cols.append(sa.Column("row_hash", sa.String(64)))
    table = sa.Table(HISTORY_TABLES[source], metadata, *cols)
    key = {
        "managers": "register_no",
        "manager_details": "register_no",
        "funds": "fund_no",
        "fund_details": "fund_no",
        "cancellations": "register_no",
        "reports": "fund_no",
    }.get(source)
    if key:
        sa.Index(f"ix_{table.name}_{key}_known_from", table.c[key], table.c.known_from)
    elif source in ("events", "incidents"):
        sa.Index(f"ix_{table.name}_register_no", table.c.register_no)
    return table


manager_snapshots = _history_table("managers")
manager_details = _history_table("manager_details")
fund_snapshots = _history_table("funds")
fund_details = _history_table("fund_details")
cancellations = _history_table("cancellations")
reports = _history_table("reports")
events = _history_table("events")
incidents = _history_table("incidents")

HISTORY: dict[Source, sa.Table] = {
    "managers": manager_snapshots,
    "manager_details": manager_details,
    "funds": fund_snapshots,
    "fund_details": fund_details,
    "cancellations": cancellations,
    "reports": reports,
    "events": events,
    "incidents": incidents,
}

#: Vocabulary drift: a value of an enumerated field that the contract does not list, with how
#: often and since when it was seen. Such rows load (flagged); this is where they are counted.
vocabulary = sa.Table(
    "vocabulary_drift",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("field", sa.String(64), nullable=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("first_batch_id", sa.Integer, sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("first_seen", sa.Date, nullable=False),  # the data's date of the first batch
    sa.Column("last_seen", sa.Date, nullable=False),
    sa.UniqueConstraint("source", "field", "value"),
)

#: Events derived by comparing consecutive snapshots (source ``snapshot_diff``), one per
#: natural key: re-deliveries and re-runs never count a change twice.
change_events = sa.Table(
    "change_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("natural_key", sa.String(64), nullable=False, unique=True),
    sa.Column("register_no", sa.String(64), nullable=False, index=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("event_date", sa.Date, nullable=False),
    sa.Column("known_from", sa.Date, nullable=False, index=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("severity", sa.Integer),
    sa.Column("field", sa.String(64)),
    sa.Column("old_value", sa.Text),
    sa.Column("new_value", sa.Text),
    sa.Column("description", sa.Text),
)
