"""Identifiers of the drug and payer world: NDC and BIN."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

# The three 10-digit NDC layouts (labeler-product-package) and where the pad zero goes.
_TEN_DIGIT_LAYOUTS = {(4, 4, 2): 0, (5, 3, 2): 1, (5, 4, 1): 2}


def normalize_ndc(value: str) -> str:
    """Return the 11-digit (5-4-2) NDC without hyphens, or raise ValidationError.

    Accepts 11 digits (with or without hyphens as 5-4-2) and the hyphenated 10-digit
    forms 4-4-2, 5-3-2 and 5-4-1. Ten bare digits are ambiguous and refused.
    """
    raw = (value or "").strip()
    if re.fullmatch(r"\d{11}", raw):
        return raw
    parts = raw.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        lengths = tuple(len(p) for p in parts)
        if lengths == (5, 4, 2):
            return "".join(parts)
        if lengths in _TEN_DIGIT_LAYOUTS:
            segment = _TEN_DIGIT_LAYOUTS[lengths]
            parts[segment] = "0" + parts[segment]
            return "".join(parts)
    if re.fullmatch(r"\d{10}", raw):
        raise ValidationError(
            "A 10-digit NDC needs its hyphens (4-4-2, 5-3-2 or 5-4-1) to be read unambiguously.",
            code="ndc_ambiguous",
        )
    raise ValidationError(
        "Enter an NDC as 11 digits or in the 4-4-2, 5-3-2, 5-4-1 or 5-4-2 hyphenated form.",
        code="ndc_format",
    )


def validate_ndc11(value: str) -> None:
    """Model validator: an NDC is stored as 11 bare digits (normalize_ndc makes them)."""
    if not re.fullmatch(r"\d{11}", value or ""):
        raise ValidationError("Store NDCs as 11 digits.", code="ndc_format")


def validate_bin(value: str) -> None:
    """Model validator: a BIN (IIN) routes a claim to its processor, exactly 6 digits."""
    if not re.fullmatch(r"\d{6}", value or ""):
        raise ValidationError("A BIN (IIN) is exactly 6 digits.", code="bin_format")


# ICD-10-CM: a letter, a digit, a digit or letter, then optionally a dot and 1-4 more
# characters (E11.9, I10, S72.001A). Stored upper case with the dot.
_ICD10CM = re.compile(r"^[A-Z][0-9][0-9A-Z](\.[0-9A-Z]{1,4})?$")


def normalize_icd10(value: str) -> str:
    """An ICD-10-CM code in its written form (E11.9), or ValidationError naming the format."""
    raw = (value or "").strip().upper()
    if re.fullmatch(r"[A-Z][0-9][0-9A-Z][0-9A-Z]{1,4}", raw):
        raw = f"{raw[:3]}.{raw[3:]}"  # E119 -> E11.9
    if not _ICD10CM.match(raw):
        raise ValidationError(
            "Not an ICD-10-CM code: a letter, two characters, then a dot and up to 4 more "
            "(E11.9, I10, S72.001A).",
            code="icd10",
        )
    return raw


def validate_icd10(value: str) -> None:
    if normalize_icd10(value) != value:
        raise ValidationError("Write the ICD-10-CM code in capitals with its dot (E11.9).")
