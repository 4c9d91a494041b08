"""Request id, client IP, upload limits, idle sessions and tenant scope for every request."""

from __future__ import annotations

import re
import time
import uuid
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django_htmx.http import HttpResponseClientRedirect

from medsync import request_context
from medsync.selectors import choose_membership, memberships_of_user
from medsync.services import ACTIVE_ORGANIZATION_SESSION_KEY
from medsync.tenancy import scopes_disabled, tenant_scope

_SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestIdMiddleware:
    """Gives each request an id (or keeps a proxy's X-Request-ID) for logs and audit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # The client behind TRUSTED_PROXY_COUNT proxies (see SECURITY.md "Deployment").
        id_token = request_context.set_request_id(request.request_id)
        ip_token = request_context.set_client_ip(request_context.client_ip(request) or None)
        try:
            response = self.get_response(request)
        finally:
            request_context.reset_request_id(id_token)
            request_context.reset_client_ip(ip_token)
        response["X-Request-ID"] = request.request_id
        return response


class TenantMiddleware:
    """Enters the tenant of the logged-in member for the whole request.

    API requests authenticated by token are scoped by the API view base
    instead (DRF authenticates after middleware runs). The admin is for
    platform staff and is the one page area that runs with scopes disabled.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = "/" + settings.ADMIN_URL_PATH.strip("/") + "/"

    def __call__(self, request):
        request.organization = None
        request.membership = None
        user = request.user
        if request.path.startswith(self.admin_prefix):
            if user.is_authenticated and user.is_staff:
                with scopes_disabled():
                    return self.get_response(request)
            return self.get_response(request)
        if user.is_authenticated:
            request.all_memberships = memberships_of_user(user)
            membership = choose_membership(
                request.all_memberships, request.session.get(ACTIVE_ORGANIZATION_SESSION_KEY)
            )
            if membership is not None:
                request.membership = membership
                request.organization = membership.organization
                with tenant_scope(membership.organization):
                    return self.get_response(request)
        return self.get_response(request)


def _refusal(request, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        from medsync.api.errors import error_body

        return JsonResponse(error_body(code, message), status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


class UploadLimitMiddleware:
    """Refuses an upload by its declared size before reading a byte of it (413), and one
    with more than UPLOAD_MAX_FILES files (400), with a message naming the limit.

    Django reads no more than Content-Length, so the declared size bounds what is read;
    DATA_UPLOAD_MAX_NUMBER_FILES (= UPLOAD_MAX_FILES) stops the parser at the limit.
    """

    # Multipart boundaries, headers and the CSRF field around the files.
    ENVELOPE_BYTES = 64 * 1024

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.method == "POST" and request.content_type == "multipart/form-data":
            refused = self._refuse(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _refuse(self, request) -> HttpResponse | None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        megabytes = settings.UPLOAD_MAX_BYTES // (1024 * 1024)
        if declared > settings.UPLOAD_MAX_BYTES + self.ENVELOPE_BYTES:
            return _refusal(
                request,
                413,
                "upload_too_large",
                f"An upload may hold at most {megabytes} MB in all; this one is "
                f"{declared / (1024 * 1024):.0f} MB. Nothing was saved.",
            )
        try:
            request.FILES  # noqa: B018 - parse now, so the file limit answers clearly
        except TooManyFilesSent:
            return _refusal(
                request,
                400,
                "too_many_files",
                f"An upload may hold at most {settings.UPLOAD_MAX_FILES} files. Nothing was saved.",
            )
        return None


POLL_PARAMETER = "poll"
LAST_ACTIVITY_SESSION_KEY = "medsync_last_activity"


def is_poll(request) -> bool:
    """A background refresh of a page (htmx `every Ns` with `?poll=1`), not a person acting.
    API calls are never polls here: a token call has no session to keep or end."""
    return (
        request.method in ("GET", "HEAD")
        and request.GET.get(POLL_PARAMETER) == "1"
        and not request.path.startswith("/api/")
    )


class SessionActivityMiddleware:
    """The idle timeout counts only what a person does.

    Every other request of a signed-in user records the time and saves the session (pushing
    its expiry SESSION_COOKIE_AGE on); a poll touches neither, so a screen left polling
    still signs out after SESSION_IDLE_MINUTES. A poll whose session has ended is told to
    load the login page (htmx `HX-Redirect`) rather than having it swapped into a panel.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.is_poll = is_poll(request)
        if request.is_poll:
            last = request.session.get(LAST_ACTIVITY_SESSION_KEY)
            if (
                request.user.is_authenticated
                and last is not None
                and time.time() - last > settings.SESSION_COOKIE_AGE
            ):
                logout(request)
            if not request.user.is_authenticated:
                return self._to_login(request)
        response = self.get_response(request)
        # Only a signed-in browser session (not a token call, which has none to renew).
        if not request.is_poll and request.session.get(SESSION_KEY) is not None:
            request.session[LAST_ACTIVITY_SESSION_KEY] = int(time.time())
        return response

    @staticmethod
    def _to_login(request) -> HttpResponse:
        page = urlsplit(request.headers.get("HX-Current-URL", ""))
        back_to = page.path + (f"?{page.query}" if page.query else "") if page.path else ""
        login = redirect_to_login(back_to or request.path)
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(login["Location"])
        return login
