"""`watchtower warn`, `watchtower alerts ...` and `watchtower digest` end to end."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from typer.testing import CliRunner

from tests.digest.world import AS_OF, build_world
from watchtower.cli import app
from watchtower.config import Settings

runner = CliRunner()


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig") as f:  # closed: an open file warns when collected
        return list(csv.DictReader(f))


def test_alerts_commands(settings: Settings, tmp_path: Path) -> None:
    build_world(settings)
    r = runner.invoke(app, ["warn", "--as-of", str(AS_OF)])
    assert r.exit_code == 0 and "nothing changed" in r.output, r.output
    r = runner.invoke(app, ["alerts", "list", "--json"])
    listed = json.loads(r.output)
    assert {a["register_no"] for a in listed} >= {"P3000001", "P3000007"}
    assert "P3000004" not in {a["register_no"] for a in listed}  # closed
    r = runner.invoke(app, ["alerts", "list", "--city", "广州市", "--tier", "red"])
    assert "P3000001" in r.output and "P3000007" not in r.output
    r = runner.invoke(app, ["alerts", "ack", "P3000001", "--by", "王科长", "--note", "收到"])
    assert r.exit_code == 0 and "acknowledged" in r.output, r.output
    r = runner.invoke(app, ["alerts", "ack", "P3000001", "--by", "王科长"])
    assert r.exit_code == 2 and "cannot go to acknowledged" in r.output
    r = runner.invoke(app, ["alerts", "ack", "P3000001"])
    assert r.exit_code != 0  # --by is required
    close = ["alerts", "close", "P3000001", "--as", "confirmed"]
    r = runner.invoke(app, [*close, "--by", "王科长", "--note", "已移交稽查"])
    assert r.exit_code == 0 and "closed (confirmed)" in r.output, r.output
    r = runner.invoke(app, ["alerts", "show", "P3000001"])
    assert r.exit_code == 0
    for word in ("open", "escalate", "acknowledge", "close", "王科长", "已移交稽查"):
        assert word in r.output
    out = tmp_path / "alerts.csv"
    r = runner.invoke(app, ["alerts", "export", str(out), "--all"])
    assert r.exit_code == 0, r.output
    rows = _csv_rows(out)
    by_reg = {x["register_no"]: x for x in rows}
    assert by_reg["P3000001"]["resolution"] == "confirmed"
    assert by_reg["P3000004"]["manager_name"].startswith("'@SUM")  # neutralized
    r = runner.invoke(app, ["alerts", "export", str(out), "--as-of", str(AS_OF)])
    assert r.exit_code == 0
    assert "P3000004" not in {x["register_no"] for x in _csv_rows(out)}
    r = runner.invoke(app, ["alerts", "show", "P7777777"])
    assert r.exit_code == 2 and "no alert" in r.output


def test_digest_command_renders_and_points_at_html(settings: Settings) -> None:
    build_world(settings)
    r = runner.invoke(
        app, ["digest", "--as-of", str(AS_OF), "--to", "me@example.org", "--lang", "en", "--json"]
    )
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    # the outbox names files by a hash of (recipient, period, subscription), never the address
    assert s["rendered"] == 1 and s["html_paths"][0].endswith(".html")
    assert "me@example.org" not in Path(s["html_paths"][0]).name
    html = Path(s["html_paths"][0]).read_text("utf-8")
    assert "All jurisdictions" in html
    r = runner.invoke(app, ["digest", "--as-of", str(AS_OF), "--cadence", "immediate"])
    assert r.exit_code == 0 and "1 rendered" in r.output and "gd-duty" in r.output, r.output


def test_hostile_actor_and_note_cannot_forge_lines(settings: Settings) -> None:
    """What people type (actor, note) is shown escaped: no terminal control, no forged line."""
    build_world(settings)
    r = runner.invoke(app, ["warn", "--as-of", str(AS_OF)])
    assert r.exit_code == 0, r.output
    actor = "\x1b[2K\r王科长"
    note = "收到\n2024-06-30 00:00:00  admin  close"
    r = runner.invoke(app, ["alerts", "ack", "P3000001", "--by", actor, "--note", note])
    assert r.exit_code == 0, r.output
    assert "\x1b" not in r.output and "\\x1b[2K\\r王科长" in r.output
    r = runner.invoke(app, ["alerts", "show", "P3000001"])
    assert r.exit_code == 0
    assert "\x1b" not in r.output and "\r" not in r.output
    line = next(ln for ln in r.output.splitlines() if "\\x1b[2K" in ln)
    assert "收到\\n2024-06-30 00:00:00  admin  close" in line


def test_warn_refuses_a_day_before_the_last_warned_day_in_one_line(settings: Settings) -> None:
    build_world(settings)  # warned up to AS_OF
    earlier = str(AS_OF - dt.timedelta(days=30))
    r = runner.invoke(app, ["warn", "--as-of", earlier])
    assert r.exit_code == 2 and "before the last warned day" in r.output
    assert "Traceback" not in r.output and len(r.output.strip().splitlines()) == 1
    r = runner.invoke(app, ["warn", "--as-of", earlier, "--backfill"])
    assert r.exit_code == 0, r.output


def test_alerts_metrics_is_the_console_s_query(settings: Settings) -> None:
    build_world(settings)
    day = "2024-07-01"  # the world's alerts were all raised then (the clock of build_world)
    r = runner.invoke(app, ["alerts", "metrics", "--from", day, "--to", day, "--json"])
    assert r.exit_code == 0, r.output
    m = json.loads(r.output)
    # eight managers, seven open and P3000004 closed as a false alarm (yellow)
    assert m["total"]["opened"] == 8 and m["total"]["false_positive"] == 1
    assert {t["tier"]: t["false_positive"] for t in m["tiers"]}["yellow"] == 1
    assert m["total"]["precision"] == 0.0
    # overdue is judged today (the wall clock): long past every closing deadline
    assert m["total"]["overdue_close"] == 7 and m["total"]["overdue_acknowledge"] == 0
    by = {d["jurisdiction"]: d["opened"] for d in m["districts"]}
    assert by == {"广东": 5, "深圳": 1, "上海": 1, "北京": 1}
    r = runner.invoke(
        app, ["alerts", "metrics", "--from", day, "--to", day, "--jurisdiction", "Atlantis"]
    )
    assert r.exit_code == 2 and "not a district" in r.output
    r = runner.invoke(
        app, ["alerts", "metrics", "--from", day, "--to", day, "--jurisdiction", "上海市"]
    )
    assert r.exit_code == 0 and "opened 2024-07-01 .. 2024-07-01" in r.output, r.output
    assert "上海: 1 opened, 0 confirmed, 1 overdue now" in r.output
    assert "广东" not in r.output
    r = runner.invoke(app, ["alerts", "metrics", "--from", "2024-07-02", "--to", day])
    assert r.exit_code == 2 and "before it starts" in r.output
