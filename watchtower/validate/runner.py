"""Run a source's suite over one parsed file: row quarantine and the batch gate."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from great_expectations.core.expectation_validation_result import ExpectationValidationResult

from watchtower.config import Settings
from watchtower.contract import FIELDS, Source
from watchtower.ingest import RowFailure
from watchtower.validate import rows as row_rules
from watchtower.validate.checks import known_managers as known_managers_set
from watchtower.validate.suites import (
    Suite,
    SuiteExpectation,
    batch_definition,
    gx_suite,
    load_suite,
)

log = logging.getLogger(__name__)

#: pandas' nanosecond range, which GX's vectorized date comparisons need.
_NS_MIN, _NS_MAX = pd.Timestamp("1678-01-01"), pd.Timestamp("2261-12-31")


@dataclass(frozen=True)
class ExpectationResult:
    """How one expectation did on one batch (stored per batch for ``watchtower quality``).

    ``evaluated``: rows the expectation looked at (GX element count minus skipped nulls; for
    table-level expectations 1). ``unexpected_count``: rows (or 1 table) that failed.
    """

    expectation_type: str
    columns: tuple[str, ...]
    action: str  # quarantine | warn | reject
    evaluated: int
    unexpected_count: int
    success: bool
    kwargs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True)
class FrameValidation:
    """Outcome of validating one file's parsed frame against its source's suite.

    ``failures``: 1-based record number -> every failed ``quarantine`` expectation.
    ``flags``: record number -> every failed ``flag`` expectation (the row still loads).
    ``drift``: (column, value, rows) for each value of an enumerated column outside its set.
    ``rejected``: why the whole batch is rejected, or None. ``gx_result``: GX's
    ExpectationSuiteValidationResult (for data docs).
    """

    suite: str
    rows: int
    failures: dict[int, list[RowFailure]]
    rejected: str | None
    results: list[ExpectationResult]
    max_failure_share: float = 0.0
    source: str = ""
    gx_result: Any = field(default=None, repr=False, compare=False)
    flags: dict[int, list[RowFailure]] = field(default_factory=dict)
    drift: list[tuple[str, str, int]] = field(default_factory=list)

    @property
    def flagged_rows(self) -> int:
        return len(set(self.flags) - set(self.failures))

    @property
    def failed_rows(self) -> int:
        return len(self.failures)

    @property
    def passed_rows(self) -> int:
        return self.rows - len(self.failures)


def gx_frame(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """The columns GX validates, in dtypes GX handles vectorized (and correctly).

    GX 1.24 compares ``between`` bounds element by element (slow, and failing on date bounds)
    unless the column is numpy float/int or datetime64[ns]: nullable Int64 -> float64 (exact
    below 2^53), dates -> datetime64[ns], clipped to its range (1678..2261) so a year-9999
    typo cannot crash; such dates fail the plausible-range expectations anyway.
    """
    out: dict[str, pd.Series] = {}
    for c in columns:
        s = frame[c]
        if pd.api.types.is_datetime64_any_dtype(s.dtype):
            s = s.clip(lower=_NS_MIN, upper=_NS_MAX).astype("datetime64[ns]")
        elif isinstance(s.dtype, pd.Int64Dtype | pd.Float64Dtype | pd.BooleanDtype):
            s = s.astype("float64")
        out[c] = s
    return pd.DataFrame(out, index=frame.index)


def _applicable(
    suite: Suite, present: set[str], known_managers: frozenset[str]
) -> tuple[tuple[SuiteExpectation, ...], list[ExpectationResult]]:
    """Expectations to run on a frame with ``present`` columns; results for the missing ones."""
    keep: list[SuiteExpectation] = []
    missing: list[ExpectationResult] = []
    for e in suite.expectations:
        if e.table_level:
            keep.append(e)
        elif e.uses_known_managers and not known_managers:
            continue  # nothing known yet: the referential check has nothing to refer to
        elif all(c in present for c in e.columns):
            keep.append(e)
    return tuple(keep), missing


def validate_frame(
    source: Source,
    frame: pd.DataFrame,
    *,
    settings: Settings,
    known_managers: set[str] | frozenset[str] = frozenset(),
) -> FrameValidation:
    """Validate one parsed file of ``source`` with GX and find every failing row.

    ``frame``: index = 1-based record number; snake_case contract columns (dates datetime64,
    money float64 in 万元, ints Int64, text pandas string), plus ``known_from``/``file_date``.
    ``known_managers``: register numbers known so far (referential, advisory check).

    Runs ``expectations/<source>.json`` with Great Expectations, recomputes each row-level
    expectation's mask over the same data to list *every* failing row (GX only samples them)
    and checks the mask's count against GX's. Rows failing ``quarantine`` expectations go to
    ``failures``; ``warn`` expectations are reported only. The batch is rejected when a
    ``reject`` expectation fails (a required column is missing), when GX cannot evaluate an
    expectation, or when the share of failing rows exceeds the suite's ``max_failure_share``.
    """
    suite = load_suite(settings.expectations_dir, source)
    present = set(map(str, frame.columns))
    expectations, results = _applicable(suite, present, frozenset(known_managers))
    columns = sorted({c for e in expectations if not e.table_level for c in e.columns})
    view = gx_frame(frame, columns)
    known = frozenset(known_managers)

    batch = batch_definition(source).get_batch(batch_parameters={"dataframe": view})
    with known_managers_set(known):
        gx_result = batch.validate(gx_suite(suite, expectations), result_format="BASIC")

    found = _Findings(failing=np.zeros(len(frame), dtype=bool))
    by_index = {
        int(r.expectation_config.meta["wt_index"]): r
        for r in gx_result.results
        if r.expectation_config is not None
    }
    for i, e in enumerate(expectations):
        if e.table_level:
            results.append(_table_result(e, by_index[i], present, found))
        else:
            results.append(_row_result(e, by_index[i], frame, view, known, found))

    rows = len(frame)
    n_failing = int(found.failing.sum())
    if rows and n_failing / rows > suite.max_failure_share:
        worst = sorted(found.quarantine_counts, key=lambda t: -t[0])[:3]
        detail = "; ".join(f"{_label_result(r)}: {n:,} rows ({n / rows:.1%})" for n, r in worst)
        found.problems.append(
            f"{n_failing:,} of {rows:,} rows ({n_failing / rows:.1%}) fail the {suite.name} "
            f"suite, above its limit of {suite.max_failure_share:.0%}; worst: {detail}"
        )
    failures, flags, drift, problems = found.failures, found.flags, found.drift, found.problems
    rejected = None
    if problems:
        rejected = f"batch rejected by suite {suite.name}: " + " | ".join(problems)
    return FrameValidation(
        suite=suite.name,
        rows=rows,
        failures=failures,
        rejected=rejected,
        results=results,
        max_failure_share=suite.max_failure_share,
        source=source,
        gx_result=gx_result,
        flags=flags,
        drift=drift,
    )


@dataclass
class _Findings:
    """What a frame's validation found so far: quarantined and flagged rows with their
    reasons, enumerated values the contract does not list, reasons to reject the batch,
    (count, result) of each quarantining expectation, and the rows any of them quarantines."""

    failing: np.ndarray
    failures: dict[int, list[RowFailure]] = field(default_factory=dict)
    flags: dict[int, list[RowFailure]] = field(default_factory=dict)
    drift: list[tuple[str, str, int]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    quarantine_counts: list[tuple[int, ExpectationResult]] = field(default_factory=list)


def _table_result(
    e: SuiteExpectation, r: ExpectationValidationResult, present: set[str], found: _Findings
) -> ExpectationResult:
    """A table-level expectation's result; a failed ``reject`` one names the missing column."""
    if not r.success and e.action == "reject":
        col = e.columns[0] if e.columns else "?"
        found.problems.append(
            f"required column {row_rules.field_name(col)} ({col}) is missing "
            f"({e.type}); columns found: {', '.join(sorted(present)) or 'none'}"
        )
    return ExpectationResult(
        e.type,
        e.columns,
        e.action,
        1,
        0 if r.success else 1,
        bool(r.success),
        _plain_kwargs(e),
        _gx_error(r.exception_info),
    )


