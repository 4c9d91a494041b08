"""The PQA med sync measures' inputs read from the record (fixed number of queries) and the
report over them (the arithmetic is `reports.pqa`, pure).

What each input means in MedSync's data (decided here; DOMAIN 6 gives the measures):

- An **offer** is a sync enrollment row: contacted on its invitation (else its consent, its
  enrollment, its creation), agreed on its consent (when it reached "enrolled"), initially
  synchronized on the anchor of its first cycle that was picked up.
- A **member** is an enrollment that reached "enrolled": enrolled on its local enrollment
  day, ended on its disenrollment (deceased -> died, transferred -> transferred; moved to a
  facility marks a long-term-care patient), the patient's inpatient stays, chronic medicines
  = active maintenance prescriptions, synchronized ones = those reconciliation put in sync
  (today's record), appointments = its cycles' anchor dates, contacts = its prep contacts
  that reached the patient (not "unreachable").
- Rows are limited to the pharmacies the member sees (the enrollment's pharmacy).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from django.db.models import Count, Q

from medsync.selectors import limit_to_visible_pharmacies
from patients.models import InpatientStay, Patient, Prescription, PrescriptionStatus, SyncDecision
from reports.pqa import (
    EXCLUDED_DIED,
    EXCLUDED_TRANSFERRED,
    Member,
    Offer,
    PqaReport,
    pqa_report,
)
from scheduling.dates import local_today
from scheduling.models import DisenrollReason, PrepContact, SyncCycle, SyncEnrollment
from scheduling.models.cycles import ContactOutcome

_ENDED = {
    DisenrollReason.DECEASED: EXCLUDED_DIED,
    DisenrollReason.TRANSFERRED: EXCLUDED_TRANSFERRED,
}


def _enrollments(membership, pharmacy):
    rows = limit_to_visible_pharmacies(SyncEnrollment.objects.all(), membership)
    if pharmacy is not None:
        rows = rows.filter(pharmacy=pharmacy)
    return rows


def pqa_inputs(membership, *, pharmacy=None) -> tuple[list[Offer], list[Member], dict]:
    """Offers, members and {key: patient_id} (six queries whatever the number of patients)."""
    enrollments = _enrollments(membership, pharmacy)
    rows = list(
        enrollments.order_by("pk").values_list(
            "pk",
            "patient_id",
            "patient__date_of_birth",
            "pharmacy__time_zone",
            "invited_at",
            "consent_at",
            "enrolled_at",
            "created_at",
            "disenrolled_at",
            "disenroll_reason",
        )
    )
    ids = [r[0] for r in rows]
    patient_ids = {r[1] for r in rows}
    first_synced: dict[int, dt.date] = {}
    appointments: dict[int, list[dt.date]] = defaultdict(list)
    for enrollment_id, anchor, picked_up in (
        SyncCycle.objects.filter(enrollment_id__in=ids)
        .order_by("anchor_date")
        .values_list("enrollment_id", "anchor_date", "picked_up_at")
    ):
        appointments[enrollment_id].append(anchor)
        if picked_up is not None:
            first_synced.setdefault(enrollment_id, anchor)
    contacts: dict[int, list[dt.date]] = defaultdict(list)
    for enrollment_id, at, zone in (
        PrepContact.objects.filter(cycle__enrollment_id__in=ids)
        .exclude(outcome=ContactOutcome.UNREACHABLE)
        .order_by()
        .values_list("cycle__enrollment_id", "contacted_at", "cycle__pharmacy__time_zone")
    ):
        contacts[enrollment_id].append(local_today(zone, at))
    stays: dict[int, list] = defaultdict(list)
    for patient_id, admitted, discharged in (
        InpatientStay.objects.filter(patient_id__in=patient_ids)
        .order_by()
        .values_list("patient_id", "admitted_on", "discharged_on")
    ):
        stays[patient_id].append((admitted, discharged or dt.date.max))
    medicines = {
        row["patient_id"]: row
        for row in Prescription.objects.filter(
            patient_id__in=patient_ids,
            status=PrescriptionStatus.ACTIVE,
            therapy_type="maintenance",
        )
        .order_by()
        .values("patient_id")
        .annotate(
            chronic=Count("pk"), synced=Count("pk", filter=Q(sync_decision=SyncDecision.SYNCED))
        )
    }
    offers, members, patients = [], [], {}
    for pk, patient_id, born, zone, invited, consent, enrolled, created, left, reason in rows:
        patients[pk] = patient_id
        contacted = local_today(zone, invited or consent or enrolled or created)
        agreed = local_today(zone, consent or enrolled) if enrolled else None
        offers.append(Offer(pk, contacted, agreed, first_synced.get(pk)))
        if enrolled is None:
            continue
        meds = medicines.get(patient_id, {})
        members.append(
            Member(
                key=pk,
                enrolled_on=local_today(zone, enrolled),
                ended_on=local_today(zone, left) if left else None,
                ended_reason=_ENDED.get(reason, ""),
                birth_date=born,
                long_term_care=reason == DisenrollReason.FACILITY,
                stays=tuple(stays.get(patient_id, ())),
                chronic_medicines=meds.get("chronic", 0),
                synced_medicines=meds.get("synced", 0),
                appointments=tuple(appointments.get(pk, ())),
                contacts=tuple(contacts.get(pk, ())),
            )
        )
    return offers, members, patients


def pqa_for(membership, *, start: dt.date, end: dt.date, pharmacy=None):
    """The four measures over [start, end] and {enrollment key: patient id}."""
    offers, members, patients = pqa_inputs(membership, pharmacy=pharmacy)
    report: PqaReport = pqa_report(offers, members, start, end)
    return report, patients


def patients_by_id(ids) -> dict[int, Patient]:
    """The patients behind a drill-down page (one query)."""
    return {
        p.pk: p for p in Patient.objects.filter(pk__in=list(ids)).select_related("home_pharmacy")
    }
