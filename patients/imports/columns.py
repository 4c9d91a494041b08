"""The column layout of each kind of file: the one place a column is declared.

Also how a file is read (CSV with a header row) and how its kind is recognised from that
header. The layouts are documented for pharmacies in README "Patient records".
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator

from patients.imports.results import ImportFileInput, RowRejected

# The order files are processed in: each kind refers to rows of the kinds before it.
KIND_ORDER = ("patients", "coverage", "prescriptions", "fills", "prices")

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
            "hospice",
            "esrd",
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
            "coinsurance_minimum",
            "coinsurance_maximum",
            "benefit_phase",
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
            "quantity_remaining",
            "coverage_member_id",
            "coverage_bin",
            "coverage_pcn",
            "coverage_group",
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
    # The pharmacy's price list: per dispensing unit (tablet, mL, gram, insulin unit, each).
    "prices": {
        "required": ["ndc", "acquisition_cost", "usual_and_customary"],
        "optional": ["pharmacy_ncpdp"],
    },
}


def detect_kind(header: Iterable[str]) -> str:
    """Name the kind of file a header belongs to, or raise RowRejected if none fits."""
    columns = {c.strip().lower() for c in header}
    if {"ndc", "acquisition_cost"} <= columns:
        return "prices"
    if {"rx_number", "fill_date"} <= columns:
        return "fills"
    if {"rx_number", "ndc"} <= columns:
        return "prescriptions"
    if {"payer_name", "plan_type"} <= columns:
        return "coverage"
    if {"mrn", "first_name"} <= columns:
        return "patients"
    raise RowRejected(
        "Unrecognised file: its header matches none of the patients, coverage, prescriptions, "
        "fills or prices layouts (see README 'Patient records')."
    )


def missing_columns(kind: str, header: list[str]) -> list[str]:
    """The required columns of `kind` that the header lacks, in layout order."""
    return [c for c in COLUMNS[kind]["required"] if c not in header]


def read_rows(text: str) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """The normalised header (stripped, lower case) and the rows with their line numbers."""
    handle = io.StringIO(text.lstrip("\ufeff"))
    reader = csv.DictReader(handle)
    header = [(name or "").strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header

    def rows():
        for row in reader:
            yield reader.line_num, row

    return header, rows()


def file_kind(upload: ImportFileInput) -> str:
    """The kind of an uploaded file: the one given (checked) or the one its header shows."""
    if upload.kind:
        if upload.kind not in COLUMNS:
            raise RowRejected(f"Unknown kind {upload.kind!r}: use one of {', '.join(KIND_ORDER)}.")
        return upload.kind
    header, _ = read_rows(upload.text.split("\n", 1)[0] + "\n")
    return detect_kind(header)
