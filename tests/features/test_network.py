"""The relationship graph and its network features on a hand-made store, as of D = 2024-07-01.

- N1 shares its legal representative with N2 (spelt with a space), an executive with N3, a
  shareholder with N7, its actual controller with N4 (whose detail page is known only after
  D) and its registered address with N8's office (an address: not a person).
- N2 had an incident known before D; N3's incident is dated before D but known only after.
- N7 was red in the warn run of 2024-06-30; N2 is red only in the run of D itself.
- N5 and N6 have the placeholder 无 as legal representative and no detail page: no person.
- N7 is a PE manager (another partition: links are store-wide).
- H01..H11 share one platform shareholder: a hub of 11 (> HUB_MAX), no link.
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from tests.features.conftest import World
from tests.store_rows import loaded_batch
from watchtower.detect.reasons import with_ties
from watchtower.features import (
    HUB_MAX,
    PERSON_LABELS,
    Catalog,
    compute_features,
    links_between,
    network_ties,
    read_facts,
)
from watchtower.features._graph import address_key, person_key
from watchtower.managers import related_managers
from watchtower.store.alerts import manager_tiers
from watchtower.store.schema import incidents

D = dt.date
AS_OF = D(2024, 7, 1)
LATER = D(2024, 9, 1)
SNAP = D(2024, 6, 30)
HUB = [f"H{i:06d}" for i in range(1, 12)]
N1_ADDRESS = "上海市黄浦区中山东一路1号"
PE = "私募股权、创业投资基金管理人"
NETWORK = ("linked_managers", "linked_incident_managers", "linked_red_managers")


def _tier(w: World, no: str, day: dt.date, tier: str) -> None:
    with w.engine.begin() as conn:
        conn.execute(
            manager_tiers.insert().values(
                as_of=day,
                register_no=no,
                score=90.0,
                raw_tier=tier,
                tier=tier,
                down_streak=0,
                policy_version="p1",
                created_at=dt.datetime(2024, 7, 1),
            )
        )


def _incident(w: World, no: str, when: dt.date, known: dt.date, row: int) -> None:
    with w.engine.begin() as conn:
        batch = loaded_batch(conn, source="incidents", at=dt.datetime(2024, 1, 1), name=no)
        conn.execute(
            incidents.insert().values(
                batch_id=batch,
                row_number=row,
                register_no=no,
                incident_date=when,
                incident_type="fraud",
                known_from=known,
            )
        )


def build(w: World) -> None:
    w.manager("P0000001", SNAP, artificial_person_name="甲一", register_address=N1_ADDRESS)
    w.detail(
        "P0000001",
        SNAP,
        actual_controller="控制人甲",
        executives=[{"name": "高管乙", "role": "总经理"}],
        shareholders=[{"name": "母公司甲", "ratio": "60%"}],
    )
    w.manager("P0000002", SNAP, artificial_person_name="甲 一")
    w.manager("P0000003", SNAP, artificial_person_name="丙三")
    w.detail("P0000003", SNAP, executives=[{"姓名": "高管乙"}])
    w.manager("P0000004", SNAP, artificial_person_name="丁四")
    w.detail("P0000004", D(2024, 8, 15), actual_controller="控制人甲")  # known after D
    w.manager("P0000005", SNAP, artificial_person_name="无")
    w.manager("P0000006", SNAP, artificial_person_name="无")
    w.manager("P0000007", SNAP, artificial_person_name="庚七", primary_invest_type=PE)
    w.detail("P0000007", SNAP, shareholders=[{"name": "母公司甲", "ratio": "40%"}])
    w.manager("P0000008", SNAP, artificial_person_name="辛八", office_address=N1_ADDRESS + " ")
    for i, no in enumerate(HUB):
        w.manager(no, SNAP, artificial_person_name=f"枢纽{i:02d}号")
        w.detail(no, SNAP, shareholders=[{"name": "平台股东有限公司", "ratio": "1%"}])
    _incident(w, "P0000002", D(2024, 3, 1), D(2024, 3, 5), 1)
    _incident(w, "P0000003", D(2024, 6, 1), D(2024, 8, 1), 2)  # known after D
    _tier(w, "P0000007", D(2024, 6, 30), "red")
    _tier(w, "P0000002", AS_OF, "red")  # D's own run: not before D


NAN = math.nan
EXPECTED: dict[str, dict[str, float]] = {
    "P0000001": {
        "linked_managers": 3.0,  # N2, N3, N7 (N4's controller known after D, N8 an address)
        "linked_incident_managers": 1.0,  # N2 (N3's incident known after D)
        "linked_red_managers": 1.0,  # N7 (N2 red only on D)
    },
    "P0000002": {
        "linked_managers": 1.0,
        "linked_incident_managers": 0.0,
        "linked_red_managers": 0.0,
    },
    "P0000004": {  # a person known (its representative), nobody shares it yet
        "linked_managers": 0.0,
        "linked_incident_managers": 0.0,
        "linked_red_managers": 0.0,
    },
    "P0000005": dict.fromkeys(NETWORK, NAN),  # 无 is no person
    "P0000007": {
        "linked_managers": 1.0,
        "linked_incident_managers": 0.0,
        "linked_red_managers": 0.0,
    },
    "P0000008": {  # shares an address only
        "linked_managers": 0.0,
        "linked_incident_managers": 0.0,
        "linked_red_managers": 0.0,
    },
    HUB[0]: {  # the platform shareholder is a hub
        "linked_managers": 0.0,
        "linked_incident_managers": 0.0,
        "linked_red_managers": 0.0,
    },
}


@pytest.fixture
def world(world: World) -> World:
    build(world)
    return world


def _features(w: World, catalog: Catalog, day: dt.date) -> pd.DataFrame:
    return compute_features(w.engine, day, catalog=catalog)


def _same(got: float, want: float) -> bool:
    return (math.isnan(got) and math.isnan(want)) or got == want


def test_known_answers(world: World, catalog: Catalog) -> None:
    frame = _features(world, catalog, AS_OF)
    wrong = {
        (no, name): (frame.at[no, name], want)
        for no, row in EXPECTED.items()
        for name, want in row.items()
        if not _same(float(frame.at[no, name]), want)
    }
    assert wrong == {}


def test_a_link_and_an_incident_known_after_d_count_later(world: World, catalog: Catalog) -> None:
    later = _features(world, catalog, LATER)
    # N4's controller page and N3's incident are known by then; the red runs are before LATER
    assert later.at["P0000001", "linked_managers"] == 4.0
    assert later.at["P0000001", "linked_incident_managers"] == 2.0
    assert later.at["P0000001", "linked_red_managers"] == 2.0  # N7 and N2 (its run of D)
    assert later.at["P0000004", "linked_managers"] == 1.0


def test_red_is_unknown_before_any_warn_run(world: World, catalog: Catalog) -> None:
    before = _features(world, catalog, D(2024, 6, 30))  # the first run is that day: not before
    assert before["linked_red_managers"].isna().all()
    assert before.at["P0000001", "linked_managers"] == 3.0


def test_hubs_link_on_the_manager_page_but_not_in_the_features(world: World) -> None:
    with world.engine.connect() as conn:
        facts = read_facts(conn, AS_OF)
        related = related_managers(conn, HUB[0], districts=None, as_of=AS_OF)
    assert len(HUB) > HUB_MAX
    assert links_between(facts, of=[HUB[0]]).empty
    assert [m.register_no for m in related] == HUB[1:]
    assert all(m.links == (("shareholder", "平台股东有限公司"),) for m in related)


def test_related_managers_name_every_link_as_known_on_d(world: World) -> None:
    with world.engine.connect() as conn:
        found = related_managers(conn, "P0000001", districts=None, as_of=AS_OF)
        placeholder = related_managers(conn, "P0000005", districts=None, as_of=AS_OF)
    related = {m.register_no: m for m in found}
    assert {no: m.links for no, m in related.items()} == {
        "P0000002": (("legal_rep", "甲 一"),),
        "P0000003": (("executive", "高管乙"),),
        "P0000007": (("shareholder", "母公司甲"),),
        "P0000008": (("office_address", N1_ADDRESS),),
    }
    assert related["P0000002"].incident == "fraud" and related["P0000002"].tier == "red"
    assert related["P0000003"].incident is None  # known only after D
    zh, en = related["P0000002"].sentences()[0]
    assert zh == "与 P0000002投资管理有限公司 共用法定代表人（甲 一），该机构已出险"
    assert en.startswith("shares its legal representative (甲 一) with P0000002")
    assert placeholder == []  # 无 links nobody


def test_placeholders_and_normalisation() -> None:
    assert person_key("无") is None and person_key("无实际控制人") is None
    assert person_key(" 暂无 ") is None and person_key("N/A") is None and person_key("甲") is None
    assert person_key("甲 一") == person_key("甲一") == "甲一"
    assert person_key("ＡＢＣ资本") == person_key("abc资本")
    assert address_key("上海市（黄浦区）中山东一路1号") == address_key("上海市黄浦区中山东一路1号")
    assert address_key("-") is None and address_key(None) is None


def test_the_features_equal_on_a_partition(world: World, catalog: Catalog) -> None:
    full = _features(world, catalog, AS_OF)
    part = compute_features(world.engine, AS_OF, catalog=catalog, partition="securities")
    cols = list(NETWORK)
    assert len(part) < len(full)
    pd.testing.assert_frame_equal(part[cols], full.loc[part.index, cols])


def test_the_ties_behind_the_network_features_as_known_on_d(world: World) -> None:
    with world.engine.connect() as conn:
        ties = network_ties(conn, AS_OF, ["P0000001", "P0000002", "P0000005"])
        later = network_ties(conn, LATER, ["P0000001"])
    # the counts of EXPECTED, with who and what: N2's incident (their legal representative),
    # N7's red run (a shareholder); N3's incident and N2's red run of D are not known yet
    assert ties == {
        "P0000001": {
            "linked_incident_managers": [("P0000002", "legal_rep")],
            "linked_red_managers": [("P0000007", "shareholder")],
        }
    }
    assert later["P0000001"]["linked_incident_managers"] == [
        ("P0000002", "legal_rep"),
        ("P0000003", "executive"),
    ]


def test_a_network_reason_names_the_kinds_shared_not_the_other_manager() -> None:
    reasons: list[dict[str, object]] = [
        {"kind": "rule", "code": "linked_incident_managers", "zh": "规则", "en": "rule"},
        {
            "kind": "feature",
            "code": "linked_incident_managers",
            "zh": "与 2 家已出险机构共用人员",
            "en": "shares people with 2 manager(s) that had an incident",
            "value": 2.0,
        },
        {"kind": "feature", "code": "staff", "zh": "员工", "en": "staff"},
    ]
    ties = {
        "linked_incident_managers": [
            ("P2", "shareholder"),
            ("P3", "legal_rep"),
            ("P3", "shareholder"),
        ]
    }
    out = with_ties(reasons, ties, PERSON_LABELS)
    assert out[0] == reasons[0] and out[2] == reasons[2]  # a rule, another feature: unchanged
    assert out[1]["zh"] == "与 2 家已出险机构共用人员(共用法定代表人、股东)"
    assert out[1]["en"] == (
        "shares people with 2 manager(s) that had an incident (shared legal representative, "
        "shareholder)"
    )
    assert out[1]["linked"] == ["P2", "P3"] and out[1]["value"] == 2.0
    assert with_ties(reasons, {}, PERSON_LABELS) == reasons
