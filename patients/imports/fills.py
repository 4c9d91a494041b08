"""The fills file: dispensing history, matched by prescription (pharmacy + rx) + fill date."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from patients.imports import parsers
from patients.imports.base import Importer, ParsedRow
from patients.imports.results import RowRejected
from patients.models import Fill, Prescription


class FillImporter(Importer):
    """Fills; pickup and return times are read in the pharmacy's time zone."""

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
        self.prescriptions_by_id = {p.pk: p for p in self.prescriptions.values()}
        self.by_key = {
            (f.prescription_id, f.fill_date): f
            for f in Fill.objects.only("id", "prescription_id", "fill_date", *self.compare_fields)
        }

    def existing(self, key):
        return self.by_key.get(key)

    def parse(self, line, row):
        pharmacy = self.context.pharmacy_for(row)
        rx_number = parsers.text(row, "rx_number", required=True, max_length=20)
        prescription = self.prescriptions.get((pharmacy.pk, rx_number))
        fill_date = parsers.date(row, "fill_date")
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
        picked_up = parsers.date_time(row, "picked_up_at", tz)
        returned = parsers.date_time(row, "returned_to_stock_at", tz)
        if picked_up and returned:
            raise RowRejected("a fill cannot be both picked up and returned to stock.")
        scc = parsers.scc_codes(row, "scc_codes")
        values = {
            "quantity": parsers.decimal(row, "quantity", positive=True),
            "days_supply": parsers.integer(row, "days_supply", positive=True),
            "fill_number": parsers.integer(row, "fill_number", required=False),
            "scc_codes": scc,
            "patient_pay": (
                parsers.decimal(row, "patient_pay", required=False, minimum=Decimal("0"))
                or Decimal("0")
            ).quantize(Decimal("0.01")),
            "picked_up_at": picked_up,
            "returned_to_stock_at": returned,
        }
        return ParsedRow(key, values)

    def build(self, key, values):
        prescription_id, fill_date = key
        return Fill(
            organization=self.context.organization,
            prescription_id=prescription_id,
            fill_date=fill_date,
            **values,
        )

    def patient_id_of(self, instance):
        prescription = self.prescriptions_by_id.get(instance.prescription_id)
        return prescription.patient_id if prescription else None
