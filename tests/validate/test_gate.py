"""Custom expectations in GX, the ingest gate end to end, adversarial files, the dry run."""

from __future__ import annotations

import json
from pathlib import Path

import great_expectations as gx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from tests.store_rows import loaded_batch
from tests.validate.conftest import KNOWN, clean
from watchtower import pipeline
from watchtower.cli import app
from watchtower.config import Settings
from watchtower.store import open_store
from watchtower.store.schema import batches, manager_snapshots, quarantine
from watchtower.store.validation import validation_results, validation_runs
from watchtower.validate import checks, validate_frame
from watchtower.validate.expectations import (
    ExpectColumnValuesToBeValidFundNo,
    ExpectColumnValuesToBeValidRegisterNo,
    ExpectColumnValuesToBeValidUscc,
)


def test_uscc_check_character() -> None:
    codes = pd.Series(
        [
            "91350100M000100Y43",
            "91350100M000100Y4Z",
            "91350100M000100Y44",
            "91350100M00010",
            None,
            "9135010OM000100Y43",
            "９１３５０１００Ｍ０００１００Ｙ４３",
        ],
        dtype="string",
    )
    assert checks.bad_uscc(codes).tolist() == [False, True, True, True, False, True, True]


def test_custom_expectations_run_in_a_gx_suite() -> None:
    context = gx.get_context(mode="ephemeral")
    batch_def = (
        context.data_sources.add_pandas("t")
        .add_dataframe_asset("a")
        .add_batch_definition_whole_dataframe("w")
    )
    frame = pd.DataFrame(
        {
            "uscc": pd.Series(["91350100M000100Y43", "91350100M000100Y4Z"], dtype="string"),
            "register_no": pd.Series(["P1000182", "P123"], dtype="string"),
            "fund_no": pd.Series(["SD3113", "SCS723"], dtype="string"),
        }
    )
    suite = gx.ExpectationSuite(
        name="t",
        expectations=[
            ExpectColumnValuesToBeValidUscc(column="uscc"),
            ExpectColumnValuesToBeValidRegisterNo(column="register_no"),
            ExpectColumnValuesToBeValidFundNo(column="fund_no"),
        ],
    )
    # Round trip through JSON: suites on disk name them by type.
    suite = gx.ExpectationSuite(**json.loads(json.dumps(suite.to_json_dict())))
    result = batch_def.get_batch(batch_parameters={"dataframe": frame}).validate(
        suite, result_format="BASIC"
    )
    counts = {}
    for r in result.results:
        assert r.expectation_config is not None  # each result names what it checked
        counts[r.expectation_config.type] = r.result["unexpected_count"]
    assert counts == {
        "expect_column_values_to_be_valid_uscc": 1,
        "expect_column_values_to_be_valid_register_no": 1,
        "expect_column_values_to_be_valid_fund_no": 0,
    }


@pytest.mark.slow
def test_every_failing_row_is_caught_in_a_million_rows(settings: Settings) -> None:
    from bench.bench_validate import reports_frame

    frame = reports_frame(1_000_000, 0.0)
    rng = np.random.default_rng(1)
    bad = np.sort(rng.choice(frame.index.to_numpy(), size=3000, replace=False))
    frame.loc[bad, "nav"] = -2.0  # far more than GX's 20 sampled unexpected values
    keys = np.sort(rng.choice(np.setdiff1d(frame.index.to_numpy(), bad), size=2000, replace=False))
    frame.loc[keys, "fund_no"] = "bad-key"
    known = frozenset(frame["register_no"].unique().tolist())
    result = validate_frame("reports", frame, settings=settings, known_managers=known)
    assert sorted(result.flags) == bad.tolist()  # odd values: every row flagged, all load
    assert sorted(result.failures) == keys.tolist()  # broken keys: every row quarantined
    assert result.rejected is None


def _landing(tmp_path: Path, files: dict[str, bytes]) -> Path:
    root = tmp_path / "landing"
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


