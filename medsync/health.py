"""GET /healthz: is the database and Redis reachable? No auth, no PHI."""

from __future__ import annotations

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def _database_ok() -> tuple[bool, str]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return True, "ok"
    except Exception as exc:
        return False, type(exc).__name__


def _redis_ok() -> tuple[bool, str]:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        client.ping()
        return True, "ok"
    except Exception as exc:
        return False, type(exc).__name__
    finally:
        client.close()


@never_cache
@require_GET
def healthz(request):
    checks = {"database": _database_ok(), "redis": _redis_ok()}
    down = sorted(name for name, (ok, _) in checks.items() if not ok)
    body = {
        "status": "ok" if not down else "down",
        "checks": {name: detail for name, (_, detail) in checks.items()},
        "down": down,
    }
    return JsonResponse(body, status=200 if not down else 503)
