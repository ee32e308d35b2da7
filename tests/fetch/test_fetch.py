"""``watchtower fetch amac`` against a local replay of real AMAC answers (no internet)."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import random
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.fetch.replay import Fault, ReplayServer
from watchtower.cli import app
from watchtower.clock import FixedClock
from watchtower.fetch import (
    USER_AGENT,
    FetchConfigError,
    FetchError,
    FetchOptions,
    FetchSummary,
    build_queries,
    page_envelope,
    parse_retry_after,
    run_fetch,
)
from watchtower.ingest.discover import date_of, discover
from watchtower.ingest.readers import read_raw

DAY = dt.date(2026, 5, 7)
MANAGERS = 84  # rows of the recorded 陕西 office manager query
FUNDS = 2000
CANCELLATIONS = 14


class FakeTimer:
    """Time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def amac() -> Iterator[ReplayServer]:
    with ReplayServer() as server:
        yield server


@pytest.fixture
def timer() -> FakeTimer:
    return FakeTimer()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy configured on the machine must not see loopback test traffic.
    with httpx.Client(trust_env=False, timeout=10) as c:
        yield c


def run(
    amac: ReplayServer,
    out: Path,
    client: httpx.Client,
    timer: FakeTimer,
    **options: object,
) -> FetchSummary:
    opts = FetchOptions(base_url=amac.url, **options)  # type: ignore[arg-type]
    return run_fetch(
        out,
        opts,
        client=client,
        clock=FixedClock(dt.datetime(2026, 5, 7, 18)),
        timer=timer,
        rng=random.Random(7),
    )


