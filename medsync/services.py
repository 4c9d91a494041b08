"""Every write of the platform core: organizations, tokens, audit entries."""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email, validate_slug
from django.db import connections, models, router, transaction
from django.utils import timezone

from medsync import request_context
from medsync.models import ApiToken, AuditEvent, Membership, Organization, Pharmacy, User
from medsync.roles import Role
from medsync.tenancy import _current_organization, row_tenant_scope, scopes_disabled, tenant_scope
from medsync.validators import normalize_phone

TOKEN_PREFIX = "msy_"  # noqa: S105 - a public marker, not a secret


@dataclass(frozen=True)
class AuditEntry:
    """One event of a bulk write: what happened to which object (the rest comes from context)."""

    action: str
    target: models.Model | None = None
    object_type: str = ""
    object_id: str = ""
    metadata: dict | None = None


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    organization: Organization | None = None,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str = "",
    metadata: dict | None = None,
) -> AuditEvent:
    """Append one audit event. The tenant, request id and client IP come from context."""
    fields = _audit_fields(
        AuditEntry(action, target, object_type, object_id, metadata),
        actor=actor,
        organization=organization,
    )
    with row_tenant_scope(fields["organization"]):  # row-level security checks the row
        return AuditEvent.objects.create(**fields)


def audit_record_many(
    entries: Iterable[AuditEntry],
    *,
    actor: User | None = None,
    organization: Organization | None = None,
    batch_size: int = 1000,
) -> int:
    """Append many audit events in bulk INSERTs (one per `batch_size`); returns how many.

    The same fields as `audit_record` writes, so a list view or an import that touches many
    patients is audited row by row at the cost of one statement.
    """
    now = timezone.now()
    events = [_audit_fields(entry, actor=actor, organization=organization) for entry in entries]
    with row_tenant_scope(events[0]["organization"] if events else None):
        for start in range(0, len(events), batch_size):
            _audit_insert(events[start : start + batch_size], now)
    return len(events)


# The columns of one audit event, in the order of `_audit_insert`'s arrays.
_AUDIT_COLUMNS = (
    "public_id",
    "organization",
    "actor",
    "action",
    "object_type",
    "object_id",
    "occurred_at",
    "ip_address",
    "request_id",
    "metadata",
)


def _audit_insert(events: list[dict], now) -> None:
    """One INSERT ... SELECT FROM UNNEST of these events (what bulk_create sends), built
    without a model object per event or Django's per-value preparation, and without its
    transaction (one statement is atomic): that was most of an API list's audit cost."""
    if not events:
        return
    connection = connections[router.db_for_write(AuditEvent)]
    fields = [AuditEvent._meta.get_field(name) for name in _AUDIT_COLUMNS]
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
    organization, actor = events[0]["organization"], events[0]["actor"]
    params = [
        [str(uuid.uuid4()) for _ in events],
        [organization.pk if organization else None] * len(events),
        [actor.pk if actor else None] * len(events),
        [event["action"] for event in events],
        [event["object_type"] for event in events],
        [event["object_id"] for event in events],
        [now] * len(events),
        [event["ip_address"] or None for event in events],
        [event["request_id"] for event in events],
        [json.dumps(event["metadata"]) for event in events],
    ]
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays})",  # noqa: S608 - names from the model, values as parameters
            params,
        )


def _audit_fields(
    entry: AuditEntry, *, actor: User | None, organization: Organization | None
) -> dict:
    if organization is None:
        organization = _current_organization.get()
    object_type, object_id = entry.object_type, entry.object_id
    if entry.target is not None:
        object_type = object_type or entry.target._meta.label_lower
        object_id = object_id or str(getattr(entry.target, "public_id", "") or "")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None
    return {
        "organization": organization,
        "actor": actor,
        "action": entry.action,
        "object_type": object_type,
        "object_id": object_id,
        "ip_address": request_context.current_client_ip(),
        "request_id": request_context.current_request_id() or "",
        "metadata": entry.metadata or {},
    }


@transaction.atomic
def organization_provision(
    *,
    name: str,
    slug: str,
    owner_email: str,
    owner_password: str,
    pharmacy_name: str = "",
    state: str = "WI",
    time_zone: str = "America/Chicago",
) -> tuple[Organization, Pharmacy, User]:
    """Create an organization, its first pharmacy and its owner, or nothing at all."""
    errors: dict[str, list[str]] = {}
    try:
        validate_slug(slug)
    except ValidationError as exc:
        errors["slug"] = exc.messages
    if Organization.objects.filter(slug=slug).exists():
        errors["slug"] = [f"An organization with the slug {slug!r} already exists."]
    try:
        validate_email(owner_email)
    except ValidationError as exc:
        errors["owner_email"] = exc.messages
    owner = User.objects.filter(email__iexact=owner_email).first()
    if owner is None:
        try:
            validate_password(owner_password, User(email=owner_email))
        except ValidationError as exc:
            errors["password"] = exc.messages
    if not name.strip():
        errors["name"] = ["The organization needs a name."]
    if errors:
        raise ValidationError(errors)

    organization = Organization.objects.create(name=name.strip(), slug=slug)
    if owner is None:
        owner = User.objects.create_user(owner_email, owner_password)
    with tenant_scope(organization):
        pharmacy = Pharmacy(name=pharmacy_name or name.strip(), state=state, time_zone=time_zone)
        pharmacy.full_clean(exclude=["organization"])
        pharmacy.save()
        Membership.objects.create(user=owner, role=Role.OWNER)
        audit_record(
            action="medsync.organization.provisioned",
            target=organization,
            metadata={"owner": owner.email, "pharmacy": str(pharmacy.public_id)},
        )
    return organization, pharmacy, owner


