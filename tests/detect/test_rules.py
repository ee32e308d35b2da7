"""Rules as data: every project rule fires and does not fire, reasons carry the values, the
loader's errors are clear, and adding a rule is a YAML edit only."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from watchtower.detect.reasons import RuleHit
from watchtower.detect.rules import RuleError, RuleSet, evaluate_rules, load_rules, parse_rules
from watchtower.features import load_catalog

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "models" / "rules.yaml"
CATALOG = load_catalog(ROOT / "features")

# rule id -> (features of a manager that fires it, features of one that does not,
#             expected zh reason, expected en reason)
CASES: dict[str, tuple[dict[str, float], dict[str, float], str, str]] = {
    "paid_in_ratio_low": (
        {"paid_in_ratio": 0.12},
        {"paid_in_ratio": 0.25},
        "实缴比例 12%，低于 25%",
        "paid-in 12% of subscribed capital, under 25%",
    ),
    "paid_in_capital_low": (
        {"paid_in_capital": 150.0},
        {"paid_in_capital": 200.0},
        "实缴资本 150 万元，低于 200 万元",
        "paid-in capital 150 万元, under 200 万元",
    ),
    "no_fund_filed": (
        {"months_without_fund": 13.0},
        {"months_without_fund": 11.0},
        "登记已 13 个月仍未备案基金（规定 12 个月内）",
        "no fund filed 13 months after registration (limit 12)",
    ),
    "special_tips": (
        {"has_special_tips": 1.0},
        {"has_special_tips": 0.0},
        "协会公示特别提示信息",
        "AMAC publishes a special notice on this manager",
    ),
    "credit_tips": (
        {"has_credit_tips": 1.0},
        {"has_credit_tips": 0.0},
        "协会公示机构诚信信息",
        "AMAC publishes an integrity (credit) record on this manager",
    ),
    "blacklist": ({"in_blacklist": 1.0}, {"in_blacklist": 0.0}, "已列入黑名单", "on the blacklist"),
    "annual_report_overdue": (
        {"annual_report_overdue": 1.0, "annual_missing_12m": 2.0},
        {"annual_report_overdue": 0.0, "annual_missing_12m": 0.0},
        "截至 4 月 30 日仍有 2 份经审计年报未报送",
        "2 audited annual report(s) not filed by 30 April",
    ),
    "abnormal_institution": (
        {"quarterly_missed_24m": 2.0},
        {"quarterly_missed_24m": 1.0},
        "近 24 个月季度报告未按时报送 2 次（达到 2 次即为异常机构）",
        "quarterly reports missed or late 2 times in 24 months (2 make an abnormal institution)",
    ),
    "cross_district_office": (
        {"office_district_differs": 1.0},
        {"office_district_differs": 0.0},
        "办公地与注册地分属不同证监局辖区",
        "office and registration lie in different CSRC bureau districts",
    ),
    "few_employees": (
        {"employee_count": 3.0},
        {"employee_count": 5.0},
        "员工仅 3 人，少于 5 人",
        "3 employee(s), fewer than 5",
    ),
    "legal_rep_changes": (
        {"legal_rep_changes_12m": 2.0},
        {"legal_rep_changes_12m": 1.0},
        "近 12 个月法定代表人变更 2 次",
        "legal representative changed 2 times in 12 months",
    ),
    "qualified_audit": (
        {"qualified_audit_count": 1.0},
        {"qualified_audit_count": 0.0},
        "1 只基金年报审计意见为非标准无保留意见",
        "1 fund(s) with a qualified, adverse or disclaimed audit opinion",
    ),
    "extended_liquidation": (
        {"extended_liquidation_count": 3.0},
        {"extended_liquidation_count": 0.0},
        "3 只基金处于延期清算",
        "3 fund(s) in extended liquidation (延期清算)",
    ),
    "abnormal_liquidation": (
        {"abnormal_liquidation_count": 1.0},
        {"abnormal_liquidation_count": 0.0},
        "1 只基金非正常清算",
        "1 fund(s) in abnormal liquidation",
    ),
    "enforcement": (
        {"enforcement_365d": 1.0},
        {"enforcement_365d": 0.0},
        "近一年受到行政处罚 1 起",
        "1 enforcement action(s) in the last year",
    ),
    "no_custodian_majority": (
        {"no_custodian_share": 0.75, "operating_fund_count": 4.0},
        {"no_custodian_share": 0.75, "operating_fund_count": 1.0},
        "75% 的运作中基金无托管人（共 4 只）",
        "75% of 4 operating funds have no custodian",
    ),
    "serious_integrity_tip": (
        {"serious_integrity_tip": 1.0, "integrity_tip_count": 1.0, "institution_tip_count": 2.0},
        {"serious_integrity_tip": 0.0, "integrity_tip_count": 3.0, "institution_tip_count": 2.0},
        "协会公示失联、异常机构、信息报送异常或行政处罚类信息（诚信信息 1 类，机构提示 2 类）",
        "AMAC lists the manager as lost contact, abnormal, failing to report or sanctioned "
        "(1 integrity and 2 institution notice categories)",
    ),
    "no_product_12m": (
        {"months_without_product": 13.0},
        {"months_without_product": 11.0},
        "已连续至少 13 个月无在管产品（满 12 个月协会注销登记）",
        "no product under management for at least 13 months (AMAC deregisters at 12)",
    ),
    "jurisdiction_mismatch": (
        {"jurisdiction_differs": 1.0},
        {"jurisdiction_differs": 0.0},
        "注册地辖区与办公地辖区不一致",
        "registered and office jurisdictions differ",
    ),
    "early_liquidations": (
        {"early_abnormal_liquidations_12m": 2.0},
        {"early_abnormal_liquidations_12m": 1.0},
        "近 12 个月 2 只基金提前清算或非正常清算",
        "2 fund(s) liquidated early or abnormally in 12 months",
    ),
    "fund_count_drops": (
        {"fund_count_drops_6m": 3.0},
        {"fund_count_drops_6m": 1.0},
        "近 6 个月在管基金数量减少 3 次",
        "fund count fell 3 times in 6 months",
    ),
}


def frame(rows: dict[str, dict[str, float]]) -> pd.DataFrame:
    """A feature frame of the catalog's features: NaN except the values given."""
    out = pd.DataFrame(
        np.nan, index=pd.Index(list(rows), name="register_no"), columns=CATALOG.names
    )
    for key, values in rows.items():
        for name, value in values.items():
            out.loc[key, name] = value
    return out


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules(RULES)


