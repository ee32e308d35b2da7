"""The push ledger: one row per (subscription, channel, alert, escalation event) a red alert
is pushed to (a webhook of an immediate subscription, see watchtower.digest.push).

``event_id`` is the audit row (``alert_events``: open or escalate, to red) that made the alert
red, so the unique key says "this escalation, to this channel, once": the same run twice adds
nothing, and an alert that falls to orange and climbs back to red is a new event and a new
push. Rows hold the body as it is posted; the URL is not stored (it carries the robot's
secret): ``channel_key`` is its hash, ``target`` what may be shown of it. States as in the
outbox: pending -> sending -> sent, or failed (given up, or a permanent 4xx answer, which
``response_status`` / ``response_body`` record) until ``digest --retry-failed``.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.schema import metadata

PUSH_STATUSES: tuple[str, ...] = ("pending", "sending", "sent", "failed")

pushes = sa.Table(
    "pushes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscription_key", sa.String(128), nullable=False),
    sa.Column("channel_key", sa.String(64), nullable=False),  # Webhook.key
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
    sa.Column("event_id", sa.Integer, sa.ForeignKey("alert_events.id"), nullable=False),
    sa.Column("format", sa.String(16), nullable=False),  # wecom | dingtalk | json
    sa.Column("target", sa.Text, nullable=False),  # Webhook.target: no query, no secret
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the JSON posted
    sa.Column("status", sa.String(16), nullable=False),  # PUSH_STATUSES
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.Text),
    sa.Column("response_status", sa.Integer),  # the last HTTP answer's status
    sa.Column("response_body", sa.Text),  # and its start
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("claimed_at", sa.DateTime),
    sa.Column("sent_at", sa.DateTime),
    sa.UniqueConstraint("subscription_key", "channel_key", "alert_id", "event_id"),
    sa.Index("ix_pushes_status", "status"),
)
