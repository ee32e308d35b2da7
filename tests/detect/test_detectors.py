"""The scikit-learn estimator contract, for every detector (one parametrized test module)."""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import estimator_checks as ec

from watchtower.detect.config import DetectConfig, load_detect_config
from watchtower.detect.detectors import (
    DETECTOR_KINDS,
    BaseRiskDetector,
    COPODDetector,
    ECODDetector,
    HBOSDetector,
    IForestDetector,
    RiskEnsemble,
)


def _ensemble(**kw: object) -> RiskEnsemble:
    return RiskEnsemble(
        detectors=[
            ("iforest", IForestDetector(n_estimators=30, random_state=0)),
            ("ecod", ECODDetector()),
            ("copod", COPODDetector()),
            ("hbos", HBOSDetector()),
        ],
        random_state=0,
        **kw,  # type: ignore[arg-type]
    )


DETECTORS: list[BaseRiskDetector] = [
    IForestDetector(n_estimators=30, random_state=0),
    ECODDetector(),
    COPODDetector(),
    HBOSDetector(),
    _ensemble(),
    _ensemble(combination="aom", n_buckets=2),
    _ensemble(combination="maximization"),
]
IDS = ["iforest", "ecod", "copod", "hbos", "ensemble-avg", "ensemble-aom", "ensemble-max"]


@pytest.fixture
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 5))
    X[:5] += 6.0  # risky: far above on every axis
    X[5:10] -= 6.0  # unusual, but in the safe direction
    X[20, 2] = np.nan
    return X


# A selection of scikit-learn's own checks that apply to unsupervised detectors (the
# outlier-specific ones assume sklearn's -1/+1 labels; ours are pyod's 0/1).
SKLEARN_CHECKS = [
    ec.check_no_attributes_set_in_init,
    ec.check_estimators_dtypes,
    ec.check_fit_score_takes_y,
    ec.check_estimators_fit_returns_self,
    ec.check_estimators_overwrite_params,
    ec.check_dont_overwrite_parameters,
    ec.check_estimators_unfitted,
    ec.check_estimators_pickle,
    ec.check_get_params_invariance,
    ec.check_set_params,
    ec.check_parameters_default_constructible,
    ec.check_fit2d_1feature,
    ec.check_fit_idempotent,
    ec.check_n_features_in,
    ec.check_fit_check_is_fitted,
    ec.check_estimators_empty_data_messages,
    ec.check_dict_unchanged,
    ec.check_estimator_repr,
    ec.check_estimator_cloneable,
]


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
@pytest.mark.parametrize("check", SKLEARN_CHECKS, ids=lambda c: c.__name__)
def test_sklearn_checks(det: BaseRiskDetector, check: object) -> None:
    check(type(det).__name__, clone(det))  # type: ignore[operator]


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
def test_contract(det: BaseRiskDetector, data: np.ndarray) -> None:
    est = clone(det)
    # __init__ stores params only: get_params round-trips, nothing learned yet.
    assert clone(est).get_params(deep=False).keys() == est.get_params(deep=False).keys()
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("__")]
    with pytest.raises(NotFittedError):
        est.decision_function(data)
    assert est.fit(data) is est
    assert est.n_features_in_ == data.shape[1]
    learned = [k for k in vars(est) if k.endswith("_")]
    assert {"decision_scores_", "threshold_", "labels_", "center_", "scale_"} <= set(learned)
    # Scoring never mutates the fitted estimator.
    before = joblib.hash(est)
    s1 = est.decision_function(data)
    est.predict(data)
    est.standardized_scores(data)
    est.deviations(data)
    assert joblib.hash(est) == before
    s2 = est.decision_function(data)
    np.testing.assert_array_equal(s1, s2)
    assert s1.shape == (data.shape[0],) and np.isfinite(s1).all()
    # Deterministic given random_state; pickle round-trip scores the same.
    np.testing.assert_allclose(clone(det).fit(data).decision_function(data), s1)
    np.testing.assert_allclose(pickle.loads(pickle.dumps(est)).decision_function(data), s1)
    # Wrong width is refused.
    with pytest.raises(ValueError):
        est.decision_function(data[:, :3])


@pytest.mark.parametrize("det", DETECTORS, ids=IDS)
def test_higher_is_riskier_and_direction_matters(det: BaseRiskDetector, data: np.ndarray) -> None:
    up = clone(det).set_params(directions=[1] * data.shape[1]).fit(data)
    s = up.decision_function(data)
    healthy = np.median(s[10:])
    assert s[:5].min() > np.percentile(s[10:], 95)  # risky-direction outliers rank on top
    assert s[5:10].max() <= np.percentile(s[10:], 75) + 1e-9  # safe-direction ones do not
    assert healthy < s[:5].min()
    # Flipping every direction flips which group is flagged.
    down = clone(det).set_params(directions=[-1] * data.shape[1]).fit(data)
    d = down.decision_function(data)
    assert d[5:10].min() > np.percentile(d[10:], 95)
    # Two-sided (no direction): both groups are outliers.
    both = clone(det).fit(data).decision_function(data)
    assert min(both[:10]) > np.percentile(both[10:], 90)
    # Labels follow the contamination threshold.
    assert set(np.unique(up.labels_)) <= {0, 1}
    assert up.labels_.mean() <= up.contamination + 0.02


@pytest.mark.parametrize("kind", sorted(DETECTOR_KINDS))
def test_bad_params_fail_clearly(kind: str, data: np.ndarray) -> None:
    with pytest.raises(ValueError, match="contamination"):
        DETECTOR_KINDS[kind](contamination=0.9).fit(data)
    with pytest.raises(ValueError, match="directions"):
        DETECTOR_KINDS[kind](directions=[1, 1]).fit(data)
    with pytest.raises(ValueError, match="directions"):
        DETECTOR_KINDS[kind](directions=[2, 1, 1, 1, 1]).fit(data)


def test_ensemble_combination_errors(data: np.ndarray) -> None:
    with pytest.raises(ValueError, match="combination"):
        _ensemble(combination="vote").fit(data)
    with pytest.raises(ValueError, match="n_buckets"):
        _ensemble(combination="aom", n_buckets=3).fit(data)
    scores = _ensemble().fit(data).member_scores(data)
    assert sorted(scores) == ["copod", "ecod", "hbos", "iforest"]


def test_shipped_config_builds_a_working_ensemble(data: np.ndarray) -> None:
    from watchtower.config import load_settings

    cfg = load_detect_config(load_settings({}).models_dir / "detectors.yaml")
    assert DetectConfig.from_dict(cfg.to_dict()) == cfg
    ens = cfg.build_ensemble([1] * data.shape[1]).fit(data)
    s = ens.standardized_scores(data)
    assert s[:5].min() > s[10:].max()