def test_full_fetch_writes_raw_bytes_and_stops_at_total_pages(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    summary = run(amac, tmp_path, client, timer, page_size=50, office_province="陕西省")

    day = tmp_path / "2026-05-07"
    assert summary.out_dir == day and summary.fetch_date == DAY and summary.complete
    expected = {
        "pof/manager/query": math.ceil(MANAGERS / 50),
        "pof/fund": math.ceil(FUNDS / 50),
        "cancelled/manager": math.ceil(CANCELLATIONS / 50),
    }
    assert summary.pages_fetched == sum(expected.values())
    assert summary.retries == 0 and summary.errors == 0
    for api_path, pages in expected.items():
        hits = amac.list_hits(api_path)
        # One request per page, pages 0..totalPages-1, never page totalPages.
        assert [h.page for h in hits] == list(range(pages))
        assert all(h.method == "POST" and h.query["size"] == "50" for h in hits)
        assert all(float(h.query["rand"]) < 1 for h in hits)
    folders = {
        "pof/manager/query": "managers",
        "pof/fund": "funds",
        "cancelled/manager": "cancellations",
    }
    for hit in amac.hits:
        assert hit.page is not None
        folder = day / folders[hit.path.removeprefix("/amac-infodisc/api/")]
        files = sorted(folder.glob(f"*_p{hit.page + 1:04d}.json"))
        assert len(files) == 1
        assert files[0].read_bytes() == hit.sent  # unchanged, byte for byte
    assert (day / "managers" / "pof_manager_query_office-陕西省_p0002.json").is_file()
    assert not (day / "managers" / "pof_manager_query_office-陕西省_p0003.json").exists()
    assert not list(day.rglob("*.part"))
    for name in ("managers", "funds", "cancellations"):
        assert (day / name / ".done").is_file()
    state = json.loads((day / "_fetch_state.json").read_text(encoding="utf-8"))
    entry = state["queries"]["managers/pof_manager_query_office-陕西省"]
    assert entry["total_pages"] == 2 and entry["total_elements"] == MANAGERS
    assert entry["pages_done"] == [0, 1] and entry["complete"]


def test_request_shape_body_filters_and_user_agent(
    amac: ReplayServer, tmp_path: Path, timer: FakeTimer
) -> None:
    seen: list[httpx.Request] = []
    with httpx.Client(trust_env=False, event_hooks={"request": [seen.append]}) as client:
        run(
            amac,
            tmp_path,
            client,
            timer,
            what=("managers", "funds"),
            office_province="陕西省",
            register_province="陕西省",
            registered_from=dt.date(2026, 1, 1),
            registered_to=DAY,
            page_size=1000,
        )
    manager_body = json.loads(amac.list_hits("pof/manager/query")[0].body)
    assert manager_body == {
        "offiProvinceFsc": "province",
        "officeProvince": "陕西省",
        "regiProvinceFsc": "province",
        "registerProvince": "陕西省",
        "registerDate": {"from": "2026-01-01", "to": "2026-05-07"},
    }
    fund_body = json.loads(amac.list_hits("pof/fund")[0].body)
    assert fund_body == {"putOnRecordDate": {"from": "2026-01-01", "to": "2026-05-07"}}
    assert all(r.headers["User-Agent"] == USER_AGENT for r in seen)
    assert "Watchtower" in USER_AGENT
    assert seen[0].headers["Content-Type"] == "application/json"
    # A filter bound in the name would pass for the snapshot date at ingest: none may parse.
    names = [p.name for p in (tmp_path / "2026-05-07").rglob("*.json")]
    assert names and all(date_of(n) is None for n in names if not n.startswith("_"))


def test_open_ended_window_uses_the_sites_open_bounds() -> None:
    (managers,) = build_queries(
        FetchOptions(what=("managers",), registered_from=dt.date(2026, 5, 1))
    )
    assert managers.body == {"registerDate": {"from": "2026-05-01", "to": "9999-01-01"}}
    assert managers.slug == "registered-from-2026y05m01d"
    (everything,) = build_queries(FetchOptions(what=("cancellations",)))
    assert everything.body == {} and everything.slug == "all"


def test_rate_limit_spaces_every_request(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    starts: list[float] = []
    client.event_hooks["request"] = [lambda request: starts.append(timer.monotonic())]
    run(amac, tmp_path, client, timer, what=("managers",), page_size=20, rate=2.0)
    assert len(starts) == 5
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert gaps == pytest.approx([0.5] * 4)
    assert timer.sleeps == pytest.approx([0.5] * 4)  # no sleep before the first request


def test_retries_with_backoff_then_success(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    amac.inject(Fault(503), Fault(503), Fault(None), Fault(500))
    summary = run(amac, tmp_path, client, timer, what=("managers",), page_size=100, rate=1000.0)
    assert summary.complete and summary.pages_fetched == 1
    assert summary.retries == 4 and summary.errors == 4 and summary.requests == 5
    statuses = [h.status for h in amac.hits]
    assert statuses == [503, 503, None, 500, 200]
    backoffs = [s for s in timer.sleeps if s > 0.01]  # the rate limiter's own waits are 1 ms
    # Equal jitter around 1, 2, 4, 8 s: each within [step/2, step].
    assert len(backoffs) == 4
    for attempt, delay in enumerate(backoffs):
        assert 2**attempt / 2 <= delay <= 2**attempt
    page = tmp_path / "2026-05-07" / "managers" / "pof_manager_query_all_p0001.json"
    assert page.read_bytes() == amac.hits[-1].sent


def test_429_retry_after_is_honoured(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    amac.inject(Fault(429, headers=(("Retry-After", "7"),)), Fault(429, (("Retry-After", "0"),)))
    summary = run(amac, tmp_path, client, timer, what=("cancellations",), rate=1000.0)
    assert summary.complete and summary.retries == 2
    assert 7.0 in timer.sleeps
    # Retry-After: 0 means "now": no backoff sleep on top of the rate limiter's spacing.
    assert all(s <= 0.001 + 1e-9 or s == 7.0 for s in timer.sleeps)


def test_retry_after_http_date() -> None:
    now = dt.datetime(2026, 5, 7, 10, 0, 0)
    assert parse_retry_after("Thu, 07 May 2026 10:00:30 GMT", now) == 30.0
    assert parse_retry_after("12", now) == 12.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


def test_retries_used_up_fail_with_one_line(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    amac.inject(*[Fault(502)] * 3)
    with pytest.raises(FetchError) as caught:
        run(amac, tmp_path, client, timer, what=("managers",), retries=2)
    message = str(caught.value)
    assert "\n" not in message
    assert "HTTP 502" in message and "after 3 attempts" in message
    assert caught.value.summary is not None and caught.value.summary.errors == 3
    assert not caught.value.summary.complete
    assert not list((tmp_path / "2026-05-07").rglob("*.json*"))[1:]  # only the state file


def test_non_retryable_404_fails_at_once_with_one_line(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    amac.inject(Fault(404, path_prefix="/amac-infodisc/api/pof/fund"))
    with pytest.raises(FetchError) as caught:
        run(amac, tmp_path, client, timer, what=("funds",), page_size=500)
    message = str(caught.value)
    assert "\n" not in message
    assert "HTTP 404" in message and "not retried" in message
    assert len(amac.hits) == 1  # no retry


def test_a_200_that_is_not_a_page_is_retried(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    amac.inject(Fault(200, body=b"<html>maintenance</html>"))
    summary = run(amac, tmp_path, client, timer, what=("cancellations",))
    assert summary.retries == 1 and summary.complete
    page = tmp_path / "2026-05-07" / "cancellations" / "cancelled_manager_all_p0001.json"
    assert page_envelope(page.read_bytes()) is not None


def test_resume_after_interruption_fetches_only_the_remaining_pages(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    first = run(amac, tmp_path, client, timer, what=("managers",), page_size=20, max_pages=2)
    assert first.pages_fetched == 2 and not first.complete
    assert [h.page for h in amac.hits] == [0, 1]
    folder = tmp_path / "2026-05-07" / "managers"
    assert not (folder / ".done").exists()
    # A write that was cut short leaves only a hidden temp file, never a page.
    (folder / ".pof_manager_query_all_p0003.json.part").write_bytes(b'{"content": [')

    amac.clear()
    second = run(amac, tmp_path, client, timer, what=("managers",), page_size=20)
    assert [h.page for h in amac.hits] == [2, 3, 4]
    assert second.pages_fetched == 3 and second.pages_skipped == 2 and second.complete
    assert (folder / ".done").is_file()
    assert len(list(folder.glob("*.json"))) == 5

    amac.clear()
    third = run(amac, tmp_path, client, timer, what=("managers",), page_size=20)
    assert amac.hits == [] and third.pages_skipped == 5 and third.complete


def test_resume_after_a_failed_run(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    # Page 3 fails for good (retries=0); pages 1-2 stay; the re-run asks from page 3 on.
    opts = {"what": ("funds",), "page_size": 500, "retries": 0}
    original = amac._answer
    calls = {"n": 0}

    def flaky(method: str, path: str, query: dict[str, str]) -> tuple[int, bytes, str]:
        calls["n"] += 1
        if query.get("page") == "2" and calls["n"] <= 3:
            return 503, b"busy", "text/plain"
        return original(method, path, query)

    amac._answer = flaky  # type: ignore[method-assign]
    with pytest.raises(FetchError):
        run(amac, tmp_path, client, timer, **opts)
    assert [h.page for h in amac.hits] == [0, 1, 2]
    amac.clear()
    summary = run(amac, tmp_path, client, timer, **opts)
    assert [h.page for h in amac.hits] == [2, 3]
    assert summary.complete and summary.pages_skipped == 2


def test_page_size_change_on_the_same_date_is_refused(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    run(amac, tmp_path, client, timer, what=("managers",), page_size=20, max_pages=1)
    with pytest.raises(FetchError, match="--page-size 20"):
        run(amac, tmp_path, client, timer, what=("managers",), page_size=50)


def test_detail_pages_for_ids_of_the_lists(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    summary = run(
        amac,
        tmp_path,
        client,
        timer,
        what=("managers", "funds", "manager-details", "fund-details"),
        page_size=1000,
        max_details=3,
    )
    assert summary.details_fetched == 6 and not summary.complete  # capped by max_details
    day = tmp_path / "2026-05-07"
    funds = json.loads((day / "funds" / "pof_fund_all_p0001.json").read_bytes())["content"]
    expected_ids = [row["id"] for row in funds[:3]]
    fund_hits = [h for h in amac.hits if h.path.startswith("/amac-infodisc/res/pof/fund/")]
    assert [h.path.rsplit("/", 1)[-1] for h in fund_hits] == [f"{i}.html" for i in expected_ids]
    for hit in fund_hits:
        assert hit.method == "GET" and hit.status == 200
        landed = day / "fund_details" / hit.path.rsplit("/", 1)[-1]
        assert landed.read_bytes() == hit.sent
    real = (Path(__file__).parents[1] / "fixtures/real_amac/fund_detail_page_raw.html").read_bytes()
    assert fund_hits[0].sent == real
    assert len(list((day / "manager_details").glob("*.html"))) == 3
    assert not (day / "fund_details" / ".done").exists()

    amac.clear()
    again = run(
        amac,
        tmp_path,
        client,
        timer,
        what=("managers", "manager-details"),
        page_size=1000,
    )
    detail_hits = [h for h in amac.hits if "/res/" in h.path]
    assert len(detail_hits) == MANAGERS - 3 and again.details_skipped == 3
    assert again.complete and (day / "manager_details" / ".done").is_file()


def test_details_need_their_list() -> None:
    with pytest.raises(FetchConfigError, match="add funds"):
        FetchOptions(what=("fund-details",))
    with pytest.raises(FetchConfigError, match="--what"):
        FetchOptions(what=("everything",))


def test_landed_files_are_ingest_shaped(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    run(amac, tmp_path, client, timer, what=("managers", "funds"), page_size=40)
    day = tmp_path / "2026-05-07"
    found = discover(day)
    # The state file and the .done markers are passed over; every page is one landing file.
    assert {f.path.name for f in found} == {p.name for p in day.rglob("*_p0*.json")}
    rows = {"managers": 0, "funds": 0}
    for landing in found:
        assert landing.source in rows
        envelope = page_envelope(landing.path.read_bytes())
        assert envelope is not None
        assert envelope["size"] == 40 and envelope["number"] + 1 == int(landing.path.stem[-4:])
        frame = read_raw(landing.path, landing.path.read_bytes())
        assert len(frame) == len(envelope["content"])
        rows[landing.source] += len(frame)
    assert rows == {"managers": MANAGERS, "funds": FUNDS}


def test_base_url_may_name_the_api_folder(
    amac: ReplayServer, tmp_path: Path, client: httpx.Client, timer: FakeTimer
) -> None:
    summary = run_fetch(
        tmp_path,
        FetchOptions(what=("cancellations",), base_url=amac.url + "/api/", fetch_date=DAY),
        client=client,
        timer=timer,
    )
    assert summary.complete and amac.list_hits("cancelled/manager")


# --- CLI --------------------------------------------------------------------------------------


@pytest.fixture
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("all_proxy", raising=False)


def test_cli_help() -> None:
    result = CliRunner().invoke(app, ["fetch", "amac", "--help"])
    assert result.exit_code == 0
    for option in ("--what", "--office-province", "--max-pages", "--rate", "--fetch-date"):
        assert option in result.output
    assert "fetch" in CliRunner().invoke(app, ["--help"]).output


def test_cli_run_against_the_replay_with_json(
    amac: ReplayServer, tmp_path: Path, no_proxy: None
) -> None:
    args = ["fetch", "amac", str(tmp_path), "--base-url", amac.url, "--fetch-date", "2026-05-07"]
    args += ["--what", "managers,cancellations", "--office-province", "陕西省"]
    args += ["--page-size", "50", "--rate", "1000", "--json", "--quiet"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["pages_fetched"] == 3 and out["pages_skipped"] == 0
    assert out["details_fetched"] == 0 and out["retries"] == 0 and out["errors"] == 0
    assert out["out_dir"] == str(tmp_path / "2026-05-07") and out["complete"] is True
    body = json.loads(amac.list_hits("pof/manager/query")[0].body)
    assert body["officeProvince"] == "陕西省"

    again = CliRunner().invoke(app, args[:-2] + ["--quiet"])
    assert again.exit_code == 0
    assert "0 pages fetched, 3 already on disk" in again.stdout


def test_cli_fails_with_one_line(amac: ReplayServer, tmp_path: Path, no_proxy: None) -> None:
    amac.inject(Fault(403))
    args = ["fetch", "amac", str(tmp_path), "--base-url", amac.url, "--what", "cancellations"]
    result = CliRunner().invoke(app, [*args, "--rate", "1000", "--quiet"])
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error: ") and "HTTP 403" in errors[0]

    bad = CliRunner().invoke(app, ["fetch", "amac", str(tmp_path), "--what", "nope"])
    assert bad.exit_code == 2 and "--what" in bad.stderr
