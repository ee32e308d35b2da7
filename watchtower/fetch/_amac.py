"""Fetch AMAC public-disclosure pages into a landing folder: raw bytes, politely, resumably.

Request shapes, as the public crawlers send them (the site's own XHR calls):

- lists: ``POST {base}/api/<path>?rand=<random>&page=<n>&size=<size>`` with a JSON body of
  filters; pages are 0-based and the answer is a Spring page envelope (``content``,
  ``totalElements``, ``totalPages``, ``number``, ``size``, ``first``, ``last``, ...).
  ``pof/manager/query`` (managers), ``pof/fund`` (funds), ``cancelled/manager``
  (deregistered managers). ``{}`` is "no filter".
- manager filters: ``offiProvinceFsc: "province"`` + ``officeProvince`` (office province),
  ``regiProvinceFsc: "province"`` + ``registerProvince`` (registration province) and
  ``registerDate: {"from": "YYYY-MM-DD", "to": "YYYY-MM-DD"}``; the site fills an open end
  with 1900-01-01 / 9999-01-01.
- fund filter: ``putOnRecordDate: {"from", "to"}`` (备案 date). The fund query has no province
  key, so province options do not narrow the fund list.
- details: ``GET {base}/res/pof/manager/<id>.html`` and ``{base}/res/pof/fund/<id>.html``;
  a list row's ``url`` is ``<id>.html``.

Where these come from: refrain97/shaanxi-capital-market-daily
(``v1/陕西省证券私募日报v1/scripts/amac_security_private_daily.py``: the office-province pair,
``registerDate`` and ``putOnRecordDate`` windows, ``{}`` for ``cancelled/manager``, ``rand``,
the XHR headers, detail URLs); bingo-zh/scrapy-amac (``spider/spider/spiders/amac.py``:
``pof/manager`` and ``pof/fund`` with ``rand``/``size``/``page``, body ``{}``, pages 0 to
``totalPages - 1``, detail URL = ``res/pof/<kind>/`` + row ``url``); akfamily/akshare
(``akshare/fund/fund_amac.py``: the same paging with ``json={}``). ``regiProvinceFsc`` appears
next to ``offiProvinceFsc`` in public crawlers' bodies, but no crawler seen sends a
``registerProvince`` value: that key is inferred from the list rows' field and the office
pair, and is the one filter here not confirmed against a recorded request.

Landing layout (``OUT_DIR/<fetch-date>/``): ``managers/``, ``funds/``, ``cancellations/`` hold
one file per page, named ``<endpoint>_<filter-slug>_p0001.json``, with the bytes exactly as
received; ``manager_details/`` and ``fund_details/`` hold ``<id>.html``. ``_fetch_state.json``
records each query's page count and finished pages; a folder's ``.done`` lists its complete
queries. Names starting with ``_`` or ``.`` are passed over by ingest.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from watchtower import __version__
from watchtower.clock import Clock, SystemClock

DEFAULT_BASE_URL = "https://gs.amac.org.cn/amac-infodisc"
USER_AGENT = (
    f"Watchtower/{__version__} (early-warning monitor of private fund managers; "
    "reads AMAC public disclosures at about one request per second)"
)
STATE_FILE = "_fetch_state.json"
DONE_FILE = ".done"

LIST_KINDS: tuple[str, ...] = ("managers", "funds", "cancellations")
DETAIL_KINDS: tuple[str, ...] = ("manager-details", "fund-details")
WHAT_CHOICES: tuple[str, ...] = LIST_KINDS + DETAIL_KINDS
# Detail pages cost one request per id (tens of thousands nationally): asked for explicitly.
DEFAULT_WHAT: tuple[str, ...] = LIST_KINDS

# The site's own "no bound" values for a date window.
_OPEN_FROM = "1900-01-01"
_OPEN_TO = "9999-01-01"
_SAFE_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


class FetchConfigError(ValueError):
    """Options that cannot make a fetch; the message says which and why."""


class FetchError(RuntimeError):
    """A request failed for good (non-retryable answer, or retries used up).

    The message is one line. ``summary`` tells what the run did before it stopped; everything
    written so far is complete on disk and a re-run continues from there.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.summary: FetchSummary | None = None