_HEADER = "registerNo,managerName,uscc,establishDate,registerDate,paidInCapital,subscribedCapital\n"


def _managers_csv(rows: list[str], n_clean: int = 20, start: int = 1) -> bytes:
    lines = [
        f"P{1000000 + start + i},第{i}号资产管理有限公司,,2015-01-01,2016-01-01,100,1000"
        for i in range(n_clean)
    ]
    return (_HEADER + "\n".join(lines + rows) + "\n").encode("utf-8")


ADVERSARIAL = [
    "P123,乙公司,,2015-01-01,2016-01-01,100,1000",
    "P2000001,丙公司,91350100M000100Y4Z,2015-01-01,2016-01-01,100,1000",
    "P2000002,丁公司,,1900-01-01,2016-01-01,100,1000",
    "P2000003,戊公司,,2015-01-01,2016-01-01,-5,1000",
    "P2000004,<script>alert(1)</script>,,2015-01-01,2016-01-01,100,1000",
    'P2000005,"=HYPERLINK(""http://evil"",""x"")",,2015-01-01,2016-01-01,100,1000',
    f"P2000006,{'长' * 10_000},,2015-01-01,2016-01-01,100,1000",
    "P2000007,发财😀公司,,2015-01-01,2016-01-01,100,1000",
    "P2000001,重复公司,,2015-01-01,2016-01-01,100,1000",
]


def test_ingest_quarantines_with_reasons_and_stores_results(
    tmp_path: Path, settings: Settings
) -> None:
    """Identity faults are quarantined; odd but usable values load with their flags."""
    csv = _managers_csv(ADVERSARIAL, n_clean=60)
    root = _landing(tmp_path, {"managers/managers_2024-06-30.csv": csv})
    summary = pipeline.ingest(settings, root)
    assert summary.files_loaded == 1, summary.results[0].message
    # quarantined: the malformed key P123 and both rows of the duplicated key P2000001
    assert (summary.rows_quarantined, summary.rows_loaded, summary.rows_flagged) == (3, 66, 5)
    assert summary.rows_read == summary.rows_loaded + summary.rows_quarantined
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        reasons = dict(conn.execute(sa.select(quarantine.c.row_number, quarantine.c.reason)).all())
        flags = dict(
            conn.execute(
                sa.select(manager_snapshots.c.register_no, manager_snapshots.c.dq_flags).where(
                    manager_snapshots.c.dq_flags.is_not(None)
                )
            ).all()
        )
        establish = conn.execute(
            sa.select(manager_snapshots.c.establish_date).where(
                manager_snapshots.c.register_no == "P2000002"
            )
        ).scalar_one()
        run = conn.execute(sa.select(validation_runs)).one()
        n_results = conn.execute(sa.select(sa.func.count()).select_from(validation_results))
        assert n_results.scalar_one() > 20
    assert set(reasons) == {61, 62, 69}
    assert "registerNo 'P123' does not match P + 7 digits" in reasons[61]
    assert "appears 2 times" in reasons[69] and "appears 2 times" in reasons[62]
    assert establish is None  # 1900-01-01 is a placeholder: unknown, never a value
    text = {k: json.dumps(v, ensure_ascii=False) for k, v in flags.items()}
    assert "paidInCapital -5" in text["P2000003"]
    assert "markup" in text["P2000004"]  # the hostile name loads, flagged (escaped where shown)
    assert "formula" in text["P2000005"]
    assert "10,000 characters" in text["P2000006"]
    assert "emoji" in text["P2000007"]
    assert (run.rows, run.failed_rows, run.rejected) == (69, 3, False)
    assert (settings.data_docs_dir / "index.html").exists()


