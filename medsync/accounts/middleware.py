"""Until a signed-in person has passed their second factor, they reach only the pages that
let them pass it (or set one up) and log out; session-authenticated API calls are refused."""

from __future__ import annotations

from urllib.parse import quote

from django.conf import settings
from django.http import HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect

from medsync.accounts.selectors import confirmed_totp_device, mfa_needed
from medsync.accounts.sessions import USER_AGENT_LENGTH
from medsync.api.errors import error_body

# Pages an unverified session may open: the two steps, logging out, password reset by email
# (it authenticates by its own emailed token), health checks and static files.
_OPEN_URL_NAMES = ("mfa-verify", "mfa-enroll", "logout", "api-token")
_OPEN_PREFIXES = ("/accounts/password_reset/", "/accounts/reset/", "/healthz")


class SessionDetailsMiddleware:
    """Hands the browser's User-Agent to the session store, which keeps it with the session
    so a person can recognise their sessions on the account page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None:
            session.user_agent = request.headers.get("User-Agent", "")[:USER_AGENT_LENGTH]
        return self.get_response(request)


class MfaRequiredMiddleware:
    """Goes after django_otp's OTPMiddleware and TenantMiddleware (it reuses the memberships
    the latter read)."""

    def __init__(self, get_response):
        self.get_response = get_response
        self._open_paths: frozenset[str] | None = None

    def _is_open(self, path: str) -> bool:
        if self._open_paths is None:
            self._open_paths = frozenset(reverse(name) for name in _OPEN_URL_NAMES)
        return (
            path in self._open_paths
            or path.startswith(_OPEN_PREFIXES)
            or path.startswith(settings.STATIC_URL)
        )

    def __call__(self, request):
        user = request.user
        if not user.is_authenticated or user.is_verified() or self._is_open(request.path):
            return self.get_response(request)
        is_api = request.path.startswith("/api/")
        if is_api and request.headers.get("Authorization"):
            return self.get_response(request)  # a token call: DRF authenticates it
        if not mfa_needed(user, getattr(request, "all_memberships", None)):
            return self.get_response(request)
        if is_api:
            return JsonResponse(
                error_body(
                    "mfa_required",
                    "Finish signing in with your second factor before using the API.",
                ),
                status=403,
            )
        step = "mfa-verify" if confirmed_totp_device(user) is not None else "mfa-enroll"
        target = reverse(step)
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        if request.method == "GET":
            target += "?next=" + quote(request.get_full_path())
        return HttpResponseRedirect(target)
