"""Every write about signing in: second factors, recovery codes, sessions, tokens, passwords.

Each is audited (`medsync.mfa.*`, `medsync.session.*`, `medsync.password.*`) without an
organization, like sign-ins: they belong to the person, not to one tenant.
"""

from __future__ import annotations

from django.contrib.auth.signals import user_login_failed
from django.db import transaction
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from medsync.accounts.mfa import RECOVERY_CODE_COUNT, normalize_code
from medsync.accounts.sessions import hash_session_key
from medsync.models import ApiToken, Organization, User, UserSession
from medsync.services import audit_record

MFA_FAILURE_SENDER = "medsync.mfa"  # user_login_failed from a wrong code, not a wrong password
TOTP_DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"


def _audit(action: str, user: User, actor: User | None = None, **metadata) -> None:
    audit_record(
        action=action,
        actor=actor or user,
        organization=None,
        target=user,
        metadata=metadata or None,
    )


@transaction.atomic
def totp_device_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator the person is setting up (a new secret if none)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def mfa_failure_record(*, request, user: User, stage: str) -> bool:
    """Audit a wrong code and count it toward the sign-in lockout (django-axes), exactly
    like a wrong password. Returns True when this failure locked the account."""
    _audit("medsync.mfa.failed", user, stage=stage)
    user_login_failed.send(
        sender=MFA_FAILURE_SENDER,
        credentials={"username": user.email},
        request=request,
    )
    return bool(getattr(request, "axes_locked_out", False))


@transaction.atomic
def mfa_enroll_confirm(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Confirm `device` with a code from the app. On success the person's other
    authenticators are removed and 10 new recovery codes are returned (shown once)."""
    if device.user_id != user.pk or device.confirmed:
        return None
    if not device.verify_token(normalize_code(code)):
        return None
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    codes = _recovery_codes_replace(user)
    _audit("medsync.mfa.enrolled", user, device="totp")
    return codes


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = []
    while len(codes) < RECOVERY_CODE_COUNT:
        code = StaticToken.random_token()
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=c) for c in codes])
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    codes = _recovery_codes_replace(user)
    _audit("medsync.mfa.recovery_codes_regenerated", user)
    return codes


def mfa_verify(*, user: User, code: str, allow_recovery_code: bool = True) -> Device | None:
    """The device that accepts `code` (a current authenticator code, or one unused recovery
    code, which is then spent), audited; None when none does (the caller records the
    failure, so it can count toward the lockout)."""
    code = normalize_code(code)
    if not code:
        return None
    if code.isdigit():
        for device in TOTPDevice.objects.filter(user=user, confirmed=True):
            if device.verify_token(code):
                _audit("medsync.mfa.verified", user, device="totp")
                return device
        return None
    if not allow_recovery_code:
        return None
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code):  # deletes the code it matched: single use
            left = StaticToken.objects.filter(device=device).count()
            _audit("medsync.mfa.recovery_code_used", user, codes_left=left)
            return device
    return None


@transaction.atomic
def mfa_reset(*, user: User, actor: User, keep_session_key: str | None = None) -> None:
    """Remove every second factor of `user`; revoke their API tokens and end their sessions
    (all but `keep_session_key`, the actor's own when they reset themselves). Someone who
    must have a second factor sets up a new one at their next page."""
    removed = sum(cls.objects.filter(user=user).delete()[0] for cls in (TOTPDevice, StaticDevice))
    tokens = _api_tokens_revoke_all(user)
    sessions = _sessions_end(user, keep_session_key=keep_session_key)
    _audit(
        "medsync.mfa.reset",
        user,
        actor=actor,
        removed=removed,
        tokens_revoked=tokens,
        sessions_ended=sessions,
    )


@transaction.atomic
def password_changed(*, user: User, actor: User | None, keep_session_key: str | None) -> None:
    """After a password change or reset: revoke every API token of `user` and end every
    session but the one that made the change (if any)."""
    tokens = _api_tokens_revoke_all(user)
    sessions = _sessions_end(user, keep_session_key=keep_session_key)
    _audit(
        "medsync.password.changed",
        user,
        actor=actor,
        tokens_revoked=tokens,
        sessions_ended=sessions,
    )


def _api_tokens_revoke_all(user: User) -> int:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )


def _sessions_end(user: User, *, keep_session_key: str | None) -> int:
    sessions = UserSession.objects.filter(user=user)
    if keep_session_key:
        sessions = sessions.exclude(session_key=hash_session_key(keep_session_key))
    return sessions.delete()[0]


@transaction.atomic
def user_session_end(*, user: User, session: UserSession) -> None:
    """End one of the person's own sessions (it is signed out at its next request)."""
    if session.user_id != user.pk:
        raise PermissionError("Not this person's session.")
    UserSession.objects.filter(pk=session.pk).delete()
    _audit("medsync.session.ended", user, started=session.created_at.isoformat())


@transaction.atomic
def user_sessions_end_others(*, user: User, keep_session_key: str) -> int:
    """Sign out everywhere else."""
    ended = _sessions_end(user, keep_session_key=keep_session_key)
    _audit("medsync.session.ended_others", user, sessions_ended=ended)
    return ended


@transaction.atomic
def organization_security_update(
    *,
    organization: Organization,
    technicians_need_mfa: bool,
    technicians_may_remember_device: bool,
    actor: User,
) -> Organization:
    before = {
        "technicians_need_mfa": organization.technicians_need_mfa,
        "technicians_may_remember_device": organization.technicians_may_remember_device,
    }
    organization.technicians_need_mfa = technicians_need_mfa
    organization.technicians_may_remember_device = technicians_may_remember_device
    organization.save(update_fields=list(before))
    audit_record(
        action="medsync.organization.security_changed",
        actor=actor,
        organization=organization,
        target=organization,
        metadata={
            "before": before,
            "after": {
                "technicians_need_mfa": technicians_need_mfa,
                "technicians_may_remember_device": technicians_may_remember_device,
            },
        },
    )
    return organization
