"""docker-compose.yml, Dockerfile and .env.example: structure checks (no Docker engine here).

The compose file follows Airflow's reference file for the CeleryExecutor; these tests pin what
the deployment relies on: every service, its dependencies and healthchecks, the mounts of
dags/, features/, models/, expectations/ and the landing folder, secrets only from .env, and
the same executor settings the Celery test (test_celery.py) runs for real.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-worker",
}
SERVICES = AIRFLOW_SERVICES | {"postgres", "redis", "mailpit"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    return {str(k): str(v) for k, v in env.items()}


def _mount(volume: str) -> tuple[str, str]:
    """ "SRC:TARGET[:MODE]" -> (TARGET, SRC); SRC may be "${VAR:-default}"."""
    spec = re.sub(r":(ro|rw)$", "", volume)
    source, target = spec.rsplit(":", 1)
    return target, source


def test_every_service_of_the_distributed_deployment_is_there(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) >= SERVICES
    for name in SERVICES - {"airflow-init"}:
        assert "healthcheck" in compose["services"][name], name
        assert compose["services"][name].get("restart") == "always", name


def test_airflow_services_share_one_image_built_from_the_dockerfile(
    compose: dict[str, Any],
) -> None:
    commands = {}
    for name in AIRFLOW_SERVICES:
        svc = compose["services"][name]
        assert svc["build"] == "." and "watchtower-airflow" in svc["image"], name
        commands[name] = svc["command"]
    assert commands["airflow-apiserver"] == "api-server"
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert commands["airflow-triggerer"] == "triggerer"
    assert commands["airflow-worker"] == "celery worker"
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\}", dockerfile, re.M)
    assert re.search(r"pip install .*\"\.\[airflow\]\"", dockerfile)


def test_dependencies_wait_for_healthy_infrastructure_and_a_finished_init(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    for name in AIRFLOW_SERVICES:
        deps = services[name]["depends_on"]
        assert deps["postgres"]["condition"] == "service_healthy", name
        assert deps["redis"]["condition"] == "service_healthy", name
        if name != "airflow-init":
            assert deps["airflow-init"]["condition"] == "service_completed_successfully", name
    # Workers need the execution API up before they take tasks.
    assert services["airflow-worker"]["depends_on"]["airflow-apiserver"]["condition"] == (
        "service_healthy"
    )


def test_celery_executor_settings_match_the_tested_setup(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        env = _env(compose["services"][name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
        assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
        assert "@redis:6379" in env["AIRFLOW__CELERY__BROKER_URL"]
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql+psycopg://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg://")
        assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
        assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        )
        assert env["WATCHTOWER_DB_URL"].endswith("@postgres:5432/watchtower")
        assert env["WATCHTOWER_SMTP_HOST"] == "mailpit" and env["WATCHTOWER_SMTP_PORT"] == "1025"
        assert '"host": "mailpit"' in env["AIRFLOW_CONN_SMTP_DEFAULT"]
    init_sql = compose["configs"]["postgres-init"]["content"]
    assert "CREATE DATABASE watchtower" in init_sql
    assert compose["services"]["postgres"]["environment"]["POSTGRES_DB"] == "airflow"


def test_workers_scale_with_docker_compose_scale(compose: dict[str, Any]) -> None:
    worker = compose["services"]["airflow-worker"]
    assert "container_name" not in worker
    assert "ports" not in worker  # a fixed host port would collide between replicas


def test_code_config_and_landing_folders_are_mounted(compose: dict[str, Any]) -> None:
    for name in AIRFLOW_SERVICES:
        svc = compose["services"][name]
        mounts = dict(_mount(v) for v in svc["volumes"])
        assert mounts["/opt/airflow/dags"] == "./dags"
        assert mounts["/opt/watchtower/features"] == "./features"
        assert mounts["/opt/watchtower/models"] == "./models"
        assert mounts["/opt/watchtower/expectations"] == "./expectations"
        assert "/opt/watchtower/landing" in mounts
        env = _env(svc)
        assert env["WATCHTOWER_CONFIG_DIR"] == "/opt/watchtower"
        assert env["WATCHTOWER_LANDING_DIR"] == "/opt/watchtower/landing"
        for host in ("./dags", "./features", "./models", "./expectations"):
            assert (REPO / host).is_dir(), host


def test_ui_ports_are_published(compose: dict[str, Any]) -> None:
    assert any(p.endswith(":8080") for p in compose["services"]["airflow-apiserver"]["ports"])
    assert any(p.endswith(":8025") for p in compose["services"]["mailpit"]["ports"])
    assert 1025 in compose["services"]["mailpit"]["expose"]


def test_the_console_runs_on_the_same_image_store_and_settings(compose: dict[str, Any]) -> None:
    console = compose["services"]["console"]
    worker = compose["services"]["airflow-worker"]
    assert console["build"] == "." and console["image"] == worker["image"]
    assert console["command"] == "watchtower serve --host 0.0.0.0"
    # not through the image's entrypoint, which would run `airflow watchtower serve`
    assert console["entrypoint"] == ["/usr/bin/dumb-init", "--"]
    assert any(p.endswith(":8000") for p in console["ports"])
    env = _env(console)
    for key, value in _env(worker).items():
        if key.startswith("WATCHTOWER_"):
            assert env[key] == value, key  # the same store, config and routing as the DAGs
    assert env["WATCHTOWER_CONSOLE_SECRET"].startswith("${WATCHTOWER_CONSOLE_SECRET:?")
    assert "8000/login" in " ".join(console["healthcheck"]["test"])
    assert console["restart"] == "always"
    assert console["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert console["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    mounts = dict(_mount(v) for v in console["volumes"])
    assert mounts["/opt/watchtower/models"] == "./models"


def test_secrets_come_from_a_git_ignored_env_file(compose: dict[str, Any]) -> None:
    text = (REPO / "docker-compose.yml").read_text(encoding="utf-8")
    example = (REPO / ".env.example").read_text(encoding="utf-8")
    needed = set(re.findall(r"(?<!\$)\$\{([A-Z_]+)(?::?[-?][^}]*)?\}", text))
    declared = set(re.findall(r"^([A-Z_]+)=", example, re.M))
    missing = {v for v in needed if v not in declared and v != "WATCHTOWER_IMAGE"}
    assert not missing, f"variables used by docker-compose.yml but not in .env.example: {missing}"
    for secret in (
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "AIRFLOW_JWT_SECRET",
        "WATCHTOWER_MODEL_KEY",  # every worker must trust what another trained
        "WATCHTOWER_DIGEST_CATCH_ALL",  # unrouted alerts must reach somebody
        "WATCHTOWER_CONSOLE_SECRET",  # the console's cookies are signed with it
    ):
        assert re.search(r"\$\{" + secret + r":\?", text), f"{secret} must be required"
    # No literal password in the compose file.
    assert not re.search(r"(?i)password\s*:\s*['\"]?(?!\$)[A-Za-z0-9]", text)
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".env"], cwd=REPO, check=False
    ).returncode
    assert ignored == 0, ".env must be git-ignored"
    assert (
        subprocess.run(
            ["git", "check-ignore", "-q", ".env.example"], cwd=REPO, check=False
        ).returncode
        != 0
    )
