"""Brute-force lockout (django-axes) by address and by account, separately.

Three counts over the failures of the last LOGIN_LOCKOUT_MINUTES, each with its own limit:

- this email from this address (LOGIN_FAILURE_LIMIT, 5): someone guessing one password;
- this address, any email (LOGIN_FAILURE_LIMIT_PER_IP, 30): one machine spraying passwords;
- this email, any address (LOGIN_FAILURE_LIMIT_PER_USER, 20): guessing from many machines.

A locked pair records no further failures (axes skips them), so one address adds at most
LOGIN_FAILURE_LIMIT failures to an email per lockout period: locking a pharmacist out of
their account takes failures from several addresses, never one shared proxy or one
attacker. The client address is `medsync.request_context.client_ip` (trusted proxies).
"""

from __future__ import annotations

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username
from axes.models import AccessAttempt
from django.conf import settings
from django.db.models import Q, Sum


def lockout_counts(*, username: str | None, ip_address: str | None, since) -> dict[str, int]:
    """Failures since `since` by this email + address, by the address, by the email."""
    recent = AccessAttempt.objects.filter(attempt_time__gte=since)
    none = Q(pk__in=[])
    by_user = Q(username=username) if username else none
    by_ip = Q(ip_address=ip_address) if ip_address else none
    totals = recent.aggregate(
        pair=Sum("failures_since_start", filter=by_user & by_ip),
        ip=Sum("failures_since_start", filter=by_ip),
        user=Sum("failures_since_start", filter=by_user),
    )
    return {key: value or 0 for key, value in totals.items()}


def lockout_reached(counts: dict[str, int]) -> bool:
    return (
        counts["pair"] >= settings.AXES_FAILURE_LIMIT
        or counts["ip"] >= settings.LOGIN_FAILURE_LIMIT_PER_IP
        or counts["user"] >= settings.LOGIN_FAILURE_LIMIT_PER_USER
    )


class LockoutHandler(AxesDatabaseHandler):
    """axes' database handler with the three limits above (axes has one limit for all)."""

    def get_failures(self, request, credentials=None) -> int:
        counts = lockout_counts(
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
            since=get_cool_off_threshold(request),
        )
        if lockout_reached(counts):
            return settings.AXES_FAILURE_LIMIT
        # Below every limit: report the pair's count, which stays under AXES_FAILURE_LIMIT.
        return min(counts["pair"], settings.AXES_FAILURE_LIMIT - 1)
