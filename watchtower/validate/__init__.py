"""The data-quality gate: Great Expectations suites per source, row quarantine, batch gate.

Public API::

    validate_frame(source, frame, settings=..., known_managers=...) -> FrameValidation
    store_results(conn, batch_id, validation)      # inside ingest's file transaction
    IngestGate(settings)                           # the validator ingest calls per file
    build_data_docs(settings, validations)         # GX Data Docs into settings.data_docs_dir
    run_landing_validation(engine, settings, dir, today=...)  # the step: a dry run of the gate
    quality_over_time / vocabulary_drift / refused_batches   # reads of the stored results

Suites live in ``expectations/<source>.json`` (GX 1.x JSON); custom expectations in
:mod:`watchtower.validate.expectations`. See docs/data-quality.md.
"""

from pathlib import Path
from typing import Any

from watchtower.ingest import RowFailure  # one type for parse and gate failures
from watchtower.validate.results import (
    DriftRow,
    IngestGate,
    QualityRow,
    RefusedBatch,
    quality_over_time,
    refused_batches,
    store_results,
    vocabulary_drift,
)
from watchtower.validate.runner import (
    ExpectationResult,
    FrameValidation,
    validate_frame,
)
from watchtower.validate.steps import FileValidation, ValidationSummary, run_landing_validation


def build_data_docs(*args: Any, **kwargs: Any) -> Path:
    """See :func:`watchtower.validate.docs.build_data_docs` (imported when first used: GX's
    Data Docs renderer is slow to import)."""
    from watchtower.validate.docs import build_data_docs as _build

    return _build(*args, **kwargs)


__all__ = [
    "DriftRow",
    "ExpectationResult",
    "FileValidation",
    "FrameValidation",
    "IngestGate",
    "QualityRow",
    "RefusedBatch",
    "RowFailure",
    "ValidationSummary",
    "build_data_docs",
    "quality_over_time",
    "refused_batches",
    "run_landing_validation",
    "store_results",
    "validate_frame",
    "vocabulary_drift",
]
