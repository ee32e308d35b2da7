"""What the manager page needs beyond the console world: a second list snapshot (the legal
representative and the address change), detail pages (controller, executives), funds, an
external event and the day's features, added to a copy of the console store.

Links of P3000001 on the day of the second snapshot (DAYS[5]):

- legal representative 王五: P3000002 (广东, named with HTML) and P3000007 (上海);
- actual controller: P3000003 (广东); executive 李文泉: P3000005 (广东);
- registered address: P3000008 (北京, as its office address).

Before DAYS[5] P3000001's representative is 张三丰, whom nobody else has, and nothing else
is known to be shared.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from tests.digest.world import DAYS, MANAGERS
from tests.hostile import SCRIPT_NAME
from tests.warn.scores import NOW
from watchtower.store.features import feature_snapshots
from watchtower.store.schema import (
    events,
    fund_details,
    fund_snapshots,
    manager_details,
    manager_snapshots,
)

CHANGED = DAYS[5]
ADDRESS = "广州市天河区珠江新城1号"
CONTROLLER = "深圳控股集团有限公司"
EXECUTIVE = "李文泉"
NEW_REP = "王五"
#: the day's paid-in ratios (the feature the reasons name), and the managers' types
PAID_IN = {
    "P3000001": 0.12,
    "P3000002": 0.5,
    "P3000003": 0.65,
    "P3000004": 0.8,
    "P3000005": 1.0,
    "P3000006": 0.3,
    "P3000007": 0.9,
    "P3000008": 0.7,
}
SECURITIES = "私募证券投资基金管理人"
EQUITY = "私募股权、创业投资基金管理人"
TYPES = {r: EQUITY if r in ("P3000004", "P3000006", "P3000008") else SECURITIES for r in PAID_IN}
#: what each fund's list row and detail page say (the list gives no type for S0001)
FUNDS = (
    ("S0001", "甲号证券投资基金", None, "私募证券投资基金", "正在运作", dt.date(2020, 1, 2)),
    ("S0002", "乙号股权投资基金", "私募股权投资基金", None, "提前清算", dt.date(2021, 3, 4)),
)

_row = 100


def _rows(**values: Any) -> dict[str, Any]:
    global _row
    _row += 1
    return {"batch_id": 1, "row_number": _row, **values}


def _snapshot(reg: str, **changed: Any) -> dict[str, Any]:
    prov, city, _, _, rep = MANAGERS[reg]
    base = {
        "known_from": CHANGED,
        "register_no": reg,
        "manager_name": "x",
        "artificial_person_name": rep,
        "office_province": prov,
        "office_city": city,
        "register_province": prov,
        "register_city": city,
        "register_address": None,
        "office_address": None,
    }
    return _rows(**{**base, **changed})


def _details(reg: str, **values: Any) -> dict[str, Any]:
    base = {"known_from": CHANGED, "register_no": reg, "actual_controller": None}
    return _rows(**{**base, "executives": None, **values})


def add_manager_world(engine: sa.Engine) -> None:
    """Add the rows described above to the console store of ``engine``."""
    with engine.begin() as c:
        c.execute(
            manager_snapshots.insert(),
            [
                _snapshot("P3000001", artificial_person_name=NEW_REP, register_address=ADDRESS),
                _snapshot("P3000002", artificial_person_name=NEW_REP, manager_name=SCRIPT_NAME),
                _snapshot("P3000007", artificial_person_name=NEW_REP),
                _snapshot("P3000008", office_address=ADDRESS),
            ],
        )
        c.execute(
            manager_details.insert(),
            [
                _details(
                    "P3000001",
                    actual_controller=CONTROLLER,
                    executives=[{"name": EXECUTIVE, "role": "投资负责人"}],
                ),
                _details("P3000003", actual_controller=CONTROLLER),
                _details("P3000005", executives=[{"name": EXECUTIVE, "role": "风控负责人"}]),
                # a longer name holding the executive's is not the executive
                _details("P3000004", executives=[{"name": EXECUTIVE + "二", "role": "合规负责人"}]),
            ],
        )
        for no, name, list_type, detail_type, state, filed in FUNDS:
            c.execute(
                fund_snapshots.insert().values(
                    **_rows(
                        known_from=DAYS[2],
                        fund_no=no,
                        fund_name=name,
                        register_no="P3000001",
                        fund_type=list_type,
                        working_state=state,
                        put_on_record_date=filed,
                        link_method="register_no",
                    )
                )
            )
            if detail_type:
                c.execute(
                    fund_details.insert().values(
                        **_rows(known_from=DAYS[3], fund_no=no, fund_type=detail_type)
                    )
                )
        c.execute(
            events.insert().values(
                **_rows(
                    known_from=DAYS[7],
                    register_no="P3000001",
                    event_date=DAYS[7],
                    event_type="litigation",
                    source="court",
                    description=SCRIPT_NAME,
                )
            )
        )
        c.execute(
            feature_snapshots.insert(),
            [
                {
                    "as_of": DAYS[-1],
                    "register_no": reg,
                    "feature_set_version": "test",
                    "manager_name": "x",
                    "manager_type": TYPES[reg],
                    "province": MANAGERS[reg][0],
                    "city": MANAGERS[reg][1],
                    "values": {"paid_in_ratio": value},
                    "created_at": NOW,
                }
                for reg, value in PAID_IN.items()
            ],
        )
