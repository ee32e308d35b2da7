"""Planted trajectories: one function per risky scenario and per benign outlier.

Each risky scenario works on "progress" p: 0 at the manager's onset, 1 at its incident
(``World.progress``). Signals are drawn per manager with their own probability, so a risky
manager shows only some of its scenario's signals (at least two), at noisy strengths and
times. ``docs/synthetic-world.md`` lists every signal with its field and timing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from watchtower.synth import _vocab as V
from watchtower.synth._calendar import NEVER, IntA
from watchtower.synth._world import (
    WS_ABNORMAL_LIQ,
    WS_DELAYED_LIQ,
    WS_NORMAL_LIQ,
    Event,
    Exit,
    World,
)

# (source, identifiers carried, min lag days, max lag days)
_SOURCES: dict[str, tuple[tuple[str, str, int, int], ...]] = {
    "litigation": (
        ("中国裁判文书网", "uscc", 7, 60),
        ("人民法院公告网", "both", 3, 30),
        ("中国执行信息公开网", "uscc", 3, 20),
    ),
    "enforcement": (("{csrc}", "both", 0, 7), ("中国证监会", "both", 0, 7)),
    "complaint": (
        ("12386中国证监会服务热线", "reg", 1, 10),
        ("中国证券投资基金业协会投诉平台", "reg", 1, 15),
    ),
    "business_abnormal": (("国家企业信用信息公示系统", "uscc", 3, 30),),
    "negative_news": (
        ("财新网", "reg", 0, 3),
        ("21世纪经济报道", "reg", 0, 3),
        ("微博舆情监测", "reg", 0, 2),
    ),
    "executive_change": (
        ("中国证券投资基金业协会信息公示", "reg", 0, 20),
        ("国家企业信用信息公示系统", "uscc", 3, 30),
    ),
    "controller_change": (
        ("国家企业信用信息公示系统", "uscc", 3, 30),
        ("中国证券投资基金业协会信息公示", "both", 0, 20),
    ),
    "address_change": (("国家企业信用信息公示系统", "uscc", 3, 30),),
}
_CITY_CSRC = ("深圳市", "宁波市", "厦门市", "青岛市", "大连市")


def _csrc(w: World, m: int) -> str:
    city = str(w.off_city[m])
    if city in _CITY_CSRC:
        return city.removesuffix("市") + "证监局"
    prov = str(w.off_prov[m])
    for suffix in ("维吾尔自治区", "自治区", "省", "市"):
        prov = prov.removesuffix(suffix)
    return prov + "证监局"


def _pick(w: World, items: tuple[str, ...]) -> str:
    return items[int(w.rng.integers(len(items)))]


def _describe(w: World, m: int, etype: str, sev: int, detail: str) -> str:
    name = str(w.name[m])
    amount = round(float(w.rng.lognormal(np.log(80 * sev**2), 0.8)), 2)  # drawn even if unused
    if detail:
        return detail
    if etype == "litigation":
        return _litigation(w, name, sev, amount)
    if etype == "enforcement":
        return _enforcement(w, m, name, sev)
    if etype == "complaint":
        return f"投资者投诉{name}旗下产品{_pick_near(w, V.COMPLAINT_ISSUES, sev)}。"
    if etype == "business_abnormal":
        if sev <= 1:
            return f"{name}因未按规定公示年度报告，被列入经营异常名录。"
        why = "通过登记的住所或者经营场所无法联系"
        return f"{name}因{why}，被{w.reg_city[m]}市场监督管理局列入经营异常名录。"
    if etype == "negative_news":
        return f"媒体报道：{name}{_pick_near(w, V.NEWS_TOPICS, sev)}。"
    if etype == "executive_change":
        return f"{name}{_pick(w, V.EXEC_ROLES)}由{_person_of(w)}变更为{_person_of(w)}。"
    if etype == "controller_change":
        return f"{name}实际控制人由{_person_of(w)}变更为{_person_of(w)}。"
    return f"{name}办公地址变更。"


def _pick_near(w: World, texts: Sequence[tuple[str, int]], sev: int) -> str:
    """One of the texts whose severity is within one of ``sev``."""
    return _pick(w, tuple(t for t, s in texts if abs(s - sev) <= 1))


def _litigation(w: World, name: str, sev: int, amount: float) -> str:
    if sev <= 2:
        return (
            f"{name}涉{_pick(w, V.LITIGATION_CAUSES_MILD)}一案，涉案金额{amount}万元，已立案受理。"
        )
    if sev == 3:
        who = f"投资者{_person_of(w)}等{int(w.rng.integers(2, 30))}人"
        return f"{who}诉{name}私募基金合同纠纷，涉案金额{amount}万元。"
    return f"{name}被法院列为被执行人，执行标的{amount}万元。"


def _enforcement(w: World, m: int, name: str, sev: int) -> str:
    reason = _pick(w, V.ENFORCEMENT_REASONS)
    if sev <= 2:
        return f"中国证券投资基金业协会对{name}发出书面关注函：{reason}。"
    if sev == 3:
        return f"{_csrc(w, m)}对{name}采取出具警示函的行政监管措施，原因：{reason}。"
    return f"{_csrc(w, m)}对{name}采取责令改正的行政监管措施，原因：{reason}。"


def _person_of(w: World) -> str:
    rng = w.rng
    return _pick(w, tuple(V.SURNAMES)) + "".join(
        _pick(w, tuple(V.GIVEN)) for _ in range(1 + int(rng.random() < 0.7))
    )


def add_event(w: World, m: int, day: int, etype: str, severity: int, detail: str = "") -> None:
    """Record one event of manager ``m`` on ``day``; source, lag and text are drawn here."""
    sources = _SOURCES[etype]
    src, ident, lo, hi = sources[int(w.rng.integers(len(sources)))]
    if src == "{csrc}":
        src = _csrc(w, m)
    severity = int(min(max(severity, 1), 5))
    desc = _describe(w, m, etype, severity, detail)
    reported = int(day + w.rng.integers(lo, hi + 1))
    w.events.append(Event(m, int(day), etype, severity, src, desc, reported, ident))


#: The channel (``families.CHANNELS``) of each scenario's signals, in the order its planter
#: draws them: a world family weighs a channel's signals up or down (or off) through it.
_SIGNAL_CHANNELS: dict[str, tuple[str, ...]] = {
    # redeem, drawdown, filings, complaints, liquidation, staff, leverage
    "run_off": ("reports", "reports", "reports", "events", "funds", "profile", "reports"),
    # filings, staff, rep, controller, stale, abnormal, tips, member
    "lost_contact": (
        "reports",
        "profile",
        "profile",
        "events",
        "profile",
        "events",
        "profile",
        "profile",
    ),
    # surge, smooth, capital, news, filings
    "illegal_fundraising": ("reports", "reports", "profile", "events", "reports"),
    # lawsuits, warning, audit, leverage, complaints, tips
    "enforcement": ("events", "events", "reports", "reports", "events", "profile"),
    # capital, tips, stale, abnormal
    "shell": ("profile", "profile", "profile", "events"),
}


def _signals(w: World, scenario: str, probs: tuple[float, ...]) -> list[bool]:
    """Which of a scenario's signals this manager shows: each by chance (its probability
    scaled by the world family's strength and channel weight, capped at 1), at least the
    family's minimum (two in the development world) among those that can be on."""
    fam = w.preset
    weights = np.array([fam.channel_weight(c) for c in _SIGNAL_CHANNELS[scenario]])
    p = np.clip(np.array(probs) * fam.signal_strength * weights, 0.0, 1.0)
    on = (w.rng.random(len(probs)) < p).tolist()
    allowed = np.flatnonzero(p > 0)
    while sum(on) < min(fam.min_signals, allowed.size):
        on[int(allowed[int(w.rng.integers(allowed.size))])] = True
    return [bool(x) for x in on]


