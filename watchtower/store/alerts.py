"""Warning tables: tier history, alerts with their audit trail, retraining labels, outbox.

- ``manager_tiers``: the tier each manager got on each warn run (hysteresis state and trend).
- ``alerts``: at most one *open* alert per manager. ``open_key`` holds the register number
  while the alert is open and NULL once closed; a unique index on it lets the database itself
  refuse a second open alert (NULLs never collide, on SQLite and PostgreSQL alike).
- ``alert_events``: append-only audit trail (who, when, what, why). Migration 0006 adds
  triggers that reject UPDATE and DELETE on it.
- ``alert_labels``: the outcome of alerts closed as confirmed / false positive, for retraining.
- ``outbox``: one rendered digest per (recipient, period_key, subscription_key); sent exactly
  once. ``subscription_key`` is the subscription's identity (its name, else a hash of its
  content; ``catch-all`` for the alerts nobody subscribes to), so two subscriptions of one
  address never share a digest (migration 0008).
"""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.schema import metadata

#: Tier names from most to least severe. ``none`` (below every threshold) is not stored.
TIERS: tuple[str, ...] = ("red", "orange", "yellow", "blue")
ALERT_STATUSES: tuple[str, ...] = ("new", "acknowledged", "investigating", "closed")
RESOLUTIONS: tuple[str, ...] = ("confirmed", "false_positive", "resolved")
OUTBOX_STATUSES: tuple[str, ...] = ("pending", "sending", "sent", "failed")

manager_tiers = sa.Table(
    "manager_tiers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("register_no", sa.String(16), nullable=False),
    sa.Column("manager_name", sa.Text),
    sa.Column("province", sa.String(64)),
    sa.Column("city", sa.String(64)),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("raw_tier", sa.String(16)),  # from the score alone (NULL = below blue)
    sa.Column("floor_tier", sa.String(16)),  # from rule overrides (NULL = none)
    sa.Column("tier", sa.String(16)),  # after overrides and hysteresis (NULL = no alert)
    sa.Column("down_streak", sa.Integer, nullable=False, default=0),
    sa.Column("policy_version", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("as_of", "register_no"),
    sa.Index("ix_manager_tiers_register_no_as_of", "register_no", "as_of"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("register_no", sa.String(16), nullable=False, index=True),
    # register_no while open, NULL once closed: the database allows one open alert a manager.
    sa.Column("open_key", sa.String(16), unique=True),
    sa.Column("manager_name", sa.Text),
    sa.Column("province", sa.String(64)),
    sa.Column("city", sa.String(64)),
    sa.Column("status", sa.String(16), nullable=False),  # ALERT_STATUSES
    sa.Column("tier", sa.String(16), nullable=False),  # current tier (TIERS)
    sa.Column("peak_tier", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=False),  # latest score
    sa.Column("rule_hits", sa.JSON, nullable=False),  # latest
    sa.Column("reasons", sa.JSON, nullable=False),  # latest, most important first
    sa.Column("opened_as_of", sa.Date, nullable=False),
    sa.Column("last_as_of", sa.Date, nullable=False),  # latest warn run that scored it
    sa.Column("last_signal_as_of", sa.Date, nullable=False),  # latest run with a tier
    sa.Column("resolution", sa.String(16)),  # RESOLUTIONS, set when closed
    sa.Column("closed_as_of", sa.Date),
    sa.Column("closed_by", sa.String(128)),
    sa.Column("opened_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("closed_at", sa.DateTime),
    # the console user a person assigned it to (migration 0011); NULL: nobody yet
    sa.Column("assignee", sa.String(64)),
    # snoozed by a person until this day (migration 0012): out of the default queue while the
    # store's latest warn day is before it; NULL or a day passed: awake (nothing clears it)
    sa.Column("snoozed_until", sa.Date),
    sa.CheckConstraint(
        "(status = 'closed' AND open_key IS NULL) OR (status <> 'closed' AND open_key IS NOT NULL)",
        name="open_key_matches_status",
    ),
)

alert_events = sa.Table(
    "alert_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, index=True),
    sa.Column("register_no", sa.String(16), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),  # the run day (manual actions: the day done)
    sa.Column("at", sa.DateTime, nullable=False),  # when (clock)
    sa.Column("actor", sa.String(128), nullable=False),  # who ("watchtower" for the pipeline)
    # what: open | escalate | deescalate | acknowledge | investigate | close | auto_resolve
    # | assign | note | reopen (the console, migration 0011) | snooze | unsnooze | wake
    # (migration 0012; wake: an escalation ended a snooze)
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("from_status", sa.String(16)),
    sa.Column("to_status", sa.String(16)),
    sa.Column("from_tier", sa.String(16)),
    sa.Column("to_tier", sa.String(16)),
    sa.Column("score", sa.Float),
    sa.Column("note", sa.Text),  # why
    sa.Index("ix_alert_events_as_of_action", "as_of", "action"),
)

alert_labels = sa.Table(
    "alert_labels",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False, unique=True),
    sa.Column("register_no", sa.String(16), nullable=False, index=True),
    sa.Column("label", sa.String(16), nullable=False),  # confirmed | false_positive
    sa.Column("opened_as_of", sa.Date, nullable=False),
    sa.Column("closed_as_of", sa.Date, nullable=False),
    sa.Column("peak_tier", sa.String(16), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("rule_hits", sa.JSON, nullable=False),
    sa.Column("labelled_by", sa.String(128), nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("labelled_at", sa.DateTime, nullable=False),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("period_key", sa.String(64), nullable=False),  # e.g. daily:2024-06-30
    sa.Column("subscription_key", sa.String(128), nullable=False, server_default=""),
    sa.Column("cadence", sa.String(16), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("subject", sa.Text, nullable=False),
    sa.Column("eml_path", sa.Text, nullable=False),
    sa.Column("html_path", sa.Text, nullable=False),
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # OUTBOX_STATUSES
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    # `digest --retry-failed`: how often a given-up digest was queued again, and when last.
    sa.Column("requeues", sa.Integer, nullable=False, server_default="0"),
    sa.Column("requeued_at", sa.DateTime),
    sa.UniqueConstraint("recipient", "period_key", "subscription_key"),
    sa.Index("ix_outbox_status", "status"),
)
