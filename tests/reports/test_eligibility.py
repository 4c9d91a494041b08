import datetime as dt

import pytest
import time_machine
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from scheduling.models import SyncEnrollment
from tests.factories import (
    DrugFactory,
    FillFactory,
    PatientFactory,
    PrescriptionFactory,
)

pytestmark = pytest.mark.django_db
TODAY = dt.datetime(2026, 11, 25, 17, 0, tzinfo=dt.UTC)


def monthly_fills(rx, first: dt.date, count: int, every: int = 30):
    for n in range(count):
        FillFactory(prescription=rx, fill_date=first + dt.timedelta(days=every * n), fill_number=n)


@pytest.fixture
def population(maple):
    statin = DrugFactory(ndc="00093715598", name="Atorvastatin", generic_name="atorvastatin")
    ras = DrugFactory(
        ndc="00093102701",
        name="Lisinopril",
        generic_name="lisinopril",
        therapeutic_classes=["ras_antagonist"],
    )
    pharmacy = maple.pharmacies[0]
    # Late refills: 6 statin fills every 45 days on 30-day supplies -> PDC well below 80%.
    late = PatientFactory(organization=maple.organization, last_name="Late", first_name="Lou")
    rx = PrescriptionFactory(patient=late, pharmacy=pharmacy, drug=statin)
    monthly_fills(rx, dt.date(2026, 6, 1), 4, every=45)
    rx2 = PrescriptionFactory(patient=late, pharmacy=pharmacy, drug=ras)
    monthly_fills(rx2, dt.date(2026, 6, 3), 6)
    # On time: two maintenance Rx filled every 30 days -> adherent.
    steady = PatientFactory(organization=maple.organization, last_name="Steady", first_name="Sue")
    for drug in (statin, ras):
        monthly_fills(
            PrescriptionFactory(patient=steady, pharmacy=pharmacy, drug=drug),
            dt.date(2026, 5, 30),
            7,
        )
    # One chronic Rx only: does not qualify.
    single = PatientFactory(organization=maple.organization, last_name="Single", first_name="Sam")
    monthly_fills(
        PrescriptionFactory(patient=single, pharmacy=pharmacy, drug=statin), dt.date(2026, 6, 1), 6
    )
    # Already invited into the program: not a candidate.
    enrolled = PatientFactory(organization=maple.organization, last_name="Enrolled")
    for drug in (statin, ras):
        PrescriptionFactory(patient=enrolled, pharmacy=pharmacy, drug=drug)
    SyncEnrollment.objects.create(
        organization=maple.organization,
        patient=enrolled,
        pharmacy=pharmacy,
        status="invited",
    )
    return {"late": late, "steady": steady, "single": single, "enrolled": enrolled}


