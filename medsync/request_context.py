"""Per-request values that code far from the view needs (logs, audit entries)."""

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
