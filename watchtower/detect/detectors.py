"""Anomaly detectors following the scikit-learn estimator contract.

One base, :class:`BaseRiskDetector`, owns what every detector shares (pyod's BaseDetector
pattern): input validation, the *directional* robust standardization of features, the
training-score statistics used to standardize scores, the contamination threshold and
labels. Subclasses only compute scores (``_fit_scores`` / ``_score``), each wrapping a pyod
model. :class:`RiskEnsemble` combines several detectors with pyod's combination functions.

Directional standardization ("only risky deviations count"): every feature ``j`` is centred
on its median and scaled by a robust spread (IQR/1.349, else std, else 1), then folded by its
risk direction ``d_j``:

- ``d_j = +1`` (higher is riskier): ``max(z_j, 0)``
- ``d_j = -1`` (lower is riskier):  ``max(-z_j, 0)``
- ``d_j = 0``  (no known direction): ``|z_j|``

and capped at ``clip``. Missing values count as "at the median" (deviation 0). A huge,
healthy firm (very large fund scale, many employees) therefore sits at 0 on every risky axis
and is not an outlier to any detector, however unusual it is on the raw scale.

Contract: ``__init__`` only stores parameters; ``fit`` returns ``self``; learned state ends in
``_``; ``decision_function`` never mutates the estimator; higher score = riskier.
"""

from __future__ import annotations

import copy
import warnings
from abc import ABCMeta, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from watchtower._compat.pyod_numba import use_cached_kernels

__all__ = [
    "COMBINATIONS",
    "DETECTOR_KINDS",
    "BaseRiskDetector",
    "COPODDetector",
    "ECODDetector",
    "HBOSDetector",
    "IForestDetector",
    "RiskEnsemble",
    "directional_deviations",
]

Array = NDArray[np.float64]


def _robust_center_scale(X: Array) -> tuple[Array, Array]:
    """Per-column median and robust spread of ``X`` (n, p), ignoring NaN."""
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        center = np.nanmedian(X, axis=0)
        q75, q25 = np.nanpercentile(X, [75, 25], axis=0)
        std = np.nanstd(X, axis=0)
    center = np.where(np.isfinite(center), center, 0.0)
    iqr = (q75 - q25) / 1.349
    scale = np.where(np.isfinite(iqr) & (iqr > 1e-12), iqr, std)
    scale = np.where(np.isfinite(scale) & (scale > 1e-12), scale, 1.0)
    return center.astype(np.float64), scale.astype(np.float64)


def directional_deviations(
    X: Array, center: Array, scale: Array, directions: Array, clip: float
) -> Array:
    """Fold standardized deviations of ``X`` (n, p) into the risky direction, in [0, clip].

    ``directions`` (p,) holds +1 (higher is riskier), -1 (lower is riskier) or 0 (both ways).
    NaN becomes 0 (no evidence of risk).
    """
    z = (X - center) / scale
    folded = np.where(directions > 0, z, np.where(directions < 0, -z, np.abs(z)))
    folded = np.where(np.isfinite(folded), folded, 0.0)
    return np.clip(folded, 0.0, clip).astype(np.float64)


