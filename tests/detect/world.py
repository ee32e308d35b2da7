"""A small synthetic world and a fast detector config for the detect integration tests."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import yaml

from watchtower.config import load_settings

START, END = dt.date(2022, 1, 1), dt.date(2023, 12, 31)
AS_OF = dt.date(2023, 6, 30)
MANAGERS = 160
SEED = 11

SOURCE = load_settings({}).config_dir


def write_small_world(out: Path) -> Path:
    """The landing folder of the test world (with ``_truth/``)."""
    from watchtower.synth import write_world

    write_world(out, managers=MANAGERS, start=START, end=END, seed=SEED)
    return out


def fast_config_dir(out: Path) -> Path:
    """A copy of features/, models/ and expectations/ with a quicker detector config:
    fewer trees, a one-year training lookback every quarter, few positives needed."""
    for name in ("features", "models", "expectations"):
        if (SOURCE / name).exists():
            shutil.copytree(SOURCE / name, out / name)
    path = out / "models" / "detectors.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    for det in cfg["ensemble"]["detectors"]:
        if det["kind"] == "IForest":
            det.setdefault("params", {})["n_estimators"] = 50
    cfg["peer_group"]["min_size"] = 30
    cfg["supervised"].update({"lookback_days": 365, "snapshot_every_days": 90, "min_positives": 2})
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return out