def _cols_from(w: World, m: int, p0: float, p1: float = 99.0) -> IntA:
    p = w.progress(m, w.pe)
    return np.flatnonzero((p >= p0) & (p < p1))


def _snaps_from(w: World, m: int, p0: float) -> IntA:
    return np.flatnonzero(w.progress(m, w.snaps) >= p0)


def _days_between(w: World, m: int, p0: float, p1: float, k: int) -> list[int]:
    return sorted(w.at_progress(m, float(p)) for p in w.rng.uniform(p0, p1, k))


def plant_run_off(w: World, m: int) -> None:
    """兑付危机: redemptions surge, AUM draws down, filings slip then stop, complaints."""
    rng, fs = w.rng, w.funds_of(m)
    redeem, drawdown, filings, complaints, liquidation, staff, leverage = _signals(
        w, "run_off", (0.9, 0.7, 0.75, 0.7, 0.6, 0.4, 0.3)
    )
    if redeem:
        cols = _cols_from(w, m, rng.uniform(0.15, 0.4))
        p = np.clip(w.progress(m, w.pe[cols]), 0, 1.3)
        w.red_rate[fs, cols] = np.maximum(w.red_rate[fs, cols], 0.03 + 0.18 * p)
        w.sub_rate[fs, cols] *= np.clip(1 - p, 0, 1)
    if drawdown:
        cols = _cols_from(w, m, rng.uniform(0.1, 0.4))
        p = np.clip(w.progress(m, w.pe[cols]), 0, 1.3)
        w.ret[fs, cols] -= rng.uniform(0.01, 0.03) * p
    if filings:
        w.set_delays(
            fs, w.at_progress(m, rng.uniform(0.3, 0.5)), w.at_progress(m, 0.75), 5, 40, 0.7
        )
        w.set_delays(fs, w.at_progress(m, rng.uniform(0.7, 0.9)), NEVER, 0, 0, 0.85, missing=True)
    if complaints:
        for i, d in enumerate(_days_between(w, m, 0.45, 1.05, int(rng.integers(2, 7)))):
            add_event(w, m, d, "complaint", 2 + min(i, 2))
        for d in _days_between(w, m, 0.8, 1.1, int(rng.integers(1, 3))):
            add_event(w, m, d, "negative_news", int(rng.integers(3, 5)))
    if liquidation:
        n = fs.stop - fs.start
        hit = rng.random(n) < rng.uniform(0.3, 0.8)
        w.f_s1_day[fs] = np.where(hit, w.at_progress(m, rng.uniform(0.7, 0.95)), w.f_s1_day[fs])
        w.f_s1_state[fs] = np.where(hit, WS_DELAYED_LIQ, w.f_s1_state[fs])
    if staff:
        w.emp_factor[m, _snaps_from(w, m, 0.6)] *= rng.uniform(0.45, 0.8)
    if leverage:
        cols = _cols_from(w, m, 0.1, 0.8)
        sec = (w.f_type[fs] == 0)[:, None]
        w.lev[fs, cols] = np.where(sec, w.lev[fs, cols] + rng.uniform(0.4, 1.0), w.lev[fs, cols])
    # after the incident (never before it): AMAC flags and abnormal liquidation
    inc = int(w.incident[m])
    w.f_s2_day[fs] = inc + 45
    w.f_s2_state[fs] = WS_ABNORMAL_LIQ
    w.set_delays(fs, inc, NEVER, 0, 0, 1.0, missing=True)
    w.credit_day[m] = inc + int(rng.integers(20, 60))
    w.tip(m, inc + int(rng.integers(20, 90)), "abnormal")


