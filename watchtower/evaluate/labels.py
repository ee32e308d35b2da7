"""Where the evaluation's labels come from: incidents (contract files or the store) and the
synthetic world's ground truth (planted benign outliers)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from watchtower.ingest.discover import date_of, discover
from watchtower.ingest.parse import parse_frame
from watchtower.ingest.readers import read_raw

INCIDENT_COLUMNS = ["register_no", "incident_date", "incident_type"]


class LabelError(ValueError):
    """The labels cannot be read; the message says which file and why."""


@dataclass(frozen=True)
class Labels:
    """Incidents for evaluation. ``incidents``: register_no, incident_date (date),
    incident_type; ``source``: where they came from (a path or ``store``); ``rows_dropped``:
    records without a valid register number or date."""

    incidents: pd.DataFrame
    source: str
    rows_dropped: int = 0


def read_incident_files(path: Path) -> Labels:
    """Incidents from one contract file (csv/json/jsonl/xlsx, zh or en headers) or a folder.

    In a folder, files the landing discovery attributes to ``incidents`` count, and so does
    every file when ``path`` is itself an ``incidents`` folder. Rows that fail the contract's
    parsing are dropped (and counted).
    """
    if not path.exists():
        raise LabelError(f"labels path {path} does not exist")
    if path.is_file():
        files = [path]
    else:
        found = discover(path)
        inside = path.name.lower() == "incidents"
        files = [f.path for f in found if f.source == "incidents" or (inside and not f.source)]
        if not files:
            raise LabelError(
                f"no incidents files under {path} (expected an incidents/ folder or files "
                "named incidents_*.csv|json|jsonl|xlsx)"
            )
    frames: list[pd.DataFrame] = []
    dropped = 0
    for f in files:
        try:
            raw = read_raw(f, f.read_bytes())
            parsed = parse_frame(
                "incidents", raw, file_date=date_of(f.name), ingest_date=dt.date.max
            )
        except ValueError as exc:
            raise LabelError(f"{f}: {exc}") from exc
        frame = parsed.frame.drop(index=list(parsed.failures), errors="ignore")
        dropped += len(parsed.frame) - len(frame)
        frames.append(frame[INCIDENT_COLUMNS])
    inc = pd.concat(frames, ignore_index=True) if frames else _empty()
    return Labels(_normalize(inc), str(path), dropped)


def read_store_incidents(engine: sa.Engine, known_by: dt.date | None = None) -> Labels:
    """Labels already in the store (known by ``known_by`` when given): incidents and forced
    deregistrations matched to a manager (``watchtower.store.labels``)."""
    from watchtower.store.labels import incident_labels

    with engine.connect() as conn:
        inc = incident_labels(conn, known_by)
    return Labels(_normalize(inc[INCIDENT_COLUMNS]), "store")


def read_truth(path: Path) -> pd.DataFrame:
    """The synthetic world's ``_truth/scenarios.csv`` (a folder holding ``_truth/`` works too).

    Returns register_no, scenario, family, is_risky (bool), is_benign_outlier (bool),
    incident_type, incident_date, onset_date.
    """
    if path.is_dir():
        path = path / "_truth" / "scenarios.csv" if (path / "_truth").is_dir() else path
        path = path / "scenarios.csv" if path.is_dir() else path
    if not path.is_file():
        raise LabelError(
            f"ground truth {path} not found (a synthetic world's _truth/scenarios.csv)"
        )
    truth = pd.read_csv(path, dtype={"register_no": str})
    missing = {"register_no", "is_benign_outlier"} - set(truth.columns)
    if missing:
        raise LabelError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
    for col in ("is_risky", "is_benign_outlier"):
        if col in truth:
            truth[col] = truth[col].fillna(0).astype(int).astype(bool)
    for col in ("incident_date", "onset_date"):
        if col in truth:
            truth[col] = pd.to_datetime(truth[col]).dt.date
    return truth


def benign_outliers(truth: pd.DataFrame) -> list[str]:
    """Register numbers of the planted benign outliers."""
    return sorted(truth.loc[truth["is_benign_outlier"].astype(bool), "register_no"].astype(str))


def incident_families(truth: pd.DataFrame) -> dict[str, str]:
    """register_no -> incident family of the risky managers (the truth's ``family``, else its
    ``scenario``): the groups the per-family recall is reported in."""
    col = "family" if "family" in truth else "scenario" if "scenario" in truth else None
    if col is None or "is_risky" not in truth:
        return {}
    risky = truth[truth["is_risky"].astype(bool)]
    return dict(zip(risky["register_no"].astype(str), risky[col].astype(str), strict=True))


def benign_kinds(truth: pd.DataFrame) -> dict[str, str]:
    """register_no -> kind (the truth's ``scenario``) of the planted benign outliers."""
    benign = truth[truth["is_benign_outlier"].astype(bool)]
    kinds = benign["scenario"] if "scenario" in benign else pd.Series("benign", benign.index)
    return dict(zip(benign["register_no"].astype(str), kinds.astype(str), strict=True))


def read_world_family(path: Path) -> dict[str, Any] | None:
    """The world family of a synthetic world (``_truth/family.json`` beside the truth file
    ``path`` points to, or in the world folder it names); None when the world has none."""
    folder = path if path.is_dir() else path.parent
    for candidate in (folder / "_truth" / "family.json", folder / "family.json"):
        if candidate.is_file():
            data = json.loads(candidate.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else None
    return None


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in INCIDENT_COLUMNS})


def _normalize(inc: pd.DataFrame) -> pd.DataFrame:
    inc = inc.dropna(subset=["register_no", "incident_date"]).copy()
    inc["register_no"] = inc["register_no"].astype(str)
    inc["incident_date"] = pd.to_datetime(inc["incident_date"]).dt.date
    inc = inc.drop_duplicates(["register_no", "incident_date"])
    return inc.sort_values(["incident_date", "register_no"]).reset_index(drop=True)