# scikit-learn ships no type stubs, so BaseEstimator is Any to mypy.
class BaseRiskDetector(BaseEstimator, metaclass=ABCMeta):  # type: ignore[misc]
    """Shared base: directional standardization, score statistics, threshold, labels.

    Parameters
    ----------
    contamination : float in (0, 0.5]
        Expected share of outliers; sets ``threshold_`` and ``labels_``.
    directions : sequence of {-1, 0, +1} of length n_features, or None
        Risk direction per feature (see module docstring). None: every feature both ways.
    clip : float
        Cap on a folded standardized deviation.
    standardize : bool
        Robust-standardize each feature (median / IQR) before folding. False when the input is
        already on a common scale, e.g. peer deviations: then it is only folded and clipped.

    Fitted attributes: ``n_features_in_``, ``center_`` (p,), ``scale_`` (p,),
    ``directions_`` (p,), ``decision_scores_`` (n,), ``threshold_``, ``labels_`` (n,),
    ``score_mean_``, ``score_std_`` (training score mean / std for standardizing scores).
    """

    def __init__(
        self,
        contamination: float = 0.1,
        directions: Sequence[int] | None = None,
        clip: float = 10.0,
        standardize: bool = True,
    ) -> None:
        self.contamination = contamination
        self.directions = directions
        self.clip = clip
        self.standardize = standardize

    # -- what subclasses implement -------------------------------------------------------
    @abstractmethod
    def _fit_scores(self, Z: Array) -> None:
        """Fit the underlying model on deviations ``Z`` (n, p); store state in ``*_``."""

    @abstractmethod
    def _score(self, Z: Array) -> Array:
        """Raw scores (n,) of deviations ``Z``; higher = riskier; must not mutate self."""

    # -- shared machinery ------------------------------------------------------------------
    def _check_params(self, n_features: int) -> Array:
        if not (0.0 < float(self.contamination) <= 0.5):
            raise ValueError(f"contamination must be in (0, 0.5], got {self.contamination!r}")
        if not float(self.clip) > 0:
            raise ValueError(f"clip must be > 0, got {self.clip!r}")
        if self.directions is None:
            return np.zeros(n_features, dtype=np.float64)
        d = np.asarray(self.directions, dtype=np.float64).ravel()
        if d.shape[0] != n_features:
            raise ValueError(f"directions has {d.shape[0]} entries but X has {n_features} features")
        if not np.isin(d, (-1.0, 0.0, 1.0)).all():
            raise ValueError("directions must hold only -1, 0 or +1")
        return d

    def _validate(self, X: ArrayLike, *, reset: bool) -> Array:
        Xa = np.asarray(
            validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64),
            dtype=np.float64,
        )
        if np.isinf(Xa).any():
            raise ValueError("Input X contains infinity; use NaN for missing values.")
        return Xa

    def _deviations(self, X: ArrayLike) -> Array:
        Xa = self._validate(X, reset=False)
        return directional_deviations(
            Xa, self.center_, self.scale_, self.directions_, float(self.clip)
        )

    def fit(self, X: ArrayLike, y: object = None) -> BaseRiskDetector:
        """Fit on ``X`` (n_samples, n_features); ``y`` is ignored. Returns ``self``."""
        Xa = self._validate(X, reset=True)
        if Xa.shape[0] < 2:
            raise ValueError(
                f"Found array with {Xa.shape[0]} sample(s) while a minimum of 2 is required."
            )
        self.directions_ = self._check_params(Xa.shape[1])
        if self.standardize:
            self.center_, self.scale_ = _robust_center_scale(Xa)
        else:  # input already on a common scale (e.g. deviations): fold and clip only
            self.center_ = np.zeros(Xa.shape[1], dtype=np.float64)
            self.scale_ = np.ones(Xa.shape[1], dtype=np.float64)
        Z = directional_deviations(
            Xa, self.center_, self.scale_, self.directions_, float(self.clip)
        )
        self._fit_scores(Z)
        scores = np.asarray(self._score(Z), dtype=np.float64)
        self.decision_scores_ = scores
        self.threshold_ = float(np.percentile(scores, 100 * (1 - float(self.contamination))))
        self.labels_ = (scores > self.threshold_).astype(int)
        self.score_mean_ = float(np.mean(scores))
        std = float(np.std(scores))
        self.score_std_ = std if std > 1e-12 else 1.0
        return self

    def deviations(self, X: ArrayLike) -> Array:
        """Folded risky-direction deviations (n, p) in [0, clip]: the detectors' input and the
        per-feature evidence used for reasons."""
        check_is_fitted(self)
        return self._deviations(X)

    def decision_function(self, X: ArrayLike) -> Array:
        """Raw risk scores (n,) of ``X``; higher = riskier."""
        check_is_fitted(self)
        return np.asarray(self._score(self._deviations(X)), dtype=np.float64)

    def standardized_scores(self, X: ArrayLike) -> Array:
        """Scores (n,) z-standardized with the training score mean and std."""
        return (self.decision_function(X) - self.score_mean_) / self.score_std_

    def predict(self, X: ArrayLike) -> NDArray[np.int_]:
        """Binary labels (n,): 1 = outlier (score above ``threshold_``), 0 = inlier."""
        return (self.decision_function(X) > self.threshold_).astype(int)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.estimator_type = "outlier_detector"
        tags.input_tags.allow_nan = True
        return tags


