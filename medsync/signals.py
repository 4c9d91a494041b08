"""Audit entries for sign-in events."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from medsync.accounts.services import MFA_FAILURE_SENDER
from medsync.services import audit_record


@receiver(user_logged_in)
def audit_login(sender, request, user, **kwargs):
    audit_record(action="medsync.user.logged_in", actor=user, organization=None, target=user)


@receiver(user_logged_out)
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit_record(action="medsync.user.logged_out", actor=user, organization=None, target=user)


@receiver(user_login_failed)
def audit_login_failed(sender, credentials, request=None, **kwargs):
    if sender == MFA_FAILURE_SENDER:
        return  # a wrong second-factor code: audited as medsync.mfa.failed
    # The attempted email is staff data, not PHI; kept for security review.
    attempted = str(credentials.get("username") or credentials.get("email") or "")[:254]
    audit_record(
        action="medsync.user.login_failed",
        organization=None,
        metadata={"attempted_email": attempted.lower()},
    )
