"""Scoring what the public feed carries: missing sources are neutral, reasons cite real values.

- the hand-made public store of tests/features/test_public.py (list rows, detail pages, fund
  rows and pages, change events; no reports, no events);
- the real AMAC fixture (tests/fixtures/real_amac/, 84 managers with office in 陕西省)
  ingested end to end and scored as of 2026-05-20.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.features.conftest import ROOT, World
from tests.features.test_public import AS_OF, build
from watchtower.detect.config import DetectConfig, load_detect_config
from watchtower.detect.rules import evaluate_rules, load_rules, parse_rules
from watchtower.detect.training import config_model
from watchtower.features import Catalog, compute_features, load_catalog
from watchtower.store import open_store

PLACEHOLDERS = ("0.0001", "nan", "缺失", "missing", "—", "n/a", "None")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog(ROOT / "features")


@pytest.fixture(scope="module")
def config() -> DetectConfig:
    cfg = load_detect_config(ROOT / "models" / "detectors.yaml")
    members = tuple(
        replace(s, params={**s.params, "n_estimators": 50}) if s.kind == "IForest" else s
        for s in cfg.detectors
    )
    return replace(cfg, detectors=members)


def _score(
    frame: pd.DataFrame, catalog: Catalog, config: DetectConfig, as_of: dt.date
) -> tuple[pd.DataFrame, Any]:
    rules = load_rules(ROOT / "models" / "rules.yaml", features=catalog.names)
    result = evaluate_rules(frame, rules)
    hits = {str(k): list(v) for k, v in result.reasons.items() if v}
    return config_model(config, catalog, frame, as_of).score(frame, hits), result


def _texts(reasons: list[dict[str, Any]]) -> list[str]:
    return [r[lang] for r in reasons for lang in ("zh", "en")]


@pytest.fixture
def public_world(tmp_path: Path) -> Iterator[World]:
    engine = open_store(f"sqlite:///{tmp_path / 'public.db'}")
    w = World(engine)
    build(w)
    yield w
    engine.dispose()


def test_missing_sources_score_and_explain_only_known_values(
    public_world: World, catalog: Catalog, config: DetectConfig
) -> None:
    frame = compute_features(public_world.engine, AS_OF, catalog=catalog)
    scored, result = _score(frame, catalog, config, AS_OF)
    assert list(scored.index) == list(frame.index)
    assert scored["score"].notna().all() and scored["score"].between(0, 100).all()
    for register_no, reasons in scored["reasons"].items():
        for text in _texts(reasons):
            assert not any(p in text for p in PLACEHOLDERS), (register_no, text)
        for r in reasons:  # a reason's value is the manager's real value
            if r["kind"] == "feature":
                assert r["value"] is not None and np.isfinite(r["value"])
    # P3000002 has no detail page: nothing about capital or staff, and no rule on them.
    p2 = scored.loc["P3000002"]
    assert not any("实缴" in t or "paid-in" in t for t in _texts(p2["reasons"]))
    assert not result.hits.loc["P3000002", ["paid_in_ratio_low", "paid_in_capital_low"]].any()
    assert "early_liquidations" in p2["rule_hits"]
    p2_reason = next(r for r in p2["reasons"] if r["code"] == "early_liquidations")
    assert p2_reason["value"] == 3.0 and "3 只基金提前清算或非正常清算" in p2_reason["zh"]
    # P3000001's detail page shows 失联: the high floor, with its real counts.
    p1 = scored.loc["P3000001"]
    assert {"serious_integrity_tip", "jurisdiction_mismatch", "paid_in_ratio_low"} <= set(
        p1["rule_hits"]
    )
    serious = next(r for r in p1["reasons"] if r["code"] == "serious_integrity_tip")
    assert serious["tier_floor"] == "orange" and "诚信信息 1 类，机构提示 2 类" in serious["zh"]
    assert result.tier_floor()["P3000001"] == "orange"
    # No report or event feed: no rule on them fires for anyone.
    for rule in ("annual_report_overdue", "abnormal_institution", "enforcement"):
        assert not result.hits[rule].any()


def test_the_twelve_month_product_rule(public_world: World, catalog: Catalog) -> None:
    frame = compute_features(public_world.engine, dt.date(2025, 2, 1), catalog=catalog)
    rules = load_rules(ROOT / "models" / "rules.yaml", features=catalog.names)
    result = evaluate_rules(frame, rules)
    assert result.hits["no_product_12m"].to_dict() == {
        "P3000001": True,
        "P3000002": False,
        "P3000003": False,
        "P3000004": False,  # unknown: not fired
    }
    reason = next(r for r in result.reasons["P3000001"] if r["code"] == "no_product_12m")
    assert reason["zh"].startswith("已连续至少 12 个月无在管产品")


def test_a_rule_on_a_missing_value_never_fires_even_negated() -> None:
    rules = parse_rules(
        {
            "rules": [
                {
                    "id": "not_many",
                    "name_zh": "x",
                    "name_en": "x",
                    "severity": 2,
                    "condition": {"not": {"feature": "a", "op": ">", "value": 1}},
                    "reason_zh": "a {a}",
                    "reason_en": "a {a}",
                },
                {
                    "id": "either",
                    "name_zh": "y",
                    "name_en": "y",
                    "severity": 2,
                    "condition": {
                        "any": [
                            {"feature": "a", "op": ">", "value": 1},
                            {"not": {"feature": "b", "op": ">", "value": 1}},
                        ]
                    },
                    "reason_zh": "b {b}",
                    "reason_en": "b {b}",
                },
            ]
        }
    )
    frame = pd.DataFrame(
        {"a": [0.0, np.nan, 5.0, np.nan], "b": [5.0, 0.0, np.nan, np.nan]},
        index=["k", "na", "nb", "both"],
    )
    hits = evaluate_rules(frame, rules).hits
    assert hits["not_many"].to_dict() == {"k": True, "na": False, "nb": False, "both": False}
    assert hits["either"].to_dict() == {"k": False, "na": True, "nb": True, "both": False}


# --- real AMAC data ----------------------------------------------------------------------
REAL_AS_OF = dt.date(2026, 5, 20)


@pytest.fixture(scope="module")
def real_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from watchtower.clock import FixedClock
    from watchtower.config import load_settings
    from watchtower.pipeline import ingest

    root = tmp_path_factory.mktemp("real_amac")
    landing = root / "landing"
    shutil.copytree(ROOT / "tests" / "fixtures" / "real_amac", landing)
    (landing / "SOURCES.md").unlink()
    settings = load_settings({"WATCHTOWER_HOME": str(root / "home")})
    settings.home.mkdir(parents=True, exist_ok=True)
    ingest(settings, landing, clock=FixedClock(dt.datetime(2026, 5, 21, 8, 0)))
    engine = open_store(settings.db_url)
    yield engine
    engine.dispose()


def test_real_amac_managers_all_get_a_score_with_real_reasons(
    real_store: Any, catalog: Catalog, config: DetectConfig
) -> None:
    import sqlalchemy as sa

    from watchtower.store.schema import manager_details, manager_snapshots

    frame = compute_features(real_store, REAL_AS_OF, catalog=catalog)
    with real_store.connect() as conn:
        shaanxi = set(
            conn.execute(
                sa.select(manager_snapshots.c.register_no).where(
                    manager_snapshots.c.office_province == "陕西省",
                    manager_snapshots.c.known_from <= REAL_AS_OF,
                )
            ).scalars()
        )
        with_page = set(conn.execute(sa.select(manager_details.c.register_no)).scalars())
    assert len(shaanxi) == 84
    scored, _ = _score(frame, catalog, config, REAL_AS_OF)
    assert shaanxi <= set(scored.index)
    assert scored.loc[sorted(shaanxi), "score"].notna().all()
    # the public list has no capital: no placeholder value, no capital without a page
    assert frame.loc[sorted(shaanxi - with_page), "paid_in_capital"].isna().all()
    for register_no, reasons in scored["reasons"].items():
        texts = _texts(reasons)
        assert not any("0.0001" in t for t in texts), register_no
        assert not any(p in t for t in texts for p in ("缺失", "missing", "nan")), register_no
        if register_no not in with_page:
            assert not any("实缴" in t or "paid-in" in t for t in texts), (register_no, texts)
    # no supervisor feed: report and event features are missing, not 0
    assert frame["quarterly_missed_24m"].isna().all()
    assert frame["events_365d"].isna().all()
    # what the public rows do carry
    assert frame.loc[sorted(shaanxi), "has_credit_tips"].notna().all()
    assert frame.loc[sorted(shaanxi), "jurisdiction_differs"].notna().all()
