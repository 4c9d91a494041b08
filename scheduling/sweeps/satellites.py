"""(e) Satellite cycles: every prescription of an enrolled patient kept out of the sync
(insulin on its own rhythm, a drifting inhaler, a Schedule II, a maintenance Rx not in the
plan) gets its own next due date (supply carried forward: patients.supply), its own prep day
and pre-fill day, moved along by this sweep and shown beside the anchor.

Idempotent (a second run changes nothing), tenant-scoped (the runner), and a fixed number of
queries per batch of enrollments whatever the number of prescriptions."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Q
from django.utils import timezone

from medsync.tenancy import current_organization
from patients.models import Fill, Prescription, PrescriptionStatus
from patients.supply import SupplyFill, carry_forward
from scheduling.dates import open_day_on_or_before
from scheduling.models import (
    SATELLITE_OPEN,
    ContactChannel,
    EnrollmentStatus,
    FillKind,
    MessageRequest,
    SatelliteDue,
    SatelliteStatus,
    SyncEnrollment,
    SyncPlanItem,
)
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult

_ORDER = {s: n for n, s in enumerate(SATELLITE_OPEN)}


def satellite_dates(
    due_on: dt.date, *, prep_days: int, prefill_days: int, closed_weekdays=()
) -> tuple[dt.date, dt.date]:
    """(prep day, pre-fill day) before a satellite's due date, each moved earlier off a day
    the pharmacy is closed (as a cycle's are); the prep call never after the pre-fill."""
    prefill = open_day_on_or_before(due_on - dt.timedelta(days=prefill_days), closed_weekdays)
    prep = open_day_on_or_before(
        min(due_on - dt.timedelta(days=prep_days), prefill), closed_weekdays
    )
    return prep, prefill


def satellite_status(today: dt.date, prep_due_on: dt.date, prefill_due_on: dt.date) -> str:
    if today >= prefill_due_on:
        return SatelliteStatus.FILLING
    if today >= prep_due_on:
        return SatelliteStatus.PREP_DUE
    return SatelliteStatus.SCHEDULED


def satellites_refresh(*, now: dt.datetime | None = None, limit: int | None = None) -> SweepResult:
    """Each enrolled patient's prescriptions kept out of sync: their open satellite row with
    the next due date carried forward, its status for the pharmacy's today; a row whose due
    date a fill has since covered is done (the next row takes its place); a row whose Rx is
    now synced, stopped or expired is dropped."""
    now = now or timezone.now()
    limit = limit or runner.batch_size()
    organization_id = current_organization().pk

    def step(pharmacy, settings_row, today, result):
        enrollments = list(
            SyncEnrollment.objects.filter(pharmacy=pharmacy, status=EnrollmentStatus.ENROLLED)
            .order_by("pk")
            .values_list("pk", "patient_id")
        )
        for start in range(0, len(enrollments), limit):
            batch = dict(enrollments[start : start + limit])
            result.cycles += _refresh_batch(
                batch, pharmacy, settings_row, today, now, organization_id
            )
            result.messages += _request_prep_reminders(batch, pharmacy, now, organization_id)

    total = runner.for_each_pharmacy("satellites_refreshed", now, step)
    runner.hand_over_later(total)
    return total


def _request_prep_reminders(batch, pharmacy, now, organization_id) -> int:
    """A satellite whose prep day has come gets its own prep reminder (once: the dedupe key
    names the row), for patients who take texts, like a cycle's (DOMAIN 1)."""
    due = list(
        SatelliteDue.objects.filter(
            enrollment_id__in=list(batch),
            status__in=(SatelliteStatus.PREP_DUE, SatelliteStatus.FILLING),
            prep_contacted_at__isnull=True,
            enrollment__contact_channel=ContactChannel.SMS,
        ).values_list("pk", "patient_id", "due_on")
    )
    if not due:
        return 0
    keys = {pk: f"satellite:{pk}:prep_reminder" for pk, _, _ in due}
    asked = set(
        MessageRequest.objects.filter(dedupe_key__in=keys.values()).values_list(
            "dedupe_key", flat=True
        )
    )
    new = [
        MessageRequest(
            organization_id=organization_id,
            satellite_id=pk,
            patient_id=patient_id,
            kind="prep_reminder",
            dedupe_key=keys[pk],
            context={"anchor_date": due_on.isoformat(), "pharmacy_id": str(pharmacy.public_id)},
            requested_at=now,
        )
        for pk, patient_id, due_on in due
        if keys[pk] not in asked
    ]
    MessageRequest.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def _refresh_batch(batch, pharmacy, settings_row, today, now, organization_id) -> int:
    """One batch of enrollments (enrollment id -> patient id): five queries and the writes."""
    by_patient = {patient_id: enrollment_id for enrollment_id, patient_id in batch.items()}
    synced: set[int] = set()
    reasons: dict[int, str] = {}
    for rx_id, kind, warnings in SyncPlanItem.objects.filter(
        plan__enrollment_id__in=list(batch), plan__is_current=True
    ).values_list("prescription_id", "kind", "warnings"):
        if kind == FillKind.NOT_SYNCED:
            first = next((w.get("message", "") for w in warnings or [] if w), "")
            reasons[rx_id] = first[:200] or "Kept out of sync by the plan."
        else:
            synced.add(rx_id)
    candidates = {
        pk: patient_id
        for pk, patient_id in Prescription.objects.filter(
            patient_id__in=list(by_patient),
            status=PrescriptionStatus.ACTIVE,
            therapy_type="maintenance",
            expiration_date__gte=today,
        )
        .exclude(pk__in=synced)
        .values_list("pk", "patient_id")
    }
    fills: dict[int, list[SupplyFill]] = defaultdict(list)
    for rx_id, fill_date, days, supply_start in Fill.objects.filter(
        prescription_id__in=list(candidates), returned_to_stock_at__isnull=True
    ).values_list("prescription_id", "fill_date", "days_supply", "supply_start"):
        fills[rx_id].append(SupplyFill(fill_date, days, supply_start))
    open_rows = {
        (row.enrollment_id, row.prescription_id): row
        for row in SatelliteDue.objects.filter(
            enrollment_id__in=list(batch), status__in=SATELLITE_OPEN
        )
    }
    wanted: dict[tuple[int, int], tuple[dt.date, int]] = {}
    for rx_id, patient_id in candidates.items():
        spans = carry_forward(fills.get(rx_id, ()))
        if spans:
            wanted[(by_patient[patient_id], rx_id)] = (spans[-1].next_due, spans[-1].days_supply)
    changed = 0
    new_rows: list[SatelliteDue] = []
    for key, row in open_rows.items():
        if key not in wanted:
            row.status, row.status_changed_at = SatelliteStatus.DROPPED, now
            row.save(update_fields=["status", "status_changed_at"])
            changed += 1
    for (enrollment_id, rx_id), (due_on, days) in wanted.items():
        prep, prefill = satellite_dates(
            due_on,
            prep_days=settings_row.prep_days,
            prefill_days=settings_row.prefill_days,
            closed_weekdays=settings_row.closed_weekdays or (),
        )
        status = satellite_status(today, prep, prefill)
        row = open_rows.get((enrollment_id, rx_id))
        if row is not None and row.due_on < due_on:
            # A fill covered it: done; the next due date is a new row.
            row.status, row.status_changed_at = SatelliteStatus.DONE, now
            row.save(update_fields=["status", "status_changed_at"])
            changed += 1
            row = None
        if row is None:
            new_rows.append(
                SatelliteDue(
                    organization_id=organization_id,
                    enrollment_id=enrollment_id,
                    patient_id=batch[enrollment_id],
                    pharmacy_id=pharmacy.pk,
                    prescription_id=rx_id,
                    due_on=due_on,
                    prep_due_on=prep,
                    prefill_due_on=prefill,
                    days_supply=days,
                    reason=reasons.get(rx_id, "Not in the sync plan: on its own cycle."),
                    status=status,
                    created_at=now,
                    status_changed_at=now,
                )
            )
            continue
        update = {}
        if row.due_on != due_on:  # an earlier date (a fill returned to stock, a dose change)
            update.update(due_on=due_on, prep_due_on=prep, prefill_due_on=prefill)
        if row.status != status and (update or _ORDER[status] > _ORDER[row.status]):
            update.update(status=status, status_changed_at=now)
        if update:
            SatelliteDue.objects.filter(pk=row.pk).update(**update)
            changed += 1
    if new_rows:
        # A row of the same date done earlier (refilled, then returned) is not made twice.
        taken = set(
            SatelliteDue.objects.filter(
                Q(enrollment_id__in=list(batch)),
                prescription_id__in=[r.prescription_id for r in new_rows],
            ).values_list("enrollment_id", "prescription_id", "due_on")
        )
        new_rows = [
            r for r in new_rows if (r.enrollment_id, r.prescription_id, r.due_on) not in taken
        ]
        SatelliteDue.objects.bulk_create(new_rows)
        changed += len(new_rows)
    return changed
