"""Which patients a member may see: the one patient-visibility rule, used everywhere.

medsync decides whether a member is limited and to which pharmacies
(`medsync.selectors.patient_pharmacy_limit`: organization-wide members, jobs and organizations
that share patient records see every patient). This module says what ties a patient to a
pharmacy: their home pharmacy, a prescription there, and whatever higher apps register at
`ready()` (scheduling adds "a sync enrollment or cycle there"), since patients may not import
them. Every clause is an `EXISTS` on the patient row: no join, no duplicated rows.

    visible_patients(membership)                       the Patient queryset a member may see
    limit_to_visible_patients(qs, membership, "patient")   any queryset cut to those patients
    patient_is_visible(patient, membership)            one patient, for objects already loaded
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Exists, OuterRef, Q, QuerySet

from medsync.models import Membership
from medsync.selectors import patient_pharmacy_limit
from patients.models import Patient, Prescription

# name -> function(visible_pharmacy_pks) -> Q or Exists on Patient
_links: dict[str, Callable] = {}


def register_patient_pharmacy_link(name: str, clause: Callable) -> None:
    """A higher app's way to say "this patient belongs to that pharmacy too".

    `clause(pharmacies)` gets a subquery of visible pharmacy pks and returns a condition on
    Patient, e.g. `Exists(SyncCycle.objects.filter(patient=OuterRef("pk"), pharmacy__in=...))`.
    Registering the same name twice replaces it (ready() may run more than once in tests).
    """
    _links[name] = clause


def _home_pharmacy(pharmacies) -> Q:
    return Q(home_pharmacy__in=pharmacies)


def _prescription_pharmacy(pharmacies) -> Exists:
    return Exists(
        Prescription.objects.filter(patient=OuterRef("pk"), pharmacy__in=pharmacies).order_by()
    )


register_patient_pharmacy_link("home_pharmacy", _home_pharmacy)
register_patient_pharmacy_link("prescription", _prescription_pharmacy)


def visibility_condition(membership: Membership | None) -> Q | None:
    """The condition on Patient for this member, or None when they see every patient."""
    pharmacies = patient_pharmacy_limit(membership)
    if pharmacies is None:
        return None
    condition = Q()
    for clause in _links.values():
        condition |= clause(pharmacies)
    return condition


def visible_patients(membership: Membership | None) -> QuerySet[Patient]:
    """Every patient of the tenant this member may see."""
    condition = visibility_condition(membership)
    patients = Patient.objects.all()
    return patients if condition is None else patients.filter(condition)


def limit_to_visible_patients(
    queryset: QuerySet, membership: Membership | None, patient_field: str = ""
) -> QuerySet:
    """`queryset` cut to rows whose patient (`patient_field`, "" for Patient itself) the member
    may see. Costs no extra query (a subquery), and nothing at all for unlimited members."""
    condition = visibility_condition(membership)
    if condition is None:
        return queryset
    if not patient_field:
        return queryset.filter(condition)
    return queryset.filter(
        **{f"{patient_field}__in": Patient.objects.filter(condition).order_by().values("pk")}
    )


def patient_is_visible(patient: Patient | None, membership: Membership | None) -> bool:
    """Whether one already-loaded patient is visible (None, an unknown sender, is)."""
    if patient is None:
        return True
    condition = visibility_condition(membership)
    if condition is None:
        return True
    return Patient.objects.filter(condition, pk=patient.pk).exists()
