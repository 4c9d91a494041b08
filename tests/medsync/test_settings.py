"""Settings come from the environment; bad values stop start-up by name."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION = {
    "DEBUG": "false",
    "MEDSYNC_TESTING": "0",
    "SECRET_KEY": "k8#Vq2!pZr7@Lm4$Xw9^Tb1&Hs6*Nd3(Gf5)Jc0-Ye8+Ua2=Qo7~Ei4%Rk9",
    "ALLOWED_HOSTS": "medsync.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://medsync.example.com",
    "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https",
    "DATABASE_URL": "postgres://medsync@127.0.0.1:5432/medsync",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp+tls://mailer:secret@smtp.example.com:587",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    leave_out = {*PRODUCTION, "PYTEST_VERSION", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in leave_out}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_passes_with_production_values():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SESSION_IDLE_MINUTES", "fifteen"),
        ("SESSION_IDLE_MINUTES", "0"),
        ("DEBUG", "maybe"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DATABASE_URL", "not a url"),
        ("REDIS_URL", "http://127.0.0.1:6379"),
        ("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto"),
        ("API_TOKEN_TTL_DAYS", "-3"),
    ],
)
def test_a_malformed_value_stops_start_up_naming_the_variable(variable, value):
    result = manage("check", **{**PRODUCTION, variable: value})
    assert result.returncode != 0
    assert variable in result.stderr
    assert "ImproperlyConfigured" in result.stderr


def test_production_without_a_secret_key_refuses_to_start():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", **env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_a_database_password_is_not_echoed_in_the_error():
    result = manage("check", **{**PRODUCTION, "DATABASE_URL": "mysql://u:hunter2-secret@h/db"})
    assert result.returncode != 0
    assert "hunter2-secret" not in result.stderr


def test_the_openapi_schema_generates_without_warnings():
    result = manage("spectacular", "--validate", "--fail-on-warn", DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "openapi: 3" in result.stdout
