"""The synthetic world generator: layout, formats, determinism, validity, planted truth."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import pytest

from watchtower.contract import (
    EVENT_TYPES,
    FUND_NO_RE,
    REGISTER_NO_RE,
    SOURCES,
    Source,
    header_lookup,
    is_valid_uscc,
    normalize_header,
)
from watchtower.ingest.aliases import load_aliases
from watchtower.synth import BENIGN, RISKY, SynthSummary, write_world

START, END = dt.date(2023, 1, 1), dt.date(2024, 12, 31)
REAL = Path(__file__).parent / "fixtures" / "real_amac"
MANAGERS = 150


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> SynthSummary:
    return write_world(
        tmp_path_factory.mktemp("a"), managers=MANAGERS, start=START, end=END, seed=11
    )


# --- a tiny reader for the test: every format the generator writes -----------------------

_CN = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日$")
_SLASH = re.compile(r"^(\d{4})[/-](\d{1,2})[/-](\d{1,2})$")


def _date(v: Any) -> dt.date | None:
    if v is None or v == "" or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, int | float):
        return (dt.datetime(1970, 1, 1) + dt.timedelta(milliseconds=int(v) + 8 * 3600_000)).date()
    if isinstance(v, str) and v.isdigit() and len(v) >= 12:
        return _date(int(v))
    m = _CN.match(str(v)) or _SLASH.match(str(v))
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _raw(path: Path) -> pd.DataFrame:
    if path.suffix == ".json":
        body = json.loads(path.read_text("utf-8"))
        return pd.DataFrame(body["content"] if isinstance(body, dict) else body, dtype=object)
    if path.suffix == ".jsonl":
        lines = path.read_text("utf-8").splitlines()
        return pd.DataFrame([json.loads(x) for x in lines if x], dtype=object)
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        rows = list(wb.worksheets[0].iter_rows(values_only=True))
        return pd.DataFrame(rows[1:], columns=list(rows[0]), dtype=object)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("gb18030")
    import io

    return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)


def _canonical(path: Path, source: Source) -> pd.DataFrame:
    """Rows with contract field names; money converted to 万元 where the header says 元."""
    raw = _raw(path)
    table = header_lookup(source, load_aliases())
    cols: dict[str, Any] = {}
    for head in raw.columns:
        key, factor = normalize_header(str(head))
        f = table.get(key)
        if f is None:
            continue
        s = raw[head]
        if f.kind == "money":
            s = pd.to_numeric(s.replace("", None), errors="coerce") * factor
        cols[f.name] = s
    return pd.DataFrame(cols)


def _load(root: Path, source: Source) -> dict[str, pd.DataFrame]:
    """Every table file of ``source`` (detail HTML pages aside), keyed by its path under root;
    rows of a dated folder's file get the folder's date as snapshotDate when they lack one."""
    out: dict[str, pd.DataFrame] = {}
    for p in sorted((root / source).rglob("*")):
        if not p.is_file() or p.suffix == ".html":
            continue
        frame = _canonical(p, source)
        folder = re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.parent.name)
        if folder and "snapshotDate" not in frame:
            frame["snapshotDate"] = p.parent.name
        out[str(p.relative_to(root))] = frame
    return out


def _defect_rows(root: Path) -> set[tuple[str, int]]:
    d = pd.read_csv(root / "_truth" / "defects.csv", dtype=str, keep_default_na=False)
    return {(f, int(r)) for f, r in zip(d["file"], d["row"], strict=True)}


def _clean(root: Path, source: Source) -> pd.DataFrame:
    bad = _defect_rows(root)
    parts = []
    for name, frame in _load(root, source).items():
        keep = [i for i in range(len(frame)) if (name, i) not in bad]
        parts.append(frame.iloc[keep].assign(_file=name))
    return pd.concat(parts, ignore_index=True)


def _truth(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "_truth" / "scenarios.csv", dtype=str, keep_default_na=False)


# --- layout and formats ---------------------------------------------------------------------


def test_layout(world: SynthSummary) -> None:
    root = world.out_dir
    for src in SOURCES:
        assert any((root / src).rglob("*.*")), src
        assert world.rows[src] > 0 and world.files_by_source[src] > 0, src
    assert (root / "_truth" / "scenarios.csv").is_file()
    names = [str(p.relative_to(root / "managers")) for p in (root / "managers").rglob("*.*")]
    pages = [n for n in names if "/" in n]
    exports = [n for n in names if "/" not in n]
    assert pages and all(
        re.fullmatch(r"\d{4}-\d{2}-\d{2}/pof_manager_query_p\d{3}\.json", n) for n in pages
    )
    assert exports and all(re.fullmatch(r"managers_\d{4}-12-31\.(csv|xlsx)", n) for n in exports)
    assert len(exports) < len({n.split("/")[0] for n in pages})  # a minority of dates
    assert world.managers == MANAGERS and world.funds > MANAGERS
    files = [p for p in root.rglob("*") if p.is_file() and "_truth" not in p.parts]
    assert world.files == len(files) == sum(world.files_by_source.values())


def _pages(root: Path, source: str) -> list[tuple[Path, dict[str, Any]]]:
    return [
        (p, json.loads(p.read_text("utf-8")))
        for p in sorted((root / source).rglob("*_p[0-9][0-9][0-9].json"))
    ]


_ENVELOPE = {
    "content",
    "totalElements",
    "totalPages",
    "size",
    "number",
    "first",
    "last",
    "numberOfElements",
    "sort",
}


def _midnight_utc_ms(v: Any) -> bool:
    return isinstance(v, int) and v > 10**11 and v % 86_400_000 == 0


def test_manager_list_pages_in_the_real_shape(world: SynthSummary) -> None:
    root = world.out_dir
    real = json.loads((REAL / "2026-05-07" / "pof_manager_query_shaanxi_office.json").read_text())
    real_keys = set(real["content"][0])
    pages = _pages(root, "managers")
    assert pages
    defects = _defect_rows(root)
    for path, body in pages:
        assert set(body) == _ENVELOPE
        assert body["numberOfElements"] == len(body["content"]) <= body["size"]
        assert body["first"] == (body["number"] == 0)
        assert body["last"] == (body["number"] == body["totalPages"] - 1)
        rel = str(path.relative_to(root))
        for i, rec in enumerate(body["content"]):
            assert set(rec) == real_keys, rel
            assert rec["paidInCapital"] == 1 and rec["subscribedCapital"] == 0
            assert rec["fundTypeScaleMap"] is None
            assert re.fullmatch(r"\d{16}", rec["id"]) and rec["url"] == f"{rec['id']}.html"
            assert rec["orgForm"] in ("有限责任公司", "有限合伙企业", "股份有限公司", "其他")
            assert rec["memberType"] in ("非会员机构", "观察会员", "普通会员")
            lat, lng = map(float, rec["regCoordinate"].split(","))
            assert 15 < lat < 50 and 75 < lng < 130
            city = {"深圳市", "青岛市", "大连市", "宁波市", "厦门市"}
            agg = rec["registerCity"] if rec["registerCity"] in city else rec["registerProvince"]
            assert rec["regAdrAgg"] == agg
            if (rel, i) not in defects:
                assert _midnight_utc_ms(rec["registerDate"]), rec["registerDate"]
                assert _midnight_utc_ms(rec["establishDate"])
                assert REGISTER_NO_RE.match(rec["registerNo"])
    for absent in ("employeeCount", "fundScale", "uscc", "inBlacklist", "specialTips"):
        assert absent not in real_keys


def test_fund_list_pages_link_managers_by_amac_id(world: SynthSummary) -> None:
    root = world.out_dir
    real = json.loads((REAL / "pof_fund_page_raw.json").read_text())
    real_keys = set(real["content"][0])
    ids = {
        rec["id"]: rec["managerName"]
        for _, body in _pages(root, "managers")
        for rec in body["content"]
    }
    pages = _pages(root, "funds")
    assert pages
    for _, body in pages:
        assert set(body) == _ENVELOPE
        for rec in body["content"]:
            assert set(rec) == real_keys and "registerNo" not in rec
            (info,) = rec["managersInfo"]
            assert isinstance(info["managerId"], int)
            mid = str(info["managerId"])
            assert ids[mid] == info["managerName"] == rec["managerName"]
            assert info["managerUrl"] == rec["managerUrl"] == f"../manager/{mid}.html"
            assert rec["managerType"] == "受托管理" and isinstance(rec["lastQuarterUpdate"], bool)
            assert rec["url"] == f"{rec['id']}.html"


def test_detail_pages_parse_and_carry_what_the_world_knows(world: SynthSummary) -> None:
    from watchtower.ingest.details import parse_detail_html

    root = world.out_dir
    truth = _truth(root).set_index("register_no")
    ids = {rec["id"] for _, body in _pages(root, "managers") for rec in body["content"]}
    pages = sorted((root / "manager_details").rglob("*.html"))
    assert pages
    for page in pages:
        source, rec = parse_detail_html(page.read_text("utf-8"))
        assert source == "manager_details"
        assert rec["registerNo"] in truth.index and rec["amacId"] == page.stem in ids
        assert float(rec["subscribedCapital"] or 0) > 0 and rec["paidInCapital"] is not None
        assert 0 < float(rec["paidInRatio"] or 0) <= 1
        assert int(rec["qualifiedEmployeeCount"] or 0) <= int(rec["employeeCount"] or 0)
        assert rec["scaleRange"] and rec["scaleLow"] is not None
        assert rec["memberType"] in ("非会员机构", "观察会员", "普通会员")
        assert rec["actualController"] and json.loads(rec["executives"] or "[]")
    crawled = sorted((root / "manager_details").rglob("crawler_parsed_manager_details.json"))
    assert crawled and len(crawled) < len(_pages(root, "managers"))  # less often than lists
    signals: set[str] = set()
    for path in crawled:
        for rec in json.loads(path.read_text("utf-8")):
            assert set(rec) == {"registerNo", "detailUrl", "parsed_detail"}
            d = rec["parsed_detail"]
            assert re.fullmatch(r"[\d,]+(\.\d+)?", d["registeredCapital"])
            assert (d["paidRatio"].endswith("%") and d["scaleRange"].endswith("亿元")) or d[
                "scaleRange"
            ].endswith("以上")
            assert int(d["qualifiedCount"]) <= int(d["employeeCount"])
            for block in ("integrityInfo", "institutionInfo", "specialInfo"):
                if d[block]:
                    scenario = truth.loc[rec["registerNo"], "scenario"]
                    signals.add(f"{block}:{scenario}")
    # the planted signals reach the detail pages' tip blocks
    assert {s.split(":")[1] for s in signals if s.startswith("integrityInfo")} & set(RISKY)
    funds = sorted((root / "fund_details").rglob("*.html"))
    assert funds
    for page in funds:
        source, rec = parse_detail_html(page.read_text("utf-8"))
        assert source == "fund_details" and rec["amacId"] == page.stem
        assert FUND_NO_RE.match(rec["fundNo"] or "") and rec["managerAmacId"] in ids
        for kind in ("monthly", "quarterly", "annual"):
            due, on_time, missing = (int(rec[f"{kind}{k}"] or -1) for k in _COUNTS)
            assert 0 <= on_time <= due and 0 <= missing <= due


_COUNTS = ("Due", "OnTime", "Missing")


def test_cancellations_for_deregistered_managers(world: SynthSummary) -> None:
    root = world.out_dir
    truth = _truth(root)
    by_name: dict[str, str] = {}
    for _, body in _pages(root, "managers"):
        for rec in body["content"]:
            by_name[rec["managerName"]] = rec["registerNo"]
    scenario = dict(zip(truth["register_no"], truth["scenario"], strict=True))
    rows = [rec for _, body in _pages(root, "cancellations") for rec in body["content"]]
    assert len(rows) == world.deregistrations and world.voluntary_exits > 0
    statuses = {100: "主动注销", 200: "依公告注销", 300: "协会注销", 500: "12个月无在管注销"}
    for rec in rows:
        assert statuses[rec["status"]] == rec["statusName"]
        assert "registerNo" not in rec
        for key in ("establishmentTime", "orgSignDate", "cancelDate"):
            assert _midnight_utc_ms(rec[key])
        kind = scenario[by_name[rec["orgName"]]]
        if rec["status"] == 100:
            assert kind not in RISKY  # a voluntary exit is no incident
        else:
            assert kind in RISKY
    details = [
        rec
        for p in sorted((root / "cancellations").rglob("crawler_parsed_cancellation_details.json"))
        for rec in json.loads(p.read_text("utf-8"))
    ]
    assert {d["orgName"] for d in details} == {r["orgName"] for r in rows}
    reasons = {
        d["parsed_detail"]["cancelType"]: d["parsed_detail"]["cancelReason"] for d in details
    }
    assert reasons.get("主动注销", "") == ""
    assert any("失联" in r or "37号" in r or "12个月" in r for r in reasons.values())
    # a shell leaves the register on its incident day: 注销 is its incident
    shells = truth[(truth["scenario"] == "shell") & (truth["incident_date"] <= END.isoformat())]
    cancelled = {by_name[r["orgName"]]: _date(r["cancelDate"]) for r in rows}
    for reg, day in zip(shells["register_no"], shells["incident_date"], strict=True):
        if day >= START.isoformat():
            assert cancelled[reg] == dt.date.fromisoformat(day)


def test_gb18030_csv_with_chinese_headers_and_yuan(world: SynthSummary) -> None:
    found = False
    for p in (world.out_dir / "managers").glob("*.csv"):
        data = p.read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            header = data.decode("gb18030").splitlines()[0]
            assert header.startswith("登记编号,私募基金管理人名称")
            assert "注册资本(元)" in header
            assert re.search(r"\d{4}年\d{2}月\d{2}日", data.decode("gb18030"))
            found = True
    assert found


def test_xlsx_and_jsonl_present(world: SynthSummary) -> None:
    root = world.out_dir
    xlsx = sorted(root.rglob("*.xlsx"))
    assert xlsx
    wb = openpyxl.load_workbook(xlsx[0], read_only=True)
    header = next(wb.worksheets[0].iter_rows(values_only=True))
    assert any(re.search(r"[\u4e00-\u9fff]", str(h)) for h in header)
    assert any(root.glob("events/*.jsonl"))
    assert any(
        re.search(r"\d{4}/\d{2}/\d{2}", p.read_text("utf-8")) for p in root.glob("*/*.jsonl")
    )


# --- determinism ------------------------------------------------------------------------------


def _bytes(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_same_seed_same_bytes(world: SynthSummary, tmp_path: Path) -> None:
    again = write_world(tmp_path / "b", managers=MANAGERS, start=START, end=END, seed=11)
    a, b = _bytes(world.out_dir), _bytes(again.out_dir)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == b[name], name
    assert dataclasses.replace(again, out_dir=world.out_dir) == world


def test_different_seed_different_bytes(world: SynthSummary, tmp_path: Path) -> None:
    other = write_world(tmp_path / "c", managers=MANAGERS, start=START, end=END, seed=12)
    a, c = _bytes(world.out_dir), _bytes(other.out_dir)
    same = [k for k in a.keys() & c.keys() if a[k] == c[k]]
    assert not [k for k in same if not k.startswith("incidents")]


# --- validity -------------------------------------------------------------------------------


def test_codes_valid_except_planted_defects(world: SynthSummary) -> None:
    root = world.out_dir
    managers = _clean(root, "managers")
    assert managers["registerNo"].map(lambda s: bool(REGISTER_NO_RE.match(s))).all()
    export = managers[managers["_file"].str.fullmatch(r"managers/managers_[^/]+")].copy()
    assert len(export) and export["uscc"].map(is_valid_uscc).all()
    funds = _clean(root, "funds")
    assert funds["fundNo"].map(lambda s: bool(FUND_NO_RE.match(s))).all()
    assert "registerNo" not in funds
    reports = _clean(root, "reports")
    assert reports["fundNo"].map(lambda s: bool(FUND_NO_RE.match(s))).all()
    assert reports["registerNo"].map(lambda s: bool(REGISTER_NO_RE.match(s))).all()
    events = _clean(root, "events")
    reg = events["registerNo"].fillna("")
    usc = events["uscc"].fillna("")
    assert ((reg != "") | (usc != "")).all()
    assert reg[reg != ""].map(lambda s: bool(REGISTER_NO_RE.match(s))).all()
    assert usc[usc != ""].map(is_valid_uscc).all()
    # the supervisor's feed; the other event types are derived from snapshots on ingest
    assert set(events["eventType"].map(_event_en)) == set(
        EVENT_TYPES[: EVENT_TYPES.index("jurisdiction_change")]
    )
    assert events["severity"].astype(int).between(1, 5).all()
    # one USCC per manager; real capital and staff in the supervisor's export
    assert export.drop_duplicates("registerNo")["uscc"].is_unique
    assert (export["subscribedCapital"] >= 0).all()
    assert (export["paidInCapital"] <= export["subscribedCapital"] + 1e-6).all()
    emp = export["employeeCount"].astype(int)
    assert (export["qualifiedEmployeeCount"].astype(int) <= emp).all()
    black = export.loc[export["inBlacklist"].astype(str).isin(["是", "Y", "true"]), "registerNo"]
    scenario = _truth(root).set_index("register_no")["scenario"]
    assert (scenario[black.unique()] == "illegal_fundraising").all()


def _event_en(v: str) -> str:
    from watchtower.contract import EVENT_TYPE_ZH

    back = {zh: en for en, zh in EVENT_TYPE_ZH.items()}
    return back.get(v, v)


def test_defects_planted_and_recorded(world: SynthSummary) -> None:
    d = pd.read_csv(world.out_dir / "_truth" / "defects.csv", dtype=str)
    total = sum(world.rows.values())
    assert 0.001 * total < len(d) < 0.006 * total
    assert {"bad_date", "empty_key", "duplicate", "bad_code", "negative_money"} <= set(d["kind"])
    raw = _load(world.out_dir, "managers")
    hit = d[(d["kind"] == "bad_code") & d["file"].str.startswith("managers/")]
    assert len(hit)
    for row in hit.itertuples():
        assert raw[row.file]["registerNo"].iloc[int(row.row)] == "P123"
    # never in a list row's money: those are the list's placeholders
    money = d[(d["kind"] == "negative_money") & d["file"].str.endswith(".json")]
    assert money.empty


# --- point in time ----------------------------------------------------------------------------


def _period_end(period: str) -> dt.date:
    if "Q" in period:
        y, q = period.split("Q")
        m = int(q) * 3
    elif "-" in period:
        y, mm = period.split("-")
        m = int(mm)
    else:
        y, m = period, 12
    first_next = dt.date(int(y) + (m == 12), m % 12 + 1, 1)
    return first_next - dt.timedelta(days=1)


def _file_date(name: str) -> dt.date:
    m = re.search(r"(\d{4})-(\d{2})-(\d{2})", name)
    assert m
    return dt.date(int(m[1]), int(m[2]), int(m[3]))


def test_point_in_time(world: SynthSummary) -> None:
    root = world.out_dir
    reports = _clean(root, "reports")
    sub = reports["submittedDate"].map(_date)
    ends = reports["period"].map(_period_end)
    files = reports["_file"].map(_file_date)
    has = sub.notna()
    assert (sub[has] > ends[has]).all()
    assert (sub[has] <= files[has]).all()
    due = reports["dueDate"].map(_date)
    assert (due > ends).all()
    assert (due[~has] <= files[~has]).all()  # a not-submitted row is listed once it is overdue
    assert (files <= END).all()
    assert reports["leverageRatio"][has].astype(float).ge(1.0).all()
    annual = reports[reports["reportType"].isin(["annual", "年报"]) & has]
    assert (annual["auditOpinion"] != "").all()
    for src in ("managers", "funds"):
        snaps = _clean(root, src)
        days = set(snaps["snapshotDate"].map(_date))
        assert all(START <= d <= END and (d + dt.timedelta(days=1)).day == 1 for d in days)
        assert all(d.month in (3, 6, 9, 12) for d in days)
    managers = _clean(root, "managers")
    ok = managers["registerDate"].map(_date).notna()
    assert (
        managers["registerDate"].map(_date)[ok] <= managers["snapshotDate"].map(_date)[ok]
    ).all()
    funds = _clean(root, "funds")
    ok = funds["putOnRecordDate"].map(_date).notna()
    assert (funds["putOnRecordDate"].map(_date)[ok] <= funds["snapshotDate"].map(_date)[ok]).all()
    events = _clean(root, "events")
    rep = events["reportedDate"].map(_date)
    ev = events["eventDate"].map(_date)
    ok = rep.notna() & ev.notna()
    assert (rep[ok] >= ev[ok]).all() and (rep[ok] <= END).all()
    assert (rep[ok] <= events["_file"][ok].map(_file_date)).all()


# --- planted truth ----------------------------------------------------------------------------


def _incidents(root: Path) -> pd.DataFrame:
    inc = pd.concat(_load(root, "incidents").values(), ignore_index=True)
    inc["incidentDate"] = inc["incidentDate"].map(_date)
    back = {
        "失联": "lost_contact",
        "兑付危机": "run_off",
        "非法集资": "illegal_fundraising",
        "行政处罚": "enforcement",
        "注销": "deregistered",
    }
    inc["incidentType"] = inc["incidentType"].map(lambda v: back.get(v, v))
    return inc


def test_truth_consistent_with_incidents(world: SynthSummary) -> None:
    root = world.out_dir
    truth = _truth(root)
    assert list(truth.columns) == [
        "register_no",
        "scenario",
        "family",
        "is_risky",
        "is_benign_outlier",
        "incident_type",
        "incident_date",
        "onset_date",
    ]
    assert len(truth) == MANAGERS and truth["register_no"].is_unique
    risky = truth[truth["is_risky"] == "1"]
    assert 0.06 <= len(risky) / len(truth) <= 0.10
    assert set(risky["scenario"]) == set(RISKY)
    assert (risky["incident_date"] != "").all() and (risky["onset_date"] != "").all()
    lead = (pd.to_datetime(risky["incident_date"]) - pd.to_datetime(risky["onset_date"])).dt.days
    assert lead.between(180, 550).all()
    happened = risky[pd.to_datetime(risky["incident_date"]).dt.date <= END]
    inc = _incidents(root)
    assert world.incidents == len(inc)
    written = {
        (r, d.isoformat(), t)
        for r, d, t in inc[["registerNo", "incidentDate", "incidentType"]].itertuples(False)
    }
    planted = set(
        happened[["register_no", "incident_date", "incident_type"]].itertuples(False, None)
    )
    assert written == planted
    assert len(happened) < len(risky) or MANAGERS < 100  # some incidents still in the future
    assert (truth.loc[truth["is_risky"] == "0", "incident_date"] == "").all()


def test_benign_outliers_of_every_kind(world: SynthSummary) -> None:
    root = world.out_dir
    truth = _truth(root)
    benign = truth[truth["is_benign_outlier"] == "1"]
    assert set(benign["scenario"]) == set(BENIGN)
    assert world.benign_outliers == len(benign)
    assert 0.06 <= len(benign) / len(truth) <= 0.10
    assert ((truth["is_benign_outlier"] == "1") & (truth["is_risky"] == "1")).sum() == 0
    managers = _clean(root, "managers")
    managers["snap"] = managers["snapshotDate"].map(_date)
    last = managers.sort_values("snap").groupby("registerNo").tail(1).set_index("registerNo")
    kind = dict(zip(truth["register_no"], truth["scenario"], strict=True))
    large = [r for r in last.index if kind.get(r) == "large_firm"]
    assert all(int(last.loc[r, "fundCount"]) >= 30 for r in large)
    new = [r for r in last.index if kind.get(r) == "new_manager"]
    assert new and all(int(last.loc[r, "fundCount"]) == 0 for r in new)
    movers = {r for r, k in kind.items() if k == "office_mover"}
    cities = managers[managers["registerNo"].isin(movers)].groupby("registerNo")["officeCity"]
    assert (cities.nunique() == 2).all()
    events = _clean(root, "events")
    moved = events[events["eventType"].isin(["address_change", "地址变更"])]
    assert moved["description"].str.contains("办公地址").all()


def test_risky_managers_look_different(world: SynthSummary) -> None:
    """Signals are planted: risky managers' reports are late or missing far more often."""
    root = world.out_dir
    truth = _truth(root).set_index("register_no")
    reports = _clean(root, "reports")
    reports["late"] = reports["submittedDate"].map(_date).isna() | (
        reports["submittedDate"].map(_date) > reports["dueDate"].map(_date)
    )
    per = reports.groupby("registerNo")["late"].mean()
    scen = truth.loc[per.index, "scenario"]
    healthy = per[scen == "healthy"].mean()
    risky = per[scen.isin(["run_off", "lost_contact"])].mean()
    late_filer = per[scen == "late_filer"].mean()
    assert risky > 3 * healthy
    assert late_filer > 0.9  # habitually late, but...
    rows = reports[reports["registerNo"].isin(per[scen == "late_filer"].index)].copy()
    rows["in"] = rows["submittedDate"].map(_date).notna()
    rows = rows[rows["dueDate"].map(_date) < END - dt.timedelta(days=20)]
    # ... every report arrives (an overdue row at a month's end, then the submission)
    assert rows.groupby(["fundNo", "period", rows["reportType"].map(_report_en)])["in"].any().all()


