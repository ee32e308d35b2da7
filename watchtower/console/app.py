"""The supervisor console: an ASGI application (FastAPI) on the store everything else uses.

Pages are server-rendered (Jinja2, autoescaped) and work without JavaScript; the one style
sheet is served by the application (no CDN: supervisors' networks are closed). Every read goes
through the package's query functions with the user's scope (their districts), which the
database applies (:mod:`watchtower.warn.scope`); an alert or manager outside the scope is
answered as one that does not exist (404). Every change is a form POST carrying the session's
CSRF token, done by the same functions the CLI uses and written in the alert's audit trail
under the user's name. Security headers on every response; see docs/console.md.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import hmac
import io
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from itsdangerous import BadSignature, URLSafeTimedSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from watchtower.chart import ScorePoint, score_timeline_svg
from watchtower.clock import Clock, SystemClock
from watchtower.config import RoutingAddress, Settings
from watchtower.console.accounts import ThrottlePolicy, User
from watchtower.console.messages import LANGUAGES, message
from watchtower.console.queries import Session, list_users, session_of
from watchtower.console.secret import console_secret
from watchtower.console.steps import SESSION_HOURS, run_login, run_logout
from watchtower.detect import DetectConfig, load_detect_config
from watchtower.features import load_catalog
from watchtower.jurisdiction import JURISDICTIONS
from watchtower.managers import (
    FundState,
    ManagerProfile,
    PeerComparison,
    RelatedManager,
    TimelineEntry,
    change_timeline,
    manager_funds,
    manager_profile,
    peer_comparison,
    related_managers,
    score_history,
)
from watchtower.store import open_store
from watchtower.store.alerts import RESOLUTIONS, TIERS
from watchtower.text import neutralize_cell
from watchtower.values import probability_text
from watchtower.warn import (
    TRANSITIONS,
    AlertError,
    AlertMetrics,
    OverdueOn,
    ServiceLevels,
    add_note,
    alert_metrics,
    alert_trail,
    assign,
    count_alerts_by_tier,
    get_alert_in_scope,
    latest_warn_day,
    list_alerts,
    load_policy,
    load_service_levels,
    manager_in_scope,
    reopen,
    snooze,
    transition,
    unsnooze,
)
from watchtower.warn.decide import asleep
from watchtower.warn.lifecycle import MAX_SNOOZE_DAYS
from watchtower.warn.queries import ALERT_STATUSES

__all__ = ["SECURITY_HEADERS", "create_app"]

_HERE = Path(__file__).parent
SESSION_COOKIE = "wt_session"
LOGIN_CSRF_COOKIE = "wt_login_csrf"
LANG_COOKIE = "wt_lang"
#: Rows an HTML queue shows (the CSV and the API take more); the counts are of all of them.
PAGE_ROWS = 500
API_MAX_ROWS = 10000
#: The oversight page's default period: this many days up to today, both included.
METRICS_DAYS = 90

SECURITY_HEADERS: dict[str, str] = {
    # no inline script or style anywhere: the pages need neither
    "content-security-policy": (
        "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
        "object-src 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}

#: The page's action -> the alert status it moves to (closing also takes an outcome).
_MOVES = {"acknowledge": "acknowledged", "investigate": "investigating", "close": "closed"}
#: What the queue's bulk form may do to many alerts at once.
_BULK_ACTIONS = ("acknowledge", "assign")
#: The longest age filter, in days (ten years: older is a typing slip).
_MAX_AGE_DAYS = 3650
_CSV_COLUMNS = (
    "id",
    "register_no",
    "manager_name",
    "jurisdiction",
    "province",
    "city",
    "tier",
    "status",
    "score",
    "opened_as_of",
    "last_as_of",
    "assignee",
    "overdue",
    "rule_hits",
    "top_reasons",
)
_API_FIELDS = (
    "id",
    "register_no",
    "manager_name",
    "jurisdiction",
    "tier",
    "status",
    "score",
    "probability_12m",
    "opened_as_of",
    "peak_tier",
    "last_as_of",
    "assignee",
    "rule_hits",
    "overdue",
)
#: The oversight CSV: one row per tier (and all tiers), then per district for readers of
#: every district (their rows fill opened, confirmed and overdue).
_METRICS_COUNTS = (
    "opened",
    "acknowledged",
    "investigated",
    "confirmed",
    "false_positive",
    "explained",
    "precision",
    "acknowledge_median_days",
    "acknowledge_p90_days",
    "close_median_days",
    "close_p90_days",
    "overdue_acknowledge",
    "overdue_close",
    "overdue",
)
_METRICS_COLUMNS = ("group", "name", *_METRICS_COUNTS, "from", "to", "as_of")


class SecurityHeaders:
    """ASGI middleware: the security headers on every response (pages, API, static files,
    errors), and ``Cache-Control: no-store`` on all but the style sheet (a page of alerts
    must not stay in a shared cache or the browser's history)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in names:
                        headers.append((name.encode(), value.encode()))
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                msg["headers"] = headers
            await send(msg)

        await self.app(scope, receive, with_headers)


class _LoginRequired(Exception):
    """A page asked for without a session: answered by a redirect to the login page."""


class _Unauthorized(Exception):
    """An API call without a session: answered 401 (JSON)."""


class _NotFound(Exception):
    """Nothing there, or nothing the user may see (the same answer: 404)."""


class _BadRequest(Exception):
    """A filter or form value that is not one of the allowed ones (400)."""


class _Forbidden(Exception):
    """A POST without the session's CSRF token (403)."""


def _safe_next(value: str | None) -> str:
    """Where to go after the login: a path of this site only (no open redirect)."""
    text = value or ""
    if text.startswith("/") and not text.startswith("//") and "\\" not in text:
        return text
    return "/alerts"


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _num(value: Any) -> str:
    """A number as a page shows it: whole numbers without decimals, others to four places
    (trailing zeros dropped); anything else as it is."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4f}".rstrip("0").rstrip(".")


def _tier_label(language: str, tier: str | None) -> str:
    return message(language, tier) if tier else message(language, "none")


@dataclasses.dataclass(frozen=True)
class _Console:
    """What every request shares, built once by :func:`create_app` and kept in
    ``app.state.console``: the settings, the store opened once, the clock, the login policy,
    the routing address of the scope, the cookie signer, the templates, the service
    levels (``models/service_levels.yaml``), and what the manager page reads of the
    configuration: the tier thresholds (``models/tiers.yaml``), the detectors' peer groups
    (``models/detectors.yaml``) and the features' labels (``features/``; parsing the catalog
    takes a fifth of a second, too long to repeat on every page)."""

    settings: Settings
    engine: sa.Engine
    clock: Clock
    throttle: ThrottlePolicy | None
    address: RoutingAddress
    signer: URLSafeTimedSerializer
    templates: Environment
    service: ServiceLevels
    thresholds: Mapping[str, float]
    detect: DetectConfig
    feature_labels: Mapping[str, dict[str, str]]

    def overdue_on(self) -> OverdueOn:
        """What is overdue is judged on the clock's day (never the wall clock's)."""
        return OverdueOn(self.service, self.clock.today())


def _console(request: Request) -> _Console:
    """The application's shared state (a FastAPI dependency)."""
    console: _Console = request.app.state.console
    return console


