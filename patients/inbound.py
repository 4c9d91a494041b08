"""Pushes from a pharmacy system (medsync.webhooks): a new prescription or fill, checked and
written exactly as an import's row is (the same parsers, bounds, natural keys and writers,
`patients.imports.run_import`), so a push and a nightly file can never disagree.

`data` names the import layout's columns (README "Importing from the pharmacy system"): a
prescription by rx_number, mrn, ndc, ...; a fill by rx_number, fill_date, quantity, ...; the
pharmacy by pharmacy_ncpdp (optional when the organization has one). A rejected row is a
ValidationError with the import's reason; a push of a row that exists updates it (or changes
nothing), as a re-import does. A push acts for no member: it sees the whole organization.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError

from medsync.tenancy import current_organization
from patients.imports import parsers
from patients.imports.columns import COLUMNS, internal_csv_line
from patients.imports.results import ImportFileInput
from patients.imports.run import run_import
from patients.models import Fill, Prescription


def _as_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)  # scc_codes: 47;48
    return str(value)


def _one_row_file(kind: str, data: dict) -> ImportFileInput:
    layout = COLUMNS[kind]
    known = [*layout["required"], *layout["optional"]]
    errors = {
        name: [f"Not a column of the {kind} import layout."] for name in data if name not in known
    }
    errors.update(
        {name: ["Required."] for name in layout["required"] if _as_cell(data.get(name)) == ""}
    )
    if errors:
        raise ValidationError(errors)
    header = [name for name in known if name in data]
    text = ",".join(header) + "\n" + internal_csv_line(_as_cell(data[n]) for n in header) + "\n"
    return ImportFileInput(f"push-{kind}.csv", text, kind)


def _import_one(kind: str, data: dict) -> dict:
    [result] = run_import(current_organization(), [_one_row_file(kind, data)], apply=True)
    if result.errors:
        raise ValidationError({"data": [problem.reason for problem in result.errors]})
    change = "created" if result.created else "updated" if result.updated else "unchanged"
    return {"change": change}


def _pharmacy_filter(data: dict, prefix: str = "") -> dict:
    ncpdp = _as_cell(data.get("pharmacy_ncpdp")).strip()
    return {f"{prefix}pharmacy__ncpdp_id": ncpdp} if ncpdp else {}


def prescription_pushed(data: dict) -> dict:
    answer = _import_one("prescriptions", data)
    rx = Prescription.objects.filter(
        rx_number=_as_cell(data["rx_number"]).strip(), **_pharmacy_filter(data)
    ).first()
    return {"id": str(rx.public_id), **answer}


def fill_pushed(data: dict) -> dict:
    answer = _import_one("fills", data)
    # The import accepted the row, so its date parses the same way here.
    fill_date = parsers.date({"fill_date": _as_cell(data["fill_date"])}, "fill_date")
    fill = Fill.objects.filter(
        prescription__rx_number=_as_cell(data["rx_number"]).strip(),
        fill_date=fill_date,
        **_pharmacy_filter(data, "prescription__"),
    ).first()
    return {"id": str(fill.public_id), **answer}
