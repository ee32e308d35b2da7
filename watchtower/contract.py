"""The landing data contract (docs/data-contract.md) as data.

Every source is a tuple of :class:`Field` declarations. A field has its contract name
(AMAC camelCase as the public API spells it), its Chinese label, a canonical kind, and the
snake_case column it is stored under. Readers map any header to a field: the name, the label
and the column always, plus the spellings declared in ``expectations/aliases.yaml`` (a crawler's
snake_case, a detail page's label, another export's header), which a user extends without code.
The parser coerces values by kind; the store uses the column names.

Money fields are in 万元 (10,000 CNY). A header whose unit says 元 is converted on ingest.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

Kind = Literal[
    "str", "code", "date", "money", "float", "int", "bool", "enum", "period", "ratio", "json"
]
Source = Literal[
    "managers",
    "manager_details",
    "funds",
    "fund_details",
    "cancellations",
    "reports",
    "events",
    "incidents",
]

#: Every source, in the order ingestion applies them (the order of :data:`Source`): managers
#: first (funds link to them and the known-manager check refers to them), the supervisor-side
#: feeds last.
SOURCES: tuple[Source, ...] = get_args(Source)
#: The sources AMAC publishes (public disclosure); the others are the supervisor's own feeds.
PUBLIC_SOURCES: tuple[Source, ...] = (
    "managers",
    "manager_details",
    "funds",
    "fund_details",
    "cancellations",
)


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
#: Slug of each manager type (primaryInvestType): the partitions the feature and scoring steps
#: are mapped over, and the peer groups of the model when large enough (smaller ones pooled).
PARTITIONS: dict[str, str] = dict(
    zip(MANAGER_TYPES, ("securities", "pe_vc", "asset_allocation", "other"), strict=True)
)
#: The partition of a manager whose type is missing or not one of :data:`MANAGER_TYPES`.
UNKNOWN_PARTITION = "unknown"
#: Every partition slug, the unknown one last.
PARTITION_SLUGS: tuple[str, ...] = (*PARTITIONS.values(), UNKNOWN_PARTITION)

#: Metadata columns of a feature frame (and of a stored feature snapshot) before the feature
#: values: who the manager is and where (office location, else registration).
META_COLUMNS: tuple[str, ...] = ("manager_name", "manager_type", "province", "city")
FUND_TYPES = ("私募证券投资基金", "私募股权投资基金", "创业投资基金", "其他私募投资基金")
WORKING_STATES = ("正在运作", "正常清算", "提前清算", "延期清算", "投顾协议已终止", "非正常清算")
#: As the public API spells them (非会员机构), and the older spelling (非会员) of earlier exports.
MEMBER_TYPES = ("普通会员", "观察会员", "联席会员", "特别会员", "非会员机构", "非会员")
#: ``orgForm`` as the public API spells it; 公司 / 合伙企业 are the older exports' words.
ORG_FORMS = (
    "有限责任公司",
    "有限合伙企业",
    "股份有限公司",
    "普通合伙企业",
    "其他",
    "公司",
    "合伙企业",
)
#: Working states a fund enters when it is wound up (a fund_liquidation change event).
LIQUIDATION_STATES = frozenset({"提前清算", "非正常清算", "正常清算", "延期清算", "投顾协议已终止"})
#: Fund ``managerType``: how the manager runs the fund.
FUND_MANAGE_TYPES = ("受托管理", "自我管理", "顾问管理")
REPORT_TYPES = ("monthly", "quarterly", "annual")
AUDIT_OPINIONS = ("标准无保留意见", "保留意见", "否定意见", "无法表示意见")
#: Change events derived by comparing consecutive snapshots (source ``snapshot_diff``).
SNAPSHOT_EVENT_TYPES = (
    "address_change",
    "jurisdiction_change",
    "legal_rep_change",
    "name_change",
    "member_type_change",
    "fund_count_drop",
    "special_tips_added",
    "special_tips_cleared",
    "credit_tips_added",
    "credit_tips_cleared",
    "fund_liquidation",
    "left_list",
)
EVENT_TYPES = (
    "litigation",
    "enforcement",
    "complaint",
    "business_abnormal",
    "negative_news",
    "executive_change",
    "controller_change",
    *SNAPSHOT_EVENT_TYPES,
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
    "jurisdiction_change": "辖区变更",
    "legal_rep_change": "法定代表人变更",
    "name_change": "管理人名称变更",
    "member_type_change": "会员类型变更",
    "fund_count_drop": "在管基金数量减少",
    "special_tips_added": "新增特别提示信息",
    "special_tips_cleared": "特别提示信息解除",
    "credit_tips_added": "新增诚信提示信息",
    "credit_tips_cleared": "诚信提示信息解除",
    "fund_liquidation": "基金进入清算",
    "left_list": "移出公示名单",
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
_AMAC_ID = Field("amacId", "协会内部编号", "code")

MANAGER_FIELDS: tuple[Field, ...] = (
    Field("registerNo", "登记编号", "code", required=True),
    Field("managerName", "私募基金管理人名称", "str", required=True),
    _AMAC_ID,
    Field("url", "公示页面", "str"),
    Field("uscc", "统一社会信用代码", "code"),
    Field("artificialPersonName", "法定代表人/执行事务合伙人(委派代表)姓名", "str"),
    Field("primaryInvestType", "机构类型", "enum", enum=MANAGER_TYPES),
    Field("orgForm", "组织形式", "enum", enum=ORG_FORMS),
    Field("establishDate", "成立时间", "date"),
    Field("registerDate", "登记时间", "date"),
    Field("registerAddress", "注册地址", "str"),
    Field("registerProvince", "注册省份", "str"),
    Field("registerCity", "注册城市", "str"),
    Field("regAdrAgg", "注册地辖区", "str"),
    Field("regCoordinate", "注册地坐标", "str"),
    Field("officeAddress", "办公地址", "str"),
    Field("officeProvince", "办公省份", "str"),
    Field("officeCity", "办公城市", "str"),
    Field("officeAdrAgg", "办公地辖区", "str"),
    Field("officeCoordinate", "办公地坐标", "str"),
    Field("subscribedCapital", "注册资本", "money"),
    Field("paidInCapital", "实缴资本", "money"),
    Field("employeeCount", "员工人数", "int"),
    Field("qualifiedEmployeeCount", "取得基金从业资格人数", "int"),
    Field("fundCount", "在管基金数量", "int"),
    Field("managerHasProduct", "是否有在管产品", "bool"),
    Field("fundScale", "管理规模", "money"),
    Field("memberType", "会员类型", "enum", enum=MEMBER_TYPES),
    Field("hasSpecialTips", "是否有提示信息", "bool"),
    Field("specialTips", "提示信息", "str"),
    Field("hasCreditTips", "机构诚信信息", "bool"),
    Field("inBlacklist", "是否列入黑名单", "bool"),
    Field("lastUpdateDate", "信息最后更新时间", "date"),
    _SNAPSHOT,
)

#: A manager's detail page (res/pof/manager/<id>.html): what the list rows do not carry.
MANAGER_DETAIL_FIELDS: tuple[Field, ...] = (
    Field("registerNo", "登记编号", "code", required=True),
    Field("managerName", "基金管理人全称(中文)", "str"),
    _AMAC_ID,
    Field("uscc", "组织机构代码", "code"),
    Field("registerDate", "登记时间", "date"),
    Field("establishDate", "成立时间", "date"),
    Field("registerAddress", "注册地址", "str"),
    Field("officeAddress", "办公地址", "str"),
    Field("subscribedCapital", "注册资本(万元)(人民币)", "money"),
    Field("paidInCapital", "实缴资本(万元)(人民币)", "money"),
    Field("paidInRatio", "注册资本实缴比例", "ratio"),
    Field("employeeCount", "员工人数", "int"),
    Field("qualifiedEmployeeCount", "取得基金从业资格人数", "int"),
    Field("orgNature", "企业性质", "str"),
    Field("primaryInvestType", "机构类型", "enum", enum=MANAGER_TYPES),
    Field("memberType", "当前会员类型", "enum", enum=MEMBER_TYPES),
    Field("legalOpinionStatus", "法律意见书状态", "str"),
    Field("artificialPersonName", "法定代表人/执行事务合伙人(委派代表)姓名", "str"),
    Field("actualController", "实际控制人姓名/名称", "str"),
    Field("executives", "高管情况", "json"),
    Field("shareholders", "出资人情况", "json"),
    Field("scaleRange", "管理规模区间", "str"),
    Field("scaleLow", "管理规模下限", "money"),
    Field("scaleHigh", "管理规模上限", "money"),
    Field("integrityInfo", "机构诚信信息", "str"),
    Field("integrityTips", "机构诚信信息类别", "json"),
    Field("institutionInfo", "机构提示信息", "str"),
    Field("institutionTips", "机构提示信息类别", "json"),
    Field("specialInfo", "特别提示信息", "str"),
    Field("specialTips", "特别提示信息类别", "json"),
    Field("website", "机构网址", "str"),
    Field("lastUpdateDate", "机构信息最后更新时间", "date"),
    _SNAPSHOT,
)

FUND_FIELDS: tuple[Field, ...] = (
    Field("fundNo", "基金编号", "code"),
    Field("fundName", "基金名称", "str", required=True),
    _AMAC_ID,
    Field("url", "公示页面", "str"),
    Field("registerNo", "管理人登记编号", "code"),
    Field("managerName", "私募基金管理人名称", "str"),
    Field("managerAmacId", "管理人协会内部编号", "code"),
    Field("managerUrl", "管理人公示页面", "str"),
    Field("managersInfo", "管理人信息", "json"),
    Field("managerType", "管理类型", "enum", enum=FUND_MANAGE_TYPES),
    Field("isDeputeManage", "是否托管", "str"),
    Field("fundType", "基金类型", "enum", enum=FUND_TYPES),
    Field("moneyType", "币种", "str"),
    Field("establishDate", "成立时间", "date"),
    Field("putOnRecordDate", "备案时间", "date"),
    Field("mandatorName", "托管人名称", "str"),
    Field("workingState", "运作状态", "enum", enum=WORKING_STATES),
    Field("lastQuarterUpdate", "是否按规定季度更新", "bool"),
    _SNAPSHOT,
)

#: The periodic disclosures a fund page counts, and what it counts of each (contract names; the
#: columns are ``monthly_due``, ``monthly_on_time``, ...).
DISCLOSURE_PERIODS: dict[str, str] = {
    "monthly": "月报",
    "quarterly": "季报",
    "semiannual": "半年报",
    "annual": "年报",
}
DISCLOSURE_COUNTS: dict[str, str] = {"Due": "应披露", "OnTime": "按时披露", "Missing": "未披露"}

#: A fund's detail page (res/pof/fund/<id>.html), with its disclosure counts.
FUND_DETAIL_FIELDS: tuple[Field, ...] = (
    Field("fundNo", "基金编号", "code", required=True),
    Field("fundName", "基金名称", "str"),
    _AMAC_ID,
    Field("managerAmacId", "管理人协会内部编号", "code"),
    Field("managerName", "基金管理人名称", "str"),
    Field("fundType", "基金类型", "enum", enum=FUND_TYPES),
    Field("filingStage", "基金备案阶段", "str"),
    Field("registerArea", "注册地", "str"),
    Field("moneyType", "币种", "str"),
    Field("manageType", "管理类型", "enum", enum=FUND_MANAGE_TYPES),
    Field("mandatorName", "托管人名称", "str"),
    Field("workingState", "运作状态", "enum", enum=WORKING_STATES),
    Field("establishDate", "成立时间", "date"),
    Field("putOnRecordDate", "备案时间", "date"),
    Field("lastUpdateDate", "基金信息最后更新时间", "date"),
    *(
        field
        for period, zh in DISCLOSURE_PERIODS.items()
        for field in (
            # the page's text "应披露N条，按时披露N条，未披露N条", and its three counts
            Field(f"{period}Disclosure", zh, "str"),
            *(
                Field(f"{period}{what}", f"{zh}{what_zh}", "int")
                for what, what_zh in DISCLOSURE_COUNTS.items()
            ),
        )
    ),
    Field("investorAccountRate", "投资者查询账号开立率", "ratio"),
    Field("integrityInfo", "机构诚信信息", "str"),
    Field("integrityTips", "机构诚信信息类别", "json"),
    Field("institutionInfo", "机构提示信息", "str"),
    Field("institutionTips", "机构提示信息类别", "json"),
    Field("specialInfo", "基金业协会特别提示（针对基金）", "str"),
    Field("specialTips", "特别提示信息类别", "json"),
    _SNAPSHOT,
)

#: Deregistrations (api/cancelled/manager): no registerNo; a USCC or an old organisation code.
CANCELLATION_STATUS: dict[str, str] = {
    "100": "主动注销",
    "200": "依公告注销",
    "300": "协会注销",
    "500": "12个月无在管注销",
}
CANCELLATION_FIELDS: tuple[Field, ...] = (
    Field("orgName", "机构名称", "str", required=True),
    Field("orgCode", "组织机构代码", "code"),
    Field("registerNo", "登记编号", "code"),
    Field("userTenantId", "协会内部编号", "code"),
    Field("establishmentTime", "成立时间", "date"),
    Field("orgSignDate", "登记时间", "date"),
    Field("cancelDate", "注销时间", "date"),
    Field("status", "注销状态码", "code"),
    Field("statusName", "注销类型", "str"),
    Field("cancelType", "注销方式", "str"),
    Field("cancelReason", "注销原因", "str"),
    Field("managerType", "机构类型", "str"),
    Field("registerAddress", "注册地址", "str"),
    Field("officeAddress", "办公地址", "str"),
    Field("registeredCapital", "注册资本", "money"),
    Field("paidInCapital", "实缴资本", "money"),
    Field("productCount", "在管产品数量", "int"),
    Field("detailUrl", "公示页面", "str"),
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
    "manager_details": MANAGER_DETAIL_FIELDS,
    "funds": FUND_FIELDS,
    "fund_details": FUND_DETAIL_FIELDS,
    "cancellations": CANCELLATION_FIELDS,
    "reports": REPORT_FIELDS,
    "events": EVENT_FIELDS,
    "incidents": INCIDENT_FIELDS,
}

#: Which field makes a record known (contract, "Point in time"). Reports not yet submitted and
#: snapshots without a snapshotDate fall back to the file's date (see ingest).
KNOWN_FROM: dict[Source, str] = {
    "managers": "snapshotDate",
    "manager_details": "snapshotDate",
    "funds": "snapshotDate",
    "fund_details": "snapshotDate",
    "cancellations": "snapshotDate",
    "reports": "submittedDate",
    "events": "reportedDate",
    "incidents": "incidentDate",
}
#: Sources whose rows are snapshots: known from their snapshot date, else the file's date.
SNAPSHOT_SOURCES: tuple[Source, ...] = tuple(s for s in SOURCES if KNOWN_FROM[s] == "snapshotDate")

#: The key of one record within one file.
KEYS: dict[Source, tuple[str, ...]] = {
    "managers": ("registerNo", "snapshotDate"),
    "manager_details": ("registerNo", "snapshotDate"),
    "funds": ("fundNo", "snapshotDate"),
    "fund_details": ("fundNo", "snapshotDate"),
    "cancellations": ("orgName", "orgCode", "cancelDate"),
    "reports": ("fundNo", "reportType", "period"),
    "events": ("registerNo", "uscc", "eventDate", "eventType"),
    "incidents": ("registerNo", "incidentDate", "incidentType"),
}

#: A record across deliveries (``watchtower.ingest.versions``): a later row with the same
#: version key is a new version of it (a correction, or the same content again). Snapshot
#: sources add their snapshot date (each day's listing is a record of its own); report lists,
#: the date of the delivery (``@delivery``: a report's state as one list showed it); both add
#: the feed (``@feed``: the contract fields the delivery carries), since two feeds of one day
#: describe a manager in their own fields and words and neither corrects the other. Events
#: and incidents are one per natural key, whatever file brings them. ``a|b``: a, else b (a
#: fund list scraped from the site has no fund numbers: its funds are known by name).
VERSION_KEYS: dict[Source, tuple[str, ...]] = {
    "managers": ("registerNo", "snapshotDate", "@feed"),
    "manager_details": ("registerNo", "snapshotDate", "@feed"),
    "funds": ("fundNo|fundName", "snapshotDate", "@feed"),
    "fund_details": ("fundNo", "snapshotDate", "@feed"),
    "cancellations": ("orgName", "orgCode", "cancelDate", "snapshotDate", "@feed"),
    "reports": ("fundNo", "reportType", "period", "@delivery", "@feed"),
    "events": ("registerNo", "uscc", "eventDate", "eventType"),
    "incidents": ("registerNo", "incidentDate", "incidentType"),
}

#: Any one of these identifies a row (a file with none of them is structurally wrong; a row
#: with none of them is quarantined). A fund list scraped from the public site has no fundNo:
#: its funds are known by their exact name.
IDENTITY: dict[Source, tuple[str, ...]] = {
    "managers": ("registerNo",),
    "manager_details": ("registerNo",),
    "funds": ("fundNo", "fundName"),
    "fund_details": ("fundNo",),
    "cancellations": ("orgName",),
    "reports": ("fundNo",),
    "events": ("registerNo", "uscc"),
    "incidents": ("registerNo",),
}

#: Values the public feed uses for "not known" (contract, "Placeholders"), per field. The list
#: API answers paidInCapital 1 (or 0) and subscribedCapital 0 for every manager: real capital
#: is only on the detail page. Dates 9999-12-31 mean "open". They become missing, never values.
PLACEHOLDERS: dict[Source, dict[str, tuple[float, ...]]] = {
    "managers": {"paidInCapital": (0.0, 1.0), "subscribedCapital": (0.0,)},
}
#: The field that marks a file as the public list API's answer, whose placeholders these are:
#: a supervisor's own export (without AMAC's ``id``) keeps a real capital of 1万元.
PLACEHOLDERS_WHERE: dict[Source, str] = {"managers": "amacId"}
PLACEHOLDER_DATES = ("9999-12-31", "9999-01-01", "1900-01-01")

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
    text = text.rstrip(":").strip()  # a detail page's "基金编号:" is the label 基金编号
    factor = 1.0
    match = re.search(r"[(\[](万元|元|万|rmb|cny|yuan|10k cny)[)\]]\s*$", text, re.IGNORECASE)
    if match:
        unit = match.group(1).lower()
        if unit in ("元", "rmb", "cny", "yuan"):
            factor = 1e-4
        text = text[: match.start()].strip()
    return text.casefold(), factor


def header_lookup(
    source: Source, aliases: Mapping[str, Mapping[str, Sequence[str]]] | None = None
) -> dict[str, Field]:
    """Map every accepted header key to its field: the camelCase name, the Chinese label, the
    snake_case column, and the spellings ``aliases`` (``expectations/aliases.yaml``) declares
    for ``source``."""
    table: dict[str, Field] = {}
    by_name = {f.name: f for f in FIELDS[source]}
    for f in FIELDS[source]:
        for spelling in (f.name, f.zh, f.column):
            table[normalize_header(spelling)[0]] = f
    for name, spellings in (aliases or {}).get(source, {}).items():
        for spelling in spellings:
            table[normalize_header(spelling)[0]] = by_name[name]
    return table


def field_names(source: Source) -> list[str]:
    return [f.name for f in FIELDS[source]]


def columns(source: Source) -> list[str]:
    return [f.column for f in FIELDS[source]]
