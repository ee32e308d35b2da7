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

Nothing is declared here: each expectation class and its metric provider are built from the
check of the same type in :mod:`watchtower.validate.rows` (rule, parameters and defaults,
docstring), which also gives the quarantine's row mask. The metric provider only adapts the
rule to GX's condition-partial contract (``True`` = expected).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pandas as pd

# Imported from the modules that define them: GX's package __init__ files re-export these
# names implicitly, which mypy's strict mode (no implicit re-export) does not follow.
from great_expectations.execution_engine.pandas_execution_engine import PandasExecutionEngine
from great_expectations.expectations.expectation import (
    ColumnMapExpectation,
    ColumnPairMapExpectation,
)
from great_expectations.expectations.metrics.map_metric_provider.column_condition_partial import (
    column_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_map_metric_provider import (
    ColumnMapMetricProvider,
)
from great_expectations.expectations.metrics.map_metric_provider.column_pair_condition_partial import (  # noqa: E501
    column_pair_condition_partial,
)
from great_expectations.expectations.metrics.map_metric_provider.column_pair_map_metric_provider import (  # noqa: E501
    ColumnPairMapMetricProvider,
)

from watchtower.validate.checks import known_managers
from watchtower.validate.rows import CHECKS, ColumnCheck, IgnoreRowIf, PairCheck

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


def _class_name(expectation_type: str) -> str:
    # GX registers an expectation under the snake_case of its class name.
    return "".join(word.title() for word in expectation_type.split("_"))


def _column_expectation(check: ColumnCheck) -> type[ColumnMapExpectation]:
    """Register ``check``'s metric with GX and return its ColumnMapExpectation class."""

    def _pandas(cls: Any, column: pd.Series, **kwargs: Any) -> pd.Series:
        return ~check.values(column, kwargs)

    name = _class_name(check.type)
    type(
        f"{name.removeprefix('Expect')}Metric",
        (ColumnMapMetricProvider,),
        {
            "condition_metric_name": check.metric,
            "condition_value_keys": tuple(check.params),
            "_pandas": column_condition_partial(engine=PandasExecutionEngine)(_pandas),
        },
    )
    namespace: dict[str, Any] = {
        "__doc__": check.doc,
        "__module__": __name__,
        "__annotations__": {
            **{k: t for k, (t, _) in check.params.items()},
            "library_metadata": ClassVar[dict[str, Any]],
        },
        **{k: default for k, (_, default) in check.params.items()},
        "map_metric": check.metric,
        "success_keys": ("mostly", *check.params),
        "library_metadata": _LIBRARY_METADATA,
    }
    return type(name, (ColumnMapExpectation,), namespace)


def _pair_expectation(check: PairCheck) -> type[ColumnPairMapExpectation]:
    """Register ``check``'s metric with GX and return its ColumnPairMapExpectation class."""

    def _pandas(cls: Any, column_A: pd.Series, column_B: pd.Series, **kwargs: Any) -> pd.Series:
        return ~check.rule(column_A, column_B)

    name = _class_name(check.type)
    type(
        f"{name.removeprefix('Expect')}Metric",
        (ColumnPairMapMetricProvider,),
        {
            "condition_metric_name": check.metric,
            "condition_domain_keys": (
                "batch_id",
                "table",
                "column_A",
                "column_B",
                "row_condition",
                "condition_parser",
                "ignore_row_if",
            ),
            "_pandas": column_pair_condition_partial(engine=PandasExecutionEngine)(_pandas),
        },
    )
    namespace: dict[str, Any] = {
        "__doc__": check.doc,
        "__module__": __name__,
        "__annotations__": {
            "ignore_row_if": IgnoreRowIf,
            "library_metadata": ClassVar[dict[str, Any]],
        },
        "ignore_row_if": check.ignore_row_if,
        "map_metric": check.metric,
        "success_keys": ("column_A", "column_B", "ignore_row_if", "mostly"),
        "library_metadata": _LIBRARY_METADATA,
    }
    return type(name, (ColumnPairMapExpectation,), namespace)


def _column(expectation_type: str) -> type[ColumnMapExpectation]:
    check = CHECKS[expectation_type]
    assert isinstance(check, ColumnCheck), expectation_type  # a wrong table here is a bug
    return _column_expectation(check)


def _pair(expectation_type: str) -> type[ColumnPairMapExpectation]:
    check = CHECKS[expectation_type]
    assert isinstance(check, PairCheck), expectation_type
    return _pair_expectation(check)


ExpectColumnValuesToBeValidUscc = _column("expect_column_values_to_be_valid_uscc")
ExpectColumnValuesToBeValidRegisterNo = _column("expect_column_values_to_be_valid_register_no")
ExpectColumnValuesToBeValidFundNo = _column("expect_column_values_to_be_valid_fund_no")
ExpectColumnValuesToBeSafeText = _column("expect_column_values_to_be_safe_text")
ExpectColumnValuesToBeKnownRegisterNo = _column("expect_column_values_to_be_known_register_no")
ExpectColumnValuesToBeDatesBetween = _column("expect_column_values_to_be_dates_between")
ExpectColumnPairValuesDueDateAfterPeriod = _pair("expect_column_pair_values_due_date_after_period")
