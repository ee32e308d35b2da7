"""Benchmark orchestration: worlds, stages in subprocesses, floors, the Markdown report."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCALES: dict[str, int] = {"small": 1_000, "medium": 5_000, "national": 20_000}
QUICK: dict[str, int] = {"quick": 150}
START = dt.date(2024, 1, 1)
END = dt.date(2024, 12, 31)
Q4_START = dt.date(2024, 10, 1)
TARGET_SECONDS = 60.0
TARGET_MB = 4096.0
PACKAGES = (
    "pandas",
    "numpy",
    "pyarrow",
    "SQLAlchemy",
    "scikit-learn",
    "pyod",
    "great-expectations",
    "openpyxl",
    "matplotlib",
)


@dataclass
class Measurement:
    """One stage or floor. ``seconds``: the work, timed inside the process; ``wall``: the
    process from spawn to exit (interpreter start and imports included); ``peak_mb``: the
    process's peak resident memory (``wait4`` ru_maxrss)."""

    name: str
    seconds: float
    wall: float
    peak_mb: float
    rows: int = 0
    ok: bool = True
    error: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """A line of the report: a stage beside its floor."""

    stage: str
    label: str
    measured: Measurement
    floor: Measurement | None
    floor_label: str
    target: str = ""

    @property
    def ratio(self) -> float | None:
        if self.floor is None or self.floor.seconds <= 0:
            return None
        return self.measured.seconds / self.floor.seconds


def measure(name: str, spec: dict[str, Any], log_dir: Path, timeout: float) -> Measurement:
    """Run ``bench.stages`` with ``spec`` in a child process; wait4 gives its peak RSS."""
    log_dir.mkdir(parents=True, exist_ok=True)
    out_path = log_dir / f"{name}.out"
    err_path = log_dir / f"{name}.err"
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    began = time.perf_counter()
    with out_path.open("wb") as out, err_path.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.stages", json.dumps(spec)],
            stdout=out,
            stderr=err,
            cwd=REPO,
            env=env,
            start_new_session=True,
        )
        status, usage = _wait(proc, timeout)
    wall = time.perf_counter() - began
    peak_mb = usage.ru_maxrss / 1024 if usage is not None else float("nan")
    text = out_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    result: dict[str, Any] = {}
    if text:
        try:
            result = json.loads(text[-1])
        except json.JSONDecodeError:
            result = {}
    ok = status == 0 and "seconds" in result
    error = ""
    if not ok:
        tail = err_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-5:]
        error = f"exit status {status}: " + " | ".join(tail)
    return Measurement(
        name=name,
        seconds=float(result.get("seconds", wall)),
        wall=wall,
        peak_mb=peak_mb,
        rows=int(result.get("rows") or 0),
        ok=ok,
        error=error,
        detail=result.get("detail") or {},
    )


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[int, Any]:
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            code = os.waitstatus_to_exitcode(status)
            proc.returncode = code
            return code, usage
        if time.monotonic() > deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = -9
            return -9, usage
        time.sleep(0.1)


# ------------------------------------------------------------------------------ machine


