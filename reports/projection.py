"""The sync calendar ahead: each enrolled patient's anchors in a window, from the cycles
that exist and, past them, projected from the enrollment's schedule and current plan.

The month calendar, the workload report and the dashboard share it; two queries per call
whatever the number of patients (cycles with their fill counts, enrollments with their
plan's fill counts; the settings come with the scope)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q

from reports.scope import ReportScope, sync_settings_of
from scheduling.dates import CycleTiming, next_anchor_on_or_after
from scheduling.models import (
    CloseReason,
    CycleStatus,
    EnrollmentStatus,
    FillKind,
    ItemState,
    SyncCycle,
    SyncEnrollment,
    SyncSettings,
)

# Cycles a pause, a disenrollment or a re-plan withdrew: not on the calendar any more.
WITHDRAWN = Q(
    status=CycleStatus.CLOSED,
    close_reason__in=[CloseReason.DISENROLLED, CloseReason.PAUSED, CloseReason.REPLANNED],
)
NOT_DONE = [ItemState.SKIPPED, ItemState.RETURNED]


@dataclass(frozen=True)
class PlannedAnchor:
    pharmacy_id: int
    enrollment_id: int
    anchor: dt.date
    prep_on: dt.date
    prefill_on: dt.date
    fills: int  # the cycle's fills (skipped and returned ones left out)
    fills_to_do: int  # not filled yet (to fill, or flagged)
    fills_to_verify: int  # billed or filled, waiting for the pharmacist
    prep_to_do: bool
    pickup_to_do: bool
    projected: bool  # no cycle yet: from the schedule and the current plan


def settings_by_pharmacy(scope: ReportScope) -> dict[int, SyncSettings]:
    """Each pharmacy in view's sync settings (read with the scope: no query)."""
    return {p.pk: sync_settings_of(p) for p in scope.in_view}


def timing(settings_row: SyncSettings) -> CycleTiming:
    return CycleTiming(
        prep_days=settings_row.prep_days,
        prefill_days=settings_row.prefill_days,
        closed_weekdays=tuple(settings_row.closed_weekdays or ()),
    )


def planned_anchors(
    scope: ReportScope, start: dt.date, end: dt.date, sync_settings: dict | None = None
) -> list[PlannedAnchor]:
    """Every anchor in [start, end] at the pharmacies in view, one row per patient and day."""
    sync_settings = sync_settings if sync_settings is not None else settings_by_pharmacy(scope)
    cycles = (
        scope.limit(SyncCycle.objects.filter(anchor_date__gte=start, anchor_date__lte=end))
        .exclude(WITHDRAWN)
        .annotate(
            n_fills=Count("items", filter=~Q(items__state__in=NOT_DONE)),
            n_to_do=Count(
                "items", filter=Q(items__state__in=[ItemState.PLANNED, ItemState.FLAGGED])
            ),
            n_to_verify=Count(
                "items", filter=Q(items__state__in=[ItemState.BILLED, ItemState.FILLED])
            ),
        )
        .order_by()
        .values_list(
            "pharmacy_id",
            "enrollment_id",
            "anchor_date",
            "prep_due_on",
            "prefill_due_on",
            "status",
            "n_fills",
            "n_to_do",
            "n_to_verify",
        )
    )
    rows: list[PlannedAnchor] = []
    taken: set[tuple[int, dt.date]] = set()
    prep_open = (CycleStatus.SCHEDULED, CycleStatus.PREP_DUE)
    pickup_open = (CycleStatus.SCHEDULED, CycleStatus.PREP_DUE, CycleStatus.CONTACTED)
    pickup_open += (CycleStatus.FILLING, CycleStatus.READY)
    for pharmacy_id, enrollment_id, anchor, prep, prefill, status, n, to_do, verify in cycles:
        taken.add((enrollment_id, anchor))
        rows.append(
            PlannedAnchor(
                pharmacy_id,
                enrollment_id,
                anchor,
                prep,
                prefill,
                n,
                to_do,
                verify,
                status in prep_open,
                status in pickup_open,
                False,
            )
        )
    enrollments = (
        scope.limit(
            SyncEnrollment.objects.filter(
                status=EnrollmentStatus.ENROLLED, anchor_date__isnull=False
            )
        )
        .annotate(
            n_fills=Count(
                "plans__items",
                filter=Q(plans__is_current=True)
                & Q(plans__items__kind__in=[FillKind.SHORT, FillKind.FULL]),
            )
        )
        .order_by()
        .values_list("pk", "pharmacy_id", "anchor_date", "cycle_days", "n_fills")
    )
    for enrollment_id, pharmacy_id, anchor_date, cycle_days, n_fills in enrollments:
        if pharmacy_id not in sync_settings:
            continue
        when = timing(sync_settings[pharmacy_id])
        day = next_anchor_on_or_after(anchor_date, cycle_days, start)
        while day <= end:
            if (enrollment_id, day) not in taken:
                rows.append(
                    PlannedAnchor(
                        pharmacy_id,
                        enrollment_id,
                        day,
                        when.prep_due_on(day),
                        when.prefill_due_on(day),
                        n_fills,
                        n_fills,
                        0,
                        True,
                        True,
                        True,
                    )
                )
            day += dt.timedelta(days=cycle_days)
    rows.sort(key=lambda r: (r.anchor, r.pharmacy_id, r.enrollment_id))
    return rows
