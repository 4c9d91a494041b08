"""CMS-1500 (02/12) claims as a PDF, one page per claim (pure: fpdf2, no Django).

The page follows the form's layout and numbering (DOMAIN section 9) in black on white, for
printing on plain paper or keeping with the record: 1 (program), 1a insured's ID, 2 patient's
name, 3 birth date and sex, 4 insured's name, 11 group, 21 diagnoses A-L (ICD indicator 0),
24A-J per service line (up to 6 a page: a longer claim continues on the next page), 25
federal tax ID, 26 patient's account number, 28 total charge, 31 rendering pharmacist, 32
service facility and 33 billing provider with their NPIs. Takes the 837P writer's dataclasses.

    render_cms1500(interchange) -> bytes
"""

from __future__ import annotations

from decimal import Decimal

from fpdf import FPDF

from billing.x12.p837 import Claim, Interchange

LINES_PER_PAGE = 6
DX_LETTERS = "ABCDEFGHIJKL"
PROGRAM = {"MB": "Medicare", "MC": "Medicaid", "CI": "Group health plan"}


def _box(pdf: FPDF, x: float, y: float, w: float, h: float, label: str, value: str = "") -> None:
    pdf.rect(x, y, w, h)
    pdf.set_xy(x + 0.8, y + 0.6)
    pdf.set_font("Helvetica", size=5.5)
    pdf.cell(w - 1.6, 2.4, label)
    pdf.set_xy(x + 0.8, y + 3.2)
    pdf.set_font("Courier", size=8.5)
    pdf.cell(w - 1.6, h - 3.6, _latin(value))


def _latin(text: str) -> str:
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _money(value: Decimal) -> str:
    return f"{Decimal(value):,.2f}"


def _dx(code: str) -> str:
    return f"{code[:3]}.{code[3:]}" if len(code) > 3 else code


