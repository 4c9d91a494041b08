"""The platform core: users, organizations (tenants), pharmacies, memberships,
API tokens and the append-only audit log."""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.sessions.base_session import AbstractBaseSession
from django.db import models
from django.utils import timezone
from django_scopes import ScopedManager

from medsync.roles import Role
from medsync.tenancy import TenantOwnedModel, tenant_manager
from medsync.validators import (
    validate_closed_dates,
    validate_e164,
    validate_hours,
    validate_ncpdp_id,
    validate_npi,
    validate_timezone,
    validate_token_env_name,
)

US_STATES = [
    (code, code)
    for code in [
        "AL",
        "AK",
        "AZ",
        "AR",
        "CA",
        "CO",
        "CT",
        "DE",
        "DC",
        "FL",
        "GA",
        "HI",
        "ID",
        "IL",
        "IN",
        "IA",
        "KS",
        "KY",
        "LA",
        "ME",
        "MD",
        "MA",
        "MI",
        "MN",
        "MS",
        "MO",
        "MT",
        "NE",
        "NV",
        "NH",
        "NJ",
        "NM",
        "NY",
        "NC",
        "ND",
        "OH",
        "OK",
        "OR",
        "PA",
        "PR",
        "RI",
        "SC",
        "SD",
        "TN",
        "TX",
        "UT",
        "VT",
        "VA",
        "WA",
        "WV",
        "WI",
        "WY",
    ]
]


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra):
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)

    def get_by_natural_key(self, username):
        return self.get(email__iexact=username)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in. Staff of pharmacies belong to organizations via Membership."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254, unique=True, help_text="Stored lowercased.")
    full_name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="Platform staff: may use the admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    def __str__(self) -> str:
        return self.full_name or self.email

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)


class Organization(models.Model):
    """The tenant: an independent pharmacy or a chain."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    # Members limited to some pharmacies see only those pharmacies' patients unless this is on
    # (medsync.selectors.patient_pharmacy_limit; README "Pharmacy visibility").
    share_patient_records = models.BooleanField(
        "share patient records across our pharmacies",
        default=False,
        help_text="On: staff limited to some pharmacies still open every patient of the "
        "organization. Off: they see patients of their pharmacies only.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Owners, pharmacists and platform staff always sign in with a second factor; these two
    # settings are the organization's say over technicians (see README "Accounts").
    technicians_need_mfa = models.BooleanField(
        "technicians need a second factor",
        default=True,
        help_text="Off: technicians may add one, but are not made to.",
    )
    technicians_may_remember_device = models.BooleanField(
        "technicians may skip the code for 12 hours on a device",
        default=False,
        help_text="A counter computer remembers a technician's second factor for 12 hours.",
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pharmacy(TenantOwnedModel):
    """One location of an organization."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="pharmacies", editable=False
    )
    name = models.CharField(max_length=200)
    # Blank until onboarding completes them; claims and SMS need them (see is_ready_to_bill).
    ncpdp_id = models.CharField(
        "NCPDP ID", max_length=7, blank=True, validators=[validate_ncpdp_id]
    )
    npi = models.CharField("NPI", max_length=10, blank=True, validators=[validate_npi])
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(
        max_length=2, choices=US_STATES, help_text="Whose pharmacy and plan rules apply."
    )
    postal_code = models.CharField(max_length=10, blank=True)
    time_zone = models.CharField(
        max_length=64, default="America/Chicago", validators=[validate_timezone]
    )
    phone = models.CharField(
        max_length=16,
        blank=True,
        validators=[validate_e164],
        help_text="Public phone, given in SMS help.",
    )
    sms_number = models.CharField(
        "SMS number",
        max_length=16,
        blank=True,
        validators=[validate_e164],
        help_text="The number patients text; unique across MedSync so replies find their pharmacy.",
    )
    twilio_auth_token_env = models.CharField(
        "Twilio auth token variable",
        max_length=100,
        blank=True,
        validators=[validate_token_env_name],
        help_text="The NAME of the environment variable holding this pharmacy's Twilio auth "
        "token (TWILIO_AUTH_TOKEN_...); blank: the deployment's account.",
    )
    hours = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_hours],
        help_text='Opening hours per weekday, e.g. {"mon": "09:00-18:00", "sun": ""}.',
    )
    closed_dates = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_closed_dates],
        help_text="Holidays and other closed dates (YYYY-MM-DD).",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "pharmacies"
        constraints = [
            models.UniqueConstraint(
                fields=["ncpdp_id"], condition=~models.Q(ncpdp_id=""), name="pharmacy_ncpdp_unique"
            ),
            models.UniqueConstraint(
                fields=["sms_number"],
                condition=~models.Q(sms_number=""),
                name="pharmacy_sms_number_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(ncpdp_id__regex=r"^(\d{7})?$"), name="pharmacy_ncpdp_7_digits"
            ),
            models.CheckConstraint(
                condition=models.Q(npi__regex=r"^(\d{10})?$"), name="pharmacy_npi_10_digits"
            ),
        ]
        indexes = [models.Index(fields=["organization", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def missing_for_operation(self) -> list[str]:
        """What onboarding still owes before claims and texts can go out."""
        needed = {"NCPDP ID": self.ncpdp_id, "NPI": self.npi, "phone": self.phone}
        return [label for label, value in needed.items() if not value]


class Membership(TenantOwnedModel):
    """A user's place in an organization, with a role and optional location limits."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices)
    limited_to_pharmacies = models.BooleanField(
        default=False, help_text="When set, the member sees only the pharmacies listed."
    )
    pharmacies = models.ManyToManyField(
        Pharmacy, through="MembershipPharmacy", related_name="+", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({self.get_role_display()})"


class MembershipPharmacy(TenantOwnedModel):
    membership = models.ForeignKey(Membership, on_delete=models.CASCADE)
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.CASCADE)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "membership", "pharmacy"], name="membership_pharmacy_unique"
            )
        ]


class ApiToken(models.Model):
    """A revocable API token. Only its SHA-256 is stored; the secret is shown once."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12, help_text="The first characters, to recognise it.")
    name = models.CharField(max_length=100, blank=True, help_text="What it is for, if given.")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()


class UserSession(AbstractBaseSession):
    """A browser session, stored under the SHA-256 of its key (the key itself never is).

    `medsync.accounts.sessions.SessionStore` reads and writes it; the user column lets a
    person list and end their own sessions, and deleting the row ends one at once.
    """

    session_key = models.CharField("key hash", max_length=64, primary_key=True)
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="browser_sessions"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "expire_date"])]


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise PermissionError("Audit events are append-only.")

    def delete(self):
        raise PermissionError("Audit events are append-only.")