class IForestDetector(BaseRiskDetector):
    """Isolation forest (pyod ``IForest``) on directional deviations."""

    def __init__(
        self,
        n_estimators: int = 100,
        max_samples: int | float | str = "auto",
        max_features: float = 1.0,
        random_state: int | None = None,
        contamination: float = 0.1,
        directions: Sequence[int] | None = None,
        clip: float = 10.0,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            contamination=contamination,
            directions=directions,
            clip=clip,
            standardize=standardize,
        )
        self.n_estimators = n_estimators
        self.max_samples = max_samples
        self.max_features = max_features
        self.random_state = random_state

    def _fit_scores(self, Z: Array) -> None:
        from pyod.models.iforest import IForest

        self.model_ = IForest(
            n_estimators=self.n_estimators,
            max_samples=self.max_samples,
            max_features=self.max_features,
            random_state=self.random_state,
            contamination=self.contamination,
        ).fit(Z)

    def _score(self, Z: Array) -> Array:
        return np.asarray(self.model_.decision_function(Z), dtype=np.float64)


class _TransductivePyod(BaseRiskDetector):
    """pyod ECOD/COPOD keep intermediate arrays on the instance while scoring; score on a
    shallow copy so that ``decision_function`` never mutates the fitted estimator.

    Subclasses name the pyod model in ``_pyod_model``; both take only ``contamination``."""

    def __init__(
        self,
        contamination: float = 0.1,
        directions: Sequence[int] | None = None,
        clip: float = 10.0,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            contamination=contamination,
            directions=directions,
            clip=clip,
            standardize=standardize,
        )

    def _pyod_model(self) -> Any:
        raise NotImplementedError

    def _fit_scores(self, Z: Array) -> None:
        use_cached_kernels()  # pyod's kernels, compiled once per machine, not per process
        self.model_ = self._pyod_model()(contamination=self.contamination).fit(Z)

    def _score(self, Z: Array) -> Array:
        model = copy.copy(self.model_)
        return np.asarray(model.decision_function(Z), dtype=np.float64)


class ECODDetector(_TransductivePyod):
    """Empirical-CDF outlier detection (pyod ``ECOD``) on directional deviations."""

    def _pyod_model(self) -> Any:
        from pyod.models.ecod import ECOD

        return ECOD


class COPODDetector(_TransductivePyod):
    """Copula-based outlier detection (pyod ``COPOD``) on directional deviations."""

    def _pyod_model(self) -> Any:
        from pyod.models.copod import COPOD

        return COPOD


class HBOSDetector(BaseRiskDetector):
    """Histogram-based outlier score (pyod ``HBOS``) on directional deviations."""

    def __init__(
        self,
        n_bins: int = 10,
        alpha: float = 0.1,
        tol: float = 0.5,
        contamination: float = 0.1,
        directions: Sequence[int] | None = None,
        clip: float = 10.0,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            contamination=contamination,
            directions=directions,
            clip=clip,
            standardize=standardize,
        )
        self.n_bins = n_bins
        self.alpha = alpha
        self.tol = tol

    def _fit_scores(self, Z: Array) -> None:
        from pyod.models.hbos import HBOS

        use_cached_kernels()  # pyod's kernels, compiled once per machine, not per process

        self.model_ = HBOS(
            n_bins=self.n_bins, alpha=self.alpha, tol=self.tol, contamination=self.contamination
        ).fit(Z)

    def _score(self, Z: Array) -> Array:
        return np.asarray(self.model_.decision_function(Z), dtype=np.float64)


