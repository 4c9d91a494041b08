"""Clinical services and their billing: documentation, fee schedule, claim lines, exports.

Documentation lives in billing (not scheduling) because a claim line must point at the
service it bills, and billing sits below scheduling: appointments (scheduling) point down at
the documented service, never the other way round (DOMAIN section 9; README "Service billing").

Invariants in the database: a service ends after it starts; one line per service and code;
units at least 1; at most 4 modifiers and 4 diagnosis pointers; a line is in at most one
export (`service_claim_export_line_once`), so nothing is exported twice.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator, RegexValidator
from django.db import models
from django.db.models import F, Q

from medsync.models import Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from medsync.validators import validate_npi
from patients.models import Coverage, Patient

__all__ = [
    "MTM_KINDS",
    "ClinicalService",
    "ExportFormat",
    "LineStatus",
    "MedicalPayer",
    "PharmacistProvider",
    "PharmacyBillingProfile",
    "ServiceClaimExport",
    "ServiceClaimExportLine",
    "ServiceClaimLine",
    "ServiceFee",
    "ServiceKind",
    "validate_cpt",
    "validate_icd10",
]

ICD10_PATTERN = r"^[A-TV-Z][0-9][0-9A-Z][0-9A-Z]{0,4}$"
CPT_PATTERN = r"^[0-9A-Z][0-9]{3}[0-9A-Z]$"
validate_icd10 = RegexValidator(
    ICD10_PATTERN, "An ICD-10-CM code: a letter, two characters, up to four more (E11.9)."
)
validate_cpt = RegexValidator(CPT_PATTERN, "A 5-character CPT or HCPCS code (99605, G0438).")
validate_tax_id = RegexValidator(r"^\d{9}$", "A federal tax ID (EIN) of 9 digits.")


class ServiceKind(models.TextChoices):
    CMR = "cmr", "Comprehensive medication review (CMR)"
    TMR = "tmr", "Targeted medication review"
    VACCINATION = "vaccination", "Vaccination"
    POC_TEST = "poc_test", "Point-of-care test"
    BP_CHECK = "bp_check", "Blood-pressure check"


# Kinds billed by time with 99605/99606 + 99607 (DOMAIN 9).
MTM_KINDS = frozenset({ServiceKind.CMR, ServiceKind.TMR})


class LineStatus(models.TextChoices):
    READY = "ready", "Ready to export"
    EXPORTED = "exported", "Exported"
    PAID = "paid", "Paid"
    DENIED = "denied", "Denied"


class ExportFormat(models.TextChoices):
    X12_837P = "837p", "X12 837P"
    CMS1500 = "cms1500", "CMS-1500 PDF"


class MedicalPayer(TenantOwnedModel):
    """A medical plan the pharmacy bills services to (837P NM1*PR)."""

    name = models.CharField(max_length=60)
    payer_id = models.CharField(
        "payer ID",
        max_length=20,
        validators=[RegexValidator(r"^[0-9A-Z]{2,20}$", "2-20 letters or digits.")],
        help_text="The clearinghouse payer ID.",
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "payer_id"], name="medical_payer_id_unique"
            )
        ]

    def __str__(self) -> str:
        return self.name


class PharmacyBillingProfile(TenantOwnedModel):
    """What a pharmacy needs to bill services: federal tax ID (box 25), taxonomy."""

    pharmacy = models.OneToOneField(Pharmacy, on_delete=models.CASCADE, related_name="+")
    tax_id = models.CharField("federal tax ID", max_length=9, validators=[validate_tax_id])
    taxonomy_code = models.CharField(max_length=10, default="3336C0003X")

    objects = tenant_manager()


class PharmacistProvider(TenantOwnedModel):
    """A pharmacist's own NPI: the rendering provider of the services they perform."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    first_name = models.CharField(max_length=60)
    last_name = models.CharField(max_length=60)

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "user"], name="pharmacist_provider_unique"
            )
        ]


class ServiceFee(TenantOwnedModel):
    """The pharmacy's fee schedule: the charge of one unit of a code (per payer, or for all)."""

    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.CASCADE, related_name="+")
    payer = models.ForeignKey(
        MedicalPayer, null=True, blank=True, on_delete=models.CASCADE, related_name="fees"
    )
    code = models.CharField(max_length=5, validators=[validate_cpt])
    modifiers = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    charge = models.DecimalField(
        max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "pharmacy", "payer", "code"],
                nulls_distinct=False,
                name="service_fee_unique",
            ),
            models.CheckConstraint(condition=Q(charge__gte=0), name="service_fee_not_negative"),
        ]


