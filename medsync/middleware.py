"""Request id, client IP and tenant scope for every request."""

from __future__ import annotations

import re
import uuid

from django.conf import settings

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
        # REMOTE_ADDR is the client when gunicorn runs with --forwarded-allow-ips
        # set to the proxy (see README "Production deployment").
        id_token = request_context.set_request_id(request.request_id)
        ip_token = request_context.set_client_ip(request.META.get("REMOTE_ADDR"))
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
