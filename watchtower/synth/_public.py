"""The public feed in the shapes AMAC publishes (see ``tests/fixtures/real_amac/``).

Per snapshot date (a dated folder, the folder's date being the snapshot date):

* ``managers/<date>/pof_manager_query_pNNN.json``: list rows of ``api/pof/manager/query`` in
  AMAC's page envelope, 100 rows a page, with the list's placeholders (``paidInCapital`` 1,
  ``subscribedCapital`` 0) and without what the list does not carry (staff, scale, USCC,
  blacklist, tip texts);
* ``funds/<date>/pof_fund_pNNN.json``: ``api/pof/fund`` rows, no registerNo: the manager is
  named by ``managersInfo[].managerId`` (the manager row's ``id``) and by name;
* ``cancellations/<date>/cancelled_manager_pNNN.json``: ``api/cancelled/manager`` rows of the
  deregistrations since the previous snapshot (status 100/200/300/500, epoch-ms dates), and
  ``crawler_parsed_cancellation_details.json``: a crawler's parse of their detail pages
  (注销原因, 注销方式).

Per detail date (June and December snapshots; the last snapshot when the window has neither):

* ``manager_details/<date>/crawler_parsed_manager_details.json``: a crawler's parse of the
  detail pages (capital "1,000", 实缴比例 "100%", staff, 管理规模区间, 实际控制人, 高管,
  出资人, and the 机构诚信信息 / 机构提示信息 / 特别提示信息 texts) for most managers;
* ``manager_details/<date>/manager/<id>.html``: the detail page itself for a few managers;
* ``fund_details/<date>/fund/<id>.html``: a few fund detail pages with their disclosure counts
  (应披露N条，按时披露N条，未披露N条).

Dates in list rows are epoch milliseconds at 00:00 UTC, as the real API answers. Every draw
here comes from the generator handed in, never from the world's own, so the world's numbers
do not depend on how its public feed is dressed.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from watchtower.contract import FUND_TYPES, MANAGER_TYPES, WORKING_STATES, Source
from watchtower.synth import _vocab as V
from watchtower.synth._calendar import NEVER, IntA, ObjA
from watchtower.synth._formats import Defect, Style, plant_defects
from watchtower.synth._tables import (
    MEMBER_PUBLIC,
    fund_state,
    fund_totals,
    last_quarter_update,
    listed,
    staff,
)
from watchtower.synth._world import MISSING, RISKY, BoolA, FloatA, World, _person

MANAGER_PAGE_ROWS = 100
FUND_PAGE_ROWS = 1000
CANCEL_PAGE_ROWS = 100
MAX_PAGES = 20
#: Share of managers whose detail page is written as HTML (the rest: the crawler's JSON).
HTML_MANAGER_SHARE, HTML_MANAGER_MAX = 0.01, 12
#: Fund detail pages per detail date: this share of the funds, within [2, 12].
FUND_DETAIL_SHARE, FUND_DETAIL_MAX = 0.0015, 12
_API = Style("api", dates="epoch")
_DAY_MS = 86_400_000
_SITE = "https://gs.amac.org.cn/amac-infodisc/res"
_TIP_KEY = {text: key for key, text in V.TIPS.items()}
_CREDIT = {"enforcement": "被采取行政监管措施"}
_SCALE_BANDS = (
    (50_000.0, "0-5亿元"),
    (100_000.0, "5-10亿元"),
    (200_000.0, "10-20亿元"),
    (500_000.0, "20-50亿元"),
    (1_000_000.0, "50-100亿元"),
)


@dataclass
class Written:
    """What the public writer wrote: rows and files per source, planted defects."""

    rows: dict[str, int] = field(default_factory=dict)
    files: dict[str, int] = field(default_factory=dict)
    defects: list[Defect] = field(default_factory=list)

    def add(self, source: Source, rows: int) -> None:
        self.rows[source] = self.rows.get(source, 0) + rows
        self.files[source] = self.files.get(source, 0) + 1


@dataclass(frozen=True)
class _Dress:
    """How the public feed shows each manager and fund (drawn once, stable over time)."""

    m_id: ObjA  # 16-digit AMAC ids
    f_id: ObjA
    org_form: ObjA
    reg_coord: ObjA
    off_coord: ObjA
    off_coord1: ObjA
    controller: ObjA
    execs: list[list[tuple[str, str, str]]]  # (name, role, qualified 是/否); [0] = legal rep
    holders: list[list[tuple[str, str]]]  # (name, ratio "80%")
    html_managers: frozenset[int]


def detail_dates(w: World) -> list[int]:
    """Snapshot indices that get detail pages: June and December, else the last snapshot."""
    months = w.snaps.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12 + 1
    qs = [q for q in range(w.snaps.size) if months[q] in (6, 12)]
    return qs or [w.snaps.size - 1]


def write_public(w: World, out_dir: Path, rng: np.random.Generator) -> Written:
    """Write every public-feed file of ``w`` under ``out_dir`` (see the module docstring)."""
    dress = _dress(w, rng)
    done = Written()
    count, scale = fund_totals(w)
    states = fund_state(w, w.snaps)
    lqu = last_quarter_update(w)
    update_lag = rng.integers(0, 80, (w.n, w.snaps.size))
    for q in range(w.snaps.size):
        sd = int(w.snaps[q])
        folder = _iso(sd)
        _manager_pages(w, dress, q, count, out_dir / "managers" / folder, rng, done)
        _fund_pages(w, dress, q, states, lqu, out_dir / "funds" / folder, rng, done)
        prev = int(w.snaps[q - 1]) if q else w.start - 1
        _cancellations(w, dress, prev, sd, out_dir / "cancellations" / folder, done)
    for q in detail_dates(w):
        sd = int(w.snaps[q])
        folder = _iso(sd)
        _manager_details(w, dress, q, scale, update_lag, out_dir / "manager_details" / folder, done)
        _fund_details(w, dress, q, states, out_dir / "fund_details" / folder, rng, done)
    return done


# --------------------------------------------------------------------------- dressing


def _ids(rng: np.random.Generator, days: IntA, taken: set[str]) -> ObjA:
    """AMAC's 16-digit ids: yymmdd + hhmm of the filing (a few weeks before ``days``) + 6."""
    filed = days - rng.integers(20, 200, days.size)
    ymd = np.datetime_as_string(filed.astype("datetime64[D]"))
    hh, mi = rng.integers(8, 22, days.size), rng.integers(0, 60, days.size)
    out = np.empty(days.size, dtype=object)
    for i, d in enumerate(ymd.tolist()):
        while True:
            tail = 100_000 + int(rng.integers(0, 10_000))
            code = f"{d[2:4]}{d[5:7]}{d[8:10]}{int(hh[i]):02d}{int(mi[i]):02d}{tail:06d}"
            if code not in taken:
                taken.add(code)
                out[i] = code
                break
    return out


