"""The harm labels: incidents from the supervisor's feed, and AMAC's forced deregistrations.

One reader for training (strictly past labels) and evaluation. A deregistration counts when
it is forced (依公告注销, 协会注销, 12个月无在管注销: ``cancel_kind`` incident) and matched to a
manager; 主动注销 is a voluntary exit, a terminal state and not a harm label. The label's date
is the cancellation date (else the day it became known).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from watchtower.store.schema import cancellations, incidents

__all__ = ["LABEL_COLUMNS", "incident_labels"]

LABEL_COLUMNS = ["register_no", "incident_date", "incident_type"]


def incident_labels(conn: sa.Connection, known_by: dt.date | None = None) -> pd.DataFrame:
    """register_no, incident_date (date), incident_type of every label known by ``known_by``
    (all when None), one per manager and date, oldest first."""
    i, c = incidents, cancellations
    q1 = sa.select(
        i.c.register_no, i.c.incident_date.label("incident_date"), i.c.incident_type
    ).where(i.c.register_no.is_not(None))
    when = sa.func.coalesce(c.c.cancel_date, c.c.known_from)
    q2 = sa.select(
        c.c.register_no,
        when.label("incident_date"),
        sa.literal("deregistered").label("incident_type"),
    ).where(c.c.register_no.is_not(None), c.c.cancel_kind == "incident")
    if known_by is not None:
        q1 = q1.where(i.c.known_from <= known_by)
        q2 = q2.where(c.c.known_from <= known_by)
    rows = [*conn.execute(q1).all(), *conn.execute(q2).all()]
    frame = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    frame = frame.dropna(subset=["incident_date"])
    frame["incident_date"] = pd.to_datetime(frame["incident_date"]).dt.date
    frame = frame.sort_values(["incident_date", "register_no"], kind="stable")
    return frame.drop_duplicates(["register_no", "incident_date"]).reset_index(drop=True)
