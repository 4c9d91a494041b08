"""A real Celery worker process on the real Redis broker, pointed at the test database.

Tests that use it must commit their data (`@pytest.mark.django_db(transaction=True)`):
the worker reads through its own connection.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _wait_for_worker(app, hostname: str, deadline_seconds: float = 60) -> None:
    deadline = time.monotonic() + deadline_seconds
    while time.monotonic() < deadline:
        replies = app.control.ping(destination=[hostname], timeout=1.0)
        if replies:
            return
    raise RuntimeError("The Celery worker did not answer a ping within 60 s.")


@pytest.fixture
def celery_worker_process(_celery_worker_session):
    """The session's worker; after each test, wait until it has nothing left to do.

    Otherwise a task still running when the test ends holds row locks while the test
    database is flushed (TRUNCATE), and the two wait on each other.
    """
    process, hostname, queue = _celery_worker_session
    yield process
    _wait_until_idle(hostname, queue)


def _wait_until_idle(hostname: str, queue: str, timeout: float = 60) -> None:
    import redis
    from django.conf import settings

    from medsync.celery import app

    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    inspector = app.control.inspect(destination=[hostname], timeout=1.0)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            queued = broker.llen(queue)
            active = (inspector.active() or {}).get(hostname, [])
            reserved = (inspector.reserved() or {}).get(hostname, [])
            if not queued and not active and not reserved:
                return
            time.sleep(0.2)
    finally:
        broker.close()
    raise RuntimeError(f"The Celery worker was still busy {timeout} s after the test.")


@pytest.fixture(scope="session")
def _celery_worker_session(django_db_setup, django_db_blocker):
    """Start `celery worker` once per session; stop it before the test database is dropped."""
    from django.conf import settings
    from django.db import connection

    from medsync.celery import app

    db = connection.settings_dict
    database_url = (
        f"postgres://{db['USER'] or 'postgres'}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}"
    )
    test_queue = settings.CELERY_TASK_DEFAULT_QUEUE  # pytest-env: medsync-test by default
    assert test_queue != "celery", "tests must not share the development queue"
    app.control.purge()  # leftovers of an earlier, interrupted run

    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": settings.REDIS_URL,
        "MEDSYNC_TESTING": "1",
        "DEBUG": "false",
        "CELERY_TASK_DEFAULT_QUEUE": test_queue,
    }
    hostname = f"{test_queue}-{os.getpid()}@localhost"
    log_path = ROOT / "test-artifacts" / f"celery-worker-{test_queue}.log"
    log_path.parent.mkdir(exist_ok=True)
    log = open(log_path, "w")  # noqa: SIM115 - closed in teardown
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "medsync",
            "worker",
            "--loglevel=INFO",
            "--concurrency=1",
            "--pool=prefork",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-Q",
            test_queue,
            "--include=tests.worker_tasks",
            "--hostname",
            hostname,
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_for_worker(app, hostname)
        yield process, hostname, test_queue
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll the database until `predicate()` is truthy (a bounded wait, not a timed test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