Console = Annotated[_Console, Depends(_console)]


# --- the request's language, cookies and forms --------------------------------------------


def _language(request: Request) -> str:
    asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return asked if asked in LANGUAGES else "zh"


def _set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int | None
) -> None:
    c = _console(request)
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=c.settings.console_secure_cookies or request.url.scheme == "https",
        path="/",
    )


def _remember_language(request: Request, response: Response) -> None:
    lang = request.query_params.get("lang")
    if lang in LANGUAGES:
        _set_cookie(request, response, LANG_COOKIE, lang, 365 * 24 * 3600)


async def _form_of(request: Request) -> dict[str, str]:
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str)}


def _ip_of(request: Request) -> str:
    return (request.client.host if request.client else "") or "-"


# --- the session and CSRF -----------------------------------------------------------------


def _session(request: Request) -> Session | None:
    """The session of the request's signed cookie, if it is one and still open."""
    c = _console(request)
    signed = request.cookies.get(SESSION_COOKIE)
    if not signed:
        return None
    try:
        token = c.signer.loads(signed, max_age=SESSION_HOURS * 3600)
    except BadSignature:
        return None
    if not isinstance(token, str):
        return None
    with c.engine.connect() as conn:
        return session_of(conn, token, c.clock.now())


def _page_session(request: Request) -> Session:
    s = _session(request)
    if s is None:
        raise _LoginRequired
    return s


def _api_session(request: Request) -> Session:
    s = _session(request)
    if s is None:
        raise _Unauthorized
    return s


def _check_csrf(expected: str | None, given: str | None) -> None:
    if not expected or not given or not hmac.compare_digest(expected, given):
        raise _Forbidden


# --- rendering ----------------------------------------------------------------------------


def _render(
    request: Request,
    name: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    s: Session | None = None,
) -> HTMLResponse:
    lang = _language(request)
    query = {k: v for k, v in request.query_params.items() if k != "lang"}
    other = "en" if lang == "zh" else "zh"
    template = _console(request).templates.get_template(name)
    html = template.render(
        {
            "lang": lang,
            "t": lambda key: message(lang, key),
            "tier_label": lambda tier: _tier_label(lang, tier),
            "user": s.user if s else None,
            "csrf": s.csrf_token if s else "",
            "switch_lang": f"{request.url.path}?{urlencode({**query, 'lang': other})}",
            **context,
        }
    )
    response = HTMLResponse(html, status_code=status)
    _remember_language(request, response)
    return response


