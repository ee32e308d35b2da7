"""The console over HTTP (FastAPI's test client): logging in, scope isolation on every
endpoint, case work in the audit trail, CSRF, the throttle, escaping and security headers."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.console.conftest import StepClock
from tests.console.world import GUANGDONG, PASSWORD, SHANGHAI, csrf_of, login
from tests.digest.world import EVIL_NAME
from watchtower.config import Settings
from watchtower.console import console_audit_rows
from watchtower.store import open_store
from watchtower.store.alerts import alert_labels, alerts
from watchtower.warn import alert_trail

Client = Callable[..., TestClient]


def _ids(settings: Settings) -> dict[str, int]:
    """register_no -> id of its alert."""
    with open_store(settings.db_url).connect() as c:
        return {reg: i for i, reg in c.execute(sa.select(alerts.c.id, alerts.c.register_no))}


def _audit(settings: Settings) -> list[tuple[str, str]]:
    with open_store(settings.db_url).connect() as c:
        return [(r["actor"], r["action"]) for r in console_audit_rows(c)]


def test_without_a_session_pages_redirect_and_the_api_answers_401(make_client: Client) -> None:
    c = make_client()
    for path in ("/alerts", "/alerts/1", "/alerts.csv", "/managers/P3000001", "/"):
        r = c.get(path, follow_redirects=False)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login") or path == "/"
    assert c.get("/alerts?tier=red", follow_redirects=False).headers["location"] == (
        "/login?next=%2Falerts%3Ftier%3Dred"
    )
    for path in ("/api/alerts", "/api/managers/P3000001"):
        r = c.get(path)
        assert r.status_code == 401 and r.json() == {"error": "not logged in"}, path
    r = c.post("/alerts/1/acknowledge", data={"csrf_token": "x"}, follow_redirects=False)
    assert r.status_code == 303  # nothing done without a session
    # cookies go on the client (httpx deprecates per-request ones)
    c.cookies.set("wt_session", "forged.cookie.value")
    assert c.get("/api/alerts").status_code == 401


def test_each_supervisor_sees_only_their_district_everywhere(
    make_client: Client, console_settings: Settings
) -> None:
    ids = _ids(console_settings)
    gd, sh, ana = make_client(), make_client(), make_client()
    login(gd, "gd")
    login(sh, "sh")
    login(ana, "ana")

    api = {r["register_no"] for r in gd.get("/api/alerts").json()["alerts"]}
    assert api == GUANGDONG
    assert {r["register_no"] for r in sh.get("/api/alerts").json()["alerts"]} == SHANGHAI
    assert {r["register_no"] for r in ana.get("/api/alerts").json()["alerts"]} >= (
        GUANGDONG | SHANGHAI | {"P3000006", "P3000008"}
    )
    body = gd.get("/api/alerts").json()
    assert body["counts"] == {"red": 2, "orange": 1, "yellow": 1, "blue": 0}
    first = body["alerts"][0]
    assert set(first) >= {
        "id",
        "register_no",
        "manager_name",
        "jurisdiction",
        "tier",
        "status",
        "score",
        "opened_as_of",
    }
    assert [a["tier"] for a in body["alerts"]] == ["red", "red", "orange", "yellow"]
    assert all(a["jurisdiction"] == "广东" for a in body["alerts"])
    # every status, filters and search stay inside the scope
    everything = gd.get("/api/alerts?status=all").json()["alerts"]
    assert {r["register_no"] for r in everything} == GUANGDONG | {"P3000004"}
    assert sh.get("/api/alerts?jurisdiction=广东").json()["alerts"] == []
    assert sh.get("/api/alerts?q=P30000&status=all").json()["total"] == 1
    assert gd.get("/api/alerts?rule=lost_contact").json()["alerts"] == []
    assert sh.get("/api/alerts?rule=lost_contact").json()["total"] == 1

    page = gd.get("/alerts").text
    assert all(reg in page for reg in GUANGDONG) and "P3000007" not in page
    assert "P3000006" not in page  # 深圳 is a district of its own
    assert "P3000007" in sh.get("/alerts").text and "P3000001" not in sh.get("/alerts").text
    rows = list(csv.DictReader(io.StringIO(gd.get("/alerts.csv?status=all").text.lstrip("\ufeff"))))
    assert {r["register_no"] for r in rows} == GUANGDONG | {"P3000004"}

    # another district's alert and manager answer as if they did not exist
    for path in (f"/alerts/{ids['P3000007']}", "/managers/P3000007", "/managers/P3000006"):
        assert gd.get(path).status_code == 404, path
    assert gd.get("/api/managers/P3000007").status_code == 404
    assert gd.get("/api/managers/P9999999").status_code == 404
    assert sh.get(f"/alerts/{ids['P3000001']}").status_code == 404
    assert gd.get(f"/alerts/{ids['P3000001']}").status_code == 200
    assert gd.get("/alerts/999999").status_code == 404
    profile = gd.get("/api/managers/p3000001").json()
    assert profile["register_no"] == "P3000001"
    assert [a["register_no"] for a in profile["alerts"]] == ["P3000001"]
    assert profile["profile"]["snapshot"]["register_province"] == "广东"
    assert "P3000001" in gd.get("/managers/P3000001").text
    assert ana.get("/managers/P3000007").status_code == 200

    # and no action reaches it
    csrf = csrf_of(gd.get("/alerts").text)
    r = gd.post(f"/alerts/{ids['P3000007']}/acknowledge", data={"csrf_token": csrf})
    assert r.status_code == 404
    with open_store(console_settings.db_url).connect() as c:
        assert {e["actor"] for e in alert_trail(c, ids["P3000007"])} == {"watchtower"}


def test_case_work_goes_through_the_lifecycle_into_the_audit_trail(
    make_client: Client, console_settings: Settings
) -> None:
    alert = _ids(console_settings)["P3000001"]
    gd = make_client()
    csrf = login(gd, "gd")

    def act(action: str, **form: str) -> int:
        r = gd.post(
            f"/alerts/{alert}/{action}", data={"csrf_token": csrf, **form}, follow_redirects=False
        )
        # starlette types TestClient with httpx2 (not installed): Any to mypy, so name the int
        status: int = r.status_code
        return status

    assert act("acknowledge", note="已签收") == 303
    assert act("assign", assignee="gd") == 303
    assert act("assign", assignee="sh") == 409  # 上海's supervisor cannot see a 广东 alert
    assert act("assign", assignee="ana") == 303  # an analyst sees every district
    assert act("note", note="约谈法定代表人") == 303
    assert act("investigate") == 303
    assert act("acknowledge") == 409  # not allowed from investigating
    assert act("close", resolution="bogus") == 409
    assert act("close", resolution="confirmed", note="核实") == 303
    with open_store(console_settings.db_url).connect() as c:
        labels = c.execute(sa.select(alert_labels.c.label).where(alert_labels.c.alert_id == alert))
        assert labels.scalars().all() == ["confirmed"]
    assert act("reopen", note="新线索") == 303
    assert act("frobnicate") == 404
    with open_store(console_settings.db_url).connect() as c:
        trail = alert_trail(c, alert)
        a = c.execute(sa.select(alerts).where(alerts.c.id == alert)).mappings().one()
        assert (
            c.execute(
                sa.select(sa.func.count())
                .select_from(alert_labels)
                .where(alert_labels.c.alert_id == alert)
            ).scalar_one()
            == 0
        )  # reopened: the outcome no longer holds
    people = [(e["actor"], e["action"]) for e in trail if e["actor"] != "watchtower"]
    assert people == [
        ("gd", "acknowledge"),
        ("gd", "assign"),
        ("gd", "assign"),
        ("gd", "note"),
        ("gd", "investigate"),
        ("gd", "close"),
        ("gd", "reopen"),
    ]
    assert a["status"] == "acknowledged" and a["assignee"] == "ana" and a["open_key"] == "P3000001"
    notes = " | ".join(e["note"] or "" for e in trail)
    assert "已签收" in notes and "约谈法定代表人" in notes and "→ ana" in notes
    page = gd.get(f"/alerts/{alert}").text
    assert "约谈法定代表人" in page and "reopen" in page


def test_every_post_needs_the_csrf_token(make_client: Client, console_settings: Settings) -> None:
    alert = _ids(console_settings)["P3000001"]
    gd = make_client()
    csrf = login(gd, "gd")
    for data in ({}, {"csrf_token": "wrong"}, {"csrf_token": csrf[:-1]}):
        r = gd.post(f"/alerts/{alert}/acknowledge", data=data, follow_redirects=False)
        assert r.status_code == 403, data
        assert gd.post("/logout", data=data, follow_redirects=False).status_code == 403
    # another session's token is no good either
    other = make_client()
    other_csrf = login(other, "ana")
    assert (
        gd.post(f"/alerts/{alert}/acknowledge", data={"csrf_token": other_csrf}).status_code == 403
    )
    with open_store(console_settings.db_url).connect() as c:
        assert {e["actor"] for e in alert_trail(c, alert)} == {"watchtower"}
    # the login form too: its token is bound to the browser's login cookie
    fresh = make_client()
    fresh.get("/login")
    r = fresh.post("/login", data={"username": "gd", "password": PASSWORD, "csrf_token": "x"})
    assert r.status_code == 403
    r = make_client().post("/login", data={"username": "gd", "password": PASSWORD})
    assert r.status_code == 403
    # refused before any password check: neither a login nor a failure
    assert _audit(console_settings).count(("gd", "login")) == 1
    assert ("gd", "login_failed") not in _audit(console_settings)


def test_five_failures_lock_the_name_for_fifteen_minutes(
    make_client: Client, console_settings: Settings, clock: StepClock
) -> None:
    c = make_client()

    def attempt(name: str, password: str) -> int:
        token = csrf_of(c.get("/login").text)
        r = c.post(
            "/login",
            data={"username": name, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        # starlette types TestClient with httpx2 (not installed): Any to mypy, so name the int
        status: int = r.status_code
        return status

    for _ in range(5):
        assert attempt("gd", "not the password at all") == 401
        clock.advance(minutes=1)
    assert attempt("gd", PASSWORD) == 429  # the right password no longer helps
    assert attempt("sh", PASSWORD) == 429  # nor another name from the same address
    clock.advance(minutes=13)  # 09:18, the fifth failure was at 09:04
    assert attempt("gd", PASSWORD) == 429
    clock.advance(minutes=1)  # 15 minutes after the fifth failure
    assert attempt("gd", PASSWORD) == 303
    actions = [a for _, a in _audit(console_settings)]
    assert actions.count("login_failed") == 5 and actions.count("login_throttled") == 3
    assert actions[-1] == "login"


def test_logins_logouts_and_refusals_are_audited(
    make_client: Client, console_settings: Settings
) -> None:
    c = make_client()
    csrf = login(c, "gd")
    cookie = c.cookies.get("wt_session")
    assert cookie is not None
    assert c.post("/logout", data={"csrf_token": csrf}, follow_redirects=False).status_code == 303
    # the old cookie opens nothing: the session ended in the store, not just in the browser
    c.cookies.set("wt_session", cookie)
    assert c.get("/api/alerts").status_code == 401
    c.cookies.delete("wt_session")  # the browser forgets it again, as after the logout
    token = csrf_of(c.get("/login").text)
    c.post("/login", data={"username": "nobody", "password": PASSWORD, "csrf_token": token})
    audit = _audit(console_settings)
    assert audit[-3:] == [("gd", "login"), ("gd", "logout"), ("nobody", "login_failed")]
    with open_store(console_settings.db_url).connect() as conn:
        rows = console_audit_rows(conn)
        assert all(PASSWORD not in str(r) for r in rows)
        try:
            conn.execute(sa.text("delete from console_audit"))
            raise AssertionError("console_audit accepted a DELETE")
        except sa.exc.DatabaseError as exc:
            assert "append-only" in str(exc)


def test_hostile_names_are_escaped_in_pages_and_neutralised_in_the_csv(
    make_client: Client, console_settings: Settings
) -> None:
    gd = make_client()
    login(gd, "gd")
    ids = _ids(console_settings)
    for path in (
        "/alerts",
        f"/alerts/{ids['P3000005']}",
        "/managers/P3000005",
        "/alerts?q=<script>",
    ):
        html = gd.get(path).text
        assert "<script>alert" not in html, path
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in gd.get("/alerts").text
    assert gd.get("/api/alerts").json()["alerts"][-1]["manager_name"] == EVIL_NAME  # JSON: data
    text = gd.get("/alerts.csv?status=all").text
    rows = {r["register_no"]: r for r in csv.DictReader(io.StringIO(text.lstrip("\ufeff")))}
    assert rows["P3000004"]["manager_name"].startswith("'@SUM")
    assert '=HYPERLINK("http://evil"' in rows["P3000005"]["top_reasons"]  # kept, inside
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows.values() for v in r.values())


def test_security_headers_on_every_response(make_client: Client) -> None:
    c = make_client()
    responses = [
        c.get("/login"),
        c.get("/api/alerts"),
        c.get("/static/console.css"),
        c.get("/nothing-here"),
        c.get("/alerts", follow_redirects=False),
    ]
    login(c, "gd")
    responses += [c.get("/alerts"), c.get("/api/alerts"), c.get("/alerts.csv")]
    for r in responses:
        csp = r.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "unsafe-inline" not in csp, r.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "same-origin"
        assert r.headers["x-frame-options"] == "DENY"
    assert responses[-3].headers["cache-control"] == "no-store"
    page = responses[-3].text
    assert "<script" not in page and "style=" not in page  # nothing the CSP would block
    assert '<link rel="stylesheet" href="/static/console.css">' in page
    assert c.get("/docs").status_code == 404 and c.get("/openapi.json").status_code == 404


def test_session_cookie_flags(make_client: Client) -> None:
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        c = make_client(base_url=base)
        token = csrf_of(c.get("/login").text)
        r = c.post(
            "/login",
            data={"username": "gd", "password": PASSWORD, "csrf_token": token},
            follow_redirects=False,
        )
        cookie = next(v for v in r.headers.get_list("set-cookie") if v.startswith("wt_session="))
        flags = cookie.lower()
        assert "httponly" in flags and "samesite=lax" in flags
        assert ("; secure" in flags) is secure, base


def test_chinese_by_default_english_on_request(make_client: Client) -> None:
    c = make_client()
    assert "登录" in c.get("/login").text
    assert "Log in" in c.get("/login?lang=en").text
    assert "Log in" in c.get("/login").text  # remembered in a cookie
    login(c, "gd")
    assert "Alert queue" in c.get("/alerts").text
    assert "预警队列" in c.get("/alerts?lang=zh").text


def test_open_redirects_are_refused(make_client: Client) -> None:
    c = make_client()
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        token = csrf_of(c.get("/login").text)
        r = c.post(
            "/login",
            data={"username": "gd", "password": PASSWORD, "csrf_token": token, "next": target},
            follow_redirects=False,
        )
        assert r.headers["location"] == "/alerts", target
        c.cookies.clear()
