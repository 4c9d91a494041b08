"""What every statement of scheduling/sql shares: table names, the status values passed as
named parameters (from the models' TextChoices and the state table), and running a statement."""

from __future__ import annotations

from django.db import connection

from patients.models import Fill, Prescription, PrescriptionStatus, SyncDecision
from scheduling.alignment import FillKind
from scheduling.models import (
    ContactChannel,
    CycleEvent,
    CycleItem,
    CycleStatus,
    EnrollmentStatus,
    EventChannel,
    FollowUpTask,
    ItemState,
    MessageRequest,
    MessageRequestStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
    TaskStatus,
)
from scheduling.states import REOPENABLE

CYCLE = SyncCycle._meta.db_table

ITEM = CycleItem._meta.db_table

EVENT = CycleEvent._meta.db_table

TASK = FollowUpTask._meta.db_table

REQUEST = MessageRequest._meta.db_table

ENROLLMENT = SyncEnrollment._meta.db_table

PLAN = SyncPlan._meta.db_table

PLAN_ITEM = SyncPlanItem._meta.db_table

RX = Prescription._meta.db_table

FILL = Fill._meta.db_table


def value_of(choice) -> str:
    """A TextChoices member as the plain string the database stores."""
    return str(getattr(choice, "value", choice))


def values_of(choices) -> tuple[str, ...]:
    """Several, as a tuple: psycopg2 renders it as a parenthesised list for IN."""
    return tuple(value_of(c) for c in choices)


# Status values every statement may name, as parameters.
STATES = {
    "scheduled": value_of(CycleStatus.SCHEDULED),
    "closed": value_of(CycleStatus.CLOSED),
    "enrolled": value_of(EnrollmentStatus.ENROLLED),
    "planned": value_of(ItemState.PLANNED),
    "full": value_of(FillKind.FULL),
    "not_synced": value_of(FillKind.NOT_SYNCED),
    "rx_active": value_of(PrescriptionStatus.ACTIVE),
    "rx_synced": value_of(SyncDecision.SYNCED),
    "sms": value_of(ContactChannel.SMS),
    "system": value_of(EventChannel.SYSTEM),
    "pending": value_of(MessageRequestStatus.PENDING),
    "task_open": value_of(TaskStatus.OPEN),
    "reopenable": [value_of(r) for r in REOPENABLE],
}


def run(sql: str, params: dict):
    """Execute one statement with named parameters; the cursor, for its results."""
    cursor = connection.cursor()
    cursor.execute(sql, {**STATES, **params})
    return cursor
