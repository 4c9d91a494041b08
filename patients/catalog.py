"""The drug catalog: load `patients/data/drug_catalog.csv` into `Drug`, and search it.

`Drug` is shared reference data (not tenant-owned), so nothing here enters a tenant.

- `drug_catalog_parse(source)` validates every row (pure: no database) and returns
  `CatalogRow`s, or raises `CatalogError` listing every bad row by its line number.
- `drug_catalog_apply(rows, drug_model=...)` upserts parsed rows by NDC (used by the data
  migration with the historical model).
- `drug_catalog_load(path)` is the service: parse, then upsert in one transaction, audited.
  All or nothing: one bad row and nothing is written. Re-loading the same file changes
  nothing. Drugs that are no longer in the file are left alone (prescriptions refer to them).
- `drug_search(query)` finds drugs by brand or generic name, strength words, or any NDC form.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet

from patients.models import DeaSchedule, DosageForm, Drug, TherapeuticClass
from patients.validators import normalize_ndc

if TYPE_CHECKING:
    from medsync.models import User

CATALOG_PATH = Path(__file__).resolve().parent / "data" / "drug_catalog.csv"

COLUMNS = (
    "ndc",
    "name",
    "generic_name",
    "strength",
    "dosage_form",
    "package_size",
    "package_unit",
    "unit_of_use",
    "dea_schedule",
    "is_antibiotic",
    "is_specialty",
    "therapeutic_classes",
    "beyond_use_days",
)
PACKAGE_UNITS = ("EA", "ML", "GM", "UN")
# Forms that are dispensed in the original container and never split (DOMAIN 3).
UNIT_OF_USE_FORMS = {DosageForm.INHALER, DosageForm.PEN, DosageForm.VIAL, DosageForm.EYE_DROPS}
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0", ""}
_DEA_ALIASES = {
    "": "",
    "2": "2",
    "ii": "2",
    "cii": "2",
    "c2": "2",
    "3": "3",
    "iii": "3",
    "ciii": "3",
    "c3": "3",
    "4": "4",
    "iv": "4",
    "civ": "4",
    "c4": "4",
    "5": "5",
    "v": "5",
    "cv": "5",
    "c5": "5",
}
_MAX_LENGTHS = {"name": 200, "generic_name": 200, "strength": 100}


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class CatalogError(Exception):
    """The catalog file has bad rows; nothing was loaded."""

    def __init__(self, errors: list[RowError]):
        self.errors = errors
        shown = "\n".join(str(error) for error in errors[:50])
        more = f"\n... and {len(errors) - 50} more" if len(errors) > 50 else ""
        super().__init__(f"The drug catalog has {len(errors)} error(s):\n{shown}{more}")


@dataclass(frozen=True)
class CatalogRow:
    """One validated catalog row, in the shape of `Drug`'s fields."""

    line: int
    ndc: str
    name: str
    generic_name: str
    strength: str
    dosage_form: str
    package_size: Decimal
    package_unit: str
    unit_of_use: bool
    dea_schedule: str
    is_antibiotic: bool
    is_specialty: bool
    therapeutic_classes: tuple[str, ...]
    beyond_use_days: int | None

    def drug_values(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "line"}
        values["therapeutic_classes"] = list(self.therapeutic_classes)
        return values


@dataclass(frozen=True)
class LoadCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


# --------------------------------------------------------------------------- parsing


def _text(raw: dict[str, str], name: str, line: int, errors: list[RowError]) -> str:
    value = (raw.get(name) or "").strip()
    if not value:
        errors.append(RowError(line, name, "is required."))
    elif len(value) > _MAX_LENGTHS[name]:
        errors.append(RowError(line, name, f"is longer than {_MAX_LENGTHS[name]} characters."))
    return value