def plant_lost_contact(w: World, m: int) -> None:
    """失联: disclosure stops, staff leave, legal representative and controller change."""
    rng, fs = w.rng, w.funds_of(m)
    filings, staff, rep, controller, stale, abnormal, tips, member = _signals(
        w, "lost_contact", (0.85, 0.7, 0.55, 0.4, 0.6, 0.5, 0.45, 0.3)
    )
    if filings:
        w.set_delays(
            fs, w.at_progress(m, rng.uniform(0.2, 0.4)), w.at_progress(m, 0.55), 10, 45, 0.6
        )
        w.set_delays(fs, w.at_progress(m, rng.uniform(0.5, 0.7)), NEVER, 0, 0, 0.95, missing=True)
    if staff:
        qs = _snaps_from(w, m, 0.2)
        p = np.clip(w.progress(m, w.snaps[qs]), 0, 1)
        w.emp_factor[m, qs] *= 1 - rng.uniform(0.5, 0.85) * p
        w.qual_factor[m, qs] *= 1 - rng.uniform(0.6, 0.95) * p
    if rep:
        d = w.at_progress(m, rng.uniform(0.3, 0.75))
        w.person_day[m] = d
        add_event(
            w,
            m,
            d,
            "executive_change",
            int(rng.integers(2, 4)),
            f"{w.name[m]}法定代表人由{w.person0[m]}变更为{w.person1[m]}。",
        )
    if controller:
        add_event(w, m, w.at_progress(m, rng.uniform(0.15, 0.6)), "controller_change", 3)
        add_event(w, m, w.at_progress(m, rng.uniform(0.3, 0.8)), "executive_change", 2)
    if stale:
        w.stale_day[m] = w.at_progress(m, rng.uniform(0.25, 0.6))
    if abnormal:
        add_event(
            w,
            m,
            w.at_progress(m, rng.uniform(0.7, 0.98)),
            "business_abnormal",
            int(rng.integers(3, 5)),
        )
    if tips:
        w.tip(m, w.at_progress(m, rng.uniform(0.8, 0.97)), "disclosure")
    if member and w.member[m] != 3:
        w.member1[m] = 3
        w.member_day[m] = w.at_progress(m, rng.uniform(0.4, 0.9))
    inc = int(w.incident[m])
    w.set_delays(fs, inc, NEVER, 0, 0, 1.0, missing=True)
    w.tip(m, inc + int(rng.integers(10, 60)), "lost_contact")
    w.f_s2_day[fs] = inc + 90
    w.f_s2_state[fs] = WS_ABNORMAL_LIQ


