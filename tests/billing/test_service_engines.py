"""Pure engines of service billing: MTM units, the 837P writer and its check, CMS-1500."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from billing.cms1500 import render_cms1500
from billing.service_units import mtm_units
from billing.x12.p837 import Address, BillingProvider, Claim, Interchange, Line, write_837p
from billing.x12.validate import validate_837p

EXPECTED_837P = Path(__file__).parent / "data" / "worked_example.837p"


@pytest.mark.parametrize(
    ("minutes", "new_patient", "expected"),
    [
        (0, True, []),
        (7, True, []),
        (8, True, [("99605", 1)]),
        (15, False, [("99606", 1)]),
        (22, True, [("99605", 1)]),
        (23, True, [("99605", 1), ("99607", 1)]),
        (37, False, [("99606", 1), ("99607", 1)]),
        (38, True, [("99605", 1), ("99607", 2)]),
        (40, True, [("99605", 1), ("99607", 2)]),  # the 40-minute CMR
        (52, True, [("99605", 1), ("99607", 2)]),
        (53, True, [("99605", 1), ("99607", 3)]),
    ],
)
def test_mtm_units_follow_the_midpoint_rule(minutes, new_patient, expected):
    assert mtm_units(minutes=minutes, new_patient=new_patient) == expected


@given(st.integers(min_value=8, max_value=600))
def test_mtm_units_never_bill_more_than_the_time_spent(minutes):
    lines = dict(mtm_units(minutes=minutes, new_patient=True))
    billed_units = 1 + lines.get("99607", 0)
    # Each billed unit had more than half of its 15 minutes spent, and no half-unit is lost.
    assert (billed_units - 1) * 15 + 8 <= minutes < billed_units * 15 + 8


def test_negative_minutes_are_refused():
    with pytest.raises(ValueError):
        mtm_units(minutes=-1, new_patient=True)


def worked_example() -> Interchange:
    """A 40-minute CMR of a new patient (99605 x1 + 99607 x2) and a flu shot of another."""
    provider = BillingProvider(
        name="Maple Main St Pharmacy",
        npi="1234567893",
        tax_id="391234567",
        address=Address("100 Main St", "Madison", "WI", "53703"),
        contact_phone="6085550100",
    )
    cmr = Claim(
        claim_id="CMR0001",
        patient_last="Doe",
        patient_first="Jane",
        birth_date=dt.date(1950, 5, 17),
        sex="F",
        member_id="M00001234",
        patient_address=Address("12 Oak Ln", "Madison", "WI", "53704"),
        payer_name="Acme Medical",
        payer_id="ACME1",
        diagnosis_codes=("E119", "I10"),
        lines=(
            Line("99605", Decimal("75.00"), 1, dt.date(2026, 11, 30), (), (1, 2)),
            Line("99607", Decimal("100.00"), 2, dt.date(2026, 11, 30), (), (1, 2)),
        ),
        rendering_last="Lee",
        rendering_first="Ann",
        rendering_npi="1245319599",
        claim_filing="MB",
    )
    flu = Claim(
        claim_id="FLU0002",
        patient_last="Roe",
        patient_first="Rick",
        birth_date=dt.date(1948, 1, 2),
        sex="M",
        member_id="M00005678",
        patient_address=None,
        payer_name="Acme Medical",
        payer_id="ACME1",
        diagnosis_codes=("Z23",),
        lines=(Line("90471", Decimal("25.50"), 1, dt.date(2026, 12, 1), ("33",), (1,)),),
        rendering_last="Lee",
        rendering_first="Ann",
        rendering_npi="1245319599",
    )
    return Interchange(
        control_number=7,
        sender_id="1234567893",
        receiver_id="ACME1",
        receiver_name="Acme Medical",
        created_at=dt.datetime(2026, 12, 2, 9, 30),
        provider=provider,
        claims=(cmr, flu),
    )


def test_the_worked_example_matches_the_hand_written_file_segment_by_segment():
    written = write_837p(worked_example()).split("~\n")
    expected = EXPECTED_837P.read_text().split("~\n")
    for number, (mine, theirs) in enumerate(zip(written, expected, strict=False), start=1):
        assert mine == theirs, f"segment {number}"
    assert len(written) == len(expected)


def test_the_worked_example_passes_the_structure_check():
    assert validate_837p(write_837p(worked_example())) == []


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda t: t.replace("SE*41*0001", "SE*40*0001"), "SE01 says 40"),
        (lambda t: t.replace("CLM*CMR0001*175", "CLM*CMR0001*170"), "CLM02 170"),
        (lambda t: t.replace("*UN*1***1:2~", "*UN*1***1:3~", 1), "pointers ['1', '3']"),
        (lambda t: t.replace("IEA*1*000000007", "IEA*1*000000008"), "IEA must close"),
        (lambda t: t.replace("HI*ABK:Z23~\n", ""), "HI diagnoses"),
    ],
)
def test_the_structure_check_names_what_is_broken(breakage, message):
    problems = validate_837p(breakage(write_837p(worked_example())))
    assert any(message in problem for problem in problems), problems


def test_cms1500_has_the_boxes_and_values_of_each_claim():
    pdf = PdfReader(io.BytesIO(render_cms1500(worked_example())))
    assert len(pdf.pages) == 2
    first = pdf.pages[0].extract_text()
    for text in (
        "1a. INSURED'S I.D. NUMBER",
        "M00001234",
        "Doe, Jane",
        "A. E11.9",
        "B. I10",
        "99605",
        "99607",
        "75.00",
        "100.00",
        "AB",
        "1245319599",
        "391234567",
        "175.00",
        "33a. NPI",
        "1234567893",
    ):
        assert text in first, text
    assert "90471 33" in pdf.pages[1].extract_text()


def _pyx12_acknowledgement(text: str, tmp_path) -> str:
    """pyx12 checks the file against the 005010X222A1 implementation guide's map and
    answers with a 999 acknowledgement (IK5*A accepted, IK5*R rejected)."""
    import pyx12.params
    import pyx12.x12n_document

    source = tmp_path / "claims.837"
    source.write_text(text)
    acknowledgement = io.StringIO()
    pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=str(source),
        fd_997=acknowledgement,
        fd_html=None,
        fd_xmldoc=None,
        map_path=None,
    )
    return acknowledgement.getvalue()


def test_pyx12_accepts_the_worked_example_against_the_implementation_guide(tmp_path):
    ack = _pyx12_acknowledgement(write_837p(worked_example()), tmp_path)
    assert "IK5*A~" in ack and "AK9*A*1*1*1~" in ack


def test_pyx12_rejects_a_claim_without_its_payer(tmp_path):
    text = write_837p(worked_example())
    broken = text.replace("NM1*PR*2*ACME MEDICAL*****PI*ACME1~\n", "", 1)
    broken = broken.replace("SE*41*0001", "SE*40*0001")
    assert "IK5*R" in _pyx12_acknowledgement(broken, tmp_path)


def test_the_bench_command_writes_checks_and_prints_a_batch():
    from django.core.management import call_command

    out = io.StringIO()
    call_command("bench_service_claims", "--claims", "3", stdout=out)
    assert "3 claims: 837P written" in out.getvalue() and "(0 problems)" in out.getvalue()