def test_rejected_batch_keeps_data_in_force(tmp_path: Path, settings: Settings) -> None:
    good = _landing(tmp_path, {"managers/managers_2024-06-30.csv": _managers_csv([])})
    pipeline.ingest(settings, good)
    bad_rows = [f"X{3000000 + i},坏{i},,2015-01-01,2016-01-01,100,1000" for i in range(11)]
    bad = _landing(
        tmp_path / "b", {"managers/managers_2024-07-31.csv": _managers_csv(bad_rows, 9, 500)}
    )
    summary = pipeline.ingest(settings, bad)
    assert summary.files_rejected == 1
    assert (summary.rows_read, summary.rows_rejected) == (20, 20)  # rejected rows are counted
    message = summary.results[0].message or ""
    assert "11 of 20 rows (55.0%)" in message
    assert "expect_column_values_to_be_valid_register_no(register_no): 11 rows" in message
    engine = open_store(settings.db_url)
    with engine.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).select_from(manager_snapshots)).scalar() == 20
        )
        statuses = conn.execute(sa.select(batches.c.status).order_by(batches.c.id)).scalars().all()
        assert statuses == ["loaded", "rejected"]
        assert conn.execute(sa.select(validation_runs.c.rejected)).scalars().all() == [False, True]


def test_dry_run_reports_files_and_loads_nothing(tmp_path: Path, settings: Settings) -> None:
    gb = _managers_csv(["P2000009,某某投资管理（上海）有限公司,,2015-01-01,2016-01-01,1,2"])
    root = _landing(
        tmp_path,
        {
            "managers/managers_2024-06-30.csv": _managers_csv(ADVERSARIAL[:2]),
            "managers/managers_gb_2024-05-31.csv": gb.decode("utf-8").encode("gb18030"),
            "funds/funds_2024-06-30.csv": b"",
            "reports/reports_2024-06-30.csv": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01",
        },
    )
    result = CliRunner().invoke(app, ["validate", str(root), "--json", "-q"])
    assert result.exit_code == 1, result.output
    out = json.loads(result.stdout)
    by_name = {r["path"].rsplit("/", 1)[-1]: r for r in out["results"]}
    assert by_name["managers_2024-06-30.csv"]["status"] == "ok"
    assert by_name["managers_2024-06-30.csv"]["failed_rows"] == 1  # P123; the bad USCC flags
    assert by_name["managers_2024-06-30.csv"]["flagged_rows"] == 1
    assert by_name["managers_gb_2024-05-31.csv"]["status"] == "ok"  # undeclared GB18030
    assert by_name["managers_gb_2024-05-31.csv"]["failed_rows"] == 0
    assert "empty" in by_name["funds_2024-06-30.csv"]["message"]
    assert "binary" in by_name["reports_2024-06-30.csv"]["message"]
    assert out["data_docs"] and (settings.data_docs_dir / "index.html").exists()
    assert not (settings.home / "watchtower.db").exists()  # nothing loaded, no store made


def test_quality_prints_pass_rates(tmp_path: Path, settings: Settings) -> None:
    root = _landing(tmp_path, {"managers/managers_2024-06-30.csv": _managers_csv(ADVERSARIAL[:1])})
    pipeline.ingest(settings, root)
    result = CliRunner().invoke(app, ["quality", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows == [
        {
            "day": "2024-06-30",
            "source": "managers",
            "batches": 1,
            "rejected": 0,
            "rows": 21,
            "failed_rows": 1,
            "pass_rate": round(20 / 21, 6),
        }
    ]
    text = CliRunner().invoke(app, ["quality"])
    assert "managers" in text.stdout and "95.24%" in text.stdout


def test_clean_frames_of_every_source_store_results(settings: Settings) -> None:
    # store_results writes one run and one row per expectation, inside a transaction.
    from watchtower.validate import store_results

    engine = open_store(settings.db_url)
    v = validate_frame("funds", clean("funds"), settings=settings, known_managers=KNOWN)
    with engine.begin() as conn:
        at = pd.Timestamp("2024-07-01").to_pydatetime()
        batch = loaded_batch(conn, source="funds", at=at, name="f", content_hash="h", rows=20)
        store_results(conn, batch, v)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(validation_results)).scalar()
    assert n == len(v.results)
