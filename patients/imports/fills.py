"""The fills file: dispensing history, matched by prescription (pharmacy + rx) + fill date.

The biggest file a pharmacy sends (a year of history is tens of thousands of rows), so it is
read without model instances: what exists is loaded as tuples, each row is checked in Python
(line-numbered problems), and the good rows are written by one COPY and one set-based upsert
(copy.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from functools import partial

from django.utils import timezone

from patients.imports import parsers
from patients.imports.base import Importer, Memo, ParsedRow
from patients.imports.copy import count_staged, stage_rows, upsert_staged
from patients.imports.results import RowRejected
from patients.models import Fill, Prescription

CENTS = Decimal("0.01")
NULL = "\\N"  # COPY's null


@dataclass(slots=True)
class StagedFill:
    """A checked fill to write: its prescription, day and values (no model instance)."""

    prescription_id: int | tuple
    fill_date: object
    values: dict


def _pay(row: dict, column: str) -> Decimal:
    """The patient's pay in cents (0 when empty)."""
    pay = parsers.decimal(row, column, required=False, minimum=Decimal("0"))
    return (pay or Decimal("0")).quantize(CENTS)


def _copy_line(staged: StagedFill) -> str:
    """The COPY line of a staged fill (the fields of FillImporter.finish, in order)."""
    v = staged.values
    scc = "{" + ",".join(map(str, v["scc_codes"])) + "}"
    picked, returned = v["picked_up_at"], v["returned_to_stock_at"]
    return (
        f"{staged.prescription_id}\t{staged.fill_date}\t{v['quantity']}\t{v['days_supply']}\t"
        f"{v['fill_number']}\t{scc}\t{v['patient_pay']}\t"
        f"{picked.isoformat() if picked else NULL}\t"
        f"{returned.isoformat() if returned else NULL}\n"
    )


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
        rows = Prescription.objects.values_list(
            "id", "pharmacy_id", "rx_number", "written_date", "patient_id"
        )
        self.prescriptions = {(ph, rx): (pk, written) for pk, ph, rx, written, _ in rows}
        self.patient_of = {pk: patient for pk, _, _, _, patient in rows}
        self.today = timezone.localdate()
        self.memo = self._memos()

    def parse(self, line, row):
        """Check one fill row: each column's distinct texts are parsed once (Memo), so a
        row costs a few lookups; the shared parsers word every rejection."""
        memo = self.memo
        pharmacy = memo["pharmacy"].read(row)
        rx_number = memo["rx_number"].read(row)
        fill_date = memo["fill_date"].read(row)
        prescription = self.prescriptions.get((pharmacy.pk, rx_number))
        if prescription is None:
            if (pharmacy.pk, rx_number) not in self.context.pending_rx:
                raise RowRejected(f"rx_number {rx_number} matches no prescription.")
            key = (("pending", pharmacy.pk, rx_number), fill_date)
        else:
            prescription_id, written = prescription
            if fill_date < written:
                raise RowRejected(
                    f"fill_date {fill_date} is before the prescription was written ({written})."
                )
            key = (prescription_id, fill_date)
        if fill_date > self.today:
            raise RowRejected(f"fill_date {fill_date} is in the future.")
        picked_up = returned = None
        if row.get("picked_up_at") or row.get("returned_to_stock_at"):
            tz = self.context.timezone_of(pharmacy)
            picked_up = parsers.date_time(row, "picked_up_at", tz)
            returned = parsers.date_time(row, "returned_to_stock_at", tz)
            if picked_up and returned:
                raise RowRejected("a fill cannot be both picked up and returned to stock.")
        values = {
            "quantity": memo["quantity"].read(row),
            "days_supply": memo["days_supply"].read(row),
            "fill_number": memo["fill_number"].read(row),
            "scc_codes": memo["scc_codes"].read(row),
            "patient_pay": memo["patient_pay"].read(row),
            "picked_up_at": picked_up,
            "returned_to_stock_at": returned,
        }
        return ParsedRow(key, values)

    def _memos(self) -> dict[str, Memo]:
        """How each repeating column is read (see parse)."""
        bounds = self.bounds
        return {
            "pharmacy": Memo("pharmacy_ncpdp", lambda row, _: self.context.pharmacy_for(row)),
            "rx_number": Memo(
                "rx_number", partial(parsers.text, required=True, max_length=20), bounds
            ),
            "fill_date": Memo("fill_date", parsers.date),
            "quantity": Memo("quantity", partial(parsers.decimal, positive=True), bounds),
            "days_supply": Memo("days_supply", partial(parsers.integer, positive=True), bounds),
            "fill_number": Memo("fill_number", partial(parsers.integer, required=False), bounds),
            "scc_codes": Memo("scc_codes", parsers.scc_codes),
            "patient_pay": Memo("patient_pay", _pay, bounds),
        }

    def stage(self, parsed):
        """Keep the checked row; whether it creates, changes or leaves a fill is counted in
        the database when the file is done (finish)."""
        prescription_id, fill_date = parsed.key
        staged = StagedFill(prescription_id, fill_date, parsed.values)
        if isinstance(prescription_id, tuple):
            self.result.created += 1  # a prescription of this preview's files: all new
        else:
            self.creates.append(staged)
        return staged

    def finish(self):
        """COPY the rows into a staging table and count what they would create and change."""
        self.written: list[tuple] = []
        if not self.creates:
            return
        fields = ["prescription_id", "fill_date", *self.compare_fields]
        stage_rows(Fill, fields, map(_copy_line, self.creates))
        created, updated, unchanged = count_staged(
            Fill,
            keys=["prescription_id", "fill_date"],
            compare=self.compare_fields,
            organization_id=self.context.organization.pk,
        )
        self.result.created += created
        self.result.updated += updated
        self.result.unchanged += unchanged

    def write(self, progress):
        """One set-based upsert of the staged rows on (prescription, fill date)."""
        if not self.creates:
            return
        self.written = upsert_staged(
            Fill,
            ["prescription_id", "fill_date", *self.compare_fields],
            keys=["prescription_id", "fill_date"],
            update=self.compare_fields,
            organization_id=self.context.organization.pk,
            returning="prescription_id",
        )
        progress(len(self.written))

    def touched(self):
        touched: dict[int, dict[str, int]] = {}
        for prescription_id, inserted in self.written:
            patient_id = self.patient_of.get(prescription_id)
            if patient_id is not None:
                counts = touched.setdefault(patient_id, {})
                what = "created" if inserted else "updated"
                counts[what] = counts.get(what, 0) + 1
        return touched
