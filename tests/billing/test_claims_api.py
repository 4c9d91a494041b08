"""/api/v1/claims/: list filters, detail, ncpdp, submit, reverse, rebill; Birch sees none of
Maple's claims; the one-paid-claim constraint under two concurrent submissions."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connections

from billing.claim_models import Claim
from billing.services import ClaimError, claim_submit
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


def _rx(maple):
    org, pharmacy = maple.organization, maple.pharmacies[0]
    with tenant_scope(org):
        patient = PatientFactory(organization=org)
        coverage = CoverageFactory(patient=patient)
        drug = DrugFactory()
        rx = PrescriptionFactory(patient=patient, pharmacy=pharmacy, drug=drug, coverage=coverage)
        PriceListEntryFactory(pharmacy=pharmacy, ndc=drug.ndc)
        PlanRuleFactory(organization=org)
    return rx


@pytest.fixture
def claims(maple):
    rx = _rx(maple)
    with tenant_scope(maple.organization):
        FillFactory(prescription=rx, fill_date=dt.date(2026, 10, 20), days_supply=30)
        rejected = claim_submit(
            subject=claim_subject(rx, cycle_item_id=1, days_supply=10, quantity=Decimal("10")),
            actor=maple.technician,
        )
        paid = claim_submit(
            subject=claim_subject(rx, cycle_item_id=2, date_of_service=dt.date(2026, 11, 15)),
            actor=maple.technician,
        )
    assert (rejected.status, paid.status) == ("rejected", "paid")
    return {"rejected": rejected, "paid": paid, "rx": rx}


def test_list_filters_and_detail(maple, claims, api_client_for, django_assert_max_num_queries):
    client = api_client_for(maple.pharmacist)
    with django_assert_max_num_queries(12):
        body = client.get("/api/v1/claims/?status=rejected").json()
    assert [c["id"] for c in body["results"]] == [str(claims["rejected"].public_id)]
    assert body["results"][0]["rejects"][0]["code"] == "79"
    by_code = client.get("/api/v1/claims/?reject_code=79").json()["results"]
    assert len(by_code) == 1
    patient = claims["rx"].patient.public_id
    assert len(client.get(f"/api/v1/claims/?patient={patient}").json()["results"]) == 2
    assert client.get("/api/v1/claims/?status=nope").json()["error"]["fields"]["status"]
    assert client.get("/api/v1/claims/?patient=nope").status_code == 400
    detail = client.get(f"/api/v1/claims/{claims['paid'].public_id}/").json()
    assert detail["patient_pay"] == "10.00" and detail["transaction"] == "B1"
    d0 = client.get(f"/api/v1/claims/{claims['paid'].public_id}/ncpdp/").json()
    assert d0["request"]["103-A3"] == "B1" and d0["response"]["112-AN"] == "P"
    with tenant_scope(maple.organization):
        assert AuditEvent.objects.filter(action="billing.claim.listed").exists()


def test_submit_reverse_and_rebill_through_the_api(maple, claims, api_client_for):
    client = api_client_for(maple.technician)
    rejected, paid = claims["rejected"], claims["paid"]
    bad = client.post(f"/api/v1/claims/{rejected.public_id}/submit/", {"scc_codes": [200]})
    assert bad.status_code == 400 and "scc_codes" in bad.json()["error"]["fields"]
    ok = client.post(
        f"/api/v1/claims/{rejected.public_id}/submit/", {"scc_codes": [47]}, format="json"
    )
    assert ok.status_code == 201 and ok.json()["status"] == "paid"
    again = client.post(f"/api/v1/claims/{rejected.public_id}/submit/", {}, format="json")
    assert again.status_code == 409  # that fill is paid now
    rebill = client.post(
        f"/api/v1/claims/{paid.public_id}/rebill/", {"days_supply": 28, "quantity": "28"}
    )
    assert rebill.status_code == 201 and rebill.json()["transaction"] == "B3"
    b3 = rebill.json()["id"]
    missing = client.post(f"/api/v1/claims/{b3}/reverse/", {})
    assert missing.status_code == 400 and "reason" in missing.json()["error"]["fields"]
    reverse = client.post(f"/api/v1/claims/{b3}/reverse/", {"reason": "Not picked up"})
    assert reverse.status_code == 201 and reverse.json()["status"] == "accepted"
    with tenant_scope(maple.organization):
        assert Claim.objects.get(public_id=b3).status == "reversed"
        assert AuditEvent.objects.filter(action="billing.claim.reversed").count() == 1


def test_birch_sees_none_of_maples_claims(maple, birch, claims, api_client_for):
    client = api_client_for(birch.pharmacist)
    assert client.get("/api/v1/claims/").json()["results"] == []
    paid = claims["paid"].public_id
    assert client.get(f"/api/v1/claims/{paid}/").status_code == 404
    assert client.get(f"/api/v1/claims/{paid}/ncpdp/").status_code == 404
    reverse = client.post(f"/api/v1/claims/{paid}/reverse/", {"reason": "x"})
    assert reverse.status_code == 404
    with tenant_scope(maple.organization):
        assert Claim.objects.get(public_id=paid).status == "paid"


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_submissions_of_one_fill_leave_one_paid_claim(maple):
    rx = _rx(maple)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def bill():
        try:
            with tenant_scope(maple.organization):
                barrier.wait(timeout=10)
                claim_submit(subject=claim_subject(rx, cycle_item_id=77), actor=maple.technician)
            outcomes.append("paid")
        except ClaimError as exc:
            outcomes.append(exc.code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bill) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["already_paid", "paid"]
    with tenant_scope(maple.organization):
        assert Claim.objects.filter(cycle_item_id=77, status="paid").count() == 1


def test_the_list_page_is_what_the_serializer_gives_and_audits_the_same(
    maple, claims, api_client_for
):
    """The list reads values() rows (billing.api.CLAIM_ROWS): the same JSON as ClaimSerializer
    for the same claims (a paid one with amounts and a rejected one with its rejects, nulls
    included), and the same audit events as before (one per claim, naming its patient)."""
    from rest_framework.renderers import JSONRenderer

    from billing.api import ClaimSerializer

    client = api_client_for(maple.pharmacist)
    response = client.get("/api/v1/claims/")
    assert response.status_code == 200
    with tenant_scope(maple.organization):
        claims_shown = list(Claim.objects.order_by("-submitted_at", "-id"))
        expected = ClaimSerializer(claims_shown, many=True).data
        events = AuditEvent.objects.filter(action="billing.claim.listed")
        audited = {(e.object_type, e.object_id, e.metadata["patient"]) for e in events}
    assert response.content.count(b'"id"') == 2
    got = response.json()["results"]
    assert JSONRenderer().render(got) == JSONRenderer().render(expected)
    assert {c["status"] for c in got} == {"paid", "rejected"}
    patient = str(claims["rx"].patient.public_id)
    assert audited == {("billing.claim", str(c.public_id), patient) for c in claims_shown}
