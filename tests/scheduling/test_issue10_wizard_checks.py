"""Issue 10 defect 7: the wizard's reconciliation and expiry checks (DOMAIN 3).

A Schedule II that reconciliation would exclude (still undecided) was synced by ticking it;
now it takes the override note, recorded as its sync decision. An expired prescription is shown
unticked with the reason and cannot be synced.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.models import DeaSchedule, Prescription, SyncDecision
from scheduling.models import SyncEnrollment
from tests.factories import DrugFactory, FillFactory, PrescriptionFactory
from tests.scheduling.conftest import make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def with_schedule_ii(pharmacy):
    sync = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 10)])
    oxy = PrescriptionFactory(
        patient=sync.patient,
        pharmacy=pharmacy,
        coverage=sync.coverage,
        drug=DrugFactory(name="Oxycodone", dea_schedule=DeaSchedule.CII),
        sig_text="Take 1 tablet by mouth every 12 hours",
        daily_dose=Decimal("2"),
        quantity_per_fill=Decimal("60"),
    )
    FillFactory(prescription=oxy, fill_date=dt.date(2026, 2, 10), quantity=60, days_supply=30)
    return sync, oxy


def post(client, sync, ids, **extra):
    return client.post(
        f"/sync/enroll/{sync.patient.public_id}/",
        {
            "prescriptions": [str(i) for i in ids],
            "step": "confirm",
            "cycle_days": 30,
            "anchor_date": "2026-03-10",
            "consent_given_by": "The patient",
            "consent_method": "in_person",
            **extra,
        },
    )


def test_an_undecided_schedule_ii_needs_the_override_note(client, login, maple):
    pharmacy = maple.pharmacies[0]
    sync, oxy = with_schedule_ii(pharmacy)
    login(maple.pharmacist)
    page = client.get(f"/sync/enroll/{sync.patient.public_id}/").content.decode()
    assert 'data-testid="rx-override"' in page and "Schedule II" in page
    ids = [rx.public_id for rx in sync.prescriptions] + [oxy.public_id]
    page = post(client, sync, ids).content.decode()
    assert "add a note saying why" in page
    with tenant_scope(maple.organization):
        assert not SyncEnrollment.objects.exists()
    response = post(
        client, sync, ids, override_note="Patient's pain plan is stable; prescriber agrees."
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    with tenant_scope(maple.organization):
        oxy = Prescription.objects.get(pk=oxy.pk)
        assert oxy.sync_decision == SyncDecision.SYNCED
        assert oxy.sync_decision_note.startswith("Patient's pain plan")
        assert AuditEvent.objects.filter(action="patients.prescription.sync_decided").exists()
        assert SyncEnrollment.objects.count() == 1


def test_an_expired_prescription_is_shown_unticked_and_refused(client, login, maple):
    pharmacy = maple.pharmacies[0]
    sync = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 10), dt.date(2026, 3, 12)])
    expired = sync.prescriptions[1]
    with tenant_scope(maple.organization):
        Prescription.objects.filter(pk=expired.pk).update(
            written_date=dt.date(2025, 2, 1), expiration_date=dt.date(2026, 2, 1)
        )
    login(maple.pharmacist)
    page = client.get(f"/sync/enroll/{sync.patient.public_id}/").content.decode()
    assert 'data-testid="rx-expired"' in page
    assert f'value="{expired.public_id}" aria-label' not in page  # no tickable box
    kept = sync.prescriptions[0]
    assert f'value="{kept.public_id}" aria-label="Sync Rx {kept.rx_number}" checked' in page
    page = post(client, sync, [rx.public_id for rx in sync.prescriptions]).content.decode()
    assert f"Rx {expired.rx_number} expired on Feb 1, 2026" in page


def test_the_api_refuses_an_expired_prescription_by_the_pharmacys_calendar(maple, api_client_for):
    pharmacy = maple.pharmacies[0]
    sync = make_patient(pharmacy, due_dates=[dt.date(2026, 3, 10), dt.date(2026, 3, 12)])
    expired = sync.prescriptions[1]
    with tenant_scope(maple.organization):
        Prescription.objects.filter(pk=expired.pk).update(
            written_date=dt.date(2025, 2, 1), expiration_date=dt.date(2026, 2, 1)
        )
    client = api_client_for(maple.pharmacist)
    body = {
        "anchor_date": "2026-03-10",
        "cycle_days": 30,
        "prescriptions": [str(rx.public_id) for rx in sync.prescriptions],
    }
    url = f"/api/v1/patients/{sync.patient.public_id}/sync-plan/"
    response = client.post(url, body, format="json")
    assert response.status_code == 400
    assert f"Rx {expired.rx_number} expired on Feb 1, 2026" in response.json()["error"]["message"]
    assert response.json()["error"]["fields"]["prescriptions"] == ["Expired prescription."]
    options = client.get(
        f"/api/v1/patients/{sync.patient.public_id}/anchor-options/",
        {"prescriptions": [str(rx.public_id) for rx in sync.prescriptions]},
    )
    assert options.status_code == 400
    # Without the expired one the plan is answered.
    body["prescriptions"] = [str(sync.prescriptions[0].public_id)]
    assert client.post(url, body, format="json").status_code == 200
