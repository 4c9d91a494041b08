"""X12 837P (005010X222A1) professional claims, written from plain dataclasses (pure).

One interchange (ISA/IEA) holds one functional group (GS/GE) holding one transaction
(ST/SE): the submitter (1000A) and receiver (1000B), one billing provider (2000A/2010AA),
then per claim a subscriber (2000B/2010BA, the patient is the subscriber: SBR02 = 18) with
the payer (2010BB), the claim (2300: CLM, HI diagnoses, 2310B rendering provider) and its
service lines (2400: LX, SV1, DTP*472). Segment terminator `~` and a newline; element
separator `*`, component `:`, repetition `^`.

    write_837p(Interchange(...)) -> str
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from decimal import Decimal

VERSION = "005010X222A1"
SEGMENT_END = "~\n"
_UNSAFE = re.compile(r"[*~:^\n\r]")


@dataclass(frozen=True)
class Address:
    line1: str
    city: str
    state: str
    postal_code: str
    line2: str = ""


@dataclass(frozen=True)
class BillingProvider:
    name: str
    npi: str
    tax_id: str
    address: Address
    taxonomy_code: str = "3336C0003X"
    contact_name: str = ""
    contact_phone: str = ""


@dataclass(frozen=True)
class Line:
    code: str
    charge: Decimal
    units: int
    service_date: dt.date
    modifiers: tuple[str, ...] = ()
    diagnosis_pointers: tuple[int, ...] = (1,)
    place_of_service: str = "01"


@dataclass(frozen=True)
class Claim:
    claim_id: str
    patient_last: str
    patient_first: str
    birth_date: dt.date
    sex: str  # M, F or U
    member_id: str
    patient_address: Address | None
    payer_name: str
    payer_id: str
    diagnosis_codes: tuple[str, ...]
    lines: tuple[Line, ...]
    rendering_last: str
    rendering_first: str
    rendering_npi: str
    claim_filing: str = "CI"  # SBR09: CI commercial, MB Medicare Part B, MC Medicaid

    @property
    def total(self) -> Decimal:
        return sum((line.charge for line in self.lines), Decimal("0"))


@dataclass(frozen=True)
class Interchange:
    control_number: int
    sender_id: str
    receiver_id: str
    receiver_name: str
    created_at: dt.datetime
    provider: BillingProvider
    claims: tuple[Claim, ...] = field(default_factory=tuple)
    production: bool = True


def _clean(value) -> str:
    return _UNSAFE.sub(" ", str(value)).strip().upper()


def _money(value: Decimal) -> str:
    text = f"{Decimal(value).quantize(Decimal('0.01'))}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _segment(*elements) -> str:
    parts = [_clean(e) if not isinstance(e, _Raw) else e.text for e in elements]
    while parts and parts[-1] == "":
        parts.pop()
    return "*".join(parts)


class _Raw:
    """An element written as is (composites and fixed-width ISA fields)."""

    def __init__(self, text: str):
        self.text = text


def _composite(*components) -> _Raw:
    parts = [_clean(c) for c in components]
    while parts and parts[-1] == "":
        parts.pop()
    return _Raw(":".join(parts))


def _address(address: Address) -> list[str]:
    segments = [_segment("N3", address.line1, address.line2)]
    segments.append(_segment("N4", address.city, address.state, address.postal_code))
    return segments


def transaction_segments(interchange: Interchange) -> list[str]:
    """ST through SE of the one transaction."""
    provider = interchange.provider
    when = interchange.created_at
    body = [
        _segment("ST", "837", "0001", VERSION),
        _segment(
            "BHT",
            "0019",
            "00",
            f"{interchange.control_number:09d}",
            when.strftime("%Y%m%d"),
            when.strftime("%H%M"),
            "CH",
        ),
        # 1000A submitter, 1000B receiver.
        _segment("NM1", "41", "2", provider.name, "", "", "", "", "46", interchange.sender_id),
        _segment("PER", "IC", provider.contact_name or provider.name, "TE", provider.contact_phone),
        _segment(
            "NM1",
            "40",
            "2",
            interchange.receiver_name,
            "",
            "",
            "",
            "",
            "46",
            interchange.receiver_id,
        ),
        # 2000A billing provider, 2010AA its name, address and tax ID.
        _segment("HL", "1", "", "20", "1"),
        _segment("PRV", "BI", "PXC", provider.taxonomy_code),
        _segment("NM1", "85", "2", provider.name, "", "", "", "", "XX", provider.npi),
        *_address(provider.address),
        _segment("REF", "EI", provider.tax_id),
    ]
    hl = 1
    for claim in interchange.claims:
        hl += 1
        body += _claim_segments(claim, hl)
    body.append(_segment("SE", str(len(body) + 1), "0001"))
    return body


def _claim_segments(claim: Claim, hl: int) -> list[str]:
    out = [
        # 2000B subscriber (the patient: no 2000C), 2010BA subscriber, 2010BB payer.
        _segment("HL", str(hl), "1", "22", "0"),
        _segment("SBR", "P", "18", "", "", "", "", "", "", claim.claim_filing),
        _segment(
            "NM1",
            "IL",
            "1",
            claim.patient_last,
            claim.patient_first,
            "",
            "",
            "",
            "MI",
            claim.member_id,
        ),
    ]
    if claim.patient_address is not None:
        out += _address(claim.patient_address)
    out.append(_segment("DMG", "D8", claim.birth_date.strftime("%Y%m%d"), claim.sex or "U"))
    out.append(_segment("NM1", "PR", "2", claim.payer_name, "", "", "", "", "PI", claim.payer_id))
    # 2300 claim: place of service 01 (pharmacy), frequency 1 (original).
    place = claim.lines[0].place_of_service if claim.lines else "01"
    out.append(
        _segment(
            "CLM",
            claim.claim_id,
            _money(claim.total),
            "",
            "",
            _composite(place, "B", "1"),
            "Y",
            "A",
            "Y",
            "Y",
        )
    )
    diagnoses = [
        _composite("ABK" if index == 0 else "ABF", code.replace(".", ""))
        for index, code in enumerate(claim.diagnosis_codes)
    ]
    if diagnoses:
        out.append("*".join(["HI", *(d.text for d in diagnoses)]))
    # 2310B rendering provider (the pharmacist).
    out.append(
        _segment(
            "NM1",
            "82",
            "1",
            claim.rendering_last,
            claim.rendering_first,
            "",
            "",
            "",
            "XX",
            claim.rendering_npi,
        )
    )
    out.append(_segment("PRV", "PE", "PXC", "183500000X"))
    for number, line in enumerate(claim.lines, start=1):
        out.append(_segment("LX", str(number)))
        out.append(
            _segment(
                "SV1",
                _composite("HC", line.code, *line.modifiers),
                _money(line.charge),
                "UN",
                str(line.units),
                "",
                "",
                _Raw(":".join(str(p) for p in line.diagnosis_pointers)),
            )
        )
        out.append(_segment("DTP", "472", "D8", line.service_date.strftime("%Y%m%d")))
    return out


def _isa_field(value: str, width: int) -> str:
    return _clean(value)[:width].ljust(width)


def write_837p(interchange: Interchange) -> str:
    """The whole file: ISA, GS, the transaction, GE, IEA; one segment a line."""
    when = interchange.created_at
    number = f"{interchange.control_number:09d}"
    isa = "*".join(
        [
            "ISA",
            "00",
            " " * 10,
            "00",
            " " * 10,
            "ZZ",
            _isa_field(interchange.sender_id, 15),
            "ZZ",
            _isa_field(interchange.receiver_id, 15),
            when.strftime("%y%m%d"),
            when.strftime("%H%M"),
            "^",
            "00501",
            number,
            "0",
            "P" if interchange.production else "T",
            ":",
        ]
    )
    group = str(interchange.control_number)
    segments = [
        isa,
        _segment(
            "GS",
            "HC",
            interchange.sender_id,
            interchange.receiver_id,
            when.strftime("%Y%m%d"),
            when.strftime("%H%M"),
            group,
            "X",
            VERSION,
        ),
        *transaction_segments(interchange),
        _segment("GE", "1", group),
        _segment("IEA", "1", number),
    ]
    return SEGMENT_END.join(segments) + SEGMENT_END