def plant_illegal_fundraising(w: World, m: int) -> None:
    """非法集资: investors and subscriptions surge, NAV too smooth, thin capital, bad press."""
    rng, fs = w.rng, w.funds_of(m)
    surge, smooth, capital, news, filings = _signals(
        w, "illegal_fundraising", (0.85, 0.75, 0.7, 0.6, 0.4)
    )
    if surge:
        cols = _cols_from(w, m, rng.uniform(-0.1, 0.2), 1.0)
        p = np.clip(w.progress(m, w.pe[cols]), 0, 1)
        w.sub_rate[fs, cols] += rng.uniform(0.06, 0.12) + rng.uniform(0.1, 0.25) * p
        w.red_rate[fs, cols] *= 0.3
        w.f_inv_cap[fs] = 100_000.0
    if smooth:
        cols = _cols_from(w, m, rng.uniform(-0.2, 0.1))
        r = rng.uniform(0.007, 0.013)
        w.ret[fs, cols] = r + rng.normal(0, 0.0008, (fs.stop - fs.start, cols.size))
    if capital:
        w.paid_in[m] = round(float(w.subscribed[m] * rng.uniform(0.01, 0.1)), 2)
    if news:
        for d in _days_between(w, m, 0.55, 1.0, int(rng.integers(1, 4))):
            add_event(w, m, d, "negative_news", int(rng.integers(3, 6)))
        add_event(
            w,
            m,
            w.at_progress(m, rng.uniform(0.4, 0.9)),
            "complaint",
            3,
            f"投资者投诉{w.name[m]}销售人员承诺年化收益12%且保本保息。",
        )
    if filings:
        w.set_delays(fs, w.at_progress(m, rng.uniform(0.8, 0.95)), NEVER, 0, 0, 0.6, missing=True)
    inc = int(w.incident[m])
    w.set_delays(fs, inc, NEVER, 0, 0, 1.0, missing=True)
    w.blacklist_day[m] = inc + int(rng.integers(30, 120))
    w.tip(m, inc + int(rng.integers(20, 60)), "fundraising")
    w.f_s2_day[fs] = inc + 60
    w.f_s2_state[fs] = WS_ABNORMAL_LIQ


