"""Each DAG once end to end with ``dag.test()`` on a small synthetic world.

The checks look at the Watchtower store (scores, tiers, alerts, outbox) and at the mail that
actually arrived, not only at task states. Every run is a subprocess (tests/dags/_dagtest.py)
on a throwaway SQLite Airflow metadata database and a throwaway Watchtower store.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from tests.dags.conftest import (
    PIPELINE_TASKS,
    REPO,
    RUN_DAY,
    AirflowEnv,
    AirflowRun,
    run_spec,
)
from tests.digest.smtp import smtp_server
from tests.digest.webhooks import webhook_server
from watchtower.jurisdiction import JURISDICTIONS

pytestmark = [pytest.mark.airflow, pytest.mark.slow]


def _rows(db_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def _assert_success(run: AirflowRun) -> None:
    bad = [t for t in run.report["tis"] if t["state"] not in ("success", "skipped")]
    assert run.state == "success" and not bad, f"{bad}\n{run.output[-6000:]}"


def _store_state(db_url: str, day: dt.date) -> dict[str, Any]:
    """What a re-run must not change: the business content of every table a run writes."""
    return {
        "batches": _rows(db_url, "SELECT count(*) FROM batches"),
        "managers": _rows(db_url, "SELECT count(*) FROM manager_snapshots"),
        "scores": _rows(
            db_url,
            "SELECT register_no, round(score, 9) FROM risk_scores WHERE as_of = :d "
            "ORDER BY register_no",
            d=day,
        ),
        "tiers": _rows(
            db_url,
            "SELECT register_no, tier, raw_tier, floor_tier FROM manager_tiers WHERE as_of = :d "
            "ORDER BY register_no",
            d=day,
        ),
        "alerts": _rows(
            db_url,
            "SELECT register_no, status, tier, peak_tier, opened_as_of, last_as_of FROM alerts "
            "ORDER BY register_no",
        ),
        "alert_events": _rows(db_url, "SELECT count(*) FROM alert_events"),
    }


def _config_dir_with_subscriptions(env: AirflowEnv, subscribers: list[dict[str, Any]]) -> Path:
    """A WATCHTOWER_CONFIG_DIR like the repo's, with the given digest subscriptions."""
    config = env.root / "config"
    config.mkdir()
    for name in ("features", "expectations"):
        (config / name).symlink_to(REPO / name)
    shutil.copytree(REPO / "models", config / "models")
    subs = yaml.safe_load((REPO / "models" / "subscriptions.yaml").read_text(encoding="utf-8"))
    subs["subscribers"] = subscribers
    (config / "models" / "subscriptions.yaml").write_text(
        yaml.safe_dump(subs, allow_unicode=True), encoding="utf-8"
    )
    return config


@pytest.fixture(scope="module")
def pipelined(
    tmp_path_factory: pytest.TempPathFactory, airflow_template: Path, world_landing: Path
) -> tuple[AirflowEnv, AirflowRun, dict[str, Any]]:
    """One pipeline run on the world (shared: the other DAGs' tests start from a copy)."""
    env = AirflowEnv.create(tmp_path_factory.mktemp("pipelined"), airflow_template, world_landing)
    run = env.dag_test("watchtower_pipeline")
    return env, run, _store_state(env.db_url, RUN_DAY)


@pytest.fixture
def after_pipeline(
    pipelined: tuple[AirflowEnv, AirflowRun, dict[str, Any]], tmp_path: Path
) -> AirflowEnv:
    """A private copy of the state right after the pipeline run."""
    env, run, _ = pipelined
    _assert_success(run)
    return env.clone(tmp_path / "env")


