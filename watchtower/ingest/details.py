"""Parsers for AMAC manager and fund DETAIL pages, and for crawlers' parses of them.

The list APIs (``/api/pof/manager/query``, ``/api/pof/fund``) leave out what only the detail
pages show: paid-in ratio, staff counts, scale range, executives, shareholders, integrity and
tip blocks, disclosure counts. This module turns a detail page (or a crawler's JSON parse of
one) into ONE flat record of canonical camelCase keys with TEXT values, so the contract's
typed parser stays the single place where values are coerced and rejected.

Why text and not typed values: the ingest gate reports every unreadable value as a row
failure; a second, private coercion here would hide failures from it. So this module only
normalizes presentation (thousands separators, percent signs, placeholders, composite texts)
and never guesses: anything it cannot read exactly becomes ``None``.

Two page layouts exist and both are read (see ``tests/fixtures/details/`` for the sources):
the current one (``<td class="title">label</td><td>value</td>`` rows in ``div.section``
blocks titled by ``.common-tit span``) and the pre-2021 one (``td.td-title`` /
``td.td-content``). Labels are matched exactly after normalization (whitespace, trailing
colon, full-width parentheses), never by substring, so "注册地" cannot capture "注册地址".

Only the standard library's ``html.parser`` is used; script/style content is never kept,
and the work is bounded (page size, nesting depth).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any, Literal

from watchtower.contract import DISCLOSURE_PERIODS, FIELDS, Source

__all__ = [
    "DETAIL_FIELDS",
    "DETAIL_LABELS",
    "DETAIL_SOURCES",
    "MAX_PAGE_BYTES",
    "PLACEHOLDER_TEXTS",
    "disclosure_counts",
    "expand_composites",
    "flatten_crawler_detail",
    "parse_detail_html",
    "scale_bounds",
    "tip_categories",
]

DETAIL_SOURCES: tuple[Source, ...] = ("manager_details", "fund_details")

# A real detail page is ~25-60 kB; 5 MB leaves room for huge fund lists and bounds the work.
MAX_PAGE_BYTES = 5 * 1024 * 1024
# Deeper nesting than this is not a real page; deeper start tags are ignored (text is kept).
_MAX_DEPTH = 200

# Texts the site (and crawlers) use for "no value". Compared after whitespace stripping.
PLACEHOLDER_TEXTS = frozenset(
    {"", "-", "--", "—", "——", "－", "暂无", "无", "9999-12-31", "9999-01-01", "null", "None"}
)

# Canonical record of each source (the contract's fields but the snapshot date, which is the
# fetch's): every key is present in parse_detail_html's output.
DETAIL_FIELDS: dict[str, tuple[str, ...]] = {
    source: tuple(f.name for f in FIELDS[source] if f.name != "snapshotDate")
    for source in DETAIL_SOURCES
}

# {page label as printed, without its colon: canonical field}: how a detail page's table is
# read (several labels per field where page generations differ). A page's labels are part of
# its layout, so they live with its parser; exports of the same values in other files are
# read through the contract's labels and expectations/aliases.yaml.
DETAIL_LABELS: dict[str, dict[str, str]] = {
    "manager_details": {
        "基金管理人全称(中文)": "managerName",
        "私募基金管理人名称": "managerName",
        "登记编号": "registerNo",
        "组织机构代码": "uscc",
        "统一社会信用代码": "uscc",
        "登记时间": "registerDate",
        "成立时间": "establishDate",
        "注册地址": "registerAddress",
        "办公地址": "officeAddress",
        "注册资本(万元)(人民币)": "subscribedCapital",
        "注册资本(万元)人民币": "subscribedCapital",
        "实缴资本(万元)(人民币)": "paidInCapital",
        "实缴资本(万元)人民币": "paidInCapital",
        "注册资本实缴比例": "paidInRatio",
        "企业性质": "orgNature",
        "机构类型": "primaryInvestType",
        "员工人数": "employeeCount",
        "全职员工人数": "employeeCount",
        "取得基金从业人数": "qualifiedEmployeeCount",
        "机构网址": "website",
        "当前会员类型": "memberType",
        "是否为会员": "memberType",
        "法律意见书状态": "legalOpinionStatus",
        "法定代表人/执行事务合伙人(委派代表)姓名": "artificialPersonName",
        "实际控制人姓名 / 名称": "actualController",
        "实际控制人姓名/名称": "actualController",
        "高管情况": "executives",
        "出资人": "shareholders",
        "管理规模区间": "scaleRange",
        "机构诚信信息": "integrityInfo",
        "机构提示信息": "institutionInfo",
        "特别提示信息": "specialInfo",
        "基金业协会特别提示（针对私募基金管理人）": "specialInfo",
        "机构信息最后更新时间": "lastUpdateDate",
    },
    "fund_details": {
        "基金名称": "fundName",
        "基金编号": "fundNo",
        "成立时间": "establishDate",
        "备案时间": "putOnRecordDate",
        "基金备案阶段": "filingStage",
        "基金类型": "fundType",
        "注册地": "registerArea",
        "币种": "moneyType",
        "基金管理人名称": "managerName",
        "基金管理人": "managerName",
        "管理类型": "manageType",
        "托管人名称": "mandatorName",
        "运作状态": "workingState",
        "基金信息最后更新时间": "lastUpdateDate",
        "月报": "monthlyDisclosure",
        "当月月报": "monthlyDisclosure",
        "季报": "quarterlyDisclosure",
        "半年报": "semiannualDisclosure",
        "年报": "annualDisclosure",
        "投资者查询账号开立率": "investorAccountRate",
        "机构诚信信息": "integrityInfo",
        "机构提示信息": "institutionInfo",
        "基金业协会特别提示（针对基金）": "specialInfo",
        "基金协会特别提示": "specialInfo",
        "特别提示": "specialInfo",
    },
}

# Labels that only fill a field when a stronger label did not (是否为会员 says "是"/"否";
# 当前会员类型 names the membership and wins).
_WEAK_LABELS = frozenset({"是否为会员"})

# Tip blocks: the text field -> its JSON list of category keys.
_TIP_FIELDS = {
    "integrityInfo": "integrityTips",
    "institutionInfo": "institutionTips",
    "specialInfo": "specialTips",
}
_DISCLOSURE_FIELDS = {f"{period}Disclosure": period for period in DISCLOSURE_PERIODS}

# Executive blocks of the current layout: label rows inside 高管信息 (职务 / 姓名 /
# 是否有基金从业资格 / 资格获取方式 / 工作履历); old layout: a 高管情况 table with headers.
_EXEC_KEYS = {
    "姓名": "name",
    "高管姓名": "name",
    "职务": "role",
    "是否有基金从业资格": "qualified",
    "是否具有基金从业资格": "qualified",
    "是否有从业资格": "qualified",
}

# Crawler JSON keys (refrain97/shaanxi-capital-market-daily) -> canonical keys.

_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)
_SKIP = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg"})
_CELLS = frozenset({"td", "th"})
_WS = re.compile(r"[\s\u00a0\u3000]+")
_HSPACE = re.compile(r"[^\S\n]+|[\u00a0\u3000]+")
_ID_LINK = re.compile(r"(?:^|/)(manager|fund)/([0-9A-Za-z_-]{4,40})\.s?html?(?:$|[?#])")


# --------------------------------------------------------------------------- tiny DOM


@dataclass(eq=False)
class _Node:
    tag: str
    attrs: dict[str, str]
    parent: _Node | None = None
    children: list[_Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def iter(self) -> Iterator[_Node]:
        """Every descendant element in document order (iterative: no recursion limit)."""
        stack: list[_Node] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(c for c in reversed(node.children) if isinstance(c, _Node))

    def cells(self) -> list[_Node]:
        """Direct td/th children of a tr (tolerating a stray wrapper element)."""
        return [c for c in self.children if isinstance(c, _Node) and c.tag in _CELLS]

    def text(self) -> str:
        """All text below, whitespace collapsed; <br> and block edges become spaces."""
        parts: list[str] = []
        stack: list[_Node | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            else:
                parts.append(" ")
                stack.append(" ")
                stack.extend(reversed(item.children))
        return _WS.sub(" ", "".join(parts)).strip()

    def has_table(self) -> bool:
        return any(n.tag == "table" for n in self.iter() if n is not self)


class _TreeBuilder(HTMLParser):
    """Builds a _Node tree; drops comments and the content of script/style-like elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self.stack: list[_Node] = [self.root]
        self.skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.skip_depth:
            if tag in _SKIP:
                self.skip_depth += 1
            return
        if tag in _SKIP:
            self.skip_depth = 1
            return
        if tag == "br":
            self.stack[-1].children.append(" ")
            return
        if tag in _VOID:
            if tag == "link" or tag == "meta":  # kept: a canonical link may carry the page id
                self.stack[-1].children.append(
                    _Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
                )
            return
        self._close_implied(tag)
        if len(self.stack) > _MAX_DEPTH:
            return
        node = _Node(tag, {k: v or "" for k, v in attrs}, self.stack[-1])
        self.stack[-1].children.append(node)
        self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            return  # <script/> has no content, and must not start skipping the rest
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def _close_implied(self, tag: str) -> None:
        """HTML's optional end tags for table parts: a new cell/row closes the open one."""
        if tag in _CELLS:
            stops, closes = frozenset({"tr", "table"}), _CELLS
        elif tag == "tr":
            stops, closes = frozenset({"table"}), frozenset({"tr"})
        else:
            return
        for i in range(len(self.stack) - 1, 0, -1):
            name = self.stack[i].tag
            if name in stops:
                return
            if name in closes:
                del self.stack[i:]
                return

    def handle_endtag(self, tag: str) -> None:
        if self.skip_depth:
            if tag in _SKIP:
                self.skip_depth -= 1
            return
        for i in range(len(self.stack) - 1, 0, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return
            if self.stack[i].tag == "table" and tag != "table":
                return  # a stray end tag never closes across a table boundary

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.stack[-1].children.append(data)


def _build(html: str) -> _Node:
    if not isinstance(html, str):
        raise TypeError(f"detail page must be str (decoded text), got {type(html).__name__}")
    if len(html) > MAX_PAGE_BYTES or len(html.encode("utf-8", "replace")) > MAX_PAGE_BYTES:
        raise ValueError(
            f"detail page is larger than {MAX_PAGE_BYTES} bytes: refusing to parse it "
            "(a real AMAC detail page is well under 100 kB)"
        )
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


# --------------------------------------------------------------------------- labels


def _norm_label(text: str) -> str:
    """Comparable form of a label: no whitespace, half-width parentheses, no final colon."""
    text = _WS.sub("", text).replace("（", "(").replace("）", ")")
    return text.rstrip(":：")


_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    source: {_norm_label(label): (label, fieldname) for label, fieldname in labels.items()}
    for source, labels in DETAIL_LABELS.items()
}
_EXEC_NORM = {_norm_label(k): v for k, v in _EXEC_KEYS.items()}
_ALL_LABELS = set(_LABELS["manager_details"]) | set(_LABELS["fund_details"]) | set(_EXEC_NORM)
_EXCLUSIVE = {
    "manager_details": set(_LABELS["manager_details"]) - set(_LABELS["fund_details"]),
    "fund_details": set(_LABELS["fund_details"]) - set(_LABELS["manager_details"]),
}