#: Detector classes by the ``kind`` used in models/detectors.yaml.
DETECTOR_KINDS: dict[str, type[BaseRiskDetector]] = {
    "IForest": IForestDetector,
    "ECOD": ECODDetector,
    "COPOD": COPODDetector,
    "HBOS": HBOSDetector,
}

#: Score combination methods (pyod.models.combination, backed by the combo package).
COMBINATIONS = ("average", "maximization", "median", "aom", "moa")


class RiskEnsemble(BaseRiskDetector):
    """Several detectors on the same directional deviations, scores combined.

    Each member is cloned and fitted with the ensemble's ``directions``/``clip``; its scores
    are z-standardized with its own training-score mean and std (pyod's ``standardizer``
    convention) and the columns are combined with ``pyod.models.combination.<combination>``
    (``aom``/``moa`` use ``n_buckets`` and ``random_state``). ``weights`` (one per member)
    apply to ``average`` only.

    Fitted: ``detectors_`` (list of fitted members) plus the base attributes.
    """

    def __init__(
        self,
        detectors: Sequence[tuple[str, BaseRiskDetector]] = (),
        combination: str = "average",
        weights: Sequence[float] | None = None,
        n_buckets: int = 2,
        random_state: int | None = None,
        contamination: float = 0.1,
        directions: Sequence[int] | None = None,
        clip: float = 10.0,
        standardize: bool = True,
    ) -> None:
        super().__init__(
            contamination=contamination,
            directions=directions,
            clip=clip,
            standardize=standardize,
        )
        self.detectors = detectors
        self.combination = combination
        self.weights = weights
        self.n_buckets = n_buckets
        self.random_state = random_state

    def _members(self) -> list[tuple[str, BaseRiskDetector]]:
        members = list(self.detectors) or [("ecod", ECODDetector())]
        if self.combination not in COMBINATIONS:
            raise ValueError(
                f"combination must be one of {', '.join(COMBINATIONS)}, not {self.combination!r}"
            )
        if self.weights is not None and len(self.weights) != len(members):
            raise ValueError("weights needs one entry per detector")
        return members

    def _fit_scores(self, Z: Array) -> None:
        fitted: list[tuple[str, BaseRiskDetector]] = []
        for name, det in self._members():
            # Members see the ensemble's folded deviations: no second standardization or fold.
            member = clone(det).set_params(
                directions=np.ones(Z.shape[1], dtype=int).tolist(),
                clip=float(self.clip),
                standardize=False,
                contamination=self.contamination,
            )
            fitted.append((name, member.fit(Z)))
        self.detectors_ = fitted

    def member_scores(self, X: ArrayLike) -> dict[str, Array]:
        """Standardized score (n,) of every member, by name."""
        check_is_fitted(self)
        Z = self._deviations(X)
        return {name: self._member_std(det, Z) for name, det in self.detectors_}

    @staticmethod
    def _member_std(det: BaseRiskDetector, Z: Array) -> Array:
        return (det.decision_function(Z) - det.score_mean_) / det.score_std_

    def _score(self, Z: Array) -> Array:
        from pyod.models import combination as comb

        cols = np.column_stack([self._member_std(det, Z) for _, det in self.detectors_])
        method = self.combination
        if method == "average":
            w = None if self.weights is None else np.asarray(self.weights, float).reshape(1, -1)
            return np.asarray(comb.average(cols, estimator_weights=w), dtype=np.float64)
        if method in ("aom", "moa") and cols.shape[1] >= 2:
            n_buckets = int(self.n_buckets)
            if not 2 <= n_buckets <= cols.shape[1] or cols.shape[1] % n_buckets:
                raise ValueError(
                    f"{method} needs n_buckets in [2, {cols.shape[1]}] dividing the number of "
                    f"detectors ({cols.shape[1]}), got {n_buckets}"
                )
            fn = comb.aom if method == "aom" else comb.moa
            return np.asarray(
                fn(cols, n_buckets=n_buckets, random_state=self.random_state), dtype=np.float64
            )
        if method in ("aom", "moa"):  # a single member: nothing to bucket
            return cols[:, 0].astype(np.float64)
        return np.asarray(getattr(comb, method)(cols), dtype=np.float64)
