"""The adult immunization schedule page (/assessments/immunization-schedule/): the rules in
words, the document edited and checked before it is saved, reset to the shipped one; only
members who edit patients change it; one organization's copy is never another's."""

from __future__ import annotations

import json

import pytest

from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from patients.clinical_models import ImmunizationSchedule
from patients.clinical_selectors import shipped_schedule_document

pytestmark = pytest.mark.django_db
URL = "/assessments/immunization-schedule/"


def _shipped_with_zoster_from(age: int) -> str:
    document = shipped_schedule_document()
    for vaccine in document["vaccines"]:
        if vaccine["key"] == "zoster":
            vaccine["min_age"] = age
    return json.dumps(document)


def test_a_pharmacist_saves_a_changed_schedule_and_resets_it(client, login, maple, birch):
    login(maple.pharmacist)
    page = client.get(URL).content.decode()
    assert (
        "shipped with MedSync is in effect" in page and "2 doses 56 days apart, from age 50" in page
    )
    response = client.post(URL, {"action": "save", "document": _shipped_with_zoster_from(60)})
    assert response.status_code == 302
    page = client.get(URL).content.decode()
    assert "own copy" in page and "2 doses 56 days apart, from age 60" in page
    with tenant_scope(maple.organization):
        saved = ImmunizationSchedule.objects.get()
        zoster = next(v for v in saved.document["vaccines"] if v["key"] == "zoster")
        assert zoster["min_age"] == 60 and saved.updated_by == maple.pharmacist
        assert AuditEvent.objects.filter(action="patients.immunization_schedule.saved").exists()
    with tenant_scope(birch.organization):  # Birch still screens by the shipped schedule
        assert not ImmunizationSchedule.objects.exists()
    client.post(URL, {"action": "reset"})
    with tenant_scope(maple.organization):
        assert not ImmunizationSchedule.objects.exists()
        assert AuditEvent.objects.filter(action="patients.immunization_schedule.reset").exists()
    assert "from age 50" in client.get(URL).content.decode()


@pytest.mark.parametrize(
    "text, says",
    [
        ("{not json", "Not valid JSON"),
        (
            json.dumps({"season_starts": "08-01", "vaccines": [{"key": "x", "rule": "sometimes"}]}),
            "x",
        ),
    ],
)
def test_a_bad_document_says_why_and_saves_nothing(client, login, maple, text, says):
    login(maple.pharmacist)
    page = client.post(URL, {"action": "save", "document": text})
    assert page.status_code == 200 and says in page.content.decode()
    assert text.replace('"', "&quot;")[:8] in page.content.decode()  # the text is kept to fix
    with tenant_scope(maple.organization):
        assert not ImmunizationSchedule.objects.exists()


def test_a_technician_reads_it_but_cannot_change_it(client, login, maple):
    login(maple.technician)
    page = client.get(URL)
    assert page.status_code == 200 and 'data-testid="schedule-form"' not in page.content.decode()
    assert (
        client.post(URL, {"action": "save", "document": _shipped_with_zoster_from(60)}).status_code
        == 403
    )
    with tenant_scope(maple.organization):
        assert not ImmunizationSchedule.objects.exists()