def plant_enforcement(w: World, m: int) -> None:
    """行政处罚: lawsuits, regulatory warnings, modified audit opinions, high leverage."""
    rng, fs = w.rng, w.funds_of(m)
    lawsuits, warning, audit, leverage, complaints, tips = _signals(
        w, "enforcement", (0.8, 0.65, 0.6, 0.5, 0.4, 0.3)
    )
    if lawsuits:
        days = _days_between(w, m, 0.05, 1.0, int(rng.integers(2, 6)))
        for i, d in enumerate(days):
            add_event(w, m, d, "litigation", 2 + min(i, 2))
    if warning:
        d = w.at_progress(m, rng.uniform(0.45, 0.85))
        add_event(w, m, d, "enforcement", int(rng.integers(2, 4)))
        w.credit_day[m] = d + int(rng.integers(10, 30))
    if audit:
        cols = np.flatnonzero(w.is_a & (w.pe >= w.onset[m]) & (w.pe < w.incident[m]))
        n = fs.stop - fs.start
        ops = rng.choice([1, 1, 1, 2, 3], (n, cols.size))
        hit = rng.random((n, cols.size)) < rng.uniform(0.5, 1.0)
        w.audit[fs, cols] = np.where(hit, ops, w.audit[fs, cols])
    if leverage:
        cols = _cols_from(w, m, rng.uniform(0.0, 0.4))
        sec = (w.f_type[fs] == 0)[:, None]
        w.lev[fs, cols] = np.where(sec, rng.uniform(2.0, 3.5), w.lev[fs, cols])
    if complaints:
        for d in _days_between(w, m, 0.3, 1.0, int(rng.integers(1, 4))):
            add_event(w, m, d, "complaint", int(rng.integers(2, 4)))
    if tips:
        w.tip(m, w.at_progress(m, rng.uniform(0.85, 0.98)), "discipline")
    inc = int(w.incident[m])
    w.credit_day[m] = min(int(w.credit_day[m]), inc + 15)
    w.tip(m, inc + int(rng.integers(10, 40)), "penalty")


def plant_shell(w: World, m: int) -> None:
    """Shell, later 注销: no fund ever, thin capital, tiny staff, registered far from office."""
    rng = w.rng
    capital, tips, stale, abnormal = _signals(w, "shell", (0.85, 0.6, 0.6, 0.5))
    if capital:
        w.paid_in[m] = round(
            float(min(w.subscribed[m] * rng.uniform(0.0, 0.2), rng.uniform(0, 190))), 2
        )
    if tips:
        w.tip(m, int(w.register[m]) + 365 + int(rng.integers(10, 90)), "no_product")
    if stale:
        w.stale_day[m] = max(int(w.register[m]) + 60, w.at_progress(m, rng.uniform(-0.5, 0.5)))
    if abnormal:
        add_event(
            w,
            m,
            w.at_progress(m, rng.uniform(0.4, 0.95)),
            "business_abnormal",
            int(rng.integers(1, 4)),
        )
    w.gone_day[m] = int(w.incident[m])


def plant_large_firm(w: World, m: int) -> None:
    """Very large, healthy: many funds and staff (set at build time); more mild noise."""
    for _ in range(int(w.rng.integers(1, 5))):
        d = int(w.rng.integers(w.start - 30, w.end))
        add_event(w, m, d, _pick(w, ("complaint", "litigation", "negative_news")), 1)


def plant_office_mover(w: World, m: int) -> None:
    """Moves office once, to another city; an address_change event records it."""
    span = w.end - w.start
    d = int(w.start + w.rng.uniform(0.15, 0.85) * span)
    w.move_day[m] = d
    add_event(
        w,
        m,
        d,
        "address_change",
        1,
        f"{w.name[m]}办公地址由{w.off_addr[m]}变更为{w.off_addr1[m]}。",
    )


def plant_late_filer(w: World, m: int) -> None:
    """Files every report, always a few days late; numbers healthy."""
    fs, rng = w.funds_of(m), w.rng
    shape = (fs.stop - fs.start, w.pe.size)
    w.delay_m[fs] = rng.integers(2, 9, shape)
    w.delay_q[fs] = rng.integers(2, 9, shape)
    w.delay_a[fs] = rng.integers(1, 12, shape)


