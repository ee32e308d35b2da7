"""The harm labels: incidents from the supervisor's feed, AMAC's forced deregistrations, and
the alerts a supervisor closed as a confirmed risk.

One reader for training (strictly past labels) and evaluation. A deregistration counts when
it is forced (依公告注销, 协会注销, 12个月无在管注销: ``cancel_kind`` incident) and matched to a
manager; 主动注销 is a voluntary exit, a terminal state and not a harm label. The label's date
is the cancellation date (else the day it became known).

A supervisor's outcome (the console's or ``alerts close --resolution confirmed``) is a label
dated the alert's closing day (``closed_as_of``, the as-of day of the run it was closed on),
known from that day too: training as of D sees only the cases confirmed by D. A reopened
alert's label is withdrawn with it (:func:`watchtower.warn.lifecycle.reopen`). False alarms
and "explained" closings are not harm labels.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from watchtower.store.alerts import alert_labels
from watchtower.store.schema import cancellations, incidents

__all__ = ["CONFIRMED_ALERT", "LABEL_COLUMNS", "incident_labels"]

LABEL_COLUMNS = ["register_no", "incident_date", "incident_type"]
#: the incident type of a label from a supervisor's "confirmed risk" outcome
CONFIRMED_ALERT = "confirmed_alert"


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
    a = alert_labels
    q3 = sa.select(
        a.c.register_no,
        a.c.closed_as_of.label("incident_date"),
        sa.literal(CONFIRMED_ALERT).label("incident_type"),
    ).where(a.c.label == "confirmed")
    if known_by is not None:
        q1 = q1.where(i.c.known_from <= known_by)
        q2 = q2.where(c.c.known_from <= known_by)
        q3 = q3.where(a.c.closed_as_of <= known_by)
    rows = [*conn.execute(q1).all(), *conn.execute(q2).all(), *conn.execute(q3).all()]
    frame = pd.DataFrame(rows, columns=LABEL_COLUMNS)
    frame = frame.dropna(subset=["incident_date"])
    frame["incident_date"] = pd.to_datetime(frame["incident_date"]).dt.date
    frame = frame.sort_values(["incident_date", "register_no"], kind="stable")
    return frame.drop_duplicates(["register_no", "incident_date"]).reset_index(drop=True)
