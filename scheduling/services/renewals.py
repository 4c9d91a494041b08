"""Renewal requests: opened from the renewals the sync engine flags on a cycle's items, then
sent, and approved (with the new prescription) or denied."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from medsync.models import User
from medsync.services import audit_record
from patients.models import Prescription
from scheduling.cycle_rows import RENEWAL_NEEDED, needs_renewal
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    RENEWAL_OPEN,
    CycleItem,
    RenewalRequest,
    RenewalStatus,
    SyncCycle,
)

DEFAULT_REFILLS_REQUESTED = 5  # a year of 30-day cycles after the current one, the usual ask


@transaction.atomic
def renewals_open(*, cycle: SyncCycle, actor: User | None) -> list[RenewalRequest]:
    """A request for each prescription the engine flagged on this cycle (run twice = once)."""
    items = CycleItem.objects.filter(cycle=cycle).select_related("prescription").order_by("id")
    wanted: dict[int, RenewalRequest] = {}
    for item in items:
        if item.prescription_id in wanted or not needs_renewal(item.warnings):
            continue
        reason = next(
            w.get("message", "") for w in item.warnings if w.get("code") == RENEWAL_NEEDED
        )
        wanted[item.prescription_id] = RenewalRequest(
            organization_id=cycle.organization_id,
            cycle=cycle,
            prescription=item.prescription,
            prescriber_id=item.prescription.prescriber_id,
            reason=reason[:300],
            refills_requested=DEFAULT_REFILLS_REQUESTED,
        )
    created = RenewalRequest.objects.bulk_create(wanted.values(), ignore_conflicts=True)
    if wanted:
        audit_record(
            action="scheduling.renewal.opened",
            actor=actor,
            target=cycle,
            metadata={"prescriptions": len(created)},
        )
    return list(RenewalRequest.objects.filter(cycle=cycle))


@transaction.atomic
def renewal_status_set(
    *,
    renewal: RenewalRequest,
    status: str,
    actor: User | None,
    new_prescription: Prescription | None = None,
    note: str = "",
) -> RenewalRequest:
    """Sent, approved (naming the new prescription, of the same patient) or denied."""
    renewal = RenewalRequest.objects.select_for_update().get(pk=renewal.pk)
    if status not in RenewalStatus.values or status == RenewalStatus.TO_SEND:
        raise SchedulingError(
            "Choose sent, approved or denied.", fields={"status": ["Not a status to set."]}
        )
    if renewal.status not in RENEWAL_OPEN:
        raise SchedulingError(
            f"This request was already {renewal.get_status_display().lower()}.",
            fields={"status": ["Already decided."]},
        )
    now = timezone.now()
    if status == RenewalStatus.APPROVED:
        patient_id = renewal.cycle.patient_id
        if new_prescription is None or new_prescription.patient_id != patient_id:
            raise SchedulingError(
                "Name the new prescription the prescriber sent.",
                fields={"new_prescription": ["A prescription of this patient."]},
            )
        if new_prescription.pk == renewal.prescription_id:
            raise SchedulingError(
                "The new prescription is the one being renewed.",
                fields={"new_prescription": ["Choose the new prescription."]},
            )
        renewal.new_prescription = new_prescription
    if status == RenewalStatus.SENT:
        renewal.sent_at = now
    else:
        renewal.decided_at = now
        renewal.sent_at = renewal.sent_at or now
    renewal.status = status
    renewal.note = note.strip()[:300]
    renewal.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    renewal.save()
    audit_record(
        action=f"scheduling.renewal.{status}",
        actor=actor,
        target=renewal,
        metadata={
            "prescription": str(renewal.prescription.public_id),
            "new_prescription": str(new_prescription.public_id) if new_prescription else None,
        },
    )
    return renewal
