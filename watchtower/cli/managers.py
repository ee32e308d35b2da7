"""``watchtower managers show``: one manager's profile as known on a day."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any

import typer

from watchtower.cli._app import (
    DbOption,
    JsonOption,
    app,
    fail,
    print_json,
    sane_day,
    settings_for,
)
from watchtower.text import terminal_text as esc
from watchtower.values import PROBABILITY_LABEL, probability_text

if TYPE_CHECKING:
    from watchtower.managers import ManagerProfile, RelatedManager

managers_app = typer.Typer(
    help="Managers (管理人): a manager's profile as known on a day.",
    no_args_is_help=True,
)
app.add_typer(managers_app, name="managers")

ProfileAsOf = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="As-of day D (YYYY-MM-DD): sees nothing known after D. Default: the latest day "
        "the store knows anything about the manager.",
        callback=sane_day,
    ),
]

_UNKNOWN = "未知 / unknown"


def _v(value: Any) -> str:
    """A value for the terminal: escaped text, 未知 / unknown for a missing one."""
    if value is None or value == "":
        return _UNKNOWN
    if isinstance(value, bool):
        return "是 / yes" if value else "否 / no"
    if isinstance(value, list | tuple):
        return ", ".join(esc(v) for v in value) if value else "-"
    return esc(value)


def _wan(value: float | None) -> str:
    return _UNKNOWN if value is None else f"{value:,.2f} 万元"


def _section(zh: str, en: str) -> str:
    return f"\n== {zh} / {en} =="


def render(p: ManagerProfile) -> list[str]:
    """The text lines of a profile; every feed value is escaped for the terminal."""
    lines = [f"{esc(p.register_no)}  {_v(p.manager_name)}  (截至 / as of {p.as_of})"]
    for section in (
        _snapshot_lines,
        _detail_lines,
        _history_lines,
        _event_lines,
        _score_lines,
        _tier_lines,
        _feature_lines,
        _fund_lines,
    ):
        lines += section(p)
    return lines


def _snapshot_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("最新公示信息", "Latest snapshot")]
    s = p.snapshot
    if s is None:
        return [*lines, f"  截至 {p.as_of} 无公示记录 / no list snapshot known by {p.as_of}"]
    rows = [
        ("公示日期 / Known from", s.known_from),
        ("名称 / Name", s.manager_name),
        ("机构类型 / Type", s.manager_type),
        ("组织形式 / Org form", s.org_form),
        ("统一社会信用代码 / USCC", s.uscc),
        ("注册地辖区 / Registration jurisdiction", s.reg_adr_agg),
        ("办公地辖区 / Office jurisdiction", s.office_adr_agg),
        ("注册地址 / Registered address", s.register_address),
        ("办公地址 / Office address", s.office_address),
        ("法定代表人 / Legal representative", s.artificial_person_name),
        ("会员类型 / Member type", s.member_type),
        ("成立时间 / Established", s.establish_date),
        ("登记时间 / Registered", s.register_date),
        ("在管基金数量 / Fund count", s.fund_count),
        ("特别提示 / Special tips", s.has_special_tips),
        ("诚信信息 / Credit tips", s.has_credit_tips),
        ("黑名单 / Blacklist", s.in_blacklist),
    ]
    if s.special_tips:
        rows.append(("提示信息 / Tips text", s.special_tips))
    return lines + [f"  {k}: {_v(v)}" for k, v in rows]


def _detail_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("详情页", "Detail page")]
    d = p.details
    if d is None:
        return [*lines, f"  截至 {p.as_of} 无详情页 / no detail page known by {p.as_of}"]
    ratio = _UNKNOWN if d.paid_in_ratio is None else f"{d.paid_in_ratio:.0%}"
    scale = d.scale_range
    return [
        *lines,
        f"  公示日期 / Known from: {d.known_from}",
        f"  注册资本 / Subscribed capital: {_wan(d.subscribed_capital)}",
        f"  实缴资本 / Paid-in capital: {_wan(d.paid_in_capital)}",
        f"  实缴比例 / Paid-in ratio: {ratio}",
        f"  员工人数 / Staff: {_v(d.employee_count)}"
        f" (从业资格 / qualified: {_v(d.qualified_employee_count)})",
        f"  管理规模区间 / Scale range: {_v(scale)}",
        f"  实际控制人 / Actual controller: {_v(d.actual_controller)}",
        f"  诚信信息类别 / Integrity tips: {_v(d.integrity_tips)}",
        f"  机构提示类别 / Institution tips: {_v(d.institution_tips)}",
        f"  特别提示类别 / Special tips: {_v(d.special_tips)}",
    ]


def _history_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("公示历史", "Snapshot history")]
    if not p.snapshots:
        lines.append("  无 / none")
    for h in p.snapshots:
        if h.first:
            lines.append(f"  {h.known_from}  首次公示 / first snapshot")
        elif not h.changes:
            lines.append(f"  {h.known_from}  无变化 / no change")
        else:
            changes = "; ".join(f"{f}: {_v(o)} → {_v(n)}" for f, (o, n) in h.changes.items())
            lines.append(f"  {h.known_from}  {changes}")
    return lines


def _event_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("事件", "Events")]
    if not p.events:
        lines.append("  无 / none")
    for e in p.events:
        extra = ""
        if e.kind == "cancellation":
            extra = f" ({_v(e.cancel_kind)}, {_v(e.reason_class)})"
        lines.append(
            f"  {e.event_date}  {esc(e.event_type)} [{esc(e.source)}]{extra}  {_v(e.description)}"
        )
    return lines


def _score_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("评分", "Score")]
    if p.score is None:
        return [*lines, f"  截至 {p.as_of} 未评分 / not scored by {p.as_of}"]
    sc = p.score
    lines.append(
        f"  {sc.score:.1f} / 100 ({sc.as_of}; model {esc(sc.model_id)}, features "
        f"{esc(sc.feature_set_version)}); rule hits: {_v(sc.rule_hits)}"
    )
    zh, en = PROBABILITY_LABEL
    lines.append(f"  {zh} / {en}: {probability_text(sc.probability_12m)}")
    for r in p.reasons:
        lines.append(
            f"  - [{esc(r.get('kind', ''))}:{esc(r.get('code', ''))}] "
            f"{esc(r.get('zh') or '')} / {esc(r.get('en') or '')}"
        )
    return lines


def _tier_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("预警等级", "Tier")]
    t = p.tier
    if t is None:
        return [*lines, f"  截至 {p.as_of} 未分级 / no tier by {p.as_of}"]
    tier = t.tier or "无预警 / none (below every tier)"
    lines.append(f"  {tier} ({t.as_of}, score {t.score:.1f}, policy {esc(t.policy_version)})")
    if t.alert is not None:
        a = t.alert
        lines.append(f"  预警 / alert #{a.id}: {a.status}, tier {a.tier}, opened {a.opened_as_of}")
    return lines


def _feature_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("特征", "Features")]
    f = p.features
    if f is None:
        return [*lines, f"  截至 {p.as_of} 无特征快照 / no feature snapshot by {p.as_of}"]
    lines.append(f"  {f.as_of} ({esc(f.feature_set_version)}), {len(f.values)} features")
    for k, v in sorted(f.values.items()):
        if v is not None:
            lines.append(f"  {esc(k)}: {v:g}" if isinstance(v, float) else f"  {esc(k)}: {v}")
    return lines


def _fund_lines(p: ManagerProfile) -> list[str]:
    lines = [_section("关联基金", f"Linked funds ({len(p.funds)})")]
    if not p.funds:
        lines.append("  无 / none")
    for fd in p.funds:
        lines.append(
            f"  {_v(fd.fund_no)}  {_v(fd.fund_name)}  {_v(fd.working_state)}  "
            f"备案 / filed {_v(fd.put_on_record_date)}  link {_v(fd.link_method)}"
        )
    return lines


def related_lines(related: list[RelatedManager]) -> list[str]:
    """The related managers section: each manager with its tier and incident, then one line
    per link naming what is shared; every feed value escaped for the terminal."""
    lines = [_section("关联机构", f"Related managers ({len(related)})")]
    if not related:
        lines.append("  无 / none")
    for m in related:
        tier = m.tier or "-"
        incident = m.incident or "-"
        lines.append(
            f"  {esc(m.register_no)}  {_v(m.manager_name)}  等级 / tier {esc(tier)}  "
            f"出险 / incident {esc(incident)}"
        )
        for zh, en in m.sentences():
            lines.append(f"    {esc(zh)} / {esc(en)}")
    return lines


@managers_app.command("show")
def show(
    register_no: Annotated[str, typer.Argument(help="Manager register number (P1234567).")],
    as_of: ProfileAsOf = None,
    db: DbOption = None,
    json: JsonOption = False,
) -> None:
    """A manager's profile as known on the as-of day: latest snapshot, detail page, snapshot
    history, events (changes, external events, deregistrations, incidents), features, score,
    tier with reasons, and linked funds."""
    from watchtower import pipeline
    from watchtower.text import terminal_text

    profile = pipeline.manager_profile(
        settings_for(db), register_no, as_of.date() if as_of else None
    )
    if profile is None:
        when = f" by {as_of.date()}" if as_of else ""
        fail(f"no manager {terminal_text(register_no)} known{when}", code=1)
        return
    if json:
        print_json(profile)
        return
    related = pipeline.related_managers(settings_for(db), profile.register_no, profile.as_of)
    typer.echo("\n".join([*render(profile), *related_lines(related)]))
