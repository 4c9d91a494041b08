"""Enrollments, cycles and their worklists (prep, fill queue, tasks, re-plans), a patient's
sync panel, and single cycles and items by public id, each limited to the member's
pharmacies."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from medsync.models import Membership
from medsync.selectors import limit_to_visible_pharmacies
from patients.models import (
    Patient,
)
from scheduling.dates import next_anchor_on_or_after
from scheduling.exceptions import NotFoundInTenant
from scheduling.models import (
    OPEN_ENROLLMENT_STATUSES,
    SATELLITE_OPEN,
    CycleItem,
    CycleStatus,
    FollowUpTask,
    ItemState,
    PrepContact,
    ReplanProposal,
    ReplanStatus,
    SatelliteDue,
    SatelliteStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    TaskStatus,
)
from scheduling.selectors.calendars import pharmacy_today
from scheduling.states import CYCLE_OPEN, CYCLE_PREP_ANSWERABLE


def enrollment_list(
    *,
    membership: Membership | None = None,
    status: str = "",
    search: str = "",
    pharmacy_public_id: str = "",
) -> QuerySet[SyncEnrollment]:
    enrollments = SyncEnrollment.objects.select_related("patient", "pharmacy").order_by(
        "patient__last_name", "patient__first_name", "-created_at"
    )
    enrollments = limit_to_visible_pharmacies(enrollments, membership, "pharmacy")
    if status:
        enrollments = enrollments.filter(status=status)
    if pharmacy_public_id:
        enrollments = enrollments.filter(pharmacy__public_id=pharmacy_public_id)
    if search:
        for word in search.split()[:3]:
            enrollments = enrollments.filter(
                Q(patient__last_name__istartswith=word)
                | Q(patient__first_name__istartswith=word)
                | Q(patient__mrn__iexact=word)
            )
    return enrollments


def open_enrollment_of(patient: Patient) -> SyncEnrollment | None:
    return (
        SyncEnrollment.objects.filter(patient=patient, status__in=OPEN_ENROLLMENT_STATUSES)
        .select_related("pharmacy")
        .first()
    )


def cycle_list(
    *, membership: Membership | None = None, status: str = "", anchor_date: dt.date | None = None
) -> QuerySet[SyncCycle]:
    # The API's cycles: related rows carry just the columns it shows (the detail builds these
    # objects; the list reads the same filters as values() rows, items by `cycle_item_rows`).
    items = (
        CycleItem.objects.select_related("prescription__drug")
        .only(
            *(f.name for f in CycleItem._meta.concrete_fields if f.name != "organization"),
            "organization_id",
            "prescription__public_id",
            "prescription__rx_number",
            "prescription__drug__name",
            "prescription__drug__strength",
        )
        .order_by("fill_date", "id")
    )
    cycles = (
        SyncCycle.objects.select_related("patient", "pharmacy", "enrollment")
        .only(
            *(f.name for f in SyncCycle._meta.concrete_fields if f.name != "organization"),
            "organization_id",
            "patient__public_id",
            "patient__last_name",
            "pharmacy__public_id",
            "enrollment__public_id",
        )
        .prefetch_related(Prefetch("items", queryset=items))
        .order_by("anchor_date", "patient__last_name", "id")
    )
    cycles = limit_to_visible_pharmacies(cycles, membership, "pharmacy")
    if status:
        cycles = cycles.filter(status=status)
    if anchor_date:
        cycles = cycles.filter(anchor_date=anchor_date)
    return cycles


def cycle_item_rows(cycle_ids: Sequence[int], *, columns: Sequence[str]) -> dict[int, list[dict]]:
    """The items of these cycles as values() rows (`columns`), by cycle pk, in fill order:
    one query for a page of cycles (the API list renders them without model objects)."""
    by_cycle: dict[int, list[dict]] = {pk: [] for pk in cycle_ids}
    if not by_cycle:
        return by_cycle
    rows = (
        CycleItem.objects.filter(cycle_id__in=by_cycle)
        .order_by("fill_date", "id")
        .values("cycle_id", *columns)
    )
    for row in rows:
        by_cycle[row["cycle_id"]].append(row)
    return by_cycle


def prep_worklist(
    *, membership: Membership | None = None, today: dt.date, scope: str = "due"
) -> QuerySet[SyncCycle]:
    """Whom to call: cycles whose prep question is open, soonest anchor first.

    scope="due": due today or earlier; "upcoming": due in the next 7 days, not yet open.
    """
    cycles = SyncCycle.objects.select_related("patient", "pharmacy", "enrollment").annotate(
        open_replan=Exists(
            ReplanProposal.objects.filter(
                enrollment_id=OuterRef("enrollment_id"), status=ReplanStatus.PROPOSED
            )
        )
    )
    cycles = limit_to_visible_pharmacies(cycles, membership, "pharmacy")
    if scope == "upcoming":
        cycles = cycles.filter(
            status=CycleStatus.SCHEDULED,
            prep_due_on__gt=today,
            prep_due_on__lte=today + dt.timedelta(days=7),
        )
    else:
        cycles = cycles.filter(
            prep_open=True, status__in=CYCLE_PREP_ANSWERABLE, anchor_date__gte=today
        )
    return cycles.prefetch_related(
        Prefetch(
            "items",
            queryset=CycleItem.objects.select_related(
                "prescription__drug", "prescription__prescriber"
            )
            .exclude(state=ItemState.SKIPPED)
            .order_by("fill_date", "id"),
        ),
        Prefetch("prep_contacts", queryset=PrepContact.objects.order_by("-contacted_at")),
    ).order_by("anchor_date", "patient__last_name", "id")


def satellites_due(*, membership: Membership | None = None, today: dt.date) -> list:
    """Fills of prescriptions kept out of sync whose own prep or pre-fill day has come: shown
    on the fill queue beside the anchor fills (issue 10 satellite cycles)."""
    rows = SatelliteDue.objects.filter(
        status__in=[SatelliteStatus.PREP_DUE, SatelliteStatus.FILLING], prep_due_on__lte=today
    ).select_related("patient", "pharmacy", "prescription__drug")
    rows = limit_to_visible_pharmacies(rows, membership, "pharmacy")
    return list(rows.order_by("due_on", "patient__last_name", "id"))


def follow_up_tasks(*, membership: Membership | None = None) -> QuerySet[FollowUpTask]:
    tasks = FollowUpTask.objects.filter(status=TaskStatus.OPEN).select_related(
        "patient", "cycle__pharmacy"
    )
    return limit_to_visible_pharmacies(tasks, membership, "cycle__pharmacy").order_by(
        "due_on", "id"
    )


def replan_queue(*, membership: Membership | None = None) -> QuerySet[ReplanProposal]:
    proposals = ReplanProposal.objects.filter(status=ReplanStatus.PROPOSED).select_related(
        "patient", "enrollment__pharmacy"
    )
    return limit_to_visible_pharmacies(proposals, membership, "enrollment__pharmacy").order_by(
        "proposed_at"
    )


@dataclass
class SyncPanel:
    patient: Patient
    enrollment: SyncEnrollment | None
    next_anchor: dt.date | None
    current_cycle: SyncCycle | None
    plans: list[SyncPlan]
    recent_cycles: list[SyncCycle]
    open_replan: ReplanProposal | None
    open_tasks: list[FollowUpTask]
    past_enrollments: list[SyncEnrollment]
    # Prescriptions kept out of sync, each on its own cycle (issue 10 satellite cycles).
    satellites: list[SatelliteDue] = field(default_factory=list)


def patient_sync_panel(*, patient: Patient, now: dt.datetime | None = None) -> SyncPanel:
    """Everything the patient page's sync panel shows, in a fixed number of queries."""
    enrollments = list(
        SyncEnrollment.objects.filter(patient=patient)
        .select_related("pharmacy", "enrolled_by", "disenrolled_by")
        .prefetch_related(
            Prefetch(
                "plans",
                queryset=SyncPlan.objects.select_related("approved_by")
                .prefetch_related("items__prescription__drug")
                .order_by("-approved_at", "-id"),
            )
        )
        .order_by("-created_at")
    )
    current = next((e for e in enrollments if e.status in OPEN_ENROLLMENT_STATUSES), None)
    past = [e for e in enrollments if e is not current]
    cycles = list(
        SyncCycle.objects.filter(patient=patient)
        .select_related("pharmacy")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=CycleItem.objects.select_related("prescription__drug").order_by(
                    "fill_date", "id"
                ),
            )
        )
        .order_by("-anchor_date", "-id")[:6]
    )
    next_anchor = None
    current_cycle = None
    if current is not None and current.anchor_date is not None:
        today = pharmacy_today(current.pharmacy, now)
        next_anchor = next_anchor_on_or_after(current.anchor_date, current.cycle_days, today)
        open_cycles = [c for c in cycles if c.status in CYCLE_OPEN]
        current_cycle = open_cycles[-1] if open_cycles else None
    plans = [plan for e in enrollments for plan in e.plans.all()]
    open_replan = (
        ReplanProposal.objects.filter(patient=patient, status=ReplanStatus.PROPOSED).first()
        if current is not None
        else None
    )
    tasks = list(
        FollowUpTask.objects.filter(patient=patient, status=TaskStatus.OPEN).order_by("due_on")
    )
    satellites = (
        list(
            SatelliteDue.objects.filter(enrollment=current, status__in=SATELLITE_OPEN)
            .select_related("prescription__drug")
            .order_by("due_on", "id")
        )
        if current is not None
        else []
    )
    return SyncPanel(
        satellites=satellites,
        patient=patient,
        enrollment=current,
        next_anchor=next_anchor,
        current_cycle=current_cycle,
        plans=plans,
        recent_cycles=cycles,
        open_replan=open_replan,
        open_tasks=tasks,
        past_enrollments=past,
    )


