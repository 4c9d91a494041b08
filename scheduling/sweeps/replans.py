"""Re-plans: compare each enrolled patient's synced medication list with the current plan;
a new prescription, a dose change or a discontinuation opens a re-plan for a pharmacist."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db import transaction
from django.utils import timezone

from patients.models import Prescription, PrescriptionStatus, SyncDecision
from scheduling.alignment import FillKind
from scheduling.models import (
    EnrollmentStatus,
    ReplanReason,
    SyncEnrollment,
    SyncPlanItem,
)
from scheduling.services.replans import replan_propose
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult


def replans_detect(*, now: dt.datetime | None = None, limit: int | None = None) -> SweepResult:
    """Compare each enrolled patient's synced medication list with the current plan: a new
    prescription, a dose change or a discontinuation opens a re-plan for a pharmacist."""
    now = now or timezone.now()
    limit = limit or runner.batch_size()
    result = SweepResult()
    enrollments = SyncEnrollment.objects.filter(status=EnrollmentStatus.ENROLLED).order_by("pk")
    last_pk = 0
    while True:
        batch = list(enrollments.filter(pk__gt=last_pk)[:limit])
        if not batch:
            break
        last_pk = batch[-1].pk
        result.batches += 1
        by_patient = {e.patient_id: e for e in batch}
        planned: dict[int, dict[int, SyncPlanItem]] = defaultdict(dict)
        for item in SyncPlanItem.objects.filter(
            plan__enrollment__in=batch, plan__is_current=True
        ).select_related("plan", "prescription__drug"):
            if item.kind != FillKind.NOT_SYNCED:
                planned[item.plan.enrollment_id][item.prescription_id] = item
        current: dict[int, dict[int, Prescription]] = defaultdict(dict)
        for rx in Prescription.objects.filter(
            patient_id__in=list(by_patient),
            status=PrescriptionStatus.ACTIVE,
            sync_decision=SyncDecision.SYNCED,
        ).select_related("drug"):
            current[rx.patient_id][rx.pk] = rx
        for patient_id, enrollment in by_patient.items():
            reasons, details = _changes(planned[enrollment.pk], current[patient_id])
            if reasons:
                with transaction.atomic():
                    if replan_propose(
                        enrollment=enrollment, reasons=reasons, details=details, now=now
                    ):
                        result.proposals += 1
    return result


def _changes(planned: dict[int, SyncPlanItem], current: dict[int, Prescription]):
    """The reasons and the human-readable details of what changed since the plan."""
    reasons, details = set(), []
    for rx_id, rx in sorted(current.items()):
        name = f"Rx {rx.rx_number} ({rx.drug.name} {rx.drug.strength})"
        item = planned.get(rx_id)
        if item is None:
            reasons.add(ReplanReason.NEW_RX)
            details.append(f"New prescription {name}.")
        elif item.daily_dose != rx.daily_dose:
            reasons.add(ReplanReason.DOSE_CHANGE)
            details.append(
                f"Dose change {name}: {item.daily_dose.normalize()} to "
                f"{rx.daily_dose.normalize()} a day."
            )
    for rx_id, item in sorted(planned.items()):
        if rx_id not in current:
            rx = item.prescription
            reasons.add(ReplanReason.DISCONTINUATION)
            state = (
                rx.get_status_display().lower()
                if rx.status != PrescriptionStatus.ACTIVE
                else "no longer synced"
            )
            details.append(f"Rx {rx.rx_number} ({rx.drug.name} {rx.drug.strength}) is {state}.")
    return sorted(reasons), details