def _page(pdf: FPDF, interchange: Interchange, claim: Claim, lines, page_total) -> None:
    provider = interchange.provider
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 12)
    pdf.set_xy(10, 8)
    pdf.cell(0, 6, "HEALTH INSURANCE CLAIM FORM")
    pdf.set_font("Helvetica", size=7)
    pdf.set_xy(10, 14)
    pdf.cell(0, 4, "APPROVED BY NATIONAL UNIFORM CLAIM COMMITTEE (NUCC) 02/12")
    pdf.set_xy(130, 8)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(70, 3.6, _latin(f"{claim.payer_name}\nPayer ID {claim.payer_id}"))
    y = 22
    _box(pdf, 10, y, 110, 9, "1. PROGRAM", PROGRAM.get(claim.claim_filing, "Other"))
    _box(pdf, 120, y, 80, 9, "1a. INSURED'S I.D. NUMBER", claim.member_id)
    y += 9
    name = f"{claim.patient_last}, {claim.patient_first}"
    _box(pdf, 10, y, 70, 9, "2. PATIENT'S NAME (Last, First)", name)
    born = claim.birth_date.strftime("%m %d %Y")
    _box(pdf, 80, y, 40, 9, "3. PATIENT'S BIRTH DATE / SEX", f"{born}  {claim.sex}")
    _box(pdf, 120, y, 80, 9, "4. INSURED'S NAME (Last, First)", name)
    y += 9
    address = claim.patient_address
    where = (
        f"{address.line1}, {address.city} {address.state} {address.postal_code}" if address else ""
    )
    _box(pdf, 10, y, 110, 9, "5. PATIENT'S ADDRESS", where)
    _box(pdf, 120, y, 80, 9, "6. PATIENT RELATIONSHIP TO INSURED", "Self")
    y += 9
    _box(pdf, 10, y, 110, 9, "10. IS PATIENT'S CONDITION RELATED TO: employment/accident", "No")
    _box(pdf, 120, y, 80, 9, "11. INSURED'S POLICY GROUP OR FECA NUMBER", "")
    y += 9
    _box(pdf, 10, y, 110, 9, "12. PATIENT'S SIGNATURE", "Signature on file")
    _box(pdf, 120, y, 80, 9, "13. INSURED'S SIGNATURE", "Signature on file")
    y += 11
    pdf.rect(10, y, 190, 16)
    pdf.set_xy(10.8, y + 0.6)
    pdf.set_font("Helvetica", size=5.5)
    pdf.cell(150, 2.4, "21. DIAGNOSIS OR NATURE OF ILLNESS OR INJURY   ICD Ind. 0")
    pdf.set_font("Courier", size=8.5)
    for index, code in enumerate(claim.diagnosis_codes[:12]):
        pdf.set_xy(12 + (index % 4) * 47, y + 4 + (index // 4) * 3.8)
        pdf.cell(45, 3.6, f"{DX_LETTERS[index]}. {_dx(code)}")
    y += 18
    headers = [
        ("24A. DATE OF SERVICE", 30),
        ("B. PLACE", 12),
        ("D. CPT/HCPCS  MODIFIER", 44),
        ("E. DX POINTER", 20),
        ("F. $ CHARGES", 26),
        ("G. UNITS", 14),
        ("J. RENDERING NPI", 44),
    ]
    x = 10
    pdf.set_font("Helvetica", size=5.5)
    for label, width in headers:
        pdf.rect(x, y, width, 5)
        pdf.set_xy(x + 0.6, y + 1)
        pdf.cell(width - 1, 3, label)
        x += width
    y += 5
    pdf.set_font("Courier", size=8.5)
    for number in range(LINES_PER_PAGE):
        line = lines[number] if number < len(lines) else None
        values = (
            [
                line.service_date.strftime("%m %d %y"),
                line.place_of_service,
                " ".join([line.code, *line.modifiers]),
                "".join(DX_LETTERS[p - 1] for p in line.diagnosis_pointers),
                _money(line.charge),
                str(line.units),
                claim.rendering_npi,
            ]
            if line
            else [""] * len(headers)
        )
        x = 10
        for (_label, width), value in zip(headers, values, strict=True):
            pdf.rect(x, y, width, 7)
            pdf.set_xy(x + 0.6, y + 1.6)
            pdf.cell(width - 1, 4, _latin(value))
            x += width
        pdf.set_font("Helvetica", size=5)
        pdf.set_xy(1, y + 2)
        pdf.cell(8, 3, str(number + 1))
        pdf.set_font("Courier", size=8.5)
        y += 7
    y += 2
    _box(pdf, 10, y, 60, 9, "25. FEDERAL TAX I.D. NUMBER (EIN)", provider.tax_id)
    _box(pdf, 70, y, 60, 9, "26. PATIENT'S ACCOUNT NO.", claim.claim_id)
    _box(pdf, 130, y, 35, 9, "27. ACCEPT ASSIGNMENT?", "Yes")
    _box(pdf, 165, y, 35, 9, "28. TOTAL CHARGE", _money(page_total))
    y += 9
    rendering = f"{claim.rendering_first} {claim.rendering_last}, RPh"
    _box(pdf, 10, y, 60, 16, "31. SIGNATURE OF PHYSICIAN OR SUPPLIER", rendering)
    facility = provider.address
    place = f"{provider.name}, {facility.line1}, {facility.city} {facility.state}"
    _box(pdf, 70, y, 65, 8, "32. SERVICE FACILITY LOCATION", place)
    _box(pdf, 70, y + 8, 65, 8, "32a. NPI", provider.npi)
    _box(pdf, 135, y, 65, 8, "33. BILLING PROVIDER INFO & PH #", provider.name)
    _box(pdf, 135, y + 8, 65, 8, "33a. NPI", provider.npi)


def render_cms1500(interchange: Interchange) -> bytes:
    """Every claim of the interchange on its own page(s)."""
    pdf = FPDF(orientation="P", unit="mm", format="Letter")
    pdf.set_auto_page_break(False)
    pdf.set_title("CMS-1500 claims")
    pdf.set_creator("MedSync")
    for claim in interchange.claims:
        for start in range(0, len(claim.lines), LINES_PER_PAGE):
            lines = claim.lines[start : start + LINES_PER_PAGE]
            total = sum((line.charge for line in lines), Decimal("0"))
            _page(pdf, interchange, claim, lines, total)
    return bytes(pdf.output())
