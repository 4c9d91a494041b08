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


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d$")
TOKEN_ENV_PREFIX = "TWILIO_AUTH_TOKEN_"  # noqa: S105 - a name prefix, not a secret
_ENV_NAME = re.compile(rf"^{TOKEN_ENV_PREFIX}[A-Z0-9_]{{1,80}}$")


def validate_hours(value) -> None:
    """Opening hours: {"mon": "09:00-18:00", ..., "sun": ""}; blank means closed that day."""
    if not isinstance(value, dict) or set(value) - set(WEEKDAYS):
        raise ValidationError(
            'Give hours per weekday (mon..sun), like {"mon": "09:00-18:00"}.', code="hours"
        )
    for day, span in value.items():
        if span in ("", None):
            continue
        if not isinstance(span, str) or not _HOURS.match(span) or span[:5] >= span[6:]:
            raise ValidationError(
                "%(day)s: write opening hours as HH:MM-HH:MM (opening before closing), "
                "or leave it blank for closed.",
                params={"day": day},
                code="hours",
            )
    if all(value.get(day) in ("", None) for day in WEEKDAYS):
        raise ValidationError("The pharmacy is open at least one day a week.", code="hours")


def validate_closed_dates(value) -> None:
    """Holidays and other closed dates: a list of YYYY-MM-DD strings (at most 366)."""
    import datetime as dt

    if not isinstance(value, list) or len(value) > 366:
        raise ValidationError("Give closed dates as a list of YYYY-MM-DD.", code="closed_dates")
    for item in value:
        try:
            day = dt.date.fromisoformat(item) if isinstance(item, str) else None
        except ValueError:
            day = None
        if day is None or not 2000 <= day.year <= 2099:
            raise ValidationError(
                "%(item)s is not a date like 2026-12-25.",
                params={"item": str(item)[:20]},
                code="closed_dates",
            )


def validate_token_env_name(value: str) -> None:
    """The NAME of the environment variable holding a Twilio auth token, never the token.

    Only variables made for this purpose (TWILIO_AUTH_TOKEN_...) may be named, so a setting
    can never make the app send another secret (SECRET_KEY, DATABASE_URL) to Twilio.
    """
    if not _ENV_NAME.match(value or ""):
        raise ValidationError(
            f"Give the NAME of an environment variable that starts with {TOKEN_ENV_PREFIX} "
            "(capitals, digits, underscores), for example TWILIO_AUTH_TOKEN_MAPLE: the token "
            "itself never goes in MedSync.",
            code="env_name",
        )