def _row_result(
    e: SuiteExpectation,
    r: ExpectationValidationResult,
    frame: pd.DataFrame,
    view: pd.DataFrame,
    known: frozenset[str],
    found: _Findings,
) -> ExpectationResult:
    """A row-level expectation's result, its failing rows from the check's exact mask (held
    against GX's count), quarantined or flagged by its action."""
    error = _gx_error(r.exception_info)
    res = r.result or {}
    element = int(res.get("element_count", len(view)))
    missing_count = int(res.get("missing_count", 0) or 0)
    gx_count = int(res.get("unexpected_count", 0) or 0)
    if error is not None:
        found.problems.append(f"Great Expectations could not evaluate {_label(e)}: {error}")
        return ExpectationResult(e.type, e.columns, e.action, 0, 0, False, _plain_kwargs(e), error)
    check = row_rules.check_for(e.type)
    with known_managers_set(known):  # the same reference set GX's metric read
        mask = check.unexpected(view, e.kwargs).reindex(view.index, fill_value=False)
    count = int(mask.sum())
    if count != gx_count:
        found.problems.append(
            f"internal check failed for {_label(e)}: GX counts {gx_count} failing rows, "
            f"the row mask {count}; batch held back rather than risk losing rows"
        )
    result = ExpectationResult(
        e.type,
        e.columns,
        e.action,
        element - missing_count,
        gx_count,
        bool(r.success),
        _plain_kwargs(e),
    )
    if e.action in ("quarantine", "flag") and count:
        _record_rows(e, check, frame, mask, result, found)
    return result


