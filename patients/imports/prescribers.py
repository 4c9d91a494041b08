"""Prescribers named in the prescriptions file: found by NPI, or made from the row's names."""

from __future__ import annotations

from medsync.models import Organization
from patients.imports import identifiers, parsers
from patients.imports.results import RowRejected
from patients.models import Prescriber


class PrescriberBook:
    """The organization's prescribers by NPI, plus the new ones this file introduces."""

    def __init__(self, organization: Organization):
        self.organization = organization
        self.known = {p.npi: p for p in Prescriber.objects.all()}
        self.new: dict[str, Prescriber] = {}

    def for_row(self, row: dict) -> Prescriber | None:
        """The row's prescriber (None without an NPI); an unknown NPI needs a last name."""
        npi = identifiers.npi(row, "prescriber_npi")
        if not npi:
            return None
        prescriber = self.known.get(npi) or self.new.get(npi)
        if prescriber is None:
            first = parsers.text(row, "prescriber_first_name", max_length=100)
            last = parsers.text(row, "prescriber_last_name", max_length=100)
            if not last:
                raise RowRejected(f"prescriber_npi {npi} is new: give prescriber_last_name too.")
            prescriber = Prescriber(
                organization=self.organization,
                npi=npi,
                first_name=first,
                last_name=last,
                phone=identifiers.phone(row, "prescriber_phone", required=False),
                fax=identifiers.phone(row, "prescriber_fax", required=False),
            )
        return prescriber

    def remember(self, prescriber: Prescriber | None) -> None:
        """Keep a new prescriber of a staged row, so later rows reuse it and write() saves it."""
        if prescriber is not None and prescriber.pk is None:
            self.new[prescriber.npi] = prescriber

    def write(self) -> None:
        """Create the new prescribers (one INSERT), before the prescriptions that name them."""
        if self.new:
            Prescriber.objects.bulk_create(list(self.new.values()))
