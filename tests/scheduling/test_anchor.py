"""scheduling.anchor: the optimizer's choices and its words, worked by hand.

The patient (unless a test says otherwise): today Mon 3/2/2026, 30-day cycle, Part D $10 copay,
refill allowed after 75% (23 of 30 days). Candidates: tomorrow 3/3 through 4/1.

- lisinopril   last filled 2/8  -> due 3/10, the plan pays a refill from 2/8 + 23 = 3/3
- metformin    last filled 2/10 -> due 3/12, paid from 3/5
- atorvastatin last filled 2/12 -> due 3/14, paid from 3/7

Default penalty points: an extra trip 10, a short fill 2, a refill-too-soon needing SCC 47 3,
one the plan will not override 100, a missed preference 6, a later anchor on a closed day 4,
$1 above a prorated charge 1, each pickup above the day's average 0.5.

By hand:
- 3/10: lisinopril full on its due date; metformin and atorvastatin filled 3/10 for 28 and 26
  days (short, both paid by then): 0 trips, 2 short fills -> 4 points. The best.
- 3/7, 3/8, 3/9: all three filled early on the anchor, no conflict: 3 short fills -> 6.
- 3/5, 3/6: 3 short fills + atorvastatin too soon (paid from 3/7) -> 6 + 3 = 9.
- 3/3, 3/4: 3 short fills + metformin and atorvastatin too soon -> 6 + 6 = 12.
- 3/12, 3/14: lisinopril needs a short fill before the anchor (trip 3/10) + 2 shorts -> 14.
- 3/11, 3/13 and 3/15 onwards: a trip on 3/10 and 3 short fills -> 16.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from scheduling.anchor import (
    AnchorWeights,
    PatientPreferences,
    PharmacyCalendar,
    candidate_dates,
    propose_anchors,
    score_anchor,
)
from tests.scheduling.test_alignment_helpers import (
    NO_PRORATION,
    PART_D,
    TODAY,
    D,
    d,
    inhaler,
    tablet,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def patient(**kwargs):
    return [
        tablet("lisinopril", last_fill=d(2, 8), **kwargs),
        tablet("metformin", last_fill=d(2, 10), **kwargs),
        tablet("atorvastatin", last_fill=d(2, 12), **kwargs),
    ]


def propose(rxs=None, **kwargs):
    kwargs.setdefault("limit", 3)
    return propose_anchors(
        today=TODAY, cycle_days=30, prescriptions=patient() if rxs is None else rxs, **kwargs
    )


def scores(rxs=None, **kwargs):
    return [(p.anchor_date, p.score) for p in propose(rxs, **kwargs)]


def test_the_best_anchor_needs_no_trip_and_the_fewest_short_fills():
    best, second, third = propose()
    assert [(best.anchor_date, best.score), (second.anchor_date, second.score)] == [
        (d(3, 10), D("4.00")),
        (d(3, 7), D("6.00")),  # ties with 3/8 and 3/9: the earlier date first
    ]
    assert third.anchor_date == d(3, 8)
    assert (best.extra_trips, best.short_fills, best.refill_too_soon) == (0, 2, 0)
    # metformin 28 days: 10 x 28/30 = 9.33 ; atorvastatin 26 days: 8.67 -> $18.00
    assert best.patient_cost == D("18.00")
    assert best.extra_cost == D("0.00")
    assert best.reasons == (
        "No refill-too-soon conflict: every plan pays these fills.",
        "No extra trips: everything is picked up together on the anchor.",
        "2 short fills costing the patient $18.00 in all, prorated to the days (no more than a "
        "normal month).",
    )
    assert best.cautions == ()
    assert best.summary == "Tue 3/10: 0 extra trips, 2 short fills, $18.00"


def test_every_candidate_is_scored_as_worked_by_hand():
    everything = {p.anchor_date: p.score for p in propose(limit=30)}
    assert len(everything) == 30  # 3/3 .. 4/1
    expected = {
        d(3, 3): 12,
        d(3, 4): 12,
        d(3, 5): 9,
        d(3, 6): 9,
        d(3, 7): 6,
        d(3, 8): 6,
        d(3, 9): 6,
        d(3, 10): 4,
        d(3, 11): 16,
        d(3, 12): 14,
        d(3, 13): 16,
        d(3, 14): 14,
    }
    for day, points in expected.items():
        assert everything[day] == points, day
    assert all(everything[day] == 16 for day in everything if day > d(3, 14))


def test_a_date_the_pharmacist_types_is_scored_and_explained():
    # 3/20: all three due before it -> short fills of 10, 8 and 6 days, all paid by 3/10, one
    # trip on 3/10: $3.33 + $2.67 + $2.00 = $8.00.
    proposal = score_anchor(
        today=TODAY, anchor_date=d(3, 20), cycle_days=30, prescriptions=patient()
    )
    assert proposal.summary == "Fri 3/20: 1 extra trip, 3 short fills, $8.00"
    assert proposal.trip_dates == (d(3, 10),)
    assert proposal.score == D("16.00")
    assert "1 extra trip before everything lines up (Tue 3/10)." in proposal.cautions


def test_refill_too_soon_is_a_caution_with_the_date_the_plan_pays():
    proposal = score_anchor(
        today=TODAY, anchor_date=d(3, 5), cycle_days=30, prescriptions=patient()
    )
    assert proposal.refill_too_soon == 1 and proposal.hard_conflicts == 0
    assert any(
        "atorvastatin: the fill on Thu 3/5 comes before the plan pays a refill (Sat 3/7)" in c
        for c in proposal.cautions
    )


def test_a_plan_that_takes_no_sync_code_steers_away_from_conflicts():
    strict = replace(PART_D, sync_codes_allowed=False)
    proposals = propose(patient(plan=strict), limit=30)
    # 3/3: metformin and atorvastatin would be rejected (79) on the anchor: they move into the
    # days the plan pays (3/5..3/12 and 3/7..3/14) and share ONE trip on 3/12 (issue 10 defect
    # 5); the moved fills are no conflict any more (the trip is their cost, counted once):
    # 3 shorts (6) + 1 trip (10) = 16 (it was 2 trips + 2 x 100 hard conflicts = 226).
    by_day = {p.anchor_date: p for p in proposals}
    assert by_day[d(3, 3)].hard_conflicts == 0
    assert by_day[d(3, 3)].trip_dates == (d(3, 12),)
    assert by_day[d(3, 3)].score == D("16.00")
    # Every proposal without a conflict ranks before any with one.
    ranks = [p.hard_conflicts > 0 for p in proposals]
    assert ranks == sorted(ranks)
    assert proposals[0].anchor_date == d(3, 10)


def test_the_patients_preferred_day_of_month_wins_a_reason():
    best = propose(preferences=PatientPreferences(preferred_day_of_month=10))[0]
    assert best.anchor_date == d(3, 10)
    assert best.matches_preference is True
    assert "Tue 3/10 is the patient's preferred day." in best.reasons


def test_a_preferred_weekday_can_outweigh_one_refill_too_soon():
    # Thursday preferred: 3/5 (Thu) scores 9 and keeps it; 3/10 (Tue) 4 + 6 = 10; 3/12 (Thu)
    # 14. So 3/5 first, with the atorvastatin caution; then 3/10, then 3/7..3/9 at 12.
    proposals = propose(preferences=PatientPreferences(preferred_weekday=THU))
    assert [(p.anchor_date, p.score) for p in proposals] == [
        (d(3, 5), D("9.00")),
        (d(3, 10), D("10.00")),
        (d(3, 7), D("12.00")),
    ]
    assert "Not the patient's preferred day (a Thursday)." in proposals[1].cautions


def test_closed_days_are_never_proposed_and_later_anchors_avoid_them():
    # Closed Tuesdays and Sundays: 3/10 (Tue) and 3/8 (Sun) are out.
    # 3/7 (Sat): later anchors 4/6 Mon, 5/6 Wed, 6/5 Fri -> 6 points.
    # 3/5 (Thu): 4/4 Sat, 5/4 Mon, 6/3 Wed -> 9.
    # 3/9 (Mon): 4/8 Wed, 5/8 Fri, 6/7 Sun (closed) -> 6 + 4 = 10.
    # 3/6 (Fri): 4/5 Sun (closed) -> 9 + 4 = 13.
    calendar = PharmacyCalendar(closed_weekdays=frozenset({TUE, SUN}))
    assert scores(calendar=calendar) == [
        (d(3, 7), D("6.00")),
        (d(3, 5), D("9.00")),
        (d(3, 9), D("10.00")),
    ]
    third = propose(calendar=calendar)[2]
    assert third.closed_future_anchors == (d(6, 7),)
    assert "A later anchor, Sun 6/7, falls on a day the pharmacy is closed." in third.cautions
    every_day = {p.anchor_date for p in propose(calendar=calendar, limit=30)}
    assert not any(day.weekday() in (TUE, SUN) for day in every_day)


def test_holidays_are_closed_days():
    calendar = PharmacyCalendar(closed_dates=frozenset({d(3, 10)}))
    assert propose(calendar=calendar)[0].anchor_date == d(3, 7)


def test_a_typed_date_on_a_closed_day_is_scored_with_a_caution():
    calendar = PharmacyCalendar(closed_dates=frozenset({d(3, 20)}))
    open_day = score_anchor(
        today=TODAY, anchor_date=d(3, 20), cycle_days=30, prescriptions=patient()
    )
    closed = score_anchor(
        today=TODAY,
        anchor_date=d(3, 20),
        cycle_days=30,
        prescriptions=patient(),
        calendar=calendar,
    )
    assert "The pharmacy is closed on Fri 3/20." in closed.cautions
    assert closed.score == open_day.score + AnchorWeights().closed_future_anchor


def test_pharmacy_load_spreads_anchors():
    # 20 patients already pick up on 3/7; the average over the 30 candidate days is 20/30.
    # 3/7: 6 + 0.5 x (20 - 0.667) = 15.67 -> it drops behind 3/8 and 3/9 (6 each).
    calendar = PharmacyCalendar(load_by_date={d(3, 7): 20})
    assert scores(calendar=calendar) == [
        (d(3, 10), D("4.00")),
        (d(3, 8), D("6.00")),
        (d(3, 9), D("6.00")),
    ]
    busy = score_anchor(
        today=TODAY,
        anchor_date=d(3, 7),
        cycle_days=30,
        prescriptions=patient(),
        calendar=calendar,
        average_load=Decimal(20) / 30,
    )
    assert busy.score == D("15.67")
    assert busy.pharmacy_load == 20
    assert "A busier day at the pharmacy: 20 other pickups (about 1 on an average day)." in (
        busy.cautions
    )
    quiet = propose(calendar=calendar)[0]
    assert "A quieter day at the pharmacy: 0 other pickups (about 1 on an average day)." in (
        quiet.reasons
    )


def test_a_plan_without_proration_counts_what_short_fills_cost_above_a_prorated_charge():
    # No proration, $10 copay: every short fill costs $10.
    # 3/10: metformin 28 days (fair 9.33 -> $0.67 more) + atorvastatin 26 days (8.67 -> $1.33)
    #       = $2.00 extra -> 4 + 2 = 6.
    # 3/7: 27, 25, 23 days -> $1.00 + $1.67 + $2.33 = $5.00 extra -> 6 + 5 = 11.
    proposals = {p.anchor_date: p for p in propose(patient(plan=NO_PRORATION), limit=30)}
    assert proposals[d(3, 10)].extra_cost == D("2.00")
    assert proposals[d(3, 10)].score == D("6.00")
    assert proposals[d(3, 7)].score == D("11.00")
    assert (
        "2 short fills cost the patient $20.00, $2.00 more than a prorated charge (the plan "
        "does not prorate some of them)." in proposals[d(3, 10)].cautions
    )


def test_an_inhaler_pulls_the_anchor_to_its_own_date():
    # Symbicort (30 days an inhaler) due 3/10 plus the three tablets: on 3/10 the inhaler lands
    # on the anchor; on any other day it drifts (1 point) -- 3/10 wins outright.
    rxs = [*patient(), inhaler("symbicort", last_fill=d(2, 8))]
    best = propose(rxs)[0]
    assert best.anchor_date == d(3, 10)
    assert best.drifting_items == 0
    assert "Whole-package items (inhalers, pens, drops) land on the anchor too." in best.reasons
    other = score_anchor(today=TODAY, anchor_date=d(3, 9), cycle_days=30, prescriptions=rxs)
    assert other.drifting_items == 1
    assert any("whole packages run out" in c for c in other.cautions)


def test_a_household_shares_one_anchor():
    # Two members' prescriptions together: the trips are the household's trips.
    spouse = [tablet("spouse-statin", last_fill=d(2, 9))]  # due 3/11
    best = propose([*patient(), *spouse])[0]
    # 3/10: spouse-statin (due 3/11 > anchor) filled 3/10 for 29 days, paid from 3/4: 3 shorts.
    assert best.anchor_date == d(3, 10)
    assert best.short_fills == 3 and best.extra_trips == 0


def test_renewals_are_cautions_whatever_the_date():
    rxs = [replace(tablet("lisinopril", last_fill=d(2, 8)), fills_remaining=1)]
    best = propose(rxs)[0]
    assert best.renewals_needed == 1
    assert any("request a renewal" in c for c in best.cautions)


def test_weights_are_the_pharmacys_to_tune():
    # If short fills and SCC overrides cost nothing, every day from 3/3 to 3/10 scores 0:
    # the earliest wins.
    weights = AnchorWeights(short_fill=Decimal("0"), soft_refill_too_soon=Decimal("0"))
    assert propose(weights=weights)[0].anchor_date == d(3, 3)


def test_no_candidates_no_proposals():
    assert propose(limit=0) == []
    everything_closed = PharmacyCalendar(closed_weekdays=frozenset(range(7)))
    assert propose(calendar=everything_closed) == []


def test_candidates_cover_one_cycle_from_the_first_day():
    days = candidate_dates(
        today=TODAY, cycle_days=28, calendar=PharmacyCalendar(), first_candidate=d(3, 9)
    )
    assert (days[0], days[-1], len(days)) == (d(3, 9), d(4, 5), 28)
    assert candidate_dates(
        today=TODAY, cycle_days=7, calendar=PharmacyCalendar(), first_candidate=None
    ) == [d(3, 3 + i) for i in range(7)]


@pytest.mark.parametrize("cycle", [28, 60, 90])
def test_other_cycle_lengths_score_every_day_of_one_cycle(cycle):
    proposals = propose_anchors(today=TODAY, cycle_days=cycle, prescriptions=patient(), limit=cycle)
    assert len(proposals) == cycle
    assert proposals[0].score <= proposals[-1].score
