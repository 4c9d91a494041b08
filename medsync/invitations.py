"""Team invitations: a signed link that expires; nobody joins an organization until they
accept it.

Inviting an email answers the same whether or not it already has a MedSync account, and
adds no one: the email gets a link. Someone with an account signs in and accepts; someone
new chooses a password on the link's page, then signs in (and sets up the second factor).
So an owner learns nothing about other organizations' people, and nobody is put on a team
they did not agree to join. The link is single-use, lasts INVITATION_DAYS, and dies when
the person is removed from the team afterwards; the audit log is the record of all three.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass

from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse

from medsync.models import AuditEvent, Membership, Organization, User
from medsync.roles import Role
from medsync.services import audit_record
from medsync.tenancy import current_organization, tenant_scope

INVITATION_DAYS = 3
_SALT = "medsync.invitation"


@dataclass(frozen=True)
class Invitation:
    organization: Organization
    email: str
    role: str
    nonce: str
    issued_at: float


def _clean_email(email: str) -> str:
    return (email or "").strip().lower()


@transaction.atomic
def member_invite(*, email: str, role: str, actor: User, request=None) -> str:
    """Email an invitation to join the active organization; returns the link's token.

    Refuses only what the owner can already see: a malformed email or role, or someone on
    this team. Whether the email has an account anywhere is not revealed.
    """
    errors: dict[str, list[str]] = {}
    email = _clean_email(email)
    try:
        validate_email(email)
    except ValidationError as exc:
        errors["email"] = exc.messages
    if role not in Role.values:
        errors["role"] = ["Choose owner, pharmacist or technician."]
    if not errors and Membership.objects.filter(user__email=email).exists():
        errors["email"] = ["This person is already on the team."]
    if errors:
        raise ValidationError(errors)
    organization = current_organization()
    nonce = secrets.token_hex(8)
    token = signing.dumps(
        {"o": str(organization.public_id), "e": email, "r": role, "n": nonce, "t": time.time()},
        salt=_SALT,
    )
    audit_record(
        action="medsync.member.invited",
        actor=actor,
        target=organization,
        metadata={"email": email, "role": role, "invitation": nonce},
    )
    _send_invitation(email=email, organization=organization, token=token, request=request)
    return token


def _send_invitation(*, email: str, organization: Organization, token: str, request) -> None:
    path = reverse("invitation", args=[token])
    link = request.build_absolute_uri(path) if request is not None else path
    context = {"organization": organization, "link": link, "days": INVITATION_DAYS}
    send_mail(
        render_to_string("registration/invite_subject.txt", context).strip(),
        render_to_string("registration/invite_email.txt", context),
        None,
        [email],
    )


def invitation_read(token: str) -> Invitation | None:
    """The invitation a link carries, if it is genuine, unexpired, unused and not undone."""
    try:
        data = signing.loads(token, salt=_SALT, max_age=INVITATION_DAYS * 24 * 3600)
    except signing.BadSignature:
        return None
    organization = Organization.objects.filter(public_id=data["o"], is_active=True).first()
    if organization is None:
        return None
    invitation = Invitation(organization, data["e"], data["r"], data["n"], data["t"])
    with tenant_scope(organization):
        events = AuditEvent.objects.filter(organization=organization)
        used = events.filter(action="medsync.member.joined", metadata__invitation=invitation.nonce)
        removed_since = events.filter(
            action="medsync.member.removed",
            metadata__email=invitation.email,
            occurred_at__gte=_as_datetime(invitation.issued_at),
        )
        if used.exists() or removed_since.exists():
            return None
    return invitation


def invited_account(invitation: Invitation) -> User | None:
    """The account the invited email already has, if any."""
    return User.objects.filter(email=invitation.email).first()


def _as_datetime(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, tz=dt.UTC)


@transaction.atomic
def invitation_accept(*, invitation: Invitation, user: User) -> Membership:
    """`user` (whose email the invitation names) joins the organization with its role."""
    if _clean_email(user.email) != invitation.email:
        raise ValidationError("This invitation is for another email address.")
    with tenant_scope(invitation.organization):
        membership = Membership.objects.filter(user=user).first()
        if membership is None:
            membership = Membership.objects.create(user=user, role=invitation.role)
        audit_record(
            action="medsync.member.joined",
            actor=user,
            target=membership,
            metadata={
                "email": invitation.email,
                "role": membership.role,
                "invitation": invitation.nonce,
            },
        )
    return membership


@transaction.atomic
def invitation_account_create(*, invitation: Invitation, password: str) -> User:
    """A new person's account (or one that never had a password), joined to the team."""
    user = User.objects.filter(email=invitation.email).first()
    if user is not None and user.has_usable_password():
        raise ValidationError("This email already has an account: sign in to accept.")
    candidate = user or User(email=invitation.email)
    validate_password(password, candidate)
    if user is None:
        user = User.objects.create_user(invitation.email, password)
    else:
        user.set_password(password)
        user.save(update_fields=["password"])
    invitation_accept(invitation=invitation, user=user)
    return user