# --- options, queries -------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchOptions:
    """What to fetch and how politely. Defaults suit a daily run against the real site."""

    what: tuple[str, ...] = DEFAULT_WHAT
    office_province: str | None = None
    register_province: str | None = None
    registered_from: dt.date | None = None
    registered_to: dt.date | None = None
    page_size: int = 100
    max_pages: int | None = None  # read at most the first N pages of each list query
    max_details: int | None = None  # at most N detail pages of each kind
    rate: float = 1.0  # requests per second, all requests of the run together
    retries: int = 5  # retries after the first attempt of one request
    timeout: float = 30.0  # seconds, per request
    backoff_base: float = 1.0  # seconds before the first retry (doubles each retry)
    backoff_max: float = 60.0
    retry_after_max: float = 600.0  # a longer Retry-After is capped, not obeyed for hours
    base_url: str = DEFAULT_BASE_URL
    fetch_date: dt.date | None = None  # default: the clock's today

    def __post_init__(self) -> None:
        self._check_what()
        self._check_limits()
        if (
            self.registered_from is not None
            and self.registered_to is not None
            and self.registered_from > self.registered_to
        ):
            raise FetchConfigError(
                f"registered-from {self.registered_from} is after registered-to "
                f"{self.registered_to}"
            )
        if not self.base_url.startswith(("http://", "https://")):
            raise FetchConfigError(f"base URL must start with http:// or https://: {self.base_url}")

    def _check_what(self) -> None:
        unknown = [w for w in self.what if w not in WHAT_CHOICES]
        if unknown or not self.what:
            raise FetchConfigError(
                f"--what takes a comma-separated list of {', '.join(WHAT_CHOICES)}; "
                f"got {','.join(self.what) or '(nothing)'}"
            )
        for detail, needs in (("manager-details", "managers"), ("fund-details", "funds")):
            if detail in self.what and needs not in self.what:
                raise FetchConfigError(f"{detail} takes its ids from the {needs} list: add {needs}")

    def _check_limits(self) -> None:
        if self.page_size < 1:
            raise FetchConfigError(f"page size must be at least 1, not {self.page_size}")
        if self.max_pages is not None and self.max_pages < 1:
            raise FetchConfigError(f"max pages must be at least 1, not {self.max_pages}")
        if self.max_details is not None and self.max_details < 0:
            raise FetchConfigError(f"max details must be 0 or more, not {self.max_details}")
        if not self.rate > 0:
            raise FetchConfigError(f"rate must be above 0 requests per second, not {self.rate}")
        if self.retries < 0:
            raise FetchConfigError(f"retries must be 0 or more, not {self.retries}")

    @property
    def root_url(self) -> str:
        """The ``amac-infodisc`` root; a base given as ``.../api/`` is accepted too."""
        root = self.base_url.rstrip("/")
        return root.removesuffix("/api")


@dataclass(frozen=True)
class AmacQuery:
    """One list query: an endpoint and a filter body, paged into files of one folder."""

    kind: str  # managers, funds, cancellations
    api_path: str  # below {base}/api/
    folder: str
    prefix: str  # file-name prefix naming the endpoint
    body: Mapping[str, Any]
    slug: str
    referer_path: str  # the site page whose XHR this is (below {base}/res/)

    @property
    def key(self) -> str:
        return f"{self.folder}/{self.prefix}_{self.slug}"

    def page_name(self, page: int) -> str:
        """File of 0-based ``page``; numbered from 1 as people count pages."""
        return f"{self.prefix}_{self.slug}_p{page + 1:04d}.json"


def _date_window(start: dt.date | None, end: dt.date | None) -> dict[str, str]:
    return {
        "from": start.isoformat() if start else _OPEN_FROM,
        "to": end.isoformat() if end else _OPEN_TO,
    }