def _coords(rng: np.random.Generator, cities: ObjA) -> ObjA:
    out = np.empty(cities.size, dtype=object)
    jitter = rng.uniform(-0.06, 0.06, (cities.size, 2))
    for i, city in enumerate(cities.tolist()):
        lat, lng = V.CITY_COORD[str(city)]
        out[i] = f"{lat + jitter[i, 0]:.14f},{lng + jitter[i, 1]:.14f}"
    return out


def _dress(w: World, rng: np.random.Generator) -> _Dress:
    taken: set[str] = set()
    m_id = _ids(rng, w.register, taken)
    f_id = _ids(rng, w.f_record, taken)
    org = np.where(w.org == 1, "有限合伙企业", "有限责任公司").astype(object)
    u = rng.random(w.n)
    org[(w.org == 0) & (w.sc == "large_firm") & (u < 0.4)] = "股份有限公司"
    org[(w.org == 0) & (u > 0.995)] = "其他"
    controller = w.person0.copy()
    other = rng.random(w.n) < 0.2
    execs: list[list[tuple[str, str, str]]] = []
    holders: list[list[tuple[str, str]]] = []
    for m in range(w.n):
        if other[m]:
            controller[m] = _person(rng)
        team = [(str(w.person0[m]), V.EXEC_TITLES[0], "是" if rng.random() < 0.7 else "否")]
        for title in V.EXEC_TITLES[1 : 2 + int(rng.integers(0, 3))]:
            qualified = "是" if rng.random() < w.qual_ratio[m] else "否"
            team.append((_person(rng), title, qualified))
        execs.append(team)
        main = int(rng.integers(51, 101))
        share = [(str(controller[m]), f"{main}%")]
        if main < 100:
            share.append((_person(rng), f"{100 - main}%"))
        holders.append(share)
    if w.preset.shared_person_share > 0:  # after every other draw: nothing else moves
        _plant_network(w, rng, controller, holders)
    k = int(min(max(round(HTML_MANAGER_SHARE * w.n), 1), HTML_MANAGER_MAX))
    chosen = rng.choice(w.n, min(k, w.n), replace=False)
    return _Dress(
        m_id=m_id,
        f_id=f_id,
        org_form=org,
        reg_coord=_coords(rng, w.reg_city),
        off_coord=_coords(rng, w.off_city),
        off_coord1=_coords(rng, w.off_city1),
        controller=controller,
        execs=execs,
        holders=holders,
        html_managers=frozenset(int(m) for m in chosen.tolist()),
    )


