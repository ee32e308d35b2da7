"""Hand-made risk_scores rows (the detection stage's output) for warn and digest tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from watchtower.store.scoring import risk_scores

NOW = dt.datetime(2024, 7, 1, 8, 0, 0)


def reason(
    code: str, zh: str, en: str, *, kind: str = "rule", severity: float = 1.0
) -> dict[str, Any]:
    return {"kind": kind, "code": code, "severity": severity, "value": None, "zh": zh, "en": en}


def score_row(
    register_no: str,
    score: float,
    *,
    as_of: dt.date,
    name: str | None = None,
    province: str = "广东",
    city: str = "广州",
    rule_hits: Iterable[str] = (),
    reasons: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    hits = list(rule_hits)
    return {
        "as_of": as_of,
        "register_no": register_no,
        "manager_name": name or f"{city}测试{register_no[-3:]}私募基金管理有限公司",
        "manager_type": "私募证券投资基金管理人",
        "province": province,
        "city": city,
        "score": float(score),
        "rule_score": None,
        "anomaly_score": None,
        "supervised_score": None,
        "rule_hits": hits,
        "reasons": reasons
        if reasons is not None
        else [reason(h, f"规则命中:{h}", f"rule hit: {h}") for h in hits]
        + [
            reason("paid_in_ratio", "实缴资本比例偏低", "low paid-in capital ratio", kind="feature")
        ],
        "model_id": "test",
        "feature_set_version": "test",
        "created_at": NOW,
    }


def insert_scores(engine: sa.Engine, rows: Iterable[dict[str, Any]]) -> None:
    rows = list(rows)
    with engine.begin() as conn:
        conn.execute(risk_scores.insert(), rows)
