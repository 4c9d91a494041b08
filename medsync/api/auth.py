from drf_spectacular.authentication import SessionScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from medsync.accounts.selectors import mfa_needed
from medsync.services import api_token_find_usable


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer msy_...` with a revocable, expiring, hashed token."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, raw = header.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return None
        raw = raw.strip()
        if not raw:
            raise exceptions.AuthenticationFailed("The Authorization header has no token.")
        token = api_token_find_usable(raw)
        if token is None:
            raise exceptions.AuthenticationFailed("This token is invalid, expired or revoked.")
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """Django session auth (with its CSRF check), for sessions that have passed their
    second factor when they need one. An unverified session is anonymous to the API."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        is_verified = getattr(user, "is_verified", None)
        if is_verified is not None and is_verified():
            return result
        if mfa_needed(user):
            raise exceptions.AuthenticationFailed(
                "Finish signing in with your second factor before using the API."
            )
        return result


class VerifiedSessionScheme(SessionScheme):
    target_class = "medsync.api.auth.VerifiedSessionAuthentication"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "medsync.api.auth.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