def _label_of(cell: _Node) -> str | None:
    """The normalized known label a td carries, or None (th and table-holding cells never do).

    A label cell may wrap its text in a div next to an (empty, script-filled) tooltip div, as
    全职员工人数 and 投资者查询账号开立率 do, so each direct child is tried as well.
    """
    if cell.tag != "td" or cell.has_table():
        return None
    whole = _norm_label(cell.text())
    if whole in _ALL_LABELS:
        return whole
    for child in cell.children:
        if isinstance(child, _Node):
            part = _norm_label(child.text())
            if part in _ALL_LABELS:
                return part
    return None


@dataclass
class _Pair:
    label: str  # normalized
    value: _Node | None
    rest: list[_Node]  # cells after the value in the same row


def _pairs(root: _Node) -> list[_Pair]:
    """Every (label cell, next cell) of every table row, in document order."""
    out: list[_Pair] = []
    for row in root.iter():
        if row.tag != "tr":
            continue
        cells = row.cells()
        i = 0
        while i < len(cells):
            label = _label_of(cells[i])
            if label is None:
                i += 1
                continue
            value = cells[i + 1] if i + 1 < len(cells) else None
            out.append(_Pair(label, value, cells[i + 2 :]))
            i += 2
    return out


# --------------------------------------------------------------------------- blocks


