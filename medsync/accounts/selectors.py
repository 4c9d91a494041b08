"""Reads about a person's sign-in: their second factors, sessions and API tokens."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from medsync.accounts.mfa import Place, may_remember_device, mfa_required
from medsync.models import ApiToken, Membership, User, UserSession
from medsync.selectors import memberships_of_user


def places_of(memberships: list[Membership]) -> list[Place]:
    return [
        Place(
            role=m.role,
            technicians_need_mfa=m.organization.technicians_need_mfa,
            technicians_may_remember_device=m.organization.technicians_may_remember_device,
        )
        for m in memberships
    ]


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def mfa_needed(user: User, memberships: list[Membership] | None = None) -> bool:
    """Must this person pass a second factor now? Yes when the rules require one, and
    always once they have one (a technician who chose to add one uses it)."""
    if memberships is None:
        memberships = memberships_of_user(user)
    if mfa_required(is_staff=user.is_staff or user.is_superuser, places=places_of(memberships)):
        return True
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def mfa_must_enroll(user: User, memberships: list[Membership] | None = None) -> bool:
    if memberships is None:
        memberships = memberships_of_user(user)
    return mfa_required(is_staff=user.is_staff or user.is_superuser, places=places_of(memberships))


def device_may_be_remembered(user: User, memberships: list[Membership] | None = None) -> bool:
    if memberships is None:
        memberships = memberships_of_user(user)
    return may_remember_device(
        is_staff=user.is_staff or user.is_superuser, places=places_of(memberships)
    )


def recovery_codes_left(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def sessions_of_user(user: User) -> QuerySet[UserSession]:
    """The person's signed-in browser sessions that have not expired, newest first."""
    return UserSession.objects.filter(user=user, expire_date__gt=timezone.now()).order_by(
        "-last_seen_at"
    )


def tokens_of_user(user: User) -> QuerySet[ApiToken]:
    """The person's API tokens that still work, newest first."""
    return ApiToken.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at")
