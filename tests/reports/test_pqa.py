"""The four PQA med sync measures (reports/pqa.py) on worked examples computed by hand from
DOMAIN.md section 6, including patients who enter and leave the program mid-period."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from reports.pqa import (
    EXCLUDED_DIED,
    EXCLUDED_HOSPITALIZED,
    EXCLUDED_INPATIENT,
    EXCLUDED_LTC,
    EXCLUDED_ONE_MEDICINE,
    EXCLUDED_TRANSFERRED,
    Member,
    Offer,
    add_months,
    completeness,
    contact_rate,
    continuation,
    initial_sync_rate,
    pqa_report,
)

START, END = date(2025, 1, 1), date(2025, 12, 31)


def test_initial_sync_rate_worked_example():
    offers = [
        # agreed in 10 days, synced two weeks later: numerator
        Offer("a", date(2025, 3, 1), date(2025, 3, 11), date(2025, 3, 25)),
        # agreed on day 30 exactly: numerator
        Offer("b", date(2025, 3, 1), date(2025, 3, 31), date(2025, 4, 20)),
        # agreed on day 31: denominator only
        Offer("c", date(2025, 3, 1), date(2025, 4, 1), date(2025, 4, 20)),
        # agreed, never synchronized: denominator only
        Offer("d", date(2025, 6, 1), date(2025, 6, 2), None),
        # declined: denominator only
        Offer("e", date(2025, 7, 1)),
        # contacted before the period: not in the measure at all
        Offer("f", date(2024, 12, 31), date(2025, 1, 2), date(2025, 1, 10)),
        # contacted twice: counted once, on the first contact (agreed 40 days after it)
        Offer("g", date(2025, 8, 1), date(2025, 9, 10), date(2025, 9, 20)),
        Offer("g", date(2025, 9, 5), date(2025, 9, 10), date(2025, 9, 20)),
    ]
    result = initial_sync_rate(offers, START, END)
    assert sorted(result.denominator) == ["a", "b", "c", "d", "e", "g"]
    assert sorted(result.numerator) == ["a", "b"]
    assert result.excluded == ()
    assert result.rate == Decimal("0.3333")  # 2 / 6


def test_completeness_worked_example():
    members = [
        Member("all", date(2024, 6, 1), chronic_medicines=4, synced_medicines=4),
        Member("some", date(2025, 2, 1), chronic_medicines=4, synced_medicines=3),
        # joined mid-period, everything synced: counts
        Member("joined", date(2025, 9, 1), chronic_medicines=2, synced_medicines=2),
        # left mid-period: was enrolled during it, counts by its medicines
        Member("left", date(2024, 1, 1), date(2025, 5, 1), chronic_medicines=3, synced_medicines=3),
        # left before the period: not in it
        Member("gone", date(2023, 1, 1), date(2024, 12, 31), chronic_medicines=2),
        Member("ltc", date(2024, 1, 1), long_term_care=True, chronic_medicines=2),
        Member(
            "stay",
            date(2024, 1, 1),
            stays=((date(2025, 4, 1), date(2025, 4, 5)),),
            chronic_medicines=2,
            synced_medicines=2,
        ),
    ]
    result = completeness(members, START, END)
    assert sorted(result.denominator) == ["all", "joined", "left", "some"]
    assert sorted(result.numerator) == ["all", "joined", "left"]
    assert dict(result.excluded) == {"ltc": EXCLUDED_LTC, "stay": EXCLUDED_INPATIENT}
    assert result.rate == Decimal("0.7500")


def _members_for_continuation():
    return [
        Member("stays", date(2024, 10, 1), chronic_medicines=3),
        # enrolled on the first day exactly: in; leaves after 8 months
        Member("left8", date(2025, 1, 1), date(2025, 9, 1), chronic_medicines=3),
        # leaves after 4 months (asked to)
        Member("left4", date(2024, 11, 1), date(2025, 5, 1), chronic_medicines=2),
        # joins after the first day: not in the denominator
        Member("late", date(2025, 1, 2), chronic_medicines=3),
        # died after 3 months: excluded from both rates
        Member("died", date(2024, 1, 1), date(2025, 4, 1), EXCLUDED_DIED, chronic_medicines=3),
        # transferred after 9 months: counted at 6 months (still in), excluded at 12
        Member(
            "moved", date(2024, 1, 1), date(2025, 10, 1), EXCLUDED_TRANSFERRED, chronic_medicines=2
        ),
        Member("single", date(2024, 1, 1), chronic_medicines=1),
        Member(
            "hospital",
            date(2024, 1, 1),
            stays=((date(2025, 8, 1), date(2025, 8, 20)),),
            chronic_medicines=2,
        ),
        # left on the checkpoint day itself: still enrolled that day
        Member("edge", date(2024, 1, 1), date(2025, 7, 1), chronic_medicines=2),
    ]


def test_continuation_six_months():
    result = continuation(
        _members_for_continuation(), START, months=6, evaluated_on=date(2025, 12, 31)
    )
    assert result.period_end == date(2025, 7, 1)
    assert sorted(result.denominator) == ["edge", "hospital", "left4", "left8", "moved", "stays"]
    # the stay in August is after the 6-month checkpoint: not an exclusion for this rate
    assert sorted(result.numerator) == ["edge", "hospital", "left8", "moved", "stays"]
    assert dict(result.excluded) == {"died": EXCLUDED_DIED, "single": EXCLUDED_ONE_MEDICINE}
    assert result.rate == Decimal("0.8333")  # 5 / 6


def test_continuation_twelve_months():
    result = continuation(
        _members_for_continuation(), START, months=12, evaluated_on=date(2026, 1, 1)
    )
    assert result.period_end == date(2026, 1, 1)
    assert sorted(result.denominator) == ["edge", "left4", "left8", "stays"]
    assert sorted(result.numerator) == ["stays"]
    assert dict(result.excluded) == {
        "died": EXCLUDED_DIED,
        "single": EXCLUDED_ONE_MEDICINE,
        "moved": EXCLUDED_TRANSFERRED,
        "hospital": EXCLUDED_HOSPITALIZED,
    }
    assert result.rate == Decimal("0.2500")


def test_continuation_not_yet_due_is_pending_not_failed():
    result = continuation(_members_for_continuation(), START, months=12, evaluated_on=END)
    assert result.pending and result.rate is None and result.numerator == ()
    assert len(result.denominator) == 4
    with pytest.raises(ValueError):
        continuation([], START, months=9, evaluated_on=END)


def test_contact_rate_worked_example():
    start = date(2025, 4, 1)  # evaluation period Apr 1 .. Jun 29 (90 days)
    adult = date(1950, 1, 1)
    members = [
        # two appointments, both called 6 days ahead: numerator
        Member(
            "called",
            date(2025, 1, 1),
            birth_date=adult,
            chronic_medicines=3,
            appointments=(date(2025, 4, 10), date(2025, 5, 10)),
            contacts=(date(2025, 4, 4), date(2025, 5, 4)),
        ),
        # second appointment called on the day itself: not before it
        Member(
            "sameday",
            date(2025, 1, 1),
            birth_date=adult,
            chronic_medicines=3,
            appointments=(date(2025, 4, 10), date(2025, 5, 10)),
            contacts=(date(2025, 4, 4), date(2025, 5, 10)),
        ),
        # called 20 days ahead: too early to count
        Member(
            "early",
            date(2025, 1, 1),
            birth_date=adult,
            chronic_medicines=3,
            appointments=(date(2025, 6, 1),),
            contacts=(date(2025, 5, 12),),
        ),
        # joined mid-period: only the appointment after enrolling counts, and it was called
        Member(
            "joined",
            date(2025, 5, 15),
            birth_date=adult,
            chronic_medicines=2,
            appointments=(date(2025, 5, 1), date(2025, 6, 20)),
            contacts=(date(2025, 6, 14),),
        ),
        # left before the only appointment in the period: not in the measure
        Member(
            "left",
            date(2024, 1, 1),
            date(2025, 4, 5),
            birth_date=adult,
            chronic_medicines=2,
            appointments=(date(2025, 4, 20),),
        ),
        # a child: not in the measure
        Member(
            "child",
            date(2025, 1, 1),
            birth_date=date(2010, 1, 1),
            chronic_medicines=2,
            appointments=(date(2025, 4, 20),),
            contacts=(date(2025, 4, 14),),
        ),
        # appointment after the period: not in the measure
        Member(
            "later",
            date(2025, 1, 1),
            birth_date=adult,
            chronic_medicines=2,
            appointments=(date(2025, 6, 30),),
        ),
        Member(
            "single",
            date(2025, 1, 1),
            birth_date=adult,
            chronic_medicines=1,
            appointments=(date(2025, 4, 20),),
        ),
        Member(
            "died",
            date(2025, 1, 1),
            date(2025, 5, 1),
            EXCLUDED_DIED,
            birth_date=adult,
            chronic_medicines=3,
            appointments=(date(2025, 4, 20),),
        ),
    ]
    result = contact_rate(members, start)
    assert result.period_end == date(2025, 6, 29)
    assert sorted(result.denominator) == ["called", "early", "joined", "sameday"]
    assert sorted(result.numerator) == ["called", "joined"]
    assert dict(result.excluded) == {"single": EXCLUDED_ONE_MEDICINE, "died": EXCLUDED_DIED}
    assert result.rate == Decimal("0.5000")
    assert result.rate_percent == Decimal("50.0")


def test_report_runs_all_four_and_empty_rates_are_none():
    report = pqa_report([], [], START, END).by_name()
    assert len(report) == 5
    assert all(m.rate is None for m in report.values())
    assert report["contact_rate"].period_start == date(2025, 10, 3)
    with pytest.raises(ValueError):
        pqa_report([], [], END, START)


def test_add_months_clamps_to_month_end():
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2024, 12, 15), 12) == date(2025, 12, 15)
