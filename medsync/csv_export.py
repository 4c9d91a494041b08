"""CSV downloads that a spreadsheet cannot turn into formulas (CSV/formula injection).

A cell that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip
before reading the formula) runs as a formula when the file is opened: a patient named
`=HYPERLINK(...)` would send a pharmacist's click anywhere. Every such cell gets a leading
apostrophe, as OWASP recommends; numbers we write ourselves (ints, Decimals) stay numbers.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from decimal import Decimal

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """The value to write in one cell: text that a spreadsheet would run is quoted."""
    if value is None or isinstance(value, bool | int | float | Decimal):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


class SafeCsvWriter:
    """csv.writer with every cell passed through csv_safe; the one writer for downloads."""

    def __init__(self, stream, **options):
        self._writer = csv.writer(stream, **options)

    def writerow(self, row: Iterable):
        return self._writer.writerow([csv_safe(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(stream, **options) -> SafeCsvWriter:
    return SafeCsvWriter(stream, **options)
