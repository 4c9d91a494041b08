"""Patients, households, coverage, the drug catalog, prescribers, prescriptions and fills."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from medsync.models import US_STATES, Pharmacy
from medsync.tenancy import TenantOwnedModel, tenant_manager
from medsync.validators import validate_e164, validate_npi
from patients.validators import validate_bin, validate_ndc11


class TherapeuticClass(models.TextChoices):
    """Classes the PQA adherence measures and the exclusion rules use."""

    STATIN = "statin", "Statin"
    RAS_ANTAGONIST = "ras_antagonist", "RAS antagonist (ACE inhibitor, ARB, direct renin inhibitor)"
    DIABETES_NON_INSULIN = "diabetes_non_insulin", "Diabetes, non-insulin"
    INSULIN = "insulin", "Insulin"
    BETA_BLOCKER = "beta_blocker", "Beta-blocker"
    CALCIUM_CHANNEL_BLOCKER = "calcium_channel_blocker", "Calcium channel blocker"
    DOAC = "doac", "Direct oral anticoagulant"
    THIAZIDE = "thiazide", "Thiazide diuretic"
    THYROID = "thyroid", "Thyroid hormone"
    SSRI = "ssri", "SSRI antidepressant"
    COPD_INHALER = "copd_inhaler", "COPD / asthma inhaler"
    GLAUCOMA = "glaucoma", "Glaucoma eye drops"
    SACUBITRIL_VALSARTAN = "sacubitril_valsartan", "Sacubitril/valsartan"
    ANTIBIOTIC = "antibiotic", "Antibiotic"
    OPIOID = "opioid", "Opioid"
    STIMULANT = "stimulant", "Stimulant"
    OTHER = "other", "Other"


class DosageForm(models.TextChoices):
    TABLET = "tablet", "Tablet"
    CAPSULE = "capsule", "Capsule"
    SOLUTION = "solution", "Oral solution"
    SUSPENSION = "suspension", "Oral suspension"
    INHALER = "inhaler", "Inhaler"
    PEN = "pen", "Injection pen"
    VIAL = "vial", "Injection vial"
    EYE_DROPS = "eye_drops", "Eye drops"
    CREAM = "cream", "Cream/ointment"
    PATCH = "patch", "Transdermal patch"
    OTHER = "other", "Other"


SOLID_ORAL_FORMS = {DosageForm.TABLET, DosageForm.CAPSULE}


class DeaSchedule(models.TextChoices):
    NONE = "", "Not controlled"
    CII = "2", "Schedule II"
    CIII = "3", "Schedule III"
    CIV = "4", "Schedule IV"
    CV = "5", "Schedule V"


class Drug(models.Model):
    """Shared reference data (not tenant-owned): one row per 11-digit NDC."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    ndc = models.CharField("NDC", max_length=11, unique=True, validators=[validate_ndc11])
    name = models.CharField(max_length=200, help_text="Brand or generic name as dispensed.")
    generic_name = models.CharField(max_length=200)
    strength = models.CharField(max_length=100)
    dosage_form = models.CharField(max_length=20, choices=DosageForm.choices)
    package_size = models.DecimalField(
        max_digits=10, decimal_places=3, validators=[MinValueValidator(Decimal("0.001"))]
    )
    package_unit = models.CharField(max_length=10, help_text="EA, ML, GM or UN (insulin units).")
    unit_of_use = models.BooleanField(
        default=False, help_text="Dispensed in the original container: never split."
    )
    dea_schedule = models.CharField(max_length=1, choices=DeaSchedule.choices, blank=True)
    is_antibiotic = models.BooleanField(default=False)
    is_specialty = models.BooleanField(default=False)
    therapeutic_classes = ArrayField(
        models.CharField(max_length=40, choices=TherapeuticClass.choices), default=list, blank=True
    )
    beyond_use_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Days usable after opening (e.g. latanoprost 42)."
    )

    class Meta:
        ordering = ["name", "strength"]
        indexes = [models.Index(fields=["name"]), models.Index(fields=["generic_name"])]
        constraints = [
            models.CheckConstraint(condition=Q(ndc__regex=r"^\d{11}$"), name="drug_ndc_11_digits")
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.strength}"

    @property
    def is_solid_oral(self) -> bool:
        return self.dosage_form in SOLID_ORAL_FORMS


