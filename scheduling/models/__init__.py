"""Sync enrollment, plans, cycles, the fill queue and the work they create.

Every table is tenant-owned (organization_id on each row, UUID public id, a
scoped default manager). Invariants live in the database: one open enrollment
per patient, one cycle per enrollment and anchor date, one item per
prescription and fill date in a cycle, one open re-plan per enrollment, one
follow-up task per cycle and kind, one message request per dedupe key.

Patient-facing events (contacted, confirmed, picked up, returned, ...) are
rows of CycleEvent with a timestamp, so reports count them instead of parsing
statuses.

One module per topic (base: settings and shared constants; enrollment; plans; cycles:
cycles, items, events, prep contacts; work: re-plans, follow-ups, text requests),
re-exported here: import models from `scheduling.models`.
"""

from scheduling.models.appointments import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    OfferAnswer,
    OfferKind,
    OfferPlace,
    ServiceOffer,
)
from scheduling.models.base import (
    CYCLE_LENGTHS,
    DEFAULT_MISSED_AFTER_DAYS,
    DEFAULT_PREFILL_DAYS,
    DEFAULT_PREP_DAYS,
    DEFAULT_RTS_WARNING_DAYS,
    WEEKDAY_NAMES,
    SyncSettings,
    Weekday,
    organization_without_index,
)
from scheduling.models.cycles import (
    CloseReason,
    ContactOutcome,
    CycleEvent,
    CycleItem,
    CycleStatus,
    EventChannel,
    EventKind,
    FlagReason,
    ItemState,
    PrepContact,
    SyncCycle,
)
from scheduling.models.enrollment import (
    OPEN_ENROLLMENT_STATUSES,
    ConsentMethod,
    ConsentRelationship,
    ContactChannel,
    DisenrollReason,
    EnrollmentStatus,
    Fulfillment,
    SyncEnrollment,
)
from scheduling.models.plans import (
    FillKind,
    PlanReason,
    SyncPlan,
    SyncPlanItem,
)
from scheduling.models.renewals import RENEWAL_OPEN, RenewalRequest, RenewalStatus
from scheduling.models.satellites import SATELLITE_OPEN, SatelliteDue, SatelliteStatus
from scheduling.models.work import (
    FollowUpTask,
    MessageRequest,
    MessageRequestStatus,
    ReplanProposal,
    ReplanReason,
    ReplanStatus,
    TaskKind,
    TaskStatus,
)

__all__ = [
    "CYCLE_LENGTHS",
    "DEFAULT_MISSED_AFTER_DAYS",
    "DEFAULT_PREFILL_DAYS",
    "DEFAULT_PREP_DAYS",
    "DEFAULT_RTS_WARNING_DAYS",
    "OPEN_ENROLLMENT_STATUSES",
    "RENEWAL_OPEN",
    "SATELLITE_OPEN",
    "WEEKDAY_NAMES",
    "Appointment",
    "AppointmentKind",
    "AppointmentStatus",
    "CloseReason",
    "ConsentMethod",
    "ConsentRelationship",
    "ContactChannel",
    "ContactOutcome",
    "CycleEvent",
    "CycleItem",
    "CycleStatus",
    "DisenrollReason",
    "EnrollmentStatus",
    "EventChannel",
    "EventKind",
    "FillKind",
    "FlagReason",
    "FollowUpTask",
    "Fulfillment",
    "ItemState",
    "MessageRequest",
    "MessageRequestStatus",
    "OfferAnswer",
    "OfferKind",
    "OfferPlace",
    "PlanReason",
    "PrepContact",
    "RenewalRequest",
    "RenewalStatus",
    "ReplanProposal",
    "ReplanReason",
    "ReplanStatus",
    "SatelliteDue",
    "SatelliteStatus",
    "ServiceOffer",
    "SyncCycle",
    "SyncEnrollment",
    "SyncPlan",
    "SyncPlanItem",
    "SyncSettings",
    "TaskKind",
    "TaskStatus",
    "Weekday",
    "organization_without_index",
]
