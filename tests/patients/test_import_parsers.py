"""The import's field parsers, one worked example per rule: good input, bad input, exact message.

The parsers are pure (a dict in, a value or RowRejected out), so no database is needed.
"""

import ast
import datetime as dt
import inspect
import zoneinfo
from decimal import Decimal

import pytest

from patients.imports import identifiers, parsers
from patients.imports.results import RowRejected
from patients.models import PatientStatus, Sex

CHICAGO = zoneinfo.ZoneInfo("America/Chicago")


def rejected(call, *args, **kwargs) -> str:
    with pytest.raises(RowRejected) as caught:
        call(*args, **kwargs)
    return str(caught.value)


def test_parsers_import_nothing_from_django():
    tree = ast.parse(inspect.getsource(parsers))
    imported = [
        node.module if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    ]
    assert not [name for name in imported if name and name.startswith("django")]


def test_cell_strips_and_reads_a_missing_column_as_empty():
    assert parsers.cell({"mrn": "  P1 "}, "mrn") == "P1"
    assert parsers.cell({"mrn": None}, "mrn") == ""
    assert parsers.cell({}, "mrn") == ""


def test_a_row_of_blank_cells_is_blank():
    assert parsers.is_blank({"a": " ", "b": ""})
    assert not parsers.is_blank({"a": " ", "b": "x"})


def test_text_is_stripped_and_bounded():
    assert parsers.text({"city": " Madison "}, "city") == "Madison"
    assert parsers.text({}, "city") == ""
    assert rejected(parsers.text, {"city": " "}, "city", required=True) == "city is empty."
    assert (
        rejected(parsers.text, {"pcn": "x" * 21}, "pcn", max_length=20)
        == "pcn is longer than 20 characters."
    )


@pytest.mark.parametrize("value", ["2026-03-01", "03/01/2026", "20260301", " 2026-03-01 "])
def test_date_reads_the_three_layouts(value):
    assert parsers.date({"d": value}, "d") == dt.date(2026, 3, 1)


def test_date_refuses_what_is_not_a_date():
    assert parsers.date({"d": ""}, "d", required=False) is None
    assert rejected(parsers.date, {"d": ""}, "d") == "d is empty."
    assert (
        rejected(parsers.date, {"d": "2026-02-30"}, "d")
        == "d '2026-02-30' is not a date (use YYYY-MM-DD)."
    )
    assert (
        rejected(parsers.date, {"d": "1/2/26"}, "d") == "d '1/2/26' is not a date (use YYYY-MM-DD)."
    )


def test_date_time_reads_naive_times_in_the_pharmacy_zone():
    moment = parsers.date_time({"t": "2026-09-02T10:15:00"}, "t", CHICAGO)
    assert moment == dt.datetime(2026, 9, 2, 10, 15, tzinfo=CHICAGO)
    aware = parsers.date_time({"t": "2026-09-02T10:15:00+00:00"}, "t", CHICAGO)
    assert aware == dt.datetime(2026, 9, 2, 10, 15, tzinfo=dt.UTC)
    assert parsers.date_time({"t": "09/02/2026"}, "t", CHICAGO) == dt.datetime(
        2026, 9, 2, 12, 0, tzinfo=CHICAGO
    )
    assert parsers.date_time({"t": ""}, "t", CHICAGO) is None
    assert (
        rejected(parsers.date_time, {"t": "soon"}, "t", CHICAGO)
        == "t 'soon' is not a date (use YYYY-MM-DD)."
    )


def test_decimal_reads_money_and_checks_bounds():
    assert parsers.decimal({"q": "$10.50"}, "q") == Decimal("10.50")
    assert parsers.decimal({"q": ""}, "q", required=False) is None
    assert rejected(parsers.decimal, {"q": ""}, "q") == "q is empty."
    assert rejected(parsers.decimal, {"q": "ten"}, "q") == "q 'ten' is not a number."
    assert rejected(parsers.decimal, {"q": "NaN"}, "q") == "q 'NaN' is not a number."
    assert rejected(parsers.decimal, {"q": "Infinity"}, "q") == "q 'Infinity' is not a number."
    assert rejected(parsers.decimal, {"q": "0"}, "q", positive=True) == (
        "q must be more than 0 (got 0)."
    )
    assert (
        rejected(parsers.decimal, {"q": "-1"}, "q", minimum=Decimal("0"))
        == "q must be at least 0 (got -1)."
    )


def test_integer_is_whole_and_never_negative():
    assert parsers.integer({"n": " 30 "}, "n") == 30
    assert parsers.integer({"n": ""}, "n", required=False, default=1) == 1
    assert rejected(parsers.integer, {"n": ""}, "n") == "n is empty."
    assert rejected(parsers.integer, {"n": "2.5"}, "n") == "n '2.5' is not a whole number."
    assert rejected(parsers.integer, {"n": "-3"}, "n") == "n cannot be negative (got -3)."
    assert rejected(parsers.integer, {"n": "0"}, "n", positive=True) == (
        "n must be more than 0 (got 0)."
    )


def test_choice_matches_without_case_and_lists_the_allowed_values():
    assert parsers.choice({"sex": "f"}, "sex", Sex, Sex.UNKNOWN) == Sex.FEMALE
    assert parsers.choice({"sex": ""}, "sex", Sex, Sex.UNKNOWN) == Sex.UNKNOWN
    assert parsers.choice({"s": "INACTIVE"}, "s", PatientStatus, "") == PatientStatus.INACTIVE
    assert rejected(parsers.choice, {"sex": "Q"}, "sex", Sex, "") == (
        "sex 'q' is not one of f, m, u, x."
    )


