"""The tier policy (models/tiers.yaml) as typed data, and the owner of every tier floor.

A floor (the lowest tier a rule hit forces, whatever the score) is decided here, once:
:attr:`TierPolicy.overrides`, rule id -> tier, built by :func:`load_policy` with
:func:`merge_floors` from its two declarations:

- a rule's own ``tier_floor`` in ``models/rules.yaml`` (where a rule's floor is set; read by
  :func:`rule_floors`, whose :func:`check_floor` is also what the rule engine validates the key
  with);
- ``overrides`` in ``models/tiers.yaml``: the supervisor's policy, which may only raise a
  floor (the higher tier wins), also for an id no rule uses yet; an override repeating or
  lowering its rule's floor is refused (:func:`check_overrides`), so no floor is declared
  twice.

A rule reason stored with a score carries the ``tier_floor`` of its rule as scored: a copy
for the record (and for a hit the policy of the day does not know), never a third source.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from watchtower.config import ConfigError
from watchtower.store.alerts import ALERT_STATUSES, TIERS

__all__ = [
    "BASES",
    "TIERS",
    "TIER_LABELS",
    "TIER_RANK",
    "PolicyError",
    "TierPolicy",
    "check_floor",
    "check_overrides",
    "higher",
    "load_policy",
    "merge_floors",
    "rank",
    "read_rule_file",
    "rule_floors",
]

#: Rank of each tier; higher = more severe. ``None`` (no tier) ranks 0.
TIER_RANK: dict[str | None, int] = {None: 0, "blue": 1, "yellow": 2, "orange": 3, "red": 4}

TIER_LABELS: dict[str, dict[str, str]] = {
    "red": {"zh": "红", "en": "Red"},
    "orange": {"zh": "橙", "en": "Orange"},
    "yellow": {"zh": "黄", "en": "Yellow"},
    "blue": {"zh": "蓝", "en": "Blue"},
}


#: How a score reaches a tier (``basis`` in models/tiers.yaml): ``score`` thresholds (0-100),
#: ``probability`` thresholds on the calibrated probability of an incident within 12 months,
#: or an alert ``budget`` (at most a share of the day's scored managers at or above a tier).
BASES: tuple[str, ...] = ("score", "probability", "budget")


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
    """Thresholds (score 0-100), hysteresis and rule overrides; see models/tiers.yaml.

    ``basis`` (:data:`BASES`) says how the day's thresholds are found
    (:func:`watchtower.warn.tiers.day_thresholds`): the score ``thresholds`` themselves; the
    lowest score whose calibrated probability reaches ``probability_thresholds`` (falling
    back to the score thresholds on a day without probabilities); or the ``budget``: tier T
    (a key of ``budget``, a cumulative share: red and orange together for orange) reaches at
    most that share of the day's scored managers, never below ``budget_min_score``; a tier
    the budget does not name keeps its score threshold.
    """

    version: str
    thresholds: Mapping[str, float]  # tier -> lowest score reaching it
    basis: str = "score"
    probability_thresholds: Mapping[str, float] = field(default_factory=dict)
    budget: Mapping[str, float] = field(default_factory=dict)  # tier -> cumulative share
    budget_min_score: float = 40.0
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
        self._check_basis()
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

    def _check_basis(self) -> None:
        if self.basis not in BASES:
            raise PolicyError(f"basis: unknown {self.basis!r}; one of {', '.join(BASES)}")
        probs = self.probability_thresholds
        if self.basis == "probability" and set(probs) != set(TIERS):
            raise PolicyError(f"probability_thresholds must name exactly {', '.join(TIERS)}")
        values = [float(probs[t]) for t in TIERS if t in probs]
        if any(not 0 < v <= 1 for v in values) or values != sorted(set(values), reverse=True):
            raise PolicyError(
                "probability_thresholds must lie in (0, 1] and strictly decrease from red to blue"
            )
        if set(self.budget) - set(TIERS):
            raise PolicyError(f"budget: unknown tier(s) {sorted(set(self.budget) - set(TIERS))}")
        if self.basis == "budget" and not self.budget:
            raise PolicyError("basis budget needs a budget: tier -> share of managers")
        shares = [float(self.budget[t]) for t in TIERS if t in self.budget]
        if any(not 0 < v <= 1 for v in shares) or shares != sorted(shares):
            raise PolicyError(
                "budget shares lie in (0, 1] and are cumulative: a lower tier's share includes "
                "the tiers above it, so it is never smaller"
            )
        if not 0 <= self.budget_min_score <= 100:
            raise PolicyError("budget.min_score must lie in [0, 100]")


def check_floor(value: object) -> str | None:
    """A declared floor: None when not set, else the tier; raises ValueError naming the
    allowed tiers (callers add the file and the rule)."""
    if value is None:
        return None
    if value not in TIERS:
        raise ValueError(f"tier_floor {value!r} is not one of {', '.join(TIERS)}")
    return str(value)


def read_rule_file(path: Path, error: type[ConfigError] = PolicyError) -> Any:
    """The YAML of ``models/rules.yaml``: the one read of that file, for the rule engine
    (:func:`watchtower.detect.load_rules` validates every rule) and for :func:`rule_floors`
    (only the floors). ``error``: what a missing or malformed file raises (the caller's)."""
    return read_yaml_file(path, error, "rule file")


def read_yaml_file(path: Path, error: type[ConfigError], what: str) -> Any:
    """The YAML of one configuration file of ``models/``; a missing file (``what`` names it)
    or YAML that does not parse raises ``error`` in one line naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise error(f"{path}: {what} not found") from exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from exc


def rule_floors(rules_path: Path) -> dict[str, str]:
    """``tier_floor`` per rule id of ``models/rules.yaml`` (``{}`` without the file).

    Only the ids and floors are read, tolerant of the layout (a list of rules, or a mapping
    id -> rule, optionally under a ``rules`` key): the policy loads without the feature
    catalog that validating the whole rule file needs (:func:`watchtower.detect.load_rules`
    does that, with the same :func:`check_floor`)."""
    if not rules_path.exists():
        return {}
    data = read_rule_file(rules_path) or {}
    rules: Any = data.get("rules", data) if isinstance(data, dict) else data
    items: list[tuple[str, Any]] = []
    if isinstance(rules, dict):
        items = [(str(k), v) for k, v in rules.items()]
    elif isinstance(rules, list):
        items = [(str(r.get("id", "")), r) for r in rules if isinstance(r, dict)]
    floors: dict[str, str] = {}
    for rule_id, rule in items:
        value = rule.get("tier_floor") if isinstance(rule, dict) else None
        try:
            floor = check_floor(value or None)
        except ValueError as exc:
            raise PolicyError(f"{rules_path}: rule {rule_id!r}: {exc}") from exc
        if rule_id and floor:
            floors[rule_id] = floor
    return floors


def merge_floors(overrides: Mapping[str, str], floors: Mapping[str, str]) -> dict[str, str]:
    """The floor per rule id: a rule's own floor raised by the policy's override (the higher
    tier wins); ids in only one of them keep theirs."""
    merged = dict(overrides)
    for rule_id, floor in floors.items():
        merged[rule_id] = higher(merged.get(rule_id), floor) or floor
    return merged


def check_overrides(path: Path, overrides: Mapping[str, str], floors: Mapping[str, str]) -> None:
    """Refuse an override that does not raise its rule's own floor: the same floor declared a
    second time (or a lower one, which would never apply) is a second owner of one decision."""
    twice = sorted(
        f"{rule_id}: {tier} (rules.yaml: {floors[rule_id]})"
        for rule_id, tier in overrides.items()
        if rule_id in floors and tier in TIER_RANK and rank(tier) <= rank(floors[rule_id])
    )
    if twice:
        raise PolicyError(
            f"{path}: overrides {', '.join(twice)} do not raise the tier_floor the rule sets in "
            "rules.yaml; a floor is set once, on its rule: remove the override (an override "
            "may only raise a rule's floor, or set one for an id no rule floors)"
        )


#: The keys of models/tiers.yaml, per section (None: the top level); anything else is refused.
_KEYS: dict[str | None, tuple[str, ...]] = {
    None: (
        "version",
        "basis",
        "thresholds",
        "probability_thresholds",
        "budget",
        "hysteresis",
        "overrides",
        "alerts",
        "digest",
    ),
    "probability_thresholds": TIERS,
    "budget": (*TIERS, "min_score"),
    "hysteresis": ("margin", "down_runs"),
    "alerts": ("min_tier", "quiet_days", "auto_resolve_statuses", "false_positive_snooze_days"),
    "digest": ("trend_runs", "chart_runs", "top_reasons"),
}


def _check_keys(path: Path, data: Mapping[str, Any]) -> None:
    """Refuse a key the policy does not read (a typo would silently keep the default)."""
    if not isinstance(data, Mapping):
        raise PolicyError(f"{path}: expected a mapping at the top")
    for section, allowed in _KEYS.items():
        part = data if section is None else data.get(section)
        if part is None:
            continue
        where = "top level" if section is None else f"section {section!r}"
        if not isinstance(part, Mapping):
            raise PolicyError(f"{path}: {where} must be a mapping")
        unknown = sorted(str(k) for k in set(part) - set(allowed))
        if unknown:
            raise PolicyError(
                f"{path}: unknown key(s) {unknown} in the {where}; allowed: {', '.join(allowed)}"
            )


def _floats(section: Any) -> dict[str, float]:
    return {str(k): float(v) for k, v in (section or {}).items()}


def load_policy(models_dir: Path) -> TierPolicy:
    """Read ``models_dir/tiers.yaml`` and the ``tier_floor`` of ``models_dir/rules.yaml``
    (merged by :func:`merge_floors`)."""
    path = models_dir / "tiers.yaml"
    if not path.exists():
        raise PolicyError(f"tier policy not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise PolicyError(f"{path}: not valid YAML: {exc}") from exc
    _check_keys(path, data)
    hyst = data.get("hysteresis") or {}
    alerts = data.get("alerts") or {}
    digest = data.get("digest") or {}
    budget = dict(data.get("budget") or {})
    budget_min = budget.pop("min_score", None)
    thresholds = _floats(data.get("thresholds"))
    declared = {str(k): str(v) for k, v in (data.get("overrides") or {}).items()}
    floors = rule_floors(models_dir / "rules.yaml")
    check_overrides(path, declared, floors)
    overrides = merge_floors(declared, floors)
    try:
        return TierPolicy(
            version=str(data.get("version", "0")),
            thresholds=thresholds,
            basis=str(data.get("basis", "score")),
            probability_thresholds=_floats(data.get("probability_thresholds")),
            budget=_floats(budget),
            budget_min_score=float(
                thresholds.get("blue", 40.0) if budget_min is None else budget_min
            ),
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
    except (TypeError, ValueError) as exc:  # PolicyError too: every message names the file
        raise PolicyError(f"{path}: {exc}") from exc