def test_candidates_are_ranked_with_low_pdc_first(client, maple, population, login):
    login(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        page = client.get("/reports/eligibility/").content.decode()
    assert page.index("Late, Lou") < page.index("Steady, Sue")
    assert (
        "Single, Sam" not in page
        and "Enrolled"
        not in page.split("<main")[1].split("Who to enroll next")[1].split("</table>")[0]
    )
    with time_machine.travel(TODAY, tick=False):
        everyone = client.get("/reports/eligibility/?show=all").content.decode()
    assert "Single, Sam" in everyone
    with time_machine.travel(TODAY, tick=False):
        below = client.get("/reports/eligibility/?show=below80").content.decode()
    assert "Late, Lou" in below and "Steady, Sue" not in below


def test_the_csv_export_lists_the_same_candidates(client, maple, population, login):
    login(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        response = client.get("/reports/eligibility.csv")
    rows = response.content.decode().strip().splitlines()
    assert rows[0].startswith("last_name,first_name,date_of_birth")
    assert [r.split(",")[0] for r in rows[1:]] == ["Late", "Steady"]
    with scopes_disabled():
        assert AuditEvent.objects.filter(action="reports.eligibility.exported").exists()


def test_the_api_gives_pdc_per_star_class(api_client_for, maple, population):
    client = api_client_for(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        body = client.get("/api/v1/reports/eligibility/").json()
    assert [r["last_name"] for r in body["results"]] == ["Late", "Steady"]
    late = body["results"][0]
    statin = next(r for r in late["star_pdc"] if r["therapeutic_class"] == "statin")
    assert statin["adherent"] is False and statin["measurable"] is True
    assert late["below_80_classes"] == ["statin"]


def test_adherence_endpoint_follows_the_pqa_rules(api_client_for, maple, population):
    client = api_client_for(maple.pharmacist)
    late = population["late"]
    with time_machine.travel(TODAY, tick=False):
        body = client.get(f"/api/v1/patients/{late.public_id}/adherence/").json()
    statin = next(c for c in body["classes"] if c["therapeutic_class"] == "statin")
    # Index 2026-06-01, period end 2026-11-25: 178 days. Four 30-day fills 45 days apart
    # cover 120 days; the last (09-15 .. 10-14) ends before the period does.
    assert statin["index_date"] == "2026-06-01"
    assert statin["days_in_period"] == 178
    assert statin["days_covered"] == 120
    assert statin["pdc"] == "0.6742"


def test_adherence_validates_its_parameters(api_client_for, maple, population):
    client = api_client_for(maple.pharmacist)
    response = client.get(
        f"/api/v1/patients/{population['late'].public_id}/adherence/?days=5&period_end=x"
    )
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {"days", "period_end"}


def test_birch_sees_none_of_maples_candidates_or_adherence(
    api_client_for, client, birch, maple, population, login
):
    api = api_client_for(birch.pharmacist)
    assert api.get("/api/v1/reports/eligibility/").json()["count"] == 0
    late = population["late"]
    assert api.get(f"/api/v1/patients/{late.public_id}/adherence/").status_code == 404
    login(birch.pharmacist)
    assert "Late, Lou" not in client.get("/reports/eligibility/?show=all").content.decode()


def test_a_technician_cannot_open_the_finder(client, maple, login):
    login(maple.technician)
    assert client.get("/reports/eligibility/").status_code == 403
    assert client.get("/reports/eligibility.csv").status_code == 403


def test_the_patient_page_shows_adherence(client, maple, population, login):
    login(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        page = client.get(f"/patients/{population['late'].public_id}/").content.decode()
    assert 'data-testid="adherence"' in page and "67%" in page and "Below 80%" in page


def test_the_finder_costs_a_fixed_number_of_queries(
    client, maple, population, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False), django_assert_max_num_queries(14):
        client.get("/reports/eligibility/")
    statin = DrugFactory(ndc="00093715598")  # get_or_create: the statin above
    for _ in range(20):
        patient = PatientFactory(organization=maple.organization)
        monthly_fills(
            PrescriptionFactory(patient=patient, pharmacy=maple.pharmacies[0], drug=statin),
            dt.date(2026, 7, 1),
            4,
        )
    with time_machine.travel(TODAY, tick=False), django_assert_max_num_queries(14):
        client.get("/reports/eligibility/?show=all")


def test_a_candidate_row_starts_the_enrollment_wizard(client, maple, population, login):
    login(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        page = client.get("/reports/eligibility/").content.decode()
    assert f"/sync/enroll/{population['late'].public_id}/" in page


def test_a_candidate_back_after_a_transfer_out_is_measured_to_the_day_they_left(
    api_client_for, maple, population
):
    """DOMAIN 6: disenrollment (transfer) ends the period; the finder used to run the window
    on to today, counting the months away as days without supply."""
    statin = DrugFactory(ndc="00093715599", name="Atorvastatin", generic_name="atorvastatin")
    back = PatientFactory(organization=maple.organization, last_name="Back", first_name="Bo")
    pharmacy = maple.pharmacies[0]
    for drug in (statin, DrugFactory(name="Losartan", therapeutic_classes=["ras_antagonist"])):
        monthly_fills(
            PrescriptionFactory(patient=back, pharmacy=pharmacy, drug=drug),
            dt.date(2026, 5, 30),
            4,
        )
    SyncEnrollment.objects.create(
        organization=maple.organization,
        patient=back,
        pharmacy=pharmacy,
        anchor_date=dt.date(2026, 6, 1),
        status="disenrolled",
        disenroll_reason="transferred",
        disenrolled_at=dt.datetime(2026, 9, 27, 18, tzinfo=dt.UTC),
    )
    client = api_client_for(maple.pharmacist)
    with time_machine.travel(TODAY, tick=False):
        body = client.get("/api/v1/reports/eligibility/?show=all").json()
    row = next(r for r in body["results"] if r["last_name"] == "Back")
    pdc = next(r for r in row["star_pdc"] if r["therapeutic_class"] == "statin")
    # 5/30 .. 9/27 (the transfer): 121 days, 120 covered by four 30-day fills -> adherent.
    # Run on to 11/25 it was 120 / 180 = 67%.
    assert pdc["period_end"] == "2026-09-27"
    assert pdc["adherent"] is True
    assert "statin" not in row["below_80_classes"]
