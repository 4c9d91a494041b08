"""Base for every API view: enters the tenant of the authenticated member."""

from __future__ import annotations

from contextlib import ExitStack

from rest_framework import exceptions, viewsets
from rest_framework.views import APIView

from medsync.selectors import choose_membership, memberships_of_user
from medsync.services import ACTIVE_ORGANIZATION_SESSION_KEY
from medsync.tenancy import tenant_scope

ORGANIZATION_HEADER = "X-Organization"


class TenantAPIMixin:
    """Resolves the member's organization right after authentication.

    Session requests arrive already scoped by TenantMiddleware. Token requests
    pick their organization with the X-Organization header (a public id),
    else the user's first membership. The scope is left in finalize_response,
    which DRF calls on every path, errors included.
    """

    def initial(self, request, *args, **kwargs):
        self._tenant_stack = ExitStack()
        super().initial(request, *args, **kwargs)

    def perform_authentication(self, request):
        user = request.user  # authenticates
        django_request = request._request
        membership = getattr(django_request, "membership", None)
        asked_for = request.headers.get(ORGANIZATION_HEADER)
        if user.is_authenticated and (
            membership is None
            or membership.user_id != user.pk
            or (asked_for and str(membership.organization.public_id) != asked_for)
        ):
            wanted = asked_for or request.session.get(ACTIVE_ORGANIZATION_SESSION_KEY)
            membership = choose_membership(memberships_of_user(user), wanted)
            if asked_for and (
                membership is None or str(membership.organization.public_id) != asked_for
            ):
                # Someone else's organization is a 404, never a silent fallback.
                raise exceptions.NotFound()
            if membership is not None:
                self._tenant_stack.enter_context(tenant_scope(membership.organization))
        request.membership = membership if user.is_authenticated else None
        request.organization = membership.organization if request.membership else None

    def finalize_response(self, request, response, *args, **kwargs):
        try:
            return super().finalize_response(request, response, *args, **kwargs)
        finally:
            stack = getattr(self, "_tenant_stack", None)
            if stack is not None:
                stack.close()


class TenantAPIView(TenantAPIMixin, APIView):
    pass


class TenantReadOnlyViewSet(TenantAPIMixin, viewsets.ReadOnlyModelViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"


class TenantModelViewSet(TenantAPIMixin, viewsets.ModelViewSet):
    lookup_field = "public_id"
    lookup_url_kwarg = "id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
