"""Every configuration loader refuses a key it does not read, naming the file and the key.

A misspelt key that is ignored silently keeps a default: the loaders turn it into a
:class:`~watchtower.config.ConfigError` (one line in the CLI) instead. One test per loader:
rules, catalog, detectors, tiers, service levels, subscriptions, aliases, expectation suites.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchtower.config import ConfigError

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def _refused(load: Callable[[], Any], path: Path, *parts: str) -> str:
    with pytest.raises(ConfigError) as info:
        load()
    message = str(info.value)
    assert "\n" not in message  # one line in the CLI
    assert str(path) in message, message
    for part in parts:
        assert part in message, message
    return message


def _yaml(path: Path, data: Any) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _shipped(name: str) -> Any:
    return yaml.safe_load((MODELS / name).read_text(encoding="utf-8"))


def test_rules(tmp_path: Path) -> None:
    from watchtower.detect.rules import load_rules

    data = _shipped("rules.yaml")
    data["rules"][0]["severty"] = 3
    path = _yaml(tmp_path / "rules.yaml", data)
    _refused(lambda: load_rules(path), path, "['severty']", "allowed:")
    data = _shipped("rules.yaml") | {"parms": {}}
    path = _yaml(tmp_path / "rules.yaml", data)
    _refused(lambda: load_rules(path), path, "['parms']", "allowed:")


def test_catalog(tmp_path: Path) -> None:
    from watchtower.features import load_catalog

    data = yaml.safe_load((ROOT / "features" / "catalog.yaml").read_text(encoding="utf-8"))
    data["features"][0]["windw"] = "12m"
    path = _yaml(tmp_path / "catalog.yaml", data)
    _refused(lambda: load_catalog(path), path, "['windw']", "allowed:")
    data = yaml.safe_load((ROOT / "features" / "catalog.yaml").read_text(encoding="utf-8"))
    path = _yaml(tmp_path / "catalog.yaml", data | {"verison": "1"})
    _refused(lambda: load_catalog(path), path, "['verison']", "allowed:")


@pytest.mark.parametrize(
    ("change", "key", "where"),
    [
        (lambda d: d.update(weigths={}), "['weigths']", "the top level"),
        (lambda d: d["peer_group"].update(min_sise=3), "['min_sise']", "peer_group"),
        (lambda d: d["peer_group"].update(cell_min=3), "['cell_min']", "peer_group"),
        (
            lambda d: d["peer_group"]["comparable_by"][0].update(edge=[1]),
            "['edge']",
            "peer_group.comparable_by[0]",
        ),
        (lambda d: d["supervised"].update(horizon=90), "['horizon']", "supervised"),
        (lambda d: d["weights"].update(rules=0.3), "['rules']", "weights"),
        (lambda d: d["ensemble"]["detectors"][0].update(param={}), "['param']", "detectors[0]"),
    ],
)
def test_detectors(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], key: str, where: str
) -> None:
    from watchtower.detect.config import load_detect_config

    data = _shipped("detectors.yaml")
    change(data)
    path = _yaml(tmp_path / "detectors.yaml", data)
    _refused(lambda: load_detect_config(path), path, key, where, "allowed:")


def test_shipped_detectors_load() -> None:
    from watchtower.detect.config import load_detect_config

    assert load_detect_config(MODELS / "detectors.yaml").weight_anomaly == 0.45


def test_tiers(tmp_path: Path) -> None:
    from watchtower.warn.policy import load_policy

    data = _shipped("tiers.yaml")
    data["hysteresis"]["down_run"] = 3
    path = _yaml(tmp_path / "tiers.yaml", data)
    _refused(lambda: load_policy(tmp_path), path, "['down_run']", "hysteresis", "allowed:")


def test_service_levels(tmp_path: Path) -> None:
    from watchtower.warn.service import load_service_levels

    data = _shipped("service_levels.yaml")
    data["tiers"]["red"]["acknowledge_day"] = 2
    path = _yaml(tmp_path / "service_levels.yaml", data)
    _refused(lambda: load_service_levels(tmp_path), path, "['acknowledge_day']", "allowed:")
    path = _yaml(tmp_path / "service_levels.yaml", _shipped("service_levels.yaml") | {"tier": {}})
    _refused(lambda: load_service_levels(tmp_path), path, "['tier']", "allowed:")


def test_subscriptions(tmp_path: Path) -> None:
    from watchtower.warn.routing import load_subscriptions

    data = _shipped("subscriptions.yaml")
    path = _yaml(tmp_path / "subscriptions.yaml", data | {"subscriber": []})
    _refused(lambda: load_subscriptions(path), path, "['subscriber']")
    data["subscribers"][0]["emial"] = "x@example.org"
    path = _yaml(tmp_path / "subscriptions.yaml", data)
    _refused(lambda: load_subscriptions(path), path, "['emial']")


def test_aliases(tmp_path: Path) -> None:
    from watchtower.ingest.aliases import load_aliases

    path = _yaml(tmp_path / "aliases.yaml", {"manager": {"registerNo": ["编号"]}})
    _refused(lambda: load_aliases(path), path, "'manager'", "use one of")
    path = _yaml(tmp_path / "other.yaml", {"managers": {"registerNumber": ["编号"]}})
    _refused(lambda: load_aliases(path), path, "managers.registerNumber", "fields are:")


def test_suites(tmp_path: Path) -> None:
    # Great Expectations itself refuses a key its suite or expectation does not know.
    from watchtower.validate.suites import load_suite

    shutil.copytree(ROOT / "expectations", tmp_path / "expectations")
    path = tmp_path / "expectations" / "managers.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(document | {"expectaton": []}), encoding="utf-8")
    _refused(lambda: load_suite(tmp_path / "expectations", "managers"), path, "'expectaton'")
    document["expectations"][0]["kwarg"] = {}
    path = tmp_path / "expectations" / "funds.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    _refused(lambda: load_suite(tmp_path / "expectations", "funds"), path, "'kwarg'")