def machine() -> dict[str, Any]:
    """nproc, memory, CPU model, OS, Python and package versions, SQLite, load average."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = float("nan")
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = int(line.split()[1]) / 1024 / 1024
    except OSError:
        pass
    versions = {}
    for p in PACKAGES:
        try:
            versions[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            versions[p] = "-"
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(mem_gb, 1),
        "cpu": cpu,
        "os": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }


# ------------------------------------------------------------------------------ one scale


def _split_landing(world: Path, head: Path, tail: Path) -> None:
    """Hard-link the world's files into ``head`` (dated before Q4) and ``tail`` (Q4).

    Not symlinks: ingest refuses symlinks leading outside the landing folder. A hard link is
    the same file under a second name (no copy, same bytes and times); across file systems the
    file is copied."""
    from watchtower.ingest.discover import discover

    for d in (head, tail):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    for f in discover(world):
        dest_root = tail if f.file_date is not None and f.file_date >= Q4_START else head
        dest = dest_root / f.path.relative_to(world)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(f.path, dest)
        except OSError:  # another file system: a copy, times kept
            shutil.copy2(f.path, dest)


def run_scale(
    scale: str,
    managers: int,
    work: Path,
    *,
    timeout: float,
    profile: set[str],
    log: Any,
) -> dict[str, Any]:
    """Synthesize (or reuse) the world of ``scale`` and measure every stage and floor."""
    world = work / "worlds" / f"{scale}-{managers}"
    base = work / scale
    logs = base / "logs"
    homes = {"main": base / "home", "e2e": base / "home-e2e"}
    started = dt.datetime.now().isoformat(timespec="seconds")
    load_before = [round(x, 2) for x in os.getloadavg()]
    day = str(END)
    results: dict[str, Measurement] = {}

    def step(name: str, spec: dict[str, Any]) -> Measurement:
        spec = {"stage": spec.get("stage", name), **spec}
        if name in profile or spec["stage"] in profile:
            prof = base / "profiles"
            prof.mkdir(parents=True, exist_ok=True)
            spec["profile"] = str(prof / f"{scale}-{name}.txt")
        log(f"[{scale}] {name} ...")
        m = measure(name, spec, logs, timeout)
        results[name] = m
        state = "ok" if m.ok else f"FAILED ({m.error})"
        log(f"[{scale}] {name}: {m.seconds:.1f} s, peak {m.peak_mb:.0f} MB, {m.rows} rows {state}")
        return m

    marker = world / ".complete"
    if not marker.exists():
        if world.exists():
            shutil.rmtree(world)
        synth = step(
            "synth",
            {
                "landing": str(world),
                "managers": managers,
                "start": str(START),
                "end": str(END),
                "seed": 7,
            },
        )
        if not synth.ok:
            raise RuntimeError(f"synthesizing the {scale} world failed: {synth.error}")
        marker.write_text(json.dumps(synth.detail))
    world_detail = json.loads(marker.read_text() or "{}")
    head, tail = base / "landing-q1-q3", base / "landing-q4"
    _split_landing(world, head, tail)
    for h in homes.values():
        if h.exists():
            shutil.rmtree(h)
        h.mkdir(parents=True)
    main = str(homes["main"])

    step("floor_read_head", {"stage": "floor_read", "landing": str(head)})
    step(
        "ingest_head",
        {"stage": "ingest", "home": main, "landing": str(head), "as_of": "2024-09-30"},
    )
    step("floor_read_q4", {"stage": "floor_read", "landing": str(tail)})
    step("validate_q4", {"stage": "validate", "home": main, "landing": str(tail), "as_of": day})
    step("ingest_q4", {"stage": "ingest", "home": main, "landing": str(tail), "as_of": day})
    shutil.copy2(homes["main"] / "watchtower.db", homes["e2e"] / "watchtower.db")
    for stage in ("features", "score", "warn", "digest"):
        step(f"floor_{stage}", {"stage": f"floor_{stage}", "home": main, "as_of": day})
        step(stage, {"home": main, "as_of": day})
    step("run", {"home": str(homes["e2e"]), "as_of": day})

    db_mb = (homes["main"] / "watchtower.db").stat().st_size / 1024 / 1024
    return {
        "scale": scale,
        "managers": managers,
        "world": world_detail,
        "as_of": day,
        "started": started,
        "loadavg_before": load_before,
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        "db_mb": round(db_mb, 1),
        "measurements": {k: asdict(v) for k, v in results.items()},
    }


# ------------------------------------------------------------------------------ report


def _rows(res: dict[str, Any]) -> list[Row]:
    m = {k: Measurement(**v) for k, v in res["measurements"].items()}

    def floor_sum(*names: str) -> Measurement | None:
        parts = [m[n] for n in names if n in m]
        if len(parts) != len(names):
            return None
        return Measurement(
            name="+".join(names),
            seconds=sum(p.seconds for p in parts),
            wall=sum(p.wall for p in parts),
            peak_mb=max(p.peak_mb for p in parts),
        )

    national = res["scale"] == "national"
    t60 = f"< {TARGET_SECONDS:.0f} s" if national else ""
    spec = [
        (
            "ingest_head",
            "ingest (+ validation gate), Q1-Q3 files",
            "floor_read_head",
            "pyarrow read",
            "",
        ),
        (
            "ingest_q4",
            "ingest + validation, one quarter (Q4)",
            "floor_read_q4",
            "pyarrow read",
            t60,
        ),
        ("validate_q4", "validation only (dry run), Q4 files", "floor_read_q4", "pyarrow read", ""),
        ("features", "features, one as-of day", "floor_features", "read rows + groupby", ""),
        ("score", "scoring (rules + ensemble)", "floor_score", "one IForest", ""),
        ("warn", "warning (tiers + alerts)", "floor_warn", "read + insert rows", ""),
        ("digest", "digest (render to outbox)", "floor_digest", "read + f-string HTML", ""),
        (
            "run",
            "end to end, one as-of day (features, scores, tiers)",
            "",
            "sum of the 3 floors",
            t60,
        ),
    ]
    rows = []
    for key, label, floor_key, floor_label, target in spec:
        if key not in m:
            continue
        floor = (
            m.get(floor_key)
            if floor_key
            else floor_sum("floor_features", "floor_score", "floor_warn")
        )
        rows.append(Row(key, label, m[key], floor, floor_label, target))
    return rows


def _fmt_s(x: float) -> str:
    return f"{x:.1f}" if x < 100 else f"{x:.0f}"


def render_markdown(results: dict[str, dict[str, Any]], mach: dict[str, Any], notes: str) -> str:
    """docs/benchmarks.md from the results of every scale measured."""
    lines = [
        "# Benchmarks",
        "",
        "Measured by `make bench` (`python -m bench`); each stage and each floor runs in its own "
        "process. *Time* is the work inside the process (the stage's modules are imported "
        "before the clock starts, as in a long-lived scheduler worker); *peak* is the "
        "process's maximum resident memory (`wait4` ru_maxrss). *Ratio* = time / floor, the "
        "floor being the least any implementation spends on the same input, measured in "
        "the same run (definitions below). The store is the embedded SQLite file.",
        "",
        "## Machine",
        "",
        f"- CPU: {mach['cpu']}; cores available: {mach['nproc']} (cpu_count {mach['cpu_count']})",
        f"- memory: {mach['memory_gb']} GB; OS: {mach['os']}",
        f"- Python {mach['python']}, SQLite {mach['sqlite']}; "
        + ", ".join(f"{k} {v}" for k, v in mach["packages"].items()),
        f"- load average when the report was written: {mach['loadavg']} (per scale below: the "
        "machine was shared with other work while measuring, so times are upper bounds)",
        "",
    ]
    for scale, res in results.items():
        w = res.get("world", {})
        lines += [
            f"## {scale}: {res['managers']:,} managers",
            "",
            f"World {START} – {END} (one year of monthly reports): {w.get('managers', 0):,} "
            f"managers, {w.get('funds', 0):,} funds; landing rows "
            + ", ".join(f"{k} {v:,}" for k, v in (w.get("rows") or {}).items())
            + f"; {w.get('files', '?')} files. As-of day {res['as_of']}. "
            f"Store after ingest: {res['db_mb']:,} MB. Measured {res['started']}, load average "
            f"before {res['loadavg_before']}, after {res['loadavg_after']}.",
            "",
            "| stage | rows | time (s) | peak (MB) | floor | floor (s) | ratio | target | met |",
            "|---|---:|---:|---:|---|---:|---:|---|---|",
        ]
        for r in _rows(res):
            mm = r.measured
            fl = r.floor
            ratio = f"{r.ratio:.1f}×" if r.ratio is not None else "–"
            met = ""
            if r.target:
                met = "yes" if mm.ok and mm.seconds < TARGET_SECONDS else "**no**"
            status = "" if mm.ok else f" (failed: {mm.error[:80]})"
            lines.append(
                f"| {r.label}{status} | {mm.rows:,} | {_fmt_s(mm.seconds)} | {mm.peak_mb:,.0f} | "
                f"{r.floor_label} | {_fmt_s(fl.seconds) if fl else '–'} | {ratio} | "
                f"{r.target} | {met} |"
            )
        peak = max(v["peak_mb"] for v in res["measurements"].values() if v["name"] != "synth")
        if scale == "national":
            ok = "yes" if peak < TARGET_MB else "**no**"
            lines.append(f"| peak memory of any stage | | | {peak:,.0f} | | | | < 4 GB | {ok} |")
        synth = res["measurements"].get("synth")
        if synth:
            lines += ["", f"Synthesizing the world took {synth['seconds']:.0f} s (not a stage)."]
        lines.append("")
    lines += [
        "## Floors",
        "",
        "- **pyarrow read** (ingest, validation): parse the same landing files into Arrow "
        "tables with the fastest generic readers: `pyarrow.csv` (GB18030 decoded by Arrow), "
        "`pyarrow.json` for JSON Lines, `json` + `pyarrow.Table.from_pylist` for JSON lists and "
        "API pages, `openpyxl` read-only rows for XLSX. No contract typing, no checks, no writes.",
        "- **read rows + groupby** (features): every history row known by the as-of day read "
        "from the store with `pandas.read_sql`, then one `groupby(register_no)` aggregation of "
        "reports and funds.",
        "- **one IForest** (scoring): the stored feature snapshot loaded and one pyod `IForest` "
        "(100 trees) fitted and scored on it.",
        "- **read + insert rows** (warning): the day's risk scores read and as many rows "
        "inserted into a scratch table.",
        "- **read + f-string HTML** (digest): open alerts read and written as one HTML table.",
        "- **end to end**: the sum of the features, scoring and warning floors.",
        "",
        "The end-to-end run uses a copy of the store taken right after ingest, so it computes "
        "features, scores and tiers from scratch, exactly as the scheduled run of that day.",
        "",
    ]
    if notes.strip():
        lines += [notes.strip(), ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Watchtower performance benchmark (writes docs/benchmarks.md).",
    )
    parser.add_argument(
        "--scales",
        default="small,medium,national",
        help="comma-separated scales: small (1,000 managers), medium (5,000), national (20,000)",
    )
    parser.add_argument("--quick", action="store_true", help="one tiny world (smoke test)")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(os.environ.get("TMPDIR", "/tmp")) / "watchtower-bench",
        help="worlds, stores and logs (never the repository); worlds are reused",
    )
    parser.add_argument("--out", type=Path, default=None, help="Markdown report path")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per stage")
    parser.add_argument(
        "--profile", default="", help="comma-separated stages to run under pyinstrument"
    )
    args = parser.parse_args(argv)

    scales = QUICK if args.quick else {s: SCALES[s] for s in args.scales.split(",") if s}
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    out = args.out or (
        work / "benchmarks-quick.md" if args.quick else REPO / "docs" / "benchmarks.md"
    )
    store = work / ("results-quick.json" if args.quick else "results.json")
    results: dict[str, Any] = json.loads(store.read_text()) if store.exists() else {}
    profile = {p for p in args.profile.split(",") if p}

    def log(msg: str) -> None:
        print(f"{dt.datetime.now():%H:%M:%S} {msg}", file=sys.stderr, flush=True)

    for scale, managers in scales.items():
        results[scale] = run_scale(
            scale, managers, work, timeout=args.timeout, profile=profile, log=log
        )
        store.write_text(json.dumps(results, indent=2, default=str))
    ordered = {k: results[k] for k in (*QUICK, *SCALES) if k in results}
    notes_file = Path(__file__).with_name("notes.md")
    notes = notes_file.read_text(encoding="utf-8") if notes_file.exists() and not args.quick else ""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_markdown(ordered, machine(), notes), encoding="utf-8")
    log(f"report: {out}")
    return 0