def _slug_text(text: str) -> str:
    # \w keeps Chinese province names readable; anything path-like becomes a dash.
    return re.sub(r"[^\w]+", "-", text).strip("-_") or "x"


def _slug_date(day: dt.date) -> str:
    # Ingest dates a file by the first date in its name (2026-01-01, 20260101, ...): a filter
    # bound written that way would pass for the snapshot date, so the slug spells 2026y01m01d.
    return f"{day.year}y{day.month:02d}m{day.day:02d}d"


def _window_slug(label: str, start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return f"{label}-{_slug_date(start)}-{_slug_date(end)}"
    if start:
        return f"{label}-from-{_slug_date(start)}"
    assert end is not None
    return f"{label}-to-{_slug_date(end)}"


def build_queries(options: FetchOptions) -> list[AmacQuery]:
    """The list queries ``options`` asks for, in fetch order."""
    windowed = options.registered_from is not None or options.registered_to is not None
    queries: list[AmacQuery] = []
    if "managers" in options.what:
        body: dict[str, Any] = {}
        parts: list[str] = []
        if options.office_province:
            body["offiProvinceFsc"] = "province"
            body["officeProvince"] = options.office_province
            parts.append(f"office-{_slug_text(options.office_province)}")
        if options.register_province:
            body["regiProvinceFsc"] = "province"
            body["registerProvince"] = options.register_province
            parts.append(f"register-{_slug_text(options.register_province)}")
        if windowed:
            body["registerDate"] = _date_window(options.registered_from, options.registered_to)
            parts.append(_window_slug("registered", options.registered_from, options.registered_to))
        queries.append(
            AmacQuery(
                "managers",
                "pof/manager/query",
                "managers",
                "pof_manager_query",
                body,
                "_".join(parts) or "all",
                "pof/manager/managerList.html",
            )
        )
    if "funds" in options.what:
        fund_body: dict[str, Any] = {}
        slug = "all"
        if windowed:
            fund_body["putOnRecordDate"] = _date_window(
                options.registered_from, options.registered_to
            )
            slug = _window_slug("recorded", options.registered_from, options.registered_to)
        queries.append(
            AmacQuery(
                "funds", "pof/fund", "funds", "pof_fund", fund_body, slug, "pof/fund/index.html"
            )
        )
    if "cancellations" in options.what:
        # No server-side filter is known for this list (the crawlers filter cancelDate
        # client-side), so it is always the whole national list, newest first.
        queries.append(
            AmacQuery(
                "cancellations",
                "cancelled/manager",
                "cancellations",
                "cancelled_manager",
                {},
                "all",
                "pof/manager/managerList.html",
            )
        )
    return queries


# --- summary ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    key: str
    body: dict[str, Any]
    total_pages: int | None
    total_elements: int | None
    pages_on_disk: int
    complete: bool


@dataclass(frozen=True)
class FetchSummary:
    out_dir: Path  # OUT_DIR/<fetch-date>
    fetch_date: dt.date
    pages_fetched: int
    pages_skipped: int  # already on disk from an earlier run
    details_fetched: int
    details_skipped: int
    requests: int  # attempts sent, retries included
    retries: int
    errors: int  # failed attempts: the retried ones, plus the one that stopped the run
    complete: bool  # every query and detail list finished (no cap, no failure)
    queries: tuple[QueryResult, ...] = ()
    error: str | None = None


# --- seams: time, progress ----------------------------------------------------------------------


class Timer(Protocol):
    """Monotonic time and sleeping: the rate limiter's and the backoff's only view of time."""

    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemTimer:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class ProgressBar(Protocol):
    """The part of ``tqdm`` the fetch uses."""

    total: Any

    def update(self, n: int = 1) -> Any: ...

    def refresh(self) -> Any: ...

    def close(self) -> Any: ...


ProgressFactory = Callable[[str, str], ProgressBar]  # (description, unit) -> bar


class _NoBar:
    total: Any = None

    def update(self, n: int = 1) -> None:
        return None

    def refresh(self) -> None:
        return None

    def close(self) -> None:
        return None


class RateLimiter:
    """At least ``1 / rate`` seconds between the starts of two requests, retries included.

    One limiter serves every request of a run, so lists, details and retries together stay
    within the rate. The lock keeps the spacing when a caller shares it across threads.
    """

    def __init__(self, rate: float, timer: Timer) -> None:
        self._interval = 1.0 / rate
        self._timer = timer
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = self._timer.monotonic()
            if self._next is not None and now < self._next:
                self._timer.sleep(self._next - now)
                now = max(self._timer.monotonic(), self._next)
            self._next = now + self._interval


def make_client(*, timeout: float = 30.0) -> httpx.Client:
    """The one HTTP client of a fetch (create once, pass to :func:`run_fetch`, close after)."""
    return httpx.Client(
        headers={"User-Agent": USER_AGENT},
        timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        follow_redirects=False,
    )


def parse_retry_after(value: str | None, now: dt.datetime) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date; ``now`` UTC)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC).replace(tzinfo=None)
    return max(0.0, (when - now).total_seconds())


