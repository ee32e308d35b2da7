"""Tier policy: thresholds, rule overrides, hysteresis (pure functions, no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from watchtower.warn.policy import (
    PolicyError,
    TierPolicy,
    check_floor,
    load_policy,
    merge_floors,
    rule_floors,
)
from watchtower.warn.tiers import PreviousTier, assign_tier, tier_for_score

MODELS = Path(__file__).resolve().parents[2] / "models"

POLICY = TierPolicy(
    version="t",
    thresholds={"red": 85, "orange": 70, "yellow": 55, "blue": 40},
    margin=5,
    down_runs=2,
    overrides={"blacklist": "red", "special_tips": "orange"},
)


@pytest.mark.parametrize(
    ("score", "tier"),
    [
        (100, "red"),
        (85, "red"),
        (84.99, "orange"),
        (70, "orange"),
        (55, "yellow"),
        (40, "blue"),
        (39.9, None),
        (0, None),
    ],
)
def test_thresholds(score: float, tier: str | None) -> None:
    assert tier_for_score(score, POLICY.thresholds) == tier


def test_blacklist_is_red_whatever_the_score() -> None:
    d = assign_tier(3.0, ["blacklist"], [], None, POLICY)
    assert (d.tier, d.raw_tier, d.floor_tier) == ("red", None, "red")


def test_override_is_a_floor_not_a_ceiling() -> None:
    assert assign_tier(90, ["special_tips"], [], None, POLICY).tier == "red"
    assert assign_tier(20, ["special_tips"], [], None, POLICY).tier == "orange"
    assert assign_tier(20, ["unknown_rule"], [], None, POLICY).tier is None


def test_tier_floor_carried_by_a_reason() -> None:
    reasons = [{"kind": "rule", "code": "lost_contact", "tier_floor": "red"}]
    assert assign_tier(10, ["lost_contact"], reasons, None, POLICY).tier == "red"


def test_escalation_is_immediate() -> None:
    d = assign_tier(86, [], [], PreviousTier("blue"), POLICY)
    assert d.tier == "red" and not d.held


def test_hysteresis_holds_inside_the_margin() -> None:
    # Orange starts at 70; with margin 5 a score of 66 keeps orange indefinitely.
    prev = PreviousTier("orange")
    for _ in range(5):
        d = assign_tier(66, [], [], prev, POLICY)
        assert d.tier == "orange" and d.held and d.down_streak == 0
        prev = PreviousTier(d.tier, d.down_streak)


def test_hysteresis_steps_down_after_consecutive_runs() -> None:
    d1 = assign_tier(60, [], [], PreviousTier("orange"), POLICY)
    assert (d1.tier, d1.down_streak, d1.held) == ("orange", 1, True)
    d2 = assign_tier(60, [], [], PreviousTier(d1.tier, d1.down_streak), POLICY)
    assert (d2.tier, d2.down_streak) == ("yellow", 0)


def test_a_score_back_in_band_resets_the_streak() -> None:
    d1 = assign_tier(60, [], [], PreviousTier("orange"), POLICY)
    d2 = assign_tier(68, [], [], PreviousTier(d1.tier, d1.down_streak), POLICY)
    assert (d2.tier, d2.down_streak) == ("orange", 0)
    d3 = assign_tier(60, [], [], PreviousTier(d2.tier, d2.down_streak), POLICY)
    assert (d3.tier, d3.down_streak) == ("orange", 1)


def test_no_flapping_on_a_noisy_score_around_a_threshold() -> None:
    prev: PreviousTier | None = None
    tiers = []
    for score in [71, 69, 71, 68, 72, 69, 70, 67]:
        d = assign_tier(score, [], [], prev, POLICY)
        tiers.append(d.tier)
        prev = PreviousTier(d.tier, d.down_streak)
    assert set(tiers) == {"orange"}


def test_step_down_lands_on_the_tier_the_margin_still_grants() -> None:
    # From red, a score of 67 for two runs: below red's band, but inside orange's (70 - 5).
    prev = PreviousTier("red", 1)
    assert assign_tier(67, [], [], prev, POLICY).tier == "orange"
    # and to no tier at all when far below every band
    assert assign_tier(10, [], [], PreviousTier("blue", 1), POLICY).tier is None


def test_override_stops_the_step_down() -> None:
    prev = PreviousTier("red", 5)
    assert assign_tier(10, ["blacklist"], [], prev, POLICY).tier == "red"


def test_repository_policy_loads_and_aligns_with_rules(tmp_path: Path) -> None:
    policy = load_policy(MODELS)
    assert policy.overrides["blacklist"] == "red"
    assert policy.thresholds["red"] > policy.thresholds["blue"]
    # a tier_floor in rules.yaml is honoured, the higher tier winning (here an override
    # raising the rule's orange to red)
    shipped = (MODELS / "tiers.yaml").read_text("utf-8")
    raised = shipped.replace("\noverrides:\n", "\noverrides:\n  blacklist: red\n")
    assert raised != shipped
    (tmp_path / "tiers.yaml").write_text(raised, "utf-8")
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: paid_in_low\n    tier_floor: yellow\n"
        "  - id: blacklist\n    tier_floor: orange\n",
        "utf-8",
    )
    p = load_policy(tmp_path)
    assert p.overrides["paid_in_low"] == "yellow" and p.overrides["blacklist"] == "red"


def test_a_floor_declared_twice_is_refused(tmp_path: Path) -> None:
    # the shipped files declare each floor once: the blacklist's red is its rule's tier_floor
    assert "blacklist" not in (MODELS / "tiers.yaml").read_text("utf-8")
    assert rule_floors(MODELS / "rules.yaml")["blacklist"] == "red"
    shipped = (MODELS / "tiers.yaml").read_text("utf-8")
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: blacklist\n    tier_floor: red\n", "utf-8"
    )
    for tier in ("red", "orange"):  # the same floor again, or a lower one that never applies
        text = shipped.replace("\noverrides:\n", f"\noverrides:\n  blacklist: {tier}\n")
        (tmp_path / "tiers.yaml").write_text(text, "utf-8")
        with pytest.raises(PolicyError, match=rf"tiers.yaml: overrides blacklist: {tier} \("):
            load_policy(tmp_path)
    # raising a rule's floor, or flooring an id no rule floors, is the policy's to do
    (tmp_path / "rules.yaml").write_text(
        "rules:\n  - id: blacklist\n    tier_floor: orange\n", "utf-8"
    )
    text = shipped.replace("\noverrides:\n", "\noverrides:\n  blacklist: red\n")
    (tmp_path / "tiers.yaml").write_text(text, "utf-8")
    assert load_policy(tmp_path).overrides["blacklist"] == "red"
    assert load_policy(tmp_path).overrides["lost_contact"] == "red"


def test_bad_policy_is_refused() -> None:
    with pytest.raises(PolicyError, match="decrease"):
        TierPolicy(version="x", thresholds={"red": 50, "orange": 70, "yellow": 55, "blue": 40})
    with pytest.raises(PolicyError, match="unknown tier"):
        TierPolicy(version="x", thresholds=POLICY.thresholds, overrides={"a": "purple"})


def test_floors_are_merged_in_one_place_the_higher_winning() -> None:
    assert merge_floors({"a": "orange", "b": "yellow"}, {"a": "yellow", "c": "red"}) == {
        "a": "orange",
        "b": "yellow",
        "c": "red",
    }
    assert merge_floors({"a": "yellow"}, {"a": "red"}) == {"a": "red"}
    assert merge_floors({}, {}) == {}


def test_check_floor_is_the_one_meaning_of_tier_floor() -> None:
    assert check_floor(None) is None and check_floor("red") == "red"
    with pytest.raises(ValueError, match="tier_floor 'purple' is not one of red, orange"):
        check_floor("purple")


def test_rule_floors_read_the_rule_file_only_for_its_floors(tmp_path: Path) -> None:
    assert rule_floors(tmp_path / "absent.yaml") == {}
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: a\n    tier_floor: red\n  - id: b\n", "utf-8")
    assert rule_floors(path) == {"a": "red"}
    path.write_text("a: {tier_floor: blue}\nb: {}\n", "utf-8")  # a mapping id -> rule
    assert rule_floors(path) == {"a": "blue"}
    path.write_text("rules:\n  - id: a\n    tier_floor: purple\n", "utf-8")
    with pytest.raises(PolicyError, match=r"rules.yaml: rule 'a': tier_floor 'purple'"):
        rule_floors(path)


def test_shipped_floors_are_the_same_whichever_file_sets_them() -> None:
    # Each rule's floor is set on the rule in rules.yaml; tiers.yaml only raises or adds.
    # The floors in force are those of before the move.
    assert dict(load_policy(MODELS).overrides) == {
        "blacklist": "red",
        "lost_contact": "red",
        "enforcement": "orange",
        "special_tips": "orange",
        "credit_tips": "yellow",
        "abnormal_liquidation": "yellow",
        "abnormal_institution": "yellow",
        "serious_integrity_tip": "orange",
        "no_product_12m": "yellow",
    }


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("colour: red\n", "['colour'] in the top level"),
        ("hysteresis:\n  down_run: 3\n", "['down_run'] in the section 'hysteresis'"),
        ("alerts:\n  quiet_day: 3\n", "['quiet_day'] in the section 'alerts'"),
        ("digest:\n  top_reason: 3\n", "['top_reason'] in the section 'digest'"),
    ],
)
def test_unknown_policy_key_is_refused_naming_file_and_key(
    tmp_path: Path, text: str, key: str
) -> None:
    base = (MODELS / "tiers.yaml").read_text("utf-8")
    (tmp_path / "tiers.yaml").write_text(base + text, "utf-8")
    with pytest.raises(PolicyError) as info:
        load_policy(tmp_path)
    message = str(info.value)
    assert str(tmp_path / "tiers.yaml") in message and key in message and "allowed:" in message
