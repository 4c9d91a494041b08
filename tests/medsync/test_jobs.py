"""The task base class in a real Celery worker process on the real Redis broker."""

import uuid

import pytest
from django.db import transaction
from django_scopes import scopes_disabled

from medsync.jobs import enqueue_for_organization, fan_out
from medsync.models import AuditEvent, Organization
from tests.factories import OrganizationFactory, PharmacyFactory
from tests.worker import wait_until
from tests.worker_tasks import record_visible_pharmacies

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def seen_events(**filters):
    with scopes_disabled():
        return list(
            AuditEvent.objects.filter(action="tests.pharmacies.seen", **filters).order_by("id")
        )


def test_a_task_in_the_worker_enters_the_right_tenant(celery_worker_process, maple, birch):
    with transaction.atomic():
        enqueue_for_organization(record_visible_pharmacies, maple.organization, label="one")
    [event] = wait_until(lambda: seen_events(metadata__label="one"))
    assert event.organization == maple.organization
    assert event.metadata["names"] == ["Maple Elm Ave", "Maple Main St"]
    assert event.metadata["scope_organization"] == str(maple.organization.public_id)


def test_a_task_queued_by_its_registered_name_runs_in_the_right_tenant(
    celery_worker_process, maple, birch
):
    with transaction.atomic():
        enqueue_for_organization(record_visible_pharmacies.name, birch.organization, label="named")
    [event] = wait_until(lambda: seen_events(metadata__label="named"))
    assert event.organization == birch.organization
    assert event.metadata["names"] == ["Birch Rx"]


def test_two_organizations_back_to_back_never_see_each_other(celery_worker_process, maple, birch):
    for n in range(3):  # interleaved, one worker process reusing its connection
        enqueue_for_organization(record_visible_pharmacies, maple.organization, label=f"m{n}")
        enqueue_for_organization(record_visible_pharmacies, birch.organization, label=f"b{n}")
    events = wait_until(lambda: (e := seen_events()) and len(e) == 6 and e)
    for event in events:
        if event.metadata["label"].startswith("m"):
            assert event.organization == maple.organization
            assert event.metadata["names"] == ["Maple Elm Ave", "Maple Main St"]
        else:
            assert event.organization == birch.organization
            assert event.metadata["names"] == ["Birch Rx"]


def test_a_task_enqueued_in_a_rolled_back_transaction_never_runs(
    celery_worker_process, maple, birch
):
    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        enqueue_for_organization(record_visible_pharmacies, maple.organization, label="ghost")
        raise Abort
    # The worker runs one task at a time, in order: once a later sentinel is done,
    # the ghost would have run before it if it had ever been queued.
    enqueue_for_organization(record_visible_pharmacies, birch.organization, label="sentinel")
    wait_until(lambda: seen_events(metadata__label="sentinel"))
    assert seen_events(metadata__label="ghost") == []


def test_a_task_for_a_missing_or_suspended_org_does_nothing(celery_worker_process, maple, birch):
    suspended = OrganizationFactory(is_active=False)
    PharmacyFactory(organization=suspended)
    record_visible_pharmacies.delay(organization_id=str(uuid.uuid4()), label="missing")
    record_visible_pharmacies.delay(organization_id=str(suspended.public_id), label="suspended")
    enqueue_for_organization(record_visible_pharmacies, birch.organization, label="sentinel")
    wait_until(lambda: seen_events(metadata__label="sentinel"))
    assert seen_events(metadata__label="missing") == []
    assert seen_events(metadata__label="suspended") == []


def test_fan_out_runs_once_per_active_organization(celery_worker_process, maple, birch):
    OrganizationFactory(is_active=False)
    queued = fan_out(record_visible_pharmacies, label="fan")
    assert queued == Organization.objects.filter(is_active=True).count() == 2
    events = wait_until(lambda: (e := seen_events(metadata__label="fan")) and len(e) == 2 and e)
    assert {e.organization for e in events} == {maple.organization, birch.organization}