def _boolean(raw: dict[str, str], name: str, line: int, errors: list[RowError]) -> bool:
    value = (raw.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value not in _FALSE:
        errors.append(RowError(line, name, f"{value!r} is not true or false."))
    return False


def _parse_row(raw: dict[str, str], line: int, errors: list[RowError]) -> CatalogRow | None:
    before = len(errors)

    ndc = ""
    try:
        ndc = normalize_ndc(raw.get("ndc") or "")
    except ValidationError as exc:
        errors.append(RowError(line, "ndc", f"{(raw.get('ndc') or '')!r}: {exc.messages[0]}"))

    name = _text(raw, "name", line, errors)
    generic_name = _text(raw, "generic_name", line, errors)
    strength = _text(raw, "strength", line, errors)

    dosage_form = (raw.get("dosage_form") or "").strip().lower()
    if dosage_form not in DosageForm.values:
        errors.append(
            RowError(
                line,
                "dosage_form",
                f"{dosage_form!r} is not one of {', '.join(DosageForm.values)}.",
            )
        )

    package_size = Decimal("0")
    raw_size = (raw.get("package_size") or "").strip()
    try:
        package_size = Decimal(raw_size)
        if not package_size.is_finite() or package_size <= 0:
            raise InvalidOperation
        if package_size.as_tuple().exponent < -3 or package_size >= Decimal("10000000"):
            errors.append(RowError(line, "package_size", f"{raw_size!r} needs at most 3 decimals."))
    except InvalidOperation:
        errors.append(RowError(line, "package_size", f"{raw_size!r} is not a positive number."))

    package_unit = (raw.get("package_unit") or "").strip().upper()
    if package_unit not in PACKAGE_UNITS:
        errors.append(
            RowError(
                line, "package_unit", f"{package_unit!r} is not one of {', '.join(PACKAGE_UNITS)}."
            )
        )

    unit_of_use = _boolean(raw, "unit_of_use", line, errors)
    is_antibiotic = _boolean(raw, "is_antibiotic", line, errors)
    is_specialty = _boolean(raw, "is_specialty", line, errors)

    raw_dea = (raw.get("dea_schedule") or "").strip().lower()
    dea_schedule = _DEA_ALIASES.get(raw_dea)
    if dea_schedule is None:
        errors.append(
            RowError(line, "dea_schedule", f"{raw_dea!r} is not blank, 2, 3, 4 or 5 (CII-CV).")
        )
        dea_schedule = DeaSchedule.NONE.value

    classes: list[str] = []
    for part in (raw.get("therapeutic_classes") or "").split("|"):
        value = part.strip().lower()
        if not value:
            continue
        if value not in TherapeuticClass.values:
            errors.append(
                RowError(line, "therapeutic_classes", f"{value!r} is not a therapeutic class.")
            )
        elif value not in classes:
            classes.append(value)

    beyond_use_days: int | None = None
    raw_bud = (raw.get("beyond_use_days") or "").strip()
    if raw_bud:
        if re.fullmatch(r"\d+", raw_bud) and int(raw_bud) > 0:
            beyond_use_days = int(raw_bud)
        else:
            errors.append(
                RowError(line, "beyond_use_days", f"{raw_bud!r} is not a whole number of days.")
            )

    # Cross-field rules a pharmacist would expect of the catalog.
    if TherapeuticClass.INSULIN in classes and package_unit != "UN":
        errors.append(RowError(line, "package_unit", "insulin is packaged in units (UN)."))
    if dosage_form == DosageForm.EYE_DROPS and package_unit != "ML":
        errors.append(RowError(line, "package_unit", "eye drops are packaged in mL (ML)."))
    if dosage_form in UNIT_OF_USE_FORMS and not unit_of_use:
        errors.append(
            RowError(line, "unit_of_use", f"a {dosage_form} is dispensed whole: set it true.")
        )
    if is_antibiotic != (TherapeuticClass.ANTIBIOTIC in classes):
        errors.append(
            RowError(
                line, "is_antibiotic", "must be true exactly when the class list has antibiotic."
            )
        )

    if len(errors) > before:
        return None
    return CatalogRow(
        line=line,
        ndc=ndc,
        name=name,
        generic_name=generic_name,
        strength=strength,
        dosage_form=dosage_form,
        package_size=package_size,
        package_unit=package_unit,
        unit_of_use=unit_of_use,
        dea_schedule=dea_schedule,
        is_antibiotic=is_antibiotic,
        is_specialty=is_specialty,
        therapeutic_classes=tuple(classes),
        beyond_use_days=beyond_use_days,
    )


def drug_catalog_parse(source: Path | str | io.TextIOBase) -> list[CatalogRow]:
    """Validate a catalog CSV (a path or an open text file). Raises CatalogError.

    Line numbers are the file's own: the header is line 1.
    """
    if isinstance(source, (str, Path)):
        with open(source, encoding="utf-8-sig", newline="") as handle:
            return _parse_handle(handle)
    return _parse_handle(source)


def _parse_handle(handle: Iterable[str]) -> list[CatalogRow]:
    reader = csv.DictReader(handle)
    header = [name.strip() for name in (reader.fieldnames or [])]
    missing = [name for name in COLUMNS if name not in header]
    unknown = [name for name in header if name not in COLUMNS]
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing column(s) {', '.join(missing)}")
        if unknown:
            problems.append(f"unknown column(s) {', '.join(unknown)}")
        raise CatalogError([RowError(1, "header", "; ".join(problems) + ".")])
    reader.fieldnames = header

    errors: list[RowError] = []
    rows: list[CatalogRow] = []
    first_line_of: dict[str, int] = {}
    for raw in reader:
        line = reader.line_num
        if None in raw:  # more cells than columns
            errors.append(RowError(line, "row", f"has {len(header) + len(raw[None])} cells."))
            continue
        if not any((value or "").strip() for value in raw.values()):
            continue  # blank line
        row = _parse_row(raw, line, errors)
        if row is None:
            continue
        if row.ndc in first_line_of:
            errors.append(
                RowError(line, "ndc", f"{row.ndc} repeats line {first_line_of[row.ndc]}.")
            )
            continue
        first_line_of[row.ndc] = line
        rows.append(row)
    if errors:
        raise CatalogError(errors)
    if not rows:
        raise CatalogError([RowError(1, "file", "has no drug rows.")])
    return rows


# --------------------------------------------------------------------------- writing


def drug_catalog_apply(rows: list[CatalogRow], *, drug_model: type = Drug) -> LoadCounts:
    """Upsert parsed rows by NDC (one read, one bulk insert, one bulk update).

    Takes the model class so the data migration can pass its historical model.
    """
    existing = {d.ndc: d for d in drug_model.objects.filter(ndc__in=[row.ndc for row in rows])}
    to_create, to_update = [], []
    unchanged = 0
    update_fields = [name for name in COLUMNS if name != "ndc"]
    for row in rows:
        values = row.drug_values()
        drug = existing.get(row.ndc)
        if drug is None:
            to_create.append(drug_model(**values))
            continue
        changed = False
        for name in update_fields:
            if getattr(drug, name) != values[name]:
                setattr(drug, name, values[name])
                changed = True
        if changed:
            to_update.append(drug)
        else:
            unchanged += 1
    if to_create:
        drug_model.objects.bulk_create(to_create, batch_size=500)
    if to_update:
        drug_model.objects.bulk_update(to_update, update_fields, batch_size=500)
    return LoadCounts(created=len(to_create), updated=len(to_update), unchanged=unchanged)


@transaction.atomic
def drug_catalog_load(path: Path | str = CATALOG_PATH, *, actor: User | None = None) -> LoadCounts:
    """Load (or refresh) the catalog from a CSV file: all rows or none. Audited."""
    from medsync.services import audit_record

    rows = drug_catalog_parse(path)
    counts = drug_catalog_apply(rows)
    audit_record(
        action="patients.drug_catalog.loaded",
        actor=actor,
        organization=None,
        object_type="patients.drug",
        metadata={
            "file": Path(path).name,
            "created": counts.created,
            "updated": counts.updated,
            "unchanged": counts.unchanged,
        },
    )
    return counts


# --------------------------------------------------------------------------- reading

_NDC_LIKE = re.compile(r"^[\d-]+$")


def _ndc_candidates(query: str) -> list[str] | None:
    """11-digit NDCs a query can mean, or None if it is not NDC-shaped."""
    if not _NDC_LIKE.fullmatch(query) or sum(c.isdigit() for c in query) < 10:
        return None
    try:
        return [normalize_ndc(query)]
    except ValidationError:
        pass
    if re.fullmatch(r"\d{10}", query):
        # Bare 10 digits: 4-4-2, 5-3-2 or 5-4-1 with the zero in the labeler, product or
        # package segment. Try all three; at most a few rows match.
        return [f"0{query}", f"{query[:5]}0{query[5:]}", f"{query[:9]}0{query[9:]}"]
    return []


def _ndc_prefixes(query: str) -> list[str]:
    """11-digit prefixes for a partial NDC: '00071', '0071-0155', '00071-0155-2'."""
    parts = query.strip("-").split("-")
    if len(parts) == 1:
        return [parts[0]] if len(parts[0]) >= 4 else []
    labeler, product = parts[0], parts[1]
    rest = "".join(parts[2:])
    if len(labeler) == 4:
        labeler = "0" + labeler
    if len(labeler) != 5 or not 1 <= len(product) <= 4:
        return []
    if rest:
        product = product.rjust(4, "0")
    prefixes = {labeler + product + rest}
    if len(product) == 3 and not rest:
        prefixes.add(labeler + "0" + product)
    return sorted(prefixes)


def drug_search(query: str) -> QuerySet[Drug]:
    """Drugs matching a brand or generic name (every word must match name, generic name or
    strength), or an NDC in any form (11 digits, 5-4-2, 4-4-2, 5-3-2, 5-4-1, or a prefix of
    at least 4 digits). Ordered by name and strength; the caller paginates.
    """
    query = " ".join((query or "").split())
    if not query:
        return Drug.objects.none()
    candidates = _ndc_candidates(query)
    if candidates is not None:
        return Drug.objects.filter(ndc__in=candidates).order_by("name", "strength")
    if _NDC_LIKE.fullmatch(query):
        prefixes = _ndc_prefixes(query)
        if prefixes:
            condition = Q()
            for prefix in prefixes:
                condition |= Q(ndc__startswith=prefix)
            return Drug.objects.filter(condition).order_by("name", "strength", "ndc")
    condition = Q()
    for word in query.split(" "):
        condition &= (
            Q(name__icontains=word) | Q(generic_name__icontains=word) | Q(strength__icontains=word)
        )
    return Drug.objects.filter(condition).order_by("name", "strength", "ndc")