def plant_sloppy_filer(w: World, m: int) -> None:
    """Honest but sloppy: many reports 5-40 days late, a few never filed; numbers healthy."""
    fs, rng = w.funds_of(m), w.rng
    w.set_delays(fs, w.start - 400, NEVER, 5, 40, rng.uniform(0.3, 0.6))
    w.set_delays(fs, w.start - 400, NEVER, 0, 0, rng.uniform(0.03, 0.08), missing=True)


def _noise(w: World, m: int) -> str:
    """One weak, isolated signal on a healthy manager; returns its name."""
    rng, fs = w.rng, w.funds_of(m)
    kinds = ["complaint", "litigation", "exec_change", "abnormal_minor", "news"]
    if fs.stop > fs.start:
        kinds += ["late_report", "qualified_audit", "leverage", "staff_dip"]
    kind = kinds[int(rng.integers(len(kinds)))]
    day = int(rng.integers(max(w.start, int(w.register[m])), w.end))
    if kind in _NOISE_EVENTS:
        etype, severity = _NOISE_EVENTS[kind]
        add_event(w, m, day, etype, int(rng.integers(1, 3)) if severity is None else severity)
    else:
        _fund_noise(w, m, kind, day)
    return kind


#: The noise signals that are one event: kind -> (event type, severity; None: 1 or 2 drawn).
_NOISE_EVENTS: dict[str, tuple[str, int | None]] = {
    "complaint": ("complaint", None),
    "litigation": ("litigation", None),
    "exec_change": ("executive_change", 2),
    "abnormal_minor": ("business_abnormal", 1),
    "news": ("negative_news", 2),
}


def _fund_noise(w: World, m: int, kind: str, day: int) -> None:
    """A noise signal in the manager's first fund (its reports, audit, leverage) or staff."""
    fs = w.funds_of(m)
    if kind == "late_report":
        f = slice(fs.start, fs.start + 1)
        w.set_delays(f, day, day + 40, 12, 30, 1.0, kinds="mq")
    elif kind == "qualified_audit":
        cols = np.flatnonzero(w.is_a & (w.pe >= w.start - 365))
        if cols.size:
            w.audit[fs.start, cols[-1]] = 1
    elif kind == "leverage":
        cols = np.flatnonzero((w.pe >= day) & (w.pe < day + 100))
        w.lev[fs.start, cols] += w.rng.uniform(0.5, 1.0)
    elif kind == "staff_dip":
        qs = np.flatnonzero(w.snaps >= day)[:1]
        w.emp_factor[m, qs] *= 0.6


PLANTERS: dict[str, Callable[[World, int], None]] = {
    "run_off": plant_run_off,
    "lost_contact": plant_lost_contact,
    "illegal_fundraising": plant_illegal_fundraising,
    "enforcement": plant_enforcement,
    "shell": plant_shell,
    "large_firm": plant_large_firm,
    "office_mover": plant_office_mover,
    "late_filer": plant_late_filer,
    "sloppy_filer": plant_sloppy_filer,
}

#: Background event rates per manager-year: (event type, rate, severity low, high).
_BACKGROUND: tuple[tuple[str, float, int, int], ...] = (
    ("litigation", 0.06, 1, 2),
    ("complaint", 0.08, 1, 1),
    ("executive_change", 0.12, 1, 1),
    ("negative_news", 0.03, 1, 2),
    ("business_abnormal", 0.01, 1, 1),
    ("controller_change", 0.01, 1, 1),
    ("enforcement", 0.004, 1, 2),
)


