"""The fast scoring paths give exactly the results of the straightforward ones: batch reasons
vs per-manager reasons, cached numba kernels vs pyod's, the config model vs train_model."""

from __future__ import annotations

import importlib
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.detect.fakes import CATALOG, day, hits_for, world
from watchtower._compat.pyod_numba import KERNELS, use_cached_kernels
from watchtower.detect.config import load_detect_config
from watchtower.detect.reasons import (
    FeatureText,
    Hit,
    RuleHit,
    build_reasons,
    build_reasons_batch,
)
from watchtower.detect.training import config_model, train_model

NAMES = ["b_ratio", "a_count", "c_flag", "d_pct", "e_plain", "no_text"]
TEXTS = {
    "b_ratio": FeatureText("b_ratio", "乙", "B", "乙 {value:.0%}", "B {value:.0%}", "ratio"),
    "a_count": FeatureText("a_count", "甲", "A", "甲 {value:.0f} 次", "{value:.0f} A", "count"),
    "c_flag": FeatureText("c_flag", "丙", "C", "已列入黑名单", "on the blacklist", "bool"),
    "d_pct": FeatureText("d_pct", "丁", "D", "丁 {value:.0f}", "D {value:.0f}", "percentile"),
    "e_plain": FeatureText("e_plain", "戊", "E", "戊 {value:.2f}", "E {value:.2f}"),
}


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types (repr shows numpy scalars) and the same stored JSON."""
    return bool(a == b) and repr(a) == repr(b) and json.dumps(a) == json.dumps(b)


def _random_case(
    seed: int, n: int = 400
) -> tuple[list[list[Hit]], np.ndarray, dict[str, Any], np.ndarray]:
    rng = np.random.default_rng(seed)
    p = len(NAMES)
    # few distinct levels: many ties, decided by the feature name
    dev = rng.choice([0.0, 1.0, 1.5, 2.0, 3.0, 3.0, 5.0, 10.0], size=(n, p))
    med = rng.normal(size=(n, p))
    med[rng.random((n, p)) < 0.1] = np.nan
    values = {c: rng.normal(size=n) for c in NAMES}
    values["b_ratio"][rng.random(n) < 0.2] = np.nan
    values["a_count"] = pd.array(
        [None if x < 0.1 else int(x * 10) for x in rng.random(n)], dtype="Int64"
    )
    hits: list[list[Hit]] = []
    for _ in range(n):
        k = int(rng.integers(0, 7))
        row: list[Hit] = []
        for h in range(k):
            feature = NAMES[int(rng.integers(0, p))] if rng.random() < 0.7 else None
            if h % 2:
                row.append(RuleHit(f"r{h}", int(rng.integers(1, 6)), "规则", "rule", 1.0, feature))
            else:
                row.append(
                    {
                        "code": f"q{h}",
                        "severity": int(rng.integers(0, 6)),
                        "zh": "规",
                        "en": "q",
                        "value": "x",
                        "feature": feature,
                        "tier_floor": "yellow",
                    }
                )
        hits.append(row)
    return hits, dev, values, med


@pytest.mark.parametrize("max_reasons", [0, 1, 3, 5, 8])
@pytest.mark.parametrize("seed", [1, 2])
def test_batch_reasons_equal_per_manager_reasons(seed: int, max_reasons: int) -> None:
    hits, dev, values, med = _random_case(seed)
    batch = build_reasons_batch(
        hits, dev, NAMES, values, med, TEXTS, max_reasons=max_reasons, min_deviation=1.5
    )
    for i in range(len(hits)):
        one = build_reasons(
            hits[i],
            dict(zip(NAMES, dev[i].tolist(), strict=True)),
            {c: values[c][i] for c in NAMES},
            dict(zip(NAMES, med[i].tolist(), strict=True)),
            TEXTS,
            max_reasons=max_reasons,
            min_deviation=1.5,
        )
        assert same(batch[i], one), i


def test_batch_reasons_refuse_misshaped_or_non_finite_input() -> None:
    hits, dev, values, med = _random_case(3, n=5)
    with pytest.raises(ValueError, match="deviations"):
        build_reasons_batch(hits, dev[:, :2], NAMES, values, med, TEXTS)
    dev[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        build_reasons_batch(hits, dev, NAMES, values, med, TEXTS)


def test_model_reasons_equal_per_manager_path() -> None:
    from watchtower.config import load_settings

    cfg = load_detect_config(load_settings({}).models_dir / "detectors.yaml")
    frame, _, _ = world()
    model = config_model(cfg, CATALOG, frame, day(0))
    dev, med, _ = model.deviations(frame)
    hits = hits_for(frame)
    lists = [list(hits.get(r, ())) for r in frame.index]
    fast = model._reasons(frame, lists, dev, med)
    values = frame[model.features]
    slow = [
        build_reasons(
            lists[k],
            dev.loc[r].to_dict(),
            values.loc[r].to_dict(),
            med.loc[r].to_dict(),
            model.texts,
            max_reasons=cfg.max_reasons,
            min_deviation=cfg.min_deviation,
        )
        for k, r in enumerate(frame.index)
    ]
    assert sum(map(len, fast)) > 20  # the case has reasons to compare
    assert same(fast, slow)


def test_config_model_equals_untrained_train_model() -> None:
    from watchtower.config import load_settings

    cfg = load_detect_config(load_settings({}).models_dir / "detectors.yaml")
    frame, _, _ = world()
    fast = config_model(cfg, CATALOG, frame, day(0))
    slow = train_model(cfg, CATALOG, day(0), lambda _d: frame, supervised=False).model
    assert fast == slow and repr(fast) == repr(slow)


def test_cached_numba_kernels_compute_what_pyod_compiles() -> None:
    from numba import njit

    use_cached_kernels()
    rng = np.random.default_rng(0)
    X = np.abs(rng.normal(size=(300, 4)))
    for module_name, name in KERNELS:
        kernel = getattr(importlib.import_module(module_name), name)
        assert kernel._cache.__class__.__name__ != "NullCache"  # caching is on
        plain = njit(kernel.py_func)  # what pyod's @njit builds
        if name == "_calculate_outlier_scores":
            edges = np.linspace(0, 3, 11)[:, None].repeat(4, axis=1)
            hist = rng.random((10, 4))
            args: tuple[Any, ...] = (X, edges, hist, 10, 0.1, 0.5)
            assert np.array_equal(kernel(*args), plain(*args))
        else:
            a, b = np.sort(np.round(X, 1), axis=0), np.sort(rng.random(X.shape), axis=0)
            a1, b1 = a.copy(), b.copy()
            kernel(a, b)
            plain(a1, b1)
            assert np.array_equal(b, b1)


def test_one_manager_reasons_are_a_batch_of_one() -> None:
    """build_reasons has the batch's contract: names missing from values or medians are no
    evidence, and a deviation that is not finite is refused, not ranked."""
    dev = {"b_ratio": 4.0, "no_text": 9.0, "a_count": 3.0}
    out = build_reasons([], dev, {"b_ratio": 0.1}, {}, TEXTS)
    assert [r["code"] for r in out] == ["b_ratio"]  # no text, no value: no reason
    assert out[0]["zh"] == "乙 10%" and out[0]["severity"] == 2  # no median: none shown
    assert build_reasons([], {}, {}, {}, TEXTS) == []
    with pytest.raises(ValueError, match="finite"):
        build_reasons([], {"b_ratio": float("nan")}, {"b_ratio": 0.1}, {}, TEXTS)


def test_model_reasons_match_rows_by_position() -> None:
    """Duplicate register numbers (rows matched by position) and a feature named twice (one
    reason for it) get the reasons of the unique case."""
    from watchtower.config import load_settings

    cfg = load_detect_config(load_settings({}).models_dir / "detectors.yaml")
    frame, _, _ = world()
    model = config_model(cfg, CATALOG, frame, day(0))
    dev, med, _ = model.deviations(frame)
    hits = hits_for(frame)
    lists = [list(hits.get(r, ())) for r in frame.index]
    base = model._reasons(frame, lists, dev, med)
    twice = pd.concat([frame, frame])
    doubled = model._reasons(twice, lists + lists, pd.concat([dev, dev]), pd.concat([med, med]))
    assert same(doubled, base + base)
    first = dev.columns[0]
    wide_dev = pd.concat([dev, dev[[first]]], axis=1)
    wide_med = pd.concat([med, med[[first]]], axis=1)
    assert not wide_dev.columns.is_unique
    assert same(model._reasons(frame, lists, wide_dev, wide_med), base)