class AuditEvent(models.Model):
    """Append-only record of who did what. A database trigger also refuses UPDATE/DELETE."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    action = models.CharField(max_length=100, help_text="Dotted, e.g. patients.patient.viewed")
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True, help_text="The object's public id.")
    occurred_at = models.DateTimeField(default=timezone.now)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True)

    # Scoped like every tenant table; organization-less platform events (a failed
    # login for an unknown email) are read only with scopes disabled, by platform staff.
    objects = ScopedManager(
        organization="organization",
        _manager_class=models.Manager.from_queryset(AuditEventQuerySet),
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-occurred_at"]),
            models.Index(fields=["organization", "object_type", "object_id"]),
            models.Index(fields=["organization", "action"]),
        ]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise PermissionError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("Audit events are append-only.")


# --- Webhooks: events out to the pharmacy's own systems, pushes in from them -----------------


class WebhookEvent(models.TextChoices):
    CYCLE_READY = "cycle.ready", "Cycle ready for pickup"
    CYCLE_PICKED_UP = "cycle.picked_up", "Cycle picked up"
    ENROLLMENT_CHANGED = "enrollment.changed", "Enrollment changed"
    CLAIM_REJECTED = "claim.rejected", "Claim rejected"


class WebhookSubscription(TenantOwnedModel):
    """An endpoint of the organization's own system that receives signed events.

    The signing secret is generated by MedSync, shown to the owner once and kept here to sign
    each delivery (HMAC-SHA256); it is not a credential of anything else.
    """

    url = models.URLField(max_length=500)
    events = models.JSONField(default=list, help_text="The event types sent (WebhookEvent).")
    secret = models.CharField(max_length=80, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "is_active"])]

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (gave up)"


class WebhookDelivery(TenantOwnedModel):
    """One event for one subscription, tried until delivered or out of attempts."""

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event = models.CharField(max_length=40, choices=WebhookEvent.choices)
    event_id = models.UUIDField(help_text="The same for every subscription the event went to.")
    payload = models.JSONField(default=dict)
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "event_id"], name="webhook_delivery_once_per_event"
            )
        ]
        indexes = [
            models.Index(fields=["organization", "-created_at"]),
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
        ]


class InboundEndpoint(TenantOwnedModel):
    """Where the organization's pharmacy system pushes new prescriptions and fills.

    The URL carries the endpoint's public id; each push is signed with `secret` (HMAC-SHA256
    over timestamp and body) and refused outside the replay window or when seen before.
    """

    secret = models.CharField(max_length=80, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_received_at = models.DateTimeField(null=True, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
