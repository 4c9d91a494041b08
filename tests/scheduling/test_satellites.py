"""Issue 10, satellite cycles: a prescription of an enrolled patient kept out of the sync
gets its own next due date (supply carried forward), prep day and pre-fill day, moved along
by the satellite sweep; run twice: the same rows; tenant-scoped; bounded queries."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from medsync.tenancy import tenant_scope
from messaging.registry import INTENT_CONFIRM
from scheduling import sweeps
from scheduling.models import MessageRequest, SatelliteDue, SatelliteStatus, SyncSettings
from scheduling.services.hooks import cycle_sms_reply, has_open_prep_question
from tests.factories import FillFactory, SyncPrescriptionFactory
from tests.scheduling.conftest import enroll, make_patient
from tests.scheduling.test_sweeps import at, run

pytestmark = pytest.mark.django_db
D = dt.date


def rows(organization):
    with tenant_scope(organization):
        return sorted(
            SatelliteDue.objects.values_list(
                "prescription_id", "due_on", "prep_due_on", "prefill_due_on", "status"
            )
        )


def patient_with_a_satellite(pharmacy, organization):
    """Synced Rx due 3/5 and 3/12 (anchor 3/12), and a third Rx left out of the plan: filled
    3/1 for 28 days (due 3/29)."""
    with time_machine.travel(at(2026, 3, 2, 15), tick=False):
        synced = make_patient(pharmacy, due_dates=[D(2026, 3, 5), D(2026, 3, 12)])
        with tenant_scope(organization):
            own = SyncPrescriptionFactory(
                patient=synced.patient, pharmacy=pharmacy, coverage=synced.coverage
            )
            FillFactory(
                prescription=own, fill_date=D(2026, 3, 1), days_supply=28, quantity=Decimal(28)
            )
        enroll(pharmacy, synced, anchor=D(2026, 3, 12))
    return synced, own


def test_a_prescription_kept_out_of_sync_gets_its_own_cycle(maple):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    _, own = patient_with_a_satellite(pharmacy, organization)
    # Due 3/29 (3/1 + 28); prep 7 days before (3/22), pre-fill 3 days before (3/26).
    result = run(organization, sweeps.satellites_refresh, at(2026, 3, 10, 15))
    assert result.cycles == 1
    expected = [(own.pk, D(2026, 3, 29), D(2026, 3, 22), D(2026, 3, 26), "scheduled")]
    assert rows(organization) == expected
    # The synced prescriptions have no satellite.
    assert run(organization, sweeps.satellites_refresh, at(2026, 3, 10, 16)).cycles == 0
    assert rows(organization) == expected  # run twice: the same rows
    run(organization, sweeps.satellites_refresh, at(2026, 3, 22, 15))
    assert rows(organization)[0][-1] == SatelliteStatus.PREP_DUE
    run(organization, sweeps.satellites_refresh, at(2026, 3, 26, 15))
    assert rows(organization)[0][-1] == SatelliteStatus.FILLING
    # Filled early on 3/27 for 28 days: the supply on hand lasts to 3/28, so the new fill
    # covers 3/29-4/25 (carried forward) and the next due date is 4/26, not 4/24.
    with tenant_scope(organization):
        FillFactory(
            prescription=own,
            fill_date=D(2026, 3, 27),
            days_supply=28,
            quantity=Decimal(28),
            fill_number=2,
        )
    run(organization, sweeps.satellites_refresh, at(2026, 3, 27, 20))
    assert rows(organization) == [
        (own.pk, D(2026, 3, 29), D(2026, 3, 22), D(2026, 3, 26), "done"),
        (own.pk, D(2026, 4, 26), D(2026, 4, 19), D(2026, 4, 23), "scheduled"),
    ]


def test_a_satellite_is_dropped_when_its_prescription_stops(maple):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    _, own = patient_with_a_satellite(pharmacy, organization)
    run(organization, sweeps.satellites_refresh, at(2026, 3, 10, 15))
    with tenant_scope(organization):
        type(own).objects.filter(pk=own.pk).update(status="discontinued")
    run(organization, sweeps.satellites_refresh, at(2026, 3, 11, 15))
    assert [r[-1] for r in rows(organization)] == ["dropped"]


def test_the_satellite_sweep_stays_in_its_tenant(maple, birch):
    patient_with_a_satellite(maple.pharmacies[0], maple.organization)
    run(birch.organization, sweeps.satellites_refresh, at(2026, 3, 10, 15))
    assert rows(maple.organization) == []


def test_the_satellite_sweep_costs_the_same_queries_for_more_patients(maple):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    patient_with_a_satellite(pharmacy, organization)

    def cost():
        with (
            time_machine.travel(at(2026, 3, 10, 15), tick=False),
            tenant_scope(organization),
            CaptureQueriesContext(connection) as ctx,
        ):
            sweeps.satellites_refresh()
        return len(ctx.captured_queries)

    one = cost()
    with tenant_scope(organization):
        SatelliteDue.objects.all().delete()
    for _ in range(3):
        patient_with_a_satellite(pharmacy, organization)
    with tenant_scope(organization):
        SatelliteDue.objects.all().delete()
    assert cost() == one


def test_satellites_show_beside_the_anchor_on_the_patient_page_and_the_fill_queue(
    client, login, maple
):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    synced, own = patient_with_a_satellite(pharmacy, organization)
    run(organization, sweeps.satellites_refresh, at(2026, 3, 10, 15))
    with time_machine.travel(at(2026, 3, 10, 16), tick=False):
        login(maple.pharmacist)
        page = client.get(f"/sync/patients/{synced.patient.public_id}/").content.decode()
        assert 'data-testid="satellites"' in page
        assert f"Rx {own.rx_number}" in page and "Sun Mar 29" in page
        assert "prep call Mar 22 · pre-fill Mar 26" in page
        # Not due for its prep call yet: not on the fill queue.
        assert 'data-testid="satellites"' not in client.get("/fill-queue/").content.decode()
    run(organization, sweeps.satellites_refresh, at(2026, 3, 26, 15))
    with time_machine.travel(at(2026, 3, 26, 16), tick=False):
        login(maple.pharmacist)  # a new session: the old one is long idle
        queue = client.get("/fill-queue/").content.decode()
    assert 'data-testid="satellites"' in queue and f"Rx {own.rx_number}" in queue
    assert "fill now (pre-fill day Mar 26)" in queue


def test_a_satellite_gets_its_own_prep_reminder_once_and_takes_the_patients_answer(maple):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    synced, _ = patient_with_a_satellite(pharmacy, organization)
    run(organization, sweeps.satellites_refresh, at(2026, 3, 21, 15))
    with tenant_scope(organization):
        assert not MessageRequest.objects.filter(satellite__isnull=False).exists()
    # 3/22 is the satellite's prep day: its own reminder, naming its due date 3/29.
    assert run(organization, sweeps.satellites_refresh, at(2026, 3, 22, 15)).messages == 1
    assert run(organization, sweeps.satellites_refresh, at(2026, 3, 22, 16)).messages == 0
    with tenant_scope(organization):
        request = MessageRequest.objects.get(satellite__isnull=False)
        satellite = SatelliteDue.objects.get(status=SatelliteStatus.PREP_DUE)
        assert request.satellite_id == satellite.pk and request.cycle_id is None
        assert (request.kind, request.dedupe_key) == (
            "prep_reminder",
            f"satellite:{satellite.pk}:prep_reminder",
        )
        assert request.context["anchor_date"] == "2026-03-29"
        # The patient's "C" answers the satellite (no cycle is in prep on 3/22).
        patient = synced.patient
        with time_machine.travel(at(2026, 3, 22, 17), tick=False):
            assert has_open_prep_question(patient)
            assert cycle_sms_reply(patient, INTENT_CONFIRM, None) is True
            assert not has_open_prep_question(patient)
        satellite.refresh_from_db()
        assert satellite.prep_outcome == "confirmed" and satellite.prep_contacted_at
    assert run(organization, sweeps.satellites_refresh, at(2026, 3, 23, 15)).messages == 0


def test_a_satellites_prep_and_prefill_days_move_off_closed_days(maple):
    organization, pharmacy = maple.organization, maple.pharmacies[0]
    _, own = patient_with_a_satellite(pharmacy, organization)
    with tenant_scope(organization):
        # Due Sunday 3/29: prep Sunday 3/22 and pre-fill Thursday 3/26; closed Sundays and
        # Thursdays -> prep Saturday 3/21, pre-fill Wednesday 3/25.
        SyncSettings.objects.update_or_create(
            pharmacy=pharmacy, defaults={"closed_weekdays": [3, 6]}
        )
    run(organization, sweeps.satellites_refresh, at(2026, 3, 10, 15))
    assert rows(organization) == [
        (own.pk, D(2026, 3, 29), D(2026, 3, 21), D(2026, 3, 25), "scheduled")
    ]
