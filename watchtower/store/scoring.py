"""Scores: one row per manager per as-of day, with the reasons behind the score.

This table is the hand-off between detection (writes) and warning/digest/backtest (read).
``reasons`` is a list of ``{"kind": "rule"|"feature", "code", "severity", "value",
"zh", "en"}`` sorted by contribution, most important first.
"""

from __future__ import annotations

import sqlalchemy as sa

from watchtower.store.schema import metadata

risk_scores = sa.Table(
    "risk_scores",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("register_no", sa.String(16), nullable=False),
    sa.Column("manager_name", sa.Text),
    sa.Column("manager_type", sa.String(64)),
    # Jurisdiction as known on as_of (office location; registration when office is unknown).
    sa.Column("province", sa.String(64)),
    sa.Column("city", sa.String(64)),
    sa.Column("score", sa.Float, nullable=False),  # 0..100, higher = riskier
    sa.Column("rule_score", sa.Float),
    sa.Column("anomaly_score", sa.Float),
    sa.Column("supervised_score", sa.Float),
    # P(incident within 12 months), calibrated walk-forward on past days' closed outcomes
    # (watchtower.detect.calibration); NULL when too few past labels to fit a map.
    sa.Column("probability_12m", sa.Float),
    sa.Column("rule_hits", sa.JSON, nullable=False),  # list of rule ids
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("model_id", sa.String(64), nullable=False),
    sa.Column("feature_set_version", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("as_of", "register_no"),
    sa.Index("ix_risk_scores_register_no_as_of", "register_no", "as_of"),
)
