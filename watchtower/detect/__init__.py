"""Detection: YAML rules, a pyod detector ensemble fit per peer group, an optional supervised
layer, reasons, and the model registry. Every scored manager gets one risk score in [0, 100]
(higher = riskier) with its reasons.

Each area adds its own import lines below (add lines only).
"""

from watchtower.detect.config import DetectConfig, load_detect_config
from watchtower.detect.detectors import (
    BaseRiskDetector,
    COPODDetector,
    ECODDetector,
    HBOSDetector,
    IForestDetector,
    RiskEnsemble,
)

__all__ = [
    "BaseRiskDetector",
    "COPODDetector",
    "DetectConfig",
    "ECODDetector",
    "HBOSDetector",
    "IForestDetector",
    "RiskEnsemble",
    "load_detect_config",
]

# rules engine: regulatory red flags (models/rules.yaml)
from watchtower.detect.rules import (
    Rule,
    RuleError,
    RuleHits,
    RuleSet,
    evaluate_rules,
    load_rules,
)

__all__ += ["Rule", "RuleError", "RuleHits", "RuleSet", "evaluate_rules", "load_rules"]

# risk model, training, registry and scoring steps (watchtower.detect, detectors engineer)
from watchtower.detect.model import POOLED, RiskModel, peer_groups  # noqa: E402
from watchtower.detect.reasons import RuleHit, build_reasons  # noqa: E402
from watchtower.detect.registry import (  # noqa: E402
    ModelRecord,
    RegistryError,
    UntrustedModelWarning,
    champion,
    list_models,
    load_model,
    promote,
    register_model,
    register_trained,
    rollback,
)
from watchtower.detect.training import (  # noqa: E402
    TrainResult,
    evaluate_model,
    train_model,
    walk_forward,
)

__all__ += [
    "POOLED",
    "ModelRecord",
    "RegistryError",
    "RiskModel",
    "RuleHit",
    "TrainResult",
    "UntrustedModelWarning",
    "build_reasons",
    "champion",
    "evaluate_model",
    "list_models",
    "load_model",
    "peer_groups",
    "promote",
    "register_model",
    "register_trained",
    "rollback",
    "train_model",
    "walk_forward",
]

# the steps the step layer calls (watchtower.detect.steps) and the reads beside them
from watchtower.detect._scoring import (  # noqa: E402
    export_scores,
    features_at,
    load_incidents,
    rule_hits_fn,
)
from watchtower.detect.challenger import ModelComparison, compare_challenger  # noqa: E402
from watchtower.detect.config import DetectConfigError  # noqa: E402
from watchtower.detect.registry import get_model, sign_model  # noqa: E402
from watchtower.detect.steps import (  # noqa: E402
    RunSummary,
    ScoreSummary,
    TrainSummary,
    run_day,
    run_scoring,
    run_training,
)

__all__ += [
    "DetectConfigError",
    "ModelComparison",
    "RunSummary",
    "ScoreSummary",
    "TrainSummary",
    "compare_challenger",
    "export_scores",
    "features_at",
    "get_model",
    "load_incidents",
    "rule_hits_fn",
    "run_day",
    "run_scoring",
    "run_training",
    "sign_model",
]
