"""Reads of patient records shared by pages, the API and reports."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from medsync.models import Membership
from patients.models import Coverage, Fill, Patient, Prescription, PrescriptionStatus
from patients.visibility import limit_to_visible_patients

_DATE_FORMS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y")
# A search reads at most this many words (a name, a date of birth, a phone and an rx number
# fit); the rest are ignored, so a pasted paragraph costs what six words cost.
SEARCH_MAX_WORDS = 6
# Longest search text accepted (the page cuts it, the API answers 400 above it).
SEARCH_MAX_LENGTH = 100


def _as_date(text: str) -> dt.date | None:
    for layout in _DATE_FORMS:
        try:
            return dt.datetime.strptime(text, layout).date()
        except ValueError:
            continue
    return None


def search_words(query: str) -> list[str]:
    """The words a search reads: the first SEARCH_MAX_WORDS of the first SEARCH_MAX_LENGTH
    characters."""
    return query[:SEARCH_MAX_LENGTH].split()[:SEARCH_MAX_WORDS]


def patient_search_condition(query: str) -> Q:
    """The condition "every word matches a name, date of birth, phone, MRN or rx number".

    An rx number is matched with one `EXISTS` per word: no join on prescriptions, so rows
    never multiply and the cost grows by one small subquery per word (at most six).
    """
    condition = Q()
    for word in search_words(query):
        day = _as_date(word)
        digits = re.sub(r"\D", "", word)
        if day is not None:
            condition &= Q(date_of_birth=day)
        elif digits and len(digits) >= 4 and len(digits) == len(re.sub(r"[\s().+-]", "", word)):
            has_rx = Exists(
                Prescription.objects.filter(patient=OuterRef("pk"), rx_number=digits).order_by()
            )
            condition &= Q(phone__contains=digits[-10:]) | has_rx | Q(mrn__iexact=word)
        else:
            condition &= (
                Q(first_name__istartswith=word)
                | Q(last_name__istartswith=word)
                | Q(mrn__iexact=word)
            )
    return condition


def patient_search(
    query: str = "", *, status: str = "", membership: Membership | None
) -> QuerySet[Patient]:
    """Patients the member may see matching a name, date of birth, phone number or rx number.

    Every word must match: "ada 1950-12-10" finds Ada born that day.
    """
    active_rx = (
        Prescription.objects.filter(patient=OuterRef("pk"), status=PrescriptionStatus.ACTIVE)
        .order_by()
        .values("patient")
        .annotate(n=Count("pk"))
        .values("n")
    )
    patients = Patient.objects.select_related("home_pharmacy").annotate(
        active_rx=Coalesce(Subquery(active_rx), 0)
    )
    if status:
        patients = patients.filter(status=status)
    patients = limit_to_visible_patients(patients, membership).filter(
        patient_search_condition(query)
    )
    return patients.order_by("last_name", "first_name", "id")


def patient_with_record(public_id, *, membership: Membership | None) -> Patient | None:
    """One patient the member may see, with everything the record page shows, in a fixed
    number of queries."""
    return limit_to_visible_patients(
        Patient.objects.select_related("home_pharmacy", "household")
        .prefetch_related(
            Prefetch("coverages", queryset=Coverage.objects.order_by("priority")),
            Prefetch(
                "prescriptions",
                queryset=Prescription.objects.select_related(
                    "drug", "prescriber", "sync_decided_by", "pharmacy"
                ).order_by("status", "drug__name"),
            ),
        )
        .filter(public_id=public_id),
        membership,
    ).first()


def fills_of_patient(patient: Patient) -> QuerySet[Fill]:
    """A patient's fill history, newest first, with each fill's drug (one query a page)."""
    return (
        Fill.objects.filter(prescription__patient=patient)
        .select_related("prescription__drug")
        .order_by("-fill_date", "-id")
    )


@dataclass(frozen=True)
class CoveredSpan:
    start: dt.date
    end: dt.date  # inclusive


@dataclass(frozen=True)
class TimelineRow:
    prescription_public_id: str
    label: str
    spans: list[CoveredSpan]
    gap_days: int


def supply_timeline(patient: Patient, *, today: dt.date, days: int = 120) -> list[TimelineRow]:
    """Per active prescription: the days covered by fills over the last `days` days.

    A fill on F for D days covers F .. F+D-1 (DOMAIN 2). Overlapping supply of the same
    prescription is carried forward (the patient finishes one fill before the next).
    """
    window_start = today - dt.timedelta(days=days - 1)
    rows = []
    prescriptions = (
        Prescription.objects.filter(patient=patient, status=PrescriptionStatus.ACTIVE)
        .select_related("drug")
        .prefetch_related(Prefetch("fills", queryset=Fill.objects.order_by("fill_date")))
        .order_by("drug__name")
    )
    for prescription in prescriptions:
        spans: list[CoveredSpan] = []
        supply_end = None
        for fill in prescription.fills.all():
            if fill.returned_to_stock_at is not None:
                continue  # never picked up: no supply at home
            start = fill.fill_date
            if supply_end is not None and start <= supply_end:
                start = supply_end + dt.timedelta(days=1)
            end = start + dt.timedelta(days=fill.days_supply - 1)
            supply_end = end
            clipped_start, clipped_end = max(start, window_start), min(end, today)
            if clipped_start <= clipped_end:
                if spans and spans[-1].end + dt.timedelta(days=1) >= clipped_start:
                    spans[-1] = CoveredSpan(spans[-1].start, clipped_end)
                else:
                    spans.append(CoveredSpan(clipped_start, clipped_end))
        covered = sum((s.end - s.start).days + 1 for s in spans)
        rows.append(
            TimelineRow(
                prescription_public_id=str(prescription.public_id),
                label=f"{prescription.drug.name} {prescription.drug.strength}",
                spans=spans,
                gap_days=days - covered,
            )
        )
    return rows


# The clinical record and assessments (patients/clinical_selectors.py).
from patients.clinical_selectors import immunization_schedule, prep_assessments, vaccines_due  # noqa: E402, F401
