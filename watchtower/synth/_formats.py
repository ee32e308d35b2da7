"""Write contract tables in the mix of formats supervisors receive, with planted defects.

A :class:`Style` fixes container (AMAC API page JSON, JSON Lines, CSV, XLSX), headers
(camelCase or Chinese labels), encoding, date style, money unit and boolean/enum spelling.
Each source rotates through its styles file by file (:data:`ROTATION`). All output is
byte-for-byte deterministic: no wall clock, fixed XLSX zip timestamps and document times.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from openpyxl import Workbook

from watchtower.contract import (
    EVENT_TYPE_ZH,
    FIELDS,
    INCIDENT_TYPE_ZH,
    REPORT_TYPE_ZH,
    Field,
    Source,
)
from watchtower.synth._calendar import NEVER, SHANGHAI_MS, DateFormatter

DEFECT_RATE = 0.003
CSV_MAX_ROWS = 100_000
XLSX_MAX_ROWS = 5_000
_XLSX_TIME = "2000-01-01T00:00:00Z"


@dataclass(frozen=True)
class Style:
    container: str  # api | jsonl | csv | xlsx
    headers: str = "camel"  # camel | zh
    encoding: str = "utf-8"  # utf-8 | utf-8-sig | gb18030
    dates: str = "iso"  # iso | slash | cn | epoch
    money: str = "万元"  # 万元 | 元
    bools: str = "tf"  # tf | zh | yn | 01
    enums: str = "en"  # en | zh (reportType, eventType, incidentType)

    @property
    def ext(self) -> str:
        return {"api": "json", "jsonl": "jsonl", "csv": "csv", "xlsx": "xlsx"}[self.container]


ROTATION: dict[str, tuple[Style, ...]] = {
    # the supervisor's own manager export (the public list is written by ``_public``)
    "managers": (
        Style("csv", "zh", "gb18030", "cn", money="元", bools="zh"),
        Style("xlsx", "zh", dates="slash", bools="yn"),
        Style("csv", "camel", "utf-8-sig", "iso"),
    ),
    "reports": (
        Style("csv", "camel", "utf-8", "iso"),
        Style("csv", "zh", "gb18030", "slash", money="元", enums="zh"),
        Style("csv", "zh", "utf-8-sig", "cn", enums="zh"),
    ),
    "events": (
        Style("jsonl", dates="iso"),
        Style("csv", "zh", "gb18030", "cn", enums="zh"),
        Style("xlsx", "zh", dates="slash", enums="zh"),
        Style("jsonl", dates="slash", enums="zh"),
    ),
    "incidents": (
        Style("csv", "camel", "utf-8", "iso"),
        Style("xlsx", "zh", dates="cn", enums="zh"),
    ),
}
_FALLBACK = Style("csv", "zh", "gb18030", "cn", bools="zh", enums="zh")

_ENUM_ZH: dict[str, dict[str, str]] = {
    "reportType": REPORT_TYPE_ZH,
    "eventType": EVENT_TYPE_ZH,
    "incidentType": INCIDENT_TYPE_ZH,
}
_BOOLS = {"tf": ("true", "false"), "zh": ("是", "否"), "yn": ("Y", "N"), "01": ("1", "0")}
_BAD_DATES = ("2024-02-30", "不详", "0000-00-00", "2023/13/01", "2023年6月31日", "N/A")


@dataclass
class Defect:
    file: str
    row: int
    field: str
    kind: str
    register_no: str


def _header(f: Field, style: Style) -> str:
    if style.headers == "camel":
        return f.name
    if f.kind == "money":
        return f"{f.zh}({style.money})"
    if f.name == "leverageRatio" and style.encoding == "gb18030":
        return "杠杆率(总资产/净资产)"
    return f.zh


def render(frame: pd.DataFrame, source: Source, style: Style, fmt: DateFormatter) -> pd.DataFrame:
    """Canonical frame (dates as day numbers) -> output frame in ``style``."""
    cols: dict[str, Any] = {}
    for f in FIELDS[source]:
        if f.name not in frame.columns:
            continue
        s = frame[f.name]
        if f.kind == "date":
            days = s.to_numpy(dtype=np.int64)
            if style.dates == "epoch":
                ms = days * 86_400_000 - SHANGHAI_MS
                val: Any = pd.array(np.where(days >= NEVER, 0, ms), dtype="Int64")
                val[days >= NEVER] = pd.NA
            else:
                val = fmt.format(days, style.dates)
        elif f.kind == "money" and style.money == "元":
            val = (s * 10_000).round(2)
        elif f.kind == "bool" and style.container != "api" and style.bools != "tf":
            yes, no = _BOOLS[style.bools]
            val = np.where(s.to_numpy(dtype=bool), yes, no).astype(object)
        elif f.kind == "bool" and style.container not in ("api", "jsonl"):
            val = np.where(s.to_numpy(dtype=bool), "true", "false").astype(object)
        elif f.name in _ENUM_ZH and style.enums == "zh":
            val = s.map(_ENUM_ZH[f.name]).fillna(s).to_numpy(dtype=object)
        else:
            val = s
        cols[_header(f, style)] = val
    out = pd.DataFrame(cols)
    out.index = pd.RangeIndex(len(out))
    return out


def _key_column(source: Source, style: Style) -> tuple[str, str]:
    name = {
        "managers": "registerNo",
        "funds": "fundNo",
        "reports": "fundNo",
        "events": "registerNo",
    }[source]
    f = next(x for x in FIELDS[source] if x.name == name)
    return name, _header(f, style)


def plant_defects(
    out: pd.DataFrame, source: Source, style: Style, rng: np.random.Generator, rel: str
) -> tuple[pd.DataFrame, list[Defect]]:
    """Spoil about 0.3% of rows: bad date, empty key, negative money, short code, duplicate."""
    n = len(out)
    k = int(rng.binomial(n, DEFECT_RATE)) if n else 0
    if k == 0 or source == "incidents":
        return out, []
    rows = np.sort(rng.choice(n, min(k, n), replace=False))
    heads = {f.name: _header(f, style) for f in FIELDS[source] if _header(f, style) in out}
    reg_head = heads.get("registerNo")
    kinds = ["bad_date", "empty_key", "duplicate"]
    if reg_head:
        kinds.append("bad_code")
    money = [f.name for f in FIELDS[source] if f.kind == "money" and f.name in heads]
    if style.container == "api":
        money = []  # a list row's money fields are placeholders (1, 0), not amounts
    if money:
        kinds.append("negative_money")
    dates = [
        f.name
        for f in FIELDS[source]
        if f.kind == "date" and f.name in heads and f.name not in ("snapshotDate", "submittedDate")
    ]
    plan: list[tuple[int, str, str]] = []
    for r in rows.tolist():
        kind = kinds[int(rng.integers(len(kinds)))]
        plan.append((r, kind, _defect_field(kind, source, style, dates, money, rng)))
    reg_vals = out[reg_head].astype(object).tolist() if reg_head else [""] * n
    out = out.copy()
    for r, kind, field in plan:
        if field:
            _spoil(out, r, kind, heads, field, source, rng)
    dups = np.array([r for r, kind, _ in plan if kind == "duplicate"], dtype=np.int64)
    order = np.insert(np.arange(n), dups + 1, dups) if dups.size else np.arange(n)
    out = out.iloc[order].reset_index(drop=True)
    defects: list[Defect] = []
    for r, kind, field in plan:
        shift = int(np.searchsorted(dups, r, side="left"))
        pos = r + shift + (1 if kind == "duplicate" else 0)
        defects.append(Defect(rel, pos, field, kind, str(reg_vals[r] or "")))
    return out, defects


def _defect_field(
    kind: str,
    source: Source,
    style: Style,
    dates: list[str],
    money: list[str],
    rng: np.random.Generator,
) -> str:
    """The field a defect of ``kind`` spoils ("" for a duplicate row)."""
    if kind == "bad_date":
        return dates[int(rng.integers(len(dates)))]
    if kind == "empty_key":
        return _key_column(source, style)[0]
    if kind == "bad_code":
        return "registerNo"
    if kind == "negative_money":
        return money[int(rng.integers(len(money)))]
    return ""


def _spoil(
    out: pd.DataFrame,
    r: int,
    kind: str,
    heads: dict[str, str],
    field: str,
    source: Source,
    rng: np.random.Generator,
) -> None:
    """Spoil ``field`` of row ``r`` in place as a defect of ``kind``."""
    head = heads[field]
    if out[head].dtype != object:
        out[head] = out[head].astype(object)
    if kind == "bad_date":
        out.at[r, head] = _BAD_DATES[int(rng.integers(len(_BAD_DATES)))]
    elif kind == "empty_key":
        out.at[r, head] = ""
        if source == "events":
            out.at[r, heads["uscc"]] = ""
    elif kind == "bad_code":
        out.at[r, head] = "P123"
    elif kind == "negative_money":
        v: Any = out.at[r, head]
        out.at[r, head] = -abs(float(v)) if v is not None and v == v and v != "" else -100.0


def _json_records(out: pd.DataFrame) -> list[dict[str, Any]]:
    obj = out.astype(object).where(out.notna(), None)
    recs: list[dict[str, Any]] = [{str(k): v for k, v in r.items()} for r in obj.to_dict("records")]
    for rec in recs:
        for key, val in rec.items():
            if isinstance(val, np.integer):
                rec[key] = int(val)
            elif isinstance(val, np.floating):
                rec[key] = float(val)
            elif isinstance(val, np.bool_):
                rec[key] = bool(val)
    return recs


def hash_str(s: str) -> int:
    """Stable string hash (Python's ``hash`` is salted per process)."""
    h = 1469598103934665603
    for b in s.encode("utf-8"):
        h = ((h ^ b) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def write_jsonl(out: pd.DataFrame, path: Path) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in _json_records(out)]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def write_csv(out: pd.DataFrame, path: Path, encoding: str) -> None:
    out.to_csv(path, index=False, encoding=encoding, na_rep="", lineterminator="\n")


def write_xlsx(out: pd.DataFrame, path: Path, sheet: str) -> None:
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(sheet)
    ws.append(list(out.columns))
    obj = out.astype(object).where(out.notna(), None)
    for row in obj.itertuples(index=False, name=None):
        ws.append([v.item() if isinstance(v, np.generic) else v for v in row])
    buf = io.BytesIO()
    wb.save(buf)
    path.write_bytes(_freeze_zip(buf.getvalue()))


def _freeze_zip(data: bytes) -> bytes:
    """Rewrite an xlsx with fixed entry timestamps and fixed document created/modified times."""
    src = zipfile.ZipFile(io.BytesIO(data))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                text = body.decode("utf-8")
                text = re.sub(
                    r"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)",
                    rf"\g<1>{_XLSX_TIME}\g<3>",
                    text,
                )
                body = text.encode("utf-8")
            zi = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, body)
    return buf.getvalue()
