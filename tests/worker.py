"""A real Celery worker process on the real Redis broker, pointed at the test database.

Tests that use it must commit their data (`@pytest.mark.django_db(transaction=True)`):
the worker reads through its own connection.
"""

from __future__ import annotations

import time

import pytest


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

    from medsync.celery import app
    from medsync.worker_process import start_worker

    test_queue = settings.CELERY_TASK_DEFAULT_QUEUE  # pytest-env: medsync-test by default
    assert test_queue != "celery", "tests must not share the development queue"
    app.control.purge()  # leftovers of an earlier, interrupted run
    worker = start_worker(
        test_queue,
        env={"MEDSYNC_TESTING": "1"},
        include=("tests.worker_tasks",),
        log_name=f"celery-worker-{test_queue}",
    )
    try:
        yield worker.process, worker.hostname, test_queue
    finally:
        worker.stop()


def wait_until(predicate, timeout: float = 20.0, interval: float = 0.1):
    """Poll the database until `predicate()` is truthy (a bounded wait, not a timed test)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")
