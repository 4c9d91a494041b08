"""Reading settings from the environment, failing loudly and by name.

django-environ parses the values; this module wraps each read so that a
malformed value stops start-up with a message naming the variable, instead of
a bare ValueError from deep inside a cast.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

import environ
from django.core.exceptions import ImproperlyConfigured

env = environ.Env()

_NOT_SET = object()


def read(name: str, cast: Callable[..., Any], default: Any = _NOT_SET) -> Any:
    """Read one variable through django-environ's cast, naming it on failure."""
    if default is _NOT_SET:
        if name not in env.ENVIRON:
            raise ImproperlyConfigured(f"Environment variable {name} is required but not set.")
        try:
            return cast(name)
        except Exception as exc:
            raise ImproperlyConfigured(
                f"Environment variable {name} has a malformed value: {exc}"
            ) from exc
    try:
        return cast(name, default=default)
    except Exception as exc:
        raise ImproperlyConfigured(
            f"Environment variable {name}={env.ENVIRON.get(name)!r} is malformed: {exc}"
        ) from exc


def read_bool(name: str, default: bool) -> bool:
    raw = env.ENVIRON.get(name)
    if raw is None:
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={raw!r} is malformed: use true or false."
    )


def read_positive_int(name: str, default: int) -> int:
    raw = env.ENVIRON.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is malformed: expected a whole number."
        ) from None
    if value <= 0:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is malformed: expected a number above 0."
        )
    return value


def read_whole_number(name: str, default: int) -> int:
    """A count that may be 0 (e.g. TRUSTED_PROXY_COUNT)."""
    raw = env.ENVIRON.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is malformed: expected 0 or a whole number."
        )
    return value


def read_url(name: str, default: str, schemes: tuple[str, ...]) -> str:
    raw = env.ENVIRON.get(name, default)
    parsed = urlparse(raw)
    if parsed.scheme not in schemes or not (parsed.hostname or parsed.path):
        raise ImproperlyConfigured(
            f"Environment variable {name}={_redact(raw)!r} is malformed: expected a URL "
            f"starting with {' or '.join(s + '://' for s in schemes)}."
        )
    return raw


def read_database(name: str, default: str) -> dict:
    raw = read_url(name, default, ("postgres", "postgresql", "pgsql"))
    try:
        config = env.db_url_config(raw)
    except Exception as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is malformed: {exc}") from exc
    if not config.get("NAME"):
        raise ImproperlyConfigured(
            f"Environment variable {name} is malformed: it names no database."
        )
    return config


def read_timezone(name: str, default: str) -> str:
    raw = env.ENVIRON.get(name, default)
    if raw not in zoneinfo.available_timezones():
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is malformed: not an IANA time zone."
        )
    return raw


def read_proxy_header(name: str) -> tuple[str, str] | None:
    """`HTTP_X_FORWARDED_PROTO,https` -> ("HTTP_X_FORWARDED_PROTO", "https")."""
    raw = env.ENVIRON.get(name, "").strip()
    if not raw:
        return None
    header, _, value = raw.partition(",")
    if not header.startswith("HTTP_") or not value:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is malformed: expected "
            "HEADER,value such as HTTP_X_FORWARDED_PROTO,https."
        )
    return header.strip(), value.strip()


def _redact(url: str) -> str:
    parsed = urlparse(url)
    if parsed.password:
        return url.replace(parsed.password, "***")
    return url
