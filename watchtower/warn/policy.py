"""The tier policy (models/tiers.yaml) as typed data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from watchtower.config import ConfigError
from watchtower.store.alerts import ALERT_STATUSES, TIERS

#: Rank of each tier; higher = more severe. ``None`` (no tier) ranks 0.
TIER_RANK: dict[str | None, int] = {None: 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}

TIER_LABELS: dict[str, dict[str, str]] = {
    "red": {"zh": "红", "en": "Red"},
    "orange": {"zh": "橙", "en": "Orange"},
    "yellow": {"zh": "黄", "en": "Yellow"},
    "blue": {"zh": "蓝", "en": "Blue"},
}


class PolicyError(ConfigError):
    """The tier policy file is malformed; the message names the key."""


def rank(tier: str | None) -> int:
    """Severity rank of ``tier`` (0 for no tier)."""
    return TIER_RANK[tier]


def higher(a: str | None, b: str | None) -> str | None:
    """The more severe of two tiers."""
    return a if rank(a) >= rank(b) else b


@dataclass(frozen=True)
class TierPolicy:
    """Thresholds (score 0-100), hysteresis and rule overrides; see models/tiers.yaml."""

    version: str
    thresholds: Mapping[str, float]  # tier -> lowest score reaching it
    margin: float = 5.0
    down_runs: int = 2
    overrides: Mapping[str, str] = field(default_factory=dict)  # rule id -> floor tier
    min_tier: str = "blue"
    quiet_days: int = 14
    false_positive_snooze_days: int = 30
    auto_resolve_statuses: tuple[str, ...] = ("new", "acknowledged")
    trend_runs: int = 8
    chart_runs: int = 14
    top_reasons: int = 3

    def __post_init__(self) -> None:
        if set(self.thresholds) != set(TIERS):
            raise PolicyError(f"thresholds must name exactly {', '.join(TIERS)}")
        values = [float(self.thresholds[t]) for t in TIERS]
        if values != sorted(values, reverse=True) or len(set(values)) != len(values):
            raise PolicyError("thresholds must strictly decrease from red to blue")
        for rule, tier in self.overrides.items():
            if tier not in TIERS:
                raise PolicyError(f"override {rule!r}: unknown tier {tier!r}")
        if self.min_tier not in TIERS:
            raise PolicyError(f"alerts.min_tier: unknown tier {self.min_tier!r}")
        if self.down_runs < 1 or self.margin < 0 or self.quiet_days < 1:
            raise PolicyError(
                "hysteresis.down_runs and alerts.quiet_days must be >= 1, margin >= 0"
            )
        bad = set(self.auto_resolve_statuses) - set(ALERT_STATUSES[:-1])
        if bad:
            raise PolicyError(f"alerts.auto_resolve_statuses: unknown status {sorted(bad)}")


def _rule_floors(rules_path: Path) -> dict[str, str]:
    """``tier_floor`` per rule id from models/rules.yaml, tolerant of its exact layout
    (a list of rules, or a mapping id -> rule, optionally under a ``rules`` key)."""
    if not rules_path.exists():
        return {}
    data = yaml.safe_load(rules_path.read_text(encoding="utf-8")) or {}
    rules: Any = data.get("rules", data) if isinstance(data, dict) else data
    items: list[tuple[str, Any]] = []
    if isinstance(rules, dict):
        items = [(str(k), v) for k, v in rules.items()]
    elif isinstance(rules, list):
        items = [(str(r.get("id", "")), r) for r in rules if isinstance(r, dict)]
    floors: dict[str, str] = {}
    for rule_id, rule in items:
        floor = rule.get("tier_floor") if isinstance(rule, dict) else None
        if rule_id and floor:
            if floor not in TIERS:
                raise PolicyError(f"{rules_path}: rule {rule_id!r} tier_floor {floor!r} unknown")
            floors[rule_id] = str(floor)
    return floors


def load_policy(models_dir: Path) -> TierPolicy:
    """Read ``models_dir/tiers.yaml`` and the ``tier_floor`` of ``models_dir/rules.yaml``."""
    path = models_dir / "tiers.yaml"
    if not path.exists():
        raise PolicyError(f"tier policy not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    hyst = data.get("hysteresis") or {}
    alerts = data.get("alerts") or {}
    digest = data.get("digest") or {}
    overrides = {str(k): str(v) for k, v in (data.get("overrides") or {}).items()}
    for rule_id, floor in _rule_floors(models_dir / "rules.yaml").items():
        overrides[rule_id] = higher(overrides.get(rule_id), floor) or floor
    try:
        return TierPolicy(
            version=str(data.get("version", "0")),
            thresholds={str(k): float(v) for k, v in (data.get("thresholds") or {}).items()},
            margin=float(hyst.get("margin", 5)),
            down_runs=int(hyst.get("down_runs", 2)),
            overrides=overrides,
            min_tier=str(alerts.get("min_tier", "blue")),
            quiet_days=int(alerts.get("quiet_days", 14)),
            false_positive_snooze_days=int(alerts.get("false_positive_snooze_days", 30)),
            auto_resolve_statuses=tuple(
                alerts.get("auto_resolve_statuses", ("new", "acknowledged"))
            ),
            trend_runs=int(digest.get("trend_runs", 8)),
            chart_runs=int(digest.get("chart_runs", 14)),
            top_reasons=int(digest.get("top_reasons", 3)),
        )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, PolicyError):
            raise
        raise PolicyError(f"{path}: {exc}") from exc
