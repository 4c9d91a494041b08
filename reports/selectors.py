"""Read-only report queries: adherence (PDC) per patient and the enrollment finder."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone

from medsync.models import Membership
from patients.models import (
    Fill,
    InpatientStay,
    Patient,
    PatientStatus,
    Prescription,
    PrescriptionStatus,
)
from patients.visibility import limit_to_visible_patients
from reports.pdc import STAR_CLASSES, PdcFill, PdcResult, Stay, pdc_by_class, trailing_window
from scheduling.dates import local_today
from scheduling.models import (
    OPEN_ENROLLMENT_STATUSES,
    DisenrollReason,
    EnrollmentStatus,
    SyncEnrollment,
)

ADHERENCE_WINDOW_DAYS = 180
PICKUP_WINDOW_DAYS = 90


def _pdc_inputs(fill_rows) -> tuple[dict[int, list[PdcFill]], dict[str, list[str]]]:
    fills_by_patient: dict[int, list[PdcFill]] = defaultdict(list)
    drug_classes: dict[str, list[str]] = {}
    for patient_id, fill_date, days, generic, classes in fill_rows:
        key = generic.lower()
        drug_classes.setdefault(key, list(classes))
        fills_by_patient[patient_id].append(
            PdcFill(fill_date=fill_date, drug=key, days_supply=days)
        )
    return fills_by_patient, drug_classes


def _dispensed_fills(patient_ids, start: dt.date, end: dt.date):
    """Fills the patient took home: returned-to-stock fills never covered a day."""
    return (
        Fill.objects.filter(
            prescription__patient_id__in=patient_ids,
            fill_date__gte=start,
            fill_date__lte=end,
            returned_to_stock_at__isnull=True,
        )
        .order_by()
        .values_list(
            "prescription__patient_id",
            "fill_date",
            "days_supply",
            "prescription__drug__generic_name",
            "prescription__drug__therapeutic_classes",
        )
    )


# Disenrollments after which our fills no longer say anything about the patient's adherence:
# the period ends that day (DOMAIN 6: "death or disenrollment ends the period"). A patient who
# only left the sync program (asked to, unreachable, ...) still fills with us: not ended.
PERIOD_ENDING_REASONS = (
    DisenrollReason.DECEASED,
    DisenrollReason.TRANSFERRED,
    DisenrollReason.FACILITY,
)


def period_ended_on(patient: Patient) -> dt.date | None:
    """The day death or disenrollment ended the patient's measurement period (None: open).

    The disenrollment's date (deceased, transferred, moved to a facility); a patient recorded
    as deceased without such a disenrollment: the day the record was last changed (the best
    date the record holds)."""
    ended = (
        SyncEnrollment.objects.filter(
            patient=patient,
            status=EnrollmentStatus.DISENROLLED,
            disenroll_reason__in=PERIOD_ENDING_REASONS,
            disenrolled_at__isnull=False,
        )
        .order_by("-disenrolled_at")
        .values_list("disenrolled_at", "pharmacy__time_zone")
        .first()
    )
    if ended is not None:
        return local_today(ended[1], ended[0])
    if patient.status == PatientStatus.DECEASED:
        return timezone.localdate(patient.updated_at)
    return None


def adherence_for_patient(
    patient: Patient, *, period_end: dt.date, days: int = ADHERENCE_WINDOW_DAYS
) -> tuple[dt.date, dt.date, dict[str, PdcResult]]:
    """PDC per therapeutic class over the trailing window ending on period_end (three
    queries: fills, stays, the end of the period). Inpatient and SNF stays leave the period
    and hold the supply on hand; death or disenrollment ends it; hospice and ESRD exclude
    the patient from the Star measures (DOMAIN 6)."""
    start, end = trailing_window(period_end, days)
    ended_on = period_ended_on(patient)
    if ended_on is not None and start <= ended_on < end:
        end = ended_on
    fills, drug_classes = _pdc_inputs(_dispensed_fills([patient.pk], start, end))
    stays = stays_by_patient([patient.pk], start, end).get(patient.pk, [])
    results = pdc_by_class(
        fills.get(patient.pk, []),
        drug_classes,
        start,
        end,
        stays=stays,
        ended_on=ended_on,
        hospice=patient.hospice,
        esrd=patient.esrd,
    )
    return start, end, results


def stays_by_patient(patient_ids, start: dt.date, end: dt.date) -> dict[int, list[Stay]]:
    """Each patient's inpatient/SNF stays touching [start, end] as (admitted, discharged); a
    stay still open counts to `end`."""
    stays: dict[int, list[Stay]] = defaultdict(list)
    rows = (
        InpatientStay.objects.filter(patient_id__in=patient_ids, admitted_on__lte=end)
        .filter(Q(discharged_on__isnull=True) | Q(discharged_on__gte=start))
        .order_by("admitted_on")
        .values_list("patient_id", "admitted_on", "discharged_on")
    )
    for patient_id, admitted, discharged in rows:
        stays[patient_id].append((max(admitted, start), min(discharged or end, end)))
    return stays


@dataclass
class Candidate:
    patient: Patient
    qualifying_rx: int
    star_pdc: dict[str, PdcResult] = field(default_factory=dict)
    pickup_days: int = 0
    age: int = 0

    @property
    def lowest_star_pdc(self):
        values = [r.pdc for r in self.star_pdc.values() if r.measurable and r.pdc is not None]
        return min(values) if values else None

    @property
    def below_80_classes(self) -> list[str]:
        return [c for c, r in self.star_pdc.items() if r.measurable and not r.adherent]

    @property
    def qualifies(self) -> bool:
        # AZ, OK and MN define a sync patient as one on two or more chronic medications.
        return self.qualifying_rx >= 2


def periods_ended_on(patient_ids) -> dict[int, dt.date]:
    """period_ended_on for many patients in one query (their period-ending disenrollments)."""
    ended: dict[int, dt.date] = {}
    for patient_id, at, zone in (
        SyncEnrollment.objects.filter(
            patient_id__in=list(patient_ids),
            status=EnrollmentStatus.DISENROLLED,
            disenroll_reason__in=PERIOD_ENDING_REASONS,
            disenrolled_at__isnull=False,
        )
        .order_by("patient_id", "-disenrolled_at")
        .values_list("patient_id", "disenrolled_at", "pharmacy__time_zone")
    ):
        ended.setdefault(patient_id, local_today(zone, at))
    return ended


def eligibility_candidates(*, today: dt.date, membership: Membership | None) -> list[Candidate]:
    """Active patients the member may see who are not in the sync program, with what makes
    them good candidates.

    A fixed number of queries whatever the number of patients: patients, their qualifying
    prescriptions, their fills, their inpatient stays of the last 180 days and the
    disenrollments that ended their measurement period.
    """
    enrolled = SyncEnrollment.objects.filter(status__in=OPEN_ENROLLMENT_STATUSES).values(
        "patient_id"
    )
    patients = list(
        limit_to_visible_patients(Patient.objects.filter(status=PatientStatus.ACTIVE), membership)
        .exclude(pk__in=enrolled)
        .select_related("home_pharmacy")
        .order_by("last_name", "first_name", "id")
    )
    ids = [p.pk for p in patients]
    qualifying = defaultdict(int)
    for patient_id in Prescription.objects.filter(
        Q(patient_id__in=ids),
        status=PrescriptionStatus.ACTIVE,
        therapy_type="maintenance",
        refills_remaining__gt=0,
        expiration_date__gte=today,
    ).values_list("patient_id", flat=True):
        qualifying[patient_id] += 1
    start, end = trailing_window(today, ADHERENCE_WINDOW_DAYS)
    rows = list(_dispensed_fills(ids, start, end))
    fills, drug_classes = _pdc_inputs(rows)
    stays = stays_by_patient(ids, start, end)
    ended = periods_ended_on(ids)
    pickup_start = today - dt.timedelta(days=PICKUP_WINDOW_DAYS - 1)
    pickup_days: dict[int, set] = defaultdict(set)
    for patient_id, fill_date, *_ in rows:
        if fill_date >= pickup_start:
            pickup_days[patient_id].add(fill_date)
    candidates = []
    for patient in patients:
        # A patient who came back after a transfer out: adherence is measured to the day
        # they left (DOMAIN 6), not across the months our records cannot see.
        # (An end before the window is a past stint: the window measures the return.)
        ended_on = ended.get(patient.pk)
        results = pdc_by_class(
            fills.get(patient.pk, []),
            drug_classes,
            start,
            end,
            classes=sorted(STAR_CLASSES),
            stays=stays.get(patient.pk, ()),
            hospice=patient.hospice,
            esrd=patient.esrd,
            ended_on=ended_on if ended_on is not None and ended_on >= start else None,
        )
        candidates.append(
            Candidate(
                patient=patient,
                qualifying_rx=qualifying.get(patient.pk, 0),
                star_pdc=results,
                pickup_days=len(pickup_days.get(patient.pk, ())),
                age=_age(patient.date_of_birth, today),
            )
        )
    return candidates


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def rank_candidates(candidates: list[Candidate], *, sort: str = "priority") -> list[Candidate]:
    """priority: qualifying first, then Star PDC below 80% (lowest first), then most trips."""

    def priority(c: Candidate):
        lowest = c.lowest_star_pdc
        return (
            not c.qualifies,
            not c.below_80_classes,
            lowest if lowest is not None else 2,
            -c.pickup_days,
            -c.qualifying_rx,
        )

    keys = {
        "priority": priority,
        "pdc": lambda c: (c.lowest_star_pdc if c.lowest_star_pdc is not None else 2,),
        "trips": lambda c: (-c.pickup_days,),
        "medications": lambda c: (-c.qualifying_rx,),
        "age": lambda c: (-c.age,),
        "name": lambda c: (c.patient.last_name.lower(), c.patient.first_name.lower()),
    }
    return sorted(candidates, key=keys.get(sort, priority))