def _clean(text: str | None) -> str | None:
    """Whitespace collapsed within lines (line breaks separate tip items), placeholders -> None."""
    if text is None:
        return None
    lines = (_HSPACE.sub(" ", line).strip() for line in text.splitlines())
    text = "\n".join(line for line in lines if line)
    return None if text in PLACEHOLDER_TEXTS else text


def _tip_items(value: _Node | None, rest: list[_Node]) -> list[tuple[str, str]]:
    """(category, explanation) items of an integrity/tip block.

    Current layout: a nested table, one row per item, category in the first cell. Older
    layout: one span per category. Otherwise a category cell followed by its explanation.
    """
    if value is None:
        return []
    items: list[tuple[str, str]] = []
    rows = [n for n in value.iter() if n.tag == "tr"]
    if rows:
        for row in rows:
            cells = row.cells()
            if not cells or any(c.has_table() for c in cells):
                continue
            category = cells[0].text()
            explanation = " ".join(c.text() for c in cells[1:]).strip()
            if _clean(category):
                items.append((category, explanation))
        return items
    spans = [n for n in value.iter() if n.tag == "span" and n is not value]
    if spans and not rest:
        return [(s.text(), "") for s in spans if _clean(s.text())]
    text = value.text()
    if _clean(text):
        items.append((text, " ".join(c.text() for c in rest).strip()))
    return items