def _record_rows(
    e: SuiteExpectation,
    check: row_rules.Check,
    frame: pd.DataFrame,
    mask: pd.Series,
    result: ExpectationResult,
    found: _Findings,
) -> None:
    """Each failing row's reason, under failures (quarantine) or flags (with the drift of an
    enumerated column's unknown values)."""
    bad_rows = frame.index[mask.to_numpy(dtype=bool)]
    field_ = row_rules.field_name(
        e.columns[-1] if e.type.startswith("expect_column_pair") else e.columns[0]
    )
    reasons = check.reasons(frame, e.kwargs, bad_rows)
    target = found.failures
    if e.action == "flag":
        target = found.flags
        if e.type == "expect_column_values_to_be_in_set":
            column = e.columns[0]
            counts = frame.loc[bad_rows, column].astype(str).value_counts(sort=False)
            found.drift += [(column, str(v), int(n)) for v, n in counts.items()]
    else:
        found.quarantine_counts.append((int(mask.sum()), result))
        found.failing |= mask.to_numpy(dtype=bool)
    for row, reason in zip(bad_rows.tolist(), reasons, strict=True):
        target.setdefault(int(row), []).append(RowFailure(field_, e.type, reason))


def _gx_error(info: Any) -> str | None:
    """The exception message GX caught while evaluating an expectation, if any.

    GX 1.x reports either ``{"raised_exception": ..., "exception_message": ...}`` or one such
    dict per metric id.
    """
    if not isinstance(info, dict) or not info:
        return None
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            return str(entry.get("exception_message") or "unknown error")
    return None


def _plain_kwargs(e: SuiteExpectation) -> dict[str, Any]:
    return dict(e.kwargs)


def _label(e: SuiteExpectation) -> str:
    return f"{e.type}({', '.join(e.columns)})"


def _label_result(r: ExpectationResult) -> str:
    return f"{r.expectation_type}({', '.join(r.columns)})"


def required_columns(source: Source) -> list[str]:
    """Columns whose absence rejects a batch of ``source``."""
    return [f.column for f in FIELDS[source] if f.required]