class ClinicalService(TenantOwnedModel):
    """A documented service: who, when, how long, assessed, found, done, diagnoses, follow-up."""

    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="+")
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=12, choices=ServiceKind.choices)
    pharmacist = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    new_patient = models.BooleanField(
        default=True, help_text="First MTM service for this patient (99605, else 99606)."
    )
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField()
    assessed = models.TextField(blank=True, help_text="What was assessed.")
    findings = models.TextField(blank=True, help_text="What was found.")
    actions = models.TextField(blank=True, help_text="What was done or recommended.")
    diagnosis_codes = ArrayField(
        models.CharField(max_length=7, validators=[validate_icd10]), default=list, blank=True
    )
    procedure_code = models.CharField(
        max_length=5,
        blank=True,
        validators=[validate_cpt],
        help_text="For services not billed by time (a vaccine, a test): the code to bill.",
    )
    follow_up = models.CharField(max_length=500, blank=True)
    follow_up_on = models.DateField(null=True, blank=True)
    payer = models.ForeignKey(
        MedicalPayer, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    coverage = models.ForeignKey(
        Coverage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    documented_at = models.DateTimeField(auto_now_add=True)
    documented_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__gt=F("started_at")),
                name="clinical_service_ends_after_start",
                violation_error_message="A service ends after it starts.",
            ),
            models.CheckConstraint(
                condition=Q(diagnosis_codes__len__lte=12), name="clinical_service_max_12_dx"
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "kind"])]

    @property
    def minutes(self) -> int:
        return int((self.ended_at - self.started_at).total_seconds() // 60)


class ServiceClaimLine(TenantOwnedModel):
    """One billable line of a documented service (a CMS-1500 line 24 / an 837P loop 2400)."""

    service = models.ForeignKey(ClinicalService, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=5, validators=[validate_cpt])
    modifiers = ArrayField(models.CharField(max_length=2), default=list, blank=True)
    units = models.PositiveSmallIntegerField(validators=[MinValueValidator(1)])
    charge = models.DecimalField(max_digits=9, decimal_places=2)
    diagnosis_pointers = ArrayField(models.PositiveSmallIntegerField(), default=list, blank=True)
    rendering_npi = models.CharField(max_length=10, blank=True)
    place_of_service = models.CharField(max_length=2, default="01")
    status = models.CharField(max_length=10, choices=LineStatus.choices, default=LineStatus.READY)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    paid_amount = models.DecimalField(max_digits=9, decimal_places=2, null=True, blank=True)
    denial_reason = models.CharField(max_length=200, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["service_id", "line_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "service", "code"], name="service_claim_line_code_once"
            ),
            models.CheckConstraint(condition=Q(units__gte=1), name="service_claim_line_units"),
            models.CheckConstraint(
                condition=Q(modifiers__len__lte=4), name="service_claim_line_max_4_modifiers"
            ),
            models.CheckConstraint(
                condition=Q(diagnosis_pointers__len__lte=4),
                name="service_claim_line_max_4_pointers",
            ),
        ]
        indexes = [models.Index(fields=["organization", "status"])]


class ServiceClaimExport(TenantOwnedModel):
    """One export file (837P or CMS-1500) for a payer and a date range."""

    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    payer = models.ForeignKey(MedicalPayer, on_delete=models.PROTECT, related_name="+")
    format = models.CharField(max_length=8, choices=ExportFormat.choices)
    date_from = models.DateField()
    date_to = models.DateField()
    control_number = models.PositiveIntegerField(help_text="ISA13 / the file's number.")
    content = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "control_number"], name="service_claim_export_number"
            ),
            models.CheckConstraint(
                condition=Q(date_to__gte=F("date_from")), name="service_claim_export_range"
            ),
        ]


class ServiceClaimExportLine(TenantOwnedModel):
    """A line in an export: unique per line, so the database refuses a second export."""

    export = models.ForeignKey(ServiceClaimExport, on_delete=models.CASCADE, related_name="+")
    line = models.ForeignKey(ServiceClaimLine, on_delete=models.PROTECT, related_name="+")

    objects = tenant_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "line"], name="service_claim_export_line_once"
            )
        ]
