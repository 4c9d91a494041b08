"""The yearly re-sign sweep in a real Celery worker: run twice it opens each reminder once,
and one organization's run never touches another's."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from medsync.jobs import enqueue_for_organization
from medsync.tenancy import tenant_scope
from patients import tasks
from patients.agreement_services import agreement_sign
from patients.models import AgreementReminder
from tests.factories import PatientFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]


def _signed_a_year_ago(tenant):
    with tenant_scope(tenant.organization):
        patient = PatientFactory(organization=tenant.organization)
        agreement_sign(
            patient=patient,
            kind="sync_enrollment",
            method="typed_name",
            signer_name=patient.full_name,
            agreed=True,
            actor=None,
            now=timezone.now() - dt.timedelta(days=350),
        )


def _reminders(tenant) -> int:
    with tenant_scope(tenant.organization):
        return AgreementReminder.objects.count()


def test_the_sweep_in_the_worker_opens_each_reminder_once(celery_worker_process, maple, birch):
    _signed_a_year_ago(maple)
    _signed_a_year_ago(birch)
    enqueue_for_organization(tasks.agreement_reminders, maple.organization)
    wait_until(lambda: _reminders(maple) == 1, timeout=60)
    enqueue_for_organization(tasks.agreement_reminders, maple.organization)
    enqueue_for_organization(tasks.agreement_reminders, maple.organization)
    assert _reminders(birch) == 0  # Maple's runs never touch Birch
    enqueue_for_organization(tasks.agreement_reminders, birch.organization)
    wait_until(lambda: _reminders(birch) == 1, timeout=60)
    assert _reminders(maple) == 1
