"""The synthetic world generator: layout, formats, determinism, validity, planted truth."""

from __future__ import annotations

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
    Source,
    header_lookup,
    is_valid_uscc,
    normalize_header,
)
from watchtower.synth import BENIGN, RISKY, SynthSummary, write_world

START, END = dt.date(2023, 1, 1), dt.date(2024, 12, 31)
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
    table = header_lookup(source)
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
    return {
        f"{source}/{p.name}": _canonical(p, source)
        for p in sorted((root / source).iterdir())
        if p.is_file()
    }


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
    for src in ("managers", "funds", "reports", "events", "incidents"):
        assert any((root / src).iterdir()), src
        assert world.rows[src] > 0
    assert (root / "_truth" / "scenarios.csv").is_file()
    names = [p.name for p in (root / "managers").iterdir()]
    assert all(
        re.fullmatch(r"managers_\d{4}-\d{2}-\d{2}(_p\d+)?\.(json|csv|xlsx)", n) for n in names
    )
    assert world.managers == MANAGERS and world.funds > MANAGERS
    assert world.files == sum(1 for p in root.rglob("*") if p.is_file() and "_truth" not in p.parts)


def test_api_page_json_with_epoch_ms(world: SynthSummary) -> None:
    pages = sorted((world.out_dir / "managers").glob("*.json"))
    assert pages
    body = json.loads(pages[0].read_text("utf-8"))
    assert {"content", "totalPages", "totalElements", "number", "size"} <= set(body)
    rec = body["content"][0]
    assert isinstance(rec["registerDate"], int) and rec["registerDate"] > 10**12
    # midnight Asia/Shanghai
    assert (rec["snapshotDate"] + 8 * 3600_000) % 86_400_000 == 0


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
    assert again == SynthSummary(
        again.out_dir,
        *[
            getattr(world, k)
            for k in ("managers", "funds", "files", "rows", "incidents", "benign_outliers")
        ],
    )


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
    assert managers["uscc"].map(is_valid_uscc).all()
    funds = _clean(root, "funds")
    assert funds["fundNo"].map(lambda s: bool(FUND_NO_RE.match(s))).all()
    assert funds["registerNo"].map(lambda s: bool(REGISTER_NO_RE.match(s))).all()
    reports = _clean(root, "reports")
    assert reports["fundNo"].map(lambda s: bool(FUND_NO_RE.match(s))).all()
    events = _clean(root, "events")
    reg = events["registerNo"].fillna("")
    usc = events["uscc"].fillna("")
    assert ((reg != "") | (usc != "")).all()
    assert reg[reg != ""].map(lambda s: bool(REGISTER_NO_RE.match(s))).all()
    assert usc[usc != ""].map(is_valid_uscc).all()
    assert set(events["eventType"].map(_event_en)) == set(EVENT_TYPES)
    assert events["severity"].astype(int).between(1, 5).all()
    # one key per manager, one USCC per manager
    last = managers.drop_duplicates("registerNo")
    assert last["uscc"].is_unique
    assert (managers["subscribedCapital"] >= 0).all()
    assert (managers["paidInCapital"] <= managers["subscribedCapital"] + 1e-6).all()
    emp = managers["employeeCount"].astype(int)
    assert (managers["qualifiedEmployeeCount"].astype(int) <= emp).all()


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
    for row in d[d["kind"] == "bad_code"].itertuples():
        if row.file.startswith("managers/"):
            assert raw[row.file]["registerNo"].iloc[int(row.row)] == "P123"


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