def cycle_by_public_id(public_id, *, membership: Membership | None = None) -> SyncCycle:
    cycles = limit_to_visible_pharmacies(
        SyncCycle.objects.select_related("patient", "pharmacy", "enrollment"),
        membership,
        "pharmacy",
    )
    cycle = cycles.filter(public_id=public_id).first()
    if cycle is None:
        raise NotFoundInTenant("No such cycle.")
    return cycle


def cycle_items_by_public_ids(cycle: SyncCycle, public_ids: Sequence[str]) -> list[CycleItem]:
    """The cycle's items among these public ids (malformed ids match nothing)."""
    valid = []
    for value in public_ids:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(CycleItem.objects.filter(cycle=cycle, public_id__in=valid))


def item_by_public_id(public_id, *, membership: Membership | None = None) -> CycleItem:
    items = limit_to_visible_pharmacies(
        CycleItem.objects.select_related(
            "cycle__patient", "cycle__pharmacy", "cycle__enrollment", "prescription__drug"
        ),
        membership,
        "cycle__pharmacy",
    )
    item = items.filter(public_id=public_id).first()
    if item is None:
        raise NotFoundInTenant("No such fill.")
    return item


def open_prep_cycle_for(patient: Patient, *, now: dt.datetime | None = None) -> SyncCycle | None:
    """The cycle whose prep question a patient's text answers (soonest open anchor)."""
    today_utc = (now or timezone.now()).date() - dt.timedelta(days=1)
    return (
        SyncCycle.objects.filter(
            patient=patient,
            prep_open=True,
            status__in=CYCLE_PREP_ANSWERABLE,
            anchor_date__gte=today_utc,
        )
        .select_related("enrollment", "pharmacy")
        .order_by("anchor_date")
        .first()
    )


def open_prep_satellite_for(patient: Patient) -> SatelliteDue | None:
    """The satellite whose own prep reminder a patient's text answers: prep day come, a
    reminder asked for, no answer yet (soonest due first)."""
    return (
        SatelliteDue.objects.filter(
            patient=patient,
            status__in=(SatelliteStatus.PREP_DUE, SatelliteStatus.FILLING),
            prep_contacted_at__isnull=True,
            message_requests__kind="prep_reminder",
        )
        .order_by("due_on", "pk")
        .first()
    )


def default_replan_anchor(enrollment: SyncEnrollment, *, today: dt.date) -> dt.date:
    """Keep the patient's pickup day: the next anchor of the schedule from tomorrow."""
    return next_anchor_on_or_after(
        enrollment.anchor_date, enrollment.cycle_days, today + dt.timedelta(days=1)
    )
