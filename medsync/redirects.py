"""Where to send someone after a post: only a page of this site (no open redirect)."""

from __future__ import annotations

from django.utils.http import url_has_allowed_host_and_scheme


def safe_next(request, *candidates: str | None, fallback: str) -> str:
    """The first candidate that is a path on this host, else `fallback`.

    `//evil.example/x`, `https://evil.example/`, `/\\evil.example` and `javascript:` are
    refused by Django's url_has_allowed_host_and_scheme; absolute URLs are accepted only
    for this request's own host (and only https on a secure request).
    """
    for candidate in candidates:
        if candidate and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            return candidate
    return fallback
