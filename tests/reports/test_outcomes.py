"""Adherence outcomes through the database: PDC 12 months before vs since enrollment for a
patient enrolled mid-year (numbers by hand), the not-enrolled comparison, stays, the refresh
job (idempotent, per tenant, in the real worker)."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from medsync.tenancy import tenant_scope
from patients.models import TherapeuticClass as TC
from reports.adherence import adherence_figures, adherence_trend, outcome_rows
from reports.models import OutcomePeriod, OutcomeRefresh, PdcOutcome, PdcSnapshot, RefreshStatus
from reports.services import outcomes_refresh, outcomes_refresh_request
from tests.factories import (
    DrugFactory,
    FillFactory,
    InpatientStayFactory,
    PatientFactory,
    PrescriptionFactory,
    SyncEnrollmentFactory,
)

D = dt.date
AS_OF = D(2025, 12, 31)


def _statin_patient(pharmacy, days: list[dt.date], *, supply: int = 30, **fields):
    patient = PatientFactory(organization=pharmacy.organization, home_pharmacy=pharmacy, **fields)
    rx = PrescriptionFactory(
        patient=patient, pharmacy=pharmacy, drug=DrugFactory(generic_name="Atorvastatin")
    )
    for day in days:
        FillFactory(prescription=rx, fill_date=day, days_supply=supply)
    return patient


def enrolled_mid_year(pharmacy):
    """Enrolled 2025-06-02. Before (2024-06-02..2025-06-01): six 30-day fills every two
    months from 2024-07-01: index 7/1, 336 days, 180 covered -> 53.57%, not adherent.
    Since (2025-06-02..2025-12-31, 213 days): 30-day fills back to back from 6/2, the last
    on 12/29 capped at 12/31 (3 days): 7 x 30 + 3 = 213 covered -> 100%."""
    before = [D(2024, 7, 1), D(2024, 9, 1), D(2024, 11, 1), D(2025, 1, 1), D(2025, 3, 1)]
    before.append(D(2025, 5, 1))
    since = [D(2025, 6, 2) + dt.timedelta(days=30 * k) for k in range(8)]
    patient = _statin_patient(pharmacy, before + since)
    SyncEnrollmentFactory(patient=patient, pharmacy=pharmacy)
    return patient


@pytest.mark.django_db
def test_pdc_before_and_since_enrollment_of_a_patient_enrolled_mid_year(maple, birch):
    main = maple.pharmacies[0]
    patient = enrolled_mid_year(main)
    # Not enrolled, 70 years old: fills every 30 days from 2025-01-05 (12 fills), all covered
    # from the index 1/5: 361 days, 360 covered (the last ends 12/30) -> adherent.
    other = _statin_patient(
        main,
        [D(2025, 1, 5) + dt.timedelta(days=30 * k) for k in range(12)],
        date_of_birth=D(1955, 3, 1),
    )
    # Not enrolled with a hospital stay 2025-03-01..03-10 (10 days leave the period; the
    # supply held resumes after): fills 1/1 and 2/15 (45 days each) -> 1/1..2/14, 2/15..2/28
    # + 3/11..4/10 (31 days resumed); period 1/1..12/31 = 365 - 10 = 355 days; covered 90.
    stayed = _statin_patient(main, [D(2025, 1, 1), D(2025, 2, 15)], supply=45)
    InpatientStayFactory(patient=stayed, admitted_on=D(2025, 3, 1), discharged_on=D(2025, 3, 10))
    # Birch's patient: never in Maple's figures, and Maple's refresh never touches its rows
    _statin_patient(birch.pharmacies[0], [D(2025, 1, 5), D(2025, 3, 5)])
    with tenant_scope(birch.organization):
        outcomes_refresh(as_of=AS_OF)
    with tenant_scope(maple.organization):
        refresh = outcomes_refresh(as_of=AS_OF)
        assert refresh.status == RefreshStatus.DONE and refresh.rows_written == 4
        rows = {
            (r.patient_id, r.period): r
            for r in PdcOutcome.objects.filter(therapeutic_class=TC.STATIN)
        }
        before = rows[(patient.pk, OutcomePeriod.BEFORE)]
        assert (before.period_start, before.period_end) == (D(2024, 6, 2), D(2025, 6, 1))
        assert (before.index_date, before.days_in_period, before.days_covered) == (
            D(2024, 7, 1),
            336,
            180,
        )
        assert str(before.pdc) == "0.5357" and before.measurable and not before.adherent
        since = rows[(patient.pk, OutcomePeriod.SINCE)]
        assert (since.period_start, since.days_in_period, since.days_covered) == (
            D(2025, 6, 2),
            213,
            213,
        )
        assert since.adherent and since.enrolled_on == D(2025, 6, 2)
        assert since.pharmacy_id == main.pk
        comparison = rows[(other.pk, OutcomePeriod.NOT_ENROLLED)]
        assert (comparison.days_in_period, comparison.days_covered) == (361, 360)
        assert comparison.age_band == "65-74" and comparison.adherent
        with_stay = rows[(stayed.pk, OutcomePeriod.NOT_ENROLLED)]
        assert (with_stay.days_in_period, with_stay.days_covered) == (355, 90)

        [statin] = [
            f for f in adherence_figures(outcome_rows(None)) if f.therapeutic_class == TC.STATIN
        ]
        assert (statin.before.measured, statin.before.adherent) == (1, 0)
        assert (statin.since.measured, statin.since.adherent) == (1, 1)
        assert (statin.not_enrolled.measured, statin.not_enrolled.adherent) == (2, 1)
        assert statin.paired == 1 and str(statin.paired_mean_change) == "46.4"
        assert statin.change_points == 100

        # idempotent: a second run writes the same rows
        again = outcomes_refresh(as_of=AS_OF)
        assert again.rows_written == 4
        assert {(r.patient_id, r.period, r.days_covered) for r in PdcOutcome.objects.all()} == {
            (r.patient_id, r.period, r.days_covered) for r in rows.values()
        }
    with tenant_scope(birch.organization):
        assert PdcOutcome.objects.count() == 1
        assert not PdcOutcome.objects.filter(patient_id__in=[patient.pk, other.pk]).exists()


@pytest.mark.django_db
def test_death_ends_the_since_period_and_hospice_excludes(maple):
    main = maple.pharmacies[0]
    patient = enrolled_mid_year(main)
    with tenant_scope(maple.organization):
        patient.sync_enrollments.update(
            status="disenrolled",
            disenroll_reason="deceased",
            disenrolled_at=dt.datetime(2025, 10, 15, 17, tzinfo=dt.UTC),
        )
    hospice = _statin_patient(main, [D(2025, 1, 5), D(2025, 2, 5)], hospice=True)
    with tenant_scope(maple.organization):
        outcomes_refresh(as_of=AS_OF)
        since = PdcOutcome.objects.get(patient=patient, period=OutcomePeriod.SINCE)
        # 6/2..10/15 = 136 days, all covered
        assert (since.period_end, since.days_in_period, since.days_covered) == (
            D(2025, 10, 15),
            136,
            136,
        )
        excluded = PdcOutcome.objects.get(patient=hospice)
        assert excluded.reason_code == "excluded_hospice" and not excluded.measurable


@pytest.mark.celery_worker
@pytest.mark.django_db(transaction=True)
def test_refresh_on_demand_runs_in_the_worker_once(celery_worker_process, maple):
    enrolled_mid_year(maple.pharmacies[0])
    with tenant_scope(maple.organization):
        refresh, queued = outcomes_refresh_request(actor=maple.pharmacist)
        second, queued_again = outcomes_refresh_request(actor=maple.pharmacist)
        assert queued and not queued_again and second.pk == refresh.pk
    deadline = time.monotonic() + 60
    with tenant_scope(maple.organization):
        while time.monotonic() < deadline:
            refresh.refresh_from_db()
            if refresh.status == RefreshStatus.DONE:
                break
            time.sleep(0.3)
        assert refresh.status == RefreshStatus.DONE
        assert PdcOutcome.objects.filter(period=OutcomePeriod.SINCE).count() == 1
        assert OutcomeRefresh.objects.count() == 1
        assert refresh.percent == 100


@pytest.mark.django_db
def test_trend_keeps_the_last_refresh_of_each_month(maple, birch):
    main = maple.pharmacies[0]
    enrolled_mid_year(main)
    _statin_patient(main, [D(2025, 1, 5) + dt.timedelta(days=30 * k) for k in range(12)])
    with tenant_scope(maple.organization):
        outcomes_refresh(as_of=D(2025, 11, 30))
        outcomes_refresh(as_of=AS_OF)
        outcomes_refresh(as_of=AS_OF)  # the same month again: replaced, not added
        trend = adherence_trend(None, therapeutic_class=TC.STATIN)
        assert [row["month"] for row in trend] == [D(2025, 11, 1), D(2025, 12, 1)]
        december = trend[-1]
        assert (december["before"], december["since"], december["not_enrolled"]) == (0, 100, 100)
        # November: the not-enrolled patient's last fill is 12/1, so on 11/30 the 30-day
        # fills since 1/5 cover 1/5..11/30 (330 of 330 days)
        assert trend[0]["not_enrolled"] == 100
        assert PdcSnapshot.objects.filter(month=D(2025, 12, 1)).count() == 3
    with tenant_scope(birch.organization):
        assert adherence_trend(None, therapeutic_class=TC.STATIN) == []
