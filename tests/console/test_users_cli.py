"""`watchtower users add/list/disable/passwd` and `alerts list --jurisdiction`, end to end:
what the console's logins then allow, and that no password is ever printed or stored."""

from __future__ import annotations

import json
from dataclasses import replace

import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.console.world import csrf_of
from tests.digest.world import build_world
from watchtower.cli import app
from watchtower.config import Settings
from watchtower.console import console_audit_rows, create_app
from watchtower.store import open_store
from watchtower.store.console import users

runner = CliRunner()
SECRET = "a very long passphrase 1"
NEW = "another long passphrase 2"


def _login(client: TestClient, name: str, password: str) -> int:
    token = csrf_of(client.get("/login").text)
    r = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    # starlette types TestClient with httpx2 (not installed): Any to mypy, so name the int
    status: int = r.status_code
    return status


def test_users_commands_and_what_they_allow(settings: Settings) -> None:
    r = runner.invoke(
        app,
        [
            "users",
            "add",
            "Zhou.GD",
            "--role",
            "supervisor",
            "--jurisdiction",
            "廣東省",
            "--jurisdiction",
            "shenzhen",
            "--password-stdin",
        ],
        input=SECRET + "\n",
    )
    assert r.exit_code == 0, r.output
    assert "zhou.gd" in r.output and "广东、深圳" in r.output and SECRET not in r.output
    r = runner.invoke(
        app, ["users", "add", "ana", "--role", "analyst", "--password-stdin"], input=SECRET
    )
    assert r.exit_code == 0, r.output
    # refusals are one line, and never repeat the password
    for args, text, expected in (
        (
            ["users", "add", "x1", "--role", "supervisor", "--password-stdin"],
            SECRET,
            "at least one --jurisdiction",
        ),
        (
            [
                "users",
                "add",
                "x2",
                "--role",
                "supervisor",
                "--jurisdiction",
                "火星",
                "--password-stdin",
            ],
            SECRET,
            "is not a district",
        ),
        (["users", "add", "x3", "--role", "admin", "--password-stdin"], "short pw", "at least 12"),
        (["users", "add", "ana", "--role", "admin", "--password-stdin"], SECRET, "exists"),
        (["users", "disable", "nobody"], "", "no user 'nobody'"),
    ):
        r = runner.invoke(app, args, input=text)
        assert r.exit_code == 2, (args, r.output)
        assert expected in r.output and r.output.count("\n") == 1, r.output
        assert SECRET not in r.output and "short pw" not in r.output
    r = runner.invoke(app, ["users", "list", "--json"])
    listed = json.loads(r.output)
    assert [(u["username"], u["role"], u["jurisdictions"], u["disabled"]) for u in listed] == [
        ("ana", "analyst", [], False),
        ("zhou.gd", "supervisor", ["广东", "深圳"], False),
    ]
    assert "password" not in r.output.replace("password_changed_at", "")
    assert "zhou.gd" in runner.invoke(app, ["users", "list"]).output

    engine = open_store(settings.db_url)
    with engine.connect() as c:
        hashes = c.execute(sa.select(users.c.password_hash)).scalars().all()
    assert all(h.startswith("$argon2id$") and SECRET not in h for h in hashes)

    build_world(settings)
    client = TestClient(create_app(settings))
    assert _login(client, "zhou.gd", SECRET) == 303
    regs = {a["register_no"] for a in client.get("/api/alerts").json()["alerts"]}
    assert "P3000006" in regs and "P3000001" in regs and "P3000007" not in regs  # 广东 + 深圳

    r = runner.invoke(app, ["users", "passwd", "zhou.gd", "--password-stdin"], input=NEW + "\n")
    assert r.exit_code == 0 and NEW not in r.output, r.output
    assert client.get("/api/alerts").status_code == 401  # the change ended the session
    other = TestClient(create_app(settings))
    assert _login(other, "zhou.gd", SECRET) == 401
    assert _login(other, "zhou.gd", NEW) == 303
    r = runner.invoke(app, ["users", "disable", "zhou.gd"])
    assert r.exit_code == 0 and "disabled" in r.output
    assert other.get("/api/alerts").status_code == 401  # disabling ended it too
    assert _login(TestClient(create_app(settings)), "zhou.gd", NEW) == 401
    with engine.connect() as c:
        audit = [(r["action"], r["target"]) for r in console_audit_rows(c)]
        assert ("user_add", "zhou.gd") in audit and ("user_passwd", "zhou.gd") in audit
        assert ("user_disable", "zhou.gd") in audit
        assert all(NEW not in str(r) and SECRET not in str(r) for r in console_audit_rows(c))


def test_alerts_list_by_district(settings: Settings) -> None:
    build_world(settings)
    r = runner.invoke(app, ["alerts", "list", "--jurisdiction", "Guangdong", "--json"])
    rows = json.loads(r.output)
    assert {a["register_no"] for a in rows} == {"P3000001", "P3000002", "P3000003", "P3000005"}
    assert {a["jurisdiction"] for a in rows} == {"广东"}
    r = runner.invoke(app, ["alerts", "list", "--jurisdiction", "深圳市", "--rule", "blacklist"])
    assert r.output.strip() == "no alerts"
    r = runner.invoke(app, ["alerts", "list", "--search", "p3000007"])
    assert "P3000007" in r.output and "P3000001" not in r.output
    r = runner.invoke(app, ["alerts", "list", "--jurisdiction", "火星"])
    assert r.exit_code == 2 and "not a district" in r.output


def test_the_routing_address_setting_moves_the_district(settings: Settings) -> None:
    from tests.console.test_scope import _build
    from watchtower import pipeline

    _build(settings)  # P4000001: registered in 深圳, office in 上海
    office = replace(settings, digest=replace(settings.digest, routing_address="office"))
    assert "P4000001" not in {
        r["register_no"] for r in pipeline.list_alerts(settings, jurisdiction="上海")
    }
    assert "P4000001" in {
        r["register_no"] for r in pipeline.list_alerts(office, jurisdiction="上海")
    }
