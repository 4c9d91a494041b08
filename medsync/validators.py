"""Validators for identifiers pharmacies live by (NPI, NCPDP, phone, time zone)."""

from __future__ import annotations

import re
import zoneinfo

import phonenumbers
from django.core.exceptions import ValidationError


def npi_check_digit_ok(npi: str) -> bool:
    """Luhn over the 9 leading digits with the 80840 card-issuer prefix (CMS NPI standard)."""
    if not re.fullmatch(r"\d{10}", npi or ""):
        return False
    digits = [int(c) for c in "80840" + npi[:9]]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:  # double every second digit from the right of the payload
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


def npi_with_check_digit(first_nine: str) -> str:
    """Complete nine digits into a valid NPI (for demo data and tests)."""
    for check in "0123456789":
        if npi_check_digit_ok(first_nine + check):
            return first_nine + check
    raise ValueError("unreachable: one check digit always fits")


def validate_npi(value: str) -> None:
    if not re.fullmatch(r"\d{10}", value or ""):
        raise ValidationError("An NPI is exactly 10 digits.", code="npi_format")
    if not npi_check_digit_ok(value):
        raise ValidationError(
            "This NPI's check digit is wrong: check for a typo.", code="npi_check"
        )


def validate_ncpdp_id(value: str) -> None:
    if not re.fullmatch(r"\d{7}", value or ""):
        raise ValidationError("An NCPDP ID is exactly 7 digits.", code="ncpdp_format")


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not an IANA time zone (for example America/Chicago).",
            params={"value": value},
            code="timezone",
        )


def normalize_phone(value: str, region: str = "US") -> str:
    """Parse a phone number and return it in E.164, or raise ValidationError."""
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ValidationError(
            "Enter a phone number such as +1 608 555 0134.", code="phone"
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError("This phone number is not a valid number.", code="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def validate_e164(value: str) -> None:
    if not re.fullmatch(r"\+[1-9]\d{6,14}", value or ""):
        raise ValidationError("Store phone numbers in E.164 form, like +16085550134.", code="e164")
    normalize_phone(value)
