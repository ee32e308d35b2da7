"""A small store with ten daily runs of hand-made scores across four jurisdictions, warned
day by day, for the digest tests."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tests.hostile import FORMULA_NAME, SCRIPT_NAME
from tests.store_rows import loaded_batch
from tests.warn.scores import NOW, insert_scores, reason, score_row
from watchtower import pipeline
from watchtower.clock import FixedClock
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.schema import manager_snapshots
from watchtower.warn import transition

AS_OF = dt.date(2024, 6, 28)  # a Friday
DAYS = [AS_OF - dt.timedelta(days=9 - i) for i in range(10)]
CLOCK = FixedClock(NOW)
EVIL_NAME = SCRIPT_NAME

# register_no -> (province, city, scores over DAYS, rule hits on the last day, legal rep)
MANAGERS: dict[str, tuple[str, str, Sequence[float], list[str], str | None]] = {
    "P3000001": ("广东", "广州", [50, 52, 55, 58, 60, 62, 66, 72, 80, 92], [], "张三丰"),
    "P3000002": ("广东", "广州", [20] * 10, ["blacklist"], "欧阳娜娜"),
    "P3000003": ("广东省", "广州市", [75] * 10, [], "李四"),
    "P3000004": ("广东", "广州", [58] * 10, [], None),
    "P3000005": ("广东", "广州", [10] * 9 + [57], [], "John Smith"),
    "P3000006": ("广东", "深圳", [10] * 9 + [78], [], None),
    "P3000007": ("上海", "上海", [30] * 9 + [95], ["lost_contact"], None),
    "P3000008": ("北京", "北京", [10] * 9 + [45], [], None),
}


def _reasons(reg: str, hits: list[str], rep: str | None) -> list[dict[str, Any]]:
    out = [reason(h, f"规则命中:{h}", f"rule hit: {h}") for h in hits]
    if rep:
        out.append(
            reason(
                "rep_enforcement",
                f"法定代表人{rep}涉及被执行案件",
                f"legal representative {rep} is a judgment debtor",
            )
        )
    if reg == "P3000005":
        out.append(reason("formula", '=HYPERLINK("http://evil","点击")', "=1+1", kind="feature"))
    out.append(
        reason("paid_in_ratio", "实缴资本比例偏低(12%)", "low paid-in ratio (12%)", kind="feature")
    )
    return out


def build_world(settings: Settings) -> sa.Engine:
    """Store with the managers above scored and warned on each of DAYS; P3000004 closed as a
    false positive on the last day."""
    engine = open_store(settings.db_url)
    with engine.begin() as c:
        key = [
            loaded_batch(
                c,
                source="managers",
                at=NOW,
                name="m.json",
                path="/m.json",
                content_hash="x",
                rows=1,
            )
        ]
        batch_id = key[0]
        for i, (reg, (prov, city, _, _, rep)) in enumerate(MANAGERS.items()):
            c.execute(
                manager_snapshots.insert().values(
                    batch_id=batch_id,
                    row_number=i + 1,
                    known_from=DAYS[0],
                    register_no=reg,
                    manager_name="x",
                    artificial_person_name=rep,
                    office_province=prov,
                    office_city=city,
                    register_province=prov,
                    register_city=city,
                )
            )
    for d_i, d in enumerate(DAYS):
        rows = []
        for reg, (prov, city, scores, hits, rep) in MANAGERS.items():
            last = d_i == len(DAYS) - 1
            h = hits if last or reg == "P3000002" else []
            rows.append(
                score_row(
                    reg,
                    scores[d_i],
                    as_of=d,
                    province=prov,
                    city=city,
                    rule_hits=h,
                    name={"P3000005": EVIL_NAME, "P3000004": FORMULA_NAME}.get(reg),
                    reasons=_reasons(reg, h, rep),
                )
            )
        insert_scores(engine, rows)
        pipeline.warn(settings, d, clock=CLOCK)
    with engine.begin() as c:
        transition(
            c,
            "P3000004",
            "closed",
            by="周科长",
            note="已核实无异常",
            as_of=AS_OF,
            now=NOW,
            resolution="false_positive",
        )
    return engine