class Household(TenantOwnedModel):
    """Patients who share an address or a caregiver (one anchor date for all, later)."""

    name = models.CharField(max_length=200)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    def __str__(self) -> str:
        return self.name


class PatientStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INACTIVE = "inactive", "Inactive"
    DECEASED = "deceased", "Deceased"
    TRANSFERRED = "transferred", "Transferred out"


class Sex(models.TextChoices):
    FEMALE = "F", "Female"
    MALE = "M", "Male"
    OTHER = "X", "Other"
    UNKNOWN = "U", "Unknown"


class Patient(TenantOwnedModel):
    mrn = models.CharField("MRN", max_length=40, help_text="The pharmacy system's patient id.")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField()
    sex = models.CharField(max_length=1, choices=Sex.choices, default=Sex.UNKNOWN)
    phone = models.CharField(max_length=16, validators=[validate_e164])
    email = models.EmailField(blank=True)
    address_line1 = models.CharField(max_length=200, blank=True)
    address_line2 = models.CharField(max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state = models.CharField(max_length=2, choices=US_STATES, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    preferred_language = models.CharField(
        max_length=8, default="en", help_text="BCP 47 code: en, es, …"
    )
    home_pharmacy = models.ForeignKey(
        Pharmacy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    household = models.ForeignKey(
        Household, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    status = models.CharField(
        max_length=12, choices=PatientStatus.choices, default=PatientStatus.ACTIVE
    )
    # CMS Star exclusions for PDC (DOMAIN 6): from the record, an import column or the API.
    hospice = models.BooleanField(default=False, help_text="Enrolled in hospice.")
    esrd = models.BooleanField("ESRD", default=False, help_text="End-stage renal disease.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "mrn"], name="patient_mrn_unique")
        ]
        indexes = [
            models.Index(fields=["organization", "last_name", "first_name"]),
            models.Index(fields=["organization", "date_of_birth"]),
            models.Index(fields=["organization", "phone"]),
        ]

    def __str__(self) -> str:
        return f"{self.last_name}, {self.first_name}"

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class PlanType(models.TextChoices):
    COMMERCIAL = "commercial", "Commercial"
    MEDICARE_PART_D = "medicare_part_d", "Medicare Part D"
    MEDICAID = "medicaid", "Medicaid"
    CASH = "cash", "Cash"


class BenefitPhase(models.TextChoices):
    DEDUCTIBLE = "deductible", "Deductible (the patient pays the claim)"
    INITIAL = "initial", "Initial coverage (copay or coinsurance)"
    CATASTROPHIC = "catastrophic", "Catastrophic (out-of-pocket maximum reached: $0)"


class Coverage(TenantOwnedModel):
    """A patient's pharmacy benefit. Cost sharing is for a 30-day fill."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="coverages")
    payer_name = models.CharField(max_length=200)
    bin = models.CharField("BIN", max_length=6, blank=True, validators=[validate_bin])
    pcn = models.CharField("PCN", max_length=20, blank=True)
    group = models.CharField(max_length=30, blank=True)
    member_id = models.CharField(max_length=40, blank=True)
    plan_type = models.CharField(max_length=20, choices=PlanType.choices)
    copay_amount = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    coinsurance_percent = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
    )
    # A coinsurance charge is raised to the minimum / lowered to the maximum (blank: none).
    coinsurance_minimum = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    coinsurance_maximum = models.DecimalField(
        max_digits=8, decimal_places=2, null=True, blank=True, validators=[MinValueValidator(0)]
    )
    benefit_phase = models.CharField(
        max_length=12,
        choices=BenefitPhase.choices,
        default=BenefitPhase.INITIAL,
        help_text="In the deductible the patient pays the whole claim.",
    )
    effective_from = models.DateField()
    effective_to = models.DateField(null=True, blank=True)
    rules_state = models.CharField(
        max_length=2, choices=US_STATES, help_text="The state whose sync and proration laws apply."
    )
    priority = models.PositiveSmallIntegerField(default=1, help_text="1 = primary.")

    objects = tenant_manager()

    class Meta:
        ordering = ["priority", "-effective_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(plan_type="cash")
                | (Q(copay_amount__isnull=False) & Q(coinsurance_percent__isnull=True))
                | (Q(copay_amount__isnull=True) & Q(coinsurance_percent__isnull=False)),
                name="coverage_one_cost_sharing",
            ),
            models.CheckConstraint(
                condition=Q(coinsurance_percent__isnull=True) | Q(coinsurance_percent__lte=100),
                name="coverage_coinsurance_at_most_100",
            ),
            models.CheckConstraint(
                condition=Q(effective_to__isnull=True) | Q(effective_to__gte=F("effective_from")),
                name="coverage_dates_ordered",
            ),
            models.CheckConstraint(
                condition=Q(plan_type="cash") | ~Q(bin=""), name="coverage_bin_unless_cash"
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient"])]

    def __str__(self) -> str:
        return f"{self.payer_name} ({self.get_plan_type_display()})"


class Prescriber(TenantOwnedModel):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    npi = models.CharField("NPI", max_length=10, validators=[validate_npi])
    phone = models.CharField(max_length=16, blank=True, validators=[validate_e164])
    fax = models.CharField(max_length=16, blank=True, validators=[validate_e164])

    objects = tenant_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "npi"], name="prescriber_npi_unique")
        ]

    def __str__(self) -> str:
        return f"Dr. {self.first_name} {self.last_name}"


class PrescriptionStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    ON_HOLD = "on_hold", "On hold"
    DISCONTINUED = "discontinued", "Discontinued"
    TRANSFERRED = "transferred", "Transferred"


class TherapyType(models.TextChoices):
    MAINTENANCE = "maintenance", "Maintenance"
    PRN = "prn", "As needed (PRN)"
    ACUTE = "acute", "Acute course"


class SyncDecision(models.TextChoices):
    UNDECIDED = "undecided", "Not yet reconciled"
    SYNCED = "synced", "Synced"
    EXCLUDED = "excluded", "Excluded"


class ExclusionReason(models.TextChoices):
    SCHEDULE_II = "schedule_ii", "Schedule II controlled substance"
    CONTROLLED_STATE_RULE = "controlled_state_rule", "Controlled substance excluded by state law"
    PRN = "prn", "As-needed (PRN)"
    ACUTE = "acute", "Acute course (e.g. antibiotic)"
    TAPER = "taper", "Taper or variable dose"
    SPECIALTY = "specialty", "Specialty drug from a designated pharmacy"
    QUANTITY_LIMIT = "quantity_limit", "Quantity limit forbids splitting"
    PATIENT_PREFERENCE = "patient_preference", "Patient preference"
    OTHER = "other", "Other (see note)"


class Prescription(TenantOwnedModel):
    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.PROTECT, related_name="+")
    rx_number = models.CharField(max_length=20)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="prescriptions")
    drug = models.ForeignKey(Drug, on_delete=models.PROTECT, related_name="+")
    prescriber = models.ForeignKey(
        Prescriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="prescriptions"
    )
    coverage = models.ForeignKey(
        Coverage, null=True, blank=True, on_delete=models.SET_NULL, related_name="prescriptions"
    )
    sig_text = models.CharField(max_length=500)
    daily_dose = models.DecimalField(
        max_digits=10, decimal_places=4, help_text="Dispensing units per day, from the sig."
    )
    quantity_per_fill = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField()
    refills_authorized = models.PositiveIntegerField(default=0)
    refills_remaining = models.PositiveIntegerField(default=0)
    # Refills are counted in quantity (DOMAIN 2): (refills + 1) x the written quantity (derived
    # on save when absent), and what is left of it: null until our first fill (planning derives
    # it from the refills left, as imports give them), then each fill takes its quantity off.
    quantity_authorized_total = models.DecimalField(
        max_digits=12, decimal_places=3, null=True, blank=True
    )
    quantity_remaining = models.DecimalField(max_digits=12, decimal_places=3, null=True, blank=True)
    written_date = models.DateField()
    expiration_date = models.DateField()
    status = models.CharField(
        max_length=14, choices=PrescriptionStatus.choices, default=PrescriptionStatus.ACTIVE
    )
    therapy_type = models.CharField(
        max_length=12, choices=TherapyType.choices, default=TherapyType.MAINTENANCE
    )
    sync_decision = models.CharField(
        max_length=10, choices=SyncDecision.choices, default=SyncDecision.UNDECIDED
    )
    sync_exclusion_reason = models.CharField(
        max_length=24, choices=ExclusionReason.choices, blank=True
    )
    sync_decision_note = models.CharField(max_length=500, blank=True)
    sync_decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sync_decided_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["patient", "rx_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "pharmacy", "rx_number"], name="prescription_rx_unique"
            ),
            models.CheckConstraint(condition=Q(daily_dose__gt=0), name="rx_daily_dose_positive"),
            models.CheckConstraint(
                condition=Q(quantity_per_fill__gt=0), name="rx_quantity_positive"
            ),
            models.CheckConstraint(condition=Q(days_supply__gt=0), name="rx_days_supply_positive"),
            models.CheckConstraint(
                condition=Q(refills_remaining__lte=F("refills_authorized")),
                name="rx_refills_remaining_within_authorized",
            ),
            models.CheckConstraint(
                condition=Q(expiration_date__gte=F("written_date")), name="rx_dates_ordered"
            ),
            models.CheckConstraint(
                condition=~Q(sync_decision="excluded") | ~Q(sync_exclusion_reason=""),
                name="rx_exclusion_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "patient", "status"]),
            models.Index(fields=["organization", "rx_number"]),
        ]

    def __str__(self) -> str:
        return f"Rx {self.rx_number}"

    def save(self, *args, **kwargs):
        # quantity_remaining stays null (derived by planning from the refills left) until our
        # first fill records what is left of the total.
        if self.quantity_per_fill and self.quantity_authorized_total is None:
            self.quantity_authorized_total = self.quantity_per_fill * (self.refills_authorized + 1)
        super().save(*args, **kwargs)


class Fill(TenantOwnedModel):
    """One dispensing of a prescription (history from the pharmacy system, or ours)."""

    prescription = models.ForeignKey(Prescription, on_delete=models.CASCADE, related_name="fills")
    fill_date = models.DateField()
    # The first day this fill's supply is used when it was handed out before the previous
    # supply ran out (DOMAIN 2: supply carries forward); null = the fill date.
    supply_start = models.DateField(null=True, blank=True)
    quantity = models.DecimalField(max_digits=10, decimal_places=3)
    days_supply = models.PositiveIntegerField()
    fill_number = models.PositiveIntegerField(help_text="NCPDP 403-D3: 0 = new, 1..n = refills.")
    scc_codes = ArrayField(
        models.PositiveSmallIntegerField(),
        default=list,
        blank=True,
        help_text="NCPDP 420-DK submission clarification codes (47 short fill, 48 after it).",
    )
    patient_pay = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("0"))
    picked_up_at = models.DateTimeField(null=True, blank=True)
    returned_to_stock_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["prescription", "fill_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "prescription", "fill_date"], name="fill_unique_per_day"
            ),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="fill_quantity_positive"),
            models.CheckConstraint(condition=Q(days_supply__gt=0), name="fill_days_positive"),
            models.CheckConstraint(condition=Q(patient_pay__gte=0), name="fill_pay_not_negative"),
            models.CheckConstraint(
                condition=Q(supply_start__isnull=True) | Q(supply_start__gte=F("fill_date")),
                name="fill_supply_starts_on_or_after_fill",
            ),
            models.CheckConstraint(
                condition=Q(picked_up_at__isnull=True) | Q(returned_to_stock_at__isnull=True),
                name="fill_not_both_picked_up_and_returned",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "prescription", "-fill_date"]),
            models.Index(fields=["organization", "fill_date"]),
        ]

    def __str__(self) -> str:
        return f"{self.prescription} on {self.fill_date}"


class StayKind(models.TextChoices):
    HOSPITAL = "hospital", "Hospital"
    SKILLED_NURSING = "skilled_nursing", "Skilled nursing facility"


class StaySource(models.TextChoices):
    PREP_CALL = "prep_call", "Reported at the prep call"
    RECORD = "record", "Entered on the record"
    IMPORT = "import", "Imported"


class InpatientStay(TenantOwnedModel):
    """Days in a hospital or SNF: supplied there, not from our fills (PDC, DOMAIN 5)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="inpatient_stays")
    admitted_on = models.DateField()
    discharged_on = models.DateField(null=True, blank=True, help_text="Empty while still admitted.")
    kind = models.CharField(max_length=16, choices=StayKind.choices, default=StayKind.HOSPITAL)
    reported_at = models.DateTimeField(auto_now_add=True)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=10, choices=StaySource.choices, default=StaySource.RECORD)
    note = models.TextField(blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["patient", "admitted_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discharged_on__isnull=True) | Q(discharged_on__gte=F("admitted_on")),
                name="stay_discharged_on_or_after_admitted",
            ),
        ]
        indexes = [models.Index(fields=["organization", "patient", "admitted_on"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} stay from {self.admitted_on}"


class PriceListEntry(TenantOwnedModel):
    """A pharmacy's price of one NDC per dispensing unit: what it pays (acquisition) and what a
    cash customer pays (usual and customary). Imported from the price list CSV."""

    pharmacy = models.ForeignKey(Pharmacy, on_delete=models.CASCADE, related_name="+")
    ndc = models.CharField("NDC", max_length=11, validators=[validate_ndc11])
    acquisition_cost = models.DecimalField(max_digits=12, decimal_places=5)
    usual_and_customary = models.DecimalField(max_digits=12, decimal_places=5)
    updated_at = models.DateTimeField(auto_now=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["pharmacy", "ndc"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "pharmacy", "ndc"], name="price_one_per_pharmacy_ndc"
            ),
            models.CheckConstraint(
                condition=Q(acquisition_cost__gte=0) & Q(usual_and_customary__gte=0),
                name="price_not_negative",
            ),
        ]


class ImportStatus(models.TextChoices):
    PREVIEWING = "previewing", "Checking the files"
    PREVIEWED = "previewed", "Ready to confirm"
    APPLYING = "applying", "Importing"
    APPLIED = "applied", "Imported"
    FAILED = "failed", "Failed"


class ImportBatch(TenantOwnedModel):
    """One upload of one or more CSV files from the pharmacy system, previewed then applied."""

    status = models.CharField(max_length=12, choices=ImportStatus.choices)
    source = models.CharField(max_length=10, help_text="dashboard, api or command")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    previewed_at = models.DateTimeField(null=True, blank=True)
    apply_requested_at = models.DateTimeField(
        null=True, blank=True, help_text="Someone confirmed; the import is queued for a worker."
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    failure_message = models.TextField(blank=True)
    recoveries = models.PositiveSmallIntegerField(
        default=0, help_text="Times the recovery sweep queued it again after its worker stopped."
    )

    objects = tenant_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Import {self.public_id} ({self.status})"

    @property
    def in_progress(self) -> bool:
        return self.status in {ImportStatus.PREVIEWING, ImportStatus.APPLYING} or (
            self.status == ImportStatus.PREVIEWED and self.apply_requested_at is not None
        )


class ImportFile(TenantOwnedModel):
    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="files")
    kind = models.CharField(max_length=14)
    filename = models.CharField(max_length=255)
    content = models.TextField(help_text="The file as uploaded, so confirm applies what was seen.")
    rows_total = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, reason}]")
    warnings = models.JSONField(default=list, blank=True)

    objects = tenant_manager()

    class Meta:
        ordering = ["batch", "id"]


from patients.agreement_models import *  # noqa: E402, F403  agreements and signing links
from patients.assessment_models import *  # noqa: E402, F403  assessments (templates, responses)
from patients.clinical_models import *  # noqa: E402, F403  conditions, allergies, immunizations
