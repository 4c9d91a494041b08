"""Adherence and PQA pages, drill-downs, CSV and API: the same figures everywhere, a member
limited to one pharmacy sees that pharmacy's, Birch never sees Maple's, bad input is a 400
naming the field, and each page costs a fixed number of queries."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from medsync.models import MembershipPharmacy
from medsync.roles import Role
from medsync.tenancy import tenant_scope
from reports.services import outcomes_refresh
from tests.factories import (
    MembershipFactory,
    PrepContactFactory,
    PrescriptionFactory,
    SyncCycleFactory,
    SyncEnrollmentFactory,
    UserFactory,
)
from tests.reports.test_outcomes import AS_OF, _statin_patient, enrolled_mid_year

pytestmark = pytest.mark.django_db

D = dt.date


@pytest.fixture
def program(maple, birch):
    """Maple: one patient enrolled at Main St (before 0/1 adherent, since 1/1), one at Elm
    Ave (adherent before and since), one never enrolled; Birch: one enrolled patient."""
    main, elm = maple.pharmacies
    at_main = enrolled_mid_year(main)
    at_elm = _statin_patient(elm, [D(2024, 6, 10) + dt.timedelta(days=30 * k) for k in range(19)])
    SyncEnrollmentFactory(patient=at_elm, pharmacy=elm)
    _statin_patient(main, [D(2025, 1, 5) + dt.timedelta(days=30 * k) for k in range(12)])
    birch_patient = _statin_patient(birch.pharmacies[0], [D(2025, 1, 5), D(2025, 3, 5)])
    SyncEnrollmentFactory(patient=birch_patient, pharmacy=birch.pharmacies[0])
    for tenant in (maple, birch):
        with tenant_scope(tenant.organization):
            outcomes_refresh(as_of=AS_OF)
    return at_main, at_elm


def _limited_pharmacist(maple):
    user = UserFactory(email="limited@maple.test")
    membership = MembershipFactory(
        organization=maple.organization,
        user=user,
        role=Role.PHARMACIST,
        limited_to_pharmacies=True,
    )
    MembershipPharmacy.objects.create(
        organization=maple.organization, membership=membership, pharmacy=maple.pharmacies[0]
    )
    return user


def _statin(body):
    return next(c for c in body["classes"] if c["therapeutic_class"] == "statin")


def test_adherence_page_api_and_csv_agree(client, login, maple, program, api_client_for):
    login(maple.owner)
    page = client.get("/reports/adherence/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-class="statin"' in html and "adherence-data" in html
    assert 'data-testid="trend-table"' in html
    api = api_client_for(maple.owner).get("/api/v1/reports/adherence/")
    assert api.status_code == 200
    statin = _statin(api.json())
    assert (statin["since"]["measured"], statin["since"]["adherent"]) == (2, 2)
    assert (statin["before"]["measured"], statin["before"]["adherent"]) == (2, 1)
    assert statin["since"]["adherent_pct"] == "100.0" and statin["before"]["adherent_pct"] == "50.0"
    assert statin["not_enrolled"]["measured"] == 1 and statin["paired_patients"] == 2
    assert statin["change_points"] == "50.0"
    assert api.json()["as_of"] == "2025-12-31"
    [month] = api.json()["trend"]
    assert (month["month"], month["since"], month["before"]) == ("2025-12-01", "100.0", "50.0")
    rows = list(csv.DictReader(io.StringIO(client.get("/reports/adherence.csv").content.decode())))
    [row] = [r for r in rows if r["class"] == "statin"]
    assert (row["since_adherent_pct"], row["before_adherent_pct"]) == ("100.0", "50.0")


def test_limited_member_sees_one_pharmacy(client, login, maple, program, api_client_for):
    at_main, at_elm = program
    user = _limited_pharmacist(maple)
    statin = _statin(api_client_for(user).get("/api/v1/reports/adherence/").json())
    assert (statin["since"]["measured"], statin["before"]["measured"]) == (1, 1)
    assert statin["before"]["adherent"] == 0
    login(user)
    listed = client.get("/reports/adherence/patients/?class=statin&period=since").content.decode()
    assert at_main.last_name in listed and at_elm.last_name not in listed
    # another pharmacy's id is a 400 naming the field, not a way in
    elm = maple.pharmacies[1].public_id
    bad = api_client_for(user).get(f"/api/v1/reports/adherence/?pharmacy={elm}")
    assert bad.status_code == 400 and "pharmacy" in bad.content.decode()


def test_birch_never_sees_maple(client, login, birch, maple, program, api_client_for):
    at_main, at_elm = program
    statin = _statin(api_client_for(birch.pharmacist).get("/api/v1/reports/adherence/").json())
    # only Birch's own patient (measured before enrolling, no fills since)
    assert statin["since"]["measured"] == 0 and statin["before"]["measured"] == 1
    assert statin["not_enrolled"]["measured"] == 0
    login(birch.pharmacist)
    listed = client.get("/reports/adherence/patients/?class=statin&period=before").content.decode()
    assert listed.count('data-testid="patient-row"') == 1
    assert at_main.last_name not in listed and at_elm.last_name not in listed
    pqa = api_client_for(birch.pharmacist).get(
        "/api/v1/reports/pqa/?start=2025-01-01&end=2025-12-31"
    )
    initial = pqa.json()["measures"][0]
    assert (initial["measure"], initial["denominator"]) == ("initial_sync", 1)


def test_bad_input_is_a_400_naming_the_field(client, login, maple, api_client_for):
    api = api_client_for(maple.owner)
    for url, field in (
        ("/api/v1/reports/pqa/?start=garbage", "start"),
        ("/api/v1/reports/pqa/?start=2025-05-01&end=2025-01-01", "end"),
        ("/api/v1/reports/adherence/?enrolled_from=1800-01-01", "enrolled_from"),
        ("/api/v1/reports/adherence/?pharmacy=not-a-uuid", "pharmacy"),
    ):
        response = api.get(url)
        assert response.status_code == 400 and field in response.content.decode(), url
    login(maple.owner)
    assert client.get("/reports/pqa/?start=nope").status_code == 400
    assert client.get("/reports/adherence/patients/?class=nope&period=since").status_code == 400
    assert client.get("/reports/pqa/made_up/").status_code == 404


def test_pqa_page_api_and_drill_down_agree(client, login, maple, api_client_for):
    """Two enrollments offered in 2025: one agreed the same day and was synchronized (its
    first cycle picked up), one only invited. Contact rate over Oct 3..Dec 31: the enrolled
    adult had one appointment (Dec 2) called 6 days ahead -> 1 of 1."""
    main = maple.pharmacies[0]
    synced = _statin_patient(main, [D(2025, 5, 1)])
    PrescriptionFactory(patient=synced, pharmacy=main)  # two chronic medicines
    enrollment = SyncEnrollmentFactory(patient=synced, pharmacy=main)
    SyncCycleFactory(
        enrollment=enrollment,
        anchor_date=D(2025, 7, 2),
        status="picked_up",
        picked_up_at=dt.datetime(2025, 7, 2, 18, tzinfo=dt.UTC),
    )
    PrepContactFactory(cycle=SyncCycleFactory(enrollment=enrollment, anchor_date=D(2025, 12, 2)))
    invited = _statin_patient(main, [D(2025, 5, 1)])
    SyncEnrollmentFactory(
        patient=invited,
        pharmacy=main,
        status="invited",
        enrolled_at=None,
        consent_at=None,
        consent_method="",
        invited_at=dt.datetime(2025, 8, 1, 15, tzinfo=dt.UTC),
        anchor_date=None,
    )
    query = "start=2025-01-01&end=2025-12-31"
    body = api_client_for(maple.owner).get(f"/api/v1/reports/pqa/?{query}").json()
    by_name = {m["measure"]: m for m in body["measures"]}
    assert (by_name["initial_sync"]["numerator"], by_name["initial_sync"]["denominator"]) == (1, 2)
    assert by_name["initial_sync"]["rate_pct"] == "50.0"
    assert (by_name["contact_rate"]["numerator"], by_name["contact_rate"]["denominator"]) == (1, 1)
    assert by_name["continuation_12"]["pending"] is True
    login(maple.pharmacist)
    html = client.get(f"/reports/pqa/?{query}").content.decode()
    assert 'data-measure="initial_sync"' in html and "50.0%" in html
    missed = client.get(f"/reports/pqa/initial_sync/?{query}&group=missed").content.decode()
    assert invited.last_name in missed and synced.last_name not in missed
    rows = list(
        csv.DictReader(io.StringIO(client.get(f"/reports/pqa.csv?{query}").content.decode()))
    )
    assert rows[0]["measure"] == "initial_sync" and rows[0]["rate_pct"] == "50.0"


def test_pages_cost_a_fixed_number_of_queries(
    client, login, maple, program, django_assert_max_num_queries
):
    login(maple.owner)
    urls = (
        "/reports/adherence/",
        "/reports/adherence/patients/?class=statin&period=since",
        "/reports/pqa/",
        "/reports/pqa/initial_sync/?group=numerator",
    )
    for url in urls:
        with django_assert_max_num_queries(14):  # "under 15"
            assert client.get(url).status_code == 200, url
    # more patients, same number of queries
    main = maple.pharmacies[0]
    for _ in range(15):
        patient = _statin_patient(main, [D(2025, 7, 1), D(2025, 8, 1)])
        SyncEnrollmentFactory(patient=patient, pharmacy=main)
    with tenant_scope(maple.organization):
        outcomes_refresh(as_of=AS_OF)
    for url in urls:
        with django_assert_max_num_queries(14):  # "under 15"
            assert client.get(url).status_code == 200, url


def test_refresh_button_queues_one_refresh(client, login, maple):
    login(maple.pharmacist)
    first = client.post("/reports/adherence/refresh/", HTTP_HX_REQUEST="true")
    again = client.post("/reports/adherence/refresh/", HTTP_HX_REQUEST="true")
    assert first.status_code == again.status_code == 200
    assert "Refreshing" in first.content.decode()
    with tenant_scope(maple.organization):
        from reports.models import OutcomeRefresh

        assert OutcomeRefresh.objects.count() == 1
    progress = client.get("/reports/adherence/refresh/progress/?poll=1")
    assert progress.status_code == 200 and 'hx-trigger="every 1s"' in progress.content.decode()


def test_a_technician_has_no_outcome_reports(client, login, maple, api_client_for):
    login(maple.technician)
    for url in ("/reports/adherence/", "/reports/pqa/", "/reports/adherence.csv"):
        assert client.get(url).status_code == 403, url
    assert client.post("/reports/adherence/refresh/").status_code == 403
    api = api_client_for(maple.technician)
    assert api.get("/api/v1/reports/adherence/").status_code == 403
    assert api.get("/api/v1/reports/pqa/").status_code == 403


def test_a_refresh_left_unfinished_for_an_hour_no_longer_blocks(client, login, maple):
    from reports.models import OutcomeRefresh, RefreshStatus

    login(maple.pharmacist)
    client.post("/reports/adherence/refresh/")
    with tenant_scope(maple.organization):
        stuck = OutcomeRefresh.objects.get()
        OutcomeRefresh.objects.filter(pk=stuck.pk).update(
            requested_at=stuck.requested_at - dt.timedelta(hours=2)
        )
    client.post("/reports/adherence/refresh/")
    with tenant_scope(maple.organization):
        stuck.refresh_from_db()
        assert stuck.status == RefreshStatus.FAILED
        assert OutcomeRefresh.objects.filter(status=RefreshStatus.QUEUED).count() == 1


def test_the_class_table_sorts_by_a_figure_with_missing_figures_last(client, login, maple):
    from types import SimpleNamespace as Row

    from reports.views_outcomes import _sorted_figures

    def figure(name, since, change):
        return Row(name=name, since=Row(adherent_pct=since), change_points=change)

    figures = [figure("statin", 90, 5), figure("ras", None, None), figure("diabetes", 70, -8)]
    names = lambda sort: [f.name for f in _sorted_figures(figures, sort)]  # noqa: E731
    assert names("class") == ["statin", "ras", "diabetes"]
    assert names("since") == ["diabetes", "statin", "ras"]
    assert names("-since") == ["statin", "diabetes", "ras"]
    assert names("change") == ["diabetes", "statin", "ras"]
    assert names("-change") == ["statin", "diabetes", "ras"]
    login(maple.owner)
    page = client.get("/reports/adherence/?sort=-since").content.decode()
    assert '<option value="-since" selected>' in page
    bad = client.get("/reports/adherence/?sort=colour")
    assert bad.status_code == 400 and b"sort" in bad.content
