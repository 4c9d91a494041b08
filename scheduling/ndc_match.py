"""Does the package in the technician's hand match the prescription's product?

A pure engine (no Django): the fill queue reads what was scanned or typed at the fill and
compares it with the prescription's NDC, stored as 11 digits (5-4-2). What a person or a
scanner gives is any of:

- 11 digits, bare or hyphenated 5-4-2 (the billing form);
- a 10-digit NDC with its hyphens, 4-4-2, 5-3-2 or 5-4-1 (the label form): exactly one
  11-digit NDC, the pad zero put in front of the short segment;
- 10 bare digits (a label read without hyphens, or the NDC inside a barcode): ambiguous, it
  may be any of the three layouts, so it matches when one of its three readings is the product;
- a UPC-A barcode, 12 digits: "3" + the 10-digit NDC + a check digit;
- a GTIN-14 (14 digits, "003" + NDC-10 + check) or a GS1 DataMatrix element string that starts
  with application identifier 01 and that GTIN, with or without parentheses, followed by the
  lot, expiry and serial the scanner also sends.

A barcode with a wrong check digit is refused (a misread), never guessed at.
"""

from __future__ import annotations

import re

# The three 10-digit layouts and which segment takes the pad zero.
TEN_DIGIT_LAYOUTS: dict[tuple[int, int, int], int] = {(4, 4, 2): 0, (5, 3, 2): 1, (5, 4, 1): 2}


class NdcFormatError(ValueError):
    """What was scanned or typed is no NDC form we read; the message says what is expected."""


def gs1_check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of `digits` (UPC-A, GTIN-14: weights 3,1,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return (10 - total % 10) % 10


def _pad(parts: list[str]) -> str:
    lengths = (len(parts[0]), len(parts[1]), len(parts[2]))
    segment = TEN_DIGIT_LAYOUTS[lengths]
    padded = list(parts)
    padded[segment] = "0" + padded[segment]
    return "".join(padded)


def readings_of_ndc10(ten: str) -> frozenset[str]:
    """The 11-digit NDCs 10 bare digits may stand for (one per layout)."""
    return frozenset(
        _pad([ten[:a], ten[a : a + b], ten[a + b :]]) for (a, b, _c) in TEN_DIGIT_LAYOUTS
    )


def _from_barcode(digits: str) -> frozenset[str]:
    if gs1_check_digit(digits[:-1]) != int(digits[-1]):
        raise NdcFormatError("The barcode's check digit is wrong: scan the package again.")
    body = digits[:-1]
    if len(digits) == 12:  # UPC-A: number system 3 + NDC-10
        if body[0] != "3":
            raise NdcFormatError("This barcode is not a drug's (a UPC for an NDC starts with 3).")
        return readings_of_ndc10(body[1:])
    # GTIN-14: indicator + "03" + NDC-10 (a GTIN-12 padded with two zeros: "00" + "3" + NDC)
    if body[1:3] != "03":
        raise NdcFormatError("This barcode is not a drug's (its GTIN holds no NDC).")
    return readings_of_ndc10(body[3:])


def ndc_readings(raw: str) -> frozenset[str]:
    """Every 11-digit NDC `raw` may stand for (one for an unambiguous form, up to three for
    10 bare digits). Raises NdcFormatError for anything else."""
    text = (raw or "").strip()
    if not text:
        raise NdcFormatError("Scan the package or type its NDC.")
    gs1 = re.fullmatch(r"\(01\)(\d{14})(?:\(.*)?|01(\d{14}).*", text, flags=re.DOTALL)
    if gs1:
        return _from_barcode(gs1.group(1) or gs1.group(2))
    compact = re.sub(r"\s+", "", text)
    if re.fullmatch(r"\d{11}", compact):
        return frozenset({compact})
    if re.fullmatch(r"\d{10}", compact):
        return readings_of_ndc10(compact)
    if re.fullmatch(r"\d{12}|\d{14}", compact):
        return _from_barcode(compact)
    parts = compact.split("-")
    if len(parts) == 3 and all(p.isdigit() for p in parts):
        lengths = tuple(len(p) for p in parts)
        if lengths == (5, 4, 2):
            return frozenset({"".join(parts)})
        if lengths in TEN_DIGIT_LAYOUTS:
            return frozenset({_pad(parts)})
    raise NdcFormatError(
        "Not an NDC: scan the package's barcode, or type 11 digits or the 10-digit NDC "
        "with its hyphens (4-4-2, 5-3-2 or 5-4-1)."
    )


def ndc_matches(raw: str, product_ndc: str) -> bool:
    """Whether `raw` (any form above) can be the product's 11-digit NDC. Raises NdcFormatError
    when `raw` is no NDC at all."""
    return product_ndc in ndc_readings(raw)


def format_ndc(ndc11: str) -> str:
    """The 11-digit NDC as people read it on a claim: 5-4-2."""
    return f"{ndc11[:5]}-{ndc11[5:9]}-{ndc11[9:]}" if len(ndc11) == 11 else ndc11
