"""The lists read values() rows (medsync.api.rows) and must answer exactly what the
serializers give for the same rows: names, order, types, decimal strings, datetimes, nested
drug and items, nulls (issue 15 item 6)."""

import datetime as dt
import json
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from medsync.api.rows import RowShape
from medsync.models import Membership
from medsync.tenancy import tenant_scope
from patients.api.serializers import FillSerializer, PrescriptionSerializer
from patients.models import Fill, Prescription
from patients.visibility import limit_to_visible_patients
from scheduling import selectors
from scheduling.api import CycleSerializer, EnrollmentSerializer
from scheduling.models import CycleItem, EnrollmentStatus, SyncCycle, SyncEnrollment
from tests.scheduling.conftest import enroll, make_patient

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 15, 4, 5, 123456, tzinfo=dt.UTC)


@pytest.fixture
def varied(maple, birch):
    """Enrolled patients at both Maple pharmacies and at Birch, with the nulls, decimals and
    datetimes a page can hold: no prescriber or coverage, fills picked up and not, a
    paused enrollment, an item without a price or supply start, a contacted cycle."""
    main_st, elm_ave = maple.pharmacies
    with time_machine.travel(NOW, tick=False):
        for n, pharmacy in enumerate([main_st, main_st, elm_ave, main_st]):
            synced = make_patient(
                pharmacy,
                due_dates=[dt.date(2026, 3, 5 + n), dt.date(2026, 3, 12)],
                copay=None if n == 1 else Decimal("7.25"),
                coinsurance=Decimal("20") if n == 1 else None,
            )
            enroll(pharmacy, synced, anchor=dt.date(2026, 3, 12))
        other = make_patient(birch.pharmacies[0], due_dates=[dt.date(2026, 3, 9)])
        enroll(birch.pharmacies[0], other, anchor=dt.date(2026, 3, 12))
    with scopes_disabled():
        rx = Prescription.objects.filter(pharmacy=main_st).order_by("id").first()
        Prescription.objects.filter(pk=rx.pk).update(
            prescriber=None, coverage=None, daily_dose=Decimal("1.500")
        )
        fill = Fill.objects.filter(prescription=rx).first()
        Fill.objects.filter(pk=fill.pk).update(
            patient_pay=Decimal("3.1"), picked_up_at=NOW, quantity=Decimal("29.5")
        )
        item = CycleItem.objects.filter(prescription=rx).first()
        CycleItem.objects.filter(pk=item.pk).update(
            patient_pay=None,
            supply_start=None,
            flag_reason="too soon",
            warnings=[{"code": "early", "message": "Too soon", "drift_days": 2}],
        )
        SyncCycle.objects.filter(pk=item.cycle_id).update(
            contacted_at=NOW, ready_at=NOW + dt.timedelta(hours=1)
        )
        SyncEnrollment.objects.filter(pk=item.cycle.enrollment_id).update(
            status=EnrollmentStatus.PAUSED, paused_at=NOW, pause_reason="In hospital"
        )
    return maple


def _json(value) -> str:
    # As the response renders it, then as a client reads it: types, order and text compared.
    return json.dumps(json.loads(JSONRenderer().render(value)))


def _serialized(user, organization, path: str):
    """What the serializer gives for the rows the list shows, with the list's own filters."""
    with tenant_scope(organization):
        membership = Membership.objects.get(user=user)
        if path == "/api/v1/cycles/":
            rows, serializer = selectors.cycle_list(membership=membership), CycleSerializer
        elif path == "/api/v1/enrollments/":
            rows, serializer = (
                selectors.enrollment_list(membership=membership),
                EnrollmentSerializer,
            )
        elif path == "/api/v1/prescriptions/":
            rows = limit_to_visible_patients(
                Prescription.objects.order_by("patient_id", "rx_number"), membership, "patient"
            )
            serializer = PrescriptionSerializer
        else:
            rows = limit_to_visible_patients(
                Fill.objects.order_by("-fill_date", "-id"), membership, "prescription__patient"
            )
            serializer = FillSerializer
        return _json(serializer(list(rows), many=True).data)


