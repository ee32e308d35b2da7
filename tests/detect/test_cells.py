"""Comparison cells (peer_group.comparable_by): known answers without a database.

Cell assignment and its hierarchical fallback, missing banding values, an empty banding list
reproducing the peer-group deviations exactly, a giant compared with giants, and scoring a
peer group alone equal to the same rows of the whole day.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from tests.detect.fakes import CATALOG, day, fast_config, hits_for, world
from watchtower.detect._cells import band_indices, cell_phrase, comparison_cells
from watchtower.detect.config import Banding, DetectConfig, DetectConfigError, load_detect_config
from watchtower.detect.detectors import _robust_center_scale, directional_deviations
from watchtower.detect.model import POOLED, RiskModel, peer_groups
from watchtower.detect.training import train_model

AGE = Banding("years_since_registration", (2.0, 5.0))
SIZE = Banding("fund_count", (1.0, 5.0, 20.0))


@pytest.fixture(scope="module")
def config() -> DetectConfig:
    return fast_config()


def _frame(rows: list[tuple[str, float, float]]) -> pd.DataFrame:
    """(manager type, years since registration, funds) per manager."""
    return pd.DataFrame(
        rows,
        columns=["manager_type", "years_since_registration", "fund_count"],
        index=pd.Index([f"P{i}" for i in range(len(rows))], name="register_no"),
    )


def test_bands_are_half_open_and_nan_is_unknown() -> None:
    values = pd.Series([0.0, 0.99, 1.0, 4.0, 5.0, 19.5, 20.0, 300.0, np.nan])
    assert band_indices(values, SIZE.edges).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, -1]


def test_cells_fall_back_level_by_level() -> None:
    # group A: 12 old managers with 5-19 funds (a full cell of 10+), 6 old with 1-4 funds
    # (too few: old managers of A), 3 young with 1-4 funds (young too few: A itself)
    rows = [("A", 8.0, 7.0)] * 12 + [("A", 8.0, 2.0)] * 6 + [("A", 1.0, 2.0)] * 3
    frame = _frame(rows)
    groups = pd.Series("A", index=frame.index, dtype=object)
    cells = comparison_cells(frame, groups, (AGE, SIZE), 10, POOLED)
    labels = cells.labels.tolist()
    full = "A|years_since_registration>=5|fund_count[5,20)"
    old = "A|years_since_registration>=5"
    assert labels == [full] * 12 + [old] * 6 + ["A"] * 3
    assert cells.members[full].sum() == 12  # its own cell
    assert cells.members[old].sum() == 18  # all old managers of A, the full cell's too
    assert cells.members["A"].all()  # the whole group
    # a smaller minimum: the 6 old managers with few funds get their full cell
    labels = comparison_cells(frame, groups, (AGE, SIZE), 6, POOLED).labels
    assert labels.iloc[12] == "A|years_since_registration>=5|fund_count[1,5)"
    assert labels.iloc[-1] == "A"  # 3 young managers remain below 6


def test_a_missing_banding_value_stops_at_the_level_above() -> None:
    rows = [("A", 8.0, 7.0)] * 12 + [("A", 8.0, np.nan), ("A", np.nan, 7.0)]
    frame = _frame(rows)
    groups = pd.Series("A", index=frame.index, dtype=object)
    cells = comparison_cells(frame, groups, (AGE, SIZE), 10, POOLED)
    assert cells.labels.iloc[-2] == "A|years_since_registration>=5"  # age known, funds not
    assert cells.labels.iloc[-1] == "A"  # age unknown: the group, though its funds are known
    # the missing values belong to no band: the full cell holds the 12 only
    assert cells.members["A|years_since_registration>=5|fund_count[5,20)"].sum() == 12
    assert cells.members["A|years_since_registration>=5"].sum() == 13


def test_cells_live_inside_the_peer_group_and_pooled_ones_inside_everyone() -> None:
    rows = [("A", 8.0, 7.0)] * 12 + [("B", 8.0, 7.0)] * 4 + [("C", 8.0, 7.0)] * 4
    frame = _frame(rows)
    groups = pd.Series(["A"] * 12 + ["B"] * 4 + [POOLED] * 4, index=frame.index, dtype=object)
    cells = comparison_cells(frame, groups, (AGE,), 10, POOLED)
    assert cells.labels.iloc[0] == "A|years_since_registration>=5"
    assert cells.labels.iloc[12] == "B"  # 4 in B's cell: B never borrows A's managers
    pooled = f"{POOLED}|years_since_registration>=5"
    assert cells.labels.iloc[-1] == pooled  # the pooled are compared with everyone old
    assert cells.members[pooled].sum() == 20


def test_no_banding_reproduces_the_peer_group_deviations(config: DetectConfig) -> None:
    frame, _, _ = world(n=200)
    frame["fund_count"] = np.arange(len(frame)) % 30
    frame["years_since_registration"] = (np.arange(len(frame)) % 11) * 1.0
    model = train_model(replace(config, comparable_by=()), CATALOG, day(0), lambda _d: frame).model
    dev, med, groups = model.deviations(frame)
    # the peer-group statistics as computed before cells existed, written out here
    cols = model.detector_features
    X = model.adjusted(frame)[cols].to_numpy(dtype=float)
    raw = frame[cols].to_numpy(dtype=float)
    d = np.asarray(model._directions(cols), dtype=float)
    for label in pd.unique(groups):
        rows = (groups == label).to_numpy()
        fit = np.ones(len(frame), dtype=bool) if label == POOLED else rows
        center, scale = _robust_center_scale(X[fit])
        expected = directional_deviations(X[rows], center, scale, d, config.clip)
        np.testing.assert_array_equal(dev.to_numpy()[rows], expected)
        medians = np.broadcast_to(_robust_center_scale(raw[fit])[0], (rows.sum(), len(cols)))
        np.testing.assert_array_equal(med.to_numpy()[rows], medians)
    # bandings whose cells are all too small score exactly as no banding
    scored = model.score(frame, hits_for(frame))
    too_small = replace(model.config, comparable_by=(AGE, SIZE), cell_min_size=10**6)
    banded = replace(model, config=too_small)
    pd.testing.assert_frame_equal(banded.score(frame, hits_for(frame)), scored)
    assert (scored["peer_group"] == groups).all()


def _giants(config: DetectConfig) -> tuple[pd.DataFrame, RiskModel]:
    """One peer group: 100 small managers (2-4 funds, 0-1 overdue reports) and 30 giants
    (40-80 funds) whose 6-9 overdue reports (per year, averaged) are ordinary among giants."""
    frame, _, _ = world(n=130, seed=3)
    frame["manager_type"] = "私募证券投资基金管理人"
    rng = np.random.default_rng(5)
    small, giants = frame.index[:100], frame.index[100:]
    frame["fund_count"] = 0.0
    frame.loc[small, "fund_count"] = rng.integers(2, 5, len(small)).astype(float)
    frame.loc[giants, "fund_count"] = rng.integers(40, 81, len(giants)).astype(float)
    frame.loc[small, "overdue_reports"] = rng.integers(0, 2, len(small)).astype(float)
    frame.loc[giants, "overdue_reports"] = rng.permutation(np.linspace(6.0, 9.0, len(giants)))
    model = train_model(config, CATALOG, day(0), lambda _d: frame).model
    return frame, model


def test_a_giant_ordinary_among_giants_is_no_deviation(config: DetectConfig) -> None:
    by_size = replace(config, comparable_by=(Banding("fund_count", (20.0,)),), cell_min_size=30)
    frame, model = _giants(by_size)
    giants = frame.index[100:]
    dev, med, _ = model.deviations(frame)
    whole = replace(model, config=replace(by_size, comparable_by=()))
    dev_whole, _, _ = whole.deviations(frame)
    # against the whole type every giant's overdue reports deviate strongly ...
    assert dev_whole.loc[giants, "overdue_reports"].min() >= 3.0
    # ... against the giants none does more than the giants' own spread
    assert dev.loc[giants, "overdue_reports"].max() <= 1.5
    assert med.loc[giants, "overdue_reports"].iloc[0] == pytest.approx(
        frame.loc[giants, "overdue_reports"].median()
    )
    scored = model.score(frame, hits_for(frame))
    assert set(scored.loc[giants, "peer_group"]) == {"私募证券投资基金管理人|fund_count>=20"}
    reasons = [r["code"] for rs in scored.loc[giants, "reasons"] for r in rs]
    assert "overdue_reports" not in reasons
    reasons_whole = [r["code"] for rs in whole.score(frame)["reasons"].loc[giants] for r in rs]
    assert "overdue_reports" in reasons_whole


def test_a_cell_phrase_names_the_bands_in_both_languages() -> None:
    labels = {"years_since_registration": ("登记年限", "Years since registration")}
    assert cell_phrase(((AGE, 2), (SIZE, 2)), labels) == (
        "登记年限 ≥5、fund_count 5 至 20 以下",
        "years since registration ≥5, fund_count 5 to under 20",
    )
    assert cell_phrase(((AGE, 0),), labels) == ("登记年限 <2", "years since registration <2")
    assert cell_phrase((), labels) is None  # a whole peer group: nothing to add


def test_a_reason_says_whose_median_it_quotes(config: DetectConfig) -> None:
    """A median from a comparison cell is named with the cell's bands; one from the whole peer
    group is not: the console's peers table shows the group's, so a reader must tell them
    apart."""
    by_size = replace(config, comparable_by=(Banding("fund_count", (20.0,)),), cell_min_size=30)
    frame, model = _giants(by_size)
    small = frame.index[:100]

    def medians_quoted(scored: pd.DataFrame) -> list[tuple[str, str]]:
        return [
            (r["zh"], r["en"])
            for rs in scored.loc[small, "reasons"]
            for r in rs
            if r["kind"] == "feature" and "同类中位数" in r["zh"]
        ]

    quoted = medians_quoted(model.score(frame, hits_for(frame)))
    assert quoted, "the small managers have reasons quoting a median"
    for zh, en in quoted:
        assert zh.endswith("（fund_count <20）") and en.endswith(" (fund_count <20)")
    whole = replace(model, config=replace(by_size, comparable_by=()))
    for zh, en in medians_quoted(whole.score(frame, hits_for(frame))):
        assert "（" not in zh and " (" not in en.split("peer median")[-1]


def test_one_peer_group_alone_scores_as_in_the_whole_day(config: DetectConfig) -> None:
    """What a partition of whole peer groups does: its own rows only, same scores."""
    frame, _, _ = world(n=200)
    frame["fund_count"] = (np.arange(len(frame)) * 7) % 30 * 1.0
    frame["years_since_registration"] = (np.arange(len(frame)) * 3 % 11) * 1.0
    cfg = replace(config, comparable_by=(AGE, SIZE), cell_min_size=12)
    model = train_model(cfg, CATALOG, day(0), lambda _d: frame).model
    whole = model.score(frame, hits_for(frame))
    groups = peer_groups(frame, cfg.peer_key, cfg.peer_min_size)
    assert whole["peer_group"].str.contains("|", regex=False).any()  # some managers in deeper cells
    for label in set(groups) - {POOLED}:
        mine = frame[(groups == label).to_numpy()]
        pd.testing.assert_frame_equal(model.score(mine, hits_for(mine)), whole.loc[mine.index])


@pytest.mark.parametrize(
    ("peer", "message"),
    [
        ({"comparable_by": {"feature": "fund_count"}}, "comparable_by must be a list"),
        ({"comparable_by": [{"edges": [1]}]}, "comparable_by[0] needs a 'feature'"),
        ({"comparable_by": [{"feature": "fund_count", "edges": [5, 1]}]}, "increasing"),
        ({"comparable_by": [{"feature": "fund_count", "edges": []}]}, "increasing"),
        ({"comparable_by": [{"feature": "fund_count", "edges": ["x"]}]}, "increasing"),
        (
            {"comparable_by": [{"feature": "a", "edges": [1]}, {"feature": "a", "edges": [2]}]},
            "repeat",
        ),
        ({"cell_min_size": 0}, "cell_min_size"),
        ({"cell_min_size": "30"}, "cell_min_size"),
    ],
)
def test_bad_bandings_are_refused_naming_the_file(
    tmp_path: Path, peer: dict[str, Any], message: str
) -> None:
    path = tmp_path / "detectors.yaml"
    path.write_text(yaml.safe_dump({"peer_group": {"key": "manager_type", **peer}}))
    with pytest.raises(DetectConfigError) as info:
        load_detect_config(path)
    assert str(path) in str(info.value) and message in str(info.value)


def test_absent_or_empty_bandings_are_the_peer_group(tmp_path: Path) -> None:
    path = tmp_path / "detectors.yaml"
    for peer in ({"key": "manager_type"}, {"key": "manager_type", "comparable_by": []}):
        path.write_text(yaml.safe_dump({"peer_group": peer}))
        assert load_detect_config(path).comparable_by == ()
    shipped = load_detect_config(Path(__file__).parents[2] / "models" / "detectors.yaml")
    assert DetectConfig.from_dict(shipped.to_dict()) == shipped  # the registry's round trip
    old = {
        k: v for k, v in shipped.to_dict().items() if k not in ("comparable_by", "cell_min_size")
    }
    assert DetectConfig.from_dict(old).comparable_by == ()  # a model registered before cells