def test_every_project_rule_has_a_case(rules: RuleSet) -> None:
    assert {r.id for r in rules} == set(CASES)


@pytest.mark.parametrize("rule_id", list(CASES))
def test_rule_fires_and_does_not_fire(rules: RuleSet, rule_id: str) -> None:
    fire, quiet, zh, en = CASES[rule_id]
    result = evaluate_rules(frame({"P1": fire, "P2": quiet, "P3": {}}), rules)
    assert bool(result.hits.loc["P1", rule_id]) is True
    assert bool(result.hits.loc["P2", rule_id]) is False
    assert bool(result.hits.loc["P3", rule_id]) is False  # NaN never fires
    reason = next(r for r in result.reasons["P1"] if r["code"] == rule_id)
    assert (reason["zh"], reason["en"]) == (zh, en)
    assert reason["kind"] == "rule"
    assert reason["severity"] == next(r.severity for r in rules if r.id == rule_id)
    assert all(r["code"] != rule_id for r in result.reasons["P2"])


def test_reasons_are_sorted_and_summaries(rules: RuleSet) -> None:
    f = frame(
        {
            "P1": {
                "in_blacklist": 1.0,
                "employee_count": 2.0,
                "has_special_tips": 1.0,
                "quarterly_missed_24m": 3.0,
            },
            "P2": {"employee_count": 50.0},
        }
    )
    result = evaluate_rules(f, rules)
    assert result.codes()["P1"] == [
        "blacklist",
        "abnormal_institution",
        "special_tips",
        "few_employees",
    ]
    assert result.codes()["P2"] == []
    assert result.max_severity().to_dict() == {"P1": 5.0, "P2": 0.0}
    assert result.tier_floor().to_dict() == {"P1": "red", "P2": None}
    assert result.reasons["P1"][0]["tier_floor"] == "red"
    hits = result.as_rule_hits()
    assert list(hits) == ["P1"]
    assert hits["P1"][0] == RuleHit(
        code="blacklist",
        severity=5,
        zh="已列入黑名单",
        en="on the blacklist",
        value=1.0,
        feature="in_blacklist",
    )
    assert list(result.hits.columns) == [r.id for r in rules]
    assert result.hits.dtypes.eq(bool).all()


