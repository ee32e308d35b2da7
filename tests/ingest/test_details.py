"""AMAC detail pages and crawler detail JSON -> flat canonical text records."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from watchtower.ingest.aliases import load_aliases
from watchtower.ingest.details import (
    DETAIL_FIELDS,
    DETAIL_LABELS,
    MAX_PAGE_BYTES,
    expand_composites,
    flatten_crawler_detail,
    parse_detail_html,
)
from watchtower.ingest.parse import parse_frame
from watchtower.ingest.shapes import read_parts

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REAL_FUND_PAGE = FIXTURES / "real_amac" / "fund_detail_page_raw.html"
CRAWLER_DETAILS = FIXTURES / "real_amac" / "2026-05-07" / "crawler_parsed_manager_details.json"
CRAWLER_CANCELLED = (
    FIXTURES / "real_amac" / "2026-05-07" / "crawler_parsed_cancellation_details.json"
)
MANAGER_PAGE = FIXTURES / "details" / "manager_detail_page_reconstructed.html"
LEGACY_MANAGER_PAGE = FIXTURES / "details" / "manager_detail_page_legacy_layout.html"


def _page(rows: str, head: str = "") -> str:
    return f"<html><head>{head}</head><body><table>{rows}</table></body></html>"


def _row(label: str, value: str) -> str:
    return f'<tr><td class="title">{label}</td><td>{value}</td></tr>'


FUND_MINIMAL = _row("基金名称:", "某某私募证券投资基金") + _row("基金编号:", "SAB123")


# --------------------------------------------------------------------------- real fund page


@pytest.fixture(scope="module")
def real_fund() -> dict[str, str | None]:
    source, record = parse_detail_html(REAL_FUND_PAGE.read_text(encoding="utf-8"))
    assert source == "fund_details"
    return record


def test_real_fund_page_values(real_fund: dict[str, str | None]) -> None:
    assert real_fund["fundNo"] == "S85784"
    assert real_fund["fundName"] == "宁波同德源余策略壹期创业投资合伙企业（有限合伙）"
    assert real_fund["establishDate"] == "2026-04-17"
    assert real_fund["putOnRecordDate"] == "2026-05-18"
    assert real_fund["filingStage"] == "暂行办法实施后成立的基金"
    assert real_fund["fundType"] == "创业投资基金"
    assert real_fund["registerArea"] == "浙江省宁波市北仑区"
    assert real_fund["moneyType"] == "人民币现钞"
    assert real_fund["managerName"] == "安徽源余私募基金管理有限公司"
    assert real_fund["managerAmacId"] == "2210141456107953"
    assert real_fund["manageType"] == "受托管理"
    assert real_fund["mandatorName"] == "上海浦东发展银行股份有限公司"
    assert real_fund["workingState"] == "正在运作"
    assert real_fund["lastUpdateDate"] == "2026-05-18"
    assert real_fund["investorAccountRate"] == "0.0"
    # the page does not state its own id (only window.location does)
    assert real_fund["amacId"] is None


def test_real_fund_page_disclosure_counts(real_fund: dict[str, str | None]) -> None:
    for prefix in ("monthly", "quarterly", "semiannual", "annual"):
        assert real_fund[f"{prefix}Due"] == "0"
        assert real_fund[f"{prefix}OnTime"] == "0"
        assert real_fund[f"{prefix}Missing"] == "0"
        assert "应披露0条" in (real_fund[f"{prefix}Disclosure"] or "")


def test_real_fund_page_tip_blocks(real_fund: dict[str, str | None]) -> None:
    assert json.loads(real_fund["institutionTips"] or "") == ["注册地与办公地不在同一辖区"]
    assert "注册地与办公地不在同一辖区" in (real_fund["institutionInfo"] or "")
    assert "指私募基金管理人" in (real_fund["institutionInfo"] or "")  # text is kept
    assert real_fund["integrityInfo"] is None  # the block is there but empty
    assert real_fund["integrityTips"] == "[]"
    assert real_fund["specialInfo"] is None
    assert real_fund["specialTips"] == "[]"


def test_record_has_exactly_the_canonical_fields(real_fund: dict[str, str | None]) -> None:
    assert list(real_fund) == list(DETAIL_FIELDS["fund_details"])
    assert all(v is None or isinstance(v, str) for v in real_fund.values())


def test_every_label_maps_to_a_declared_field() -> None:
    for source, labels in DETAIL_LABELS.items():
        assert set(labels.values()) <= set(DETAIL_FIELDS[source]), source
        assert all(not label.endswith((":", "：")) for label in labels)


# --------------------------------------------------------------------------- manager pages


def test_reconstructed_manager_page() -> None:
    source, rec = parse_detail_html(MANAGER_PAGE.read_text(encoding="utf-8"))
    assert source == "manager_details"
    assert list(rec) == list(DETAIL_FIELDS["manager_details"])
    assert rec["registerNo"] == "P1075114"
    assert rec["managerName"] == "上海匠石私募基金管理有限责任公司"
    assert rec["uscc"] == "91310109MA7TEST01X"
    assert rec["registerDate"] == "2026-04-20"
    assert rec["establishDate"] == "2025-09-23"
    assert rec["officeAddress"] == "上海市虹口区飞虹路118号1号楼28楼2801B室"
    assert rec["subscribedCapital"] == "1000"
    assert rec["paidInCapital"] == "1000"
    assert rec["paidInRatio"] == "1.0"
    assert rec["employeeCount"] == "5"  # label in a <div> next to a tooltip div, with colon
    assert rec["qualifiedEmployeeCount"] == "4"
    assert rec["primaryInvestType"] == "私募证券投资基金管理人"
    assert rec["memberType"] == "否"
    assert rec["legalOpinionStatus"] == "办结"
    assert rec["actualController"] == "庞珺"  # label "实际控制人姓名 / 名称" with spaces
    assert rec["scaleRange"] == "0-5亿元"
    assert (rec["scaleLow"], rec["scaleHigh"]) == ("0", "50000")
    assert rec["lastUpdateDate"] == "2026-04-20"
    assert rec["website"] is None
    assert json.loads(rec["executives"] or "") == [
        {"name": "李文泉", "role": "投资负责人", "qualified": "是"},
        {"name": "宋晓雪", "role": "合规风控负责人 信息填报负责人", "qualified": "是"},
        {"name": "庞珺", "role": "法定代表人 总经理 董事", "qualified": "否"},
    ]
    assert json.loads(rec["shareholders"] or "") == [
        {"name": "李文泉", "ratio": "20%"},
        {"name": "庞珺", "ratio": "80%"},
    ]
    assert json.loads(rec["institutionTips"] or "") == ["新登记机构", "尚未备案产品"]
    assert rec["integrityTips"] == "[]"
    assert rec["specialInfo"] == "该机构为新登记私募基金管理人，请投资者审慎判断。"
    # labels inside <script> (head and body) are never read
    assert "P9999999" not in json.dumps(rec) and "P0000000" not in json.dumps(rec)


def _typed(path: Path) -> tuple[str | None, pd.DataFrame]:
    """A file as ingest types it: read by shape, headers mapped through the aliases file."""
    aliases = load_aliases()
    [part] = read_parts(path, path.read_bytes(), hint=None, aliases=aliases)
    assert part.source is not None
    day = dt.date(2026, 5, 7)
    parsed = parse_frame(part.source, part.raw, file_date=day, ingest_date=day, aliases=aliases)
    assert parsed.failures == {}
    return part.source, parsed.frame


def test_reconstructed_manager_page_agrees_with_the_crawler() -> None:
    _, page = _typed(MANAGER_PAGE)
    source, crawled = _typed(CRAWLER_DETAILS)
    assert source == "manager_details"
    row = crawled[crawled["register_no"] == "P1075114"].iloc[0]
    for column in (
        "office_address",
        "subscribed_capital",
        "paid_in_capital",
        "paid_in_ratio",
        "employee_count",
        "qualified_employee_count",
        "scale_range",
        "scale_low",
        "scale_high",
        "actual_controller",
        "shareholders",
    ):
        assert page.iloc[0][column] == row[column], column
    names = [e["name"] for e in page.iloc[0]["executives"]]
    assert names == [e["name"] for e in row["executives"]]


def test_legacy_manager_layout() -> None:
    source, rec = parse_detail_html(LEGACY_MANAGER_PAGE.read_text(encoding="utf-8"))
    assert source == "manager_details"
    assert rec["registerNo"] == "P1075083"
    assert rec["managerName"] == "伍峰私募基金管理（上海）有限公司"
    assert (rec["registerDate"], rec["establishDate"]) == ("2026-01-12", "2025-10-22")
    assert (rec["subscribedCapital"], rec["paidInCapital"]) == ("1000", "1000")
    assert rec["paidInRatio"] == "1.0"
    assert rec["orgNature"] == "内资企业"
    assert rec["employeeCount"] == "6"
    assert rec["memberType"] == "否"  # 当前会员类型 "-" is a placeholder, does not erase it
    assert rec["artificialPersonName"] == "徐志敏"
    assert rec["website"] == "http://www.example.com"
    assert json.loads(rec["integrityTips"] or "") == ["异常机构", "失联机构"]
    assert json.loads(rec["executives"] or "") == [
        {"name": "徐志敏", "role": "法定代表人 执行董事 信息填报负责人", "qualified": "是"},
        {"name": "崔莹莹", "role": "合规风控负责人", "qualified": "是"},
    ]
    assert rec["specialTips"] == "[]"


def test_strong_label_overrides_weak_one() -> None:
    rows = (
        _row("登记编号", "P1000001")
        + _row("组织机构代码", "91310000000000000X")
        + _row("是否为会员", "是")
        + _row("当前会员类型", "普通会员")
    )
    _, rec = parse_detail_html(_page(rows))
    assert rec["memberType"] == "普通会员"


def test_manager_page_id_from_canonical_link() -> None:
    head = '<link rel="canonical" href="https://gs.amac.org.cn/amac-infodisc/res/pof/manager/2510312307106309.html">'
    rows = _row("登记编号", "P1075114") + _row("组织机构代码", "X")
    _, rec = parse_detail_html(_page(rows, head))
    assert rec["amacId"] == "2510312307106309"


# --------------------------------------------------------------------------- crawler JSON


@pytest.fixture(scope="module")
def crawled() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = json.loads(CRAWLER_DETAILS.read_text(encoding="utf-8"))
    return rows


def test_all_crawler_records_flatten_and_expand(crawled: list[dict[str, Any]]) -> None:
    assert len(crawled) == 17
    _, frame = _typed(CRAWLER_DETAILS)
    assert frame["register_no"].tolist() == [r["registerNo"] for r in crawled]
    for raw, (_, rec) in zip(crawled, frame.iterrows(), strict=True):
        detail = raw["parsed_detail"]
        assert rec["amac_id"] and raw["detailUrl"].endswith(f"/{rec['amac_id']}.html")
        assert rec["subscribed_capital"] == float(detail["registeredCapital"].replace(",", ""))
        assert rec["paid_in_capital"] == float(detail["paidInCapital"].replace(",", ""))
        assert rec["paid_in_ratio"] == 1.0  # every one of them is 100%
        assert rec["employee_count"] == int(detail["employeeCount"])
        assert rec["qualified_employee_count"] == int(detail["qualifiedCount"])
        assert rec["scale_range"] == detail["scaleRange"]
        assert pd.notna(rec["scale_low"]) and pd.notna(rec["scale_high"])
        execs = rec["executives"]
        assert [e["name"] for e in execs] == [e["name"] for e in detail["executives"]]
        assert all(set(e) == {"name", "role", "qualified"} for e in execs)
        assert all(e["qualified"] is None for e in execs)  # the crawler's "" is no value
        assert rec["shareholders"] == detail["shareholders"]
        assert isinstance(rec["extra"]["workHistory"], str)  # unknown keys are kept
    capitals = dict(zip(frame["register_no"], frame["subscribed_capital"], strict=True))
    assert capitals["P1075102"] == 1500 and capitals["P1075095"] == 1400
    scales = {
        r: (lo, hi)
        for r, lo, hi in frame[["register_no", "scale_low", "scale_high"]].itertuples(index=False)
    }
    assert scales["P1075083"] == (100000, 200000)
    assert scales["P1075114"] == (0, 50000)


def test_flatten_keeps_chinese_and_prefers_detail_values() -> None:
    rec = flatten_crawler_detail(
        {
            "registerNo": "P1",
            "officeAddress": "list row address",
            "paidInCapital": 0.0,
            "detail": {"officeAddress": "上海市", "paidInCapital": "", "x": [{"a": "中"}]},
        }
    )
    assert rec["officeAddress"] == "上海市"
    assert rec["paidInCapital"] == "0.0"  # an empty detail value does not erase the row's
    assert rec["x"] == '[{"a": "中"}]'


def test_crawler_cancellation_records() -> None:
    source, out = _typed(CRAWLER_CANCELLED)
    assert source == "cancellations"
    assert len(out) and out["org_name"].notna().all() and out["org_code"].notna().all()
    first = out.iloc[0]
    assert first["manager_type"] == "私募证券投资基金管理人"
    assert first["registered_capital"] == 1000
    assert (out.iloc[1]["registered_capital"], out.iloc[1]["paid_in_capital"]) == (10000, 5000)


# --------------------------------------------------------------------------- composite rules


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("0-5亿元", "0", "50000"),
        ("5-10亿元", "50000", "100000"),
        ("10-20亿元", "100000", "200000"),
        ("20-50亿元", "200000", "500000"),
        ("50-100亿元", "500000", "1000000"),
        ("100亿元以上", "1000000", None),
        ("0-5亿", "0", "50000"),
        (" 0 - 5 亿元 ", "0", "50000"),
        ("0.5-1亿元", "5000", "10000"),
        ("5亿元", None, None),
        ("0-5万元", None, None),
        ("大于5亿", None, None),
        ("10-5亿元", None, None),
        ("-", None, None),
    ],
)
def test_scale_range(text: str, low: str | None, high: str | None) -> None:
    rec = expand_composites({"scaleRange": text})
    assert (rec["scaleLow"], rec["scaleHigh"]) == (low, high)


@pytest.mark.parametrize(
    ("text", "due", "on_time", "missing"),
    [
        ("应披露0条，按时披露0条，未披露0条", "0", "0", "0"),
        ("应披露12条，按时披露10条， \n 未披露2条；", "12", "10", "2"),
        ("应披露 3 条,按时披露 3 条,未披露 0 条", "3", "3", "0"),
        ("暂无", None, None, None),
        ("应披露3条", None, None, None),
    ],
)
def test_disclosure_counts(
    text: str, due: str | None, on_time: str | None, missing: str | None
) -> None:
    for prefix in ("monthly", "quarterly", "semiannual", "annual"):
        rec = expand_composites({f"{prefix}Disclosure": text})
        assert (rec[f"{prefix}Due"], rec[f"{prefix}OnTime"], rec[f"{prefix}Missing"]) == (
            due,
            on_time,
            missing,
        )


@pytest.mark.parametrize(
    ("text", "ratio"),
    [
        ("100%", "1.0"),
        ("37.5%", "0.375"),
        ("0.00%", "0.0"),
        ("55.006%", "0.55006"),
        ("100 ％", "1.0"),
        ("1.0", "1.0"),  # already a ratio: expanding twice changes nothing
        ("0.375", "0.375"),
        ("100", None),  # a bare number above 1 is ambiguous: not guessed
        ("约100%", None),
        ("--", None),
    ],
)
def test_ratios(text: str, ratio: str | None) -> None:
    assert expand_composites({"paidInRatio": text})["paidInRatio"] == ratio
    assert expand_composites({"investorAccountRate": text})["investorAccountRate"] == ratio


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,000", "1000"),
        ("10,000.50", "10000.5"),
        ("1000", "1000"),
        (" 2,000 ", "2000"),
        ("500万元", "500"),
        ("一千", None),
        ("暂无", None),
    ],
)
def test_capital(text: str, value: str | None) -> None:
    rec = expand_composites({"subscribedCapital": text, "paidInCapital": text})
    assert rec["subscribedCapital"] == rec["paidInCapital"] == value


@pytest.mark.parametrize("text", ["", " ", "-", "--", "暂无", "无", "9999-12-31"])
def test_placeholders_become_none(text: str) -> None:
    rec = expand_composites({"officeAddress": text, "lastUpdateDate": text})
    assert rec == {"officeAddress": None, "lastUpdateDate": None}


def test_tip_categories_from_text() -> None:
    rec = expand_composites(
        {
            "institutionInfo": "注册地与办公地不在同一辖区：指私募基金管理人的注册地与办公地不在"
            "同一证监会辖区。\n存在逾期未清算基金 指私募基金管理人存在超过到期日3个月"
            "且未提交清算申请的私募基金。",
            "integrityInfo": "异常机构；失联机构",
            "specialInfo": "无",
        }
    )
    assert json.loads(rec["institutionTips"] or "") == [
        "注册地与办公地不在同一辖区",
        "存在逾期未清算基金",
    ]
    assert json.loads(rec["integrityTips"] or "") == ["异常机构", "失联机构"]
    assert rec["specialInfo"] is None and rec["specialTips"] is None
    assert "指私募基金管理人" in (rec["institutionInfo"] or "")  # original kept


def test_expand_is_idempotent_and_keeps_originals(real_fund: dict[str, str | None]) -> None:
    assert expand_composites(real_fund) == real_fund
    crawled = json.loads(CRAWLER_DETAILS.read_text(encoding="utf-8"))
    once = expand_composites(flatten_crawler_detail(crawled[0]))
    assert expand_composites(once) == once
    assert once["scaleRange"] == "0-5亿元"


# --------------------------------------------------------------------------- hostile input


def test_script_content_is_never_read() -> None:
    rows = FUND_MINIMAL + _row("运作状态:", "正在运作<script>document.write('已清算')</script>")
    head = "<script>var x = '<tr><td class=\"title\">基金编号:</td><td>SEVIL1</td></tr>';</script>"
    html = _page(rows, head) + "<script>alert('<td>托管人名称:</td><td>x</td>')</script>"
    source, rec = parse_detail_html(html)
    assert source == "fund_details"
    assert rec["fundNo"] == "SAB123"
    assert rec["workingState"] == "正在运作"
    assert rec["mandatorName"] is None
    assert "alert" not in json.dumps(rec) and "document" not in json.dumps(rec)


def test_self_closing_script_does_not_swallow_the_page() -> None:
    html = _page(FUND_MINIMAL, '<script src="x.js"/>')
    assert parse_detail_html(html)[1]["fundNo"] == "SAB123"


def test_label_with_no_value() -> None:
    rows = FUND_MINIMAL + '<tr><td class="title">托管人名称:</td></tr>' + _row("币种：", "")
    _, rec = parse_detail_html(_page(rows))
    assert rec["mandatorName"] is None
    assert rec["moneyType"] is None


def test_messy_markup_full_width_colons_and_unclosed_cells() -> None:
    rows = (
        "<tr><td class='title'> 基金名称 ： </td><td><span> 某某 <b>基金</b> </span>\n"
        "<tr><td>基金编号：<td>\n  SAB123 \n"
        "<tr><td>基金管理人名称</td><td><a href='../manager/123456789.html'>某 管理人</a>"
    )
    _, rec = parse_detail_html(_page(rows))
    assert rec["fundName"] == "某某 基金"
    assert rec["fundNo"] == "SAB123"
    assert rec["managerName"] == "某 管理人"
    assert rec["managerAmacId"] == "123456789"


def test_label_is_matched_exactly_not_by_substring() -> None:
    rows = FUND_MINIMAL + _row("注册地址:", "不是注册地") + _row("注册地:", "浙江省")
    _, rec = parse_detail_html(_page(rows))
    assert rec["registerArea"] == "浙江省"


def test_oversized_page_is_refused() -> None:
    html = _page(FUND_MINIMAL) + "<!--" + "x" * (6 * 1024 * 1024) + "-->"
    with pytest.raises(ValueError, match="larger than"):
        parse_detail_html(html)
    wide = _page(FUND_MINIMAL) + "中" * (MAX_PAGE_BYTES // 3 + 10)  # few chars, many bytes
    with pytest.raises(ValueError, match="larger than"):
        parse_detail_html(wide)


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body><p>404 Not Found</p></body></html>",
        _page(_row("基金名称:", "only one fund label")),
        _page(_row("成立时间:", "2020-01-01") + _row("机构诚信信息", "")),  # shared labels only
        "<html><body>" + "<div>" * 5000 + "基金编号: S1" + "</div>" * 5000 + "</body></html>",
    ],
)
def test_page_that_is_neither(html: str) -> None:
    with pytest.raises(ValueError, match="not an AMAC manager or fund detail page"):
        parse_detail_html(html)


def test_deep_nesting_is_bounded() -> None:
    deep = "<div>" * 20000 + "</div>" * 20000
    _, rec = parse_detail_html(_page(FUND_MINIMAL) + deep)
    assert rec["fundNo"] == "SAB123"


def test_non_text_input_is_rejected() -> None:
    with pytest.raises(TypeError):
        parse_detail_html(b"<html></html>")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        flatten_crawler_detail(["not", "a", "dict"])  # type: ignore[arg-type]