def _tip_info(items: list[tuple[str, str]]) -> str | None:
    lines = [f"{c}：{e}" if e else c for c, e in items]
    return _clean("\n".join(lines))


def _tip_json(items: list[tuple[str, str]]) -> str:
    cats: list[str] = []
    for category, _ in items:
        for cat in tip_categories(category):
            if cat not in cats:
                cats.append(cat)
    return json.dumps(cats, ensure_ascii=False)


def _header_table(table: _Node) -> tuple[list[str], list[list[str]]]:
    """(th headers, td rows) of a list table."""
    headers: list[str] = []
    rows: list[list[str]] = []
    for row in table.iter():
        if row.tag != "tr":
            continue
        cells = row.cells()
        if cells and all(c.tag == "th" for c in cells):
            headers = [_norm_label(c.text()) for c in cells]
        elif cells:
            rows.append([c.text() for c in cells])
    return headers, rows


def _executives_from_table(value: _Node) -> list[dict[str, str | None]]:
    headers, rows = _header_table(value)
    keys = [_EXEC_NORM.get(h) for h in headers]
    out: list[dict[str, str | None]] = []
    for row in rows:
        person: dict[str, str | None] = {"name": None, "role": None, "qualified": None}
        for key, text in zip(keys, row, strict=False):
            if key:
                person[key] = _clean(text)
        if person["name"] or person["role"]:
            out.append(person)
    return out


def _executives_from_pairs(pairs: list[_Pair]) -> list[dict[str, str | None]]:
    """Current layout: label rows; a key seen again starts the next executive."""
    out: list[dict[str, str | None]] = []
    current: dict[str, str | None] = {}
    for pair in pairs:
        key = _EXEC_NORM.get(pair.label)
        if key is None:
            continue
        if key in current:
            out.append(current)
            current = {}
        current[key] = _clean(pair.value.text()) if pair.value is not None else None
    if current:
        out.append(current)
    return [
        {"name": p.get("name"), "role": p.get("role"), "qualified": p.get("qualified")}
        for p in out
        if p.get("name") or p.get("role")
    ]


def _shareholders(value: _Node) -> list[dict[str, str | None]]:
    """出资人 table rows: (序号, name, ratio); header rows and non-numbered rows skipped."""
    _, rows = _header_table(value)
    out: list[dict[str, str | None]] = []
    for row in rows:
        if len(row) >= 3 and row[0].strip().isdigit():
            out.append({"name": _clean(row[1]), "ratio": _clean(row[2])})
    return out


def _link_id(node: _Node | None, kind: str) -> str | None:
    if node is None:
        return None
    for n in node.iter():
        match = _ID_LINK.search(n.attrs.get("href", "")) if n.tag == "a" else None
        if match and match.group(1) == kind:
            return match.group(2)
    return None


def _own_id(root: _Node, kind: str) -> str | None:
    """The page's own AMAC id, when the page says it (canonical link / og:url); else None."""
    for n in root.iter():
        if n.tag == "link" and "canonical" in n.attrs.get("rel", "").split():
            url = n.attrs.get("href", "")
        elif n.tag == "meta" and n.attrs.get("property") == "og:url":
            url = n.attrs.get("content", "")
        else:
            continue
        match = _ID_LINK.search(url)
        if match and match.group(1) == kind:
            return match.group(2)
    return None


