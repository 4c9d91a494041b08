from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from medsync.api.base import TenantAPIView, TenantReadOnlyViewSet
from medsync.api.errors import error_body
from medsync.api.serializers import (
    MeSerializer,
    PharmacySerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from medsync.models import ApiToken, Pharmacy
from medsync.roles import ROLE_PERMISSIONS, Perm, Role
from medsync.selectors import memberships_of_user, pharmacies_visible_to
from medsync.services import api_token_issue, api_token_revoke

GENERIC_LOGIN_FAILURE = "Unable to sign in with that email and password."


class TokenView(TenantAPIView):
    """Exchange an email and password for an API token; DELETE revokes the token in use."""

    throttle_scope = "token"

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(request=TokenRequestSerializer, responses={201: TokenResponseSerializer})
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(
            request._request,
            username=serializer.validated_data["email"],
            password=serializer.validated_data["password"],
        )
        if getattr(request._request, "axes_locked_out", False):
            return Response(
                error_body(
                    "locked_out",
                    "Too many failed attempts. Try again later or reset your password.",
                ),
                status=status.HTTP_429_TOO_MANY_REQUESTS,
            )
        if user is None:
            return Response(
                error_body("invalid_credentials", GENERIC_LOGIN_FAILURE),
                status=status.HTTP_400_BAD_REQUEST,
            )
        token, raw = api_token_issue(user=user)
        return Response(
            TokenResponseSerializer({"token": raw, "expires_at": token.expires_at}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(request=None, responses={204: None})
    def delete(self, request):
        if not isinstance(request.auth, ApiToken):
            return Response(
                error_body("not_token_auth", "Revoke a token by calling this with that token."),
                status=status.HTTP_400_BAD_REQUEST,
            )
        api_token_revoke(token=request.auth, actor=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(TenantAPIView):
    """Who you are, where you act, and what your role allows."""

    required_permission = None

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        membership = request.membership
        data = {
            "user": request.user,
            "organization": membership.organization,
            "role": membership.role,
            "permissions": sorted(p.value for p in ROLE_PERMISSIONS[Role(membership.role)]),
            "pharmacies": list(pharmacies_visible_to(membership)),
            "organizations": [m.organization for m in memberships_of_user(request.user)],
        }
        return Response(MeSerializer(data).data)


class PharmacyViewSet(TenantReadOnlyViewSet):
    """The pharmacies (locations) of your organization that you may see."""

    serializer_class = PharmacySerializer
    required_permission = Perm.VIEW_PHARMACIES

    queryset = Pharmacy.objects.none()  # the model, for the schema; rows come from below

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return pharmacies_visible_to(self.request.membership)
