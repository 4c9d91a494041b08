"""The NDC matcher of the fill (scheduling/ndc_match.py): every form a label, a person or a
scanner gives, against the prescription's 11-digit NDC."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduling.ndc_match import (
    TEN_DIGIT_LAYOUTS,
    NdcFormatError,
    format_ndc,
    gs1_check_digit,
    ndc_matches,
    ndc_readings,
)

# Real products in each 10-digit layout, with their 11-digit billing form.
LISINOPRIL_442 = ("0093-1111-01", "00093111101")  # 4-4-2 -> 0 + labeler
ATORVASTATIN_532 = ("60505-257-09", "60505025709")  # 5-3-2 -> 0 + product
METFORMIN_541 = ("68180-0512-1", "68180051201")  # 5-4-1 -> 0 + package


def upc_a(ndc10: str) -> str:
    body = "3" + ndc10
    return body + str(gs1_check_digit(body))


def gtin14(ndc10: str) -> str:
    body = "003" + ndc10
    return body + str(gs1_check_digit(body))


@pytest.mark.parametrize("label, ndc11", [LISINOPRIL_442, ATORVASTATIN_532, METFORMIN_541])
def test_each_label_form_matches_its_billing_ndc(label, ndc11):
    bare10 = label.replace("-", "")
    forms = [
        label,
        ndc11,
        format_ndc(ndc11),
        bare10,
        f"  {label} ",
        upc_a(bare10),
        gtin14(bare10),
        f"01{gtin14(bare10)}17271231" + "10LOT42",
        f"(01){gtin14(bare10)}(17)271231(10)LOT42",
        f"01{gtin14(bare10)}\x1d21SERIAL",
    ]
    for form in forms:
        assert ndc_matches(form, ndc11), form


def test_a_hyphenated_ten_digit_ndc_has_exactly_one_reading():
    assert ndc_readings("0093-1111-01") == {"00093111101"}
    assert ndc_readings("60505-257-09") == {"60505025709"}
    assert ndc_readings("68180-0512-1") == {"68180051201"}


def test_ten_bare_digits_match_any_of_their_three_readings_and_nothing_else():
    assert ndc_readings("1234567890") == {"01234567890", "12345067890", "12345678900"}
    assert not ndc_matches("1234567890", "12345678901")


def test_another_product_does_not_match():
    assert not ndc_matches("0093-1111-02", "00093111101")  # another package size
    assert not ndc_matches("60505-257-09", "00093111101")
    assert not ndc_matches(upc_a("0093111102"), "00093111101")


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "abc", "123", "0093-11-11-01", "009311110", "000931111011", "1234-567-8901"],
)
def test_anything_else_is_refused_with_what_to_do(raw):
    with pytest.raises(NdcFormatError) as error:
        ndc_readings(raw)
    assert "NDC" in str(error.value) or "barcode" in str(error.value)


def test_a_barcode_with_a_wrong_check_digit_is_refused_not_guessed():
    good = upc_a("0093111101")
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    with pytest.raises(NdcFormatError, match="check digit"):
        ndc_readings(bad)
    with pytest.raises(NdcFormatError, match="not a drug"):
        body = "0" + "0093111101"
        ndc_readings(body + str(gs1_check_digit(body)))  # a UPC that is not number system 3


def test_the_gs1_check_digit_of_known_barcodes():
    assert gs1_check_digit("03600029145") == 2  # UPC-A 036000291452
    assert gs1_check_digit("0001234560001") == 2  # GTIN-14 00012345600012


ndc11s = st.text(alphabet="0123456789", min_size=11, max_size=11)


def ten_digit_forms(ndc11: str) -> list[str]:
    """The hyphenated 10-digit labels an 11-digit NDC has (one per layout whose pad digit is 0)."""
    forms = []
    for (a, b, c), segment in TEN_DIGIT_LAYOUTS.items():
        parts = [ndc11[:5], ndc11[5:9], ndc11[9:]]
        if parts[segment][0] != "0":
            continue
        parts[segment] = parts[segment][1:]
        assert tuple(len(p) for p in parts) == (a, b, c)
        forms.append("-".join(parts))
    return forms


@given(ndc11s)
def test_every_form_of_any_ndc_matches_it(ndc11):
    assert ndc_matches(ndc11, ndc11)
    assert ndc_matches(format_ndc(ndc11), ndc11)
    for label in ten_digit_forms(ndc11):
        bare = label.replace("-", "")
        assert ndc_readings(label) == {ndc11}
        assert ndc_matches(bare, ndc11)
        assert ndc_matches(upc_a(bare), ndc11)
        assert ndc_matches(gtin14(bare), ndc11)
        assert ndc_matches(f"(01){gtin14(bare)}(17)300101", ndc11)


@given(ndc11s, st.integers(min_value=0, max_value=10), st.integers(min_value=1, max_value=9))
def test_changing_any_one_digit_never_matches(ndc11, position, delta):
    other = ndc11[:position] + str((int(ndc11[position]) + delta) % 10) + ndc11[position + 1 :]
    assert not ndc_matches(other, ndc11)
    assert not ndc_matches(format_ndc(other), ndc11)
    for label in ten_digit_forms(other):
        assert not ndc_matches(label, ndc11)


@given(st.text(alphabet="0123456789", min_size=10, max_size=10))
def test_ten_bare_digits_have_three_readings_each_a_label_of_them(ten):
    readings = ndc_readings(ten)
    assert 1 <= len(readings) <= 3
    for ndc11 in readings:
        assert ten in {label.replace("-", "") for label in ten_digit_forms(ndc11)}