def _plant_network(
    w: World, rng: np.random.Generator, controller: ObjA, holders: list[list[tuple[str, str]]]
) -> None:
    """A share of the risky managers take another risky manager's actual controller, who
    becomes their main shareholder too (the detail page's 出资人): misconduct travelling
    through people (Dimmock, Gerken & Graham 2018). The legal representative stays its own
    (the list's history of representatives is the scenarios')."""
    risky = np.flatnonzero(np.isin(w.sc, RISKY))
    if risky.size < 2:
        return
    order = rng.permutation(risky)
    k = min(round(w.preset.shared_person_share * risky.size), risky.size - 1)
    leaders = order[k:]
    for m in order[:k].tolist():
        lead = int(leaders[int(rng.integers(0, leaders.size))])
        controller[m] = controller[lead]
        holders[m][0] = (str(controller[lead]), holders[m][0][1])


# --------------------------------------------------------------------------- helpers


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def _agg(province: object, city: object) -> str:
    return str(city) if city in V.CSRC_CITIES else str(province)


def _epoch(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Day-number columns -> AMAC epoch milliseconds (00:00 UTC of the day)."""
    for c in columns:
        days = frame[c].to_numpy(dtype=np.int64)
        frame[c] = pd.array(np.where(days >= NEVER, 0, days * _DAY_MS), dtype="Int64")
        frame.loc[days >= NEVER, c] = pd.NA
    return frame


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    obj = frame.astype(object).where(frame.notna(), None)
    out: list[dict[str, Any]] = []
    for rec in obj.to_dict("records"):
        clean: dict[str, Any] = {}
        for key, val in rec.items():
            if isinstance(val, np.integer):
                val = int(val)
            elif isinstance(val, np.floating):
                val = float(val)
            elif isinstance(val, np.bool_):
                val = bool(val)
            clean[str(key)] = val
        out.append(clean)
    return out


def _dump(path: Path, body: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, ensure_ascii=False, separators=(",", ":")), "utf-8")


def _pages(
    frame: pd.DataFrame,
    source: Source,
    stem: Path,
    size: int,
    rng: np.random.Generator | None,
    done: Written,
    out_dir: Path,
) -> None:
    """Write ``frame`` as AMAC page envelopes of ``size`` records, defects planted if ``rng``."""
    total = len(frame)
    size = page_size(total, size)
    pages = max(1, -(-total // size))
    for i in range(pages):
        chunk = frame.iloc[i * size : (i + 1) * size].reset_index(drop=True)
        path = stem.parent / f"{stem.name}_p{i + 1:03d}.json"
        rel = str(path.relative_to(out_dir))
        if rng is not None:
            chunk, defects = plant_defects(chunk, source, _API, rng, rel)
            done.defects.extend(defects)
        recs = _records(chunk)
        body = {
            "content": recs,
            "totalElements": total,
            "totalPages": pages,
            "size": size,
            "number": i,
            "first": i == 0,
            "last": i == pages - 1,
            "numberOfElements": len(recs),
            "sort": None,
        }
        _dump(path, body)
        done.add(source, len(recs))


def page_size(total: int, base: int) -> int:
    """``base`` records a page, raised (in hundreds) so that a snapshot takes at most
    :data:`MAX_PAGES` pages: a crawler of a national register asks for bigger pages, and
    every file is one ingest batch."""
    need = -(-total // MAX_PAGES)
    return max(base, -(-need // 100) * 100)


def _capital(value: float) -> str:
    """万元 as a detail page prints it: "1,000", "1,234.5"."""
    text = f"{value:,.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _percent(ratio: float) -> str:
    text = f"{ratio * 100:.2f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _scale_range(wan: float) -> str:
    for limit, label in _SCALE_BANDS:
        if wan < limit:
            return label
    return "100亿元以上"


# --------------------------------------------------------------------------- list rows


def _manager_pages(
    w: World,
    dress: _Dress,
    q: int,
    count: IntA,
    folder: Path,
    rng: np.random.Generator,
    done: Written,
) -> None:
    sd = int(w.snaps[q])
    idx = listed(w, sd)
    if idx.size == 0:
        return
    moved = w.move_day[idx] <= sd
    off_prov = np.where(moved, w.off_prov1[idx], w.off_prov[idx])
    off_city = np.where(moved, w.off_city1[idx], w.off_city[idx])
    member = np.where(w.member_day[idx] <= sd, w.member1[idx], w.member[idx])
    tips = np.array([any(d <= sd for d, _ in w.tips[m]) for m in idx.tolist()], dtype=bool)
    has_product = np.array(
        [bool((w.f_record[w.funds_of(m)] <= sd).any()) for m in idx.tolist()], dtype=bool
    )
    frame = pd.DataFrame(
        {
            "id": dress.m_id[idx],
            "managerName": w.name[idx],
            "artificialPersonName": np.where(
                w.person_day[idx] <= sd, w.person1[idx], w.person0[idx]
            ),
            "registerNo": w.reg_no[idx],
            "establishDate": w.establish[idx],
            "managerHasProduct": has_product,
            "url": np.array([f"{i}.html" for i in dress.m_id[idx]], dtype=object),
            "registerDate": w.register[idx],
            "registerAddress": w.reg_addr[idx],
            "registerProvince": w.reg_prov[idx],
            "registerCity": w.reg_city[idx],
            "regAdrAgg": [
                _agg(p, c) for p, c in zip(w.reg_prov[idx], w.reg_city[idx], strict=True)
            ],
            "officeAdrAgg": [_agg(p, c) for p, c in zip(off_prov, off_city, strict=True)],
            "fundCount": count[idx, q],
            "paidInCapital": np.ones(idx.size, dtype=np.int64),
            "subscribedCapital": np.zeros(idx.size, dtype=np.int64),
            "hasSpecialTips": tips,
            "hasCreditTips": w.credit_day[idx] <= sd,
            "regCoordinate": dress.reg_coord[idx],
            "officeCoordinate": np.where(moved, dress.off_coord1[idx], dress.off_coord[idx]),
            "officeAddress": np.where(moved, w.off_addr1[idx], w.off_addr[idx]),
            "officeProvince": off_prov,
            "officeCity": off_city,
            "primaryInvestType": np.array(MANAGER_TYPES, dtype=object)[w.mtype[idx]],
            "fundTypeScaleMap": np.full(idx.size, None, dtype=object),
            "memberType": MEMBER_PUBLIC[member],
            "orgForm": dress.org_form[idx],
        }
    )
    frame = _epoch(frame, ("establishDate", "registerDate"))
    out_dir = folder.parents[1]
    _pages(frame, "managers", folder / "pof_manager_query", MANAGER_PAGE_ROWS, rng, done, out_dir)


def _fund_pages(
    w: World,
    dress: _Dress,
    q: int,
    states: IntA,
    lqu: BoolA,
    folder: Path,
    rng: np.random.Generator,
    done: Written,
) -> None:
    sd = int(w.snaps[q])
    idx = np.flatnonzero(w.f_record <= sd)
    if idx.size == 0:
        return
    mgr = w.f_mgr[idx]
    mid = dress.m_id[mgr]
    murl = np.array([f"../manager/{i}.html" for i in mid], dtype=object)
    info = [
        [{"managerId": int(i), "managerUrl": u, "managerName": str(nm)}]
        for i, u, nm in zip(mid, murl, w.name[mgr], strict=True)
    ]
    frame = pd.DataFrame(
        {
            "id": dress.f_id[idx],
            "fundNo": w.f_no[idx],
            "fundName": w.f_name[idx],
            "managerName": w.name[mgr],
            "managerType": np.full(idx.size, "受托管理", dtype=object),
            "workingState": np.array(WORKING_STATES, dtype=object)[states[idx, q]],
            "putOnRecordDate": w.f_record[idx],
            "lastQuarterUpdate": lqu[idx, q],
            "isDeputeManage": np.where(w.f_custodian[idx] != "", "是", "否").astype(object),
            "url": np.array([f"{i}.html" for i in dress.f_id[idx]], dtype=object),
            "establishDate": w.f_establish[idx],
            "managerUrl": murl,
            "mandatorName": w.f_custodian[idx],
            "managersInfo": pd.Series(info, dtype=object).to_numpy(),
        }
    )
    frame = _epoch(frame, ("putOnRecordDate", "establishDate"))
    out_dir = folder.parents[1]
    _pages(frame, "funds", folder / "pof_fund", FUND_PAGE_ROWS, rng, done, out_dir)


def _cancellations(
    w: World, dress: _Dress, prev: int, sd: int, folder: Path, done: Written
) -> None:
    """Deregistrations with prev < cancelDate <= sd: list pages, then the crawler's details."""
    exits = sorted((e for e in w.exits if prev < e.day <= sd), key=lambda e: (e.day, e.m))
    if not exits:
        return
    m = np.array([e.m for e in exits], dtype=np.int64)
    reasons = [V.CANCEL_REASONS[e.reason] for e in exits]
    # Old managers are known by their 9-character organisation code, as on the real list.
    old = w.register[m] < 16_800  # registered before 2016
    codes = np.where(
        old, [f"{u[8:16]}-{u[16]}" for u in w.uscc[m]], w.uscc[m].astype(object)
    ).astype(object)
    frame = pd.DataFrame(
        {
            "userTenantId": [int(i) for i in dress.m_id[m]],
            "orgName": w.name[m],
            "orgCode": codes,
            "establishmentTime": w.establish[m],
            "orgSignDate": w.register[m],
            "cancelDate": np.array([e.day for e in exits], dtype=np.int64),
            "status": [r[0] for r in reasons],
            "detailUrl": [f"{_SITE}/cancelled/manager/{i}.html" for i in dress.m_id[m]],
            "statusName": [r[1] for r in reasons],
        }
    )
    frame = _epoch(frame, ("establishmentTime", "orgSignDate", "cancelDate"))
    out_dir = folder.parents[1]
    _pages(
        frame, "cancellations", folder / "cancelled_manager", CANCEL_PAGE_ROWS, None, done, out_dir
    )
    details = []
    for i, e in enumerate(exits):
        mm = e.m
        product = int((w.f_record[w.funds_of(mm)] <= e.day).sum())
        details.append(
            {
                "orgName": str(w.name[mm]),
                "orgCode": str(codes[i]),
                "parsed_detail": {
                    "managerType": MANAGER_TYPES[int(w.mtype[mm])],
                    "registerAddress": str(w.reg_addr[mm]),
                    "officeAddress": str(
                        w.off_addr1[mm] if w.move_day[mm] <= e.day else w.off_addr[mm]
                    ),
                    "registeredCapital": _capital(float(w.subscribed[mm])),
                    "paidInCapital": _capital(float(w.paid_in[mm])),
                    "productCount": product,
                    "cancelReason": reasons[i][2],
                    "cancelType": reasons[i][1],
                },
            }
        )
    _dump(folder / "crawler_parsed_cancellation_details.json", details)
    done.add("cancellations", len(details))


# --------------------------------------------------------------------------- detail pages


@dataclass(frozen=True)
class _Detail:
    """What one manager's detail page says on one day."""

    m: int
    register_no: str
    name: str
    amac_id: str
    uscc: str
    register_date: str
    establish_date: str
    register_address: str
    office_address: str
    subscribed: str
    paid_in: str
    ratio: str
    employees: int
    qualified: int
    invest_type: str
    member: str
    legal_rep: str
    controller: str
    execs: list[tuple[str, str, str]]
    holders: list[tuple[str, str]]
    scale_range: str
    integrity: list[tuple[str, str]]
    institution: list[tuple[str, str]]
    special: list[tuple[str, str]]
    last_update: str


def _details(
    w: World,
    dress: _Dress,
    q: int,
    scale: FloatA,
    update_lag: IntA,
) -> Iterator[_Detail]:
    sd = int(w.snaps[q])
    idx = listed(w, sd)
    emp, qual = staff(w, idx, q)
    for k, m in enumerate(idx.tolist()):
        moved = w.move_day[m] <= sd
        off_prov, off_city = (
            (w.off_prov1[m], w.off_city1[m]) if moved else (w.off_prov[m], w.off_city[m])
        )
        special: list[tuple[str, str]] = []
        integrity: list[tuple[str, str]] = []
        for day, text in w.tips[m]:
            if day > sd:
                continue
            block, category = V.TIP_CATEGORY[_TIP_KEY[text]]
            head, sep, rest = text.partition("：")
            explanation = rest if sep and len(head) <= 8 else text
            (integrity if block == "integrity" else special).append((category, explanation))
        if w.credit_day[m] <= sd:
            category = _CREDIT.get(str(w.sc[m]), "相关主体存在不良诚信记录")
            integrity.insert(0, (category, "详见协会自律措施及行政监管措施公示。"))
        institution: list[tuple[str, str]] = []
        recorded = bool((w.f_record[w.funds_of(m)] <= sd).any())
        checks = (
            ("新登记机构", sd - int(w.register[m]) < 365),
            ("尚未备案产品", not recorded),
            (
                "注册地与办公地不在同一辖区",
                _agg(w.reg_prov[m], w.reg_city[m]) != _agg(off_prov, off_city),
            ),
            ("实缴资本低于注册资本的25%", w.paid_in[m] < 0.25 * w.subscribed[m]),
        )
        for category, on in checks:
            if on:
                institution.append((category, V.INSTITUTION_TIPS[category]))
        rep = str(w.person1[m] if w.person_day[m] <= sd else w.person0[m])
        execs = [(rep, *dress.execs[m][0][1:]), *dress.execs[m][1:]]
        member = int(w.member1[m] if w.member_day[m] <= sd else w.member[m])
        last = max(min(sd - int(update_lag[m, q]), int(w.stale_day[m])), int(w.register[m]))
        yield _Detail(
            m=m,
            register_no=str(w.reg_no[m]),
            name=str(w.name[m]),
            amac_id=str(dress.m_id[m]),
            uscc=str(w.uscc[m]),
            register_date=_iso(int(w.register[m])),
            establish_date=_iso(int(w.establish[m])),
            register_address=str(w.reg_addr[m]),
            office_address=str(w.off_addr1[m] if moved else w.off_addr[m]),
            subscribed=_capital(float(w.subscribed[m])),
            paid_in=_capital(float(w.paid_in[m])),
            ratio=_percent(float(w.paid_in[m] / w.subscribed[m])),
            employees=int(emp[k]),
            qualified=int(qual[k]),
            invest_type=MANAGER_TYPES[int(w.mtype[m])],
            member=str(MEMBER_PUBLIC[member]),
            legal_rep=rep,
            controller=str(dress.controller[m]),
            execs=execs,
            holders=dress.holders[m],
            scale_range=_scale_range(float(scale[m, q])),
            integrity=integrity,
            institution=institution,
            special=special,
            last_update=_iso(last),
        )


def _tip_text(items: list[tuple[str, str]]) -> str:
    return "\n".join(f"{c}：{e}" if e else c for c, e in items)


def _manager_details(
    w: World,
    dress: _Dress,
    q: int,
    scale: FloatA,
    update_lag: IntA,
    folder: Path,
    done: Written,
) -> None:
    crawled: list[dict[str, Any]] = []
    for d in _details(w, dress, q, scale, update_lag):
        if d.m in dress.html_managers:
            path = folder / "manager" / f"{d.amac_id}.html"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(manager_page(d), "utf-8")
            done.add("manager_details", 1)
            continue
        crawled.append(
            {
                "registerNo": d.register_no,
                "detailUrl": f"{_SITE}/pof/manager/{d.amac_id}.html",
                "parsed_detail": {
                    "officeAddress": d.office_address,
                    "registeredCapital": d.subscribed,
                    "paidInCapital": d.paid_in,
                    "paidRatio": d.ratio,
                    "employeeCount": str(d.employees),
                    "qualifiedCount": str(d.qualified),
                    "scaleRange": d.scale_range,
                    "actualController": d.controller,
                    "executives": [
                        {"name": n, "role": r, "qualification": qf} for n, r, qf in d.execs
                    ],
                    "shareholders": [{"name": n, "ratio": r} for n, r in d.holders],
                    "integrityInfo": _tip_text(d.integrity),
                    "institutionInfo": _tip_text(d.institution),
                    "specialInfo": _tip_text(d.special),
                },
            }
        )
    if crawled:
        _dump(folder / "crawler_parsed_manager_details.json", crawled)
        done.rows["manager_details"] = done.rows.get("manager_details", 0) + len(crawled)
        done.files["manager_details"] = done.files.get("manager_details", 0) + 1


_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
    <meta charset="UTF-8">
    <title>{title} - 中国证券投资基金业协会</title>
    <link rel="canonical" href="{url}">
    <script src="../../common/js/jquery.min.js"></script>
</head>
<body>
<div id="app-main-div">
<div class="page-body info-page">
<div class="wrap-layer">
<div class="info-body">
"""
_TAIL = """</div>
</div>
</div>
</div>
</body>
</html>
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _tip_block(label: str, items: list[tuple[str, str]], *, title: bool = False) -> str:
    rows = "".join(
        f'<tr><td class="c_b5151d" style="width:155px;background-color:#f9f9f9;">{_e(c)}</td>'
        f"<td>{_e(x)}</td></tr>\n"
        for c, x in items
    )
    head = (
        f'<td class="title">{label}:</td>'
        if title
        else f'<td style="width:15%;background-color:#f9f9f9;">{label}</td>'
    )
    return (
        f'<tr>{head}<td style="padding: 0px"><table style="margin-top: 0px;'
        f'border-style: hidden"><tbody>\n{rows}</tbody></table></td></tr>\n'
    )


def _section(title: str, rows: str) -> str:
    return (
        f'<div class="section">\n<div class="common-tit"><span>{title}</span></div>\n'
        f'<div class="table-response"><table class="table"><tbody>\n{rows}</tbody></table>'
        "</div>\n</div>\n"
    )


def _pair(label: str, value: object, *, span: bool = True) -> str:
    cols = ' colspan="3"' if span else ""
    return f'<tr><td class="title">{label}</td><td{cols}>{_e(value)}</td></tr>\n'


def manager_page(d: _Detail) -> str:
    """A manager detail page in the current (2021+) AMAC layout (as in
    ``tests/fixtures/details/manager_detail_page_reconstructed.html``)."""
    tips = (
        '<div class="section"><div class="rule"><div class="table-response">'
        '<table class="table"><tbody>\n'
        + _tip_block("机构诚信信息", d.integrity)
        + _tip_block("机构提示信息", d.institution)
        + _tip_block("基金业协会特别提示（针对私募基金管理人）", d.special, title=True)
        + "</tbody></table></div></div></div>\n"
    )
    info = (
        _pair("基金管理人全称(中文)", d.name)
        + _pair("基金管理人全称(英文)", "")
        + f'<tr><td class="title">登记编号</td><td>{_e(d.register_no)}</td>'
        f'<td class="title">组织机构代码</td><td>{_e(d.uscc)}</td></tr>\n'
        f'<tr><td class="title">登记时间</td><td>{d.register_date}</td>'
        f'<td class="title">成立时间</td><td>{d.establish_date}</td></tr>\n'
        + _pair("注册地址", d.register_address)
        + _pair("办公地址", d.office_address)
        + f'<tr><td class="title">注册资本(万元)(人民币)</td><td>{d.subscribed}</td>'
        f'<td class="title">实缴资本(万元)(人民币)</td><td>{d.paid_in}</td></tr>\n'
        f'<tr><td class="title">企业性质</td><td>内资企业</td>'
        f'<td class="title">注册资本实缴比例</td><td>{d.ratio}</td></tr>\n'
        + _pair("机构类型", d.invest_type)
        + '<tr><td class="title"><div>全职员工人数:</div><div id="employeeTip"></div></td>'
        f'<td>{d.employees}</td><td class="title"><div>取得基金从业人数</div></td>'
        f"<td>{d.qualified}</td></tr>\n"
        + _pair("机构网址", "")
        + _pair("管理规模区间", d.scale_range)
        + _pair("机构信息最后更新时间", d.last_update)
    )
    is_member = "否" if d.member == "非会员机构" else "是"
    member = _pair("是否为会员", is_member) + _pair("当前会员类型", d.member)
    execs = ""
    for name, role, qualified in d.execs:
        role_html = "<br/>".join(_e(r) for r in role.split())
        execs += (
            f'<tr><td class="title">职务</td><td>{role_html}</td>'
            f'<td class="title">姓名</td><td>{_e(name)}</td></tr>\n'
            f'<tr><td class="title">是否有基金从业资格</td><td>{qualified}</td>'
            f'<td class="title">资格获取方式</td><td>{"考试" if qualified == "是" else ""}</td>'
            "</tr>\n"
        )
    holders = "".join(
        f"<tr><td>{i + 1}</td><td>{_e(n)}</td><td>{_e(r)}</td></tr>"
        for i, (n, r) in enumerate(d.holders)
    )
    holder_rows = (
        '<tr><td class="title">出资人</td><td colspan="3"><table class="list-table"><thead>'
        "<tr><th>序号</th><th>出资人名称</th><th>出资比例</th></tr></thead><tbody>"
        f"{holders}</tbody></table></td></tr>\n"
    )
    return (
        _HEAD.format(title="私募基金管理人公示", url=f"{_SITE}/pof/manager/{d.amac_id}.html")
        + tips
        + _section("机构信息", info)
        + _section("会员信息", member)
        + _section("法律意见书信息", _pair("法律意见书状态", "办结"))
        + _section(
            "实际控制人信息",
            _pair("法定代表人/执行事务合伙人(委派代表)姓名", d.legal_rep)
            + _pair("实际控制人姓名 / 名称", d.controller),
        )
        + _section("高管信息", execs)
        + _section("出资人信息", holder_rows)
        + _TAIL
    )


def disclosure_counts(w: World, funds: IntA, sd: int) -> dict[str, IntA]:
    """Per fund: reports due by ``sd`` (应披露), filed by their due date (按时披露) and not
    filed by ``sd`` (未披露), for monthly, quarterly and annual reports."""
    state = fund_state(w, w.pe)
    active = (w.f_record[:, None] <= w.pe[None, :]) & ((state == 0) | (state == 3))
    sec = w.f_type[funds] == 0
    out: dict[str, IntA] = {}
    for kind, delay, due, valid in (
        ("monthly", w.delay_m, w.due_m, np.ones(w.pe.size, dtype=bool)),
        ("quarterly", w.delay_q, w.due_q, w.is_q),
        ("annual", w.delay_a, w.due_a, w.is_a),
    ):
        ob = active[funds] & (valid & (due <= sd))[None, :]
        if kind == "monthly":
            ob &= sec[:, None]
        dl = delay[funds]
        sub = np.where(dl >= MISSING, NEVER, np.maximum(due[None, :] + dl, w.pe[None, :] + 1))
        out[f"{kind}Due"] = ob.sum(axis=1)
        out[f"{kind}OnTime"] = (ob & (dl <= 0)).sum(axis=1)
        out[f"{kind}Missing"] = (ob & (sub > sd)).sum(axis=1)
    return out


def _fund_details(
    w: World,
    dress: _Dress,
    q: int,
    states: IntA,
    folder: Path,
    rng: np.random.Generator,
    done: Written,
) -> None:
    sd = int(w.snaps[q])
    pool = np.flatnonzero(w.f_record <= sd)
    if pool.size == 0:
        return
    k = int(min(max(round(FUND_DETAIL_SHARE * w.f_mgr.size), 2), FUND_DETAIL_MAX, pool.size))
    funds = np.sort(rng.choice(pool, k, replace=False))
    counts = disclosure_counts(w, funds, sd)
    for i, f in enumerate(funds.tolist()):
        m = int(w.f_mgr[f])
        disclosure = {
            kind: (
                int(counts[f"{kind}Due"][i]),
                int(counts[f"{kind}OnTime"][i]),
                int(counts[f"{kind}Missing"][i]),
            )
            for kind in ("monthly", "quarterly", "annual")
        }
        page = fund_page(
            fund_id=str(dress.f_id[f]),
            fund_no=str(w.f_no[f]),
            name=str(w.f_name[f]),
            establish=_iso(int(w.f_establish[f])),
            record=_iso(int(w.f_record[f])),
            fund_type=FUND_TYPES[int(w.f_type[f])],
            area=f"{w.reg_prov[m]}{'' if w.reg_prov[m] == w.reg_city[m] else w.reg_city[m]}",
            money="人民币现钞" if w.f_money[f] == "人民币" else "美元现汇",
            manager_id=str(dress.m_id[m]),
            manager=str(w.name[m]),
            custodian=str(w.f_custodian[f]),
            state=WORKING_STATES[int(states[f, q])],
            updated=_iso(max(int(w.f_record[f]), sd - int(rng.integers(0, 60)))),
            disclosure=disclosure,
            account_rate=float(rng.uniform(0.6, 1.0)),
        )
        path = folder / "fund" / f"{dress.f_id[f]}.html"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(page, "utf-8")
        done.add("fund_details", 1)


def fund_page(
    *,
    fund_id: str,
    fund_no: str,
    name: str,
    establish: str,
    record: str,
    fund_type: str,
    area: str,
    money: str,
    manager_id: str,
    manager: str,
    custodian: str,
    state: str,
    updated: str,
    disclosure: dict[str, tuple[int, int, int]],
    account_rate: float,
) -> str:
    """A fund detail page in the real page's layout (``tests/fixtures/real_amac/
    fund_detail_page_raw.html``)."""

    def row(label: str, value: str) -> str:
        return f'<tr><td class="title">{label}:</td><td>{value}</td></tr>\n'

    labels = (("monthly", "月报"), ("quarterly", "季报"), ("annual", "年报"))
    counts = {k: disclosure.get(k, (0, 0, 0)) for k, _ in labels}
    report_rows = ""
    for key, label in (
        ("monthly", "月报"),
        ("quarterly", "季报"),
        ("semiannual", "半年报"),
        ("annual", "年报"),
    ):
        due, on_time, missing = counts.get(key, (0, 0, 0))
        report_rows += row(
            label, f"应披露{due}条，按时披露{on_time}条，\n <span>\n未披露{missing}条；</span>"
        )
    report_rows += (
        '<tr><td class="title"><div style="float: right">投资者查询账号开立率:</div>'
        f'<div id="investorOpenTip"></div></td><td>{account_rate * 100:.2f}%</td></tr>\n'
    )
    tips = (
        '<div class="section"><div class="rule"><div class="table-response">'
        '<table class="table"><tbody>\n'
        + _tip_block("机构诚信信息", [])
        + _tip_block("机构提示信息", [])
        + row("基金业协会特别提示（针对基金）", "")
        + "</tbody></table></div></div>\n"
    )
    info = (
        row("基金名称", _e(name))
        + row("基金编号", _e(fund_no))
        + row("成立时间", establish)
        + row("备案时间", record)
        + row("基金备案阶段", "暂行办法实施后成立的基金")
        + row("基金类型", fund_type)
        + row("注册地", _e(area))
        + row("币种", money)
        + row(
            "基金管理人名称",
            f'<a href="../manager/{manager_id}.html" target="blank">{_e(manager)}</a>',
        )
        + row("管理类型", "受托管理")
        + row("托管人名称", _e(custodian))
        + row("运作状态", state)
        + row("基金信息最后更新时间", updated)
    )
    return (
        _HEAD.format(title="私募基金公示", url=f"{_SITE}/pof/fund/{fund_id}.html")
        + tips
        + f'<div class="table-response"><table class="table"><tbody>\n{info}</tbody></table>'
        "</div>\n</div>\n" + _section("信息披露情况", report_rows) + _TAIL
    )


__all__ = [
    "Written",
    "detail_dates",
    "disclosure_counts",
    "fund_page",
    "manager_page",
    "write_public",
]
