"""Issue 10, defect 11: PDC with inpatient stays (days in a stay leave the period; the supply
held at admission resumes after discharge) and a period ended by death or disenrollment
(DOMAIN 6). Hand-computed worked examples, pure and through the database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from medsync.tenancy import tenant_scope
from patients.models import InpatientStay, StaySource
from reports.pdc import STATIN, PdcFill, pdc_by_class, stay_adjusted_spans
from reports.selectors import adherence_for_patient
from scheduling.models import DisenrollReason, EnrollmentStatus, SyncEnrollment
from tests.factories import DrugFactory, FillFactory, PatientFactory, PrescriptionFactory

D = dt.date
START, END = D(2026, 1, 1), D(2026, 6, 30)  # 181 days
CLASSES = {"atorvastatin": [STATIN]}
# 1/1, 1/31, 3/2 (30 days each: to 3/31), a 3/15-3/24 hospital stay, then 4/10, 5/10, 6/9.
STAY_FILLS = [D(2026, 1, 1), D(2026, 1, 31), D(2026, 3, 2), D(2026, 4, 10), D(2026, 5, 10)]
STAY_FILLS.append(D(2026, 6, 9))
STAY = (D(2026, 3, 15), D(2026, 3, 24))  # 10 days


def statin_fills(dates):
    return [PdcFill(fill_date=d, drug="atorvastatin", days_supply=30) for d in dates]


def test_without_the_stay_the_gap_after_it_counts_against_the_patient():
    # Covered 1/1-3/31 (90) + 4/10-6/30 (82) = 172 of 181 days.
    result = pdc_by_class(statin_fills(STAY_FILLS), CLASSES, START, END)[STATIN]
    assert (result.days_in_period, result.days_covered) == (181, 172)
    assert result.pdc == Decimal("0.9503")


def test_a_stay_leaves_the_period_and_the_supply_held_resumes_after_discharge():
    # The 3/2 fill covers 3/2-3/14 (13 days), the 17 days left resume 3/25-4/10; the 4/10
    # fill is carried to 4/11-5/10, 5/10 to 5/11-6/9, 6/9 to 6/10-6/30 (capped).
    # Covered 1/1-3/14 (73) + 3/25-6/30 (98) = 171; period 181 - 10 stay days = 171.
    fills = statin_fills(STAY_FILLS)
    spans = stay_adjusted_spans(fills, [STAY])
    third = [(s.start, s.end) for s in spans if s.fill_date == D(2026, 3, 2)]
    assert third == [(D(2026, 3, 2), D(2026, 3, 14)), (D(2026, 3, 25), D(2026, 4, 10))]
    result = pdc_by_class(fills, CLASSES, START, END, stays=[STAY])[STATIN]
    assert (result.days_in_period, result.days_covered) == (171, 171)
    assert result.pdc == Decimal("1.0000") and result.adherent


def test_death_or_disenrollment_ends_the_period():
    # 1/1, 1/31, 3/2, 4/1: covered 1/1-4/30 = 120 days. Open period: 120/181 = 0.6630.
    fills = statin_fills([D(2026, 1, 1), D(2026, 1, 31), D(2026, 3, 2), D(2026, 4, 1)])
    open_period = pdc_by_class(fills, CLASSES, START, END)[STATIN]
    assert open_period.pdc == Decimal("0.6630") and not open_period.adherent
    # Died 5/15: the period is 1/1-5/15 = 135 days; 120/135 = 0.8889, adherent.
    ended = pdc_by_class(fills, CLASSES, START, END, ended_on=D(2026, 5, 15))[STATIN]
    assert (ended.period_end, ended.days_in_period, ended.days_covered) == (
        D(2026, 5, 15),
        135,
        120,
    )
    assert ended.pdc == Decimal("0.8889") and ended.adherent
    assert pdc_by_class(fills, CLASSES, START, END, ended_on=D(2025, 12, 31)) == {}


@pytest.mark.django_db
def test_the_adherence_selector_reads_stays_and_the_end_of_the_period(maple):
    pharmacy = maple.pharmacies[0]
    with tenant_scope(maple.organization):
        statin = DrugFactory(ndc="00093715598", name="Atorvastatin", generic_name="atorvastatin")
        patient = PatientFactory(organization=maple.organization, home_pharmacy=pharmacy)
        rx = PrescriptionFactory(patient=patient, pharmacy=pharmacy, drug=statin)
        for number, day in enumerate(STAY_FILLS):
            FillFactory(prescription=rx, fill_date=day, days_supply=30, fill_number=number)
        before = adherence_for_patient(patient, period_end=END, days=181)[2][STATIN]
        assert (before.days_in_period, before.days_covered) == (181, 172)
        InpatientStay.objects.create(
            patient=patient, admitted_on=STAY[0], discharged_on=STAY[1], source=StaySource.RECORD
        )
        after = adherence_for_patient(patient, period_end=END, days=181)[2][STATIN]
        assert (after.days_in_period, after.days_covered, after.pdc) == (171, 171, Decimal("1"))
        # Transferred to another pharmacy on 5/15 (a sync enrollment closed for it): the period
        # ends 5/15. 1/1-5/15 = 135 days less the 10 stay days = 125; covered 73 + 3/25-5/15
        # (52) = 125.
        with time_machine.travel(dt.datetime(2026, 1, 1, 15, tzinfo=dt.UTC), tick=False):
            enrollment = SyncEnrollment.objects.create(
                patient=patient,
                pharmacy=pharmacy,
                anchor_date=D(2026, 1, 20),
                cycle_days=30,
                status=EnrollmentStatus.DISENROLLED,
                disenroll_reason=DisenrollReason.TRANSFERRED,
                disenrolled_at=dt.datetime(2026, 5, 15, 18, tzinfo=dt.UTC),
            )
        _start, end, results = adherence_for_patient(patient, period_end=END, days=181)
        assert end == D(2026, 5, 15) and enrollment.pk
        assert (results[STATIN].days_in_period, results[STATIN].days_covered) == (125, 125)
