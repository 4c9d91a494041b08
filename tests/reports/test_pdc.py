"""The PDC engine (reports/pdc.py) on worked examples built by hand from DOMAIN.md section 6,
plus hypothesis invariants. Dates are 2025 (not a leap year) unless said otherwise:
Jan 31, Feb 28, Mar 31, Apr 30, May 31, Jun 30, Jul 31, Aug 31, Sep 30, Oct 31, Nov 30, Dec 31.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reports.pdc import (
    EXCLUDED_ESRD,
    EXCLUDED_HOSPICE,
    EXCLUDED_INSULIN,
    EXCLUDED_SACUBITRIL_VALSARTAN,
    INDEX_TOO_LATE,
    NO_FILLS,
    SINGLE_FILL_DATE,
    PdcFill,
    coverage_timeline,
    covered_days,
    mpr_for_class,
    pdc_by_class,
    pdc_for_class,
    shifted_spans,
    trailing_window,
)

YEAR_START, YEAR_END = date(2025, 1, 1), date(2025, 12, 31)  # 365 days
H1_START, H1_END = date(2025, 1, 1), date(2025, 6, 30)  # 31+28+31+30+31+30 = 181 days


def d(text: str) -> date:
    return date.fromisoformat(text)


def fill(drug: str, on: str, days: int) -> PdcFill:
    return PdcFill(drug=drug, fill_date=d(on), days_supply=days)


def year(fills, *, star=True):
    return pdc_for_class(fills, YEAR_START, YEAR_END, star_measure=star)


# --------------------------------------------------------------------------- worked examples


def test_perfect_monthly_refills_cover_every_day():
    # 30-day fills on Jan 1 + 30k, k = 0..12: the 13th, Dec 27, would run to Jan 25 2026;
    # capped at Dec 31. Every day Jan 1..Dec 31 is covered: 365 / 365 = 1.
    fills = [
        PdcFill(drug="atorvastatin", fill_date=YEAR_START + timedelta(30 * k), days_supply=30)
        for k in range(13)
    ]
    result = year(fills)
    assert (result.index_date, result.days_in_period, result.days_covered) == (YEAR_START, 365, 365)
    assert result.pdc == Decimal("1.0000") and result.adherent and result.measurable


def test_ninety_day_fills_with_gaps():
    # Jan 1  +90 -> Jan 1..Mar 31            31+28+31            = 90
    # Apr 15 +90 -> Apr 15..Jul 13           16+31+30+13         = 90  (gap Apr 1..14)
    # Aug 1  +90 -> Aug 1..Oct 29            31+30+29            = 90  (gap Jul 14..31)
    # Nov 15 +90 -> Nov 15..Feb 12 2026, capped at Dec 31: 16+31 = 47  (gap Oct 30..Nov 14)
    # covered 90+90+90+47 = 317; period Jan 1..Dec 31 = 365; 317/365 = 0.868493... -> 0.8685
    fills = [
        fill("lisinopril", "2025-01-01", 90),
        fill("lisinopril", "2025-04-15", 90),
        fill("lisinopril", "2025-08-01", 90),
        fill("lisinopril", "2025-11-15", 90),
    ]
    result = year(fills)
    assert (result.days_in_period, result.days_covered) == (365, 317)
    assert result.pdc == Decimal("0.8685") and result.adherent
    assert result.pdc_percent == Decimal("86.85")


def test_late_refills_make_a_patient_non_adherent():
    # 30-day fills; each refill comes after the supply ran out:
    # Jan 1..30, Feb 15..Mar 16, Apr 1..30, May 20..Jun 18, Jul 10..Aug 8, Sep 1..30,
    # Oct 20..Nov 18 (7 x 30 = 210), Dec 10..Jan 8 capped at Dec 31 = 22 days.
    # covered 232; 232/365 = 0.635616... -> 0.6356 < 0.80
    dates = ["01-01", "02-15", "04-01", "05-20", "07-10", "09-01", "10-20", "12-10"]
    result = year([fill("metformin", f"2025-{md}", 30) for md in dates])
    assert result.days_covered == 232
    assert result.pdc == Decimal("0.6356")
    assert result.measurable and not result.adherent


def test_early_refills_of_the_same_drug_are_shifted_not_wasted():
    # Period Jan 1..Jun 30 (181 days). Atorvastatin 30 days each:
    # Jan 1  -> Jan 1..Jan 30
    # Jan 25 overlaps -> starts Jan 31 -> Jan 31..Mar 1   (Jan 31 = 1, Feb = 28, Mar 1 = 30)
    # Feb 20 overlaps -> starts Mar 2  -> Mar 2..Mar 31
    # Mar 15 overlaps -> starts Apr 1  -> Apr 1..Apr 30
    # covered Jan 1..Apr 30 = 31+28+31+30 = 120; 120/181 = 0.662983 -> 0.6630
    # (Without shifting the raw union would be Jan 1..Apr 13 = 103 days.)
    fills = [
        fill("atorvastatin", "2025-01-01", 30),
        fill("atorvastatin", "2025-01-25", 30),
        fill("atorvastatin", "2025-02-20", 30),
        fill("atorvastatin", "2025-03-15", 30),
    ]
    result = pdc_for_class(fills, H1_START, H1_END, star_measure=True)
    assert (result.days_in_period, result.days_covered) == (181, 120)
    assert result.pdc == Decimal("0.6630")
    assert [(s.start, s.end) for s in result.spans] == [
        (d("2025-01-01"), d("2025-01-30")),
        (d("2025-01-31"), d("2025-03-01")),
        (d("2025-03-02"), d("2025-03-31")),
        (d("2025-04-01"), d("2025-04-30")),
    ]


def test_a_switch_to_another_statin_is_not_shifted_across_drugs():
    # Period Jan 1..Jun 30 (181 days).
    # simvastatin Jan 1 -> Jan 1..30; Jan 31 -> Jan 31..Mar 1
    # switch: atorvastatin Feb 20 -> Feb 20..Mar 21 (NOT moved behind the simvastatin supply;
    #   the overlap Feb 20..Mar 1 is counted once), Mar 22 -> Mar 22..Apr 20,
    #   Apr 21 -> Apr 21..May 20, May 21 -> May 21..Jun 19
    # union Jan 1..Jun 19 = 181 - 11 (Jun 20..30) = 170; 170/181 = 0.939226 -> 0.9392
    # (Shifting across drugs would wrongly give Jan 1..Jun 29 = 180.)
    fills = [
        fill("simvastatin", "2025-01-01", 30),
        fill("simvastatin", "2025-01-31", 30),
        fill("atorvastatin", "2025-02-20", 30),
        fill("atorvastatin", "2025-03-22", 30),
        fill("atorvastatin", "2025-04-21", 30),
        fill("atorvastatin", "2025-05-21", 30),
    ]
    result = pdc_for_class(fills, H1_START, H1_END, star_measure=True)
    assert result.days_covered == 170
    assert result.pdc == Decimal("0.9392") and result.adherent
    assert result.drugs == ("atorvastatin", "simvastatin")


def test_a_dose_change_of_the_same_ingredient_is_shifted():
    # Same drug key (the ingredient), new strength: atorvastatin 20 mg Jan 1 (30 days),
    # then 40 mg on Jan 21 -> shifted to Jan 31..Mar 1. Period Jan 1..Jun 30: 60 / 181.
    fills = [fill("atorvastatin", "2025-01-01", 30), fill("atorvastatin", "2025-01-21", 30)]
    result = pdc_for_class(fills, H1_START, H1_END, star_measure=True)
    assert result.days_covered == 60
    assert result.pdc == Decimal("0.3315")  # 60/181 = 0.331491...


def test_two_strengths_on_the_same_day_keep_the_longest_supply():
    # Lisinopril 10 mg (30 days) + 2.5 mg (30 days) on Jan 1, taken together: one supply,
    # not 60 days. Then a 90-day fill Jan 31. Covered Jan 1..Apr 30 = 120 of 181.
    fills = [
        fill("lisinopril", "2025-01-01", 30),
        fill("lisinopril", "2025-01-01", 30),
        fill("lisinopril", "2025-01-31", 90),
    ]
    result = pdc_for_class(fills, H1_START, H1_END, star_measure=True)
    assert (result.days_covered, result.fill_count, result.fill_dates) == (120, 3, 2)


def test_the_91_day_rule():
    # Dec 31 - 91 days = Oct 1: an index on Oct 1 is measurable (Oct 1..Dec 31 = 31+30+31 = 92
    # days); Oct 2 is not (91 days left).
    on_time = year([fill("losartan", "2025-10-01", 30), fill("losartan", "2025-10-31", 30)])
    assert on_time.measurable and on_time.days_in_period == 92
    assert on_time.days_covered == 60 and on_time.pdc == Decimal("0.6522")  # 60/92
    too_late = year([fill("losartan", "2025-10-02", 30), fill("losartan", "2025-11-01", 30)])
    assert not too_late.measurable and too_late.reason_code == INDEX_TOO_LATE
    assert too_late.days_in_period == 91 and too_late.days_covered == 60
    assert "2025-10-01" in too_late.reason_if_not and not too_late.adherent


def test_star_measures_need_two_fills_on_different_dates():
    # One 90-day fill Jan 1 -> 90 days covered of 365 = 0.246575 -> 0.2466.
    single = [fill("atorvastatin", "2025-01-01", 90)]
    star = year(single, star=True)
    assert not star.measurable and star.reason_code == SINGLE_FILL_DATE
    assert star.pdc == Decimal("0.2466") and not star.adherent
    other = year(single, star=False)  # e.g. the beta-blocker measure
    assert other.measurable and other.pdc == Decimal("0.2466")
    # Two fills on the same date are still one date.
    same_day = [fill("atorvastatin", "2025-01-01", 90), fill("simvastatin", "2025-01-01", 90)]
    assert year(same_day).reason_code == SINGLE_FILL_DATE


def test_coverage_is_capped_at_the_period_end():
    # Period Oct 1..Dec 31 (92 days). Oct 1 +90 -> Oct 1..Dec 29; Dec 20 overlaps ->
    # Dec 30..Mar 29 2026, capped: Dec 30, Dec 31 = 2 days. Covered 92 -> PDC exactly 1.
    # MPR counts all supply: 180 / 92 = 1.956521... -> 1.9565.
    fills = [fill("amlodipine", "2025-10-01", 90), fill("amlodipine", "2025-12-20", 90)]
    result = pdc_for_class(fills, d("2025-10-01"), YEAR_END, star_measure=False)
    assert (result.days_in_period, result.days_covered, result.pdc) == (92, 92, Decimal("1.0000"))
    mpr = mpr_for_class(fills, d("2025-10-01"), YEAR_END)
    assert (mpr.days_supply_total, mpr.mpr, mpr.measurable) == (180, Decimal("1.9565"), True)


def test_fills_before_the_window_are_ignored_even_if_their_supply_runs_into_it():
    # Dec 1 2024 (90 days, would cover to Feb 28) is outside the window: ignored, and it does
    # not shift the first in-window fill. Index = Feb 15; period Feb 15..Dec 31 =
    # 14+31+30+31+30+31+31+30+31+30+31 = 320 days.
    # Feb 15 -> Feb 15..May 15 (14+31+30+15 = 90); May 20 -> May 20..Aug 17 (12+30+31+17);
    # Aug 25 -> Aug 25..Nov 22 (7+30+31+22); Nov 30 -> Nov 30..Dec 31 capped (1+31 = 32).
    # covered 90+90+90+32 = 302; 302/320 = 0.94375 -> 0.9438 (half up)
    in_window = [
        fill("rosuvastatin", "2025-02-15", 90),
        fill("rosuvastatin", "2025-05-20", 90),
        fill("rosuvastatin", "2025-08-25", 90),
        fill("rosuvastatin", "2025-11-30", 90),
    ]
    result = year([fill("rosuvastatin", "2024-12-01", 90), *in_window])
    assert result.index_date == d("2025-02-15")
    assert (result.days_in_period, result.days_covered) == (320, 302)
    assert result.pdc == Decimal("0.9438")
    assert result == year(in_window)
    # A fill after the window is ignored too.
    assert year([*in_window, fill("rosuvastatin", "2026-01-02", 90)]) == result


def test_no_fills_in_the_window():
    result = year([fill("atorvastatin", "2024-06-01", 90)])
    assert result.reason_code == NO_FILLS and result.pdc is None and result.index_date is None
    assert mpr_for_class([], YEAR_START, YEAR_END).reason_code == NO_FILLS


def test_mpr_double_counts_overlaps_that_pdc_counts_once():
    # Jan 1..Jun 30 (181 days): atorvastatin Jan 1 (90) and simvastatin Feb 1 (90) overlap
    # Feb 1..Mar 31 (59 days). PDC union: Jan 1..May 1 = 31+28+31+30+1 = 121 -> 0.6685;
    # MPR: 180 / 181 = 0.994475 -> 0.9945.
    fills = [fill("atorvastatin", "2025-01-01", 90), fill("simvastatin", "2025-02-01", 90)]
    assert pdc_for_class(fills, H1_START, H1_END, star_measure=True).days_covered == 121
    assert mpr_for_class(fills, H1_START, H1_END).mpr == Decimal("0.9945")


def test_exactly_eighty_percent_is_adherent():
    # Window Jan 1..Jun 30, index Mar 23 -> period Mar 23..Jun 30 = 9+30+31+30 = 100 days.
    # Mar 23 +40 -> Mar 23..May 1 (9+30+1 = 40); May 22 +40 -> May 22..Jun 30 (10+30 = 40).
    # 80/100 = 0.8000 exactly: adherent. One day less (79/100) is not.
    fills = [fill("metoprolol", "2025-03-23", 40), fill("metoprolol", "2025-05-22", 40)]
    result = pdc_for_class(fills, H1_START, H1_END, star_measure=False)
    assert (result.days_in_period, result.days_covered) == (100, 80)
    assert result.pdc == Decimal("0.8000") and result.adherent
    less = [fill("metoprolol", "2025-03-23", 40), fill("metoprolol", "2025-05-22", 39)]
    assert not pdc_for_class(less, H1_START, H1_END, star_measure=False).adherent


# --------------------------------------------------------------------------- classes, exclusions

CLASSES = {
    "atorvastatin calcium": ["statin"],
    "lisinopril": ["ras_antagonist"],
    "sacubitril and valsartan": ["sacubitril_valsartan"],
    "metformin hydrochloride": ["diabetes_non_insulin"],
    "insulin glargine": ["insulin"],
    "metoprolol succinate": ["beta_blocker"],
}


def _quarterly(drug: str) -> list[PdcFill]:
    return [fill(drug, on, 90) for on in ("2025-01-01", "2025-04-01", "2025-07-01", "2025-10-01")]


def test_pdc_by_class_groups_fills_by_class_and_skips_classes_without_fills():
    fills = [
        *_quarterly("atorvastatin calcium"),
        *_quarterly("lisinopril"),
        *_quarterly("metoprolol succinate"),
    ]
    results = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END)
    assert set(results) == {"statin", "ras_antagonist", "beta_blocker"}
    # Jan 1..Mar 31 (90), Apr 1..Jun 29 (90), Jul 1..Sep 28 (90), Oct 1..Dec 29 (90):
    # gaps Jun 30, Sep 29-30, Dec 30-31 -> 360/365 = 0.986301 -> 0.9863
    assert {r.days_covered for r in results.values()} == {360}
    assert results["statin"].pdc == Decimal("0.9863")
    assert results["statin"].drugs == ("atorvastatin calcium",)


def test_insulin_users_are_excluded_from_the_diabetes_measure():
    fills = [*_quarterly("metformin hydrochloride"), fill("insulin glargine", "2025-06-01", 30)]
    diabetes = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END)["diabetes_non_insulin"]
    assert not diabetes.measurable and diabetes.reason_code == EXCLUDED_INSULIN
    assert diabetes.days_covered == 360 and not diabetes.adherent
    # An insulin fill before the window does not exclude; the caller may override.
    earlier = [*_quarterly("metformin hydrochloride"), fill("insulin glargine", "2024-06-01", 30)]
    assert pdc_by_class(earlier, CLASSES, YEAR_START, YEAR_END)["diabetes_non_insulin"].measurable
    forced = pdc_by_class(earlier, CLASSES, YEAR_START, YEAR_END, insulin_user=True)
    assert forced["diabetes_non_insulin"].reason_code == EXCLUDED_INSULIN


def test_sacubitril_valsartan_users_are_excluded_from_the_ras_measure():
    fills = [*_quarterly("lisinopril"), fill("sacubitril and valsartan", "2025-08-01", 30)]
    ras = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END)["ras_antagonist"]
    assert ras.reason_code == EXCLUDED_SACUBITRIL_VALSARTAN and not ras.measurable
    cleared = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END, sacubitril_valsartan_user=False)
    assert cleared["ras_antagonist"].measurable


def test_hospice_and_esrd_exclude_the_star_measures_only():
    fills = [*_quarterly("atorvastatin calcium"), *_quarterly("metoprolol succinate")]
    hospice = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END, hospice=True)
    assert hospice["statin"].reason_code == EXCLUDED_HOSPICE
    assert hospice["beta_blocker"].measurable and hospice["beta_blocker"].adherent
    esrd = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END, esrd=True)
    assert esrd["statin"].reason_code == EXCLUDED_ESRD


def test_the_star_rule_applies_only_to_star_classes():
    fills = [fill("metoprolol succinate", "2025-01-01", 90), fill("lisinopril", "2025-01-01", 90)]
    results = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END)
    assert results["beta_blocker"].measurable
    assert results["ras_antagonist"].reason_code == SINGLE_FILL_DATE


def test_a_drug_in_two_classes_counts_in_both():
    both = {"combo": ["statin", "calcium_channel_blocker"]}
    results = pdc_by_class(_quarterly("combo"), both, YEAR_START, YEAR_END)
    assert results["statin"].days_covered == results["calcium_channel_blocker"].days_covered == 360


def test_unknown_drugs_and_unwanted_classes_are_ignored():
    fills = [*_quarterly("mystery"), *_quarterly("atorvastatin calcium")]
    results = pdc_by_class(fills, CLASSES, YEAR_START, YEAR_END, classes=["statin"])
    assert list(results) == ["statin"]


# --------------------------------------------------------------------------- helpers, input checks


def test_trailing_window_and_timeline():
    start, end = trailing_window(d("2025-06-30"), 180)
    assert (start, end) == (d("2025-01-02"), d("2025-06-30"))
    timeline = coverage_timeline(
        [fill("a", "2024-12-20", 30), fill("a", "2025-01-10", 30), fill("b", "2025-06-20", 30)],
        start,
        end,
    )
    # the Dec 20 fill is outside the window, so the Jan 10 fill is not shifted
    assert [(s.drug, s.start, s.end) for s in timeline] == [
        ("a", d("2025-01-10"), d("2025-02-08")),
        ("b", d("2025-06-20"), d("2025-06-30")),
    ]
    with pytest.raises(ValueError):
        trailing_window(end, 0)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="days_supply"):
        PdcFill(drug="x", fill_date=YEAR_START, days_supply=0)
    with pytest.raises(ValueError, match="drug"):
        PdcFill(drug="", fill_date=YEAR_START, days_supply=30)
    with pytest.raises(ValueError, match="after"):
        pdc_for_class([], YEAR_END, YEAR_START, star_measure=True)
    with pytest.raises(TypeError):
        PdcFill("x", YEAR_START, 30)  # keyword-only: no silent mix-up of fields


# --------------------------------------------------------------------------- invariants

DRUGS = st.sampled_from(["atorvastatin", "simvastatin", "rosuvastatin"])
WINDOW_START, WINDOW_END = d("2025-01-01"), d("2025-12-31")


@st.composite
def fill_lists(draw, min_size=1):
    count = draw(st.integers(min_value=min_size, max_value=14))
    return [
        PdcFill(
            drug=draw(DRUGS),
            fill_date=WINDOW_START + timedelta(draw(st.integers(-60, 400))),
            days_supply=draw(st.sampled_from([7, 14, 28, 30, 45, 60, 90, 100])),
        )
        for _ in range(count)
    ]


@settings(max_examples=300, deadline=None)
@given(fills=fill_lists(), star=st.booleans())
def test_pdc_is_between_0_and_1_and_never_counts_a_day_twice(fills, star):
    result = pdc_for_class(fills, WINDOW_START, WINDOW_END, star_measure=star)
    if result.index_date is None:
        assert result.pdc is None
        return
    assert 0 <= result.pdc <= 1
    assert 0 <= result.days_covered <= result.days_in_period
    supply = sum(f.days_supply for f in fills if WINDOW_START <= f.fill_date <= WINDOW_END)
    assert result.days_covered <= supply
    # spans are inside the period; each drug's spans never overlap one another
    for span in result.spans:
        assert result.index_date <= span.start <= span.end <= WINDOW_END
    for drug in result.drugs:
        own = sorted((s for s in result.spans if s.drug == drug), key=lambda s: s.start)
        assert all(a.end < b.start for a, b in itertools.pairwise(own))
    assert result.adherent == (
        result.measurable and result.days_covered * 5 >= result.days_in_period * 4
    )


@settings(max_examples=300, deadline=None)
@given(fills=fill_lists(), extra=fill_lists(), star=st.booleans())
def test_adding_a_fill_in_the_period_never_lowers_pdc(fills, extra, star):
    base = pdc_for_class(fills, WINDOW_START, WINDOW_END, star_measure=star)
    if base.index_date is None:
        return
    # Fills on or after the index date (an earlier one would move the index date and lengthen
    # the period, which may rightly lower the PDC).
    more = [f for f in extra if base.index_date <= f.fill_date <= WINDOW_END]
    bigger = pdc_for_class(fills + more, WINDOW_START, WINDOW_END, star_measure=star)
    assert bigger.index_date == base.index_date
    assert bigger.days_covered >= base.days_covered
    assert bigger.pdc >= base.pdc
    if base.measurable:
        assert bigger.measurable


@settings(max_examples=300, deadline=None)
@given(fills=fill_lists())
def test_shifting_keeps_every_day_of_supply_and_only_adds_days(fills):
    spans = shifted_spans(fills)
    # Per drug, after collapsing same-day fills to the longest, the shifted spans hold
    # exactly the supply: nothing is lost, nothing counted twice.
    for drug in {f.drug for f in fills}:
        longest: dict[date, int] = {}
        for f in fills:
            if f.drug == drug:
                longest[f.fill_date] = max(longest.get(f.fill_date, 0), f.days_supply)
        own = [s for s in spans if s.drug == drug]
        assert sum(s.days for s in own) == sum(longest.values()) == covered_days(own)
    # Every raw day (fill date .. fill date + supply - 1) is still covered after shifting.
    raw_days = {f.fill_date + timedelta(i) for f in fills for i in range(f.days_supply)}
    shifted_days = {s.start + timedelta(i) for s in spans for i in range(s.days)}
    assert raw_days <= shifted_days
    assert covered_days(spans) == len(shifted_days)


@settings(max_examples=200, deadline=None)
@given(fills=fill_lists(), data=st.data())
def test_the_order_of_the_fills_does_not_matter(fills, data):
    shuffled = data.draw(st.permutations(fills))
    assert pdc_for_class(fills, WINDOW_START, WINDOW_END, star_measure=True) == pdc_for_class(
        shuffled, WINDOW_START, WINDOW_END, star_measure=True
    )


@settings(max_examples=200, deadline=None)
@given(fills=fill_lists())
def test_class_coverage_is_at_most_the_sum_of_its_drugs(fills):
    result = pdc_for_class(fills, WINDOW_START, WINDOW_END, star_measure=False)
    if result.index_date is None:
        return
    per_drug = [
        pdc_for_class(
            [f for f in fills if f.drug == drug and f.fill_date >= result.index_date],
            result.index_date,
            WINDOW_END,
            star_measure=False,
        ).days_covered
        for drug in result.drugs
    ]
    assert max(per_drug) <= result.days_covered <= sum(per_drug)