def _detect(pairs: list[_Pair]) -> Literal["manager_details", "fund_details"]:
    found = {p.label for p in pairs}
    hits = {source: len(found & labels) for source, labels in _EXCLUSIVE.items()}
    manager, fund = hits["manager_details"], hits["fund_details"]
    if max(manager, fund) < 2 or manager == fund:
        raise ValueError(
            "not an AMAC manager or fund detail page: found "
            f"{manager} manager-only and {fund} fund-only labels "
            f"(need at least 2 of one kind, e.g. 登记编号/组织机构代码 or 基金编号/备案时间)"
        )
    return "manager_details" if manager > fund else "fund_details"


def parse_detail_html(
    html: str,
) -> tuple[Literal["manager_details", "fund_details"], dict[str, str | None]]:
    """Read one AMAC detail page into (source, flat record of canonical text values).

    The source is "manager_details" or "fund_details", told by which page-specific labels the
    page carries; a page that is neither raises ValueError, as does a page over 5 MB. Every
    canonical field of the source is a key (None when the page lacks it or shows a
    placeholder); composite texts are already split (see expand_composites).
    """
    root = _build(html)
    pairs = _pairs(root)
    source = _detect(pairs)
    labels = _LABELS[source]
    record: dict[str, str | None] = dict.fromkeys(DETAIL_FIELDS[source])
    weak: set[str] = set()
    tips: dict[str, list[tuple[str, str]]] = {}
    executives: list[dict[str, str | None]] | None = None
    shareholders: list[dict[str, str | None]] | None = None

    for pair in pairs:
        if pair.label not in labels:
            continue
        printed, name = labels[pair.label]
        if name in _TIP_FIELDS:
            tips.setdefault(name, []).extend(_tip_items(pair.value, pair.rest))
        elif name == "executives":
            if pair.value is not None:
                executives = (executives or []) + _executives_from_table(pair.value)
        elif name == "shareholders":
            if pair.value is not None:
                shareholders = (shareholders or []) + _shareholders(pair.value)
        else:
            _take_value(record, weak, pair, printed, name, source)

    for info, items in tips.items():
        record[info] = _tip_info(items)
        record[_TIP_FIELDS[info]] = _tip_json(items)
    if source == "manager_details":
        _take_people(record, pairs, executives, shareholders)
    record["amacId"] = _own_id(root, "manager" if source == "manager_details" else "fund")
    return source, expand_composites(record)


def _take_value(
    record: dict[str, str | None],
    weak: set[str],
    pair: _Pair,
    printed: str,
    name: str,
    source: str,
) -> None:
    """Record one labelled text value: the first strong value wins; weak labels and
    placeholders never override one (``weak``: the fields holding a weak label's value)."""
    value = _clean(pair.value.text()) if pair.value is not None else None
    if name == "website" and value is None and pair.value is not None:
        value = _first_href(pair.value)
    if name == "managerName" and source == "fund_details" and record["managerAmacId"] is None:
        record["managerAmacId"] = _link_id(pair.value, "manager")
    is_weak = printed in _WEAK_LABELS
    if record.get(name) is not None and (value is None or is_weak or name not in weak):
        return
    record[name] = value
    if is_weak:
        weak.add(name)
    else:
        weak.discard(name)


def _take_people(
    record: dict[str, str | None],
    pairs: list[_Pair],
    executives: list[dict[str, str | None]] | None,
    shareholders: list[dict[str, str | None]] | None,
) -> None:
    """A manager page's executives (a table, else label/value pairs) and shareholders."""
    if executives is None:
        executives = _executives_from_pairs(pairs) or None
    if executives is not None:
        record["executives"] = json.dumps(executives, ensure_ascii=False)
    if shareholders is not None:
        record["shareholders"] = json.dumps(shareholders, ensure_ascii=False)


def _first_href(node: _Node) -> str | None:
    for n in node.iter():
        href = n.attrs.get("href", "") if n.tag == "a" else ""
        if href.startswith(("http://", "https://")):
            return href
    return None