# --- errors -------------------------------------------------------------------------------


async def _to_login(request: Request, exc: Exception) -> Response:
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?{urlencode({'next': path})}", status_code=303)


async def _unauthorized(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": "not logged in"}, status_code=401)


async def _not_found(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "not found"}, status_code=404)
    text = message(_language(request), "not_found")
    return _render(request, "error.html", {"text": text}, status=404, s=_session(request))


async def _bad_request(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": str(exc)}, status_code=400)
    return _render(request, "error.html", {"text": str(exc)}, status=400, s=_session(request))


async def _forbidden(request: Request, exc: Exception) -> Response:
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "missing or wrong CSRF token"}, status_code=403)
    return _render(
        request, "error.html", {"text": message(_language(request), "forbidden")}, status=403
    )


# --- logging in and out -------------------------------------------------------------------

_auth = APIRouter()


def _login_page(
    request: Request, next_path: str, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(32)
    response = _render(
        request,
        "login.html",
        {"login_csrf": token, "next": next_path, "error": error},
        status=status,
    )
    _set_cookie(request, response, LOGIN_CSRF_COOKIE, _console(request).signer.dumps(token), 3600)
    return response


@_auth.get("/", response_model=None)
def index() -> Response:
    return RedirectResponse("/alerts", status_code=303)


@_auth.get("/login", response_model=None)
def login_form(request: Request) -> Response:
    next_path = _safe_next(request.query_params.get("next"))
    if _session(request) is not None:
        return RedirectResponse(next_path, status_code=303)
    return _login_page(request, next_path)


def _login_csrf(c: _Console, request: Request) -> str | None:
    """The login form's CSRF token as this site signed it into its cookie (none if not)."""
    try:
        expected = c.signer.loads(request.cookies.get(LOGIN_CSRF_COOKIE, ""), max_age=3600)
    except BadSignature:
        return None
    return expected if isinstance(expected, str) else None


@_auth.post("/login", response_model=None)
async def login(request: Request, c: Console) -> Response:
    form = await _form_of(request)
    _check_csrf(_login_csrf(c, request), form.get("csrf_token"))
    next_path = _safe_next(form.get("next"))
    lang = _language(request)
    result = run_login(
        c.engine,
        form.get("username", ""),
        form.get("password", ""),
        ip=_ip_of(request),
        now=c.clock.now(),
        policy=c.throttle,
    )
    if result.throttle.refused:
        return _login_page(request, next_path, error=message(lang, "throttled"), status=429)
    if result.token is None:
        return _login_page(request, next_path, error=message(lang, "login_failed"), status=401)
    response = RedirectResponse(next_path, status_code=303)
    _set_cookie(
        request, response, SESSION_COOKIE, c.signer.dumps(result.token), SESSION_HOURS * 3600
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@_auth.post("/logout", response_model=None)
async def logout(request: Request, c: Console) -> Response:
    s = _page_session(request)
    form = await _form_of(request)
    _check_csrf(s.csrf_token, form.get("csrf_token"))
    run_logout(c.engine, s.token_hash, s.user, ip=_ip_of(request), now=c.clock.now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- the queue ----------------------------------------------------------------------------

_queue = APIRouter()


def _filters(request: Request) -> dict[str, str | None]:
    """The queue's filters from the query string (see :func:`_filters_of`)."""
    return _filters_of(request.query_params)


def _filters_of(q: Mapping[str, str]) -> dict[str, str | None]:
    """The queue's filters from a query string or a form; a tier, status or age not allowed
    is a 400. ``assignee`` stays as given (``me`` is the user: :func:`_queue_rows`)."""
    tier = q.get("tier") or None
    status = q.get("status") or "open"
    if tier is not None and tier not in TIERS:
        raise _BadRequest(f"tier {tier!r}: one of {', '.join(TIERS)}")
    if status not in ALERT_STATUSES:
        raise _BadRequest(f"status {status!r}: one of {', '.join(ALERT_STATUSES)}")
    if q.get("overdue") not in (None, "", "0", "1"):
        raise _BadRequest("overdue: 1 (only overdue alerts) or 0")
    age = (q.get("min_age_days") or "").strip() or None
    if age is not None and not (age.isdigit() and int(age) <= _MAX_AGE_DAYS):
        raise _BadRequest(f"min_age_days {age!r}: a whole number of days, 0 to {_MAX_AGE_DAYS}")
    return {
        "overdue": "1" if q.get("overdue") == "1" else None,
        "tier": tier,
        "status": status,
        "jurisdiction": q.get("jurisdiction") or None,
        "rule": q.get("rule") or None,
        "search": (q.get("q") or "").strip()[:100] or None,
        "assignee": (q.get("assignee") or "").strip().lower()[:64] or None,
        "min_age_days": age,
    }


def _query_of(f: Mapping[str, str | None]) -> str:
    """The query string of the filters ``f`` (the CSV link, the bulk form's way back)."""
    return urlencode({k if k != "search" else "q": v for k, v in f.items() if v})


def _api_limit(request: Request) -> int:
    try:
        return min(max(int(request.query_params.get("limit") or PAGE_ROWS), 1), API_MAX_ROWS)
    except ValueError:
        raise _BadRequest("limit must be a whole number") from None


def _queue_rows(
    c: _Console, user: User, f: Mapping[str, str | None], limit: int | None
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The user's queue under the filters ``f`` (at most ``limit`` rows, each marked
    ``overdue`` or not) and its counts by tier (of all its rows). The assignee ``me`` is the
    user."""
    on = c.overdue_on()
    only = f["overdue"] == "1"
    assignee = user.username if f["assignee"] == "me" else f["assignee"]
    age = int(f["min_age_days"]) if f["min_age_days"] else None
    common: dict[str, Any] = dict(
        status=f["status"] or "open",
        districts=user.districts,
        jurisdiction=f["jurisdiction"],
        rule=f["rule"],
        search=f["search"],
        address=c.address,
        assignee=assignee,
        min_age_days=age,
    )
    try:
        with c.engine.connect() as conn:
            rows = list_alerts(
                conn, tier=f["tier"], limit=limit, overdue_on=on, overdue_only=only, **common
            )
            counts = count_alerts_by_tier(conn, overdue_on=on if only else None, **common)
    except ValueError as exc:  # an unknown district or a malformed rule code
        raise _BadRequest(str(exc)) from None
    return rows, counts


def _districts_of(user: User) -> list[str]:
    scope = user.districts
    return [j.zh for j in JURISDICTIONS if scope is None or j.zh in scope]


def _colleagues(conn: sa.Connection, user: User) -> list[str]:
    """The enabled accounts that see at least one of ``user``'s districts: whom the queue's
    bulk form offers to assign to (each alert is checked again for its own district)."""
    mine = _districts_of(user)
    return [u.username for u in list_users(conn) if not u.disabled and any(u.sees(d) for d in mine)]


def _queue_page(
    request: Request, c: _Console, s: Session, f: Mapping[str, str | None], **extra: Any
) -> HTMLResponse:
    rows, counts = _queue_rows(c, s.user, f, PAGE_ROWS)
    with c.engine.connect() as conn:
        colleagues = _colleagues(conn, s.user)
        day = latest_warn_day(conn)
    return _render(
        request,
        "alerts.html",
        {
            "rows": rows,
            "counts": counts,
            "total": sum(counts.values()),
            "f": f,
            "tiers": TIERS,
            "statuses": ALERT_STATUSES,
            "districts": _districts_of(s.user),
            "csv_query": _query_of(f),
            "page_rows": PAGE_ROWS,
            "colleagues": colleagues,
            "warn_day": day,
            "asleep": lambda until: asleep(until, day),
            "bulk": None,
            **extra,
        },
        s=s,
    )


@_queue.get("/alerts", response_model=None)
def alerts_page(request: Request, c: Console) -> Response:
    s = _page_session(request)
    return _queue_page(request, c, s, _filters(request))


@_queue.get("/api/alerts", response_model=None)
def alerts_api(request: Request, c: Console) -> Response:
    s = _api_session(request)
    f = _filters(request)
    rows, counts = _queue_rows(c, s.user, f, _api_limit(request))
    return JSONResponse(
        jsonable_encoder(
            {
                "alerts": [{k: r.get(k) for k in _API_FIELDS} for r in rows],
                "counts": counts,
                "total": sum(counts.values()),
            }
        )
    )


def _csv_values(row: Mapping[str, Any]) -> list[Any]:
    """One alert as the CSV's cells: lists joined, the top three reasons (the writer makes
    every cell safe for a spreadsheet)."""
    values = {
        **row,
        "rule_hits": " ".join(row.get("rule_hits") or []),
        "top_reasons": "; ".join(
            str(x.get("zh") or x.get("code") or "")
            for x in (row.get("reasons") or [])[:3]
            if isinstance(x, dict)
        ),
    }
    return [values.get(col) for col in _CSV_COLUMNS]


def _csv_response(name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    """A CSV download (UTF-8 with BOM, for spreadsheets) of ``rows`` under ``header``; every
    cell made safe for a spreadsheet (:func:`neutralize_cell`): the one writer of the
    console's exports."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(header)
    for row in rows:
        w.writerow([neutralize_cell(_blank(v)) for v in row])
    return Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


@_queue.get("/alerts.csv", response_model=None)
def alerts_csv(request: Request, c: Console) -> Response:
    s = _page_session(request)
    rows, _ = _queue_rows(c, s.user, _filters(request), None)
    name = f"watchtower-alerts-{c.clock.today():%Y%m%d}.csv"
    return _csv_response(name, _CSV_COLUMNS, (_csv_values(r) for r in rows))


# --- one alert ----------------------------------------------------------------------------

_alert = APIRouter()


def _scoped_alert(c: _Console, conn: sa.Connection, user: User, alert_id: int) -> dict[str, Any]:
    alert = get_alert_in_scope(conn, alert_id, districts=user.districts, address=c.address)
    if alert is None:
        raise _NotFound
    return alert


def _alert_page(
    request: Request, s: Session, alert_id: int, *, error: str | None = None, status: int = 200
) -> HTMLResponse:
    c = _console(request)
    lang = _language(request)
    with c.engine.connect() as conn:
        alert = _scoped_alert(c, conn, s.user, alert_id)
        trail = alert_trail(conn, alert_id)
        colleagues = [
            u.username for u in list_users(conn) if not u.disabled and u.sees(alert["jurisdiction"])
        ]
        day = latest_warn_day(conn)
        points = score_history(conn, alert["register_no"])
        peers = peer_comparison(conn, alert["register_no"], config=c.detect)
    return _render(
        request,
        "alert.html",
        {
            "a": alert,
            "trail": trail,
            "allowed": TRANSITIONS[alert["status"]],
            "resolutions": RESOLUTIONS,
            "colleagues": colleagues,
            "error": error,
            "warn_day": day,
            "asleep": asleep(alert["snoozed_until"], day),
            # the date input's bounds: what :func:`watchtower.warn.snooze` accepts
            "snooze_min": day + dt.timedelta(days=1) if day else None,
            "snooze_max": day + dt.timedelta(days=MAX_SNOOZE_DAYS) if day else None,
            "points": points,
            "chart": _chart(c, lang, points),
            "peers": _peers_json(c, peers),
        },
        status=status,
        s=s,
    )


@_alert.get("/alerts/{alert_id}", response_model=None)
def alert_detail(request: Request, alert_id: int) -> Response:
    return _alert_page(request, _page_session(request), alert_id)


def _assignee(conn: sa.Connection, alert: Mapping[str, Any], form: Mapping[str, str]) -> str | None:
    """Whom the form assigns the alert to (none: unassigned): an enabled colleague who sees
    the alert's district, else an :class:`AlertError`."""
    to = (form.get("assignee") or "").strip().lower() or None
    if to is None:
        return None
    colleague = next((u for u in list_users(conn) if u.username == to), None)
    if colleague is None or colleague.disabled or not colleague.sees(alert["jurisdiction"]):
        raise AlertError(f"{to!r} cannot take this alert (not in its district)")
    return to


@dataclasses.dataclass(frozen=True)
class _Act:
    """One action of a person on one alert in their scope, as the page's forms ask for it."""

    conn: sa.Connection
    alert: dict[str, Any]
    form: Mapping[str, str]
    by: str
    note: str | None
    now: dt.datetime

    @property
    def day(self) -> dt.date:
        return self.now.date()


def _move(action: str) -> Callable[[_Act], object]:
    def move(a: _Act) -> object:
        resolution = a.form.get("resolution") if action == "close" else None
        return transition(
            a.conn,
            a.alert["id"],
            _MOVES[action],
            by=a.by,
            note=a.note,
            as_of=a.day,
            now=a.now,
            resolution=resolution,
        )

    return move


def _snooze_day(form: Mapping[str, str]) -> dt.date:
    try:
        return dt.date.fromisoformat((form.get("until") or "").strip())
    except ValueError:
        raise AlertError("snooze until a day: YYYY-MM-DD") from None


#: The page's actions (``POST /alerts/{id}/{action}``), each through a lifecycle function.
_ACTIONS: dict[str, Callable[[_Act], object]] = {
    **{name: _move(name) for name in _MOVES},
    "reopen": lambda a: reopen(a.conn, a.alert["id"], by=a.by, note=a.note, as_of=a.day, now=a.now),
    "note": lambda a: add_note(
        a.conn, a.alert["id"], a.note or "", by=a.by, as_of=a.day, now=a.now
    ),
    "assign": lambda a: assign(
        a.conn,
        a.alert["id"],
        _assignee(a.conn, a.alert, a.form),
        by=a.by,
        note=a.note,
        as_of=a.day,
        now=a.now,
    ),
    "snooze": lambda a: snooze(
        a.conn,
        a.alert["id"],
        until=_snooze_day(a.form),
        by=a.by,
        note=a.note,
        as_of=a.day,
        now=a.now,
    ),
    "unsnooze": lambda a: unsnooze(
        a.conn, a.alert["id"], by=a.by, note=a.note, as_of=a.day, now=a.now
    ),
}


def _act(
    c: _Console,
    conn: sa.Connection,
    s: Session,
    alert_id: int,
    action: str,
    form: Mapping[str, str],
) -> None:
    """Do one of the page's actions on an alert in the user's scope (404 outside it: the
    scope is checked in SQL in the transaction of the change), under the user's name, in the
    alert's audit trail."""
    alert = _scoped_alert(c, conn, s.user, alert_id)
    note = (form.get("note") or "").strip()[:2000] or None
    _ACTIONS[action](_Act(conn, alert, form, s.user.username, note, c.clock.now()))


@_alert.post("/alerts/{alert_id}/{action}", response_model=None)
async def alert_action(request: Request, alert_id: int, action: str, c: Console) -> Response:
    s = _page_session(request)
    form = await _form_of(request)
    _check_csrf(s.csrf_token, form.get("csrf_token"))
    if action not in _ACTIONS:
        raise _NotFound
    try:
        with c.engine.begin() as conn:
            _act(c, conn, s, alert_id, action, form)
    except AlertError as exc:
        return _alert_page(request, s, alert_id, error=str(exc), status=409)
    return RedirectResponse(f"/alerts/{alert_id}", status_code=303)


@dataclasses.dataclass
class _BulkResult:
    """What a bulk action did: alerts changed, ids refused (no such alert or outside the
    user's scope: nothing said about which), alerts whose change was not possible (e.g.
    acknowledged already) with the first reason."""

    done: int = 0
    refused: int = 0
    failed: int = 0
    reason: str | None = None


def _bulk_ids(values: list[str]) -> list[int]:
    """The alert ids a bulk form checked (each once, in order); 400 for anything but ids, for
    none and for more than a page holds."""
    try:
        ids = list(dict.fromkeys(int(v) for v in values))
    except ValueError:
        raise _BadRequest("alert ids are whole numbers") from None
    if not ids or len(ids) > PAGE_ROWS:
        raise _BadRequest(f"choose between 1 and {PAGE_ROWS} alerts")
    return ids


def _run_bulk(
    c: _Console, s: Session, ids: list[int], action: str, form: Mapping[str, str]
) -> _BulkResult:
    """``action`` on each alert of ``ids``, one transaction each (one alert that cannot
    change leaves the others done). Each id is checked against the user's scope in SQL inside
    its transaction, as a single action is (:func:`_act`); one audit row per changed alert."""
    result = _BulkResult()
    fields = {"assignee": form.get("to") or "", "note": form.get("note") or ""}
    for alert_id in ids:
        try:
            with c.engine.begin() as conn:
                _act(c, conn, s, alert_id, action, fields)
        except _NotFound:
            result.refused += 1
        except AlertError as exc:
            result.failed += 1
            result.reason = result.reason or str(exc)
        else:
            result.done += 1
    return result


@_alert.post("/alerts/bulk", response_model=None)
async def alerts_bulk(request: Request, c: Console) -> Response:
    """The queue's bulk form: acknowledge or assign the checked alerts; the queue again (its
    filters from the form's hidden fields) with how many were done and refused."""
    s = _page_session(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    _check_csrf(s.csrf_token, fields.get("csrf_token"))
    action = fields.get("action") or ""
    if action not in _BULK_ACTIONS:
        raise _BadRequest(f"action {action!r}: one of {', '.join(_BULK_ACTIONS)}")
    f = _filters_of(fields)
    ids = _bulk_ids([v for v in form.getlist("id") if isinstance(v, str)])
    return _queue_page(request, c, s, f, bulk=_run_bulk(c, s, ids, action, fields))


# --- one manager --------------------------------------------------------------------------

_manager = APIRouter()


def _chart(c: _Console, lang: str, points: list[ScorePoint]) -> Markup:
    """The score and tier timeline as inline SVG (escaped and well-formed by construction:
    :func:`watchtower.chart.score_timeline_svg`), in the page's language."""
    last = points[-1] if points else None
    desc = message(lang, "chart_desc").format(
        n=len(points),
        first=points[0].as_of if points else "-",
        last=last.as_of if last else "-",
        score=f"{last.score:.1f}" if last else "-",
        tier=_tier_label(lang, last.tier if last else None),
    )
    svg = score_timeline_svg(
        points,
        c.thresholds,
        title=message(lang, "score_chart"),
        desc=desc,
        tier_label=lambda tier: _tier_label(lang, tier),
        point_label=lambda p: f"{p.as_of} · {p.score:.1f} · {_tier_label(lang, p.tier)}",
    )
    return Markup(svg)  # built by ElementTree, which escapes every text and attribute


def _labels(key: str, fallback: str) -> dict[str, str]:
    """A message in both languages (the code itself where the catalogue has no entry)."""
    return {lang: (text if (text := message(lang, key)) != key else fallback) for lang in LANGUAGES}


def _entry_json(e: TimelineEntry) -> dict[str, Any]:
    prefix = {"alert": "act_", "snapshot": "field_"}.get(e.kind, "ev_")
    return {
        **dataclasses.asdict(e),
        "label": _labels(prefix + e.code, e.code),
        "kind_label": _labels("kind_" + e.kind, e.kind),
    }


def _peers_json(c: _Console, peers: PeerComparison | None) -> dict[str, Any] | None:
    """The peer comparison with each feature's labels from the catalog (zh, en)."""
    if peers is None:
        return None
    out = dataclasses.asdict(peers)
    for f in out["features"]:
        name = f["feature"]
        f["label"] = dict(c.feature_labels.get(name) or _labels(name, name))
    return out


@dataclasses.dataclass(frozen=True)
class _ManagerView:
    """What the manager page and its API show, read as of the profile's day."""

    register_no: str
    profile: ManagerProfile | None
    rows: list[dict[str, Any]]
    points: list[ScorePoint]
    timeline: list[TimelineEntry]
    funds: list[FundState]
    peers: PeerComparison | None
    related: list[RelatedManager]


def _manager_view(c: _Console, user: User, register_no: str) -> _ManagerView:
    """Everything the manager page shows. A manager outside the user's scope, or unknown,
    is :class:`_NotFound`; related managers are those in the user's scope."""
    reg = register_no.strip().upper()[:32]
    with c.engine.connect() as conn:
        if not manager_in_scope(conn, reg, districts=user.districts, address=c.address):
            raise _NotFound
        profile = manager_profile(conn, reg)
        rows = list_alerts(
            conn, status="all", register_no=reg, districts=user.districts, address=c.address
        )
        if profile is None and not rows:
            raise _NotFound
        day = profile.as_of if profile is not None else None
        return _ManagerView(
            register_no=reg,
            profile=profile,
            rows=rows,
            points=score_history(conn, reg, day),
            timeline=change_timeline(conn, profile) if profile is not None else [],
            funds=manager_funds(conn, profile) if profile is not None else [],
            peers=peer_comparison(conn, reg, config=c.detect, as_of=day),
            related=(
                related_managers(conn, reg, districts=user.districts, address=c.address, as_of=day)
                if day is not None
                else []
            ),
        )


def _manager_json(c: _Console, v: _ManagerView) -> dict[str, Any]:
    """The manager view as the API's body (every label in both languages)."""
    return {
        "register_no": v.register_no,
        "as_of": v.profile.as_of if v.profile is not None else None,
        "profile": dataclasses.asdict(v.profile) if v.profile is not None else None,
        "alerts": [{k: r.get(k) for k in _API_FIELDS} for r in v.rows],
        "score_history": [dataclasses.asdict(p) for p in v.points],
        "tier_thresholds": dict(c.thresholds),
        "timeline": [_entry_json(e) for e in v.timeline],
        "funds": [dataclasses.asdict(f) for f in v.funds],
        "peers": _peers_json(c, v.peers),
        "related": [dataclasses.asdict(m) for m in v.related],
    }


@_manager.get("/managers/{register_no}", response_model=None)
def manager_page(request: Request, register_no: str, c: Console) -> Response:
    s = _page_session(request)
    v = _manager_view(c, s.user, register_no)
    body = _manager_json(c, v)
    return _render(
        request,
        "manager.html",
        {
            "p": v.profile,
            "rows": v.rows,
            "register_no": v.register_no,
            "v": body,
            "points": v.points,
            "chart": _chart(c, _language(request), v.points),
        },
        s=s,
    )


@_manager.get("/api/managers/{register_no}", response_model=None)
def manager_api(request: Request, register_no: str, c: Console) -> Response:
    s = _api_session(request)
    return JSONResponse(jsonable_encoder(_manager_json(c, _manager_view(c, s.user, register_no))))


# --- the oversight figures ----------------------------------------------------------------

_oversight = APIRouter()


def _day_param(request: Request, name: str, default: dt.date) -> dt.date:
    value = (request.query_params.get(name) or "").strip()
    if not value:
        return default
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise _BadRequest(f"{name}: a date as YYYY-MM-DD") from None


def _metrics_of(request: Request, c: _Console, user: User) -> tuple[AlertMetrics, str | None]:
    """The figures of the user's scope over the asked-for period (``from``, ``to``; default
    the last :data:`METRICS_DAYS` days), narrowed to ``jurisdiction``; per district for
    readers of every district. A bad date, period or district is a 400."""
    today = c.clock.today()
    end = _day_param(request, "to", today)
    start = _day_param(request, "from", end - dt.timedelta(days=METRICS_DAYS - 1))
    jurisdiction = request.query_params.get("jurisdiction") or None
    try:
        with c.engine.connect() as conn:
            m = alert_metrics(
                conn,
                start=start,
                end=end,
                levels=c.service,
                as_of=today,
                districts=user.districts,
                jurisdiction=jurisdiction,
                by_district=user.districts is None,
                address=c.address,
            )
    except ValueError as exc:  # a period ending before it starts, an unknown district
        raise _BadRequest(str(exc)) from None
    return m, jurisdiction


def _metrics_query(m: AlertMetrics, jurisdiction: str | None) -> str:
    asked = {"from": m.start.isoformat(), "to": m.end.isoformat(), "jurisdiction": jurisdiction}
    return urlencode({k: v for k, v in asked.items() if v})


@_oversight.get("/metrics", response_model=None)
def metrics_page(request: Request, c: Console) -> Response:
    s = _page_session(request)
    m, jurisdiction = _metrics_of(request, c, s.user)
    return _render(
        request,
        "metrics.html",
        {
            "m": m,
            "jurisdiction": jurisdiction,
            "districts": _districts_of(s.user),
            "levels": c.service.tiers,
            "query": _metrics_query(m, jurisdiction),
        },
        s=s,
    )


def _metrics_body(m: AlertMetrics, levels: ServiceLevels) -> dict[str, Any]:
    return {
        **dataclasses.asdict(m),
        "service_levels": {t: dataclasses.asdict(v) for t, v in levels.tiers.items()},
    }


@_oversight.get("/api/metrics", response_model=None)
def metrics_api(request: Request, c: Console) -> Response:
    s = _api_session(request)
    m, _ = _metrics_of(request, c, s.user)
    return JSONResponse(jsonable_encoder(_metrics_body(m, c.service)))


def _metrics_rows(m: AlertMetrics) -> Iterable[list[Any]]:
    """The figures as the CSV's rows (see :data:`_METRICS_COLUMNS`)."""
    period = [m.start, m.end, m.as_of]
    for t in (*m.tiers, m.total):
        values = {**dataclasses.asdict(t), "overdue": t.overdue_acknowledge + t.overdue_close}
        yield ["tier", t.tier, *(values[k] for k in _METRICS_COUNTS), *period]
    for d in m.districts or ():
        values = {"opened": d.opened, "confirmed": d.confirmed, "overdue": d.overdue}
        yield ["district", d.jurisdiction, *(values.get(k) for k in _METRICS_COUNTS), *period]


@_oversight.get("/metrics.csv", response_model=None)
def metrics_csv(request: Request, c: Console) -> Response:
    s = _page_session(request)
    m, _ = _metrics_of(request, c, s.user)
    name = f"watchtower-metrics-{m.start:%Y%m%d}-{m.end:%Y%m%d}.csv"
    return _csv_response(name, _METRICS_COLUMNS, _metrics_rows(m))


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    throttle: ThrottlePolicy | None = None,
) -> FastAPI:
    """The console on ``settings``' store (opened once, through ``open_store``). ``clock``
    dates sessions, attempts and actions and is the day overdue alerts are judged on (default
    the wall clock); ``throttle`` is the login policy (default 5 failures in 15 minutes lock
    out for 15 minutes). The service levels are read now: a bad file stops the start."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None, title="Watchtower console")
    app.state.console = _Console(
        settings=settings,
        engine=open_store(settings.db_url),
        clock=clock or SystemClock(),
        throttle=throttle,
        address=settings.digest.routing_address,
        signer=URLSafeTimedSerializer(console_secret(settings), salt="watchtower-console"),
        templates=Environment(
            loader=FileSystemLoader(_HERE / "templates"),
            autoescape=select_autoescape(["html"], default_for_string=True, default=True),
            trim_blocks=True,
            lstrip_blocks=True,
        ),
        service=load_service_levels(settings.models_dir),
        thresholds=dict(load_policy(settings.models_dir).thresholds),
        detect=load_detect_config(settings.models_dir / "detectors.yaml"),
        feature_labels={
            f.name: {"zh": f.label_zh, "en": f.label_en}
            for f in load_catalog(settings.features_dir).features
        },
    )
    app.state.console.templates.filters["num"] = _num
    app.state.console.templates.filters["probability"] = probability_text
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    app.add_middleware(SecurityHeaders)
    app.add_exception_handler(_LoginRequired, _to_login)
    app.add_exception_handler(_Unauthorized, _unauthorized)
    app.add_exception_handler(_NotFound, _not_found)
    app.add_exception_handler(_BadRequest, _bad_request)
    app.add_exception_handler(_Forbidden, _forbidden)
    for router in (_auth, _queue, _alert, _manager, _oversight):
        app.include_router(router)
    return app
