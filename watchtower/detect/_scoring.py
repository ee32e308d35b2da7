"""Detection against the store: the work behind ``pipeline.train`` / ``score`` / ``run`` and
``watchtower scores export``.

- Features of a day come from the stored snapshot (``feature_snapshots``) when it is complete
  for the catalog's version, else they are computed point-in-time and stored.
- Scoring uses the registry's champion (verified artifact); without one, the model of
  ``models/detectors.yaml`` with its walk-forward supervised layer: trained on the labels
  known by the retrain cut-off C on or before the day (``model_id`` ``config-<sha12>+wf<C>``;
  ``config-<sha12>`` when too few labels are known by C), so a fresh install scores and a
  backtest day learns only from what was known then.
- Scores are written idempotently: re-running a day replaces that day's rows of the managers
  scored (a partition run replaces only its partition).
- A partition's feature rows are read with a SQL condition on the manager type
  (``watchtower.store.features.load_features(partition=...)``), never read whole and
  filtered, unless the partition holds pooled managers (see ``steps.run_scoring``).
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa

from watchtower.config import Settings
from watchtower.detect.calibration import (
    HORIZON_DAYS,
    CalibrationMap,
    calibration_days,
    calibration_sample,
    fit_calibration,
)
from watchtower.detect.config import DetectConfig, load_detect_config
from watchtower.detect.model import RiskModel, RuleHitsFn
from watchtower.detect.reasons import with_ties
from watchtower.detect.registry import (
    ModelRecord,
    champion,
    list_models,
    load_artifact,
    model_key,
)
from watchtower.detect.supervised import retrain_cutoff
from watchtower.detect.training import WalkForwardLayer, config_model, walk_forward_layer
from watchtower.store.bulk import IN_CHUNK
from watchtower.store.labels import incident_labels
from watchtower.store.scoring import risk_scores
from watchtower.text import neutralize_cell
from watchtower.values import finite_float

__all__ = [
    "ScoringContext",
    "calibration_at",
    "export_scores",
    "features_at",
    "load_incidents",
    "name_ties",
    "neutralize_cell",
    "read_scores",
    "rule_hits_fn",
    "scoring_context",
    "walk_forward_at",
    "write_scores",
]


def load_catalog(settings: Settings) -> Any:
    """The feature catalog (features/*.yaml) of these settings."""
    from watchtower.features import load_catalog as _load

    return _load(settings.features_dir)


def load_incidents(engine: sa.Engine, as_of: dt.date) -> pd.DataFrame:
    """Labels known on ``as_of`` (incidents, forced deregistrations, alerts closed as a
    confirmed risk): columns register_no, incident_date, incident_type."""
    with engine.connect() as conn:
        return incident_labels(conn, as_of)


def _partition_slug(manager_type: Any) -> str:
    from watchtower.features import PARTITIONS, UNKNOWN_PARTITION

    return str(PARTITIONS.get(manager_type, UNKNOWN_PARTITION))


def features_at(
    engine: sa.Engine,
    catalog: Any,
    day: dt.date,
    *,
    created_at: dt.datetime | None = None,
    store: bool = True,
    partition: str | None = None,
    managers: int | None = None,
) -> pd.DataFrame:
    """The feature frame of ``day`` (index register_no, metadata + float features).

    Taken from the stored snapshot of the catalog's version when it covers every partition
    known on ``day`` and was computed from what the store knows of ``day`` now; otherwise
    computed from history known by ``day`` (and stored when ``store``, stamped
    ``created_at``). So a correction known by ``day`` that arrived after the snapshot was
    stored recomputes it, and a correction received later leaves it alone.

    ``partition`` (with ``managers``, how many managers it has on ``day``): only that
    partition's rows, read from the store with a SQL condition on the manager type when its
    snapshot is fresh and holds exactly ``managers`` rows (fewer: not computed yet; more: a
    manager whose type was corrected since), else computed and stored for that partition.
    """
    from watchtower.features import compute_features, list_partitions
    from watchtower.store.features import (
        fresh_partitions,
        load_features,
        record_feature_run,
        store_features,
    )
    from watchtower.store.knowledge import knowledge_of

    version = str(catalog.version)
    with engine.connect() as conn:
        knowledge = knowledge_of(conn, day)
        fresh = fresh_partitions(conn, day, version, knowledge)
    names = list(catalog.names)
    if partition is not None:
        if "" in fresh or partition in fresh:
            part = load_features(engine, day, version, features=names, partition=partition)
            if managers is None or len(part) == managers:
                return part
    elif fresh:
        stored = load_features(engine, day, version, features=names)
        if not stored.empty:
            have = {_partition_slug(t) for t in stored["manager_type"]}
            wanted = set(list_partitions(engine, day))
            if have >= wanted and ("" in fresh or fresh >= wanted):
                return stored
    frame = compute_features(engine, day, catalog=catalog, partition=partition)
    if store and not frame.empty:
        from watchtower.clock import SystemClock

        stamp = created_at or SystemClock().now()
        try:
            with engine.begin() as conn:
                store_features(conn, day, frame, version, created_at=stamp)
                record_feature_run(
                    conn, day, version, knowledge, partition=partition, created_at=stamp
                )
        except sa.exc.IntegrityError:
            # Another task stored this day's snapshot between our delete and our insert (the
            # partition score tasks of one run each compute the whole-day month ends their
            # walk-forward layer trains on, in parallel on Celery workers). It computed it
            # from the same history, and its snapshot and run record stand; ours is rolled
            # back whole, and the frame we computed is what we score with.
            pass
    return frame


def name_ties(engine: sa.Engine, as_of: dt.date, scored: pd.DataFrame) -> pd.Series:
    """The ``reasons`` of ``scored`` with the network features' reasons naming the kinds of
    person shared with the managers they count (:func:`watchtower.detect.reasons.with_ties`);
    the graph is read only when some reason is a network feature's."""
    from watchtower.features import PERSON_LABELS, TIED_FEATURES, network_ties

    tied = set(TIED_FEATURES)
    regs = [
        str(reg)
        for reg, reasons in scored["reasons"].items()
        if any(r.get("kind") == "feature" and r.get("code") in tied for r in reasons)
    ]
    if not regs:
        return scored["reasons"]
    with engine.connect() as conn:
        ties = network_ties(conn, as_of, regs)
    return pd.Series(
        [
            with_ties(reasons, ties.get(str(reg), {}), PERSON_LABELS)
            for reg, reasons in scored["reasons"].items()
        ],
        index=scored.index,
        dtype=object,
    )


def rule_hits_fn(settings: Settings, catalog: Any) -> RuleHitsFn | None:
    """Renders models/rules.yaml hits for a frame (reason dicts, ``tier_floor`` kept), or
    None when there is no rules file."""
    path = settings.models_dir / "rules.yaml"
    if not path.exists():
        return None
    from watchtower.detect.rules import evaluate_rules, load_rules

    rules = load_rules(path, features=list(catalog.names))

    def hits(frame: pd.DataFrame) -> dict[str, list[dict[str, Any]]]:
        result = evaluate_rules(frame, rules)
        return {str(k): list(v) for k, v in result.reasons.items() if v}

    return hits


@dataclass
class ScoringContext:
    """What scoring a day needs: the model (None: build one from ``config`` per day), its id,
    the catalog and the rules."""

    model: RiskModel | None
    model_id: str
    record: ModelRecord | None
    catalog: Any
    rule_hits: RuleHitsFn | None
    config: DetectConfig

    def model_for(
        self, frame: pd.DataFrame, as_of: dt.date, layer: WalkForwardLayer | None = None
    ) -> RiskModel:
        """The model to score ``frame`` with: the loaded one, else the config's model with
        the walk-forward ``layer`` (None or absent: unsupervised)."""
        if self.model is not None:
            return self.model
        if layer is not None:
            return layer.model(self.config, self.catalog, frame, as_of)
        return config_model(self.config, self.catalog, frame, as_of)

    def model_id_for(self, layer: WalkForwardLayer | None) -> str:
        """The stored ``model_id``: the champion's, else ``config-<sha12>`` with ``+wf<C>``
        when a walk-forward layer of cut-off C scored."""
        if self.model is not None or layer is None or layer.layer is None:
            return self.model_id
        return f"{self.model_id}+wf{layer.cutoff.isoformat()}"


#: Walk-forward layers trained in this process, keyed by what determines them (see
#: :func:`walk_forward_at`). Not persisted: a layer is a logistic fit on stored feature
#: snapshots (a second or so once they are stored, see docs/evaluation.md), while a file would
#: have to be signed and verified like a registry artifact to be trusted on load.
#: At most ``_LAYERS_KEPT`` of them, least recently used out: a long-lived worker scoring
#: years of days would otherwise keep every month's layer.
_LAYERS: OrderedDict[tuple[str, ...], WalkForwardLayer] = OrderedDict()
_LAYERS_KEPT = 12


def _labels_fingerprint(labels: pd.DataFrame) -> str:
    import hashlib

    rows = sorted(
        f"{r}|{d}" for r, d in zip(labels["register_no"], labels["incident_date"], strict=True)
    )
    return hashlib.sha256("\n".join(rows).encode()).hexdigest()


def walk_forward_at(
    engine: sa.Engine,
    config: DetectConfig,
    catalog: Any,
    day: dt.date,
    *,
    created_at: dt.datetime | None = None,
) -> WalkForwardLayer:
    """The walk-forward supervised layer for scoring ``day`` without a champion: cut-off C =
    ``retrain_cutoff(day, supervised.retrain_every)``, labels known by C, whole-day feature
    snapshots of month ends before C (computed and stored when missing, so later retrains and
    backtest days reuse them). Trained once per process for one (store, config sha, catalog
    version, C, labels known by C, batches known by C): every day of C's period and every
    partition task of a day gets the same layer."""
    from watchtower.store.knowledge import knowledge_of

    cutoff = retrain_cutoff(day, config.retrain_every)
    with engine.connect() as conn:
        labels = incident_labels(conn, known_by=cutoff)
        knowledge = knowledge_of(conn, cutoff)
    key = (
        str(engine.url),
        config.fingerprint(),
        str(catalog.version),
        cutoff.isoformat(),
        _labels_fingerprint(labels),
        knowledge,
    )
    if key in _LAYERS:
        _LAYERS.move_to_end(key)
    else:
        _LAYERS[key] = walk_forward_layer(
            config,
            catalog,
            cutoff,
            lambda d: features_at(engine, catalog, d, created_at=created_at),
            labels,
        )
        while len(_LAYERS) > _LAYERS_KEPT:
            _LAYERS.popitem(last=False)
    return _LAYERS[key]


def scoring_context(
    settings: Settings,
    engine: sa.Engine,
    *,
    trust: bool = False,
    model_path: Path | None = None,
) -> ScoringContext:
    """The champion (or the file ``model_path``, which needs ``trust`` unless it is a
    verified registry artifact) with catalog and rules; without any champion, the config.

    Raises ValueError when the model's feature-set version differs from the catalog's.
    """
    catalog = load_catalog(settings)
    rules = rule_hits_fn(settings, catalog)
    config = load_detect_config(settings.models_dir / "detectors.yaml")
    record = champion(engine)
    if model_path is not None:
        known = {Path(r.artifact_path).resolve(): r for r in list_models(engine)}
        match = known.get(Path(model_path).expanduser().resolve())
        model = load_artifact(
            model_path,
            artifacts_dir=settings.artifacts_dir,
            record=match,
            trust=trust,
            key=None if trust else model_key(settings),
        )
        model_id = match.id if match else f"file-{Path(model_path).stem}"[:64]
        record = match
    elif record is None:
        return ScoringContext(
            None, f"config-{config.fingerprint()[:12]}", None, catalog, rules, config
        )
    else:
        model = load_artifact(
            record.artifact_path,
            artifacts_dir=settings.artifacts_dir,
            record=record,
            trust=trust,
            key=None if trust else model_key(settings),
        )
        model_id = record.id
    if not isinstance(model, RiskModel):
        raise ValueError(f"{model_id}: not a Watchtower RiskModel ({type(model).__name__})")
    if str(model.feature_set_version) != str(catalog.version):
        raise ValueError(
            f"model {model_id} was trained on feature set {model.feature_set_version}, the "
            f"catalog is {catalog.version}: train and promote a new model "
            "(watchtower models train --promote)"
        )
    return ScoringContext(model, model_id, record, catalog, rules, model.config)


def write_scores(
    engine: sa.Engine,
    as_of: dt.date,
    scored: pd.DataFrame,
    *,
    model_id: str,
    feature_set_version: str,
    created_at: dt.datetime,
) -> int:
    """Replace ``as_of``'s risk_scores rows of the managers in ``scored``; returns rows written."""
    t = risk_scores
    keys = [str(k) for k in scored.index]
    n = len(keys)

    def column(name: str, convert: Any) -> list[Any]:
        if name not in scored.columns:
            return [convert(None)] * n
        return [convert(v) for v in scored[name].tolist()]

    text = {c: column(c, _text) for c in ("manager_name", "manager_type", "province", "city")}
    numeric = ("rule_score", "anomaly_score", "supervised_score", "probability_12m")
    num = {c: column(c, finite_float) for c in numeric}
    score = [float(v) for v in scored["score"].tolist()]
    hits = [list(v) for v in scored["rule_hits"].tolist()]
    reasons = [list(v) for v in scored["reasons"].tolist()]
    rows = [
        {
            "as_of": as_of,
            "register_no": keys[i],
            "manager_name": text["manager_name"][i],
            "manager_type": text["manager_type"][i],
            "province": text["province"][i],
            "city": text["city"][i],
            "score": score[i],
            "rule_score": num["rule_score"][i],
            "anomaly_score": num["anomaly_score"][i],
            "supervised_score": num["supervised_score"][i],
            "probability_12m": num["probability_12m"][i],
            "rule_hits": hits[i],
            "reasons": reasons[i],
            "model_id": model_id,
            "feature_set_version": feature_set_version,
            "created_at": created_at,
        }
        for i in range(n)
    ]
    with engine.begin() as conn:
        for i in range(0, len(keys), IN_CHUNK):
            conn.execute(
                t.delete().where(t.c.as_of == as_of, t.c.register_no.in_(keys[i : i + IN_CHUNK]))
            )
        for i in range(0, len(rows), 2000):
            conn.execute(t.insert(), rows[i : i + 2000])
    return len(rows)


def calibration_at(engine: sa.Engine, day: dt.date) -> CalibrationMap:
    """The calibration map for scoring ``day``: fitted on the stored scores of past days whose
    12-month window closed by ``day`` (:func:`watchtower.detect.calibration.calibration_days`)
    against the labels known by ``day``; the fallback (no probability) without enough."""
    t = risk_scores
    cutoff = day - dt.timedelta(days=HORIZON_DAYS)
    with engine.connect() as conn:
        past = conn.execute(sa.select(t.c.as_of).where(t.c.as_of <= cutoff).distinct())
        days = calibration_days(list(past.scalars()), day)
        if not days:
            return fit_calibration([], [])
        q = sa.select(t.c.as_of, t.c.register_no, t.c.score).where(t.c.as_of.in_(days))
        rows = conn.execute(q).all()
        labels = incident_labels(conn, known_by=day)
    scores = pd.DataFrame(rows, columns=["as_of", "register_no", "score"])
    x, y = calibration_sample(scores, labels, day)
    return fit_calibration(x, y)


def _text(v: Any) -> str | None:
    if v is None or (isinstance(v, float) and v != v):
        return None
    s = str(v)
    return None if s in ("nan", "None", "<NA>") else s


def read_scores(
    engine: sa.Engine,
    start: dt.date | None = None,
    end: dt.date | None = None,
    register_nos: Sequence[str] | None = None,
) -> pd.DataFrame:
    """risk_scores rows between ``start`` and ``end`` (inclusive), ordered by as_of, score
    descending; the stored columns plus ``tier`` (from manager_tiers when warn ran)."""
    t = risk_scores
    q = sa.select(t)
    if start is not None:
        q = q.where(t.c.as_of >= start)
    if end is not None:
        q = q.where(t.c.as_of <= end)
    if register_nos is not None:
        q = q.where(t.c.register_no.in_(list(register_nos)))
    q = q.order_by(t.c.as_of, t.c.score.desc(), t.c.register_no)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(q).mappings().all(), columns=[c.name for c in t.columns])
        frame["tier"] = None
        if not frame.empty and sa.inspect(conn).has_table("manager_tiers"):
            from watchtower.store.alerts import manager_tiers as mt

            tq = sa.select(mt.c.as_of, mt.c.register_no, mt.c.tier)
            if start is not None:
                tq = tq.where(mt.c.as_of >= start)
            if end is not None:
                tq = tq.where(mt.c.as_of <= end)
            tiers = {(a, r): tier for a, r, tier in conn.execute(tq)}
            frame["tier"] = [
                tiers.get((a, r)) for a, r in zip(frame["as_of"], frame["register_no"], strict=True)
            ]
    return frame


def _fmt(v: Any) -> str:
    f = finite_float(v)
    return "" if f is None else f"{f:.2f}"


def export_scores(
    engine: sa.Engine,
    out: Path,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    top_reasons: int = 3,
) -> int:
    """Write scores to CSV (UTF-8 with BOM, so spreadsheet software reads the Chinese):
    register_no, manager_name, as_of, score, tier, rule_score, anomaly_score,
    supervised_score, rule_hits, reasons_zh, reasons_en (top ``top_reasons``, "；"/"; "
    joined), model_id. Formula-like text cells are neutralized. Returns rows written."""
    frame = read_scores(engine, start, end)
    out.parent.mkdir(parents=True, exist_ok=True)
    header = [
        "register_no",
        "manager_name",
        "as_of",
        "score",
        "tier",
        "rule_score",
        "anomaly_score",
        "supervised_score",
        "rule_hits",
        "reasons_zh",
        "reasons_en",
        "model_id",
    ]
    with out.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        records: list[dict[str, Any]] = frame.to_dict("records")
        for r in records:
            reasons = list(r["reasons"] or [])[:top_reasons]
            row = [
                r["register_no"],
                r["manager_name"],
                r["as_of"].isoformat(),
                f"{r['score']:.2f}",
                r["tier"] or "",
                _fmt(r["rule_score"]),
                _fmt(r["anomaly_score"]),
                _fmt(r["supervised_score"]),
                ",".join(r["rule_hits"] or []),
                "；".join(str(x.get("zh", "")) for x in reasons),
                "; ".join(str(x.get("en", "")) for x in reasons),
                r["model_id"],
            ]
            writer.writerow([neutralize_cell(v) for v in row])
    return len(frame)
