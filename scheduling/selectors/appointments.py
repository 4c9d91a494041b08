"""Reads of appointments and extra services: the calendar, a pharmacist's day, due services.

    calendar_of(pharmacy, start, days)     appointments and unbooked sync pickups, per local day
    pharmacist_day(pharmacist, day, ...)   one pharmacist's appointments of a local day (ICS)
    services_due(patient, today)           the extra services to offer (DOMAIN 10)

Times are stored in UTC and shown in the pharmacy's time zone; a "day" is the pharmacy's
local day. Each read costs a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from billing.models import ClinicalService, ServiceKind
from medsync.models import Membership, Pharmacy, User
from medsync.roles import Role
from medsync.selectors import limit_to_visible_pharmacies
from patients.models import Coverage, Patient, PlanType, Prescription, PrescriptionStatus
from patients.visibility import limit_to_visible_patients
from scheduling.exceptions import NotFoundInTenant
from scheduling.models import (
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    CycleStatus,
    OfferAnswer,
    OfferKind,
    ServiceOffer,
    SyncCycle,
)

ANTIHYPERTENSIVE_CLASSES = (
    "ras_antagonist",
    "beta_blocker",
    "calcium_channel_blocker",
    "thiazide",
    "sacubitril_valsartan",
)
# Product defaults (DOMAIN 10 leaves them to the pharmacy): a Part D patient on at least this
# many active prescriptions is treated as MTM-eligible; a BP check is offered again after
# this many days; an answer of "declined" silences an offer for this many days.
MTM_MIN_PRESCRIPTIONS = 5
BP_CHECK_EVERY_DAYS = 90
DECLINED_QUIET_DAYS = 30
OPEN_CYCLE_STATUSES = (
    CycleStatus.SCHEDULED,
    CycleStatus.PREP_DUE,
    CycleStatus.CONTACTED,
    CycleStatus.FILLING,
    CycleStatus.READY,
)


def local_bounds(pharmacy: Pharmacy, start: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    zone = ZoneInfo(pharmacy.time_zone)
    begin = dt.datetime.combine(start, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(start + dt.timedelta(days=days), dt.time.min, tzinfo=zone)
    return begin, end


def appointment_list(
    *,
    membership: Membership | None = None,
    pharmacy: Pharmacy | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    patient: Patient | None = None,
) -> QuerySet[Appointment]:
    appointments = Appointment.objects.select_related("patient", "pharmacist", "pharmacy")
    if pharmacy is not None:
        appointments = appointments.filter(pharmacy=pharmacy)
    if patient is not None:
        appointments = appointments.filter(patient=patient)
    if start is not None:
        appointments = appointments.filter(ends_at__gt=start)
    if end is not None:
        appointments = appointments.filter(starts_at__lt=end)
    appointments = limit_to_visible_pharmacies(appointments, membership, "pharmacy")
    return limit_to_visible_patients(appointments, membership, "patient").order_by(
        "starts_at", "id"
    )


def appointment_by_public_id(public_id, *, membership: Membership | None) -> Appointment:
    found = appointment_list(membership=membership).filter(public_id=public_id).first()
    if found is None:
        raise NotFoundInTenant("No such appointment.")
    return found


@dataclass
class CalendarDay:
    day: dt.date
    appointments: list[Appointment] = field(default_factory=list)
    pickups: list[SyncCycle] = field(default_factory=list)


def calendar_of(
    pharmacy: Pharmacy, *, start: dt.date, days: int, membership: Membership | None = None
) -> list[CalendarDay]:
    """Each local day of [start, start + days): its live appointments and the sync pickups
    due that day that no appointment holds yet (two queries)."""
    begin, end = local_bounds(pharmacy, start, days)
    zone = ZoneInfo(pharmacy.time_zone)
    out = {
        start + dt.timedelta(days=n): CalendarDay(start + dt.timedelta(days=n)) for n in range(days)
    }
    appointments = appointment_list(
        membership=membership, pharmacy=pharmacy, start=begin, end=end
    ).exclude(status=AppointmentStatus.CANCELLED)
    booked_cycles = set()
    for appointment in appointments:
        local = appointment.starts_at.astimezone(zone).date()
        if local in out:
            out[local].appointments.append(appointment)
        if appointment.cycle_id:
            booked_cycles.add(appointment.cycle_id)
    cycles = SyncCycle.objects.filter(
        pharmacy=pharmacy,
        anchor_date__gte=start,
        anchor_date__lt=start + dt.timedelta(days=days),
        status__in=OPEN_CYCLE_STATUSES,
    ).select_related("patient")
    cycles = limit_to_visible_patients(cycles, membership, "patient").order_by(
        "anchor_date", "patient__last_name"
    )
    for cycle in cycles:
        if cycle.pk not in booked_cycles:
            out[cycle.anchor_date].pickups.append(cycle)
    return list(out.values())


def pharmacist_day(
    *, pharmacist: User, pharmacy: Pharmacy, day: dt.date, membership: Membership | None
) -> list[Appointment]:
    begin, end = local_bounds(pharmacy, day, 1)
    return list(
        appointment_list(membership=membership, pharmacy=pharmacy, start=begin, end=end)
        .filter(pharmacist=pharmacist)
        .exclude(status=AppointmentStatus.CANCELLED)
    )


def bookable_pharmacists() -> QuerySet[User]:
    """Members who can see patients as a pharmacist: pharmacists and owners."""
    return (
        User.objects.filter(
            memberships__in=Membership.objects.filter(role__in=[Role.PHARMACIST, Role.OWNER]),
            is_active=True,
        )
        .distinct()
        .order_by("full_name", "email")
    )


def pharmacist_by_public_id(public_id) -> User | None:
    return bookable_pharmacists().filter(public_id=public_id).first()


# --- Extra services due (DOMAIN 10) ---------------------------------------------------------

# The immunization screening of the clinical record: patient, today -> the vaccines due
# (names). Filled by the app that owns the adult schedule; none until then.
_vaccines_due: list[Callable[[Patient, dt.date], list[str]]] = []


def register_vaccines_due(source: Callable[[Patient, dt.date], list[str]]) -> None:
    _vaccines_due[:] = [source]


@dataclass(frozen=True)
class DueService:
    kind: str  # OfferKind
    detail: str
    reason: str
    appointment_kind: str

    @property
    def label(self) -> str:
        return (
            f"{OfferKind(self.kind).label}: {self.detail}"
            if self.detail
            else OfferKind(self.kind).label
        )


def _quiet(offers: list[ServiceOffer], kind: str, detail: str, today: dt.date) -> bool:
    """An accepted offer, or one declined recently, is not offered again."""
    for offer in offers:
        if offer.kind != kind or offer.detail != detail:
            continue
        if offer.answer == OfferAnswer.ACCEPTED and offer.offered_at.date().year == today.year:
            return True
        if (
            offer.answer == OfferAnswer.DECLINED
            and (today - offer.offered_at.date()).days < DECLINED_QUIET_DAYS
        ):
            return True
    return False


def services_due(patient: Patient, today: dt.date) -> list[DueService]:
    """Vaccines due by the schedule, a CMR for an MTM-eligible Part D patient who had none
    this year, a BP check for a patient on antihypertensives (four queries)."""
    offers = list(
        ServiceOffer.objects.filter(patient=patient, offered_at__year__gte=today.year - 1)
    )
    due: list[DueService] = []
    for source in _vaccines_due:
        for vaccine in source(patient, today):
            due.append(
                DueService(OfferKind.VACCINE, vaccine, "Due by the adult schedule", "vaccination")
            )
    active = list(
        Prescription.objects.filter(patient=patient, status=PrescriptionStatus.ACTIVE)
        .select_related("drug")
        .only("id", "drug__therapeutic_classes")
    )
    part_d = Coverage.objects.filter(
        Q(effective_to__isnull=True) | Q(effective_to__gte=today),
        patient=patient,
        plan_type=PlanType.MEDICARE_PART_D,
        effective_from__lte=today,
    ).exists()
    services = ClinicalService.objects.filter(
        patient=patient, started_at__date__gte=today - dt.timedelta(days=366)
    ).values_list("kind", "started_at")
    last = {}
    for kind, started in services:
        last[kind] = max(last.get(kind, started), started)
    cmr_this_year = ServiceKind.CMR in last and last[ServiceKind.CMR].date().year == today.year
    if part_d and len(active) >= MTM_MIN_PRESCRIPTIONS and not cmr_this_year:
        due.append(
            DueService(
                OfferKind.CMR,
                "",
                f"Part D, {len(active)} active prescriptions, no CMR in {today.year}",
                AppointmentKind.CMR,
            )
        )
    on_bp_drug = any(
        set(rx.drug.therapeutic_classes or []) & set(ANTIHYPERTENSIVE_CLASSES) for rx in active
    )
    recent_bp = (
        ServiceKind.BP_CHECK in last
        and (today - last[ServiceKind.BP_CHECK].date()).days < BP_CHECK_EVERY_DAYS
    )
    if on_bp_drug and not recent_bp:
        due.append(
            DueService(
                OfferKind.BP_CHECK,
                "",
                f"On a blood-pressure medicine; no check in {BP_CHECK_EVERY_DAYS} days",
                AppointmentKind.BP_CHECK,
            )
        )
    return [d for d in due if not _quiet(offers, d.kind, d.detail, today)]
