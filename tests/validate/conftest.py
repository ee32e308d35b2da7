"""Clean typed frames per source, as ingest hands them to validate_frame."""

from __future__ import annotations

import pandas as pd
import pytest

from watchtower.contract import FIELDS, KNOWN_FROM, Source, camel_to_snake


def typed(source: Source, records: list[dict[str, object]]) -> pd.DataFrame:
    """A frame with every contract column of ``source`` in ingest's dtypes (1-based index)."""
    index = pd.RangeIndex(1, len(records) + 1)
    data: dict[str, pd.Series] = {}
    for f in FIELDS[source]:
        values = [r.get(f.column) for r in records]
        if f.kind == "date":
            s = pd.Series(pd.to_datetime(values), index=index).astype("datetime64[s]")
        elif f.kind in ("money", "float", "ratio"):
            s = pd.Series(values, index=index, dtype="float64")
        elif f.kind == "int":
            s = pd.Series(values, index=index, dtype="Int64")
        elif f.kind == "bool":
            s = pd.Series(values, index=index, dtype="boolean")
        elif f.kind == "json":
            s = pd.Series(values, index=index, dtype=object)
        else:
            s = pd.Series(values, index=index, dtype="string")
        data[f.column] = s
    frame = pd.DataFrame(data, index=index)
    known = camel_to_snake(KNOWN_FROM[source])
    frame["known_from"] = frame[known]
    frame["file_date"] = pd.Timestamp("2024-12-31").as_unit("s")
    return frame


def manager(i: int, **over: object) -> dict[str, object]:
    return {
        "register_no": f"P{1000000 + i}",
        "manager_name": f"第{i}号资产管理有限公司",
        "uscc": "91350100M000100Y43",
        "artificial_person_name": "张三",
        "primary_invest_type": "私募证券投资基金管理人",
        "org_form": "公司",
        "establish_date": "2015-03-01",
        "register_date": "2016-05-01",
        "register_address": "福建省福州市鼓楼区",
        "subscribed_capital": 1000.0,
        "paid_in_capital": 500.0,
        "employee_count": 12,
        "qualified_employee_count": 8,
        "fund_count": 5,
        "fund_scale": 30000.0,
        "member_type": "普通会员",
        "snapshot_date": "2024-06-30",
    } | over


def fund(i: int, **over: object) -> dict[str, object]:
    return {
        "fund_no": f"SX{1000 + i}",
        "fund_name": f"稳健{i}号私募证券投资基金",
        "register_no": f"P{1000000 + i % 5}",
        "manager_name": "第0号资产管理有限公司",
        "fund_type": "私募证券投资基金",
        "establish_date": "2019-01-10",
        "put_on_record_date": "2019-02-01",
        "working_state": "正在运作",
        "snapshot_date": "2024-06-30",
    } | over


def report(i: int, **over: object) -> dict[str, object]:
    return {
        "fund_no": f"SX{1000 + i}",
        "register_no": f"P{1000000 + i % 5}",
        "report_type": "monthly",
        "period": "2024-05",
        "due_date": "2024-06-15",
        "submitted_date": "2024-06-10",
        "nav": 1.05,
        "aum": 5000.0,
        "investor_count": 40,
        "subscriptions": 10.0,
        "redemptions": 5.0,
        "leverage_ratio": 1.2,
    } | over


def event(i: int, **over: object) -> dict[str, object]:
    return {
        "register_no": f"P{1000000 + i}",
        "event_date": "2024-03-01",
        "reported_date": "2024-03-02",
        "event_type": "litigation",
        "severity": 3,
        "source": "裁判文书网",
        "description": "<b>任何文本</b> =SUM(A1) 😀",
    } | over


def incident(i: int, **over: object) -> dict[str, object]:
    return {
        "register_no": f"P{1000000 + i}",
        "incident_date": "2024-04-01",
        "incident_type": "lost_contact",
    } | over


def manager_detail(i: int, **over: object) -> dict[str, object]:
    return {
        "register_no": f"P{1000000 + i}",
        "manager_name": f"第{i}号资产管理有限公司",
        "subscribed_capital": 1000.0,
        "paid_in_capital": 500.0,
        "paid_in_ratio": 0.5,
        "employee_count": 12,
        "qualified_employee_count": 8,
        "scale_range": "0-5亿元",
        "scale_low": 0.0,
        "scale_high": 50000.0,
        "member_type": "非会员机构",
        "register_date": "2016-05-01",
        "snapshot_date": "2024-06-30",
    } | over


def fund_detail(i: int, **over: object) -> dict[str, object]:
    return {
        "fund_no": f"SX{1000 + i}",
        "fund_name": f"稳健{i}号私募证券投资基金",
        "fund_type": "私募证券投资基金",
        "working_state": "正在运作",
        "quarterly_due": 4,
        "quarterly_on_time": 3,
        "quarterly_missing": 1,
        "snapshot_date": "2024-06-30",
    } | over


def cancellation(i: int, **over: object) -> dict[str, object]:
    return {
        "org_name": f"第{i}号资产管理有限公司",
        "org_code": "34235622-6",
        "cancel_date": "2024-05-01",
        "status": "300",
        "status_name": "协会注销",
        "cancel_reason": "经营异常 根据《关于加强经营异常机构自律管理相关事项的通知》注销",
        "snapshot_date": "2024-06-30",
    } | over


MAKERS = {
    "managers": manager,
    "manager_details": manager_detail,
    "fund_details": fund_detail,
    "cancellations": cancellation,
    "funds": fund,
    "reports": report,
    "events": event,
    "incidents": incident,
}


def clean(source: Source, n: int = 20) -> pd.DataFrame:
    return typed(source, [MAKERS[source](i) for i in range(n)])


def with_row(source: Source, n: int, row: int, **over: object) -> pd.DataFrame:
    """A clean frame of ``n`` rows whose 1-based ``row`` carries ``over``."""
    return typed(source, [MAKERS[source](i, **(over if i == row - 1 else {})) for i in range(n)])


KNOWN = frozenset(f"P{1000000 + i}" for i in range(50))


@pytest.fixture
def known() -> frozenset[str]:
    return KNOWN
