"""What every importer shares: the lookups of one run and the stage-then-write cycle.

An importer parses each row into a ParsedRow, stages it against what exists (create,
update or leave unchanged, counted in the FileResult) and, when the run applies, writes
the staged rows in bulk. Nothing is written while rows are being checked.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, models

from medsync.models import US_STATES, Organization, Pharmacy
from patients.imports.parsers import cell
from patients.imports.results import FileResult, RowRejected
from patients.models import Patient

BATCH_SIZE = 2000
STATES = frozenset(code for code, _ in US_STATES)  # what a state column accepts


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
        # A coverage file is part of this run (a preview cannot see its rows yet).
        self.coverage_file_seen = False
        self._patients: dict[str, Patient] | None = None

    def patients_by_mrn(self, refresh: bool = False) -> dict[str, Patient]:
        """The organization's patients by MRN (read once; `refresh` after patients are written)."""
        if self._patients is None or refresh:
            self._patients = {p.mrn: p for p in Patient.objects.all()}
        return self._patients

    def pharmacy_for(self, row: dict) -> Pharmacy:
        """The row's pharmacy (pharmacy_ncpdp), or the only one when the column is empty."""
        ncpdp = cell(row, "pharmacy_ncpdp")
        if ncpdp:
            pharmacy = self.pharmacies.get(ncpdp)
            if pharmacy is None:
                raise RowRejected(f"pharmacy_ncpdp {ncpdp} is not one of your pharmacies.")
            return pharmacy
        if self.only_pharmacy is None:
            raise RowRejected("pharmacy_ncpdp is empty and your organization has several.")
        return self.only_pharmacy

    def timezone_of(self, pharmacy: Pharmacy) -> zoneinfo.ZoneInfo:
        """The pharmacy's time zone: times in its files are its local time."""
        return zoneinfo.ZoneInfo(pharmacy.time_zone)


@dataclass
class ParsedRow:
    """A checked row: its natural key, the model field values, and links made at write time.

    `mrn`, `prescriber` and `new_household` name rows that may not exist yet while the file
    is checked (a patient of this run, a new prescriber, a household first named here).
    """

    key: Hashable
    values: dict
    mrn: str = ""
    prescriber: object | None = None
    new_household: str = ""


@dataclass(frozen=True)
class Bound:
    """The range a numeric column holds: a decimal's digits and places, an integer's range."""

    field: str
    column: str
    low: int | Decimal | None
    high: int | Decimal
    places: int | None = None


def bounds_of(model: type[models.Model], fields, columns: dict[str, str]) -> list[Bound]:
    """The numeric columns among `fields` of `model`, with what each can store."""
    found = []
    for name in fields:
        field = model._meta.get_field(name)
        column = columns.get(name, name.removesuffix("_id"))
        if isinstance(field, models.DecimalField):
            whole = field.max_digits - field.decimal_places
            found.append(Bound(name, column, None, Decimal(10) ** whole, field.decimal_places))
        elif isinstance(field, models.IntegerField) and not field.is_relation:
            low, high = connection.ops.integer_field_range(field.get_internal_type())
            found.append(Bound(name, column, low, high))
    return found


def check_bounds(bounds: list[Bound], values: dict) -> None:
    """Refuse a row whose value would not fit its column (checked at preview, not at apply)."""
    for bound in bounds:
        value = values.get(bound.field)
        if value is None:
            continue
        if bound.places is None:
            if value > bound.high or (bound.low is not None and value < bound.low):
                raise RowRejected(
                    f"{bound.column} {value} is out of range (at most {bound.high:,})."
                )
            continue
        if abs(value) >= bound.high:
            whole = len(str(bound.high)) - 1
            raise RowRejected(
                f"{bound.column} {value} is too large for its column "
                f"(at most {whole} digits before the point)."
            )
        if value.as_tuple().exponent < -bound.places and value != round(value, bound.places):
            raise RowRejected(
                f"{bound.column} {value} has more than {bound.places} decimal places."
            )


class Memo(dict):
    """A column whose cells repeat (a year of fills repeats its dates, quantities and pays):
    each distinct text is parsed, and checked against the column's bounds, once."""

    def __init__(self, column: str, parse: Callable[[dict, str], object], bounds=()):
        super().__init__()
        self.column = column
        self.parse = parse
        self.bounds = [b for b in bounds if b.column == column]

    def __missing__(self, raw: str):
        try:
            value = self.parse({self.column: raw}, self.column)
            if value is not None:
                check_bounds(self.bounds, {b.field: value for b in self.bounds})
            outcome = (True, value)
        except RowRejected as problem:
            outcome = (False, str(problem))
        self[raw] = outcome
        return outcome

    def read(self, row: dict):
        """The cell's value, or RowRejected saying why it cannot be read."""
        ok, value = self[row.get(self.column) or ""]
        if not ok:
            raise RowRejected(value)
        return value


class Importer:
    """One kind of file: parse and stage each row, then write the staged rows in bulk."""

    kind: str
    model: type
    compare_fields: list[str]
    columns: dict[str, str] = {}  # model field -> the CSV column it is read from, when renamed

    def __init__(self, context: Context, result: FileResult):
        self.context = context
        self.result = result
        self.creates: list = []
        self.updates: list = []
        self.bounds = bounds_of(self.model, self.compare_fields, self.columns)

    def load(self) -> None:
        """Read what the file's rows are matched against (a fixed number of queries)."""
        raise NotImplementedError

    def parse(self, line: int, row: dict) -> ParsedRow:
        """Check one row completely; raise RowRejected saying why it cannot be imported."""
        raise NotImplementedError

    def existing(self, key):
        """The stored record with this natural key, or None."""
        raise NotImplementedError

    def build(self, key, values: dict):
        """A new (unsaved) record for a key that does not exist yet."""
        raise NotImplementedError

    def patient_id_of(self, instance) -> int | None:
        """The patient a written record belongs to (for the audit), if any."""
        return None

    def remember_pending(self, key) -> None:
        """Note a key this file creates, so a later file of a preview can refer to it."""

    def finish(self) -> None:
        """After the last row is staged (preview and apply): settle the counts if the importer
        defers them (the fills file counts in the database)."""

    def touched(self) -> dict[int, dict[str, int]]:
        """Per patient id, how many of its records the write created and updated (the audit)."""
        touched: dict[int, dict[str, int]] = {}
        for what, instances in (("created", self.creates), ("updated", self.updates)):
            for instance in instances:
                patient_id = self.patient_id_of(instance)
                if patient_id is not None:
                    counts = touched.setdefault(patient_id, {})
                    counts[what] = counts.get(what, 0) + 1
        return touched

    def stage(self, parsed: ParsedRow):
        """Count the row as created, updated or unchanged and queue the write; return the record."""
        key, values = parsed.key, parsed.values
        check_bounds(self.bounds, values)
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

    def write(self, progress: Callable[[int], None]) -> None:
        """Create and update the staged records in bulk, reporting rows written."""
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
