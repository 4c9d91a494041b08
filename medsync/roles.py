"""Who may do what: the one role table, in code, tested in tests/medsync/test_roles.py."""

from __future__ import annotations

from enum import StrEnum

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    PHARMACIST = "pharmacist", "Pharmacist"
    TECHNICIAN = "technician", "Technician"


class Perm(StrEnum):
    VIEW_DASHBOARD = "dashboard.view"
    VIEW_FILL_QUEUE = "fill_queue.view"
    PROCESS_FILLS = "fills.process"  # fill, bill, flag, hand over at pickup
    VERIFY_FILLS = "fills.verify"  # the pharmacist's final check
    VIEW_PHARMACIES = "pharmacies.view"
    MANAGE_PHARMACIES = "pharmacies.manage"
    MANAGE_MEMBERS = "members.manage"
    VIEW_AUDIT_LOG = "audit.view"
    VIEW_PATIENTS = "patients.view"
    EDIT_PATIENTS = "patients.edit"
    IMPORT_RECORDS = "records.import"
    MANAGE_ENROLLMENT = "enrollment.manage"
    REPLY_MESSAGES = "messages.reply"
    VIEW_REPORTS = "reports.view"
    MANAGE_INTEGRATIONS = "integrations.manage"  # webhooks in and out (owners)


_PHARMACIST = frozenset(
    {
        Perm.VIEW_DASHBOARD,
        Perm.VIEW_FILL_QUEUE,
        Perm.PROCESS_FILLS,
        Perm.VERIFY_FILLS,
        Perm.VIEW_PHARMACIES,
        Perm.VIEW_PATIENTS,
        Perm.EDIT_PATIENTS,
        Perm.IMPORT_RECORDS,
        Perm.MANAGE_ENROLLMENT,
        Perm.REPLY_MESSAGES,
        Perm.VIEW_REPORTS,
    }
)

ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.OWNER: frozenset(Perm),
    Role.PHARMACIST: _PHARMACIST,
    Role.TECHNICIAN: frozenset(
        {Perm.VIEW_FILL_QUEUE, Perm.PROCESS_FILLS, Perm.VIEW_PHARMACIES, Perm.VIEW_PATIENTS}
    ),
}

# Where each role lands after login: its daily work.
ROLE_LANDING_URL_NAME: dict[Role, str] = {
    Role.OWNER: "dashboard",
    Role.PHARMACIST: "dashboard",
    Role.TECHNICIAN: "fill-queue",
}


def role_allows(role: str | None, perm: Perm) -> bool:
    if role is None:
        return False
    return perm in ROLE_PERMISSIONS.get(Role(role), frozenset())
