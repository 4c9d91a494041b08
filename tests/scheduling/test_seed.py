"""seed_demo enrolls about half of Maple's demo patients with cycles in every state."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from medsync.models import Organization
from medsync.tenancy import tenant_scope
from scheduling.models import CycleStatus, SyncCycle, SyncEnrollment

pytestmark = pytest.mark.django_db


def program(slug):
    with tenant_scope(Organization.objects.get(slug=slug)):
        return (
            sorted(SyncEnrollment.objects.values_list("patient__mrn", "status")),
            sorted(SyncCycle.objects.values_list("patient__mrn", "anchor_date", "status")),
        )


def test_the_demo_program_has_cycles_in_every_state_and_seeding_twice_changes_nothing():
    call_command("seed_demo")
    enrollments, cycles = program("maple")
    assert 15 <= len(enrollments) <= 25  # about half of Maple's 40 demo patients
    assert {status for _, _, status in cycles} == set(CycleStatus.values)
    call_command("seed_demo_scheduling")
    assert program("maple") == (enrollments, cycles)
    assert program("birch") == ([], [])
