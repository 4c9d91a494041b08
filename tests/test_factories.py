"""The shared factories: bulk building writes what the factory defines, in one INSERT."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medsync.tenancy import tenant_scope
from patients.models import Patient
from tests.factories import PatientFactory, bulk_build_create


@pytest.mark.django_db
def test_bulk_build_create_writes_factory_defaults_and_overrides_in_one_insert(maple):
    with CaptureQueriesContext(connection) as queries:
        saved = bulk_build_create(
            PatientFactory,
            ({"organization": maple.organization, "mrn": f"BULK{n}"} for n in range(3)),
        )
    assert len(queries) == 1 and queries[0]["sql"].startswith('INSERT INTO "patients_patient"')
    assert all(patient.pk for patient in saved)
    with tenant_scope(maple.organization):
        rows = list(Patient.objects.order_by("mrn").values_list("mrn", "state", "phone"))
    assert [mrn for mrn, _, _ in rows] == ["BULK0", "BULK1", "BULK2"]
    assert {state for _, state, _ in rows} == {"WI"}  # the factory's default
    assert len({phone for _, _, phone in rows}) == 3  # the factory's sequence, not one phone
