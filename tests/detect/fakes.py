"""Hand-made feature frames and catalogs of the feature engine's shape, for detect tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from watchtower.detect.config import DetectConfig, load_detect_config
from watchtower.detect.reasons import RuleHit


@dataclass(frozen=True)
class Spec:
    name: str
    direction: str
    label_zh: str
    label_en: str
    reason_zh: str
    reason_en: str


@dataclass(frozen=True)
class FakeCatalog:
    version: str
    features: tuple[Spec, ...]

    def __iter__(self) -> Iterator[Spec]:
        return iter(self.features)


CATALOG = FakeCatalog(
    "1.0.0",
    (
        Spec(
            "paid_in_ratio",
            "lower_is_riskier",
            "实缴比例",
            "paid-in ratio",
            "实缴比例 {value:.0%}",
            "paid-in {value:.0%} of subscribed capital",
        ),
        Spec(
            "overdue_reports",
            "higher_is_riskier",
            "逾期报告数",
            "overdue reports",
            "逾期未报 {value:.0f} 份",
            "{value:.0f} reports overdue",
        ),
        Spec(
            "redemption_ratio",
            "higher_is_riskier",
            "赎回比例",
            "redemption ratio",
            "近3月赎回占规模 {value:.0%}",
            "redemptions {value:.0%} of AUM in 3 months",
        ),
        Spec(
            "fund_scale",
            "neutral",
            "管理规模",
            "fund scale",
            "管理规模 {value:,.0f} 万元",
            "AUM {value:,.0f} (10k CNY)",
        ),
        Spec(
            "employee_count",
            "lower_is_riskier",
            "员工人数",
            "employees",
            "员工 {value:.0f} 人",
            "{value:.0f} employees",
        ),
        Spec(
            "event_count",
            "higher_is_riskier",
            "负面事件数",
            "negative events",
            "近一年负面事件 {value:.0f} 起",
            "{value:.0f} negative events in a year",
        ),
    ),
)
TYPES = ("私募证券投资基金管理人", "私募股权、创业投资基金管理人", "其他私募投资基金管理人")


def world(n: int = 300, seed: int = 0) -> tuple[pd.DataFrame, list[str], list[str]]:
    """A day's feature frame; returns (frame, risky register_nos, benign-outlier ones)."""
    rng = np.random.default_rng(seed)
    idx = pd.Index([f"P{1000000 + i}" for i in range(n)], name="register_no")
    f = pd.DataFrame(
        {
            "manager_name": [f"管理人{i}" for i in range(n)],
            "manager_type": [
                TYPES[0] if i % 4 else (TYPES[1] if i % 8 else TYPES[2]) for i in range(n)
            ],
            "province": "上海市",
            "city": "上海市",
            "paid_in_ratio": rng.uniform(0.5, 1.0, n),
            "overdue_reports": rng.poisson(0.3, n).astype(float),
            "redemption_ratio": rng.uniform(0.0, 0.2, n),
            "fund_scale": rng.lognormal(10, 1, n),
            "employee_count": rng.integers(8, 40, n).astype(float),
            "event_count": rng.poisson(0.2, n).astype(float),
        },
        index=idx,
    )
    risky = list(idx[:8])
    f.loc[risky, "paid_in_ratio"] = 0.12
    f.loc[risky, "overdue_reports"] = 5.0
    f.loc[risky, "redemption_ratio"] = 0.7
    f.loc[risky, "event_count"] = 4.0
    benign = list(idx[8:16])  # huge, healthy firms: unusual, in the safe direction
    f.loc[benign, "fund_scale"] = 5e7
    f.loc[benign, "employee_count"] = 900.0
    f.loc[benign, "paid_in_ratio"] = 1.0
    f.loc[idx[20], "paid_in_ratio"] = np.nan
    return f, risky, benign


def hits_for(frame: pd.DataFrame) -> dict[str, list[RuleHit]]:
    """A stand-in for the rules engine: paid-in under 25%."""
    out: dict[str, list[RuleHit]] = {}
    for r, v in frame["paid_in_ratio"].items():
        if v < 0.25:
            out[str(r)] = [
                RuleHit(
                    "low_paid_in",
                    3,
                    f"实缴比例 {v:.0%}，低于 25%",
                    f"paid-in {v:.0%} of subscribed capital, under 25%",
                    v,
                    "paid_in_ratio",
                )
            ]
    return out


def day(i: int) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(days=i)


def fast_config() -> DetectConfig:
    """The shipped models/detectors.yaml, small and fast: fewer trees, small peer groups
    allowed (the detect unit tests' configuration)."""
    from watchtower.config import load_settings

    cfg = load_detect_config(load_settings({}).models_dir / "detectors.yaml")
    members = tuple(
        replace(s, params={**s.params, "n_estimators": 50}) if s.kind == "IForest" else s
        for s in cfg.detectors
    )
    return replace(cfg, detectors=members, peer_min_size=30)
