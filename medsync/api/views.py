from django.contrib.auth import authenticate
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, permissions, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle

from medsync.accounts.selectors import confirmed_totp_device, mfa_needed
from medsync.accounts.services import mfa_failure_record, mfa_verify
from medsync.api.base import TenantAPIView, TenantReadOnlyViewSet
from medsync.api.errors import error_body
from medsync.api.serializers import (
    MeSerializer,
    PharmacySerializer,
    PharmacySettingsSerializer,
    TokenRequestSerializer,
    TokenResponseSerializer,
)
from medsync.models import ApiToken, Pharmacy
from medsync.roles import ROLE_PERMISSIONS, Perm, Role
from medsync.selectors import memberships_of_user, pharmacies_visible_to
from medsync.services import api_token_issue, api_token_revoke, pharmacy_update

GENERIC_LOGIN_FAILURE = "Unable to sign in with that email and password."


def _locked_out() -> Response:
    return Response(
        error_body(
            "locked_out", "Too many failed attempts. Try again later or reset your password."
        ),
        status=status.HTTP_429_TOO_MANY_REQUESTS,
    )


class TokenView(TenantAPIView):
    """Exchange an email and password for an API token; DELETE revokes the token in use."""

    throttle_scope = "token"

    def get_permissions(self):
        if self.request.method == "POST":
            return [permissions.AllowAny()]
        return [permissions.IsAuthenticated()]

    def get_throttles(self):
        return [ScopedRateThrottle()] if self.request.method == "POST" else []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenResponseSerializer,
            400: OpenApiResponse(
                description="`invalid_credentials` (email or password wrong), `otp_required` "
                "(send the current code as `otp`), `invalid_otp` (wrong or reused code; counts "
                "toward the lockout) or `mfa_not_set_up` (sign in on the web first)."
            ),
            429: OpenApiResponse(description="`locked_out` or rate limited."),
        },
        description="Exchange an email, password and (for anyone who signs in with a second "
        "factor) the current authenticator code `otp` for an API token.",
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        django_request = request._request
        user = authenticate(django_request, username=data["email"], password=data["password"])
        if getattr(django_request, "axes_locked_out", False):
            return _locked_out()
        if user is None:
            return Response(
                error_body("invalid_credentials", GENERIC_LOGIN_FAILURE),
                status=status.HTTP_400_BAD_REQUEST,
            )
        refused = self._second_factor_refusal(django_request, user, data.get("otp", ""))
        if refused is not None:
            return refused
        token, raw = api_token_issue(user=user, name=data.get("name", ""))
        return Response(
            TokenResponseSerializer({"token": raw, "expires_at": token.expires_at}).data,
            status=status.HTTP_201_CREATED,
        )

    @staticmethod
    def _second_factor_refusal(django_request, user, otp: str) -> Response | None:
        """None when `user` may have a token; else the 400 (or 429) naming `otp`."""
        if not mfa_needed(user):
            return None
        if confirmed_totp_device(user) is None:
            message = "Set up two-factor sign-in in the web app first, then ask for a token."
            return Response(
                error_body("mfa_not_set_up", message, {"otp": [message]}),
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not otp.strip():
            message = "Send the current code from your authenticator app as otp."
            return Response(
                error_body("otp_required", message, {"otp": [message]}),
                status=status.HTTP_400_BAD_REQUEST,
            )
        if mfa_verify(user=user, code=otp, allow_recovery_code=False) is not None:
            return None
        if mfa_failure_record(request=django_request, user=user, stage="api_token"):
            return _locked_out()
        message = "That code did not work (each code works once). Send the current one."
        return Response(
            error_body("invalid_otp", message, {"otp": [message]}),
            status=status.HTTP_400_BAD_REQUEST,
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


class PharmacyViewSet(mixins.UpdateModelMixin, TenantReadOnlyViewSet):
    """The pharmacies (locations) of your organization that you may see; owners change them."""

    serializer_class = PharmacySerializer
    http_method_names = ["get", "patch", "head", "options"]
    required_permission = {
        "list": Perm.VIEW_PHARMACIES,
        "retrieve": Perm.VIEW_PHARMACIES,
        "partial_update": Perm.MANAGE_PHARMACIES,
        "update": Perm.MANAGE_PHARMACIES,  # PUT: a 405 (PATCH only) once allowed through
    }

    @extend_schema(request=PharmacySettingsSerializer, responses=PharmacySerializer)
    def partial_update(self, request, *args, **kwargs):
        pharmacy = self.get_object()
        serializer = PharmacySettingsSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        pharmacy_update(pharmacy=pharmacy, actor=request.user, changes=serializer.validated_data)
        return Response(PharmacySerializer(pharmacy).data)

    queryset = Pharmacy.objects.none()  # the model, for the schema; rows come from below

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return self.queryset
        return pharmacies_visible_to(self.request.membership)
