"""The fills import on the app role: its COPY goes into a temporary table (the app role may
not COPY into a table under row-level security) and its writes pass the RLS policies."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connections
from django.utils import timezone

from medsync.tenancy import tenant_scope
from patients.imports import ImportFileInput, run_import
from patients.models import Fill, Prescription
from tests.security.test_rls import (  # noqa: F401 - the fixtures this module uses
    as_app_role,
    seeded,
    transactional_db,
)

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fills_import_copies_and_writes_on_the_app_role_in_its_tenant_only(as_app_role):  # noqa: F811
    maple, birch = as_app_role["organizations"]["maple"], as_app_role["organizations"]["birch"]
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == "medsync_app"
    day = timezone.localdate() - dt.timedelta(days=1)
    with tenant_scope(maple):
        prescriptions = list(
            Prescription.objects.filter(written_date__lte=day).select_related("pharmacy")[:5]
        )
        assert prescriptions
        rows = [
            f"{rx.rx_number},{day.isoformat()},7,7,9,0,{rx.pharmacy.ncpdp_id}"
            for rx in prescriptions
        ]
        text = "\n".join(
            [
                "rx_number,fill_date,quantity,days_supply,fill_number,patient_pay,pharmacy_ncpdp",
                *rows,
            ]
        )
        upload = [ImportFileInput("fills.csv", text + "\n")]
        [preview] = run_import(maple, upload, apply=False)
        assert preview.rejected == 0 and preview.created + preview.updated == len(rows)
        [applied] = run_import(maple, upload, apply=True)
        assert applied.rejected == 0
        assert Fill.objects.filter(fill_date=day, quantity=7, fill_number=9).count() == len(rows)
    with tenant_scope(birch):
        assert not Fill.objects.filter(fill_date=day, quantity=7, fill_number=9).exists()
