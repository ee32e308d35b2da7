"""World families: the declared presets, what each one changes, and where it is recorded."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from watchtower.cli import app
from watchtower.synth import DEVELOPMENT, FAMILIES, WorldFamily, world_family, write_world
from watchtower.synth._scenarios import _signals
from watchtower.synth._world import build_world

START, END = dt.date(2023, 1, 1), dt.date(2024, 6, 30)
N = 80


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_truth" not in p.parts
    }


def _truth(root: Path) -> pd.DataFrame:
    return pd.read_csv(root / "_truth" / "scenarios.csv", dtype=str, keep_default_na=False)


def test_one_development_family_and_locked_ones_that_differ() -> None:
    roles = {f.name: f.role for f in FAMILIES.values()}
    assert [n for n, r in roles.items() if r == "development"] == ["development"]
    locked = [f for f in FAMILIES.values() if f.role == "locked"]
    assert len(locked) >= 2
    # they differ from development, and from each other, in what the issue asks
    for f in locked:
        assert f.shares != DEVELOPMENT.shares
    assert {f.lead_days for f in locked} - {DEVELOPMENT.lead_days}
    assert {f.signal_strength for f in locked} - {1.0}
    assert any(f.channels for f in locked)
    assert any("reports" in f.omit for f in locked)
    assert any({"reports", "events", "manager_export"} <= f.omit for f in locked)
    kinds = {k for f in locked for k, v in f.shares.items() if v > 0}
    assert "sloppy_filer" in kinds and "sloppy_filer" not in DEVELOPMENT.shares


def test_unknown_family_and_bad_parameters_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown world family 'nope'; known: development"):
        world_family("nope")
    with pytest.raises(ValueError, match="unknown world family"):
        write_world(tmp_path, managers=N, start=START, end=END, seed=1, family="nope")
    with pytest.raises(ValueError, match="unknown channel"):
        WorldFamily("x", "locked", "", {}, channels={"press": 1.0})
    with pytest.raises(ValueError, match="cannot omit"):
        WorldFamily("x", "locked", "", {}, omit=frozenset({"incidents"}))
    with pytest.raises(ValueError, match="lead_days"):
        WorldFamily("x", "locked", "", {}, lead_days=(300, 200))


def test_development_by_name_is_the_default_world(tmp_path: Path) -> None:
    a = write_world(tmp_path / "a", managers=N, start=START, end=END, seed=3)
    b = write_world(tmp_path / "b", managers=N, start=START, end=END, seed=3, family="development")
    assert a.family == b.family == "development"
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    record = json.loads((tmp_path / "a" / "_truth" / "family.json").read_text("utf-8"))
    assert record["family"]["name"] == "development"
    assert record["family"]["role"] == "development"
    assert record["seed"] == 3 and record["managers"] == N
    assert record["start"] == "2023-01-01" and record["end"] == "2024-06-30"


def test_a_locked_family_is_recorded_deterministic_and_plants_its_own_kinds(
    tmp_path: Path,
) -> None:
    a = write_world(tmp_path / "a", managers=N, start=START, end=END, seed=3, family="locked_faint")
    write_world(tmp_path / "b", managers=N, start=START, end=END, seed=3, family="locked_faint")
    dev = write_world(tmp_path / "d", managers=N, start=START, end=END, seed=3)
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert _files(tmp_path / "a") != _files(tmp_path / "d")
    record = json.loads((tmp_path / "a" / "_truth" / "family.json").read_text("utf-8"))
    assert record["family"]["name"] == "locked_faint" and record["family"]["role"] == "locked"
    assert record["family"]["lead_days"] == [120, 300]
    truth, dev_truth = _truth(tmp_path / "a"), _truth(tmp_path / "d")
    assert "sloppy_filer" in set(truth["scenario"])
    assert "sloppy_filer" not in set(dev_truth["scenario"])
    sloppy = truth[truth["scenario"] == "sloppy_filer"]
    assert (sloppy["is_benign_outlier"] == "1").all() and (
        sloppy["family"] == "benign_sloppy"
    ).all()
    assert a.benign_outliers > dev.benign_outliers  # 16% against 8%
    # onsets within the family's lead range
    risky = truth[truth["is_risky"] == "1"]
    lead = pd.to_datetime(risky["incident_date"]) - pd.to_datetime(risky["onset_date"])
    assert lead.dt.days.between(120, 299).all()


def test_omitted_feeds_are_not_written(tmp_path: Path) -> None:
    s = write_world(tmp_path, managers=N, start=START, end=END, seed=5, family="locked_public_only")
    assert s.rows["reports"] == s.rows["events"] == 0
    assert not any((tmp_path / "reports").iterdir())
    assert not any((tmp_path / "events").iterdir())
    # the supervisor's export (managers_<date>.*) is gone, AMAC's list pages stay
    managers = [p.name for p in (tmp_path / "managers").rglob("*") if p.is_file()]
    assert managers and not [m for m in managers if m.startswith("managers_")]
    assert s.rows["incidents"] > 0  # labels are always delivered


def test_signals_follow_the_familys_strength_channels_and_minimum() -> None:
    off = WorldFamily("t", "locked", "", {"run_off": 0.5}, channels={"reports": 0.0}, min_signals=2)
    w = build_world(60, START, END, 1, off)
    for _ in range(200):
        on = _signals(w, "run_off", (0.9, 0.7, 0.75, 0.7, 0.6, 0.4, 0.3))
        # redeem, drawdown, filings and leverage are in reports: never on
        assert not (on[0] or on[1] or on[2] or on[6])
        assert sum(on) >= 2
    faint = WorldFamily("f", "locked", "", {"run_off": 0.5}, signal_strength=0.1, min_signals=1)
    w = build_world(60, START, END, 1, faint)
    counts = np.array([sum(_signals(w, "shell", (0.85, 0.6, 0.6, 0.5))) for _ in range(400)])
    assert counts.min() >= 1
    assert counts.mean() < 1.3  # mostly the forced one; at full strength about 2.6


def test_synth_cli_takes_a_family(tmp_path: Path) -> None:
    out = tmp_path / "w"
    r = CliRunner().invoke(
        app,
        ["synth", str(out), "--managers", "60", "--start", "2023-01-01", "--end", "2023-12-31"]
        + ["--family", "locked_no_reports", "--seed", "2"],
    )
    assert r.exit_code == 0, r.output
    assert "family locked_no_reports" in r.output
    record = json.loads((out / "_truth" / "family.json").read_text("utf-8"))
    assert record["family"]["omit"] == ["reports"]
    bad = CliRunner().invoke(app, ["synth", str(tmp_path / "x"), "--family", "nope"])
    assert bad.exit_code != 0 and "unknown world family" in bad.output


def test_a_planted_network_shares_controllers_between_risky_managers() -> None:
    from watchtower.synth._public import _Dress, _dress
    from watchtower.synth._world import RISKY

    shares = {"run_off": 0.1, "shell": 0.1, "new_manager": 0.1}
    plain = WorldFamily("p", "locked", "", shares)
    net = WorldFamily("n", "locked", "", shares, shared_person_share=1.0)
    w0, w1 = build_world(N, START, END, 4, plain), build_world(N, START, END, 4, net)
    d0, d1 = _dress(w0, w0.rng), _dress(w1, w1.rng)
    risky = [m for m in range(N) if w1.sc[m] in RISKY]
    others = [m for m in range(N) if w1.sc[m] not in RISKY]

    def shared(d: _Dress, m: int) -> bool:
        return any(d.controller[o] == d.controller[m] for o in risky if o != m)

    assert len(risky) >= 4 and not any(shared(d0, m) for m in risky)
    # all risky managers but the leaders took a leader's controller, as main shareholder too
    assert all(shared(d1, m) for m in risky)
    assert all(d1.holders[m][0][0] == d1.controller[m] for m in risky)
    # nothing else moved: the others' controllers, everyone's executives
    assert [d1.controller[m] for m in others] == [d0.controller[m] for m in others]
    assert d1.execs == d0.execs
    assert "shared_person_share" not in plain.as_dict()
    assert net.as_dict()["shared_person_share"] == 1.0
    assert FAMILIES["locked_network"].shared_person_share > 0
    assert DEVELOPMENT.shared_person_share == 0
    with pytest.raises(ValueError, match="shared_person_share"):
        WorldFamily("x", "locked", "", {}, shared_person_share=1.5)