def _report_en(v: str) -> str:
    return {"月报": "monthly", "季报": "quarterly", "年报": "annual"}.get(v, v)


def test_rejects_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_world(tmp_path, managers=10, start=END, end=START, seed=1)
    with pytest.raises(ValueError):
        write_world(
            tmp_path, managers=10, start=dt.date(2024, 1, 2), end=dt.date(2024, 2, 2), seed=1
        )


# --- the real ingestion path --------------------------------------------------------------


def test_a_small_world_ingests_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every file of a synthesized world loads: none failed or rejected, every row counted."""
    from watchtower import pipeline
    from watchtower.config import load_settings

    monkeypatch.setenv("WATCHTOWER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("WATCHTOWER_DB_URL", raising=False)
    world = write_world(
        tmp_path / "landing", managers=60, start=dt.date(2024, 1, 1), end=END, seed=5
    )
    assert all(world.files_by_source[s] for s in SOURCES if s != "cancellations")
    summary = pipeline.ingest(load_settings(), world.out_dir)
    assert summary.files == world.files
    assert summary.files_failed == 0 and summary.files_rejected == 0, [
        (r.path, r.message) for r in summary.results if r.status != "loaded"
    ]
    assert summary.rows_read == (
        summary.rows_loaded + summary.rows_quarantined + summary.rows_rejected
    )
    for r in summary.results:
        assert r.rows_read == r.rows_loaded + r.rows_quarantined + r.rows_rejected, r.path
    assert {r.source for r in summary.results} >= set(SOURCES) - {"cancellations"}
    assert summary.rows_quarantined > 0  # the planted defects
