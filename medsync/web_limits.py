"""Limits that hold for the web processes only (gunicorn, runserver: whatever loads
medsync/wsgi.py). Celery workers and management commands never load it: a job keeps the
server's default and may set its own limit."""

from __future__ import annotations

from django.conf import settings
from django.db.backends.signals import connection_created

_UID = "medsync.web_statement_timeout"


def set_statement_timeout(sender, connection, **kwargs) -> None:
    """Each new database connection of a web process cancels any statement that runs longer
    than WEB_STATEMENT_TIMEOUT_SECONDS (a pathological search or a missing index then costs
    one request, not a worker and a connection). Set once per connection, at connect."""
    seconds = settings.WEB_STATEMENT_TIMEOUT_SECONDS
    if seconds and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET statement_timeout = %s", [seconds * 1000])


def install_web_limits() -> None:
    connection_created.connect(set_statement_timeout, dispatch_uid=_UID, weak=False)


def uninstall_web_limits() -> None:
    connection_created.disconnect(dispatch_uid=_UID)
