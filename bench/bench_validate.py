"""Benchmark: validation throughput of the reports suite on a 1-million-row reports file.

Not a test. Run: ``/work/venv/bin/python bench/bench_validate.py [--rows 1000000] [--bad 0.01]``.
Builds a typed reports frame as ingest hands it to ``validate_frame`` (about ``--bad`` of the
rows broken in various ways), warms GX up on a small frame (import and context set-up are not
counted), then times ``validate_frame`` over the whole frame and prints rows/s.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from watchtower.config import load_settings
from watchtower.validate import validate_frame


def reports_frame(n: int, bad_share: float, seed: int = 0) -> pd.DataFrame:
    """A reports frame of ``n`` rows in ingest's dtypes; ``bad_share`` of rows broken."""
    rng = np.random.default_rng(seed)
    funds = np.array([f"S{i:06d}" for i in range(n)], dtype=object)
    months = rng.integers(1, 13, n)
    period = np.char.add("2024-", np.char.zfill(months.astype(str), 2))
    period_end = pd.to_datetime({"year": 2024, "month": months, "day": 1}) + pd.offsets.MonthEnd(0)
    due = period_end + pd.Timedelta(days=10)
    submitted = due - pd.to_timedelta(rng.integers(-20, 9, n), unit="D")
    frame = pd.DataFrame(
        {
            "fund_no": pd.array(funds, dtype="string"),
            "register_no": pd.array(
                [f"P{i:07d}" for i in rng.integers(1000000, 1030000, n)], dtype="string"
            ),
            "report_type": pd.array(np.full(n, "monthly", dtype=object), dtype="string"),
            "period": pd.array(period.astype(object), dtype="string"),
            "due_date": due.astype("datetime64[s]").to_numpy(),
            "submitted_date": submitted.astype("datetime64[s]").to_numpy(),
            "nav": rng.lognormal(0, 0.2, n),
            "aum": rng.lognormal(8, 1, n),
            "investor_count": pd.array(rng.integers(1, 500, n), dtype="Int64"),
            "subscriptions": rng.lognormal(5, 1, n),
            "redemptions": rng.lognormal(5, 1, n),
            "leverage_ratio": 1 + rng.random(n),
            "audit_opinion": pd.array(np.full(n, None, dtype=object), dtype="string"),
        },
        index=pd.RangeIndex(1, n + 1),
    )
    frame["known_from"] = frame["submitted_date"]
    frame["file_date"] = pd.Timestamp("2025-01-31").as_unit("s")
    k = int(n * bad_share)
    if k:
        rows = rng.choice(frame.index.to_numpy(), size=k, replace=False)
        parts = np.array_split(rows, 5)
        frame.loc[parts[0], "nav"] = -1.0
        frame.loc[parts[1], "fund_no"] = "X123"
        frame.loc[parts[2], "leverage_ratio"] = 0.5
        frame.loc[parts[3], "submitted_date"] = pd.Timestamp("2100-01-01")
        frame.loc[parts[4], "due_date"] = pd.Timestamp("2024-01-01")
    return frame


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bad", type=float, default=0.01, help="share of broken rows")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    settings = load_settings({"WATCHTOWER_HOME": str(Path("/tmp/watchtower-bench"))})
    frame = reports_frame(args.rows, args.bad)
    known = frozenset(frame["register_no"].dropna().unique().tolist())
    validate_frame("reports", frame.head(1000), settings=settings, known_managers=known)  # warm
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        result = validate_frame("reports", frame, settings=settings, known_managers=known)
        times.append(time.perf_counter() - start)
    best = min(times)
    print(
        f"reports suite: {len(result.results)} expectations over {args.rows:,} rows "
        f"({result.failed_rows:,} quarantined, rejected={bool(result.rejected)}); "
        f"cores={os.cpu_count()}; best of {args.repeat}: {best:.2f} s = "
        f"{args.rows / best:,.0f} rows/s (all runs: {', '.join(f'{t:.2f}' for t in times)} s)"
    )


if __name__ == "__main__":
    main()
