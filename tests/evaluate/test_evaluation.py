"""Evaluation against the baselines on a hand-built store, the labels readers, the report."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from watchtower.config import Settings
from watchtower.evaluate import (
    EvaluationError,
    Labels,
    evaluate_store,
    markdown_table,
    read_incident_files,
    read_truth,
    text_table,
    write_report,
)
from watchtower.evaluate.backtest import backtest_days, replay_days
from watchtower.store import open_store
from watchtower.store.alerts import manager_tiers
from watchtower.store.features import load_features, store_features
from watchtower.store.scoring import risk_scores

NOW = dt.datetime(2025, 1, 1, 12, 0)
DAYS = [(pd.Timestamp("2023-01-31") + pd.offsets.MonthEnd(i)).date() for i in range(12)]
REGS = [f"P{1000000 + i}" for i in range(80)]
_CUTS = (("red", 75), ("orange", 60), ("yellow", 45))


def _incidents() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    regs = REGS[:16]
    days = rng.integers(120, 700, size=len(regs))
    return pd.DataFrame(
        {
            "register_no": regs,
            "incident_date": [dt.date(2023, 1, 1) + dt.timedelta(days=int(d)) for d in days],
            "incident_type": "run_off",
        }
    )


def _fill_store(engine: sa.Engine, days: list[dt.date] = DAYS) -> None:
    """Scores that see incidents coming 200 days ahead, a noisy rule score, tiers from the
    score, and feature snapshots where the risky managers stand out on one raw feature."""
    rng = np.random.default_rng(11)
    first = dict(zip(_incidents()["register_no"], _incidents()["incident_date"], strict=True))
    for day in days:
        rows, tiers, feats = [], [], []
        for reg in REGS:
            inc = first.get(reg)
            if inc is not None and inc <= day:
                continue  # gone after its incident
            soon = inc is not None and (inc - day).days <= 200
            score = float(np.clip(70 * soon + rng.normal(20, 10), 0, 100))
            rule = float(rng.choice([0.0, 0.0, 0.0, 40.0]) + 30 * (soon and rng.random() < 0.4))
            tier = next((t for t, cut in _CUTS if score > cut), None)
            rows.append(
                dict(
                    as_of=day,
                    register_no=reg,
                    score=score,
                    rule_score=rule,
                    anomaly_score=score,
                    rule_hits=[],
                    reasons=[],
                    model_id="m",
                    feature_set_version="v1",
                    created_at=NOW,
                )
            )
            tiers.append(
                dict(
                    as_of=day,
                    register_no=reg,
                    score=score,
                    tier=tier,
                    down_streak=0,
                    policy_version="p",
                    created_at=NOW,
                )
            )
            feats.append(dict(register_no=reg, a=rng.normal(3 * soon, 1), b=rng.normal(), c=np.nan))
        frame = pd.DataFrame(feats).set_index("register_no")
        with engine.begin() as conn:
            conn.execute(risk_scores.insert(), rows)
            conn.execute(manager_tiers.insert(), tiers)
            store_features(conn, day, frame, "v1", created_at=NOW)


def test_system_beats_baselines_and_report_is_self_contained(
    settings: Settings, tmp_path: Path
) -> None:
    engine = open_store(settings.db_url)
    _fill_store(engine)
    inc = _incidents()
    truth = pd.DataFrame({"register_no": REGS, "is_benign_outlier": [False] * 70 + [True] * 10})
    ev = evaluate_store(
        engine,
        Labels(inc, "hand-made"),
        truth=truth,
        observed_until=dt.date(2024, 12, 31),
        load_features_day=lambda d: load_features(engine, d),
    )
    assert ev.dates == DAYS
    assert list(ev.methods) == ["watchtower", "rules_only", "iforest"]
    wt, rules, forest = (ev.methods[k] for k in ("watchtower", "rules_only", "iforest"))
    assert wt.ranking[180].auc_roc > 0.95
    assert wt.ranking[180].auc_roc > rules.ranking[180].auc_roc
    assert 0.6 < forest.ranking[180].auc_roc < wt.ranking[180].auc_roc
    assert wt.warning.eligible > 0
    # Budget-matched tiers: the baselines flag exactly as many managers per tier per day.
    assert ev.tier_counts.sum().sum() > 0
    data = ev.as_dict()
    json.dumps(data, allow_nan=False)
    assert data["benign_outliers"] == 10

    json_path, html_path = write_report(ev, tmp_path / "reports")
    assert json.loads(json_path.read_text())["methods"]["watchtower"]["ranking"]["180"]
    page = html_path.read_text()
    assert page.count("data:image/png;base64,") == 4
    assert "<script" not in page and "<link" not in page and "src='http" not in page
    assert "回测评估报告" in page
    lines = text_table(ev)
    assert "Rules only" in lines[0] and any(line.startswith("AUC-ROC") for line in lines)
    assert markdown_table(ev).startswith("| metric | 指标 |")


def test_evaluate_needs_backtest_days(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    with pytest.raises(EvaluationError, match="watchtower backtest"):
        evaluate_store(engine, Labels(_incidents(), "x"))


def test_evaluate_restricts_to_start_end(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    _fill_store(engine)
    ev = evaluate_store(
        engine, Labels(_incidents(), "x"), start=DAYS[3], end=DAYS[5], load_features_day=None
    )
    assert ev.dates == DAYS[3:6]
    assert list(ev.methods) == ["watchtower", "rules_only"]


# ---------------------------------------------------------------- labels


def test_incident_files_in_every_contract_shape(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "incidents"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text(
        "登记编号,事件日期,事件类型\nP1000001,2024年03月05日,失联\nP1000002,,兑付危机\n",
        encoding="gb18030",
    )
    (folder / "b.json").write_text(
        json.dumps([{"registerNo": "P1000003", "incidentDate": 1717200000000}]), encoding="utf-8"
    )
    (tmp_path / "landing" / "managers").mkdir()
    (tmp_path / "landing" / "managers" / "m.csv").write_text("registerNo\nP1\n")
    for path in (tmp_path / "landing", folder):
        labels = read_incident_files(path)
        assert labels.incidents["register_no"].tolist() == ["P1000001", "P1000003"]
        assert labels.incidents["incident_date"].tolist() == [
            dt.date(2024, 3, 5),
            dt.date(2024, 6, 1),
        ]
        assert labels.rows_dropped == 1  # the row without a date
    one = read_incident_files(folder / "b.json")
    assert len(one.incidents) == 1


def test_truth_reader(tmp_path: Path) -> None:
    (tmp_path / "_truth").mkdir()
    (tmp_path / "_truth" / "scenarios.csv").write_text(
        "register_no,scenario,family,is_risky,is_benign_outlier,incident_type,incident_date,"
        "onset_date\nP1,healthy,healthy,0,1,,,\nP2,run_off,liquidity,1,0,run_off,2024-01-02,"
        "2023-06-01\n"
    )
    truth = read_truth(tmp_path)
    assert truth["is_benign_outlier"].tolist() == [True, False]
    assert truth["incident_date"].tolist()[1] == dt.date(2024, 1, 2)


# ---------------------------------------------------------------- backtest loop


def test_backtest_calendar() -> None:
    assert backtest_days(dt.date(2024, 1, 1), dt.date(2024, 12, 31), "quarterly") == [
        dt.date(2024, 3, 31),
        dt.date(2024, 6, 30),
        dt.date(2024, 9, 30),
        dt.date(2024, 12, 31),
    ]
    assert len(backtest_days(dt.date(2024, 1, 1), dt.date(2024, 3, 31), "monthly")) == 3
    weeks = backtest_days(dt.date(2024, 1, 1), dt.date(2024, 1, 31), "weekly")
    assert all(d.weekday() == 6 for d in weeks) and len(weeks) == 4
    with pytest.raises(ValueError, match="no monthly"):
        backtest_days(dt.date(2024, 1, 1), dt.date(2024, 1, 20), "monthly")
    with pytest.raises(ValueError, match="unknown frequency"):
        backtest_days(dt.date(2024, 1, 1), dt.date(2024, 3, 31), "daily")


def test_backtest_resumes_and_force_recomputes(settings: Settings) -> None:
    engine = open_store(settings.db_url)
    _fill_store(engine, DAYS[:2])  # two days already done
    calls: list[dt.date] = []

    def run_day(day: dt.date) -> tuple[int, dict[str, int]]:
        calls.append(day)
        with engine.begin() as conn:
            conn.execute(
                manager_tiers.insert(),
                [
                    dict(
                        as_of=day,
                        register_no="P1",
                        score=1.0,
                        tier=None,
                        down_streak=0,
                        policy_version="p",
                        created_at=NOW,
                    )
                ],
            )
        return 1, {}

    s = replay_days(engine, DAYS[:4], run_day)
    assert calls == DAYS[2:4] and s.skipped == DAYS[:2] and s.ran == DAYS[2:4]
    again = replay_days(engine, DAYS[:4], run_day)
    assert again.ran == [] and calls == DAYS[2:4]
    calls.clear()
    forced = replay_days(engine, DAYS[:1], run_day, force=True)
    assert forced.ran == DAYS[:1] and calls == DAYS[:1]
    with engine.connect() as conn:  # the day's old tier rows were replaced
        n = conn.execute(
            sa.select(sa.func.count()).where(manager_tiers.c.as_of == DAYS[0])
        ).scalar_one()
    assert n == 1