def test_state_is_a_known_code_in_any_case():
    states = {"WI", "MN"}
    assert parsers.state({"state": "wi"}, "state", states=states) == "WI"
    assert parsers.state({"state": ""}, "state", states=states, default="MN") == "MN"
    assert (
        rejected(parsers.state, {"state": "zz"}, "state", states=states)
        == "state 'ZZ' is not a US state code."
    )


def test_bin_is_six_digits_when_a_payer_is_billed():
    assert parsers.bin_number({"bin": "004336"}, required=True) == "004336"
    assert parsers.bin_number({"bin": ""}, required=False) == ""
    assert rejected(parsers.bin_number, {"bin": "4336"}, required=True) == (
        "bin '4336' is not 6 digits."
    )
    assert rejected(parsers.bin_number, {"bin": ""}, required=True) == "bin '' is not 6 digits."
    assert rejected(parsers.bin_number, {"bin": "0043361"}, required=True) == (
        "bin is longer than 6 characters."
    )


def test_scc_codes_are_ncpdp_numbers():
    assert parsers.scc_codes({"scc_codes": "47;48"}) == [47, 48]
    assert parsers.scc_codes({"scc_codes": "7| 8, 13"}) == [7, 8, 13]
    assert parsers.scc_codes({"scc_codes": ""}) == []
    assert rejected(parsers.scc_codes, {"scc_codes": "47;x"}) == (
        "scc_codes '47;x' must be numbers such as 47;48."
    )
    assert rejected(parsers.scc_codes, {"scc_codes": "100"}) == (
        "scc_codes '100': each NCPDP 420-DK code is 0 to 99."
    )


@pytest.mark.parametrize(
    ("sig", "as_needed"),
    [
        ("Take 1 tablet daily", False),
        ("Take 1 tablet PRN pain", True),
        ("1 puff as needed for wheezing", True),
        ("Use if needed", True),
        ("Take as directed", False),
    ],
)
def test_sig_says_as_needed(sig, as_needed):
    assert parsers.sig_says_as_needed(sig) is as_needed


@pytest.mark.parametrize(
    ("written", "controlled", "expires"),
    [
        (dt.date(2026, 1, 5), False, dt.date(2027, 1, 5)),
        (dt.date(2026, 1, 5), True, dt.date(2026, 7, 5)),
        (dt.date(2026, 8, 31), True, dt.date(2027, 2, 28)),
        (dt.date(2026, 10, 31), True, dt.date(2027, 4, 30)),
        (dt.date(2024, 2, 29), False, dt.date(2025, 2, 28)),
    ],
)
def test_prescription_expiry_is_a_year_or_six_months_for_controlled(written, controlled, expires):
    assert parsers.prescription_expiry(written, controlled=controlled) == expires


def test_days_supply_mismatch_warns_beyond_two_days_and_ten_percent():
    assert parsers.days_supply_mismatch(30, Decimal(30), Decimal(1)) is None
    assert parsers.days_supply_mismatch(90, Decimal(60), Decimal("0.7")) is None  # 85.7: 4.3 < 9
    assert parsers.days_supply_mismatch(30, Decimal(60), Decimal(1)) == (
        "days_supply 30 does not match quantity / daily_dose = 60.0: "
        "PBM audits recoup a wrong days supply."
    )


def test_phone_is_returned_as_e164():
    assert identifiers.phone({"phone": "(608) 555-0101"}, "phone", required=True) == "+16085550101"
    assert identifiers.phone({"fax": ""}, "fax", required=False) == ""
    assert rejected(identifiers.phone, {"phone": ""}, "phone", required=True) == "phone is empty."
    assert rejected(identifiers.phone, {"phone": "555"}, "phone", required=True) == (
        "phone '555' is not a valid phone number."
    )


def test_email_is_optional_but_must_be_an_address():
    assert identifiers.email({"email": "ada@example.com"}) == "ada@example.com"
    assert identifiers.email({}) == ""
    assert rejected(identifiers.email, {"email": "ada@"}) == "email 'ada@' is not an email address."


@pytest.mark.parametrize(
    ("raw", "ndc11"),
    [
        ("00093715598", "00093715598"),
        ("00093-7155-98", "00093715598"),
        ("0093-7155-98", "00093715598"),
        ("00093-155-98", "00093015598"),
        ("00093-7155-8", "00093715508"),
    ],
)
def test_ndc_accepts_every_layout_as_eleven_digits(raw, ndc11):
    assert identifiers.ndc(raw) == ndc11


def test_ndc_refuses_ambiguous_and_malformed_codes():
    assert rejected(identifiers.ndc, "0093715598") == (
        "ndc '0093715598': A 10-digit NDC needs its hyphens (4-4-2, 5-3-2 or 5-4-1) "
        "to be read unambiguously."
    )
    assert rejected(identifiers.ndc, "93-7155") == (
        "ndc '93-7155': Enter an NDC as 11 digits or in the 4-4-2, 5-3-2, 5-4-1 or 5-4-2 "
        "hyphenated form."
    )


def test_npi_needs_a_valid_check_digit():
    assert identifiers.npi({"prescriber_npi": "1234567893"}) == "1234567893"
    assert identifiers.npi({}) == ""
    assert rejected(identifiers.npi, {"prescriber_npi": "1234567890"}) == (
        "prescriber_npi 1234567890 is not a valid NPI (check digit)."
    )
    assert rejected(identifiers.npi, {"prescriber_npi": "12345678931"}) == (
        "prescriber_npi is longer than 10 characters."
    )
