"""Measure how well the risk score foresees incidents on a synthetic world.

Usage (from the repository root, with a world already ingested into WATCHTOWER_HOME's store):

    WATCHTOWER_HOME=/tmp/wtw/home python notebooks/measure_detection.py \
        --truth /tmp/wtw/landing/_truth/scenarios.csv --start 2022-06-30 --end 2024-06-30

For every month end D in [start, end] the day's features are scored (champion model, or the
detector config, or --supervised to train a model with cut-off D-1 per evaluated quarter) and
compared with the planted truth:

- auc_180d: AUC of the score for "incident within 180 days after D" (managers already hit
  excluded), pooled over days;
- lead_rank_pct: mean rank percentile (1 = riskiest) of risky managers 90-180 days before their
  incident;
- benign_top5: share of planted benign outliers among each day's top 5% (averaged), next to
  their share of the population.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from watchtower.config import load_settings
from watchtower.detect import (
    DetectConfig,
    features_at,
    load_detect_config,
    load_incidents,
    rule_hits_fn,
    train_model,
)
from watchtower.features import load_catalog
from watchtower.store import open_store


def month_ends(start: dt.date, end: dt.date) -> list[dt.date]:
    days = pd.date_range(start, end, freq="ME")
    return [d.date() for d in days]


def measure(
    scores: dict[dt.date, pd.Series], truth: pd.DataFrame, horizon: int = 180
) -> dict[str, float]:
    inc = truth.set_index("register_no")["incident_date"]
    benign = set(truth.loc[truth["is_benign_outlier"] == 1, "register_no"])
    ys, ss, leads, top_share, base_share = [], [], [], [], []
    for day, s in scores.items():
        idate = inc.reindex(s.index)
        keep = ~(idate.notna() & (idate <= day))
        s, idate = s[keep], idate[keep]
        y = (idate.notna() & (idate <= day + dt.timedelta(days=horizon))).astype(int)
        ys.append(y.to_numpy())
        ss.append(s.rank(pct=True).to_numpy())  # pooled AUC on within-day ranks
        pct = s.rank(pct=True)
        lead = (
            idate.notna()
            & (idate - dt.timedelta(days=180) <= day)
            & (day <= idate - dt.timedelta(days=90))
        )
        leads.extend(pct[lead].tolist())
        k = max(1, round(0.05 * len(s)))
        top = s.sort_values(ascending=False, kind="mergesort").index[:k]
        top_share.append(np.mean([r in benign for r in top]))
        base_share.append(np.mean([r in benign for r in s.index]))
    y_all, s_all = np.concatenate(ys), np.concatenate(ss)
    return {
        "days": len(scores),
        "auc_180d": round(float(roc_auc_score(y_all, s_all)), 4),
        "lead_rank_pct": round(float(np.mean(leads)), 4) if leads else float("nan"),
        "lead_pairs": len(leads),
        "benign_top5": round(float(np.mean(top_share)), 4),
        "benign_population": round(float(np.mean(base_share)), 4),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--truth", type=Path, required=True)
    ap.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2022, 6, 30))
    ap.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2024, 6, 30))
    ap.add_argument("--config", type=Path, default=None, help="detectors.yaml to evaluate")
    ap.add_argument("--supervised", action="store_true", help="retrain each quarter with incidents")
    ap.add_argument("--components", action="store_true", help="also measure each component")
    args = ap.parse_args()

    settings = load_settings()
    engine = open_store(settings.db_url)
    catalog = load_catalog(settings.features_dir)
    rules = rule_hits_fn(settings, catalog)
    config: DetectConfig = load_detect_config(args.config or settings.models_dir / "detectors.yaml")
    truth = pd.read_csv(args.truth, dtype={"register_no": str})
    truth["incident_date"] = pd.to_datetime(truth["incident_date"]).dt.date
    truth["incident_date"] = truth["incident_date"].where(truth["incident_date"].notna(), None)

    cache: dict[dt.date, pd.DataFrame] = {}

    def at(day: dt.date) -> pd.DataFrame:
        if day not in cache:
            cache[day] = features_at(engine, catalog, day, created_at=dt.datetime(2000, 1, 1))
        return cache[day]

    comps = ["score", "rule_score", "anomaly_score", "supervised_score"]
    out: dict[str, dict[dt.date, pd.Series]] = {c: {} for c in comps}
    model = None
    for day in month_ends(args.start, args.end):
        frame = at(day)
        if args.supervised and (model is None or day.month % 3 == 0):
            cutoff = day - dt.timedelta(days=1)
            model = train_model(config, catalog, cutoff, at, load_incidents(engine, cutoff)).model
        if model is None:
            m = train_model(config, catalog, day, lambda _d, f=frame: f, supervised=False).model
        else:
            m = model
        scored = m.score(frame, rules(frame) if rules else None)
        for c in comps:
            if scored[c].notna().any():
                out[c][day] = scored[c].astype(float)
    result = {"config": str(args.config or "models/detectors.yaml"), "supervised": args.supervised}
    result["score"] = measure(out["score"], truth)
    if args.components:
        for c in comps[1:]:
            if out[c]:
                result[c] = measure(out[c], truth)
    print(json.dumps(result, ensure_ascii=False, indent=1, default=str))


if __name__ == "__main__":
    main()