def test_missing_values_render_as_a_dash() -> None:
    rs = parse_rules(
        {
            "rules": [
                {
                    "id": "low",
                    "name_zh": "低",
                    "name_en": "low",
                    "severity": 2,
                    "condition": {"feature": "paid_in_capital", "op": "<", "value": 100},
                    "reason_zh": "实缴 {paid_in_capital:,.0f} 万元，比例 {paid_in_ratio:.0%}",
                    "reason_en": "paid-in {paid_in_capital:,.0f}, ratio {paid_in_ratio:.0%}",
                }
            ]
        },
        features=CATALOG.names,
    )
    result = evaluate_rules(frame({"P1": {"paid_in_capital": 50.0}}), rs)
    assert result.reasons["P1"][0]["zh"] == "实缴 50 万元，比例 —"
    assert result.reasons["P1"][0]["en"] == "paid-in 50, ratio n/a"


def test_any_all_not(rules: RuleSet) -> None:
    doc = {
        "params": {"cap": 200},
        "rules": [
            {
                "id": "combo",
                "name_zh": "组合",
                "name_en": "combo",
                "severity": 3,
                "condition": {
                    "any": [
                        {
                            "all": [
                                {"feature": "paid_in_capital", "op": "<", "param": "cap"},
                                {"not": {"feature": "fund_count", "op": ">", "value": 0}},
                            ]
                        },
                        {"feature": "in_blacklist", "op": "==", "value": True},
                    ]
                },
                "reason_zh": "组合 {paid_in_capital}",
                "reason_en": "combo {paid_in_capital}",
            }
        ],
    }
    rs = parse_rules(doc, features=CATALOG.names)
    f = frame(
        {
            "a": {"paid_in_capital": 100.0, "fund_count": 0.0},
            "b": {"paid_in_capital": 100.0, "fund_count": 2.0},
            "c": {"paid_in_capital": 900.0, "fund_count": 0.0, "in_blacklist": 1.0},
            "d": {"paid_in_capital": 900.0, "fund_count": 0.0},
        }
    )
    assert evaluate_rules(f, rs).hits["combo"].to_dict() == {
        "a": True,
        "b": False,
        "c": True,
        "d": False,
    }


def test_params_change_behaviour_without_code(tmp_path: Path) -> None:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    f = frame({"P1": {"months_without_fund": 7.0}})
    assert not evaluate_rules(f, parse_rules(data, features=CATALOG.names)).hits.loc[
        "P1", "no_fund_filed"
    ]
    data["params"]["no_fund_months"] = 6  # the older AMAC rule
    hits = evaluate_rules(f, parse_rules(data, features=CATALOG.names))
    assert hits.hits.loc["P1", "no_fund_filed"]
    assert "规定 6 个月内" in hits.reasons["P1"][0]["zh"]


