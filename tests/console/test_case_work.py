"""Case work in the console beyond one action: snoozing from the alert page (expiry on the
store's latest warn day, wake-up by a warn run's escalation), bulk acknowledge and assign
from the queue with the scope checked for every id, and the assignee and age filters on the
page, the API and the CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.console.world import GUANGDONG, login
from tests.digest.world import AS_OF, CLOCK
from tests.warn.scores import insert_scores, score_row
from watchtower import pipeline
from watchtower.config import Settings
from watchtower.console import AccountError
from watchtower.store import open_store
from watchtower.store.alerts import alert_events, alert_labels, alerts

Client = Callable[..., TestClient]


def _ids(settings: Settings) -> dict[str, int]:
    with open_store(settings.db_url).connect() as c:
        return {reg: i for i, reg in c.execute(sa.select(alerts.c.id, alerts.c.register_no))}


def _people(settings: Settings, alert_id: int) -> list[tuple[str, str, str | None]]:
    """The audit rows of ``alert_id`` not written by the pipeline: (actor, action, note)."""
    with open_store(settings.db_url).connect() as c:
        q = sa.select(alert_events.c.actor, alert_events.c.action, alert_events.c.note).where(
            alert_events.c.alert_id == alert_id
        )
        return [tuple(r) for r in c.execute(q.order_by(alert_events.c.id))]


def _regs(client: TestClient, query: str) -> list[str]:
    body = client.get(f"/api/alerts?{query}").json()
    return [a["register_no"] for a in body["alerts"]]


def _warn_next_day(settings: Settings, days: int, scores: dict[str, float]) -> None:
    """A warn run ``days`` after the world's last day with these managers' scores."""
    day = AS_OF + dt.timedelta(days=days)
    engine = open_store(settings.db_url)
    insert_scores(
        engine,
        [score_row(reg, s, as_of=day, province="广东", city="广州") for reg, s in scores.items()],
    )
    pipeline.warn(settings, day, clock=CLOCK)


def test_snooze_from_the_alert_page_expires_on_its_day_and_wakes_on_escalation(
    make_client: Client, console_settings: Settings
) -> None:
    ids = _ids(console_settings)
    alert = ids["P3000003"]  # orange, 广东
    gd = make_client()
    csrf = login(gd, "gd")
    page = gd.get(f"/alerts/{alert}").text
    form = re.search(r'<form method="post" action="/alerts/\d+/snooze">.*?</form>', page, re.S)
    assert form, "no snooze form on the alert page"
    assert 'type="date" name="until"' in form.group(0) and 'name="csrf_token"' in form.group(0)
    assert f'min="{AS_OF + dt.timedelta(days=1)}"' in form.group(0)  # after the latest warn day

    def post(action: str, **data: str) -> int:
        r = gd.post(f"/alerts/{alert}/{action}", data=data, follow_redirects=False)
        status: int = r.status_code
        return status

    until = str(AS_OF + dt.timedelta(days=3))
    assert post("snooze", until=until) == 403  # no CSRF token: nothing done
    assert post("snooze", csrf_token=csrf, until=str(AS_OF)) == 409  # not after the warn day
    assert post("snooze", csrf_token=csrf, until="soon") == 409
    assert post("snooze", csrf_token=csrf, until=until, note="等补充材料") == 303
    assert "P3000003" not in _regs(gd, "")
    assert _regs(gd, "status=snoozed") == ["P3000003"]
    assert gd.get("/api/alerts").json()["counts"]["orange"] == 0  # counts follow the queue
    assert until in gd.get(f"/alerts/{alert}").text
    assert "/unsnooze" in gd.get(f"/alerts/{alert}").text

    # a warn run on the day before: still asleep; on the day: back by itself
    _warn_next_day(console_settings, 2, {"P3000003": 75})
    assert "P3000003" not in _regs(gd, "")
    _warn_next_day(console_settings, 3, {"P3000003": 75})
    assert "P3000003" in _regs(gd, "") and _regs(gd, "status=snoozed") == []

    # snoozed again, an escalation to red in the next run wakes it at once
    again = str(AS_OF + dt.timedelta(days=30))
    assert post("snooze", csrf_token=csrf, until=again) == 303
    assert "P3000003" not in _regs(gd, "")
    _warn_next_day(console_settings, 4, {"P3000003": 95})
    assert "P3000003" in _regs(gd, "tier=red")
    actions = [(who, what) for who, what, _ in _people(console_settings, alert)]
    assert [a for a in actions if a[0] == "gd"] == [("gd", "snooze"), ("gd", "snooze")]
    assert actions[-3:] == [("gd", "snooze"), ("watchtower", "escalate"), ("watchtower", "wake")]
    assert "wake" in gd.get(f"/alerts/{alert}").text

    # ending a snooze early, and refusing to end one that is not there
    assert post("snooze", csrf_token=csrf, until=again) == 303
    assert post("unsnooze", csrf_token=csrf, note="有新线索") == 303
    assert post("unsnooze", csrf_token=csrf) == 409
    assert _people(console_settings, alert)[-1] == (
        "gd",
        "unsnooze",
        f"was snoozed until {again}: 有新线索",
    )


def test_bulk_acknowledge_refuses_an_id_outside_the_scope(
    make_client: Client, console_settings: Settings
) -> None:
    ids = _ids(console_settings)
    gd = make_client()
    csrf = login(gd, "gd")
    page = gd.get("/alerts").text
    assert '<form method="post" action="/alerts/bulk"' in page
    assert f'type="checkbox" name="id" value="{ids["P3000001"]}"' in page
    mine = [ids["P3000001"], ids["P3000002"]]
    shanghai = ids["P3000007"]
    data = {"csrf_token": csrf, "action": "acknowledge", "note": "批量签收"}
    form = [("id", str(i)) for i in [*mine, shanghai, 999999]]

    r = gd.post("/alerts/bulk", data={**data, "csrf_token": "wrong"})
    assert r.status_code == 403
    r = gd.post("/alerts/bulk", content=_encode([*data.items(), *form]), headers=_FORM)
    assert r.status_code == 200
    assert "已处理 2 条" in r.text and "2 条被拒绝" in r.text
    for i in mine:
        assert _people(console_settings, i)[-1] == ("gd", "acknowledge", "批量签收")
    # nothing happened to the other district's alert: only the pipeline's rows
    assert {who for who, _, _ in _people(console_settings, shanghai)} == {"watchtower"}
    with open_store(console_settings.db_url).connect() as c:
        status = c.execute(sa.select(alerts.c.status).where(alerts.c.id == shanghai)).scalar()
    assert status == "new"

    # again: they are acknowledged already, so not changed (and said so), one row each at most
    r = gd.post(
        "/alerts/bulk",
        content=_encode([*data.items(), ("id", str(mine[0]))]),
        headers=_FORM,
    )
    assert "已处理 0 条" in r.text and "1 条未变更" in r.text
    assert [a for _, a, _ in _people(console_settings, mine[0])].count("acknowledge") == 1
    # a bad action or no ids at all: 400, nothing done
    bad = [("csrf_token", csrf), ("action", "close"), ("id", str(mine[0]))]
    assert gd.post("/alerts/bulk", content=_encode(bad), headers=_FORM).status_code == 400
    none = [("csrf_token", csrf), ("action", "acknowledge")]
    assert gd.post("/alerts/bulk", content=_encode(none), headers=_FORM).status_code == 400


def test_bulk_assign_checks_the_assignee_and_the_scope_for_every_alert(
    make_client: Client, console_settings: Settings
) -> None:
    ids = _ids(console_settings)
    gd = make_client()
    csrf = login(gd, "gd")
    targets = [ids["P3000001"], ids["P3000003"], ids["P3000007"]]
    form = [("csrf_token", csrf), ("action", "assign"), ("to", "ana")]
    form += [("id", str(i)) for i in targets]
    r = gd.post("/alerts/bulk", content=_encode(form), headers=_FORM)
    assert r.status_code == 200 and "已处理 2 条" in r.text and "1 条被拒绝" in r.text
    assert set(_regs(gd, "assignee=ana")) == {"P3000001", "P3000003"}
    # 上海's supervisor cannot take 广东 alerts: not changed, said why
    form = [("csrf_token", csrf), ("action", "assign"), ("to", "sh"), ("id", str(targets[0]))]
    r = gd.post("/alerts/bulk?lang=en", content=_encode(form), headers=_FORM)
    assert "0 done" in r.text and "1 not changed" in r.text and "not in its district" in r.text
    assert _regs(gd, "assignee=ana")[0] == "P3000001"


def test_assignee_and_age_filters_on_the_page_the_api_and_the_csv(
    make_client: Client, console_settings: Settings
) -> None:
    ids = _ids(console_settings)
    gd = make_client()
    csrf = login(gd, "gd")
    gd.post(f"/alerts/{ids['P3000001']}/assign", data={"csrf_token": csrf, "assignee": "gd"})
    gd.post(f"/alerts/{ids['P3000002']}/assign", data={"csrf_token": csrf, "assignee": "ana"})
    open_gd = GUANGDONG
    assert _regs(gd, "assignee=me") == ["P3000001"]
    assert _regs(gd, "assignee=ana") == ["P3000002"]
    assert set(_regs(gd, "assignee=none")) == open_gd - {"P3000001", "P3000002"}
    # ages count from the latest warn day (AS_OF): P3000005 opened on it
    old = _regs(gd, "min_age_days=1")
    assert old and "P3000005" not in old and set(old) < open_gd
    assert _regs(gd, "min_age_days=3650") == []
    for bad in ("min_age_days=-1", "min_age_days=abc", "min_age_days=99999"):
        assert gd.get(f"/api/alerts?{bad}").status_code == 400, bad
        assert gd.get(f"/alerts?{bad}").status_code == 400, bad
    body = gd.get("/api/alerts?assignee=me&min_age_days=1").json()
    assert [a["register_no"] for a in body["alerts"]] == ["P3000001"] and body["total"] == 1
    text = gd.get("/alerts.csv?assignee=ana").text.lstrip("\ufeff")
    assert [r["register_no"] for r in csv.DictReader(io.StringIO(text))] == ["P3000002"]
    page = gd.get("/alerts?assignee=me&min_age_days=1").text
    assert "P3000001" in page and "P3000002" not in page
    assert '<option value="me" selected>' in page and 'value="1"' in page
    assert "assignee=me" in page and "min_age_days=1" in page  # the CSV link keeps them
    # another supervisor's "me" is themselves: nothing of gd's
    sh = make_client()
    login(sh, "sh")
    assert _regs(sh, "assignee=me") == [] and _regs(sh, "assignee=gd") == []


def test_closing_as_explained_leaves_no_label(
    make_client: Client, console_settings: Settings
) -> None:
    """Outcomes as labels: confirmed risk and false alarm are kept in alert_labels (the one a
    positive, the other a negative); explained (resolved) is neither."""
    ids = _ids(console_settings)
    gd = make_client()
    csrf = login(gd, "gd")
    outcomes = {"P3000001": "resolved", "P3000002": "confirmed", "P3000003": "false_positive"}
    for reg, outcome in outcomes.items():
        r = gd.post(
            f"/alerts/{ids[reg]}/close",
            data={"csrf_token": csrf, "resolution": outcome},
            follow_redirects=False,
        )
        assert r.status_code == 303, reg
    with open_store(console_settings.db_url).connect() as c:
        q = sa.select(alert_labels.c.register_no, alert_labels.c.label)
        labels = {str(reg): str(label) for reg, label in c.execute(q)}
        q = sa.select(alerts.c.register_no, alerts.c.resolution)
        closed = {reg: res for reg, res in c.execute(q.where(alerts.c.register_no.in_(outcomes)))}
    assert closed == outcomes
    assert {k: v for k, v in labels.items() if k in outcomes} == {
        "P3000002": "confirmed",
        "P3000003": "false_positive",
    }


_FORM = {"content-type": "application/x-www-form-urlencoded"}


def _encode(pairs: list[tuple[str, str]]) -> bytes:
    """A form body with repeated fields (checkboxes of one name), as a browser sends it."""
    return urlencode(pairs).encode()


def test_the_filter_words_are_no_usernames(console_settings: Settings) -> None:
    """``assignee=me`` and ``assignee=none`` mean the user and nobody: no account takes them."""
    for name in ("me", "None", " ME "):
        with pytest.raises(AccountError, match="assignee filter"):
            pipeline.add_user(
                console_settings, name, "analyst", [], "a passphrase long enough", actor="t"
            )