def page_envelope(data: bytes) -> dict[str, Any] | None:
    """The page object of an AMAC list answer, or None when ``data`` is not one."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if (
        isinstance(doc, dict)
        and isinstance(doc.get("content"), list)
        and isinstance(doc.get("totalPages"), int)
    ):
        return doc
    return None


class _Http:
    """Requests with the rate limit, the Watchtower User-Agent, retries, backoff and jitter."""

    def __init__(
        self,
        client: httpx.Client,
        options: FetchOptions,
        *,
        timer: Timer,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self._client = client
        self._options = options
        self._limiter = RateLimiter(options.rate, timer)
        self._timer = timer
        self._clock = clock
        self._rng = rng
        self.requests = 0
        self.retries = 0
        self.errors = 0

    def _backoff(self, attempt: int) -> float:
        # Exponential with "equal jitter": at least half the step, so retries from many
        # clients spread out without ever retrying at once.
        step = min(self._options.backoff_max, self._options.backoff_base * 2.0**attempt)
        return step / 2 + self._rng.uniform(0, step / 2)

    def send(
        self,
        method: str,
        url: str,
        label: str,
        *,
        params: Mapping[str, str | int] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Callable[[bytes], str | None],
    ) -> bytes:
        """The body of a 200 answer that ``accept`` finds no fault with (it returns a reason)."""
        attempt = 0
        while True:
            self._limiter.wait()
            self.requests += 1
            delay: float | None = None
            try:
                response = self._client.request(
                    method,
                    url,
                    params=dict(params) if params else None,
                    content=content,
                    headers={"User-Agent": USER_AGENT, **(headers or {})},
                    timeout=self._options.timeout,
                )
            except httpx.TransportError as exc:  # connect/read errors, timeouts, resets
                problem = f"{type(exc).__name__}: {_one_line(str(exc)) or 'connection error'}"
            else:
                status = response.status_code
                if status == 200:
                    data = response.content
                    fault = accept(data)
                    if fault is None:
                        return data
                    # A 200 that is not the page (a maintenance or firewall page) passes.
                    problem = f"HTTP 200 but {fault}"
                elif status == 429 or 500 <= status <= 599:
                    problem = f"HTTP {status} {response.reason_phrase}".rstrip()
                    delay = parse_retry_after(
                        response.headers.get("Retry-After"), self._clock.now()
                    )
                else:
                    self.errors += 1
                    raise FetchError(
                        f"{label}: HTTP {status} {response.reason_phrase}".rstrip()
                        + f" from {_no_query(str(response.url))} (not retried)"
                    )
            self.errors += 1
            if attempt >= self._options.retries:
                raise FetchError(f"{label}: {problem} after {attempt + 1} attempts")
            if delay is None:
                delay = self._backoff(attempt)
            delay = min(delay, self._options.retry_after_max)
            attempt += 1
            self.retries += 1
            if delay > 0:
                self._timer.sleep(delay)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _no_query(url: str) -> str:
    return url.split("?", 1)[0]


# --- files ------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Whole file or none: write a hidden temp file, fsync, rename over ``path``.

    A file that exists is therefore complete, which is what makes "on disk: skip" safe. The
    temp name starts with a dot so an interrupted write is passed over by ingest.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _write_json(path: Path, doc: Any) -> None:
    text = json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    write_atomic(path, text.encode("utf-8"))


class _State:
    """``_fetch_state.json``: per query its body, page size, page count and finished pages."""

    def __init__(self, path: Path, fetch_date: dt.date) -> None:
        self.path = path
        self.doc: dict[str, Any] = {"fetch_date": fetch_date.isoformat(), "queries": {}}
        if path.is_file():
            try:
                loaded = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, UnicodeDecodeError) as exc:
                raise FetchError(f"cannot read {path}: {exc}; delete it to start over") from exc
            if isinstance(loaded, dict) and isinstance(loaded.get("queries"), dict):
                self.doc = loaded

    def entry(self, query: AmacQuery, page_size: int) -> dict[str, Any]:
        queries: dict[str, Any] = self.doc["queries"]
        entry = queries.get(query.key)
        if entry is None:
            entry = {
                "api_path": query.api_path,
                "body": dict(query.body),
                "page_size": page_size,
                "total_pages": None,
                "total_elements": None,
                "pages_done": [],
                "complete": False,
            }
            queries[query.key] = entry
        elif entry.get("page_size") != page_size:
            # The files on disk cut the rows at another size: mixing sizes would duplicate or
            # drop rows, so refuse rather than guess.
            raise FetchError(
                f"{query.key} was fetched with page size {entry.get('page_size')} on this date; "
                f"use --page-size {entry.get('page_size')} or another OUT_DIR"
            )
        return entry

    def save(self) -> None:
        _write_json(self.path, self.doc)


def _mark_done(folder: Path, line: str) -> None:
    marker = folder / DONE_FILE
    lines = marker.read_text(encoding="utf-8").splitlines() if marker.is_file() else []
    name = line.split(" ", 1)[0]
    lines = [x for x in lines if x.split(" ", 1)[0] != name] + [line]
    write_atomic(marker, ("\n".join(lines) + "\n").encode("utf-8"))


def row_id(row: Mapping[str, Any]) -> str | None:
    """The AMAC id of a list row: ``id``, else the stem of its ``url`` (``<id>.html``)."""
    raw = row.get("id")
    if raw is None and isinstance(row.get("url"), str):
        raw = row["url"].rsplit("/", 1)[-1].removesuffix(".html")
    text = str(raw) if raw is not None else ""
    # Ids become file names and URL paths: anything else is not an id we fetch.
    return text if _SAFE_ID.match(text) else None


# --- the step ---------------------------------------------------------------------------------


@dataclass
class _Counts:
    pages_fetched: int = 0
    pages_skipped: int = 0
    details_fetched: int = 0
    details_skipped: int = 0
    complete: bool = True
    results: list[QueryResult] = field(default_factory=list)


class _Run:
    def __init__(
        self,
        day_dir: Path,
        fetch_date: dt.date,
        options: FetchOptions,
        http: _Http,
        rng: random.Random,
        progress: ProgressFactory | None,
    ) -> None:
        self.day_dir = day_dir
        self.fetch_date = fetch_date
        self.options = options
        self.http = http
        self.rng = rng
        self.progress = progress
        self.counts = _Counts()
        self.state = _State(day_dir / STATE_FILE, fetch_date)

    @contextmanager
    def _bar(self, desc: str, unit: str) -> Iterator[ProgressBar]:
        bar: ProgressBar = self.progress(desc, unit) if self.progress else _NoBar()
        try:
            yield bar
        finally:
            bar.close()

    def summary(self, error: str | None = None) -> FetchSummary:
        c = self.counts
        return FetchSummary(
            out_dir=self.day_dir,
            fetch_date=self.fetch_date,
            pages_fetched=c.pages_fetched,
            pages_skipped=c.pages_skipped,
            details_fetched=c.details_fetched,
            details_skipped=c.details_skipped,
            requests=self.http.requests,
            retries=self.http.retries,
            errors=self.http.errors,
            complete=c.complete and error is None,
            queries=tuple(c.results),
            error=error,
        )

    def execute(self) -> FetchSummary:
        queries = build_queries(self.options)
        with self._bar("AMAC list pages", "page") as bar:
            known: dict[str, int] = {}
            for query in queries:
                self._list(query, bar, known)
        for detail in DETAIL_KINDS:
            if detail in self.options.what:
                source = "managers" if detail == "manager-details" else "funds"
                query = next(q for q in queries if q.kind == source)
                self._details(detail, query)
        return self.summary()

    def _pages_cap(self, total: int) -> int:
        cap = self.options.max_pages
        return total if cap is None else min(total, cap)

    def _list(self, query: AmacQuery, bar: ProgressBar, known: dict[str, int]) -> None:
        options = self.options
        entry = self.state.entry(query, options.page_size)
        folder = self.day_dir / query.folder
        done: set[int] = set(entry["pages_done"])
        total: int | None = entry["total_pages"]

        def learn(envelope: Mapping[str, Any]) -> None:
            nonlocal total
            # Each answer carries the page count; the latest wins (rows may arrive mid-run).
            total = int(envelope["totalPages"])
            entry["total_pages"] = total
            entry["total_elements"] = envelope.get("totalElements")
            known[query.key] = self._pages_cap(total)
            bar.total = sum(known.values())
            bar.refresh()

        if total is not None:
            known[query.key] = self._pages_cap(total)
            bar.total = sum(known.values())
            bar.refresh()
        page = 0
        while (total is None or page < total) and (
            options.max_pages is None or page < options.max_pages
        ):
            path = folder / query.page_name(page)
            if path.is_file():
                # Complete by construction (atomic rename): not fetched again.
                if total is None:
                    envelope = page_envelope(path.read_bytes())
                    if envelope is None:
                        raise FetchError(f"{path} is not an AMAC page; delete it and re-run")
                    learn(envelope)
                self.counts.pages_skipped += 1
            else:
                data = self._fetch_page(query, page)
                envelope = page_envelope(data)
                assert envelope is not None  # send() accepted it as one
                write_atomic(path, data)
                learn(envelope)
                self.counts.pages_fetched += 1
            if page not in done:
                done.add(page)
                entry["pages_done"] = sorted(done)
                self.state.save()
            bar.update(1)
            page += 1
        complete = total is not None and all(p in done for p in range(total))
        entry["complete"] = complete
        self.state.save()
        if complete:
            _mark_done(
                folder,
                f"{query.prefix}_{query.slug} pages={total} rows={entry['total_elements']}",
            )
        else:
            self.counts.complete = False
        self.counts.results.append(
            QueryResult(
                key=query.key,
                body=dict(query.body),
                total_pages=total,
                total_elements=entry["total_elements"],
                pages_on_disk=len(done),
                complete=complete,
            )
        )

    def _fetch_page(self, query: AmacQuery, page: int) -> bytes:
        root = self.options.root_url
        origin = root.split("/amac-infodisc", 1)[0]
        body = json.dumps(dict(query.body), ensure_ascii=False).encode("utf-8")

        def accept(data: bytes) -> str | None:
            return None if page_envelope(data) is not None else "the body is not an AMAC page"

        return self.http.send(
            "POST",
            f"{root}/api/{query.api_path}",
            f"POST {query.api_path} page {page + 1}",
            # rand: the site's own cache-buster, sent as its XHR does.
            params={
                "rand": f"{self.rng.random():.17f}",
                "page": page,
                "size": self.options.page_size,
            },
            content=body,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/javascript, */*; q=0.01",
                "X-Requested-With": "XMLHttpRequest",
                "Origin": origin,
                "Referer": f"{root}/res/{query.referer_path}",
            },
            accept=accept,
        )

    def _ids(self, query: AmacQuery) -> list[str]:
        """Ids of the rows in this query's pages on disk (fetched now or by the interrupted
        run being resumed), in list order, each once."""
        folder = self.day_dir / query.folder
        seen: dict[str, None] = {}
        page = 0
        while (path := folder / query.page_name(page)).is_file():
            envelope = page_envelope(path.read_bytes()) or {"content": []}
            for row in envelope["content"]:
                if isinstance(row, dict) and (rid := row_id(row)) is not None:
                    seen.setdefault(rid, None)
            page += 1
        return list(seen)

    def _details(self, detail: str, query: AmacQuery) -> None:
        folder_name = "manager_details" if detail == "manager-details" else "fund_details"
        res_path = "pof/manager" if detail == "manager-details" else "pof/fund"
        folder = self.day_dir / folder_name
        ids = self._ids(query)
        wanted = ids if self.options.max_details is None else ids[: self.options.max_details]
        root = self.options.root_url

        def accept(data: bytes) -> str | None:
            return None if data.strip() else "the page is empty"

        with self._bar(f"AMAC {detail}", "page") as bar:
            bar.total = len(wanted)
            bar.refresh()
            for rid in wanted:
                path = folder / f"{rid}.html"
                if path.is_file():
                    self.counts.details_skipped += 1
                else:
                    data = self.http.send(
                        "GET",
                        f"{root}/res/{res_path}/{rid}.html",
                        f"GET {res_path}/{rid}.html",
                        headers={"Referer": f"{root}/res/{query.referer_path}"},
                        accept=accept,
                    )
                    write_atomic(path, data)
                    self.counts.details_fetched += 1
                bar.update(1)
        list_complete = self.state.entry(query, self.options.page_size)["complete"]
        if list_complete and len(wanted) == len(ids):
            _mark_done(folder, f"{res_path.replace('/', '_')} pages={len(ids)}")
        else:
            self.counts.complete = False


def run_fetch(
    out_dir: Path,
    options: FetchOptions | None = None,
    *,
    client: httpx.Client | None = None,
    clock: Clock | None = None,
    timer: Timer | None = None,
    rng: random.Random | None = None,
    progress: ProgressFactory | None = None,
) -> FetchSummary:
    """Fetch the AMAC lists (and detail pages) ``options`` asks for into
    ``out_dir/<fetch-date>/``, skipping what an earlier run of that date already wrote.

    ``client``: the run's one HTTP client (default: :func:`make_client`, closed at the end; an
    injected client is left open for its owner). ``clock`` gives the default fetch date and the
    reference for Retry-After dates; ``timer`` paces requests and backoff; ``rng`` draws the
    ``rand`` parameter and the jitter; ``progress(description, unit)`` makes a tqdm-like bar.

    Raises :class:`FetchError` (with ``.summary``) when a request fails for good.
    """
    options = options or FetchOptions()
    clock = clock or SystemClock()
    fetch_date = options.fetch_date or clock.today()
    day_dir = Path(out_dir) / fetch_date.isoformat()
    day_dir.mkdir(parents=True, exist_ok=True)
    rng = rng or random.Random()
    own_client = client is None
    http_client = client if client is not None else make_client(timeout=options.timeout)
    http = _Http(http_client, options, timer=timer or SystemTimer(), clock=clock, rng=rng)
    try:
        run = _Run(day_dir, fetch_date, options, http, rng, progress)
        try:
            return run.execute()
        except FetchError as exc:
            exc.summary = run.summary(error=str(exc))
            raise
    finally:
        if own_client:
            http_client.close()
