"""The patient and prescription reads the sync engine needs (wizard, re-plans, fills)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.db.models import Exists, OuterRef

from medsync.models import Membership, Pharmacy
from patients.models import (
    Fill,
    Patient,
    Prescription,
    PrescriptionStatus,
    SyncDecision,
)
from patients.visibility import limit_to_visible_patients
from scheduling.dates import local_today
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.models import SyncCycle, SyncEnrollment


def sync_at_pharmacies(pharmacies):
    """Visibility clause (registered in patients.visibility at ready()): a patient with a sync
    enrollment or cycle at one of these pharmacies belongs to them too."""
    return Exists(
        SyncEnrollment.objects.filter(patient=OuterRef("pk"), pharmacy__in=pharmacies).order_by()
    ) | Exists(SyncCycle.objects.filter(patient=OuterRef("pk"), pharmacy__in=pharmacies).order_by())


def patient_by_public_id(public_id, *, membership: Membership | None) -> Patient:
    """A patient the member may see (another pharmacy's patient is not found: a 404)."""
    patient = Patient.objects.select_related("home_pharmacy", "household").filter(
        public_id=public_id
    )
    found = limit_to_visible_patients(patient, membership).first()
    if found is None:
        raise NotFoundInTenant("No such patient.")
    return found


def medication_list(patient: Patient) -> list[Prescription]:
    """The patient's active prescriptions with their reconciliation decision (wizard step 1)."""
    return list(
        Prescription.objects.filter(patient=patient, status=PrescriptionStatus.ACTIVE)
        .select_related("drug", "prescriber", "coverage", "pharmacy")
        .order_by("drug__name", "rx_number")
    )


def needs_sync_override(rx: Prescription) -> str:
    """Why syncing this Rx overrides reconciliation ("" when it does not): it was excluded, or
    it is undecided and the rules would exclude it (a Schedule II, a PRN...). DOMAIN 3: syncing
    it anyway takes the same note the medication list asks for."""
    from patients.services import prescription_suggestion

    if rx.sync_decision == SyncDecision.EXCLUDED:
        return rx.get_sync_exclusion_reason_display() or "excluded at reconciliation"
    if rx.sync_decision == SyncDecision.UNDECIDED:
        suggestion = prescription_suggestion(rx)
        if suggestion.decision == SyncDecision.EXCLUDED:
            return suggestion.explanation
    return ""


def chosen_prescriptions(
    patient: Patient, public_ids: Sequence, *, override_note: str | None = None, today=None
) -> list[Prescription]:
    """The patient's prescriptions named by public id; any other id is a 404 (another
    patient's or another organization's prescription is simply not found). An expired one is
    refused (by `today`, else today at the patient's home pharmacy); one reconciliation
    excluded (or would exclude) only with an `override_note` (the wizard records it as the
    sync decision; the API has none: reconcile first)."""
    wanted = {str(p) for p in public_ids}
    if not wanted:
        raise SchedulingError(
            "Choose at least one prescription to sync.", fields={"prescriptions": ["Required."]}
        )
    found = list(
        Prescription.objects.filter(patient=patient, public_id__in=wanted).select_related(
            "drug", "coverage", "pharmacy"
        )
    )
    if len(found) != len(wanted):
        raise NotFoundInTenant("No such prescription for this patient.")
    inactive = [rx.rx_number for rx in found if rx.status != PrescriptionStatus.ACTIVE]
    if inactive:
        raise SchedulingError(
            f"Only active prescriptions can be synced (Rx {', '.join(sorted(inactive))}).",
            fields={"prescriptions": ["Inactive prescription."]},
        )
    if today is None:
        # The API names no day: the prescription expires by the pharmacy's calendar.
        today = local_today(home_pharmacy_of(patient, found).time_zone)
    expired = [rx for rx in found if rx.expiration_date < today]
    if expired:
        rx = expired[0]
        raise SchedulingError(
            f"Rx {rx.rx_number} expired on {rx.expiration_date:%b %-d, %Y}: it cannot be filled "
            "or synced until the prescriber sends a new prescription.",
            fields={"prescriptions": ["Expired prescription."]},
        )
    for rx in found:
        why = needs_sync_override(rx)
        if not why:
            continue
        if override_note is None:
            raise SchedulingError(
                f"Rx {rx.rx_number} is excluded from sync ({why}). Change the reconciliation "
                "decision first, with a note saying why.",
                fields={"prescriptions": ["Excluded from sync."]},
            )
        if not override_note.strip():
            raise SchedulingError(
                f"Rx {rx.rx_number} is excluded from sync ({why}): syncing it overrides "
                "reconciliation, so add a note saying why.",
                fields={"override_note": ["Required to sync an excluded prescription."]},
            )
    return found


def home_pharmacy_of(patient: Patient, prescriptions: Sequence[Prescription] = ()) -> Pharmacy:
    if patient.home_pharmacy_id and patient.home_pharmacy.is_active:
        return patient.home_pharmacy
    for rx in prescriptions:
        return rx.pharmacy
    pharmacy = Pharmacy.objects.filter(is_active=True).order_by("pk").first()
    if pharmacy is None:
        raise SchedulingError("The organization has no active pharmacy.")
    return pharmacy


def ever_filled(prescription_ids: Iterable[int]) -> set[int]:
    """Of these prescriptions, those with any fill on record (the original counts as used)."""
    ids = list(prescription_ids)
    if not ids:
        return set()
    return set(
        Fill.objects.filter(prescription_id__in=ids)
        .order_by()
        .values_list("prescription_id", flat=True)
        .distinct()
    )


def synced_prescriptions(patient: Patient) -> list[Prescription]:
    """The patient's active prescriptions decided into sync (what a re-plan aligns)."""
    return list(
        Prescription.objects.filter(
            patient=patient,
            status=PrescriptionStatus.ACTIVE,
            sync_decision=SyncDecision.SYNCED,
        ).select_related("drug", "coverage", "pharmacy")
    )
