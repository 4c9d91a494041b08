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


DELIMITERS = (",", ";", "\t")  # comma; Excel's semicolon (European locales); tab
BOMS = ("\ufeff", "\u00ef\u00bb\u00bf")  # a UTF-8 byte order mark, decoded or read as cp1252


def delimiter_of(header_line: str) -> str:
    """The delimiter a header line uses: the most frequent of comma, semicolon and tab."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_problem(error: csv.Error, start: int) -> str:
    """What a malformed CSV record means, for the person who exported the file."""
    message = str(error)
    if "field larger than field limit" in message:
        return (
            f"a value is longer than {csv.field_size_limit():,} characters "
            "(is a quote left open?); the line was skipped."
        )
    if "expected after" in message:
        return (
            "a quoted value has text after its closing quote "
            '(a quote inside a value must be doubled: "").'
        )
    if "unexpected end of data" in message:
        return f"a quote opened on line {start} is never closed, so the rest of the file is lost."
    return f"the line is not valid CSV ({message})."


def read_rows(text: str) -> tuple[list[str], Iterator[tuple[int, dict | RowRejected]]]:
    """The normalised header (stripped, lower case) and each record with its first line number.

    A malformed record (an oversized value, bad quoting, a NUL character, more values than
    columns) comes out as a RowRejected saying why, so the rows around it still import.
    The delimiter is read from the header (comma, Excel's semicolon or tab); a BOM is dropped.
    """
    for bom in BOMS:
        if text.startswith(bom):
            text = text[len(bom) :]
    delimiter = delimiter_of(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        first = next(reader, [])
    except csv.Error as error:
        raise RowRejected(f"Line 1 (the header): {_csv_problem(error, 1)}") from None
    header = [name.strip().lower() for name in first]

    def rows():
        last = reader.line_num
        while True:
            start = last + 1
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                last = reader.line_num
                yield start, RowRejected(_csv_problem(error, start))
                if "unexpected end of data" in str(error):
                    return
                continue
            last = reader.line_num
            if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
                yield start, RowRejected("the row has more values than the header has columns.")
            elif any("\x00" in value for value in values):
                yield start, RowRejected("the line holds a NUL character (is this a text file?).")
            else:
                yield start, dict(zip(header, values, strict=False))

    return header, rows()


def file_kind(upload: ImportFileInput) -> str:
    """The kind of an uploaded file: the one given (checked) or the one its header shows."""
    if upload.kind == "fhir" or (
        not upload.kind and upload.text.lstrip("\ufeff \t\r\n").startswith("{")
    ):
        return "fhir"  # a FHIR R4 Bundle (JSON): patients.fhir maps it onto these layouts
    if upload.kind:
        if upload.kind not in COLUMNS:
            raise RowRejected(
                f"Unknown kind {upload.kind!r}: use one of {', '.join(KIND_ORDER)} or fhir."
            )
        return upload.kind
    header, _ = read_rows(upload.text.split("\n", 1)[0] + "\n")
    if not any(header):
        raise RowRejected("The file is empty: it needs a header row and at least one record.")
    return detect_kind(header)


def internal_csv_line(values) -> str:
    """One record, every value quoted (RFC 4180), for a CSV the importers read straight back
    (a FHIR Bundle's rows, a pushed row), never downloaded: values keep their text (no formula
    guard, which would change them); a line break inside a value becomes a space, so each
    record is one line (its source is found by line)."""
    return ",".join(
        '"' + " ".join(str(value).splitlines()).replace('"', '""') + '"' for value in values
    )
