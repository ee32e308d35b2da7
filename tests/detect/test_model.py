"""RiskModel on hand-made feature frames: ranking, benign outliers, reasons, supervised layer."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.detect.fakes import CATALOG, day, fast_config, hits_for, world
from watchtower.detect.config import DetectConfig
from watchtower.detect.model import POOLED, peer_groups, rule_score
from watchtower.detect.reasons import FeatureText, RuleHit, build_reasons, format_like
from watchtower.detect.supervised import label_days, label_snapshot
from watchtower.detect.training import fingerprint_frames, train_model


@pytest.fixture(scope="module")
def config() -> DetectConfig:
    return fast_config()


def test_risky_rank_above_healthy_and_benign_outliers(config: DetectConfig) -> None:
    frame, risky, benign = world()
    model = train_model(config, CATALOG, day(0), lambda _d: frame).model
    scored = model.score(frame, hits_for(frame))
    assert scored["score"].between(0, 100).all()
    assert scored.index.equals(frame.index)
    top = set(scored["score"].nlargest(len(risky)).index)
    assert top == set(risky)
    # the huge healthy firms are unusual, but only in the safe direction
    assert scored.loc[benign, "anomaly_score"].max() < scored["anomaly_score"].quantile(0.75) + 1e-9
    assert not set(scored["score"].nlargest(30).index) & set(benign)
    # deterministic
    again = train_model(config, CATALOG, day(0), lambda _d: frame).model.score(
        frame, hits_for(frame)
    )
    pd.testing.assert_frame_equal(scored, again)


def test_reasons_have_values_in_both_languages(config: DetectConfig) -> None:
    frame, risky, _ = world()
    model = train_model(config, CATALOG, day(0), lambda _d: frame).model
    scored = model.score(frame, hits_for(frame))
    reasons = scored.loc[risky[0], "reasons"]
    assert reasons[0] == {
        "kind": "rule",
        "code": "low_paid_in",
        "severity": 3,
        "value": 0.12,
        "zh": "实缴比例 12%，低于 25%",
        "en": "paid-in 12% of subscribed capital, under 25%",
        "feature": "paid_in_ratio",
    }
    kinds = [r["kind"] for r in reasons]
    assert kinds[0] == "rule" and "feature" in kinds and len(reasons) <= config.max_reasons
    codes = [r["code"] for r in reasons]
    assert "paid_in_ratio" not in codes  # the rule already says it
    red = next(r for r in reasons if r["code"] == "redemption_ratio")
    assert red["value"] == pytest.approx(0.7)
    assert red["zh"].startswith("近3月赎回占规模 70%，同类中位数 ")
    assert red["en"].startswith("redemptions 70% of AUM in 3 months; peer median ")
    assert set(scored.loc[risky[0], "rule_hits"]) == {"low_paid_in"}
    # managers without deviations or hits have no reasons
    calm = scored["reasons"].map(len) == 0
    assert calm.sum() > len(frame) // 3


def test_build_reasons_order_limits_and_templates() -> None:
    texts = {
        "a": FeatureText("a", "甲", "A", "甲 {value:.0%}", "A {value:.0%}", "ratio"),
        "b": FeatureText("b", "乙", "B", "已列入黑名单", "on the blacklist", "bool"),
        "c": FeatureText("c", "丙", "C", "丙 {value:.0f} 次", "{value:.0f} C", "count"),
    }
    hits: list[RuleHit | Mapping[str, Any]] = [
        RuleHit("low", 2, "低", "low", 1.0, "c"),
        {"code": "high", "severity": 5, "zh": "高", "en": "high", "value": 2, "tier_floor": "red"},
    ]
    out = build_reasons(
        hits,
        {"a": 4.0, "b": 8.0, "c": 9.0},
        {"a": 0.05, "b": 1.0, "c": 7},
        {"a": 0.5, "b": 0.0, "c": 1},
        texts,
        max_reasons=3,
    )
    assert [r["code"] for r in out] == ["high", "low", "b"]  # rules by severity, then features
    assert out[0]["tier_floor"] == "red"  # the rules engine's extra keys survive
    assert out[2]["zh"] == "已列入黑名单" and out[2]["en"] == "on the blacklist"  # no median
    more = build_reasons([], {"a": 4.0, "c": 1.0}, {"a": 0.05}, {"a": 0.5}, texts)
    assert more == [
        {
            "kind": "feature",
            "code": "a",
            "severity": 2,
            "value": 0.05,
            "zh": "甲 5%，同类中位数 50%",
            "en": "A 5%; peer median 50%",
        }
    ]  # c below min_deviation
    assert format_like("{value:,.0f} 万元", 12345.6) == "12,346"


def test_rule_score_is_noisy_or() -> None:
    pts = {1: 10.0, 3: 45.0, 5: 85.0}
    assert rule_score([], pts) == 0
    assert rule_score([RuleHit("x", 3, "", "")], pts) == pytest.approx(45)
    two = rule_score([RuleHit("x", 3, "", ""), {"code": "y", "severity": 5}], pts)
    assert two == pytest.approx(100 * (1 - 0.55 * 0.15))


def test_peer_groups_pool_small_groups() -> None:
    frame, _, _ = world(n=200)
    groups = peer_groups(frame, "manager_type", 40)
    sizes = frame["manager_type"].value_counts()
    for t, n in sizes.items():
        labels = set(groups[frame["manager_type"] == t])
        assert labels == ({t} if n >= 40 else {POOLED})
    assert set(peer_groups(frame, None, 40)) == {POOLED}


def test_scoring_some_rows_equals_those_rows_of_the_whole_frame(config: DetectConfig) -> None:
    """``only``: the rows of one partition, the others their peers (what a partitioned
    scoring task with pooled managers does), equal to the same rows of the whole run."""
    frame, _, _ = world(n=200)
    groups = peer_groups(frame, "manager_type", config.peer_min_size)
    assert POOLED in set(groups) and len(set(groups)) > 1  # pooled and own groups
    model = train_model(config, CATALOG, day(0), lambda _d: frame).model
    whole = model.score(frame, hits_for(frame))
    for label in sorted(set(groups), key=str):
        mask = (groups == label).to_numpy()
        some = model.score(frame, hits_for(frame), only=mask)
        pd.testing.assert_frame_equal(some, whole[mask])
    one_type = (frame["manager_type"] == frame["manager_type"].iloc[0]).to_numpy()
    pd.testing.assert_frame_equal(
        model.score(frame, None, only=one_type), model.score(frame)[one_type]
    )


def test_labels_are_strictly_past() -> None:
    cutoff = dt.date(2024, 6, 30)
    days = label_days(cutoff, 180, 30, 720)
    assert days == sorted(days) and days
    assert all(d + dt.timedelta(days=180) <= cutoff for d in days)
    assert min(days) >= cutoff - dt.timedelta(days=720)
    inc = pd.DataFrame(
        {
            "register_no": ["P1", "P2", "P3", "P4"],
            "incident_date": [
                dt.date(2023, 1, 1),
                dt.date(2023, 8, 1),
                dt.date(2024, 6, 30),
                dt.date(2024, 7, 1),
            ],
        }
    )
    idx = pd.Index(["P1", "P2", "P3", "P4", "P5"], name="register_no")
    y = label_snapshot(idx, dt.date(2023, 6, 1), inc, 180, cutoff)
    assert y.to_dict() == {"P2": 1, "P3": 0, "P4": 0, "P5": 0}  # P1 already hit: dropped
    y = label_snapshot(idx, dt.date(2024, 1, 2), inc, 180, cutoff)
    assert y.to_dict() == {"P3": 1, "P4": 0, "P5": 0}
    with pytest.raises(ValueError, match="not known yet"):
        label_snapshot(idx, dt.date(2024, 1, 3), inc, 180, cutoff)


def _incident_world(n_days: int = 8) -> tuple[dict[dt.date, pd.DataFrame], pd.DataFrame]:
    """Monthly frames where some managers drift towards risk and then fail."""
    rng = np.random.default_rng(3)
    base, _, _ = world(n=240, seed=1)
    frames: dict[dt.date, pd.DataFrame] = {}
    doomed = list(base.index[30:60])
    fail_on = {
        r: dt.date(2023, 1, 1) + dt.timedelta(days=int(rng.integers(200, 420))) for r in doomed
    }
    start = dt.date(2023, 1, 1)
    for k in range(n_days * 3):
        d = start + dt.timedelta(days=30 * k)
        f = base.copy()
        f["redemption_ratio"] = rng.uniform(0, 0.2, len(f))
        for r, when in fail_on.items():
            left = (when - d).days
            if 0 < left <= 240:
                f.loc[r, "redemption_ratio"] = 0.4 + 0.5 * (1 - left / 240)
                f.loc[r, "overdue_reports"] = 3.0
        frames[d] = f
    inc = pd.DataFrame({"register_no": list(fail_on), "incident_date": list(fail_on.values())})
    return frames, inc


def test_supervised_layer_uses_only_labels_known_at_cutoff(config: DetectConfig) -> None:
    frames, inc = _incident_world()
    days = sorted(frames)
    cutoff = days[-1]
    cfg = replace(
        config, horizon_days=120, snapshot_every_days=30, lookback_days=400, min_positives=3
    )

    def at(d: dt.date) -> pd.DataFrame:
        return frames[max(k for k in days if k <= d)]

    res = train_model(cfg, CATALOG, cutoff, at, inc)
    assert res.model.supervised is not None
    assert res.metrics["train_positives"] >= 3
    assert res.train_start == min(label_days(cutoff, 120, 30, 400))
    # Incidents after the cut-off (or changed labels inside the unknown window) change nothing.
    later = pd.concat(
        [
            inc,
            pd.DataFrame(
                {
                    "register_no": list(frames[cutoff].index[100:110]),
                    "incident_date": [cutoff + dt.timedelta(days=5)] * 10,
                }
            ),
        ]
    )
    res2 = train_model(cfg, CATALOG, cutoff, at, later)
    assert res2.data_fingerprint == res.data_fingerprint
    d0 = at(cutoff)
    s1 = res.model.score(d0, None)
    s2 = res2.model.score(d0, None)
    pd.testing.assert_frame_equal(s1, s2)
    assert s1["supervised_score"].notna().all()
    # the layer learned something: managers failing within the horizon of a past day rank high
    mid = days[9]
    sm = res.model.score(frames[mid], None)["supervised_score"]
    soon = inc.loc[
        (inc["incident_date"] > mid) & (inc["incident_date"] <= mid + dt.timedelta(days=120)),
        "register_no",
    ]
    assert len(soon) >= 3
    assert sm.loc[soon].mean() > 3 * sm.drop(soon).mean()
    forced_off = train_model(cfg, CATALOG, cutoff, at, inc, supervised=False)
    assert forced_off.model.supervised is None
    with pytest.raises(ValueError, match="positive"):
        train_model(replace(cfg, min_positives=10_000), CATALOG, cutoff, at, inc, supervised=True)


def test_fingerprint_is_content_sensitive() -> None:
    a, _, _ = world(n=50)
    b = a.copy()
    assert fingerprint_frames([a]) == fingerprint_frames([b.sample(frac=1.0, random_state=1)])
    b.iloc[3, 5] += 1.0
    assert fingerprint_frames([a]) != fingerprint_frames([b])
