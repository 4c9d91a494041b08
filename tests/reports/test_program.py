"""Program & money and opportunities: hand-counted figures on a small program, the one-click
disenrollment of an inactive enrollment, the owner's PDF, tenancy and visibility."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
import time_machine
from pypdf import PdfReader

from billing.service_claim_services import clinical_service_document
from medsync.models import Membership
from medsync.tenancy import tenant_scope
from patients.models import Fill, PriceListEntry
from reports.opportunities import inactive_enrollments, ninety_day_candidates
from reports.program import money_report, program_report, services_delivered
from reports.scope import report_scope
from scheduling import services as scheduling_services
from scheduling.models import (
    CycleItem,
    EnrollmentStatus,
    FillKind,
    ItemState,
    SyncCycle,
    SyncEnrollment,
)
from tests.factories import DrugFactory, FillFactory, PatientFactory, PrescriptionFactory
from tests.reports.scenario import NOW, TODAY, build_program, limited_pharmacist

pytestmark = pytest.mark.django_db
START = TODAY - dt.timedelta(days=89)


@pytest.fixture
def program(maple, birch):
    built = build_program(maple, birch)
    first, second, today_anchor = built.main
    with tenant_scope(maple.organization):
        # The 3/2 cycle is picked up on its day; the 3/4 one was missed earlier on.
        SyncCycle.objects.filter(enrollment=today_anchor).update(picked_up_at=NOW)
        SyncCycle.objects.filter(enrollment=first).update(missed_at=NOW)
        short = CycleItem.objects.filter(cycle__enrollment=second, kind=FillKind.SHORT).first()
        CycleItem.objects.filter(pk=short.pk).update(
            state=ItemState.PICKED_UP, picked_up_at=NOW, patient_pay=Decimal("2.33")
        )
        returned = CycleItem.objects.filter(cycle__enrollment=today_anchor).first()
        CycleItem.objects.filter(pk=returned.pk).update(
            state=ItemState.RETURNED,
            billed_at=NOW - dt.timedelta(days=3),
            returned_at=NOW,
        )
        for fill in Fill.objects.select_related("prescription__drug"):
            PriceListEntry.objects.get_or_create(
                pharmacy=fill.prescription.pharmacy,
                ndc=fill.prescription.drug.ndc,
                defaults={
                    "acquisition_cost": Decimal("0.10"),
                    "usual_and_customary": Decimal("0.50"),
                },
            )
    with tenant_scope(maple.organization):
        SyncEnrollment.objects.filter(pk__in=[e.pk for e in built.main + built.elm]).update(
            enrolled_at=dt.datetime(2026, 1, 15, 15, tzinfo=dt.UTC)
        )
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        scheduling_services.enrollment_disenroll(
            enrollment=SyncEnrollment.objects.get(pk=built.elm[0].pk),
            actor=maple.pharmacist,
            reason="patient_request",
        )
    return built


def member(tenant, user):
    with tenant_scope(tenant.organization):
        return Membership.objects.get(user=user)


def scope_of(tenant, user, pharmacy=""):
    with time_machine.travel(NOW, tick=False):
        return report_scope(member(tenant, user), pharmacy)


def test_program_figures_count_by_hand(maple, program):
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        # To 3/10: the 3/4 anchor (missed) is in the range too.
        report = program_report(scope_of(maple, maple.pharmacist), START, dt.date(2026, 3, 10))
    funnel = {f["key"]: f["value"] for f in report.funnel}
    # Four Maple patients invited and enrolled on 3/2, one synced (picked up); Birch's not.
    assert (funnel["contacted"], funnel["enrolled"], funnel["synced"]) == (4, 4, 1)
    assert funnel["eligible"] >= 4 and funnel["still_6"] == 0
    assert report.reasons == [
        {"key": "patient_request", "label": "Patient asked to leave the program", "value": 1}
    ]
    assert report.on_time == {"on_time": 1, "cycles": 2, "rate": Decimal("50.0")}
    assert [(r.enrollment.pk, r.missed) for r in report.risk] == [(program.main[0].pk, 1)]


def test_money_figures_count_by_hand(maple, program):
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        report = money_report(scope_of(maple, maple.pharmacist), START, TODAY)
        returned = CycleItem.objects.get(state=ItemState.RETURNED)
        fills = list(
            Fill.objects.filter(
                fill_date__gte=START, prescription__pharmacy__in=maple.pharmacies
            ).exclude(prescription__patient=program.elm[0].patient)
        )
    # Returned 3 days after billing: inside the 10-day window, worth 0.10 x quantity.
    assert report.returned["fills"] == 1 and report.returned["in_time"] == 1
    assert report.returned["reversed_in_time"] == (Decimal("0.10") * returned.quantity).quantize(
        Decimal("0.01")
    )
    assert report.short_fills == {"fills": 1, "patient_pay": Decimal("2.33"), "unknown": 0}
    feb = next(m for m in report.months if m["month"] == "2026-02")
    # Enrolled since mid-January (the fixture): the four Maple patients are synced in
    # February (Elm Ave's left on 3/2); their February fills priced at 0.10 a unit.
    with tenant_scope(maple.organization):
        february = list(
            Fill.objects.filter(
                fill_date__gte=dt.date(2026, 2, 1),
                fill_date__lte=dt.date(2026, 2, 28),
                prescription__pharmacy__in=maple.pharmacies,
            )
        )
    assert feb["synced_patients"] == 4 and feb["prescriptions"] == len(february) > 0
    assert feb["revenue"] == sum(
        (Decimal("0.10") * f.quantity).quantize(Decimal("0.01")) for f in february
    )
    assert feb["revenue_per_patient"] == (feb["revenue"] / 4).quantize(Decimal("0.01"))
    assert fills


def test_a_star_pdc_that_fell_below_80_puts_the_patient_on_the_risk_list(maple, program):
    steady = program.main[2]
    statin = DrugFactory(name="Atorvastatin", generic_name="atorvastatin")
    with tenant_scope(maple.organization):
        rx = PrescriptionFactory(patient=steady.patient, pharmacy=maple.pharmacies[0], drug=statin)
        # Every 30 days from 2025-03-08 to 2025-09-04: 100% over the 180 days to 9/3, then
        # one 30-day fill over the 180 days to 3/2/2026.
        for n in range(7):
            FillFactory(prescription=rx, fill_date=dt.date(2025, 3, 8) + dt.timedelta(days=30 * n))
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        report = program_report(scope_of(maple, maple.pharmacist), START, TODAY)
    falling = {r.enrollment.pk: r.falling_pdc for r in report.risk}
    assert falling[steady.pk] == ["statin"]
    assert falling[program.main[0].pk] == []  # missed a pickup, PDC not measurable


def test_a_limited_member_and_birch_see_only_their_figures(maple, birch, program):
    elm = maple.pharmacies[1]
    limited = limited_pharmacist(maple, elm)
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        report = program_report(scope_of(maple, limited), START, TODAY)
    assert {f["key"]: f["value"] for f in report.funnel}["contacted"] == 1
    with tenant_scope(birch.organization), time_machine.travel(NOW, tick=False):
        birch_report = program_report(scope_of(birch, birch.pharmacist), START, TODAY)
        birch_money = money_report(scope_of(birch, birch.pharmacist), START, TODAY)
    assert {f["key"]: f["value"] for f in birch_report.funnel}["contacted"] == 1
    assert birch_report.reasons == [] and birch_report.risk == []
    assert birch_money.returned["fills"] == 0 and birch_money.short_fills["fills"] == 0


def test_the_pages_render_with_charts_csv_and_a_fixed_number_of_queries(
    client, maple, program, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        for url in ("/reports/program/", "/reports/money/", "/reports/opportunities/"):
            with django_assert_max_num_queries(14):
                response = client.get(url)
            assert response.status_code == 200, url
        program_page = client.get("/reports/program/").content.decode()
        assert 'data-chart="funnel-data"' in program_page and 'id="funnel-data"' in program_page
        export = client.get("/reports/money/?format=csv").content.decode()
        assert export.splitlines()[0].startswith("month,synced_patients")
        bad = client.get("/reports/program/?start=2026-13-01")
        assert bad.status_code == 200 and b"A date as YYYY-MM-DD" in bad.content


def test_the_owner_gets_a_pdf_month_summary(client, maple, program, login):
    login(maple.owner)
    with time_machine.travel(NOW, tick=False):
        response = client.get("/reports/month.pdf?month=2026-03")
        assert client.get("/reports/month.pdf?month=junk").status_code == 404
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert "Med sync program: March 2026" in text and "Fills returned to stock" in text
    assert program.main[0].patient.last_name not in text


def stable_history(enrollment, *, months_back=3):
    with tenant_scope(enrollment.organization):
        for rx in enrollment.patient.prescriptions.all():
            last = rx.fills.order_by("-fill_date").first()
            for n in range(1, months_back):
                FillFactory(
                    prescription=rx,
                    fill_date=last.fill_date - dt.timedelta(days=30 * n),
                    days_supply=last.days_supply,
                    quantity=last.quantity,
                )


def test_ninety_day_advisor_lists_stable_synced_prescriptions(maple, program):
    enrollment = program.main[2]
    stable_history(enrollment)
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        found = ninety_day_candidates(scope_of(maple, maple.pharmacist))
    assert [p.patient.pk for p in found] == [enrollment.patient_id]
    (row,) = found
    assert row.synced_rx == 2 and row.all_convertible and row.trips_saved == 8
    # The claim (0.10 a tablet) is under the $10 copay: the patient pays the claim, $3 a
    # month or $9 for 90 days: the same a year, but 8 trips fewer.
    assert {(c.pay_30, c.pay_90, c.yearly_saving) for c in row.conversions} == {
        (Decimal("3.00"), Decimal("9.00"), Decimal("0.00"))
    }


def test_inactive_enrollment_is_disenrolled_in_one_click(client, maple, birch, program, login):
    quiet = program.main[1]
    with tenant_scope(maple.organization):
        SyncEnrollment.objects.filter(pk=quiet.pk).update(enrolled_at=NOW - dt.timedelta(days=200))
        Fill.objects.filter(prescription__patient=quiet.patient).update(
            fill_date=dt.date(2025, 9, 1)
        )
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        inactive = inactive_enrollments(scope_of(maple, maple.pharmacist))
    assert [i.enrollment.pk for i in inactive] == [quiet.pk]
    login(birch.pharmacist)
    with time_machine.travel(NOW, tick=False):
        url = f"/reports/opportunities/inactive/{quiet.public_id}/disenroll/"
        assert client.post(url).status_code == 404  # Birch cannot touch Maple's enrollment
    client.logout()
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/reports/opportunities/").content.decode()
        assert 'data-testid="inactive-total">1<' in page
        assert client.post(url).status_code == 302
        assert client.post(url).status_code == 404  # not inactive any more: nothing to do
    with tenant_scope(maple.organization):
        quiet.refresh_from_db()
    assert quiet.status == EnrollmentStatus.DISENROLLED and quiet.disenroll_reason == "unreachable"
    assert "No pickup for 3 months" in quiet.disenroll_note


def test_billed_fills_count_what_their_claims_were_paid(maple, program):
    from billing.claim_services import claim_submit
    from tests.factories.billing import claim_subject

    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        returned = CycleItem.objects.select_related("prescription").get(state=ItemState.RETURNED)
        claim = claim_submit(
            subject=claim_subject(
                returned.prescription,
                cycle_item_id=returned.pk,
                date_of_service=returned.fill_date,
                quantity=returned.quantity,
                days_supply=returned.days_supply,
            ),
            actor=maple.pharmacist,
        )
        assert claim.status == "paid"
        report = money_report(scope_of(maple, maple.pharmacist), START, TODAY)
    assert report.returned["reversed_in_time"] == claim.plan_pay + claim.patient_pay
    assert "claims" in report.source


def test_clinical_services_delivered_are_counted_per_kind_in_the_range(
    client, login, maple, birch, program, django_assert_max_num_queries
):
    pharmacy, elsewhere = maple.pharmacies
    patient = program.main[0].patient

    def document(where, kind, started_at, tenant=maple):
        with tenant_scope(tenant.organization):
            clinical_service_document(
                patient=(
                    patient if tenant is maple else PatientFactory(organization=tenant.organization)
                ),
                pharmacy=where,
                kind=kind,
                pharmacist=tenant.pharmacist,
                started_at=started_at,
                ended_at=started_at + dt.timedelta(minutes=20),
                actor=tenant.pharmacist,
            )

    day = NOW - dt.timedelta(days=3)
    document(pharmacy, "cmr", day)
    document(pharmacy, "bp_check", day)
    document(pharmacy, "bp_check", day - dt.timedelta(days=1))
    document(pharmacy, "cmr", NOW - dt.timedelta(days=200))  # before the range
    document(elsewhere, "cmr", day)  # the other Maple pharmacy
    document(birch.pharmacies[0], "cmr", day, tenant=birch)
    with tenant_scope(maple.organization), time_machine.travel(NOW, tick=False):
        one = scope_of(maple, maple.pharmacist, str(pharmacy.public_id))
        mine = services_delivered(one, START, TODAY)
        rolled = services_delivered(scope_of(maple, maple.pharmacist), START, TODAY)
    assert {s["key"]: s["value"] for s in mine} == {"bp_check": 2, "cmr": 1}
    assert {s["key"]: s["value"] for s in rolled} == {"bp_check": 2, "cmr": 2}
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        program_page = client.get("/reports/program/").content.decode()
        assert "/reports/program/services/" in program_page
        with django_assert_max_num_queries(14):
            fragment = client.get("/reports/program/services/").content.decode()
    assert 'data-kind="cmr">CMR' in fragment or 'data-kind="cmr">' in fragment
    assert fragment.count("data-kind=") == 2
