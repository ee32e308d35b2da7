"""One benchmark stage or floor, run in its own process: ``python -m bench.stages SPEC_JSON``.

The process imports what it needs, times only the work (``time.perf_counter`` around the
call) and prints one JSON line ``{"seconds": ..., "rows": ..., "detail": ...}``. The parent
measures the peak resident memory of the whole process (``os.wait4``), imports included.

Floors (the least any implementation must spend on the same input, measured in the same run):

- ``floor_read``: parse the same landing files into Arrow tables with the fastest generic
  readers: ``pyarrow.csv`` (GB18030 transcoded in Arrow's reader), ``pyarrow.json`` for JSON
  Lines, ``json`` + ``pyarrow.Table.from_pylist`` for JSON lists and API pages, ``openpyxl``
  read-only rows for XLSX. No typing to the contract, no checks, no writes.
- ``floor_features``: read every history row known by the as-of day from the store
  (``pandas.read_sql``) and run one ``groupby(register_no)`` aggregation over reports and
  funds: the I/O and one pass any feature computation needs.
- ``floor_score``: load the stored feature snapshot and fit + score one pyod ``IForest``
  (100 trees) on it: the least anomaly detection on the same matrix.
- ``floor_warn``: read the day's risk scores and insert as many rows into a scratch table: the
  I/O of writing tiers.
- ``floor_digest``: read the open alerts and write them as one HTML table with an f-string:
  the I/O of a digest.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Result = dict[str, Any]


def _settings(spec: dict[str, Any]) -> Any:
    os.environ["WATCHTOWER_HOME"] = spec["home"]
    os.environ.pop("WATCHTOWER_DB_URL", None)
    # the bench wrote its landing files whole before timing: no settle time to wait out
    os.environ["WATCHTOWER_LANDING_SETTLE_SECONDS"] = "0"
    from watchtower.config import load_settings

    return load_settings()


def _day(spec: dict[str, Any]) -> dt.date:
    return dt.date.fromisoformat(spec["as_of"])


# ------------------------------------------------------------------------------ stages


def synth(spec: dict[str, Any]) -> Result:
    from watchtower.synth import write_world

    w = write_world(
        Path(spec["landing"]),
        managers=int(spec["managers"]),
        start=dt.date.fromisoformat(spec["start"]),
        end=dt.date.fromisoformat(spec["end"]),
        seed=int(spec.get("seed", 7)),
    )
    return {
        "rows": sum(w.rows.values()),
        "detail": {
            "managers": w.managers,
            "funds": w.funds,
            "files": w.files,
            "rows": dict(w.rows),
        },
    }


def ingest(spec: dict[str, Any]) -> Result:
    from watchtower import pipeline
    from watchtower.clock import FixedClock

    settings = _settings(spec)
    clock = FixedClock(dt.datetime.fromisoformat(spec["as_of"] + "T23:00:00"))
    s = pipeline.ingest(settings, Path(spec["landing"]), clock=clock)
    return {
        "rows": s.rows_read,
        "detail": {
            "files": s.files,
            "batches": s.batches,
            "loaded": s.files_loaded,
            "rejected": s.files_rejected,
            "failed": s.files_failed,
            "rows_loaded": s.rows_loaded,
            "rows_flagged": s.rows_flagged,
            "rows_quarantined": s.rows_quarantined,
            "rows_rejected": s.rows_rejected,
            "change_events": s.change_events,
        },
    }


def validate(spec: dict[str, Any]) -> Result:
    from watchtower import pipeline

    settings = _settings(spec)
    s = pipeline.validate_landing(
        settings, Path(spec["landing"]), today=_day(spec), build_docs=False
    )
    return {
        "rows": s.rows,
        "detail": {
            "files": s.files,
            "ok": s.files_ok,
            "rejected": s.files_rejected,
            "failed": s.files_failed,
            "quarantined_rows": s.quarantined_rows,
        },
    }


def features(spec: dict[str, Any]) -> Result:
    from watchtower import pipeline

    s = pipeline.compute_features(_settings(spec), _day(spec))
    return {"rows": s.managers, "detail": _plain(s)}


def score(spec: dict[str, Any]) -> Result:
    from watchtower import pipeline

    s = pipeline.score(_settings(spec), _day(spec))
    return {"rows": s.managers_scored, "detail": _plain(s)}


def warn(spec: dict[str, Any]) -> Result:
    from watchtower import pipeline

    s = pipeline.warn(_settings(spec), _day(spec))
    return {"rows": s.scored, "detail": {"tiers": s.tiers, "opened": s.opened}}


def digest(spec: dict[str, Any]) -> Result:
    from watchtower import pipeline

    s = pipeline.digest(_settings(spec), _day(spec))
    return {"rows": s.rendered, "detail": _plain(s)}


def run(spec: dict[str, Any]) -> Result:
    """End to end for one as-of day: features, scores, tiers (``pipeline.run`` + ``warn``)."""
    from watchtower import pipeline

    settings = _settings(spec)
    r = pipeline.run(settings, _day(spec))
    w = pipeline.warn(settings, _day(spec))
    return {"rows": r.score.managers_scored, "detail": {"tiers": w.tiers}}


# ------------------------------------------------------------------------------ floors


def floor_read(spec: dict[str, Any]) -> Result:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.json as pajson

    rows = 0
    for path in _landing_files(Path(spec["landing"])):
        suffix = path.suffix.lower()
        if suffix == ".csv":
            raw = path.read_bytes()
            encoding = "utf8"
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                encoding = "gb18030"
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(encoding=encoding),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
            rows += table.num_rows
        elif suffix == ".jsonl":
            rows += pajson.read_json(path).num_rows
        elif suffix == ".json":
            data = json.loads(path.read_bytes())
            records = data.get("content", []) if isinstance(data, dict) else data
            if records:
                try:
                    table = pa.Table.from_pylist(records)
                except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed types: read as text
                    table = pa.Table.from_pylist(
                        [{k: None if v is None else str(v) for k, v in r.items()} for r in records]
                    )
                rows += table.num_rows
        elif suffix == ".xlsx":
            from openpyxl import load_workbook

            wb = load_workbook(path, read_only=True, data_only=True)
            sheet = wb.worksheets[0]
            values = list(sheet.iter_rows(values_only=True))
            wb.close()
            rows += max(0, len(values) - 1)
    return {"rows": rows}


def floor_features(spec: dict[str, Any]) -> Result:
    import pandas as pd
    import sqlalchemy as sa

    from watchtower.store.schema import HISTORY

    settings = _settings(spec)
    engine = sa.create_engine(settings.db_url)
    day = _day(spec)
    frames = {}
    with engine.connect() as conn:
        for source in ("managers", "funds", "reports", "events"):
            t = HISTORY[source]
            frames[source] = pd.read_sql(sa.select(t).where(t.c.known_from <= day), conn)
    rows = sum(len(f) for f in frames.values())
    rep = frames["reports"]
    agg = rep.groupby("register_no").agg(
        n=("fund_no", "size"), aum=("aum", "sum"), nav=("nav", "mean")
    )
    funds = frames["funds"].groupby("register_no").size()
    return {"rows": rows, "detail": {"managers": len(agg), "fund_groups": len(funds)}}


def floor_score(spec: dict[str, Any]) -> Result:
    import numpy as np
    from pyod.models.iforest import IForest

    from watchtower.store import open_store
    from watchtower.store.features import load_features

    settings = _settings(spec)
    snap = load_features(open_store(settings.db_url), _day(spec))
    x = snap.select_dtypes("float").to_numpy()
    x = np.where(np.isnan(x), 0.0, x)
    IForest(n_estimators=100, random_state=0).fit(x)
    return {"rows": len(snap)}


def floor_warn(spec: dict[str, Any]) -> Result:
    import sqlalchemy as sa

    from watchtower.store.scoring import risk_scores

    settings = _settings(spec)
    engine = sa.create_engine(settings.db_url)
    day = _day(spec)
    scratch = sa.Table(
        "bench_scratch_tiers",
        sa.MetaData(),
        sa.Column("as_of", sa.Date),
        sa.Column("register_no", sa.String(16)),
        sa.Column("score", sa.Float),
        sa.Column("tier", sa.String(16)),
    )
    with engine.begin() as conn:
        scratch.drop(conn, checkfirst=True)
        scratch.create(conn)
        rows = conn.execute(
            sa.select(risk_scores.c.register_no, risk_scores.c.score).where(
                risk_scores.c.as_of == day
            )
        ).fetchall()
        conn.execute(
            scratch.insert(),
            [
                {"as_of": day, "register_no": r, "score": s, "tier": "blue" if s > 40 else None}
                for r, s in rows
            ],
        )
        scratch.drop(conn)
    return {"rows": len(rows)}


def floor_digest(spec: dict[str, Any]) -> Result:
    import html

    import sqlalchemy as sa

    from watchtower.store.alerts import alerts

    settings = _settings(spec)
    engine = sa.create_engine(settings.db_url)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(alerts.c.register_no, alerts.c.manager_name, alerts.c.tier, alerts.c.score)
            .where(alerts.c.open_key.is_not(None))
            .order_by(alerts.c.score.desc())
        ).fetchall()
    body = "".join(
        f"<tr><td>{r}</td><td>{html.escape(n or '')}</td><td>{t}</td><td>{s:.1f}</td></tr>"
        for r, n, t, s in rows
    )
    out = Path(spec["home"]) / "bench_floor_digest.html"
    out.write_text(f"<table>{body}</table>", encoding="utf-8")
    return {"rows": len(rows)}


# ------------------------------------------------------------------------------ plumbing

STAGES: dict[str, Callable[[dict[str, Any]], Result]] = {
    "synth": synth,
    "ingest": ingest,
    "validate": validate,
    "features": features,
    "score": score,
    "warn": warn,
    "digest": digest,
    "run": run,
    "floor_read": floor_read,
    "floor_features": floor_features,
    "floor_score": floor_score,
    "floor_warn": floor_warn,
    "floor_digest": floor_digest,
}


def _landing_files(root: Path) -> list[Path]:
    from watchtower.ingest.discover import discover

    return [f.path for f in discover(root)]


def _plain(value: Any) -> Any:
    from dataclasses import asdict, is_dataclass

    if is_dataclass(value) and not isinstance(value, type):
        return json.loads(json.dumps(asdict(value), default=str))
    return str(value)


#: Modules imported before the clock starts: a scheduler worker has them loaded already.
_COMMON = ("numpy", "pandas", "sqlalchemy", "watchtower.pipeline", "watchtower.store")
PRELOAD: dict[str, tuple[str, ...]] = {
    "synth": ("watchtower.synth",),
    "ingest": ("great_expectations", "watchtower.validate.results", "openpyxl"),
    "validate": ("great_expectations", "watchtower.validate.steps", "openpyxl"),
    "features": ("watchtower.features.steps",),
    "score": ("pyod.models.iforest", "watchtower.detect.steps"),
    "warn": ("watchtower.warn",),
    "digest": ("watchtower.digest", "watchtower.warn", "jinja2"),
    "run": ("pyod.models.iforest", "watchtower.detect.steps", "watchtower.warn"),
    "floor_read": ("pyarrow.csv", "pyarrow.json", "openpyxl", "watchtower.ingest.discover"),
    "floor_features": (),
    "floor_score": ("pyod.models.iforest", "watchtower.store.features"),
    "floor_warn": (),
    "floor_digest": (),
}


def main(argv: list[str]) -> None:
    import importlib

    spec = json.loads(argv[0])
    fn = STAGES[spec["stage"]]
    for module in (*_COMMON, *PRELOAD.get(spec["stage"], ())):
        importlib.import_module(module)
    profile_to = spec.get("profile")
    began = time.perf_counter()
    if profile_to:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.005)
        profiler.start()
        result = fn(spec)
        profiler.stop()
        Path(profile_to).write_text(
            profiler.output_text(unicode=True, color=False, show_all=False), encoding="utf-8"
        )
    else:
        result = fn(spec)
    result["seconds"] = time.perf_counter() - began
    sys.stdout.write("\n" + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