def _hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_issue(*, user: User, name: str = "") -> tuple[ApiToken, str]:
    """Create a token; the raw secret is returned once and never stored."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        key_hash=_hash_token(raw),
        prefix=raw[:12],
        name=name.strip()[:100],
        expires_at=timezone.now() + timedelta(days=settings.API_TOKEN_TTL_DAYS),
    )
    audit_record(action="medsync.api_token.issued", actor=user, target=token)
    return token, raw


def api_token_find_usable(raw: str) -> ApiToken | None:
    if not raw.startswith(TOKEN_PREFIX):
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_hash_token(raw), revoked_at__isnull=True, expires_at__gt=timezone.now())
        .first()
    )
    if token is None or not token.user.is_active:
        return None
    # Touch last_used_at at most once a minute: a write per request is wasteful.
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def api_token_revoke(*, token: ApiToken, actor: User) -> None:
    updated = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if updated:
        audit_record(action="medsync.api_token.revoked", actor=actor, target=token)


def active_organization_switch(*, session, membership: Membership, actor: User) -> None:
    session[ACTIVE_ORGANIZATION_SESSION_KEY] = str(membership.organization.public_id)
    audit_record(
        action="medsync.organization.switched",
        actor=actor,
        organization=membership.organization,
        target=membership.organization,
    )


ACTIVE_ORGANIZATION_SESSION_KEY = "medsync_active_organization"


# --- Team -----------------------------------------------------------------------------------


@transaction.atomic
def member_change_role(*, membership: Membership, role: str, actor: User) -> Membership:
    if role not in Role.values:
        raise ValidationError({"role": ["Choose owner, pharmacist or technician."]})
    if membership.role == Role.OWNER and role != Role.OWNER and _last_owner(membership):
        raise ValidationError({"role": ["The organization needs at least one owner."]})
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    audit_record(
        action="medsync.member.role_changed",
        actor=actor,
        target=membership,
        metadata={"from": previous, "to": role, "email": membership.user.email},
    )
    return membership


@transaction.atomic
def member_remove(*, membership: Membership, actor: User) -> None:
    if membership.role == Role.OWNER and _last_owner(membership):
        raise ValidationError({"role": ["The organization needs at least one owner."]})
    if membership.user_id == actor.pk:
        raise ValidationError({"member": ["You cannot remove yourself."]})
    audit_record(
        action="medsync.member.removed",
        actor=actor,
        target=membership,
        metadata={"email": membership.user.email, "role": membership.role},
    )
    membership.delete()


def _last_owner(membership: Membership) -> bool:
    return not Membership.objects.filter(role=Role.OWNER).exclude(pk=membership.pk).exists()


# --- Pharmacy settings ------------------------------------------------------------------------

PHARMACY_SETTINGS_FIELDS = (
    "name",
    "ncpdp_id",
    "npi",
    "address_line1",
    "address_line2",
    "city",
    "state",
    "postal_code",
    "time_zone",
    "phone",
    "sms_number",
    "twilio_auth_token_env",
    "hours",
    "closed_dates",
)
_PHONE_FIELDS = ("phone", "sms_number")


@transaction.atomic
def pharmacy_update(*, pharmacy: Pharmacy, actor: User | None, changes: dict) -> Pharmacy:
    """Change a pharmacy's identity, address, hours and texting settings, or nothing at all.

    Phone numbers are read loosely ("(608) 555-0134") and stored in E.164; every field is
    checked by the model's validators and constraints, and each bad field gets its own
    message. The audit entry names the fields changed (the values are not patient data).
    """
    unknown = set(changes) - set(PHARMACY_SETTINGS_FIELDS)
    if unknown:
        raise ValidationError({field: ["This field cannot be changed here."] for field in unknown})
    errors: dict[str, list[str]] = {}
    cleaned = {}
    for field, value in changes.items():
        if isinstance(value, str):
            value = value.strip()
        if field in _PHONE_FIELDS and value:
            try:
                value = normalize_phone(value)
            except ValidationError as exc:
                errors[field] = exc.messages
                continue
        if field == "name" and not value:
            errors[field] = ["The pharmacy needs a name."]
            continue
        cleaned[field] = value
    before = {field: getattr(pharmacy, field) for field in cleaned}
    for field, value in cleaned.items():
        setattr(pharmacy, field, value)
    try:
        pharmacy.full_clean(exclude=["organization"])
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            errors.setdefault(field, []).extend(messages)
    unique = {"ncpdp_id": "Another pharmacy already uses this NCPDP ID."}
    unique["sms_number"] = "Another pharmacy already texts from this number."
    for field, message in unique.items():
        value = getattr(pharmacy, field)
        if field in cleaned and value and _taken(field, value, pharmacy):
            errors.setdefault(field, []).append(message)
    if errors:
        for field, value in before.items():
            setattr(pharmacy, field, value)
        raise ValidationError(errors)
    changed = sorted(field for field in cleaned if before[field] != cleaned[field])
    if changed:
        pharmacy.save(update_fields=changed)
        audit_record(
            action="medsync.pharmacy.updated",
            actor=actor,
            target=pharmacy,
            metadata={"fields": changed},
        )
    return pharmacy


def _taken(field: str, value: str, pharmacy: Pharmacy) -> bool:
    """Whether another pharmacy (of any organization) holds this unique value.

    A named escape from tenant scope: NCPDP IDs and SMS numbers are unique across MedSync
    (replies find their pharmacy by number), and only the yes/no leaves this function.
    """
    with scopes_disabled():
        return Pharmacy.objects.filter(**{field: value}).exclude(pk=pharmacy.pk).exists()
