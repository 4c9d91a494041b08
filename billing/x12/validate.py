"""Structural check of an 837P file (pure): envelopes, counts and the loop order.

Checks what a clearinghouse's first pass rejects on: ISA is 106 characters with its control
number repeated in IEA; GS/GE and ST/SE pair up with matching control numbers and SE counts
its segments; the transaction runs BHT, 1000A (NM1*41), 1000B (NM1*40), 2000A (HL *20)
with 2010AA (NM1*85, N3, N4, REF*EI), then per claim 2000B (HL *22, SBR) with 2010BA
(NM1*IL), 2010BB (NM1*PR), 2300 (CLM, HI) and at least one 2400 (LX, SV1, DTP*472); every
SV1 pointer names a diagnosis of its claim; CLM02 is the sum of its SV1 charges.

    validate_837p(text) -> list[str]   (empty: the structure holds)
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation


def segments_of(text: str) -> list[list[str]]:
    return [s.strip().split("*") for s in text.split("~") if s.strip()]


def validate_837p(text: str) -> list[str]:
    errors: list[str] = []
    raw = [s.strip() for s in text.split("~") if s.strip()]
    segs = [s.split("*") for s in raw]
    if not segs or segs[0][0] != "ISA":
        return ["The file must start with ISA."]
    if len(raw[0]) + 1 != 106:
        errors.append(f"ISA is {len(raw[0]) + 1} characters, not 106.")
    if segs[-1][0] != "IEA" or segs[-1][2:3] != [segs[0][13]]:
        errors.append("IEA must close the interchange with ISA13's control number.")
    if len(segs) < 3 or segs[1][0] != "GS" or segs[-2][0] != "GE":
        return [*errors, "GS/GE must wrap the transaction."]
    if segs[-2][2:3] != [segs[1][6]]:
        errors.append("GE02 must repeat GS06.")
    body = segs[2:-2]
    if not body or body[0][0] != "ST" or body[-1][0] != "SE":
        return [*errors, "ST/SE must wrap the transaction."]
    if body[-1][1] != str(len(body)):
        errors.append(f"SE01 says {body[-1][1]} segments; the transaction has {len(body)}.")
    if body[-1][2:3] != [body[0][2]]:
        errors.append("SE02 must repeat ST02.")
    errors += _check_loops(body[1:-1])
    return errors


def _check_loops(segs: list[list[str]]) -> list[str]:
    errors: list[str] = []
    ids = [s[0] for s in segs]
    head = [
        ("BHT",),
        ("NM1", "41"),
        ("PER",),
        ("NM1", "40"),
        ("HL",),
        ("PRV",),
        ("NM1", "85"),
        ("N3",),
        ("N4",),
        ("REF", "EI"),
    ]
    for index, expected in enumerate(head):
        if index >= len(segs) or tuple(segs[index][: len(expected)]) != expected:
            return [f"Segment {index + 2} should be {'*'.join(expected)} (loop 1000/2000A)."]
    if segs[4][3:4] != ["20"]:
        errors.append("The first HL must be the billing provider (HL03 = 20).")
    claims = [i for i, seg in enumerate(segs) if seg[0] == "HL" and seg[3:4] == ["22"]]
    if not claims:
        return [*errors, "No subscriber loop (HL*...*22)."]
    for number, start in enumerate(claims):
        end = claims[number + 1] if number + 1 < len(claims) else len(segs)
        errors += _check_claim(segs[start:end], number + 1)
    if len([i for i in ids if i == "HL"]) != len(claims) + 1:
        errors.append("Unexpected HL loops.")
    return errors


def _check_claim(segs: list[list[str]], number: int) -> list[str]:
    where = f"claim {number}"
    ids = [s[0] for s in segs]
    errors = []
    if ids[1:2] != ["SBR"]:
        errors.append(f"{where}: SBR must follow HL.")
    if not any(s[:2] == ["NM1", "IL"] for s in segs):
        errors.append(f"{where}: no subscriber NM1*IL (2010BA).")
    if not any(s[:2] == ["NM1", "PR"] for s in segs):
        errors.append(f"{where}: no payer NM1*PR (2010BB).")
    if ids.count("CLM") != 1:
        return [*errors, f"{where}: exactly one CLM expected."]
    clm = ids.index("CLM")
    if "HI" not in ids or ids.index("HI") < clm:
        errors.append(f"{where}: HI diagnoses must follow CLM.")
        diagnoses = 0
    else:
        diagnoses = len(segs[ids.index("HI")]) - 1
    lines = [i for i, seg_id in enumerate(ids) if seg_id == "LX"]
    if not lines:
        return [*errors, f"{where}: no service line (LX/SV1)."]
    total = Decimal("0")
    for position, lx in enumerate(lines, start=1):
        if segs[lx][1:2] != [str(position)]:
            errors.append(f"{where}: LX {position} is numbered {segs[lx][1:2]}.")
        if ids[lx + 1 : lx + 2] != ["SV1"] or segs[lx + 2][:2] != ["DTP", "472"]:
            errors.append(f"{where} line {position}: LX must be followed by SV1 and DTP*472.")
            continue
        sv1 = segs[lx + 1]
        try:
            total += Decimal(sv1[2])
            if int(sv1[4]) < 1:
                raise ValueError
        except (IndexError, InvalidOperation, ValueError):
            errors.append(f"{where} line {position}: SV1 needs a charge and units.")
        pointers = sv1[7].split(":") if len(sv1) > 7 else []
        if not pointers or any(not p.isdigit() or not 1 <= int(p) <= diagnoses for p in pointers):
            errors.append(f"{where} line {position}: pointers {pointers} name no diagnosis.")
    try:
        if Decimal(segs[clm][2]) != total:
            errors.append(f"{where}: CLM02 {segs[clm][2]} is not the lines' total {total}.")
    except (IndexError, InvalidOperation):
        errors.append(f"{where}: CLM02 must be an amount.")
    return errors
