"""Custom Great Expectations 1.x expectations for the AMAC data contract.

Importing this module registers them with GX, so suites (``expectations/*.json``) can name them
like any built-in expectation:

- ``expect_column_values_to_be_valid_uscc``: unified social credit code, GB 32100-2015
  check character
- ``expect_column_values_to_be_valid_register_no``: AMAC manager number ``P`` + 7 digits
- ``expect_column_values_to_be_valid_fund_no``: AMAC fund number ``S`` + 4-7 letters/digits
- ``expect_column_values_to_be_safe_text``: names/addresses without markup, formula
  prefixes, emoji or control characters, within a length limit
- ``expect_column_values_to_be_known_register_no``: refers to a manager known to the run
- ``expect_column_values_to_be_dates_between``: dates within [min_value, max_value]
- ``expect_column_pair_values_due_date_after_period``: a report's due date falls after its
  period

The row logic lives in :mod:`watchtower.validate.checks` (vectorized pandas/numpy); the metric
providers here only adapt it to GX's condition-partial contract (``True`` = expected).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Literal

import pandas as pd
from great_expectations.execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider import (
    ColumnMapMetricProvider,
    ColumnPairMapMetricProvider,
    column_condition_partial,
    column_pair_condition_partial,
)

from watchtower.validate import checks

__all__ = [
    "ExpectColumnPairValuesDueDateAfterPeriod",
    "ExpectColumnValuesToBeDatesBetween",
    "ExpectColumnValuesToBeKnownRegisterNo",
    "ExpectColumnValuesToBeSafeText",
    "ExpectColumnValuesToBeValidFundNo",
    "ExpectColumnValuesToBeValidRegisterNo",
    "ExpectColumnValuesToBeValidUscc",
    "known_managers",
]

_LIBRARY_METADATA: dict[str, Any] = {
    "maturity": "experimental",
    "tags": ["watchtower", "amac"],
    "contributors": ["@watchtower"],
}


class ColumnValuesValidUscc(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_uscc"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return ~checks.bad_uscc(column)


class ColumnValuesValidRegisterNo(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_register_no"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return ~checks.bad_register_no(column)


class ColumnValuesValidFundNo(ColumnMapMetricProvider):
    condition_metric_name = "column_values.valid_fund_no"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        return ~checks.bad_fund_no(column)


class ColumnValuesSafeText(ColumnMapMetricProvider):
    condition_metric_name = "column_values.safe_text"
    condition_value_keys = ("max_length",)

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, max_length: int = 200, **kwargs: Any) -> pd.Series:
        return ~checks.bad_text(column, int(max_length))


#: Register numbers of the managers known to the current validation (see known_managers()).
_KNOWN_MANAGERS: ContextVar[frozenset[str] | None] = ContextVar("known_managers", default=None)


@contextmanager
def known_managers(values: frozenset[str]) -> Iterator[None]:
    """Make ``values`` the reference set of ``expect_column_values_to_be_known_register_no``
    while validating. (Reference data is handed over in-process rather than as a GX suite
    parameter: GX pushes parameter values through pydantic per element, which costs seconds
    for the ~25,000 register numbers of a real store.)"""
    token = _KNOWN_MANAGERS.set(values)
    try:
        yield
    finally:
        _KNOWN_MANAGERS.reset(token)


class ColumnValuesKnownRegisterNo(ColumnMapMetricProvider):
    condition_metric_name = "column_values.known_register_no"

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column: pd.Series, **kwargs: Any) -> pd.Series:
        known = _KNOWN_MANAGERS.get()
        if known is None:
            raise RuntimeError("no known managers set: validate inside known_managers(...)")
        return ~checks.unknown_values(column, known)


class ColumnValuesDatesBetween(ColumnMapMetricProvider):
    condition_metric_name = "column_values.dates_between"
    condition_value_keys = ("min_value", "max_value")

    @column_condition_partial(engine=PandasExecutionEngine)
    def _pandas(
        cls,
        column: pd.Series,
        min_value: str | None = None,
        max_value: str | None = None,
        **kwargs: Any,
    ) -> pd.Series:
        return ~checks.bad_date_range(column, min_value, max_value)


class ColumnPairDueDateAfterPeriod(ColumnPairMapMetricProvider):
    condition_metric_name = "column_pair_values.due_date_after_period"
    condition_domain_keys = (
        "batch_id",
        "table",
        "column_A",
        "column_B",
        "row_condition",
        "condition_parser",
        "ignore_row_if",
    )

    @column_pair_condition_partial(engine=PandasExecutionEngine)
    def _pandas(cls, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
        return ~checks.due_not_after_period(column_A, column_B)


class ExpectColumnValuesToBeValidUscc(ColumnMapExpectation):
    """Expect values to be unified social credit codes with a correct check character.

    GB 32100-2015: 18 characters from ``0-9`` and ``A-Y`` without I, O, S, V, Z; the 18th is
    the check character over the first 17 with weights 3^(i-1) mod 31.
    ``91350100M000100Y43`` passes; ``91350100M000100Y4Z`` fails.
    """

    map_metric = "column_values.valid_uscc"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnValuesToBeValidRegisterNo(ColumnMapExpectation):
    """Expect values to be AMAC manager registration numbers: ``P`` + 7 ASCII digits."""

    map_metric = "column_values.valid_register_no"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnValuesToBeValidFundNo(ColumnMapExpectation):
    """Expect values to be AMAC fund numbers: ``S`` + 4-7 upper-case ASCII letters/digits."""

    map_metric = "column_values.valid_fund_no"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnValuesToBeSafeText(ColumnMapExpectation):
    """Expect names/addresses to be plain text: at most ``max_length`` characters, no leading
    spreadsheet formula character (= + - @), no HTML/script markup, no control characters,
    emoji or invisible characters."""

    max_length: int = 200
    map_metric = "column_values.safe_text"
    success_keys = ("mostly", "max_length")
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnValuesToBeKnownRegisterNo(ColumnMapExpectation):
    """Expect register numbers to belong to managers already known (in the store, or loaded
    earlier in the same run). The reference set comes from :func:`known_managers`."""

    map_metric = "column_values.known_register_no"
    success_keys = ("mostly",)
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnValuesToBeDatesBetween(ColumnMapExpectation):
    """Expect dates within ``[min_value, max_value]`` (ISO ``YYYY-MM-DD``, inclusive).

    GX's own ``expect_column_values_to_be_between`` coerces string bounds to ``datetime.date``,
    which pandas 3 refuses to compare with datetime64 columns; this one compares Timestamps.
    Catches placeholder dates such as 1900-01-01 and 2100-01-01.
    """

    min_value: str | None = None
    max_value: str | None = None
    map_metric = "column_values.dates_between"
    success_keys = ("mostly", "min_value", "max_value")
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA


class ExpectColumnPairValuesDueDateAfterPeriod(ColumnPairMapExpectation):
    """Expect a report's due date (column_B) to fall after the last day of its period
    (column_A: ``2024-09``, ``2024Q3`` or ``2024``)."""

    ignore_row_if: Literal["both_values_are_missing", "either_value_is_missing", "neither"] = (
        "either_value_is_missing"
    )
    map_metric = "column_pair_values.due_date_after_period"
    success_keys = ("column_A", "column_B", "ignore_row_if", "mostly")
    library_metadata: ClassVar[dict[str, Any]] = _LIBRARY_METADATA