def test_pipeline_dag_ingests_scores_and_warns(
    pipelined: tuple[AirflowEnv, AirflowRun, dict[str, Any]],
) -> None:
    env, run, _ = pipelined
    _assert_success(run)
    states = run.states()
    assert set(states) == PIPELINE_TASKS
    assert len(states["features"]) >= 2, "features should fan out over several partitions"
    assert len(states["score"]) == len(states["features"])
    partitions = sorted(
        t["rendered_map_index"] for t in run.report["tis"] if t["task_id"] == "features"
    )
    assert all(partitions) and len(set(partitions)) == len(partitions)

    db = env.db_url
    files = [p for p in env.landing.rglob("*") if p.is_file() and "_truth" not in p.parts]
    assert _rows(db, "SELECT count(*) FROM batches WHERE status = 'loaded'")[0][0] == len(files)
    assert {str(d) for (d,) in _rows(db, "SELECT DISTINCT as_of FROM risk_scores")} == {
        RUN_DAY.isoformat()
    }
    scored = _rows(db, "SELECT count(*) FROM risk_scores")[0][0]
    managers = _rows(db, "SELECT count(DISTINCT register_no) FROM manager_snapshots")[0][0]
    assert scored >= 0.9 * managers
    alerts = _rows(db, "SELECT count(*) FROM alerts WHERE status <> 'closed'")[0][0]
    assert alerts >= 1, "a world with planted risk must raise alerts"
    assert _rows(db, "SELECT count(*) FROM alert_events WHERE action = 'open'")[0][0] == alerts


def test_rerunning_the_pipeline_day_changes_nothing(
    pipelined: tuple[AirflowEnv, AirflowRun, dict[str, Any]], tmp_path: Path
) -> None:
    env, first, before = pipelined
    _assert_success(first)
    env = env.clone(tmp_path / "env")
    again = env.dag_test("watchtower_pipeline")
    _assert_success(again)
    assert _store_state(env.db_url, RUN_DAY) == before
    ingested = _rows(env.db_url, "SELECT status, count(*) FROM batches GROUP BY status")
    assert dict(ingested).get("loaded") == before["batches"][0][0]


def test_digest_dag_mails_the_digests_due_on_the_alerts_day(after_pipeline: AirflowEnv) -> None:
    env = after_pipeline
    db = env.db_url
    province = _rows(
        db,
        "SELECT province, count(*) FROM alerts WHERE province IS NOT NULL "
        "GROUP BY province ORDER BY 2 DESC, 1 LIMIT 1",
    )[0][0]
    weekday = RUN_DAY.strftime("%a").lower()
    config = _config_dir_with_subscriptions(
        env,
        [
            {"recipient": "daily@example.gov.cn", "province": province, "min_tier": "blue"},
            {
                "recipient": "weekly@example.gov.cn",
                "province": province,
                "min_tier": "blue",
                "cadence": "weekly",
                "weekday": weekday,
                "language": "en",
            },
        ],
    )
    with smtp_server() as (port, inbox):
        smtp = {
            "WATCHTOWER_CONFIG_DIR": str(config),
            "WATCHTOWER_SMTP_HOST": "127.0.0.1",
            "WATCHTOWER_SMTP_PORT": str(port),
            # the other districts' alerts reach no subscriber: they go to the catch-all
            "WATCHTOWER_DIGEST_CATCH_ALL": "ops@example.gov.cn",
        }
        # Twice: digests go out once per (recipient, period), however often the DAG runs.
        first, second = env.dag_tests(
            run_spec("watchtower_digest", env=smtp), run_spec("watchtower_digest", env=smtp)
        )
        _assert_success(first)
        _assert_success(second)
        assert sorted(first.states()) == ["render", "send"]
        rendered = sorted(
            t["rendered_map_index"] for t in first.report["tis"] if t["task_id"] == "render"
        )
        assert rendered == ["daily", "immediate", "weekly"]

        outbox = _rows(db, "SELECT recipient, cadence, status, as_of, eml_path FROM outbox")
        assert sorted((r, c, s) for r, c, s, _, _ in outbox) == [
            ("daily@example.gov.cn", "daily", "sent"),
            ("ops@example.gov.cn", "daily", "sent"),
            ("weekly@example.gov.cn", "weekly", "sent"),
        ]
        assert {str(d) for _, _, _, d, _ in outbox} == {RUN_DAY.isoformat()}
        assert all(Path(p).is_file() for *_, p in outbox)
        assert sorted(m.rcpt_tos[0] for m in inbox.messages) == [
            "daily@example.gov.cn",
            "ops@example.gov.cn",
            "weekly@example.gov.cn",
        ]


