"""Workload and inventory forecast pages: the forecast equals the planned items per NDC per
day minus what is filled; on-hand counts entered or imported; tenancy and visibility."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile

from medsync.models import AuditEvent, Membership
from medsync.tenancy import tenant_scope
from reports.models import OnHandCount, ReportSettings
from reports.operations import inventory_forecast, workload
from reports.scope import report_scope
from scheduling.models import CycleItem, ItemState
from tests.reports.scenario import NOW, TODAY, build_program, limited_pharmacist

pytestmark = pytest.mark.django_db


def member_of(tenant, user, in_tenant):
    with in_tenant(tenant.organization):
        return Membership.objects.get(user=user)


@pytest.fixture
def program(maple, birch):
    return build_program(maple, birch)


def expected_due(organization, pharmacies, in_tenant):
    """Straight from the rows: planned items per NDC per day, minus the filled ones."""
    due: dict = defaultdict(Decimal)
    with in_tenant(organization):
        for item in CycleItem.objects.filter(cycle__pharmacy__in=pharmacies).select_related(
            "prescription__drug"
        ):
            if item.state in (ItemState.SKIPPED, ItemState.RETURNED):
                continue
            if item.state in (ItemState.PLANNED, ItemState.FLAGGED):
                due[(item.prescription.drug.ndc, item.fill_date)] += item.quantity
            else:
                due.setdefault((item.prescription.drug.ndc, item.fill_date), Decimal(0))
    return {k: v for k, v in due.items() if v}


def forecast_due(organization, membership, in_tenant, pharmacy=""):
    with in_tenant(organization), time_machine.travel(NOW, tick=False):
        scope = report_scope(membership, pharmacy)
        rows = inventory_forecast(scope)
    return {(f.ndc, d.day): d.due for f in rows for d in f.days if d.due}


def test_the_forecast_is_planned_minus_filled_per_ndc_per_day(maple, program, in_tenant):
    membership = member_of(maple, maple.pharmacist, in_tenant)
    got = forecast_due(maple.organization, membership, in_tenant)
    assert got and got == expected_due(maple.organization, maple.pharmacies, in_tenant)
    # One fill of the first Main St patient is filled: it left the forecast.
    with in_tenant(maple.organization):
        filled = CycleItem.objects.get(state=ItemState.FILLED)
    assert got.get((filled.prescription.drug.ndc, filled.fill_date)) is None
    elm = maple.pharmacies[1]
    only_elm = forecast_due(maple.organization, membership, in_tenant, str(elm.public_id))
    assert only_elm == expected_due(maple.organization, [elm], in_tenant)
    assert set(only_elm) < set(got)


def test_the_forecast_page_and_csv_show_the_same_quantities(client, maple, program, login):
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        page = client.get("/reports/forecast/")
        export = client.get("/reports/forecast/?format=csv")
    assert page.status_code == 200 and b'data-testid="forecast-row"' in page.content
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    total = sum(Decimal(r["due"]) for r in rows)
    assert total == sum(expected_due(maple.organization, maple.pharmacies, tenant_scope).values())


def test_on_hand_counts_feed_the_order_suggestion(client, maple, program, login, in_tenant):
    login(maple.pharmacist)
    main_st = maple.pharmacies[0]
    with in_tenant(maple.organization):
        ndc = CycleItem.objects.filter(cycle__pharmacy=main_st).first().prescription.drug.ndc
    upload = SimpleUploadedFile("counts.csv", f"ndc,quantity\n{ndc},5000\n".encode())
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            f"/reports/forecast/on-hand/?pharmacy={main_st.public_id}", {"file": upload}
        )
        assert response.status_code == 302
        orders = client.get(f"/reports/forecast/?format=orders&pharmacy={main_st.public_id}")
    with in_tenant(maple.organization):
        assert OnHandCount.objects.get(ndc=ndc).quantity == Decimal("5000")
        assert AuditEvent.objects.filter(action="reports.on_hand.imported").count() == 1
    ordered = [r["ndc"] for r in csv.DictReader(io.StringIO(orders.content.decode()))]
    assert ndc not in ordered and ordered  # 5000 on the shelf: nothing to order of it


def test_a_bad_on_hand_file_writes_nothing(client, maple, program, login, in_tenant):
    login(maple.pharmacist)
    main_st = maple.pharmacies[0]
    bad = SimpleUploadedFile("c.csv", b"ndc,quantity\n00093715598,10\n123,4\n")
    response = client.post(
        f"/reports/forecast/on-hand/?pharmacy={main_st.public_id}", {"file": bad}, follow=True
    )
    assert b"Line 3: An NDC has 11 digits." in response.content
    client.post(f"/reports/forecast/on-hand/?pharmacy={main_st.public_id}", {"ndc": "x"})
    with in_tenant(maple.organization):
        assert not OnHandCount.objects.exists()


def test_on_hand_of_another_tenants_pharmacy_is_a_404(client, maple, birch, login, in_tenant):
    login(birch.pharmacist)
    response = client.post(
        f"/reports/forecast/on-hand/?pharmacy={maple.pharmacies[0].public_id}",
        {"ndc": "00093715598", "quantity": "10"},
    )
    assert response.status_code == 404
    with in_tenant(maple.organization):
        assert not OnHandCount.objects.exists()


def test_workload_hours_follow_the_pharmacy_minutes(client, maple, program, login, in_tenant):
    login(maple.owner)
    main_st = maple.pharmacies[0]
    with time_machine.travel(NOW, tick=False):
        response = client.post(
            f"/reports/settings/?pharmacy={main_st.public_id}",
            {
                "tech_minutes_per_fill": 10,
                "pharmacist_minutes_per_verification": 6,
                "tech_minutes_per_prep_call": 0,
                "tech_minutes_per_pickup": 0,
                "pharmacist_minutes_per_pickup": 0,
                "order_weekdays": [1, 3],
                "inactive_months": 4,
            },
        )
        assert response.status_code == 302
        membership = member_of(maple, maple.owner, in_tenant)
        with in_tenant(maple.organization):
            loads = workload(report_scope(membership, str(main_st.public_id)))
            assert ReportSettings.objects.get().order_weekdays == [1, 3]
    fills = sum(d.fills for d in loads)
    assert fills > 0
    assert sum(d.tech_minutes for d in loads) == fills * 10
    assert sum(d.pharmacist_minutes for d in loads) == sum(d.verifications for d in loads) * 6
    with time_machine.travel(NOW, tick=False):
        bad = client.post(
            f"/reports/settings/?pharmacy={main_st.public_id}",
            {"tech_minutes_per_fill": 500, "inactive_months": 99},
        )
    assert bad.status_code == 400 and b"tech_minutes_per_fill" in bad.content


def test_workload_counts_prep_calls_and_pickups(maple, program, in_tenant):
    membership = member_of(maple, maple.pharmacist, in_tenant)
    with in_tenant(maple.organization), time_machine.travel(NOW, tick=False):
        loads = {d.day: d for d in workload(report_scope(membership))}
    assert len(loads) == 30
    # Main St 3/2, 3/4, 3/12 and Elm Ave 3/6 anchors are picked up on their days.
    assert [loads[d].pickups for d in sorted(loads)][:11] == [1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 1]
    assert sum(d.prep_calls for d in loads.values()) >= 1


def test_limited_member_and_other_tenant_see_only_their_forecast(
    client, maple, birch, program, login, in_tenant
):
    elm = maple.pharmacies[1]
    login(limited_pharmacist(maple, elm))
    with time_machine.travel(NOW, tick=False):
        export = client.get("/reports/forecast/?format=csv").content.decode()
        assert (
            client.get(f"/reports/workload/?pharmacy={maple.pharmacies[0].public_id}").status_code
            == 404
        )
    ndcs = {r["ndc"] for r in csv.DictReader(io.StringIO(export))}
    assert ndcs == {ndc for ndc, _ in expected_due(maple.organization, [elm], in_tenant)}
    client.logout()
    login(birch.pharmacist)
    with time_machine.travel(NOW, tick=False):
        birch_export = client.get("/reports/forecast/?format=csv").content.decode()
    birch_ndcs = {r["ndc"] for r in csv.DictReader(io.StringIO(birch_export))}
    assert birch_ndcs == {
        ndc for ndc, _ in expected_due(birch.organization, birch.pharmacies, in_tenant)
    }
    assert not birch_ndcs & {
        ndc for ndc, _ in expected_due(maple.organization, maple.pharmacies, in_tenant)
    }


def test_the_pages_cost_a_fixed_number_of_queries(
    client, maple, program, login, django_assert_max_num_queries
):
    login(maple.pharmacist)
    with time_machine.travel(NOW, tick=False):
        for url in ("/reports/workload/", "/reports/forecast/"):
            with django_assert_max_num_queries(14):
                assert client.get(url).status_code == 200
    assert TODAY.day == 2
