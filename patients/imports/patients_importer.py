"""The patients file: one row per patient, matched by MRN; households created by name."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from patients.imports import identifiers, parsers
from patients.imports.base import STATES, Importer, ParsedRow
from patients.imports.results import RowRejected
from patients.models import Household, Patient, PatientStatus, Sex


@dataclass
class HouseholdLink:
    """A patient whose household is first named in this file (created and linked on write)."""

    patient: Patient
    household: str


class PatientImporter(Importer):
    """Patients by MRN; a re-import with the same values changes nothing."""

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
        "hospice",
        "esrd",
    ]

    def load(self) -> None:
        self.by_mrn = self.context.patients_by_mrn()
        self.households = {h.name: h for h in Household.objects.all()}
        self.new_households: dict[str, Household] = {}
        self.household_links: list[HouseholdLink] = []

    def existing(self, key):
        return self.by_mrn.get(key)

    def parse(self, line, row):
        mrn = parsers.text(row, "mrn", required=True, max_length=40)
        email = identifiers.email(row, "email")
        birth = parsers.date(row, "date_of_birth")
        if birth > timezone.localdate():
            raise RowRejected(f"date_of_birth {birth} is in the future.")
        if birth.year < 1900:
            raise RowRejected(f"date_of_birth {birth} is before 1900.")
        ncpdp = parsers.cell(row, "home_pharmacy_ncpdp")
        home = None
        if ncpdp:
            home = self.context.pharmacies.get(ncpdp)
            if home is None:
                raise RowRejected(f"home_pharmacy_ncpdp {ncpdp} is not one of your pharmacies.")
        household_name = parsers.text(row, "household", max_length=200)
        current = self.by_mrn.get(mrn)
        values = {
            "first_name": parsers.text(row, "first_name", required=True, max_length=100),
            "last_name": parsers.text(row, "last_name", required=True, max_length=100),
            "date_of_birth": birth,
            "sex": parsers.choice(row, "sex", Sex, Sex.UNKNOWN),
            "phone": identifiers.phone(row, "phone", required=True),
            "email": email,
            "address_line1": parsers.text(row, "address_line1"),
            "address_line2": parsers.text(row, "address_line2"),
            "city": parsers.text(row, "city", max_length=100),
            "state": parsers.state(row, "state", states=STATES),
            "postal_code": parsers.text(row, "postal_code", max_length=10),
            "preferred_language": parsers.text(row, "preferred_language", max_length=8).lower()
            or "en",
            "home_pharmacy_id": home.pk if home else None,
            "household_id": None,
            "status": parsers.choice(row, "status", PatientStatus, PatientStatus.ACTIVE),
            # PDC exclusions (DOMAIN 6): an empty or absent column keeps what the record says.
            "hospice": parsers.flag(row, "hospice", default=getattr(current, "hospice", False)),
            "esrd": parsers.flag(row, "esrd", default=getattr(current, "esrd", False)),
        }
        new_household = ""
        if household_name:
            household = self.households.get(household_name)
            if household is not None:
                values["household_id"] = household.pk
            else:
                new_household = household_name
        return ParsedRow(mrn, values, new_household=new_household)

    def build(self, key, values):
        return Patient(organization=self.context.organization, mrn=key, **values)

    def remember_pending(self, key) -> None:
        self.context.pending_mrns.add(key)

    def patient_id_of(self, instance):
        return instance.pk

    def stage(self, parsed):
        instance = super().stage(parsed)
        name = parsed.new_household
        if name:
            # A household first named in this file: created in write(), linked there.
            self.new_households.setdefault(
                name, Household(organization=self.context.organization, name=name)
            )
            self.household_links.append(HouseholdLink(instance, name))
            if instance.pk is not None and instance not in self.updates:
                self.result.unchanged -= 1
                self.result.updated += 1
                self.updates.append(instance)
        return instance

    def write(self, progress):
        if self.new_households:
            Household.objects.bulk_create(list(self.new_households.values()))
            for link in self.household_links:
                link.patient.household_id = self.new_households[link.household].pk
        super().write(progress)
        self.context.patients_by_mrn(refresh=True)
