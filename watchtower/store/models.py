"""Model registry tables: every trained model, and the audit of champion changes.

``models`` holds one row per trained model: what it consumed (feature-set version, training
window, data fingerprint), how it was made (params, code version), how it did (metrics),
where its artifact lies (path under Settings.artifacts_dir + sha256, signed by an HMAC whose
key is kept outside the store) and its ``status``:
``champion`` (exactly one at a time, used for scoring), ``challenger`` or ``retired``.
``model_events`` is append-only: register / promote / rollback, who and why.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.schema import metadata

MODEL_STATUSES = ("champion", "challenger", "retired")

models = sa.Table(
    "models",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # ensemble | ensemble+supervised
    sa.Column("feature_set_version", sa.String(32), nullable=False),
    sa.Column("train_start", sa.Date),  # first snapshot date seen in training
    sa.Column("train_end", sa.Date, nullable=False),  # training cut-off (as-of)
    sa.Column("params", sa.JSON, nullable=False),  # the detector config used
    sa.Column("data_fingerprint", sa.String(64), nullable=False),
    sa.Column("metrics", sa.JSON, nullable=False),
    sa.Column("code_version", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("artifact_path", sa.Text, nullable=False),
    sa.Column("artifact_sha256", sa.String(64), nullable=False),
    sa.Column("note", sa.Text),
    # HMAC-SHA256 over (id, artifact sha256, feature-set version) with the key outside the
    # store (watchtower.detect.registry.record_hmac): NULL for models registered before
    # records were signed, which load only with --trust until `watchtower models sign`.
    sa.Column("artifact_hmac", sa.String(64)),
)

model_events = sa.Table(
    "model_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # register | promote | rollback
    sa.Column("model_id", sa.String(64), sa.ForeignKey("models.id"), nullable=False),
    sa.Column("previous_champion", sa.String(64)),
    sa.Column("actor", sa.String(100)),
    sa.Column("reason", sa.Text),
    sa.Index("ix_model_events_model_id", "model_id"),
)
