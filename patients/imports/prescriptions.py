"""The prescriptions file: matched by pharmacy + rx number, drug by NDC, prescriber by NPI."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from patients.imports import identifiers, parsers
from patients.imports.base import Importer, ParsedRow
from patients.imports.prescribers import PrescriberBook
from patients.imports.results import RowProblem, RowRejected
from patients.models import (
    Coverage,
    DeaSchedule,
    Drug,
    Prescriber,
    Prescription,
    PrescriptionStatus,
    TherapyType,
)

CONTROLLED_SHORT_EXPIRY = {DeaSchedule.CIII, DeaSchedule.CIV, DeaSchedule.CV}


@dataclass
class RxLink:
    """A staged prescription and the rows it points to that may only exist at write time."""

    prescription: Prescription
    mrn: str
    prescriber: Prescriber | None


class PrescriptionImporter(Importer):
    """Prescriptions; warns (without rejecting) when days supply and dose disagree."""

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
        "coverage_id",
        "quantity_authorized_total",
        "quantity_remaining",
    ]
    columns = {
        "quantity_per_fill": "quantity",
        "sig_text": "sig",
        "quantity_authorized_total": "quantity x (refills_authorized + 1)",
    }

    def load(self):
        self.coverages: dict[int, list[Coverage]] = defaultdict(list)
        for coverage in Coverage.objects.order_by("priority", "-effective_from", "id"):
            self.coverages[coverage.patient_id].append(coverage)
        self.patients = self.context.patients_by_mrn()
        self.by_key = {(p.pharmacy_id, p.rx_number): p for p in Prescription.objects.all()}
        self.prescribers = PrescriberBook(self.context.organization)
        self.drugs: dict[str, Drug] = {}
        self.links: list[RxLink] = []

    def existing(self, key):
        return self.by_key.get(key)

    def _drug(self, raw: str) -> Drug:
        """The catalog drug of an NDC in any form (each NDC read once per file)."""
        ndc = identifiers.ndc(raw, "ndc")
        if ndc not in self.drugs:
            drug = Drug.objects.filter(ndc=ndc).first()
            if drug is None:
                raise RowRejected(f"ndc {raw} is not in the drug catalog.")
            self.drugs[ndc] = drug
        return self.drugs[ndc]

    def parse(self, line, row):
        pharmacy = self.context.pharmacy_for(row)
        rx_number = parsers.text(row, "rx_number", required=True, max_length=20)
        mrn = parsers.text(row, "mrn", required=True, max_length=40)
        patient = self.patients.get(mrn)
        if patient is None and mrn not in self.context.pending_mrns:
            raise RowRejected(f"mrn {mrn} matches no patient.")
        drug = self._drug(parsers.text(row, "ndc", required=True, max_length=13))
        sig = parsers.text(row, "sig", required=True, max_length=500)
        daily_dose = parsers.decimal(row, "daily_dose", positive=True)
        quantity = parsers.decimal(row, "quantity", positive=True)
        days = parsers.integer(row, "days_supply", positive=True)
        authorized = parsers.integer(row, "refills_authorized", required=False)
        remaining = parsers.integer(row, "refills_remaining", required=False, default=authorized)
        if remaining > authorized:
            raise RowRejected(
                f"refills_remaining {remaining} is more than refills_authorized {authorized}."
            )
        written = parsers.date(row, "written_date")
        if written > timezone.localdate():
            raise RowRejected(f"written_date {written} is in the future.")
        expiration = parsers.date(row, "expiration_date", required=False) or self._expiry(
            drug, written
        )
        if expiration < written:
            raise RowRejected(f"expiration_date {expiration} is before written_date {written}.")
        therapy_default = (
            TherapyType.PRN if parsers.sig_says_as_needed(sig) else TherapyType.MAINTENANCE
        )
        prescriber = self.prescribers.for_row(row)
        coverage = self._coverage(row, patient, mrn)
        # Refills counted in quantity (DOMAIN 2): the total the prescription authorizes and what
        # is left of it (the system's column, else the written quantity x the fills left, the
        # original fill counted while no refill has been used).
        total = quantity * (authorized + 1)
        left = parsers.decimal(row, "quantity_remaining", required=False, minimum=Decimal("0"))
        if left is None:
            left = quantity * (remaining + (1 if remaining == authorized else 0))
        elif left > total:
            raise RowRejected(
                f"quantity_remaining {left} is more than the {total} the prescription authorizes."
            )
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
            "status": parsers.choice(row, "status", PrescriptionStatus, PrescriptionStatus.ACTIVE),
            "therapy_type": parsers.choice(row, "therapy_type", TherapyType, therapy_default),
            "coverage_id": coverage.pk if coverage else None,
            "quantity_authorized_total": total,
            "quantity_remaining": left,
        }
        warning = parsers.days_supply_mismatch(days, quantity, daily_dose)
        if warning:
            self.result.warnings.append(RowProblem(line, warning))
        return ParsedRow((pharmacy.pk, rx_number), values, mrn=mrn, prescriber=prescriber)

    def _coverage(self, row: dict, patient, mrn: str) -> Coverage | None:
        """The coverage the prescription bills: the one the coverage_* columns name, else the
        patient's highest-priority coverage in force today (DOMAIN 5: a claim goes to the plan
        the patient has now, not the one of the written date)."""
        wanted = {
            "member_id": parsers.text(row, "coverage_member_id", max_length=40),
            "bin": parsers.text(row, "coverage_bin", max_length=6),
            "pcn": parsers.text(row, "coverage_pcn", max_length=20),
            "group": parsers.text(row, "coverage_group", max_length=30),
        }
        named = {field: value for field, value in wanted.items() if value}
        candidates = self.coverages.get(patient.pk, []) if patient else []
        if named:
            candidates = [
                c
                for c in candidates
                if all(getattr(c, f).strip().upper() == v.upper() for f, v in named.items())
            ]
            if not candidates:
                if patient is None or (self.context.coverage_file_seen and not self.context.apply):
                    return None  # a coverage of this run's files: linked when applied
                described = ", ".join(f"coverage_{f} {v}" for f, v in named.items())
                raise RowRejected(f"{described} matches none of patient {mrn}'s coverages.")
        today = timezone.localdate()
        for coverage in candidates:
            if coverage.effective_from <= today and (
                coverage.effective_to is None or coverage.effective_to >= today
            ):
                return coverage
        return candidates[0] if named and candidates else None

    @staticmethod
    def _expiry(drug: Drug, written: dt.date) -> dt.date:
        """The default expiration: shorter for schedules CIII-CV (DOMAIN 2/3)."""
        return parsers.prescription_expiry(
            written, controlled=drug.dea_schedule in CONTROLLED_SHORT_EXPIRY
        )

    def stage(self, parsed):
        self.prescribers.remember(parsed.prescriber)
        instance = super().stage(parsed)
        self.links.append(RxLink(instance, parsed.mrn, parsed.prescriber))
        return instance

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
        self.prescribers.write()
        patients = self.context.patients_by_mrn()
        for link in self.links:
            prescriber = link.prescriber
            link.prescription.prescriber_id = prescriber.pk if prescriber else None
            link.prescription.patient_id = patients[link.mrn].pk
        super().write(progress)
