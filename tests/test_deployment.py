"""Docker cannot run on the CI machine: prove the compose file's shape by parsing it."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_every_service_with_a_health_check():
    services = compose()["services"]
    assert {"db", "redis", "web", "worker", "beat"} <= set(services)
    for name in ["db", "redis", "web", "worker", "beat"]:
        assert "healthcheck" in services[name], name


def test_compose_pins_postgres_15_or_newer_and_redis_7_without_eviction():
    services = compose()["services"]
    major = int(re.match(r"postgres:(\d+)", services["db"]["image"]).group(1))
    assert major >= 15
    assert services["redis"]["image"].startswith("redis:7")
    command = services["redis"]["command"]
    assert command[command.index("--maxmemory-policy") + 1] == "noeviction"


def test_compose_runs_gunicorn_a_worker_and_one_beat():
    services = compose()["services"]
    assert services["web"]["command"][0] == "gunicorn"
    assert "medsync.wsgi:application" in services["web"]["command"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "medsync", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "medsync", "beat"]
    for name in ["web", "worker", "beat"]:
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://") and "@db:" in env["DATABASE_URL"]
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert env["DEBUG"] == "false"
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_compose_demands_a_secret_key_rather_than_shipping_one():
    assert "${SECRET_KEY:?" in (ROOT / "docker-compose.yml").read_text()


def test_dockerfile_installs_from_the_lock_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "pip install --no-cache-dir -r requirements.lock" in dockerfile
    assert "npm ci" in dockerfile
    assert "\nUSER medsync\n" in dockerfile
    assert "FROM python:3.11" in dockerfile


def test_beat_schedule_names_only_registered_tasks_in_utc():
    from medsync.celery import app

    app.loader.import_default_modules()
    assert app.conf.timezone == "UTC" and app.conf.enable_utc
    for entry in app.conf.beat_schedule.values():
        assert entry["task"] in app.tasks, entry["task"]


def test_celery_is_configured_for_late_acks_and_bounded_work():
    from medsync.celery import app
    from medsync.jobs import TenantTask

    assert app.conf.task_acks_late and app.conf.task_reject_on_worker_lost
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options["visibility_timeout"] >= 3600
    assert TenantTask.max_retries == 5 and TenantTask.retry_backoff
