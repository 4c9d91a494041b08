"""Per-request values that code far from the view needs (logs, audit entries)."""

import ipaddress
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("medsync_request_id", default=None)


def current_request_id() -> str | None:
    return _request_id.get()


def set_request_id(value: str | None):
    return _request_id.set(value)


def reset_request_id(token) -> None:
    _request_id.reset(token)


_client_ip: ContextVar[str | None] = ContextVar("medsync_client_ip", default=None)


def current_client_ip() -> str | None:
    return _client_ip.get()


def set_client_ip(value: str | None):
    return _client_ip.set(value)


def reset_client_ip(token) -> None:
    _client_ip.reset(token)


def client_ip_from(remote_addr: str | None, forwarded_for: str | None, proxy_count: int) -> str:
    """The client's address, given how many trusted proxies stand in front of the app.

    Each proxy appends the address it received the request from to X-Forwarded-For, so
    behind N trusted proxies the client is the N-th address from the right; everything to
    its left was written by the client and may be forged. With no trusted proxy the peer
    (REMOTE_ADDR) is the client and X-Forwarded-For is ignored. A request that reached us
    through fewer proxies than configured carries fewer addresses: the left-most one is then
    still an address a trusted proxy wrote (the same rule as DRF's NUM_PROXIES).
    """
    peer = (remote_addr or "").strip()
    if proxy_count <= 0:
        return peer
    addresses = [a.strip() for a in (forwarded_for or "").split(",") if a.strip()]
    if not addresses:
        return peer
    chosen = addresses[-min(proxy_count, len(addresses))]
    try:
        return str(ipaddress.ip_address(chosen))
    except ValueError:
        return peer  # not an address (a proxy bypassed or misconfigured): keep the peer


def client_ip(request) -> str:
    """The client address of a Django request under settings.TRUSTED_PROXY_COUNT.

    The one rule for the audit log, django-axes (AXES_CLIENT_IP_CALLABLE) and the API
    throttles (REST_FRAMEWORK["NUM_PROXIES"] is the same count, DRF applies the same rule).
    """
    from django.conf import settings

    return client_ip_from(
        request.META.get("REMOTE_ADDR"),
        request.META.get("HTTP_X_FORWARDED_FOR"),
        settings.TRUSTED_PROXY_COUNT,
    )
