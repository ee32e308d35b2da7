"""The landing data contract (shared/spec/data-contract.md) as data.

Every source is a tuple of :class:`Field` declarations. A field has its contract name
(AMAC camelCase), its Chinese label, a canonical kind, and the snake_case column it is stored
under. Readers map any header (camelCase or Chinese, with or without a unit suffix) to a field;
the parser coerces values by kind; the store uses the column names.

Money fields are in 万元 (10,000 CNY). A header whose unit says 元 is converted on ingest.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "code", "date", "money", "float", "int", "bool", "enum", "period"]
Source = Literal["managers", "funds", "reports", "events", "incidents"]

SOURCES: tuple[Source, ...] = ("managers", "funds", "reports", "events", "incidents")


@dataclass(frozen=True)
class Field:
    """One contract field.

    ``enum`` holds the canonical values; ``aliases`` maps accepted spellings (e.g. 月报) to
    them. ``required`` fields that are empty send the row to quarantine.
    """

    name: str
    zh: str
    kind: Kind
    required: bool = False
    enum: tuple[str, ...] = ()
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def column(self) -> str:
        """snake_case column name in the store (registerNo -> register_no)."""
        return camel_to_snake(self.name)


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


MANAGER_TYPES = (
    "私募证券投资基金管理人",
    "私募股权、创业投资基金管理人",
    "私募资产配置类管理人",
    "其他私募投资基金管理人",
)
FUND_TYPES = ("私募证券投资基金", "私募股权投资基金", "创业投资基金", "其他私募投资基金")
WORKING_STATES = ("正在运作", "正常清算", "提前清算", "延期清算", "投顾协议已终止", "非正常清算")
MEMBER_TYPES = ("普通会员", "观察会员", "联席会员", "非会员")
REPORT_TYPES = ("monthly", "quarterly", "annual")
AUDIT_OPINIONS = ("标准无保留意见", "保留意见", "否定意见", "无法表示意见")
EVENT_TYPES = (
    "litigation",
    "enforcement",
    "complaint",
    "business_abnormal",
    "negative_news",
    "executive_change",
    "controller_change",
    "address_change",
)
EVENT_TYPE_ZH = {
    "litigation": "涉诉",
    "enforcement": "行政处罚",
    "complaint": "投诉",
    "business_abnormal": "经营异常",
    "negative_news": "负面舆情",
    "executive_change": "高管变更",
    "controller_change": "实际控制人变更",
    "address_change": "地址变更",
}
INCIDENT_TYPES = ("lost_contact", "run_off", "illegal_fundraising", "enforcement", "deregistered")
INCIDENT_TYPE_ZH = {
    "lost_contact": "失联",
    "run_off": "兑付危机",
    "illegal_fundraising": "非法集资",
    "enforcement": "行政处罚",
    "deregistered": "注销",
}
REPORT_TYPE_ZH = {"monthly": "月报", "quarterly": "季报", "annual": "年报"}


def _zh_aliases(mapping: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((zh, en) for en, zh in mapping.items())


_SNAPSHOT = Field("snapshotDate", "数据日期", "date")

MANAGER_FIELDS: tuple[Field, ...] = (
    Field("registerNo", "登记编号", "code", required=True),
    Field("managerName", "私募基金管理人名称", "str", required=True),
    Field("uscc", "统一社会信用代码", "code"),
    Field("artificialPersonName", "法定代表人/执行事务合伙人(委派代表)姓名", "str"),
    Field("primaryInvestType", "机构类型", "enum", enum=MANAGER_TYPES),
    Field("orgForm", "组织形式", "enum", enum=("公司", "合伙企业")),
    Field("establishDate", "成立时间", "date"),
    Field("registerDate", "登记时间", "date"),
    Field("registerAddress", "注册地址", "str"),
    Field("registerProvince", "注册省份", "str"),
    Field("registerCity", "注册城市", "str"),
    Field("officeAddress", "办公地址", "str"),
    Field("officeProvince", "办公省份", "str"),
    Field("officeCity", "办公城市", "str"),
    Field("subscribedCapital", "注册资本", "money"),
    Field("paidInCapital", "实缴资本", "money"),
    Field("employeeCount", "员工人数", "int"),
    Field("qualifiedEmployeeCount", "取得基金从业资格人数", "int"),
    Field("fundCount", "在管基金数量", "int"),
    Field("fundScale", "管理规模", "money"),
    Field("memberType", "会员类型", "enum", enum=MEMBER_TYPES),
    Field("hasSpecialTips", "是否有提示信息", "bool"),
    Field("specialTips", "提示信息", "str"),
    Field("hasCreditTips", "机构诚信信息", "bool"),
    Field("inBlacklist", "是否列入黑名单", "bool"),
    Field("lastUpdateDate", "信息最后更新时间", "date"),
    _SNAPSHOT,
)

FUND_FIELDS: tuple[Field, ...] = (
    Field("fundNo", "基金编号", "code", required=True),
    Field("fundName", "基金名称", "str", required=True),
    Field("registerNo", "管理人登记编号", "code"),
    Field("managerName", "私募基金管理人名称", "str"),
    Field("fundType", "基金类型", "enum", enum=FUND_TYPES),
    Field("moneyType", "币种", "str"),
    Field("establishDate", "成立时间", "date"),
    Field("putOnRecordDate", "备案时间", "date"),
    Field("mandatorName", "托管人名称", "str"),
    Field("workingState", "运作状态", "enum", enum=WORKING_STATES),
    Field("lastQuarterUpdate", "是否按规定季度更新", "bool"),
    _SNAPSHOT,
)

REPORT_FIELDS: tuple[Field, ...] = (
    Field("fundNo", "基金编号", "code", required=True),
    Field("registerNo", "管理人登记编号", "code"),
    Field(
        "reportType",
        "报告类型",
        "enum",
        required=True,
        enum=REPORT_TYPES,
        aliases=_zh_aliases(REPORT_TYPE_ZH),
    ),
    Field("period", "报告期", "period", required=True),
    Field("dueDate", "应报日期", "date"),
    Field("submittedDate", "实际报送日期", "date"),
    Field("nav", "单位净值", "float"),
    Field("aum", "基金资产净值", "money"),
    Field("investorCount", "投资者数量", "int"),
    Field("subscriptions", "申购金额", "money"),
    Field("redemptions", "赎回金额", "money"),
    Field("leverageRatio", "杠杆率", "float"),
    Field("auditOpinion", "审计意见", "enum", enum=AUDIT_OPINIONS),
)

EVENT_FIELDS: tuple[Field, ...] = (
    Field("registerNo", "登记编号", "code"),
    Field("uscc", "统一社会信用代码", "code"),
    Field("eventDate", "事件日期", "date", required=True),
    Field("reportedDate", "获知日期", "date"),
    Field(
        "eventType",
        "事件类型",
        "enum",
        required=True,
        enum=EVENT_TYPES,
        aliases=_zh_aliases(EVENT_TYPE_ZH),
    ),
    Field("severity", "严重程度", "int"),
    Field("source", "来源", "str"),
    Field("description", "描述", "str"),
)

INCIDENT_FIELDS: tuple[Field, ...] = (
    Field("registerNo", "登记编号", "code", required=True),
    Field("incidentDate", "事件日期", "date", required=True),
    Field(
        "incidentType",
        "事件类型",
        "enum",
        enum=INCIDENT_TYPES,
        aliases=_zh_aliases(INCIDENT_TYPE_ZH),
    ),
)

FIELDS: dict[Source, tuple[Field, ...]] = {
    "managers": MANAGER_FIELDS,
    "funds": FUND_FIELDS,
    "reports": REPORT_FIELDS,
    "events": EVENT_FIELDS,
    "incidents": INCIDENT_FIELDS,
}

#: Which field makes a record known (contract, "Point in time"). Reports not yet submitted and
#: snapshots without a snapshotDate fall back to the file's date (see ingest).
KNOWN_FROM: dict[Source, str] = {
    "managers": "snapshotDate",
    "funds": "snapshotDate",
    "reports": "submittedDate",
    "events": "reportedDate",
    "incidents": "incidentDate",
}

#: The key of one record within one file.
KEYS: dict[Source, tuple[str, ...]] = {
    "managers": ("registerNo", "snapshotDate"),
    "funds": ("fundNo", "snapshotDate"),
    "reports": ("fundNo", "reportType", "period"),
    "events": ("registerNo", "uscc", "eventDate", "eventType"),
    "incidents": ("registerNo", "incidentDate", "incidentType"),
}

REGISTER_NO_RE = re.compile(r"^P\d{7}$")
FUND_NO_RE = re.compile(r"^S[0-9A-Z]{4,7}$")

# GB 32100-2015: the unified social credit code alphabet (no I, O, S, V, Z).
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(first17: str) -> str:
    """Check character of a unified social credit code from its first 17 characters.

    Weights are 3^(i-1) mod 31 for i = 1..17; the check value is 31 - (sum mod 31), with 31
    mapped to 0.
    """
    total = sum(USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def is_valid_uscc(code: str) -> bool:
    """True when ``code`` is 18 characters of the GB 32100 alphabet with a correct check char."""
    if len(code) != 18 or any(c not in USCC_ALPHABET for c in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


def normalize_header(header: str) -> tuple[str, float]:
    """Normalize a column header; return (lookup key, money factor to 万元).

    ``"注册资本(元)"`` -> ("注册资本", 0.0001); ``"实缴资本（万元）"`` -> ("实缴资本", 1.0);
    ``"paidInCapital"`` -> ("paidincapital", 1.0). Lookup keys are case-folded.
    """
    text = unicodedata.normalize("NFKC", str(header)).strip().lstrip("\ufeff").strip()
    factor = 1.0
    match = re.search(r"[(\[](万元|元|万|rmb|cny|yuan|10k cny)[)\]]\s*$", text, re.IGNORECASE)
    if match:
        unit = match.group(1).lower()
        if unit in ("元", "rmb", "cny", "yuan"):
            factor = 1e-4
        text = text[: match.start()].strip()
    return text.casefold(), factor


def header_lookup(source: Source) -> dict[str, Field]:
    """Map every accepted header key (camelCase name, Chinese label, snake_case) to its field."""
    table: dict[str, Field] = {}
    for f in FIELDS[source]:
        for spelling in (f.name, f.zh, f.column):
            table[normalize_header(spelling)[0]] = f
    # Common variants seen in exports.
    if source == "reports":
        table[normalize_header("杠杆率(总资产/净资产)")[0]] = _field(source, "leverageRatio")
    if source == "events":
        table[normalize_header("登记编号/统一社会信用代码")[0]] = _field(source, "registerNo")
    return table


def _field(source: Source, name: str) -> Field:
    return next(f for f in FIELDS[source] if f.name == name)


def field_names(source: Source) -> list[str]:
    return [f.name for f in FIELDS[source]]


def columns(source: Source) -> list[str]:
    return [f.column for f in FIELDS[source]]
