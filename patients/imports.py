"""CSV imports from the pharmacy management system: patients, coverage, prescriptions, fills.

One code path for the dashboard, the API and `manage.py import_records`:

    plan = run_import(files, apply=False)   # preview: what would be created/updated/rejected
    plan = run_import(files, apply=True)    # the same checks, then the writes

Files are processed in dependency order (patients, coverage, prescriptions, fills). During a
preview, rows that later files refer to are taken as if the earlier files were applied.
Rows are checked completely before anything is written, so a rejected row writes nothing;
the good rows of a file are applied and every rejected row is reported with its line number.
Natural keys make a re-import change nothing: MRN; MRN + BIN + PCN + group + member id;
pharmacy + rx number; prescription + fill date.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from medsync.models import US_STATES, AuditEvent, Organization, Pharmacy
from medsync.request_context import current_client_ip, current_request_id
from medsync.validators import normalize_phone, npi_check_digit_ok
from patients.models import (
    Coverage,
    DeaSchedule,
    Drug,
    ExclusionReason,
    Fill,
    Household,
    Patient,
    PatientStatus,
    PlanType,
    Prescriber,
    Prescription,
    PrescriptionStatus,
    Sex,
    TherapyType,
)
from patients.validators import normalize_ndc

KIND_ORDER = ("patients", "coverage", "prescriptions", "fills")
BATCH_SIZE = 2000
_STATES = {code for code, _ in US_STATES}
_PRN_SIG = re.compile(r"\b(prn|as needed|as-needed|when needed|if needed)\b", re.IGNORECASE)

ProgressCallback = Callable[[str, int, int], None]  # (filename, rows done, rows total)


class RowRejected(Exception):
    """A row that cannot be imported; the message says why, for a person to fix."""


@dataclass
class RowProblem:
    line: int
    reason: str

    def as_dict(self) -> dict:
        return {"line": self.line, "reason": self.reason}


@dataclass
class FileResult:
    filename: str
    kind: str
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowProblem] = field(default_factory=list)
    warnings: list[RowProblem] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return len(self.errors)


@dataclass
class ImportFileInput:
    filename: str
    text: str
    kind: str = ""  # detected from the header when empty


# --- Column layouts (documented in README "Patient records") --------------------------------

COLUMNS: dict[str, dict[str, list[str]]] = {
    "patients": {
        "required": ["mrn", "first_name", "last_name", "date_of_birth", "phone"],
        "optional": [
            "sex",
            "email",
            "address_line1",
            "address_line2",
            "city",
            "state",
            "postal_code",
            "preferred_language",
            "home_pharmacy_ncpdp",
            "household",
            "status",
        ],
    },
    "coverage": {
        "required": ["mrn", "payer_name", "plan_type", "effective_from"],
        "optional": [
            "bin",
            "pcn",
            "group",
            "member_id",
            "copay_amount",
            "coinsurance_percent",
            "effective_to",
            "rules_state",
            "priority",
        ],
    },
    "prescriptions": {
        "required": [
            "rx_number",
            "mrn",
            "ndc",
            "sig",
            "daily_dose",
            "quantity",
            "days_supply",
            "written_date",
        ],
        "optional": [
            "pharmacy_ncpdp",
            "prescriber_npi",
            "prescriber_first_name",
            "prescriber_last_name",
            "prescriber_phone",
            "prescriber_fax",
            "refills_authorized",
            "refills_remaining",
            "expiration_date",
            "status",
            "therapy_type",
        ],
    },
    "fills": {
        "required": ["rx_number", "fill_date", "quantity", "days_supply"],
        "optional": [
            "pharmacy_ncpdp",
            "fill_number",
            "scc_codes",
            "patient_pay",
            "picked_up_at",
            "returned_to_stock_at",
        ],
    },
}


def detect_kind(header: Iterable[str]) -> str:
    columns = {c.strip().lower() for c in header}
    if {"rx_number", "fill_date"} <= columns:
        return "fills"
    if {"rx_number", "ndc"} <= columns:
        return "prescriptions"
    if {"payer_name", "plan_type"} <= columns:
        return "coverage"
    if {"mrn", "first_name"} <= columns:
        return "patients"
    raise RowRejected(
        "Unrecognised file: its header matches none of the patients, coverage, prescriptions "
        "or fills layouts (see README 'Patient records')."
    )


# --- Value parsers: each raises RowRejected naming the column --------------------------------


def _text(row: dict, column: str, *, required: bool = False, max_length: int = 200) -> str:
    value = (row.get(column) or "").strip()
    if required and not value:
        raise RowRejected(f"{column} is empty.")
    if len(value) > max_length:
        raise RowRejected(f"{column} is longer than {max_length} characters.")
    return value


def _date(row: dict, column: str, *, required: bool = True) -> dt.date | None:
    value = (row.get(column) or "").strip()
    if not value:
        if required:
            raise RowRejected(f"{column} is empty.")
        return None
    for layout in ("%Y-%m-%d", "%m/%d/%Y", "%Y%m%d"):
        try:
            return dt.datetime.strptime(value, layout).date()
        except ValueError:
            continue
    raise RowRejected(f"{column} {value!r} is not a date (use YYYY-MM-DD).")


def _datetime(row: dict, column: str, tz: zoneinfo.ZoneInfo) -> dt.datetime | None:
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        day = _date(row, column)
        parsed = dt.datetime.combine(day, dt.time(12, 0))
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=tz)  # the pharmacy's local time
    return parsed


def _decimal(
    row: dict,
    column: str,
    *,
    required: bool = True,
    positive: bool = False,
    minimum: Decimal | None = None,
) -> Decimal | None:
    value = (row.get(column) or "").strip().replace("$", "")
    if not value:
        if required:
            raise RowRejected(f"{column} is empty.")
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RowRejected(f"{column} {value!r} is not a number.") from None
    if not number.is_finite():
        raise RowRejected(f"{column} {value!r} is not a number.")
    if positive and number <= 0:
        raise RowRejected(f"{column} must be more than 0 (got {value}).")
    if minimum is not None and number < minimum:
        raise RowRejected(f"{column} must be at least {minimum} (got {value}).")
    return number


def _int(
    row: dict, column: str, *, required: bool = True, positive: bool = False, default: int = 0
) -> int:
    value = (row.get(column) or "").strip()
    if not value:
        if required:
            raise RowRejected(f"{column} is empty.")
        return default
    if not re.fullmatch(r"-?\d+", value):
        raise RowRejected(f"{column} {value!r} is not a whole number.")
    number = int(value)
    if positive and number <= 0:
        raise RowRejected(f"{column} must be more than 0 (got {value}).")
    if number < 0:
        raise RowRejected(f"{column} cannot be negative (got {value}).")
    return number


def _choice(row: dict, column: str, choices: type, default: str) -> str:
    value = (row.get(column) or "").strip().lower()
    if not value:
        return default
    allowed = {c.value.lower(): c.value for c in choices}
    if value not in allowed:
        raise RowRejected(f"{column} {value!r} is not one of {', '.join(sorted(allowed))}.")
    return allowed[value]


def _phone(row: dict, column: str, *, required: bool) -> str:
    value = _text(row, column, required=required, max_length=30)
    if not value:
        return ""
    try:
        return normalize_phone(value)
    except ValidationError:
        raise RowRejected(f"{column} {value!r} is not a valid phone number.") from None


def _state(row: dict, column: str, default: str = "") -> str:
    value = (row.get(column) or "").strip().upper()
    if not value:
        return default
    if value not in _STATES:
        raise RowRejected(f"{column} {value!r} is not a US state code.")
    return value


# --- Shared lookups for one run ---------------------------------------------------------------


class Context:
    """What the importers look up, loaded once per run (a fixed number of queries)."""

    def __init__(self, organization: Organization, apply: bool):
        self.organization = organization
        self.apply = apply
        self.pharmacies = {p.ncpdp_id: p for p in Pharmacy.objects.all() if p.ncpdp_id}
        self.only_pharmacy = next(iter(Pharmacy.objects.all()[:2]), None)
        if Pharmacy.objects.count() != 1:
            self.only_pharmacy = None
        # Keys that an earlier file of this preview would create (preview only).
        self.pending_mrns: set[str] = set()
        self.pending_rx: set[tuple[int, str]] = set()
        self._patients: dict[str, Patient] | None = None

    def patients_by_mrn(self, refresh: bool = False) -> dict[str, Patient]:
        if self._patients is None or refresh:
            self._patients = {p.mrn: p for p in Patient.objects.all()}
        return self._patients

    def pharmacy_for(self, row: dict) -> Pharmacy:
        ncpdp = (row.get("pharmacy_ncpdp") or "").strip()
        if ncpdp:
            pharmacy = self.pharmacies.get(ncpdp)
            if pharmacy is None:
                raise RowRejected(f"pharmacy_ncpdp {ncpdp} is not one of your pharmacies.")
            return pharmacy
        if self.only_pharmacy is None:
            raise RowRejected("pharmacy_ncpdp is empty and your organization has several.")
        return self.only_pharmacy

    def timezone_of(self, pharmacy: Pharmacy) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(pharmacy.time_zone)


# --- Importers ---------------------------------------------------------------------------------


class Importer:
    kind: str
    model: type
    compare_fields: list[str]

    def __init__(self, context: Context, result: FileResult):
        self.context = context
        self.result = result
        self.creates: list = []
        self.updates: list = []

    def load(self) -> None:
        raise NotImplementedError

    def parse(self, row: dict) -> tuple[object, dict]:
        raise NotImplementedError

    def existing(self, key):
        raise NotImplementedError

    def build(self, key, values: dict):
        raise NotImplementedError

    def patient_id_of(self, instance) -> int | None:
        return None

    def stage(self, line: int, key, values: dict) -> None:
        current = self.existing(key)
        if current is None:
            self.result.created += 1
            instance = self.build(key, values)
            self.creates.append(instance)
            self.remember_pending(key)
            return instance
        changed = [f for f in self.compare_fields if getattr(current, f) != values[f]]
        if not changed:
            self.result.unchanged += 1
            return current
        for name in changed:
            setattr(current, name, values[name])
        self.result.updated += 1
        self.updates.append(current)
        return current

    def remember_pending(self, key) -> None:
        pass

    def write(self, progress: Callable[[int], None]) -> None:
        model = self.model
        done = 0
        for start in range(0, len(self.creates), BATCH_SIZE):
            chunk = self.creates[start : start + BATCH_SIZE]
            model.objects.bulk_create(chunk, batch_size=BATCH_SIZE)
            done += len(chunk)
            progress(done)
        if self.updates:
            model.objects.bulk_update(self.updates, self.compare_fields, batch_size=1000)
            progress(done + len(self.updates))


class PatientImporter(Importer):
    kind = "patients"
    model = Patient
    compare_fields = [
        "first_name",
        "last_name",
        "date_of_birth",
        "sex",
        "phone",
        "email",
        "address_line1",
        "address_line2",
        "city",
        "state",
        "postal_code",
        "preferred_language",
        "home_pharmacy_id",
        "household_id",
        "status",
    ]

    def load(self) -> None:
        self.by_mrn = self.context.patients_by_mrn()
        self.households = {h.name: h for h in Household.objects.all()}
        self.new_households: dict[str, Household] = {}

    def existing(self, key):
        return self.by_mrn.get(key)

    def parse(self, row):
        mrn = _text(row, "mrn", required=True, max_length=40)
        email = _text(row, "email", max_length=254)
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise RowRejected(f"email {email!r} is not an email address.") from None
        birth = _date(row, "date_of_birth")
        if birth > timezone.localdate():
            raise RowRejected(f"date_of_birth {birth} is in the future.")
        if birth.year < 1900:
            raise RowRejected(f"date_of_birth {birth} is before 1900.")
        ncpdp = (row.get("home_pharmacy_ncpdp") or "").strip()
        home = None
        if ncpdp:
            home = self.context.pharmacies.get(ncpdp)
            if home is None:
                raise RowRejected(f"home_pharmacy_ncpdp {ncpdp} is not one of your pharmacies.")
        household_name = _text(row, "household", max_length=200)
        values = {
            "first_name": _text(row, "first_name", required=True, max_length=100),
            "last_name": _text(row, "last_name", required=True, max_length=100),
            "date_of_birth": birth,
            "sex": _choice(row, "sex", Sex, Sex.UNKNOWN),
            "phone": _phone(row, "phone", required=True),
            "email": email,
            "address_line1": _text(row, "address_line1"),
            "address_line2": _text(row, "address_line2"),
            "city": _text(row, "city", max_length=100),
            "state": _state(row, "state"),
            "postal_code": _text(row, "postal_code", max_length=10),
            "preferred_language": _text(row, "preferred_language", max_length=8).lower() or "en",
            "home_pharmacy_id": home.pk if home else None,
            "household_id": None,
            "status": _choice(row, "status", PatientStatus, PatientStatus.ACTIVE),
        }
        if household_name:
            household = self.households.get(household_name)
            if household is not None:
                values["household_id"] = household.pk
            else:
                values["_new_household"] = household_name
        return mrn, values

    def build(self, key, values):
        return Patient(organization=self.context.organization, mrn=key, **values)

    def remember_pending(self, key) -> None:
        self.context.pending_mrns.add(key)

    def patient_id_of(self, instance):
        return instance.pk

    def stage(self, line, key, values):
        new_household = values.pop("_new_household", None)
        instance = super().stage(line, key, values)
        if new_household:
            # A household first named in this file: created in write(), linked there.
            self.new_households.setdefault(
                new_household, Household(organization=self.context.organization, name=new_household)
            )
            instance._new_household = new_household
            if instance.pk is not None and instance not in self.updates:
                self.result.unchanged -= 1
                self.result.updated += 1
                self.updates.append(instance)

    def write(self, progress):
        if self.new_households:
            Household.objects.bulk_create(list(self.new_households.values()))
            for instance in [*self.creates, *self.updates]:
                name = getattr(instance, "_new_household", None)
                if name:
                    instance.household_id = self.new_households[name].pk
        super().write(progress)
        self.context.patients_by_mrn(refresh=True)


class CoverageImporter(Importer):
    kind = "coverage"
    model = Coverage
    compare_fields = [
        "payer_name",
        "plan_type",
        "copay_amount",
        "coinsurance_percent",
        "effective_from",
        "effective_to",
        "rules_state",
        "priority",
    ]

    def load(self):
        self.patients = self.context.patients_by_mrn()
        self.by_key = {
            (c.patient_id, c.bin, c.pcn, c.group, c.member_id, c.plan_type): c
            for c in Coverage.objects.all()
        }

    def existing(self, key):
        return self.by_key.get(key)

    def parse(self, row):
        mrn = _text(row, "mrn", required=True, max_length=40)
        patient = self.patients.get(mrn)
        if patient is None:
            if mrn in self.context.pending_mrns:
                patient = Patient(mrn=mrn, state="")  # created by the patients file of this run
            else:
                raise RowRejected(f"mrn {mrn} matches no patient.")
        plan_type = _choice(row, "plan_type", PlanType, "")
        if not plan_type:
            raise RowRejected("plan_type is empty.")
        bin_ = _text(row, "bin", max_length=6)
        if plan_type != PlanType.CASH and not re.fullmatch(r"\d{6}", bin_):
            raise RowRejected(f"bin {bin_!r} is not 6 digits.")
        copay = _decimal(row, "copay_amount", required=False, minimum=Decimal("0"))
        coinsurance = _decimal(row, "coinsurance_percent", required=False, minimum=Decimal("0"))
        if plan_type != PlanType.CASH and (copay is None) == (coinsurance is None):
            raise RowRejected("give exactly one of copay_amount or coinsurance_percent.")
        if coinsurance is not None and coinsurance > 100:
            raise RowRejected(f"coinsurance_percent {coinsurance} is over 100.")
        start = _date(row, "effective_from")
        end = _date(row, "effective_to", required=False)
        if end and end < start:
            raise RowRejected(f"effective_to {end} is before effective_from {start}.")
        key = (
            patient.pk,
            bin_,
            _text(row, "pcn", max_length=20),
            _text(row, "group", max_length=30),
            _text(row, "member_id", max_length=40),
            plan_type,
        )
        values = {
            "payer_name": _text(row, "payer_name", required=True),
            "plan_type": plan_type,
            "copay_amount": copay.quantize(Decimal("0.01")) if copay is not None else None,
            "coinsurance_percent": coinsurance.quantize(Decimal("0.01"))
            if coinsurance is not None
            else None,
            "effective_from": start,
            "effective_to": end,
            "rules_state": _state(row, "rules_state", default=patient.state or "")
            or self._fallback_state(),
            "priority": _int(row, "priority", required=False, positive=True, default=1),
            "_mrn": mrn,
        }
        return key, values

    def _fallback_state(self) -> str:
        pharmacy = self.context.only_pharmacy or next(iter(self.context.pharmacies.values()), None)
        if pharmacy is None:
            raise RowRejected("rules_state is empty and neither patient nor pharmacy has a state.")
        return pharmacy.state

    def stage(self, line, key, values):
        values.pop("_mrn")
        super().stage(line, key, values)

    def build(self, key, values):
        patient_id, bin_, pcn, group, member_id, _ = key
        return Coverage(
            organization=self.context.organization,
            patient_id=patient_id,
            bin=bin_,
            pcn=pcn,
            group=group,
            member_id=member_id,
            **values,
        )

    def patient_id_of(self, instance):
        return instance.patient_id


class PrescriptionImporter(Importer):
    kind = "prescriptions"
    model = Prescription
    compare_fields = [
        "patient_id",
        "drug_id",
        "prescriber_id",
        "sig_text",
        "daily_dose",
        "quantity_per_fill",
        "days_supply",
        "refills_authorized",
        "refills_remaining",
        "written_date",
        "expiration_date",
        "status",
        "therapy_type",
    ]

    def load(self):
        self.patients = self.context.patients_by_mrn()
        self.by_key = {(p.pharmacy_id, p.rx_number): p for p in Prescription.objects.all()}
        self.prescribers = {p.npi: p for p in Prescriber.objects.all()}
        self.new_prescribers: dict[str, Prescriber] = {}
        self.drugs: dict[str, Drug] = {}

    def existing(self, key):
        return self.by_key.get(key)

    def _drug(self, raw: str) -> Drug:
        try:
            ndc = normalize_ndc(raw)
        except ValidationError as exc:
            raise RowRejected(f"ndc {raw!r}: {exc.messages[0]}") from None
        if ndc not in self.drugs:
            drug = Drug.objects.filter(ndc=ndc).first()
            if drug is None:
                raise RowRejected(f"ndc {raw} is not in the drug catalog.")
            self.drugs[ndc] = drug
        return self.drugs[ndc]

    def _prescriber(self, row) -> Prescriber | None:
        npi = _text(row, "prescriber_npi", max_length=10)
        if not npi:
            return None
        if not npi_check_digit_ok(npi):
            raise RowRejected(f"prescriber_npi {npi} is not a valid NPI (check digit).")
        prescriber = self.prescribers.get(npi) or self.new_prescribers.get(npi)
        if prescriber is None:
            first = _text(row, "prescriber_first_name", max_length=100)
            last = _text(row, "prescriber_last_name", max_length=100)
            if not last:
                raise RowRejected(f"prescriber_npi {npi} is new: give prescriber_last_name too.")
            prescriber = Prescriber(
                organization=self.context.organization,
                npi=npi,
                first_name=first,
                last_name=last,
                phone=_phone(row, "prescriber_phone", required=False),
                fax=_phone(row, "prescriber_fax", required=False),
            )
        return prescriber

    def parse(self, row):
        pharmacy = self.context.pharmacy_for(row)
        rx_number = _text(row, "rx_number", required=True, max_length=20)
        mrn = _text(row, "mrn", required=True, max_length=40)
        patient = self.patients.get(mrn)
        if patient is None and mrn not in self.context.pending_mrns:
            raise RowRejected(f"mrn {mrn} matches no patient.")
        drug = self._drug(_text(row, "ndc", required=True, max_length=13))
        sig = _text(row, "sig", required=True, max_length=500)
        daily_dose = _decimal(row, "daily_dose", positive=True)
        quantity = _decimal(row, "quantity", positive=True)
        days = _int(row, "days_supply", positive=True)
        authorized = _int(row, "refills_authorized", required=False)
        remaining = _int(row, "refills_remaining", required=False, default=authorized)
        if remaining > authorized:
            raise RowRejected(
                f"refills_remaining {remaining} is more than refills_authorized {authorized}."
            )
        written = _date(row, "written_date")
        if written > timezone.localdate():
            raise RowRejected(f"written_date {written} is in the future.")
        expiration = _date(row, "expiration_date", required=False) or self._expiry(drug, written)
        if expiration < written:
            raise RowRejected(f"expiration_date {expiration} is before written_date {written}.")
        therapy_default = TherapyType.PRN if _PRN_SIG.search(sig) else TherapyType.MAINTENANCE
        prescriber = self._prescriber(row)
        values = {
            "patient_id": patient.pk if patient else None,
            "drug_id": drug.pk,
            "prescriber_id": prescriber.pk if prescriber else None,
            "sig_text": sig,
            "daily_dose": daily_dose,
            "quantity_per_fill": quantity,
            "days_supply": days,
            "refills_authorized": authorized,
            "refills_remaining": remaining,
            "written_date": written,
            "expiration_date": expiration,
            "status": _choice(row, "status", PrescriptionStatus, PrescriptionStatus.ACTIVE),
            "therapy_type": _choice(row, "therapy_type", TherapyType, therapy_default),
            "_prescriber": prescriber,
            "_mrn": mrn,
        }
        implied = (quantity / daily_dose) if daily_dose else Decimal(0)
        if abs(implied - days) > max(Decimal(2), Decimal(days) * Decimal("0.1")):
            self.result.warnings.append(
                RowProblem(
                    self._line,
                    f"days_supply {days} does not match quantity / daily_dose = "
                    f"{implied.quantize(Decimal('0.1'))}: PBM audits recoup a wrong days supply.",
                )
            )
        return (pharmacy.pk, rx_number), values

    @staticmethod
    def _expiry(drug: Drug, written: dt.date) -> dt.date:
        # DOMAIN 2/3: one year from the written date; six months for CIII-CV.
        controlled = drug.dea_schedule in {DeaSchedule.CIII, DeaSchedule.CIV, DeaSchedule.CV}
        months = 6 if controlled else 12
        year = written.year + (written.month - 1 + months) // 12
        month = (written.month - 1 + months) % 12 + 1
        day = min(written.day, 28 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)
        return dt.date(year, month, day)

    def stage(self, line, key, values):
        prescriber = values.pop("_prescriber")
        mrn = values.pop("_mrn")
        if prescriber is not None and prescriber.pk is None:
            self.new_prescribers[prescriber.npi] = prescriber
        target = super().stage(line, key, values)
        target._prescriber = prescriber
        target._mrn = mrn

    def remember_pending(self, key):
        self.context.pending_rx.add(key)

    def build(self, key, values):
        pharmacy_id, rx_number = key
        return Prescription(
            organization=self.context.organization,
            pharmacy_id=pharmacy_id,
            rx_number=rx_number,
            **values,
        )

    def patient_id_of(self, instance):
        return instance.patient_id

    def write(self, progress):
        if self.new_prescribers:
            Prescriber.objects.bulk_create(list(self.new_prescribers.values()))
        patients = self.context.patients_by_mrn()
        for instance in [*self.creates, *self.updates]:
            prescriber = getattr(instance, "_prescriber", None)
            instance.prescriber_id = prescriber.pk if prescriber else None
            instance.patient_id = patients[instance._mrn].pk
        super().write(progress)


class FillImporter(Importer):
    kind = "fills"
    model = Fill
    compare_fields = [
        "quantity",
        "days_supply",
        "fill_number",
        "scc_codes",
        "patient_pay",
        "picked_up_at",
        "returned_to_stock_at",
    ]

    def load(self):
        self.prescriptions = {
            (p.pharmacy_id, p.rx_number): p
            for p in Prescription.objects.only(
                "id", "pharmacy_id", "rx_number", "written_date", "patient_id"
            )
        }
        self.by_key = {
            (f.prescription_id, f.fill_date): f
            for f in Fill.objects.only("id", "prescription_id", "fill_date", *self.compare_fields)
        }

    def existing(self, key):
        return self.by_key.get(key)

    def parse(self, row):
        pharmacy = self.context.pharmacy_for(row)
        rx_number = _text(row, "rx_number", required=True, max_length=20)
        prescription = self.prescriptions.get((pharmacy.pk, rx_number))
        fill_date = _date(row, "fill_date")
        if prescription is None:
            if (pharmacy.pk, rx_number) in self.context.pending_rx:
                key = (("pending", pharmacy.pk, rx_number), fill_date)
            else:
                raise RowRejected(f"rx_number {rx_number} matches no prescription.")
        else:
            if fill_date < prescription.written_date:
                raise RowRejected(
                    f"fill_date {fill_date} is before the prescription was written "
                    f"({prescription.written_date})."
                )
            key = (prescription.pk, fill_date)
        if fill_date > timezone.localdate():
            raise RowRejected(f"fill_date {fill_date} is in the future.")
        tz = self.context.timezone_of(pharmacy)
        picked_up = _datetime(row, "picked_up_at", tz)
        returned = _datetime(row, "returned_to_stock_at", tz)
        if picked_up and returned:
            raise RowRejected("a fill cannot be both picked up and returned to stock.")
        scc_raw = (row.get("scc_codes") or "").strip()
        try:
            scc = [int(code) for code in re.split(r"[;|, ]+", scc_raw) if code]
        except ValueError:
            raise RowRejected(f"scc_codes {scc_raw!r} must be numbers such as 47;48.") from None
        if any(code < 0 or code > 99 for code in scc):
            raise RowRejected(f"scc_codes {scc_raw!r}: each NCPDP 420-DK code is 0 to 99.")
        values = {
            "quantity": _decimal(row, "quantity", positive=True),
            "days_supply": _int(row, "days_supply", positive=True),
            "fill_number": _int(row, "fill_number", required=False),
            "scc_codes": scc,
            "patient_pay": (
                _decimal(row, "patient_pay", required=False, minimum=Decimal("0")) or Decimal("0")
            ).quantize(Decimal("0.01")),
            "picked_up_at": picked_up,
            "returned_to_stock_at": returned,
        }
        return key, values

    def build(self, key, values):
        prescription_id, fill_date = key
        return Fill(
            organization=self.context.organization,
            prescription_id=prescription_id,
            fill_date=fill_date,
            **values,
        )

    def patient_id_of(self, instance):
        prescription = self._prescription_of(instance)
        return prescription.patient_id if prescription else None

    def _prescription_of(self, instance):
        if not hasattr(self, "_by_id"):
            self._by_id = {p.pk: p for p in self.prescriptions.values()}
        return self._by_id.get(instance.prescription_id)


IMPORTERS: dict[str, type[Importer]] = {
    "patients": PatientImporter,
    "coverage": CoverageImporter,
    "prescriptions": PrescriptionImporter,
    "fills": FillImporter,
}


# --- The run -----------------------------------------------------------------------------------


def _read_rows(text: str) -> tuple[list[str], Iterable[tuple[int, dict]]]:
    handle = io.StringIO(text.lstrip("\ufeff"))
    reader = csv.DictReader(handle)
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows():
        for row in reader:
            yield reader.line_num, row

    return header, rows()


def file_kind(upload: ImportFileInput) -> str:
    if upload.kind:
        if upload.kind not in IMPORTERS:
            raise RowRejected(f"Unknown kind {upload.kind!r}: use one of {', '.join(KIND_ORDER)}.")
        return upload.kind
    header, _ = _read_rows(upload.text.split("\n", 1)[0] + "\n")
    return detect_kind(header)


def run_import(
    organization: Organization,
    files: list[ImportFileInput],
    *,
    apply: bool,
    actor=None,
    progress: ProgressCallback | None = None,
) -> list[FileResult]:
    """Check every row of every file; with apply=True, write the good rows.

    Runs inside the caller's tenant scope. With apply=True the whole run is one transaction:
    an unexpected failure rolls everything back, so nothing is ever half-imported.
    """
    ordered = sorted(files, key=lambda f: KIND_ORDER.index(file_kind(f)))
    context = Context(organization, apply)
    results: list[FileResult] = []
    with transaction.atomic():
        for upload in ordered:
            results.append(_run_file(context, upload, actor=actor, progress=progress))
        if not apply:
            transaction.set_rollback(True)  # a preview writes nothing, even by accident
    return results


def _run_file(context: Context, upload: ImportFileInput, *, actor, progress) -> FileResult:
    kind = file_kind(upload)
    result = FileResult(filename=upload.filename, kind=kind)
    header, rows = _read_rows(upload.text)
    spec = COLUMNS[kind]
    missing = [c for c in spec["required"] if c not in header]
    if missing:
        result.errors.append(
            RowProblem(1, f"The header lacks the required column(s): {', '.join(missing)}.")
        )
        return result
    importer = IMPORTERS[kind](context, result)
    importer.load()
    seen: dict[object, int] = {}
    report = (
        (lambda done: progress(upload.filename, done, result.rows_total))
        if progress
        else (lambda done: None)
    )
    for line, row in rows:
        if not any((value or "").strip() for value in row.values() if isinstance(value, str)):
            continue  # a blank line is not a record
        result.rows_total += 1
        importer._line = line
        try:
            if None in row:
                raise RowRejected("the row has more values than the header has columns.")
            key, values = importer.parse(row)
            if key in seen:
                raise RowRejected(f"duplicate of line {seen[key]} (same natural key).")
            seen[key] = line
            importer.stage(line, key, values)
        except RowRejected as problem:
            result.errors.append(RowProblem(line, str(problem)))
        if result.rows_total % 5000 == 0:
            report(0)
    if context.apply:
        importer.write(report)
        _audit_patients_touched(context, importer, kind, actor)
    return result


def _audit_patients_touched(context: Context, importer: Importer, kind: str, actor) -> None:
    """One audit event per patient whose record the file created or changed."""
    now = timezone.now()
    actor_id = actor.pk if actor is not None and getattr(actor, "is_authenticated", False) else None
    patients = {p.pk: p for p in context.patients_by_mrn().values()}
    touched: dict[int, dict[str, int]] = {}
    for what, instances in (("created", importer.creates), ("updated", importer.updates)):
        for instance in instances:
            patient_id = importer.patient_id_of(instance)
            if patient_id is not None:
                counts = touched.setdefault(patient_id, {})
                counts[what] = counts.get(what, 0) + 1
    events = []
    for patient_id, counts in touched.items():
        patient = patients.get(patient_id)
        if patient is None:
            continue
        events.append(
            AuditEvent(
                organization=context.organization,
                actor_id=actor_id,
                action=f"patients.{kind}.imported",
                object_type="patients.patient",
                object_id=str(patient.public_id),
                occurred_at=now,
                ip_address=current_client_ip(),
                request_id=current_request_id() or "",
                metadata=counts,
            )
        )
    AuditEvent.objects.bulk_create(events, batch_size=BATCH_SIZE)


__all__ = [
    "COLUMNS",
    "KIND_ORDER",
    "ExclusionReason",
    "FileResult",
    "ImportFileInput",
    "RowProblem",
    "RowRejected",
    "detect_kind",
    "run_import",
]