@pytest.mark.parametrize(
    "path", ["/api/v1/cycles/", "/api/v1/enrollments/", "/api/v1/prescriptions/", "/api/v1/fills/"]
)
@pytest.mark.parametrize("role", ["owner", "technician"])
def test_a_list_page_is_what_the_serializer_gives_for_its_rows(api_client_for, varied, path, role):
    user = getattr(varied, role)
    with time_machine.travel(NOW, tick=False):
        response = api_client_for(user).get(f"{path}?page_size=200")
        expected = _serialized(user, varied.organization, path)
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) >= 3  # the technician sees Main St only
    assert _json(results) == expected


def test_the_rows_hold_the_cases_compared(api_client_for, varied):
    """The comparison above covers nulls, decimals, datetimes and nested objects."""
    client = api_client_for(varied.owner)
    with time_machine.travel(NOW, tick=False):
        rxs = client.get("/api/v1/prescriptions/?page_size=200").json()["results"]
        fills = client.get("/api/v1/fills/?page_size=200").json()["results"]
        cycles = client.get("/api/v1/cycles/?page_size=200").json()["results"]
        enrollments = client.get("/api/v1/enrollments/?page_size=200").json()["results"]
    assert any(rx["prescriber"] is None and rx["coverage"] is None for rx in rxs)
    assert "1.5000" in {rx["daily_dose"] for rx in rxs}
    assert all(isinstance(rx["drug"], dict) and rx["drug"]["ndc"] for rx in rxs)
    assert any(f["picked_up_at"] == "2026-03-02T15:04:05.123456Z" for f in fills)
    assert any(f["picked_up_at"] is None for f in fills)
    assert "29.500" in {f["quantity"] for f in fills}
    assert "3.10" in {f["patient_pay"] for f in fills}
    items = [item for cycle in cycles for item in cycle["items"]]
    assert items and any(item["patient_pay"] is None and item["warnings"] for item in items)
    assert any(c["contacted_at"] and c["ready_at"] for c in cycles)
    assert {e["next_anchor_date"] is None for e in enrollments} == {True, False}


def test_another_organizations_rows_never_appear(api_client_for, varied, birch):
    client = api_client_for(varied.owner)
    with scopes_disabled():
        birch_ids = {
            str(rx.public_id) for rx in Prescription.objects.filter(organization=birch.organization)
        }
        birch_cycles = {
            str(c.public_id) for c in SyncCycle.objects.filter(organization=birch.organization)
        }
    assert birch_ids and birch_cycles
    rxs = client.get("/api/v1/prescriptions/?page_size=200").json()["results"]
    cycles = client.get("/api/v1/cycles/?page_size=200").json()["results"]
    assert not birch_ids & {rx["id"] for rx in rxs}
    assert not birch_cycles & {c["id"] for c in cycles}


def test_a_shape_refuses_a_field_it_cannot_read_from_a_column():
    class WithMethod(serializers.Serializer):
        name = serializers.CharField()
        extra = serializers.SerializerMethodField()

    class WithWhole(serializers.Serializer):
        whole = serializers.DictField(source="*")

    class WithNested(serializers.Serializer):
        inner = WithMethod(many=True)

    for serializer, name in [(WithMethod, "extra"), (WithWhole, "whole"), (WithNested, "inner")]:
        with pytest.raises(ImproperlyConfigured, match=name):
            RowShape(serializer).columns  # noqa: B018 - building it is the test
    shape = RowShape(WithMethod, computed={"extra": (("other",), lambda row: row["other"] * 2)})
    assert shape.columns == ("name", "other")
    assert shape.one({"name": "a", "other": 2}) == {"name": "a", "extra": 4}


@pytest.mark.parametrize(
    "path", ["/api/v1/cycles/", "/api/v1/enrollments/", "/api/v1/prescriptions/", "/api/v1/fills/"]
)
def test_the_page_count_joins_nothing_the_columns_read(api_client_for, varied, path):
    """The paginator counts the model queryset, not the values() one and its joins."""
    client = api_client_for(varied.owner)
    client.get(path)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"{path}?page_size=2").status_code == 200
    counts = [q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"]]
    assert len(counts) == 1
    assert " JOIN " not in counts[0]
