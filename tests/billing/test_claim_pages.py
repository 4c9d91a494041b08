"""Claims pages: the list, one claim (history, D.0, the fix), working a reject in one action,
the dashboard cards, and the tenant and pharmacy limits (404)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from billing.claim_models import Claim
from billing.services import claim_submit
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from tests.factories import (
    CoverageFactory,
    DrugFactory,
    FillFactory,
    PatientFactory,
    PlanRuleFactory,
    PrescriptionFactory,
    PriceListEntryFactory,
    claim_subject,
)

pytestmark = pytest.mark.django_db


def _claims(maple, pharmacy, count=3):
    org = maple.organization
    made = []
    with tenant_scope(org):
        PlanRuleFactory(organization=org)
        drug = DrugFactory()
        PriceListEntryFactory(pharmacy=pharmacy, ndc=drug.ndc)
        for n in range(count):
            patient = PatientFactory(organization=org)
            coverage = CoverageFactory(patient=patient)
            rx = PrescriptionFactory(
                patient=patient, pharmacy=pharmacy, drug=drug, coverage=coverage
            )
            FillFactory(prescription=rx, fill_date=dt.date(2026, 10, 20), days_supply=30)
            made.append(
                claim_subject(rx, cycle_item_id=100 + n, quantity=Decimal("10"), days_supply=10)
            )
        return [claim_submit(subject=s, actor=maple.technician) for s in made]


def test_the_list_shows_rejects_with_a_fixed_query_count(
    maple, login, django_assert_max_num_queries
):
    claims = _claims(maple, maple.pharmacies[0], count=6)
    assert {c.status for c in claims} == {"rejected"}
    client = login(maple.pharmacist)
    with django_assert_max_num_queries(20):
        page = client.get("/claims/?status=rejected&reject_code=79")
    body = page.content.decode()
    assert page.status_code == 200 and body.count("/claims/") >= 6
    assert "79" in body
    assert client.get("/claims/?status=paid").content.decode().count("No claim matches") == 1
    with tenant_scope(maple.organization):
        assert AuditEvent.objects.filter(action="billing.claim.listed").exists()


def test_the_list_filters_by_date_plan_and_patient_and_refuses_a_bad_filter(maple, login):
    claims = _claims(maple, maple.pharmacies[0], count=3)
    with tenant_scope(maple.organization):
        Claim.objects.filter(pk=claims[0].pk).update(date_of_service=dt.date(2026, 9, 1))
        Claim.objects.filter(pk=claims[1].pk).update(payer_name="Zephyr Part D", bin="610999")
        first_patient = claims[2].patient.public_id
    client = login(maple.pharmacist)

    def rows(query):
        page = client.get(f"/claims/?{query}")
        assert page.status_code == 200, page.content
        return page.content.decode().count('href="/claims/') - 1  # the "Clear" link aside

    assert rows("date_from=2026-08-01&date_to=2026-09-30") == 1
    assert rows("plan=zephyr") == 1 and rows("plan=610999") == 1
    assert rows(f"patient={first_patient}") == 1
    assert rows("plan=nobody") == 0
    for bad in ("date_from=2026-13-01", "date_from=2026-10-02&date_to=2026-10-01", "status=lost"):
        response = client.get(f"/claims/?{bad}")
        assert response.status_code == 400 and b": " in response.content, bad


def test_a_reject_is_worked_in_one_action_from_its_page(maple, login):
    claim = _claims(maple, maple.pharmacies[0], count=1)[0]
    client = login(maple.technician)
    page = client.get(f"/claims/{claim.public_id}/").content.decode()
    assert "Refill too soon" in page and "SCC 47" in page  # the meaning and the fix
    assert "101-A1" in page and "511-FB" in page  # the D.0 view
    response = client.post(f"/claims/{claim.public_id}/resubmit/", {"scc_codes": "47"})
    assert response.status_code == 302
    with tenant_scope(maple.organization):
        new = Claim.objects.get(cycle_item_id=claim.cycle_item_id, status="paid")
        assert new.scc_codes == [47] and new.submitted_by == maple.technician
    assert response.url == f"/claims/{new.public_id}/"
    bad = client.post(f"/claims/{new.public_id}/reverse/", {"reason": ""})
    assert bad.status_code == 302
    with tenant_scope(maple.organization):
        assert Claim.objects.get(pk=new.pk).status == "paid"  # nothing written


def test_the_dashboard_counts_rejects_to_work(maple, login):
    _claims(maple, maple.pharmacies[0], count=2)
    page = login(maple.pharmacist).get("/dashboard/").content.decode()
    assert "Claims to work" in page and "Reject 79" in page
    assert "Return to stock" in page


def test_birch_and_a_limited_technician_get_404(maple, birch, login, client):
    elm_ave = maple.pharmacies[1]
    elm_claim = _claims(maple, elm_ave, count=1)[0]
    technician = login(maple.technician)  # limited to Main St
    assert technician.get(f"/claims/{elm_claim.public_id}/").status_code == 404
    assert "claims-empty" in technician.get("/claims/").content.decode()
    client.logout()
    birch_client = login(birch.pharmacist)
    assert birch_client.get(f"/claims/{elm_claim.public_id}/").status_code == 404
    response = birch_client.post(f"/claims/{elm_claim.public_id}/resubmit/", {"scc_codes": "47"})
    assert response.status_code == 404
    with tenant_scope(maple.organization):
        assert Claim.objects.count() == 1