def plant_all(w: World) -> None:
    """Run every manager's scenario, weak noise on healthy ones (the family's share: 15% in
    the development world), background events."""
    for m in range(w.n):
        fn = PLANTERS.get(str(w.sc[m]))
        if fn is not None:
            fn(w, m)
    healthy = np.flatnonzero(w.sc == "healthy")
    noisy = healthy[w.rng.random(healthy.size) < w.preset.noise_share]
    for m in noisy.tolist():
        w.family[m] = "noise_" + _noise(w, m)
    lo = np.maximum(w.register, w.start - 60)
    hi = np.minimum(w.gone_day, w.end)
    years = np.clip(hi - lo, 0, None) / 365.25
    for etype, rate, s_lo, s_hi in _BACKGROUND:
        counts = w.rng.poisson(rate * years)
        for m in np.flatnonzero(counts).tolist():
            for _ in range(int(counts[m])):
                day = int(w.rng.integers(lo[m], hi[m]))
                add_event(w, m, day, etype, int(w.rng.integers(s_lo, s_hi + 1)))


def plant_exits(w: World, rng: np.random.Generator) -> None:
    """Deregistrations (注销), drawn from ``rng`` so that the rest of the world stays as it was.

    Forced: every shell on its incident day (协会注销 经营异常 37号文 50%, 12个月无在管 30%,
    依公告注销 失联 20%); 70% of lost_contact managers 60-240 days after the incident (依公告注销,
    失联); 60% of illegal fundraisers 120-360 days after their blacklisting (协会注销, 纪律处分).
    Voluntary (主动注销, not an incident): half of the healthy, office-mover and late-filer
    managers whose funds have all wound up, 60-300 days after the last one ended; and 4% of the
    healthy ones, who wind up their funds (正常清算) 30-200 days before leaving on a day drawn
    in the later 60% of the window (when all their funds are older than 90 days). Only exits
    inside the window are kept; the manager leaves the lists on its exit day.
    """
    quitting = _wind_up_quitters(w, rng)
    for m in range(w.n):
        day, reason = _exit_of(w, m, bool(quitting[m]), rng)
        if w.start <= day <= w.end and day > w.register[m]:
            w.exits.append(Exit(m, day, reason))
            w.gone_day[m] = min(int(w.gone_day[m]), day)
            if reason == "voluntary":
                w.family[m] = "voluntary_exit"


def _wind_up_quitters(w: World, rng: np.random.Generator) -> np.ndarray:
    """Draw the 4% who quit; the healthy ones among them wind up their funds early (when old
    enough). Returns who quits."""
    quitting = rng.random(w.n) < 0.04
    for m in np.flatnonzero(quitting & (w.sc == "healthy")).tolist():
        fs = w.funds_of(m)
        leave = int(w.start + rng.uniform(0.4, 0.95) * (w.end - w.start))
        wind_up = leave - rng.integers(30, 201, fs.stop - fs.start)
        if leave <= w.register[m] + 365 or (w.f_establish[fs] >= wind_up - 90).any():
            continue  # too young to have wound everything up
        early = wind_up < w.f_liq_day[fs]
        w.f_liq_state[fs] = np.where(early, WS_NORMAL_LIQ, w.f_liq_state[fs])
        w.f_liq_day[fs] = np.where(early, wind_up, w.f_liq_day[fs])
    return quitting


def _exit_of(w: World, m: int, quitting: bool, rng: np.random.Generator) -> tuple[int, str]:
    """The day manager ``m`` would leave and why (NEVER, "" when it stays), by scenario."""
    sc = str(w.sc[m])
    if sc == "shell":
        u = rng.random()
        reason = "business_abnormal" if u < 0.5 else "no_product" if u < 0.8 else "lost_contact"
        return int(w.incident[m]), reason
    if sc == "lost_contact":
        if rng.random() < 0.7:
            return int(w.incident[m]) + int(rng.integers(60, 241)), "lost_contact"
    elif sc == "illegal_fundraising":
        if rng.random() < 0.6 and w.blacklist_day[m] < NEVER:
            return int(w.blacklist_day[m]) + int(rng.integers(120, 361)), "fundraising"
    elif sc in ("healthy", "office_mover", "late_filer"):
        liq = w.f_liq_day[w.funds_of(m)]
        if liq.size and (liq < NEVER).all() and (quitting or rng.random() < 0.5):
            return int(liq.max()) + int(rng.integers(60, 301)), "voluntary"
    return NEVER, ""


__all__ = ["PLANTERS", "add_event", "plant_all", "plant_exits"]
