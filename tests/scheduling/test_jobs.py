"""The sync jobs in a real Celery worker on the real broker: each sweep run twice leaves the
same rows, a Birch run never touches Maple, and the beat fan-out reaches every organization.

The worker runs at the real time, so the data is built around each pharmacy's real today.
"""

from __future__ import annotations

import datetime as dt

import pytest
from django_scopes import scopes_disabled

from medsync.jobs import enqueue_for_organization
from medsync.models import AuditEvent
from medsync.tenancy import tenant_scope
from scheduling import tasks
from scheduling.dates import local_today
from scheduling.models import (
    CycleEvent,
    CycleItem,
    CycleStatus,
    FollowUpTask,
    MessageRequest,
    SyncCycle,
    SyncEnrollment,
)
from tests.scheduling.conftest import enroll, make_patient
from tests.worker import wait_until
from tests.worker_tasks import record_visible_pharmacies

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def rows(organization):
    with tenant_scope(organization):
        return {
            "cycles": sorted(
                SyncCycle.objects.values_list("pk", "anchor_date", "status", "prep_open")
            ),
            "items": sorted(CycleItem.objects.values_list("pk", "cycle_id", "state")),
            "events": sorted(CycleEvent.objects.values_list("pk", "kind")),
            "messages": sorted(MessageRequest.objects.values_list("pk", "dedupe_key")),
            "tasks": sorted(FollowUpTask.objects.values_list("pk", "kind")),
        }


_sentinels = iter(range(10_000))


def seen(label):
    with scopes_disabled():
        return AuditEvent.objects.filter(
            action="tests.pharmacies.seen", metadata__label=label
        ).exists()


def wait_for_sentinel(task, organization):
    label = f"after-{task.name}-{next(_sentinels)}"
    enqueue_for_organization(task, organization)
    enqueue_for_organization(record_visible_pharmacies, organization, label=label)
    wait_until(lambda: seen(label), timeout=60)


def drain(organization) -> None:
    """Wait for the sweeps an enrollment queued on commit to finish."""
    label = f"drained-{next(_sentinels)}"
    enqueue_for_organization(record_visible_pharmacies, organization, label=label)
    wait_until(lambda: seen(label), timeout=60)


def build_program(tenant):
    """Three patients at the pharmacy's real today: something for each sweep to act on."""
    pharmacy = tenant.pharmacies[0]
    today = local_today(pharmacy.time_zone)
    days = dt.timedelta

    prep = make_patient(pharmacy, due_dates=[today + days(3), today + days(9)])
    enroll(pharmacy, prep, anchor=today + days(9))
    prefill = make_patient(pharmacy, due_dates=[today + days(2), today + days(12)])
    enroll(pharmacy, prefill, anchor=today + days(12))
    lapsed = make_patient(pharmacy, due_dates=[today + days(11)])
    enroll(pharmacy, lapsed, anchor=today + days(11))
    with tenant_scope(tenant.organization):
        # Time passes: the prep call of the first is due today, the second is at its
        # pre-fill day, and the third's anchor was three days ago with the bag ready.
        SyncCycle.objects.filter(patient=prep.patient).update(prep_due_on=today)
        SyncCycle.objects.filter(patient=prefill.patient).update(
            prep_due_on=today - days(4), prefill_due_on=today
        )
        past = today - days(3)
        SyncEnrollment.objects.filter(patient=lapsed.patient).update(anchor_date=past)
        cycle = SyncCycle.objects.get(patient=lapsed.patient)
        SyncCycle.objects.filter(pk=cycle.pk).update(
            anchor_date=past,
            prep_due_on=past - days(7),
            prefill_due_on=past - days(3),
            status=CycleStatus.READY,
        )
        CycleItem.objects.filter(cycle=cycle).update(
            fill_date=past, queue_from=past - days(3), state="ready"
        )
    # Enrolling queued a prep and a pre-fill sweep on commit (with the dates before the
    # changes above, or after them): let those finish, then put the dates back.
    drain(tenant.organization)
    with tenant_scope(tenant.organization):
        CycleEvent.objects.all().delete()
        MessageRequest.objects.all().delete()
        FollowUpTask.objects.all().delete()
        SyncCycle.objects.exclude(pk=cycle.pk).update(
            status=CycleStatus.SCHEDULED, prep_open=False, contact_outcome=""
        )
        CycleItem.objects.exclude(cycle=cycle).update(state="planned")  # none started yet
    return today


@pytest.mark.parametrize(
    "task",
    [tasks.ensure_cycles, tasks.open_prep, tasks.open_prefill, tasks.check_pickups],
    ids=lambda t: t.name.rsplit(".", 1)[-1],
)
def test_each_sweep_run_twice_in_the_worker_leaves_the_same_rows(
    celery_worker_process, maple, birch, task
):
    build_program(maple)
    build_program(birch)
    before = rows(maple.organization)
    birch_before = rows(birch.organization)
    wait_for_sentinel(task, maple.organization)
    once = rows(maple.organization)
    assert once != before, "the sweep found work to do"
    wait_for_sentinel(task, maple.organization)
    assert rows(maple.organization) == once
    # Maple's run never touched Birch, and Birch's run never touches Maple.
    assert rows(birch.organization) == birch_before
    wait_for_sentinel(task, birch.organization)
    assert rows(maple.organization) == once
    assert rows(birch.organization) != birch_before


def test_what_each_sweep_did_in_the_worker(celery_worker_process, maple, birch):
    today = build_program(maple)
    for task in (tasks.ensure_cycles, tasks.open_prep, tasks.open_prefill, tasks.check_pickups):
        wait_for_sentinel(task, maple.organization)
    with tenant_scope(maple.organization):
        statuses = sorted(SyncCycle.objects.values_list("status", flat=True))
        assert statuses == sorted(["prep_due", "filling", "missed", "scheduled"])
        new = SyncCycle.objects.get(status=CycleStatus.SCHEDULED)
        assert new.anchor_date == today - dt.timedelta(days=3) + dt.timedelta(days=30)
        assert set(MessageRequest.objects.values_list("kind", flat=True)) == {
            "prep_reminder",
            "missed_pickup",
        }
        assert FollowUpTask.objects.filter(kind="missed_pickup").count() == 1
    with tenant_scope(birch.organization):
        assert not SyncCycle.objects.exists()


def test_the_beat_fan_out_reaches_every_organization(celery_worker_process, maple, birch):
    build_program(maple)
    build_program(birch)
    tasks.fan_out_open_prep.delay()
    for tenant in (maple, birch):
        organization = tenant.organization

        def opened(organization=organization):
            with tenant_scope(organization):
                return SyncCycle.objects.filter(status=CycleStatus.PREP_DUE).exists()

        wait_until(opened, timeout=60)