# --------------------------------------------------------------------------- crawler JSON


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _crawler_executives(value: Any) -> Any:
    """Crawler executives {name, role, qualification} -> the canonical {name, role, qualified}."""
    if not isinstance(value, list):
        return value
    out: list[Any] = []
    for item in value:
        if isinstance(item, Mapping):
            qualified = item.get("qualified", item.get("qualification"))
            out.append(
                {
                    "name": _clean(_as_text(item.get("name"))),
                    "role": _clean(_as_text(item.get("role"))),
                    "qualified": _clean(_as_text(qualified)),
                }
            )
        else:
            out.append(item)
    return out


def flatten_crawler_detail(record: Mapping[str, Any]) -> dict[str, str | None]:
    """Merge a crawler's nested detail parse into one flat text record.

    Crawlers (e.g. refrain97/shaanxi-capital-market-daily) store the list row at the top and
    their detail-page parse under ``parsed_detail`` or ``detail``. The detail parse is the
    fresher, fuller source, so its non-empty values win over the list row's. Keys stay as the
    crawler wrote them: the contract's labels and ``expectations/aliases.yaml`` map them to
    fields (registeredCapital -> subscribedCapital, ...), as for any other file. Lists/dicts
    become JSON text (ensure_ascii=False) and executives become {name, role, qualified}. The
    AMAC id is taken from detailUrl when no id is given. Composite texts are left to the
    parser (``expand_composites`` for one record, the typed parse for a file).
    """
    if not isinstance(record, Mapping):
        raise TypeError(f"crawler record must be a mapping, got {type(record).__name__}")
    out: dict[str, str | None] = {}
    for key, value in _merge_nested(record).items():
        name = key
        if name == "executives":
            value = _crawler_executives(value)
        text = _as_text(value)
        if name in out and out[name] is not None and text is None:
            continue
        out[name] = text
    if not out.get("amacId") and (linked := _manager_id_from_url(out)) is not None:
        out["amacId"] = linked
    return out


def _merge_nested(record: Mapping[str, Any]) -> dict[str, Any]:
    """The list row with the nested detail parse's non-empty values over it."""
    merged: dict[str, Any] = {
        k: v for k, v in record.items() if k not in ("parsed_detail", "detail")
    }
    for nested_key in ("detail", "parsed_detail"):
        nested = record.get(nested_key)
        if isinstance(nested, Mapping):
            for key, value in nested.items():
                if value not in (None, "", [], {}) or key not in merged:
                    merged[key] = value
    return merged


def _manager_id_from_url(record: Mapping[str, str | None]) -> str | None:
    """The manager id in the record's detail page link (detailUrl, else url), if any."""
    for url_key in ("detailUrl", "url"):
        match = _ID_LINK.search(record.get(url_key) or "")
        if match and match.group(1) == "manager":
            return match.group(2)
    return None


# --------------------------------------------------------------------------- composites

_NUM = r"(\d+(?:\.\d+)?)"
_SCALE_RANGE = re.compile(rf"^{_NUM}\s*[-~～－—至到]\s*{_NUM}\s*亿(?:元)?(?:人民币)?$")
_SCALE_ABOVE = re.compile(rf"^{_NUM}\s*亿(?:元)?(?:人民币)?\s*以上$")
_DISCLOSURE = re.compile(
    r"应披露\s*(\d+)\s*条\s*[，,;；]?\s*按时披露\s*(\d+)\s*条\s*[，,;；]?\s*未披露\s*(\d+)\s*条"
)
_PERCENT = re.compile(rf"^{_NUM}\s*[%％]$")
_PLAIN_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")
_YI_IN_WAN = Decimal(10000)  # 1亿 = 10000万; the pages state capital in 万元


def _fmt(value: Decimal, ratio: bool = False) -> str:
    """Exact decimal text without exponent; ratios keep a decimal point ("1.0", "0.0")."""
    value = value.normalize()
    if value == value.to_integral_value():
        whole = str(value.quantize(Decimal(1)))
        return f"{whole}.0" if ratio else whole
    return format(value, "f")


def scale_bounds(text: str | None) -> tuple[str | None, str | None]:
    """ "0-5亿元" -> ("0", "50000") in 万元; "100亿元以上" -> ("1000000", None); else both None."""
    if text is None:
        return None, None
    compact = _WS.sub("", text)
    match = _SCALE_RANGE.match(compact)
    if match:
        low, high = Decimal(match.group(1)), Decimal(match.group(2))
        if low > high:
            return None, None
        return _fmt(low * _YI_IN_WAN), _fmt(high * _YI_IN_WAN)
    match = _SCALE_ABOVE.match(compact)
    if match:
        return _fmt(Decimal(match.group(1)) * _YI_IN_WAN), None
    return None, None


