"""The data-quality gate: Great Expectations suites per source, row quarantine, batch gate.

Public API::

    validate_frame(source, frame, settings=..., known_managers=...) -> FrameValidation
    store_results(conn, batch_id, validation)            # inside ingest's file transaction

Suites live in ``expectations/<source>.json`` (GX 1.x JSON); custom expectations in
:mod:`watchtower.validate.expectations`. See docs/data-quality.md.
"""

from watchtower.validate.runner import (
    ExpectationResult,
    FrameValidation,
    RowFailure,
    validate_frame,
)

__all__ = [
    "ExpectationResult",
    "FrameValidation",
    "RowFailure",
    "validate_frame",
]
