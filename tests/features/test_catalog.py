"""The catalog: the project file is valid and complete; the loader's errors are clear."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.features.conftest import ROOT
from watchtower.features import (
    CATEGORIES,
    Catalog,
    CatalogError,
    computed_features,
    load_catalog,
    parse_catalog,
)

GOOD: dict[str, Any] = {
    "name": "paid_in_ratio",
    "label_zh": "实缴比例",
    "label_en": "Paid-in ratio",
    "description": "paid-in / subscribed",
    "category": "registration_capital",
    "unit": "ratio",
    "direction": "lower_is_riskier",
    "window": "none",
    "source": "managers",
    "reason": {"zh": "实缴比例 {value:.0%}", "en": "paid-in {value:.0%}"},
}


def _doc(*features: dict[str, Any], version: Any = "1.0.0") -> list[tuple[str, Any]]:
    return [("test.yaml", {"version": version, "features": list(features)})]


def _with(**changes: Any) -> dict[str, Any]:
    f = copy.deepcopy(GOOD)
    f.update(changes)
    return f


def test_project_catalog_is_complete(catalog: Catalog) -> None:
    assert catalog.version == "1.3.0"
    assert len(catalog) >= 30
    assert {f.category for f in catalog} == set(CATEGORIES)
    assert set(computed_features()) <= set(catalog.names)
    peers = [f for f in catalog if f.peer_relative]
    assert peers and all(f.unit == "percentile" and f.peer_of in catalog for f in peers)
    for f in catalog:
        assert f.label_zh and f.label_en and f.description
        assert f.explain(0.5, "zh") and f.explain(0.5, "en")


def test_reasons_render_values(catalog: Catalog) -> None:
    spec = catalog["paid_in_ratio"]
    assert spec.explain(0.12, "zh") == "实缴比例 12%"
    assert spec.explain(0.12, "en") == "paid-in capital 12% of subscribed"
    assert spec.explain(float("nan")) is None
    assert catalog["extended_liquidation_count"].explain(2.0) == "2 只基金处于延期清算"


def test_a_folder_of_files_is_merged(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(yaml.safe_dump({"version": "2.0.0", "features": [GOOD]}))
    other = _with(name="paid_in_capital", unit="万元")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({"features": [other]}, allow_unicode=True))
    cat = load_catalog(tmp_path, check_engine=False)
    assert cat.version == "2.0.0" and cat.names == ["paid_in_ratio", "paid_in_capital"]


@pytest.mark.parametrize(
    ("docs", "message"),
    [
        (_doc(_with(colour="red")), r"unknown key\(s\) \['colour'\]"),
        (_doc(GOOD, GOOD), "duplicate feature name 'paid_in_ratio'"),
        (_doc(_with(direction="up")), "direction 'up' is not one of"),
        (_doc(_with(unit="dollars")), "unit 'dollars' is not one of"),
        (_doc(_with(category="misc")), "category 'misc' is not one of"),
        (_doc(_with(source="web")), "source 'web' is not one of"),
        (_doc(_with(window="1 year")), "window '1 year' must be"),
        (_doc(_with(name="PaidIn")), "must be snake_case"),
        (_doc(_with(label_en="")), r"missing required key\(s\) \['label_en'\]"),
        (_doc(_with(reason={"zh": "实缴 {ratio}", "en": "x"})), r"may only use \{value\}"),
        (_doc(_with(reason={"zh": "实缴 {value:.0q}", "en": "x"})), "does not format"),
        (_doc(_with(reason={"zh": "x"})), "exactly the keys zh and en"),
        (_doc(GOOD, version="one"), "must look like 1.0.0"),
        (_doc(), "no features declared"),
        ([("t.yaml", {"features": [GOOD]})], "missing 'version'"),
        ([("t.yaml", {"version": "1.0.0", "features": [GOOD], "extra": 1})], "top-level"),
        (
            _doc(GOOD, _with(name="x_pct", unit="percentile", peer_relative=True, peer_of="nope")),
            "peer_of 'nope' is not a declared feature",
        ),
        (_doc(_with(name="x_pct", peer_relative=True)), "needs peer_of"),
        (_doc(_with(name="x_pct", peer_of="paid_in_ratio")), "unit percentile"),
    ],
)
def test_invalid_catalogs_fail_clearly(docs: list[tuple[str, Any]], message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        parse_catalog(docs)


def test_declared_but_not_computable_is_an_error() -> None:
    docs = _doc(GOOD, _with(name="moon_phase"))
    with pytest.raises(CatalogError, match=r"cannot compute: \['moon_phase'\]"):
        parse_catalog(docs, computable=["paid_in_ratio"])


def test_computed_but_not_declared_is_an_error() -> None:
    with pytest.raises(CatalogError, match=r"does not declare: \['employee_count'\]"):
        parse_catalog(_doc(GOOD), computable=["paid_in_ratio", "employee_count"])


def test_project_file_without_a_feature_fails_against_the_engine(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "features" / "catalog.yaml").read_text(encoding="utf-8"))
    data["features"] = [f for f in data["features"] if f["name"] != "leverage_max_pct"]
    data["features"] = [f for f in data["features"] if f["name"] != "leverage_max"]
    path = tmp_path / "catalog.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(CatalogError, match="leverage_max"):
        load_catalog(path)
    assert "leverage_max" not in load_catalog(path, check_engine=False)


def test_missing_path_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: [unclosed", encoding="utf-8")
    with pytest.raises(CatalogError, match="not valid YAML"):
        load_catalog(bad)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CatalogError, match=r"no \*\.yaml"):
        load_catalog(empty)


def test_catalog_and_engine_do_not_import_each_other() -> None:
    # The loader checks a catalog against the engine; the engine reads only the declarations
    # (features/_spec.py): one direction, no cycle.
    import ast

    engine = ROOT / "watchtower" / "features" / "engine.py"
    imported = {
        node.module
        for node in ast.walk(ast.parse(engine.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "watchtower.features.catalog" not in imported
    assert "watchtower.features._spec" in imported
