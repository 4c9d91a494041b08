"""GET/PATCH /api/v1/pharmacies/{id}/sync-settings/: the sync timing the settings page edits,
in the API (issue 15, item 1). Owners only; another organization's pharmacy is a 404; a bad
value is a 400 naming its field and saves nothing; a change moves scheduled cycles."""

from __future__ import annotations

import datetime as dt

import pytest

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from scheduling.models import SyncCycle, SyncSettings
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db


def _url(pharmacy):
    return f"/api/v1/pharmacies/{pharmacy.public_id}/sync-settings/"


def test_an_owner_reads_the_defaults_and_patches_some_and_cycles_move(api_client_for, maple):
    pharmacy = maple.pharmacies[0]
    synced = make_patient(pharmacy, due_dates=[dt.date(2027, 1, 20)])
    enroll(pharmacy, synced, anchor=dt.date(2027, 1, 20))
    api = api_client_for(maple.owner)
    before = api.get(_url(pharmacy)).json()
    assert before["prep_days"] == 7 and before["closed_weekdays"] == []
    response = api.patch(_url(pharmacy), {"prep_days": 5, "closed_weekdays": [6]}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json() == {**before, "prep_days": 5, "closed_weekdays": [6]}
    with tenant_scope(maple.organization):
        row = SyncSettings.objects.get(pharmacy=pharmacy)
        assert (row.prep_days, row.closed_weekdays, row.updated_by) == (5, [6], maple.owner)
        cycle = SyncCycle.objects.get(patient=synced.patient, anchor_date=dt.date(2027, 1, 20))
        assert cycle.prep_due_on == dt.date(2027, 1, 15)  # Wed 1/20 - 5 days, a Friday
        assert AuditEvent.objects.filter(action="scheduling.settings.changed").count() == 1
    assert api.get(_url(pharmacy)).json()["prep_days"] == 5


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prep_days": 0}, "prep_days"),
        ({"prefill_days": 9}, "prefill_days"),  # after a 7-day prep call
        ({"closed_weekdays": [0, 1, 2, 3, 4, 5, 6]}, "closed_weekdays"),
        ({"closed_weekdays": [7]}, "closed_weekdays"),
        ({"daily_anchor_capacity": "many"}, "daily_anchor_capacity"),
    ],
)
def test_a_bad_value_is_a_400_naming_it_and_nothing_is_saved(api_client_for, maple, body, field):
    pharmacy = maple.pharmacies[0]
    response = api_client_for(maple.owner).patch(_url(pharmacy), body, format="json")
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    with tenant_scope(maple.organization):
        assert not SyncSettings.objects.filter(pharmacy=pharmacy).exists()


def test_only_owners_change_it_and_another_organizations_pharmacy_is_a_404(
    api_client_for, maple, birch
):
    mine, theirs = maple.pharmacies[0], birch.pharmacies[0]
    for member in (maple.technician, maple.pharmacist):  # owners only
        assert api_client_for(member).patch(_url(mine), {"prep_days": 5}).status_code == 403
    owner = api_client_for(maple.owner)
    assert owner.get(_url(theirs)).status_code == 404
    assert owner.patch(_url(theirs), {"prep_days": 5}, format="json").status_code == 404
    with tenant_scope(birch.organization):
        assert not SyncSettings.objects.filter(pharmacy=theirs).exists()