def test_digest_dag_pushes_each_red_alert_once_beside_the_mail(after_pipeline: AirflowEnv) -> None:
    env = after_pipeline
    db = env.db_url
    # The small world turns nobody red on the run day: its riskiest open alert climbs to red
    # as the warn step would record it (alerts row and its escalate event).
    alert_id, register_no, tier, score = _rows(
        db,
        "SELECT id, register_no, tier, score FROM alerts WHERE status <> 'closed' "
        "ORDER BY score DESC, id LIMIT 1",
    )[0]
    engine = sa.create_engine(db)
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE alerts SET tier = 'red', peak_tier = 'red' WHERE id = :i"),
            {"i": alert_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO alert_events (alert_id, register_no, as_of, at, actor, action, "
                "from_tier, to_tier, score) VALUES (:i, :r, :d, :t, 'watchtower', 'escalate', "
                ":f, 'red', :s)"
            ),
            {
                "i": alert_id,
                "r": register_no,
                "d": RUN_DAY,
                "t": dt.datetime(2024, 7, 1),
                "f": tier,
                "s": score,
            },
        )
    engine.dispose()
    reds = _rows(
        db,
        "SELECT DISTINCT e.alert_id FROM alert_events e WHERE e.to_tier = 'red' "
        "AND e.action IN ('open', 'escalate') AND e.as_of = :d",
        d=RUN_DAY,
    )
    assert reds
    with webhook_server() as (base, hooks), smtp_server() as (port, inbox):
        config = _config_dir_with_subscriptions(
            env,
            [
                {
                    "recipient": "duty@example.gov.cn",
                    "province": [j.zh for j in JURISDICTIONS],  # the whole country
                    "cadence": "immediate",
                    "webhook": [
                        {"url": f"{base}/wecom?key=K", "format": "wecom"},
                        {"url": f"{base}/json", "format": "json"},
                    ],
                }
            ],
        )
        run_env = {
            "WATCHTOWER_CONFIG_DIR": str(config),
            "WATCHTOWER_SMTP_HOST": "127.0.0.1",
            "WATCHTOWER_SMTP_PORT": str(port),
            "WATCHTOWER_DIGEST_CATCH_ALL": "ops@example.gov.cn",
            "WATCHTOWER_CONSOLE_URL": "https://watchtower.example.gov.cn",
        }
        # Twice: a red alert is pushed once per escalation, however often the DAG runs.
        first, second = env.dag_tests(
            run_spec("watchtower_digest", env=run_env), run_spec("watchtower_digest", env=run_env)
        )
        _assert_success(first)
        _assert_success(second)
    (mail,) = [m.message for m in inbox.messages if m.rcpt_tos == ["duty@example.gov.cn"]]
    (attachment,) = list(mail.iter_attachments())
    rows = list(csv.reader(io.StringIO(attachment.get_content().lstrip("\ufeff"))))
    mailed = sorted(int(r[1]) for r in rows[1:])  # the immediate mail's alert ids
    pushed = sorted(p.json()["alert_id"] for p in hooks.to("/json"))
    assert pushed and pushed == mailed  # the pushes and the mail agree, each alert once
    assert set(pushed) <= {i for (i,) in reds}
    assert len(hooks.to("/wecom")) == len(pushed)
    assert all(
        p.json()["console_url"]
        == f"https://watchtower.example.gov.cn/alerts/{p.json()['alert_id']}"
        for p in hooks.to("/json")
    )
    ledger = _rows(db, "SELECT status, attempts FROM pushes")
    assert len(ledger) == 2 * len(pushed) and set(ledger) == {("sent", 1)}


