"""Field parsers for identifiers whose rule lives in the project's shared validators.

Phone (E.164), email, NDC (11 digits) and NPI (check digit) are each defined once, in
`medsync.validators`, `patients.validators` or Django; these parsers only turn their
verdict into a RowRejected naming the column. No ORM.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from medsync.validators import normalize_phone, npi_check_digit_ok
from patients.imports.parsers import text
from patients.imports.results import RowRejected
from patients.validators import normalize_ndc


def phone(row: dict, column: str, *, required: bool) -> str:
    """A US phone number in any common form, returned as E.164; "" when empty and optional."""
    value = text(row, column, required=required, max_length=30)
    if not value:
        return ""
    try:
        return normalize_phone(value)
    except ValidationError:
        raise RowRejected(f"{column} {value!r} is not a valid phone number.") from None


def email(row: dict, column: str = "email") -> str:
    """An email address (optional); "" when empty."""
    value = text(row, column, max_length=254)
    if value:
        try:
            validate_email(value)
        except ValidationError:
            raise RowRejected(f"{column} {value!r} is not an email address.") from None
    return value


def ndc(raw: str, column: str = "ndc") -> str:
    """An NDC in any accepted form, returned as 11 digits (see patients.validators)."""
    try:
        return normalize_ndc(raw)
    except ValidationError as exc:
        raise RowRejected(f"{column} {raw!r}: {exc.messages[0]}") from None


def npi(row: dict, column: str = "prescriber_npi") -> str:
    """A prescriber's NPI (optional): 10 digits with a valid check digit; "" when empty."""
    value = text(row, column, max_length=10)
    if value and not npi_check_digit_ok(value):
        raise RowRejected(f"{column} {value} is not a valid NPI (check digit).")
    return value