def test_adding_a_rule_is_a_yaml_edit(tmp_path: Path) -> None:
    text = RULES.read_text(encoding="utf-8") + (
        "\n  - id: heavy_redemptions\n"
        "    name_zh: 大额赎回\n"
        "    name_en: Heavy redemptions\n"
        "    severity: 4\n"
        '    condition: {feature: redemption_ratio_12m, op: ">", value: 0.8}\n'
        '    reason_zh: "近 12 个月赎回额为平均净资产的 {redemption_ratio_12m:.0%}"\n'
        '    reason_en: "redemptions {redemption_ratio_12m:.0%} of average net assets"\n'
    )
    (tmp_path / "models").mkdir()
    path = tmp_path / "models" / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    rs = load_rules(path, features=CATALOG.names)
    assert rs.rules[-1].id == "heavy_redemptions"
    result = evaluate_rules(frame({"P1": {"redemption_ratio_12m": 1.25}}), rs)
    assert result.codes()["P1"] == ["heavy_redemptions"]
    assert result.reasons["P1"][0]["zh"] == "近 12 个月赎回额为平均净资产的 125%"


def _one(**changes: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {
        "id": "r",
        "name_zh": "规则",
        "name_en": "rule",
        "severity": 3,
        "condition": {"feature": "paid_in_ratio", "op": "<", "value": 0.25},
        "reason_zh": "实缴比例 {paid_in_ratio:.0%}",
        "reason_en": "paid-in {paid_in_ratio:.0%}",
    }
    rule.update(changes)
    return {"params": {"p": 1}, "rules": [rule]}


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_one(condition={"feature": "moon", "op": "<", "value": 1}), "unknown feature 'moon'"),
        (_one(condition={"feature": "paid_in_ratio", "op": "=<", "value": 1}), "bad op '=<'"),
        (_one(reason_zh="比例 {paid_ratio:.0%}"), r"unknown feature/param \['paid_ratio'\]"),
        (_one(reason_en="ratio {paid_in_ratio:.0q}"), "does not format"),
        (
            _one(condition={"feature": "paid_in_ratio", "op": "<", "param": "q"}),
            "unknown param 'q'",
        ),
        (_one(condition={"feature": "paid_in_ratio", "op": "<"}), "exactly one of"),
        (
            _one(condition={"feature": "paid_in_ratio", "op": "<", "value": "low"}),
            "must be a number",
        ),
        (_one(condition={"all": []}), "non-empty list"),
        (_one(condition={"nand": [1]}), r"unknown key\(s\) \['nand'\]"),
        (_one(severity=7), "integer 1-5"),
        (_one(severity="high"), "integer 1-5"),
        (_one(tier_floor="purple"), "tier_floor 'purple'"),
        (_one(colour="red"), r"unknown key\(s\) \['colour'\]"),
        (_one(id="Bad-Id"), "snake_case"),
        (_one(reason_en=""), "missing required"),
        (_one(value="moon"), "not a known feature"),
        ({"rules": [_one()["rules"][0], _one()["rules"][0]]}, "duplicate rule id 'r'"),
        ({"rules": []}, "non-empty list"),
        ({"params": {"paid_in_ratio": 1}, "rules": _one()["rules"]}, "name of a feature"),
        ({"params": {"x": "high"}, "rules": _one()["rules"]}, "must be a number"),
        ({"rulez": []}, "unknown top-level"),
    ],
)
def test_invalid_rules_fail_clearly(doc: dict[str, Any], message: str) -> None:
    with pytest.raises(RuleError, match=message):
        parse_rules(doc, features=CATALOG.names)


def test_frame_missing_a_column_is_a_clear_error(rules: RuleSet) -> None:
    f = frame({"P1": {}}).drop(columns=["paid_in_ratio"])
    with pytest.raises(RuleError, match="lacks column"):
        evaluate_rules(f, rules)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="not found"):
        load_rules(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(RuleError, match="not valid YAML"):
        load_rules(bad)


def test_vectorized_on_a_large_frame(rules: RuleSet) -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    f = pd.DataFrame(
        rng.random((n, len(CATALOG.names))) * 3,
        columns=CATALOG.names,
        index=pd.Index([f"P{i:07d}" for i in range(n)], name="register_no"),
    )
    result = evaluate_rules(f, rules)
    assert result.hits.shape == (n, len(rules))
    assert math.isclose(result.hits["paid_in_ratio_low"].mean(), (f["paid_in_ratio"] < 0.25).mean())
