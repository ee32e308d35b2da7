"""Great Expectations Data Docs for Watchtower's validations (``settings.data_docs_dir``)."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import great_expectations as gx
from great_expectations.core.run_identifier import RunIdentifier
from great_expectations.data_context.types.resource_identifiers import (
    ExpectationSuiteIdentifier,
    ValidationResultIdentifier,
)

from watchtower.config import Settings
from watchtower.contract import SOURCES
from watchtower.validate.runner import FrameValidation
from watchtower.validate.suites import gx_context, load_suite

_SITE = "watchtower"


def build_data_docs(
    settings: Settings,
    validations: Sequence[FrameValidation],
    *,
    labels: Sequence[str] | None = None,
    run_time: dt.datetime | None = None,
) -> Path:
    """Render the suites and ``validations`` as GX Data Docs; returns the index.html path.

    ``labels`` name each validation's run in the docs (e.g. the file name); ``run_time`` dates
    them (default: GX's own timestamp of the validation). Docs accumulate in the folder: a
    later build adds its runs to the index.
    """
    target = settings.data_docs_dir
    target.mkdir(parents=True, exist_ok=True)
    context = gx_context()
    sites = context.get_config().data_docs_sites or {}
    site_name = f"{_SITE}_{abs(hash(str(target)))}"
    if site_name not in sites:
        context.add_data_docs_site(
            site_name=site_name,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {
                    "class_name": "TupleFilesystemStoreBackend",
                    "base_directory": str(target),
                },
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    for source in SOURCES:
        suite = load_suite(settings.expectations_dir, source)
        context.suites.add_or_update(gx.ExpectationSuite(**copy.deepcopy(suite.document)))
    for i, validation in enumerate(validations):
        if validation.gx_result is None:
            continue
        label = labels[i] if labels else f"{validation.suite}-{i + 1}"
        run_id = RunIdentifier(run_name=label, run_time=run_time)
        key = ValidationResultIdentifier(
            expectation_suite_identifier=ExpectationSuiteIdentifier(name=validation.suite),
            run_id=run_id,
            batch_identifier=f"{validation.source or validation.suite}-{i + 1}",
        )
        context.validation_results_store.set(key, validation.gx_result)
    context.build_data_docs(site_names=[site_name])
    return target / "index.html"
