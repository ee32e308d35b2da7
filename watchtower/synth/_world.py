"""The synthetic world's state: managers, funds and monthly fund matrices.

A :class:`World` holds everything as numpy arrays. Managers are rows ``0..M-1``; funds are
sorted by manager, so manager ``m`` owns funds ``f_lo[m]:f_hi[m]``. Fund values live in
``[F, T]`` matrices over month ends ``pe`` (the window's months plus 13 months before it, so
the reports due early in the window exist). Scenario code (``_scenarios``) edits these arrays;
``_tables`` turns them into contract rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from watchtower.contract import uscc_check_char
from watchtower.synth import _vocab as V
from watchtower.synth._calendar import (
    NEVER,
    IntA,
    ObjA,
    day_of,
    month_end_days,
    month_index,
    quarter_ends_between,
    working_days_after,
)
from watchtower.synth.families import DEVELOPMENT, WorldFamily

FloatA = npt.NDArray[np.float64]
BoolA = npt.NDArray[np.bool_]

MISSING = 10**6  # delay sentinel: the report is never submitted

RISKY: tuple[str, ...] = ("run_off", "lost_contact", "illegal_fundraising", "enforcement", "shell")
BENIGN: tuple[str, ...] = ("large_firm", "new_manager", "office_mover", "late_filer")
#: Benign kinds only some families plant (none in the development world).
EXTRA_BENIGN: tuple[str, ...] = ("sloppy_filer",)
SCENARIOS: tuple[str, ...] = ("healthy", *RISKY, *BENIGN, *EXTRA_BENIGN)
FAMILY: dict[str, str] = {
    "healthy": "healthy",
    "run_off": "liquidity",
    "lost_contact": "disclosure_governance",
    "illegal_fundraising": "fundraising_fraud",
    "enforcement": "compliance_legal",
    "shell": "shell",
    "large_firm": "benign_size",
    "new_manager": "benign_new",
    "office_mover": "benign_move",
    "late_filer": "benign_late",
    "sloppy_filer": "benign_sloppy",
}
INCIDENT_OF: dict[str, str] = {
    "run_off": "run_off",
    "lost_contact": "lost_contact",
    "illegal_fundraising": "illegal_fundraising",
    "enforcement": "enforcement",
    "shell": "deregistered",
}
# Fund types (contract.FUND_TYPES indices) a manager type may run, with weights.
FUND_TYPE_MIX: tuple[tuple[tuple[int, float], ...], ...] = (
    ((0, 1.0),),
    ((1, 0.7), (2, 0.3)),
    ((0, 0.5), (1, 0.5)),
    ((3, 1.0),),
)
WS_RUNNING, WS_NORMAL_LIQ, WS_EARLY_LIQ, WS_DELAYED_LIQ, WS_ADVISORY_END, WS_ABNORMAL_LIQ = range(6)


@dataclass
class Event:
    """One external event before formatting; ``ident`` says which keys the source carries."""

    m: int
    day: int
    etype: str
    severity: int
    source: str
    description: str
    reported: int
    ident: str  # "reg" | "uscc" | "both"


@dataclass(frozen=True)
class Exit:
    """A deregistration (注销) of manager ``m`` on ``day``; ``reason`` keys
    ``_vocab.CANCEL_REASONS`` (voluntary: 主动注销, not an incident)."""

    m: int
    day: int
    reason: str


class World:
    """All generated state. Attributes are set by :func:`build_world` and the scenarios."""

    rng: np.random.Generator
    preset: WorldFamily  # the world family drawn (shares, leads, signal strength, channels)
    start: int
    end: int
    # calendar: T month ends, Q snapshot dates
    months: IntA
    pe: IntA
    is_q: BoolA
    is_a: BoolA
    due_m: IntA
    due_q: IntA
    due_a: IntA
    snaps: IntA
    # managers (M)
    n: int
    sc: ObjA
    family: ObjA
    reg_no: ObjA
    name: ObjA
    uscc: ObjA
    short: ObjA  # trade name (字号), for fund names
    person0: ObjA
    person1: ObjA
    person_day: IntA
    mtype: IntA
    org: IntA
    establish: IntA
    register: IntA
    reg_prov: ObjA
    reg_city: ObjA
    reg_addr: ObjA
    off_prov: ObjA
    off_city: ObjA
    off_addr: ObjA
    off_prov1: ObjA
    off_city1: ObjA
    off_addr1: ObjA
    move_day: IntA
    subscribed: FloatA
    paid_in: FloatA
    emp: IntA
    qual_ratio: FloatA
    emp_factor: FloatA  # [M, Q]
    qual_factor: FloatA  # [M, Q]
    member: IntA
    member1: IntA
    member_day: IntA
    tips: list[list[tuple[int, str]]]
    credit_day: IntA
    blacklist_day: IntA
    stale_day: IntA
    gone_day: IntA
    onset: IntA
    incident: IntA
    # funds (F), sorted by manager
    f_lo: IntA
    f_hi: IntA
    f_mgr: IntA
    f_no: ObjA
    f_name: ObjA
    f_type: IntA
    f_money: ObjA
    f_establish: IntA
    f_record: IntA
    f_custodian: ObjA
    f_liq_day: IntA
    f_liq_state: IntA
    f_s1_day: IntA
    f_s1_state: IntA
    f_s2_day: IntA
    f_s2_state: IntA
    f_inv_cap: FloatA
    # [F, T] fund drivers (edited by scenarios) and results (filled by simulate)
    ret: FloatA
    sub_rate: FloatA
    red_rate: FloatA
    lev: FloatA
    delay_m: IntA
    delay_q: IntA
    delay_a: IntA
    audit: IntA
    nav0: FloatA
    aum0: FloatA
    inv0: FloatA
    nav: FloatA
    aum: FloatA
    inv: FloatA
    subs: FloatA
    reds: FloatA
    events: list[Event]
    exits: list[Exit]

    def funds_of(self, m: int) -> slice:
        return slice(int(self.f_lo[m]), int(self.f_hi[m]))

    def progress(self, m: int, days: IntA) -> FloatA:
        """Share of the way from onset (0) to incident (1) at each day; negative before onset."""
        span = max(int(self.incident[m] - self.onset[m]), 1)
        return (days - int(self.onset[m])) / span

    def at_progress(self, m: int, p: float) -> int:
        return int(self.onset[m] + p * (self.incident[m] - self.onset[m]))

    def set_delays(
        self,
        fs: slice,
        from_day: int,
        to_day: int,
        lo: int,
        hi: int,
        prob: float = 1.0,
        *,
        missing: bool = False,
        kinds: str = "mqa",
    ) -> None:
        """Reports of funds ``fs`` due in [from_day, to_day): late by lo..hi days, or missing."""
        for kind, mat, due, valid in (
            ("m", self.delay_m, self.due_m, np.ones_like(self.is_q)),
            ("q", self.delay_q, self.due_q, self.is_q),
            ("a", self.delay_a, self.due_a, self.is_a),
        ):
            if kind not in kinds:
                continue
            cols = np.flatnonzero(valid & (due >= from_day) & (due < to_day))
            if cols.size == 0 or fs.stop <= fs.start:
                continue
            shape = (fs.stop - fs.start, cols.size)
            hit = self.rng.random(shape) < prob
            vals = np.full(shape, MISSING) if missing else self.rng.integers(lo, hi + 1, shape)
            sub = mat[fs]  # a view: writes go to ``mat``
            sub[:, cols] = np.where(hit, vals, sub[:, cols])

    def tip(self, m: int, day: int, key: str) -> None:
        self.tips[m].append((day, V.TIPS[key]))
        self.tips[m].sort()


def _pick(rng: np.random.Generator, items: tuple[str, ...] | str) -> str:
    return items[int(rng.integers(len(items)))]


def _person(rng: np.random.Generator) -> str:
    given_len = 1 + int(rng.random() < 0.7)
    return _pick(rng, V.SURNAMES) + "".join(_pick(rng, V.GIVEN) for _ in range(given_len))


_ORG_W = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _org_code(rng: np.random.Generator, new_style: bool) -> str:
    """GB 11714 organization code (8 body characters + check), as embedded in a USCC."""
    if new_style:
        body = "MA" + "".join(_pick(rng, _ORG_BODY) for _ in range(6))
    else:
        body = "".join(_pick(rng, "0123456789") for _ in range(8))
    vals = [int(c) if c.isdigit() else ord(c) - 55 for c in body]
    c9 = 11 - sum(v * w for v, w in zip(vals, _ORG_W, strict=True)) % 11
    return body + ("X" if c9 == 10 else "0" if c9 == 11 else str(c9))


def _uscc(rng: np.random.Generator, division: str, new_style: bool) -> str:
    first17 = "91" + division + _org_code(rng, new_style)
    return first17 + uscc_check_char(first17)


@dataclass(frozen=True)
class _City:
    province: str
    city: str
    weight: float
    districts: tuple[tuple[str, str], ...]
    streets: tuple[str, ...]


CITIES: tuple[_City, ...] = tuple(
    _City(prov, city, w, dists, streets)
    for prov, cities in V.PLACES
    for city, w, dists, streets in cities
)
_CITY_P = np.array([c.weight for c in CITIES]) / sum(c.weight for c in CITIES)
_MAJOR = tuple(i for i, c in enumerate(CITIES) if c.weight >= 2.0)
_PARK = tuple(i for i, c in enumerate(CITIES) if c.province in V.SHELL_PARKS)


def _address(rng: np.random.Generator, c: _City) -> tuple[str, str]:
    """(address, division code) in city ``c``."""
    dist, code = c.districts[int(rng.integers(len(c.districts)))]
    street = _pick(rng, c.streets)
    num = int(rng.integers(1, 1500))
    head = c.province if c.province == c.city else c.province + c.city
    if dist == c.city:
        dist = ""
    tail = f"{int(rng.integers(2, 40))}楼{int(rng.integers(1, 30)):02d}室"
    if rng.random() < 0.3:
        tail = f"{int(rng.integers(1, 9))}幢{int(rng.integers(101, 2999))}室"
    return f"{head}{dist}{street}{num}号{tail}", code


def _assign_scenarios(rng: np.random.Generator, n: int, shares: Mapping[str, float]) -> ObjA:
    sc = np.full(n, "healthy", dtype=object)
    order = rng.permutation(n)
    pos = 0
    for kind in (*RISKY, *BENIGN, *EXTRA_BENIGN):
        share = shares.get(kind, 0.0)
        if share <= 0:
            continue  # not in this family (no forced minimum of one)
        k = round(share * n)
        if n >= 40:
            k = max(k, 1)
        sc[order[pos : pos + k]] = kind
        pos += k
    return sc


def build_world(
    n: int, start: dt.date, end: dt.date, seed: int, preset: WorldFamily = DEVELOPMENT
) -> World:
    """Base world: healthy dynamics for everybody, scenario-specific static attributes."""
    rng = np.random.default_rng(seed)
    w = World()
    w.rng = rng
    w.preset = preset
    w.start, w.end = day_of(start), day_of(end)
    _build_calendar(w, start, end)
    w.n = n
    w.sc = _assign_scenarios(rng, n, preset.shares)
    w.family = np.array([FAMILY[s] for s in w.sc], dtype=object)
    _build_timeline(w)
    _build_managers(w)
    _build_funds(w)
    _build_fund_drivers(w)
    w.events = []
    w.exits = []
    return w


def _build_calendar(w: World, start: dt.date, end: dt.date) -> None:
    m_lo, m_hi = month_index(start) - 13, month_index(end)
    w.months = np.arange(m_lo, m_hi + 1, dtype=np.int64)
    w.pe = month_end_days(w.months)
    w.is_q = (w.months % 3) == 2
    w.is_a = (w.months % 12) == 11
    w.due_m = working_days_after(w.pe, 5)
    w.due_q = working_days_after(w.pe, 10)
    years = w.months // 12 + 1970
    w.due_a = np.array([day_of(dt.date(int(y) + 1, 4, 30)) for y in years], dtype=np.int64)
    w.snaps = np.array([day_of(q) for q in quarter_ends_between(start, end)], dtype=np.int64)


def _build_timeline(w: World) -> None:
    """Registration dates and, for risky managers, onset and incident dates."""
    rng, n, start, end = w.rng, w.n, w.start, w.end
    span = end - start
    lo = min(day_of(dt.date(2014, 3, 1)), end - 3000)
    w.onset = np.full(n, NEVER, dtype=np.int64)
    w.incident = np.full(n, NEVER, dtype=np.int64)
    risky = np.flatnonzero(np.isin(w.sc, RISKY))
    u = rng.random(risky.size)
    inc = np.where(
        u < 0.05,
        start + rng.uniform(0.05, 0.33, risky.size) * span,
        np.where(
            u < 0.85,
            start + rng.uniform(0.33, 1.0, risky.size) * span,
            end + rng.uniform(15, 180, risky.size),
        ),
    ).astype(np.int64)
    lead = rng.integers(*w.preset.lead_days, risky.size)
    w.incident[risky] = inc
    w.onset[risky] = inc - lead

    reg = (lo + rng.beta(1.3, 2.2, n) * (end - 200 - lo)).astype(np.int64)
    sc = w.sc
    new = sc == "new_manager"
    reg[new] = int(w.snaps[-1]) - rng.integers(20, 240, int(new.sum()))
    shell = sc == "shell"
    reg[shell] = start - rng.integers(2 * 365, 8 * 365, int(shell.sum()))
    large = sc == "large_firm"
    reg[large] = lo + rng.integers(0, 3 * 365, int(large.sum()))
    other_risky = np.isin(sc, RISKY) & ~shell
    reg[other_risky] = np.minimum(reg[other_risky], w.onset[other_risky] - 365)
    w.register = np.maximum(reg, lo - 400)
    est_gap = np.where(large, rng.integers(500, 4000, n), rng.integers(30, 1500, n))
    w.establish = w.register - est_gap


def _office_city(rng: np.random.Generator, ci: int, shell: bool) -> int:
    """The office's city: the registration city mostly; a shell always operates from a major
    city in another province."""
    if not (shell or rng.random() < 0.12):
        return ci
    oi = _MAJOR[int(rng.integers(len(_MAJOR)))]
    while CITIES[oi].province == CITIES[ci].province and shell:
        oi = _MAJOR[int(rng.integers(len(_MAJOR)))]
    return oi


_ZIHAO = tuple(dict.fromkeys(V.ZIHAO))


def _unique_name(
    rng: np.random.Generator, names: set[str], prefix: str, suffixes: tuple[str, ...]
) -> tuple[str, str]:
    """A two-character trade name (字号) and the full name, not in ``names`` (added to it)."""
    while True:
        short = _pick(rng, _ZIHAO) + _pick(rng, _ZIHAO)
        if short[0] == short[1]:
            continue
        name = f"{prefix}{short}{_pick(rng, suffixes)}"
        if name not in names:
            names.add(name)
            return short, name


def _build_managers(w: World) -> None:
    rng, n, sc = w.rng, w.n, w.sc
    large, shell, new = sc == "large_firm", sc == "shell", sc == "new_manager"
    # AMAC numbers grow with registration date.
    space = max(80_000, 4 * n)
    nums = np.sort(rng.choice(space, n, replace=False)) + 1_000_001
    order = np.argsort(w.register, kind="stable")
    reg_no = np.empty(n, dtype=object)
    reg_no[order] = [f"P{k:07d}" for k in nums.tolist()]
    w.reg_no = reg_no

    mt = rng.choice(4, n, p=[0.42, 0.53, 0.005, 0.045])
    mt[large] = rng.integers(0, 2, int(large.sum()))
    w.mtype = mt.astype(np.int64)
    w.org = (rng.random(n) < np.where(mt == 1, 0.25, 0.08)).astype(np.int64)
    w.org[large] = 0

    names: set[str] = set()
    usccs: set[str] = set()
    fields: dict[str, list[str]] = {
        k: []
        for k in (
            "name",
            "short",
            "uscc",
            "p0",
            "reg_prov",
            "reg_city",
            "reg_addr",
            "off_prov",
            "off_city",
            "off_addr",
            "off_prov1",
            "off_city1",
            "off_addr1",
        )
    }
    city_idx = rng.choice(len(CITIES), n, p=_CITY_P)
    for m in range(n):
        ci = int(city_idx[m])
        if shell[m]:
            ci = _PARK[int(rng.integers(len(_PARK)))]
        c = CITIES[ci]
        reg_addr, division = _address(rng, c)
        oi = _office_city(rng, ci, bool(shell[m]))
        oc = CITIES[oi]
        off_addr = reg_addr if oi == ci and rng.random() < 0.6 else _address(rng, oc)[0]
        # a possible second office (movers, some risky): another major city
        mi = _MAJOR[int(rng.integers(len(_MAJOR)))]
        while mi == oi:
            mi = _MAJOR[int(rng.integers(len(_MAJOR)))]
        mc = CITIES[mi]
        infix = _pick(rng, V.NAME_INFIX.get(c.city, ("",)))
        t, o = int(w.mtype[m]), int(w.org[m])
        suffixes = V.PARTNERSHIP_SUFFIX[t] if o else V.COMPANY_SUFFIX[t]
        short, name = _unique_name(rng, names, f"{c.city.removesuffix('市')}{infix}", suffixes)
        reg_year = 1970 + int(w.register[m]) // 365
        while True:
            code = _uscc(rng, division, new_style=reg_year >= 2016 or rng.random() < 0.2)
            if code not in usccs:
                usccs.add(code)
                break
        for key, val in (
            ("name", name),
            ("short", short),
            ("uscc", code),
            ("p0", _person(rng)),
            ("reg_prov", c.province),
            ("reg_city", c.city),
            ("reg_addr", reg_addr),
            ("off_prov", oc.province),
            ("off_city", oc.city),
            ("off_addr", off_addr),
            ("off_prov1", mc.province),
            ("off_city1", mc.city),
            ("off_addr1", _address(rng, mc)[0]),
        ):
            fields[key].append(val)
    for key, attr in (
        ("name", "name"),
        ("short", "short"),
        ("uscc", "uscc"),
        ("p0", "person0"),
        ("reg_prov", "reg_prov"),
        ("reg_city", "reg_city"),
        ("reg_addr", "reg_addr"),
        ("off_prov", "off_prov"),
        ("off_city", "off_city"),
        ("off_addr", "off_addr"),
        ("off_prov1", "off_prov1"),
        ("off_city1", "off_city1"),
        ("off_addr1", "off_addr1"),
    ):
        setattr(w, attr, np.array(fields[key], dtype=object))
    w.person1 = np.array([_person(rng) for _ in range(n)], dtype=object)
    w.person_day = np.full(n, NEVER, dtype=np.int64)
    w.move_day = np.full(n, NEVER, dtype=np.int64)

    sub = rng.choice([100.0, 200, 500, 1000, 1000, 1000, 2000, 3000, 5000, 10000], n)
    frac = np.where(rng.random(n) < 0.5, 1.0, rng.uniform(0.3, 1.0, n))
    sub[large] = rng.choice([5000.0, 10000, 20000, 30000], int(large.sum()))
    frac[large] = 1.0
    w.subscribed = sub
    w.paid_in = np.round(sub * frac, 2)
    emp = 5 + np.round(rng.lognormal(np.log(8), 0.7, n))
    emp[large] = rng.integers(150, 800, int(large.sum()))
    emp[shell] = rng.integers(1, 5, int(shell.sum()))
    emp[new] = rng.integers(5, 13, int(new.sum()))
    w.emp = emp.astype(np.int64)
    w.qual_ratio = rng.uniform(0.55, 0.95, n)
    w.qual_ratio[shell] = rng.uniform(0.3, 0.7, int(shell.sum()))
    w.qual_ratio[large] = rng.uniform(0.8, 0.97, int(large.sum()))
    q = w.snaps.size
    # small random walk in staff numbers, quarter by quarter
    steps = rng.normal(0, 0.04, (n, q))
    w.emp_factor = np.exp(np.cumsum(steps, axis=1))
    w.qual_factor = np.ones((n, q))
    w.member = rng.choice(4, n, p=[0.25, 0.12, 0.03, 0.60]).astype(np.int64)
    w.member[large] = 0
    w.member[shell] = 3
    w.member1 = w.member.copy()
    w.member_day = np.full(n, NEVER, dtype=np.int64)
    w.tips = [[] for _ in range(n)]
    w.credit_day = np.full(n, NEVER, dtype=np.int64)
    w.blacklist_day = np.full(n, NEVER, dtype=np.int64)
    w.stale_day = np.full(n, NEVER, dtype=np.int64)
    w.gone_day = np.full(n, NEVER, dtype=np.int64)


def _fund_codes(rng: np.random.Generator, k: int) -> list[str]:
    """``k`` unique AMAC-like fund numbers: SXY123, SE1234, S82460, SGH7021."""
    letters = np.array(list("ABCDEFGHJKLMNPQRSTUVWXYZ"))
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < k:
        need = (k - len(out)) * 2 + 16
        style = rng.integers(0, 4, need)
        l1, l2 = rng.choice(letters, need), rng.choice(letters, need)
        d3, d4, d5 = (
            rng.integers(0, 1000, need),
            rng.integers(0, 10**4, need),
            rng.integers(0, 10**5, need),
        )
        for i in range(need):
            s = int(style[i])
            if s == 0:
                code = f"S{l1[i]}{l2[i]}{d3[i]:03d}"
            elif s == 1:
                code = f"S{l1[i]}{d4[i]:04d}"
            elif s == 2:
                code = f"S{d5[i]:05d}"
            else:
                code = f"S{l1[i]}{l2[i]}{d4[i]:04d}"
            if code not in seen:
                seen.add(code)
                out.append(code)
                if len(out) == k:
                    break
    return out


def _build_funds(w: World) -> None:
    rng, n, sc, end = w.rng, w.n, w.sc, w.end
    # securities managers run more (and smaller) products than equity/VC managers
    k = 1 + rng.poisson(rng.lognormal(np.where(w.mtype == 0, 1.5, 0.45), 0.9))
    large = sc == "large_firm"
    k[large] = rng.integers(80, 300, int(large.sum()))
    k[(sc == "shell") | (sc == "new_manager")] = 0
    extra = np.zeros(n, dtype=np.int64)
    illegal = np.flatnonzero(sc == "illegal_fundraising")
    extra[illegal] = rng.integers(2, 6, illegal.size)
    k = k + extra
    w.f_hi = np.cumsum(k).astype(np.int64)
    w.f_lo = (w.f_hi - k).astype(np.int64)
    f_mgr = np.repeat(np.arange(n), k)
    nf = int(k.sum())
    w.f_mgr = f_mgr
    lo = np.maximum(w.register[f_mgr] + 30, end - 8 * 365)
    hi = np.maximum(int(w.snaps[-1]) - 65, lo + 1)
    est = (lo + rng.random(nf) * (hi - lo)).astype(np.int64)
    # the planted extra funds of illegal fundraisers are launched during the run-up
    for m in illegal.tolist():
        a = int(max(w.onset[m], w.register[m] + 30))
        b = int(min(w.incident[m], w.snaps[-1] - 65))
        if b <= a:
            continue
        idx = np.arange(w.f_hi[m] - extra[m], w.f_hi[m])
        est[idx] = np.sort(rng.integers(a, b, idx.size))
    w.f_establish = est
    w.f_record = est + rng.integers(5, 60, nf)

    mix = FUND_TYPE_MIX
    ftype = np.empty(nf, dtype=np.int64)
    u = rng.random(nf)
    mt = w.mtype[f_mgr]
    for t in range(4):
        sel = mt == t
        cum = 0.0
        ftype_t = np.full(int(sel.sum()), mix[t][-1][0])
        for code, p in mix[t]:
            ftype_t = np.where((u[sel] >= cum) & (u[sel] < cum + p), code, ftype_t)
            cum += p
        ftype[sel] = ftype_t
    w.f_type = ftype
    w.f_no = np.array(_fund_codes(rng, nf), dtype=object)
    w.f_money = np.where(rng.random(nf) < 0.985, "人民币", "美元").astype(object)
    cust = rng.integers(0, len(V.CUSTODIANS), nf)
    no_cust = rng.random(nf) < np.where(ftype == 0, 0.03, 0.2)
    w.f_custodian = np.array(
        [
            "" if nc else V.CUSTODIANS[c]
            for c, nc in zip(cust.tolist(), no_cust.tolist(), strict=True)
        ],
        dtype=object,
    )
    for m in illegal.tolist():
        w.f_custodian[w.f_hi[m] - extra[m] : w.f_hi[m]] = ""
    # fund names
    names: list[str] = []
    serial: dict[int, int] = {}
    for f in range(nf):
        m = int(f_mgr[f])
        serial[m] = serial.get(m, 0) + 1
        short = w.short[m]
        t = int(ftype[f])
        if t == 0:
            names.append(f"{short}{_pick(rng, V.SEC_THEMES)}{serial[m]}号私募证券投资基金")
        elif t == 3:
            names.append(f"{short}{_pick(rng, V.SEC_THEMES)}{serial[m]}号私募投资基金")
        else:
            city = str(w.reg_city[m]).removesuffix("市")
            kind = "创业投资" if t == 2 else "股权投资"
            if rng.random() < 0.6:
                names.append(f"{city}{short}{_pick(rng, V.PE_THEMES)}{kind}合伙企业（有限合伙）")
            else:
                names.append(f"{short}{_pick(rng, V.PE_THEMES)}{serial[m]}号私募{kind}基金")
    w.f_name = np.array(names, dtype=object)
    # ordinary life cycle: some funds wind up
    life = rng.uniform(1.0, 9.0, nf) * 365
    ends = rng.random(nf) < np.where(ftype == 0, 0.35, 0.25)
    w.f_liq_day = np.where(ends, est + life.astype(np.int64), NEVER).astype(np.int64)
    w.f_liq_state = np.where(life < 2 * 365, WS_EARLY_LIQ, WS_NORMAL_LIQ).astype(np.int64)
    adv = (ftype == 0) & (rng.random(nf) < 0.02)
    w.f_liq_state[adv & ends] = WS_ADVISORY_END
    w.f_s1_day = np.full(nf, NEVER, dtype=np.int64)
    w.f_s1_state = np.zeros(nf, dtype=np.int64)
    w.f_s2_day = np.full(nf, NEVER, dtype=np.int64)
    w.f_s2_state = np.zeros(nf, dtype=np.int64)
    w.f_inv_cap = np.full(nf, 200.0)


def _build_fund_drivers(w: World) -> None:
    rng = w.rng
    nf, t = w.f_mgr.size, w.pe.size
    sec = w.f_type == 0
    z = rng.standard_normal((nf, t))
    mu = np.where(sec, rng.normal(0.004, 0.006, nf), rng.normal(0.008, 0.006, nf))
    sig = np.where(sec, rng.uniform(0.015, 0.07, nf), rng.uniform(0.02, 0.06, nf))
    ret = mu[:, None] + sig[:, None] * z
    # equity funds are revalued quarterly only
    ret[~sec] = np.where(w.is_q[None, :], ret[~sec] * 1.7, 0.0)
    w.ret = ret
    w.nav0 = np.clip(rng.lognormal(0.08, 0.25, nf), 0.4, None)
    large = (w.sc == "large_firm")[w.f_mgr]
    w.aum0 = rng.lognormal(np.where(sec, np.log(3000), np.log(9000)), 1.0)
    w.aum0[large] *= 6
    w.inv0 = np.clip(np.round(rng.lognormal(np.where(sec, np.log(45), np.log(18)), 0.7)), 2, 190)
    sr = rng.gamma(0.6, np.where(sec, 0.03, 0.0)[:, None], (nf, t))
    rr = rng.gamma(0.6, np.where(sec, 0.03, 0.004)[:, None], (nf, t))
    w.sub_rate = sr
    w.red_rate = rr
    lev0 = 1 + np.where(sec, rng.exponential(0.08, nf), rng.exponential(0.01, nf))
    w.lev = np.clip(lev0[:, None] + rng.normal(0, 0.015, (nf, t)), 1.0, 1.9)
    w.delay_m = -rng.integers(0, 6, (nf, t))
    w.delay_q = -rng.integers(0, 8, (nf, t))
    w.delay_a = -rng.integers(0, 50, (nf, t))
    for mat in (w.delay_m, w.delay_q):
        late = rng.random((nf, t)) < 0.012
        mat[late] = rng.integers(1, 12, int(late.sum()))
    w.audit = np.zeros((nf, t), dtype=np.int64)


def simulate(w: World) -> None:
    """Turn drivers into NAV, AUM (万元), investors, subscriptions and redemptions."""
    nf, t = w.ret.shape
    w.nav = np.clip(w.nav0[:, None] * np.exp(np.cumsum(w.ret, axis=1)), 0.05, None)
    aum = np.empty((nf, t))
    inv = np.empty((nf, t))
    subs = np.empty((nf, t))
    reds = np.empty((nf, t))
    a, i = w.aum0.copy(), w.inv0.copy()
    noise = w.rng.integers(-1, 2, (nf, t))
    for c in range(t):
        s = a * w.sub_rate[:, c]
        r = a * np.minimum(w.red_rate[:, c], 0.95)
        a = np.maximum(a * np.exp(w.ret[:, c]) + s - r, 0.0)
        i = np.clip(
            np.round(i * (1 + w.sub_rate[:, c] - np.minimum(w.red_rate[:, c], 0.95))) + noise[:, c],
            1,
            w.f_inv_cap,
        )
        aum[:, c], inv[:, c], subs[:, c], reds[:, c] = a, i, s, r
    w.aum, w.inv, w.subs, w.reds = aum, inv, subs, reds