def disclosure_counts(text: str | None) -> tuple[str | None, str | None, str | None]:
    """ "应披露4条，按时披露3条，未披露1条" -> ("4", "3", "1"); anything else: all None."""
    match = _DISCLOSURE.search(text or "")
    if match is None:
        return None, None, None
    due, on_time, missing = match.groups()
    return str(int(due)), str(int(on_time)), str(int(missing))


def _ratio(text: str | None) -> str | None:
    """ "100%" -> "1.0", "37.5%" -> "0.375"; an already-converted ratio in [0, 1] is kept."""
    if text is None:
        return None
    compact = _WS.sub("", text)
    match = _PERCENT.match(compact)
    try:
        if match:
            return _fmt(Decimal(match.group(1)) / 100, ratio=True)
        if _PLAIN_NUMBER.match(compact) and Decimal(compact) <= 1:
            return _fmt(Decimal(compact), ratio=True)
    except InvalidOperation:
        return None
    return None


def _capital(text: str | None) -> str | None:
    """ "1,000" -> "1000" (万元, as printed); anything not a plain number -> None."""
    if text is None:
        return None
    compact = _WS.sub("", text).replace(",", "").replace("，", "")
    compact = compact.removesuffix("万元").removesuffix("万")
    if not _PLAIN_NUMBER.match(compact):
        return None
    return _fmt(Decimal(compact))


_EXPLANATION = re.compile(r"\s*(?:指(?:私募|该|基金|管理人|机构|其|存在)|详见|具体请见).*$", re.S)
_ITEM_SPLIT = re.compile(r"[\n;；]+")


def tip_categories(text: str) -> list[str]:
    """Category keys of a tip text: split on item boundaries, drop explanatory sentences."""
    out: list[str] = []
    for item in _ITEM_SPLIT.split(text):
        category = re.split(r"[:：]", item, maxsplit=1)[0]
        category = _EXPLANATION.sub("", category)
        category = _WS.sub("", category).strip("。.，,、")
        if category and category not in PLACEHOLDER_TEXTS and category not in out:
            out.append(category)
    return out


def expand_composites(record: Mapping[str, str | None]) -> dict[str, str | None]:
    """Split composite texts into their own canonical keys and normalize presentation.

    Keeps the original composite (scaleRange, the *Disclosure texts, the *Info texts) and
    adds: scaleLow/scaleHigh (万元), {monthly,quarterly,semiannual,annual}{Due,OnTime,
    Missing}, integrityTips/institutionTips/specialTips (JSON lists of category keys, only
    computed when not already given). Normalized in place: paidInRatio and
    investorAccountRate (percent -> fraction), subscribedCapital/paidInCapital (no
    thousands separators), placeholders -> None. Unreadable texts become None, never a guess.
    Idempotent: expanding an expanded record changes nothing.
    """
    out: dict[str, str | None] = {}
    for key, value in record.items():
        out[key] = _clean(value) if isinstance(value, str) else value

    if "scaleRange" in out:
        low, high = scale_bounds(out["scaleRange"])
        out["scaleLow"] = low if out.get("scaleLow") is None else out["scaleLow"]
        out["scaleHigh"] = high if out.get("scaleHigh") is None else out["scaleHigh"]
    for key in ("paidInRatio", "investorAccountRate"):
        if key in out:
            out[key] = _ratio(out[key])
    for key in ("subscribedCapital", "paidInCapital"):
        if key in out:
            out[key] = _capital(out[key])
    _expand_disclosures(out)
    for info_key, tips_key in _TIP_FIELDS.items():
        if info_key not in out:
            continue
        info = out[info_key]
        if out.get(tips_key) is None:
            out[tips_key] = json.dumps(tip_categories(info), ensure_ascii=False) if info else None
    return out


def _expand_disclosures(out: dict[str, str | None]) -> None:
    """Each *Disclosure text's counts into {prefix}Due/OnTime/Missing, unless already given."""
    for text_key, prefix in _DISCLOSURE_FIELDS.items():
        if text_key not in out:
            continue
        due, on_time, missing = disclosure_counts(out[text_key])
        for suffix, value in (("Due", due), ("OnTime", on_time), ("Missing", missing)):
            key = prefix + suffix
            if out.get(key) is None:
                out[key] = value