def test_backfill_dag_replays_past_days_point_in_time(after_pipeline: AirflowEnv) -> None:
    env = after_pipeline
    conf = {"start": "2024-03-31", "end": "2024-06-30", "frequency": "month_end"}
    run = env.dag_test("watchtower_backfill", logical_date=None, conf=conf)
    _assert_success(run)
    days = ["2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]
    mapped = sorted(t["rendered_map_index"] for t in run.report["tis"] if t["task_id"] == "replay")
    assert mapped == days

    db = env.db_url
    scored = {str(d): n for d, n in _rows(db, "SELECT as_of, count(*) FROM risk_scores GROUP BY 1")}
    assert sorted(scored) == days
    tiered = {str(d) for (d,) in _rows(db, "SELECT DISTINCT as_of FROM manager_tiers")}
    assert tiered == set(days)
    # Point in time: on 31 March only managers known by then could be scored.
    known_then = _rows(
        db,
        "SELECT count(DISTINCT register_no) FROM manager_snapshots WHERE known_from <= :d",
        d=dt.date(2024, 3, 31),
    )[0][0]
    assert 0 < scored["2024-03-31"] <= known_then


def _smtp_conn(port: int) -> dict[str, str]:
    """Airflow's SMTP connection and the data engineers' addresses, for a test SMTP sink."""
    conn = {
        "conn_type": "smtp",
        "host": "127.0.0.1",
        "port": port,
        "extra": {"disable_tls": True, "disable_ssl": True},
    }
    return {
        "AIRFLOW_CONN_SMTP_DEFAULT": json.dumps(conn),
        "AIRFLOW_VAR_WATCHTOWER_DATA_ENGINEERS": "de1@example.org, de2@example.org",
    }


def test_retrain_dag_trains_evaluates_decides_and_reports(after_pipeline: AirflowEnv) -> None:
    env = after_pipeline
    db = env.db_url
    with smtp_server() as (port, inbox):
        # First run: no champion yet, the challenger becomes it. The next run (a day later):
        # a new challenger is evaluated against it on the same past days.
        first, second = env.dag_tests(
            run_spec("watchtower_retrain", env=_smtp_conn(port)),
            run_spec(
                "watchtower_retrain", logical_date="2024-06-30T20:00:00+00:00", env=_smtp_conn(port)
            ),
        )
    for run in (first, second):
        _assert_success(run)
        assert run.states()["train"] == ["success"] and run.states()["report"] == ["success"]
    assert first.states()["promote"] == ["success"]  # no champion before: promoted
    models = _rows(db, "SELECT id, status FROM models ORDER BY created_at, id")
    assert len(models) == 2
    assert [s for _, s in models].count("champion") == 1
    events = _rows(db, "SELECT action, model_id FROM model_events ORDER BY id")
    decided = second.states()["promote"]
    if decided == ["success"]:  # better by the margin: the new one is champion
        assert dict(models)[events[-1][1]] == "champion"
    else:
        assert decided == ["skipped"]
        assert dict(models)[models[0][0]] == "champion"
    # Reported either way: one mail per run to the data engineers, with the decision.
    subjects = [str(m.message["Subject"]) for m in inbox.messages]
    assert len(subjects) == 2 and all("weekly retrain" in s for s in subjects)
    assert "challenger promoted" in subjects[0]
    body = inbox.messages[1].message.get_body(("html", "plain"))
    assert body is not None and "mean AUC" in body.get_content()


def test_a_failed_task_mails_the_data_engineers_with_task_and_error(
    airflow_env: AirflowEnv,
) -> None:
    with smtp_server() as (port, inbox):
        extra = _smtp_conn(port)
        conf = {"start": "2024-06-30", "end": "2024-01-01", "frequency": "daily"}
        run = airflow_env.dag_test("watchtower_backfill", logical_date=None, conf=conf, env=extra)
        assert run.state == "failed"
        assert run.states()["days"] == ["failed"]
        assert len(inbox.messages) == 1, run.output[-4000:]
        mail = inbox.messages[0]
        assert sorted(mail.rcpt_tos) == ["de1@example.org", "de2@example.org"]
        assert "watchtower_backfill.days" in str(mail.message["Subject"])
        body = mail.message.get_body(("html", "plain"))
        assert body is not None
        text = body.get_content()
        assert "ValueError" in text and "is before start" in text
