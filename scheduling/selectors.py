"""Reads of the sync engine that pages, the API, jobs and reports share.

Each list costs a fixed number of queries (select_related / prefetch_related);
tests assert it. Previews (plan_preview, anchor_options) write nothing.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone

from medsync.models import Membership, Pharmacy
from medsync.selectors import limit_to_visible_pharmacies
from patients.models import (
    Fill,
    Patient,
    Prescription,
    PrescriptionStatus,
    SyncDecision,
)
from scheduling import planning
from scheduling.alignment import AlignmentError, AlignmentPlan, RxPlan, align
from scheduling.anchor import (
    AnchorProposal,
    PatientPreferences,
    PharmacyCalendar,
    average_load_over,
    candidate_dates,
    propose_anchors,
    score_anchor,
)
from scheduling.dates import CycleTiming, local_today, next_anchor_on_or_after
from scheduling.exceptions import NotFoundInTenant, SchedulingError
from scheduling.models import (
    CYCLE_LENGTHS,
    OPEN_ENROLLMENT_STATUSES,
    CycleItem,
    CycleStatus,
    EnrollmentStatus,
    FollowUpTask,
    ItemState,
    PrepContact,
    ReplanProposal,
    ReplanStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncSettings,
    TaskStatus,
)
from scheduling.states import CYCLE_OPEN, CYCLE_PREP_ANSWERABLE, ITEM_IN_QUEUE

# --- Settings and calendars -----------------------------------------------------------------


def sync_settings_for(pharmacy: Pharmacy) -> SyncSettings:
    """The pharmacy's settings row, or an unsaved one holding the defaults."""
    return SyncSettings.objects.filter(pharmacy=pharmacy).first() or SyncSettings(
        pharmacy=pharmacy, organization_id=pharmacy.organization_id
    )


def timing_of(settings_row: SyncSettings) -> CycleTiming:
    return CycleTiming(
        prep_days=settings_row.prep_days,
        prefill_days=settings_row.prefill_days,
        closed_weekdays=tuple(settings_row.closed_weekdays or ()),
    )


def pharmacies_with_settings() -> list[tuple[Pharmacy, SyncSettings]]:
    """Every active pharmacy of the tenant with its sync settings (two queries)."""
    pharmacies = list(Pharmacy.objects.filter(is_active=True).order_by("pk"))
    stored = {s.pharmacy_id: s for s in SyncSettings.objects.filter(pharmacy__in=pharmacies)}
    return [
        (
            p,
            stored.get(p.pk) or SyncSettings(pharmacy=p, organization_id=p.organization_id),
        )
        for p in pharmacies
    ]


def pharmacy_today(pharmacy: Pharmacy, now: dt.datetime | None = None) -> dt.date:
    return local_today(pharmacy.time_zone, now)


def anchor_load(
    pharmacy: Pharmacy, *, start: dt.date, days: int, exclude_patient: Patient | None = None
) -> dict[dt.date, int]:
    """Patients already due on each date of [start, start + days): projects every enrolled
    patient's anchor schedule (one grouped query, however many patients)."""
    groups = SyncEnrollment.objects.filter(
        pharmacy=pharmacy, status=EnrollmentStatus.ENROLLED, anchor_date__isnull=False
    )
    if exclude_patient is not None:
        groups = groups.exclude(patient=exclude_patient)
    load: Counter[dt.date] = Counter()
    end = start + dt.timedelta(days=days)
    for row in groups.values("anchor_date", "cycle_days").annotate(n=Count("id")):
        day = next_anchor_on_or_after(row["anchor_date"], row["cycle_days"], start)
        while day < end:
            load[day] += row["n"]
            day += dt.timedelta(days=row["cycle_days"])
    return dict(load)


# --- Patients and prescriptions ----------------------------------------------------------------


def patient_by_public_id(public_id) -> Patient:
    patient = Patient.objects.select_related("home_pharmacy", "household").filter(
        public_id=public_id
    )
    found = patient.first()
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


def chosen_prescriptions(patient: Patient, public_ids: Sequence) -> list[Prescription]:
    """The patient's prescriptions named by public id; any other id is a 404 (another
    patient's or another organization's prescription is simply not found)."""
    wanted = {str(p) for p in public_ids}
    if not wanted:
        raise SchedulingError(
            "Choose at least one prescription to sync.", fields={"prescriptions": ["Required."]}
        )
    found = list(
        Prescription.objects.filter(patient=patient, public_id__in=wanted).select_related(
            "drug", "coverage"
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
    excluded = [rx for rx in found if rx.sync_decision == SyncDecision.EXCLUDED]
    if excluded:
        rx = excluded[0]
        raise SchedulingError(
            f"Rx {rx.rx_number} was excluded from sync at reconciliation "
            f"({rx.get_sync_exclusion_reason_display()}). Change that decision first.",
            fields={"prescriptions": ["Excluded from sync."]},
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


# --- Previews: the alignment plan and the anchor options (write nothing) ---------------------


@dataclass
class PlanRow:
    prescription: Prescription
    plan: RxPlan


@dataclass
class PlanPreview:
    patient: Patient
    pharmacy: Pharmacy
    today: dt.date
    plan: AlignmentPlan
    rows: list[PlanRow]
    not_synced: list[Prescription] = field(default_factory=list)

    @property
    def anchor_date(self) -> dt.date:
        return self.plan.anchor_date


def _validate_cycle(cycle_days) -> int:
    try:
        cycle_days = int(cycle_days)
    except (TypeError, ValueError):
        cycle_days = 0
    if cycle_days not in CYCLE_LENGTHS:
        raise SchedulingError(
            "The cycle is 28, 30, 60 or 90 days.", fields={"cycle_days": ["28, 30, 60 or 90."]}
        )
    return cycle_days


def plan_preview(
    *,
    patient: Patient,
    prescriptions: Sequence[Prescription],
    anchor_date: dt.date,
    cycle_days: int,
    pharmacy: Pharmacy | None = None,
    now: dt.datetime | None = None,
) -> PlanPreview:
    """What enrolling on `anchor_date` would fill, when, for how much. Writes nothing."""
    cycle_days = _validate_cycle(cycle_days)
    pharmacy = pharmacy or home_pharmacy_of(patient, prescriptions)
    today = pharmacy_today(pharmacy, now)
    if anchor_date < today:
        raise SchedulingError(
            f"The anchor date {anchor_date:%b %-d, %Y} is in the past.",
            fields={"anchor_date": ["Choose today or a later date."]},
        )
    ids = {rx.pk for rx in prescriptions}
    inputs = planning.rx_inputs_for_patients(
        [patient.pk], today=today, pharmacy_state=pharmacy.state, synced_ids=ids, only_rx_ids=ids
    ).get(patient.pk)
    if inputs is None:
        raise SchedulingError("Choose at least one active prescription to sync.")
    try:
        plan = align(
            today=today, anchor_date=anchor_date, cycle_days=cycle_days, prescriptions=inputs.inputs
        )
    except AlignmentError as exc:
        raise SchedulingError(str(exc)) from exc
    by_id = {rx.pk: rx for rx in inputs.prescriptions}
    rows = [PlanRow(by_id[item.rx_id], item) for item in plan.items]
    return PlanPreview(patient, pharmacy, today, plan, rows)


@dataclass
class AnchorOptions:
    today: dt.date
    pharmacy: Pharmacy
    proposals: list[AnchorProposal]
    household_proposal: AnchorProposal | None = None
    household_members: list[Patient] = field(default_factory=list)
    chosen_proposal: AnchorProposal | None = None  # a date the pharmacist typed, scored


def pharmacy_calendar(pharmacy: Pharmacy, *, start: dt.date, days: int, patient=None):
    settings_row = sync_settings_for(pharmacy)
    return PharmacyCalendar(
        closed_weekdays=frozenset(settings_row.closed_weekdays or ()),
        load_by_date=anchor_load(pharmacy, start=start, days=days, exclude_patient=patient),
    )


def anchor_options(
    *,
    patient: Patient,
    prescriptions: Sequence[Prescription],
    cycle_days: int,
    preferred_weekday: int | None = None,
    preferred_day_of_month: int | None = None,
    pharmacy: Pharmacy | None = None,
    limit: int = 5,
    chosen_anchor: dt.date | None = None,
    now: dt.datetime | None = None,
) -> AnchorOptions:
    """The optimizer's best anchors for these prescriptions, with reasons; a `chosen_anchor`
    that is not among them is scored the same way. Writes nothing."""
    cycle_days = _validate_cycle(cycle_days)
    pharmacy = pharmacy or home_pharmacy_of(patient, prescriptions)
    today = pharmacy_today(pharmacy, now)
    ids = {rx.pk for rx in prescriptions}
    inputs = planning.rx_inputs_for_patients(
        [patient.pk], today=today, pharmacy_state=pharmacy.state, synced_ids=ids, only_rx_ids=ids
    ).get(patient.pk)
    if inputs is None:
        raise SchedulingError("Choose at least one active prescription to sync.")
    preferences = PatientPreferences(
        preferred_weekday=preferred_weekday, preferred_day_of_month=preferred_day_of_month
    )
    horizon = cycle_days * 2 + 1
    if chosen_anchor is not None and chosen_anchor >= today:
        horizon = max(horizon, (chosen_anchor - today).days + cycle_days + 1)
    calendar = pharmacy_calendar(pharmacy, start=today, days=horizon, patient=patient)
    try:
        proposals = propose_anchors(
            today=today,
            cycle_days=cycle_days,
            prescriptions=inputs.inputs,
            preferences=preferences,
            calendar=calendar,
            limit=limit,
        )
    except AlignmentError as exc:
        raise SchedulingError(str(exc)) from exc
    options = AnchorOptions(today, pharmacy, proposals)

    open_days = candidate_dates(
        today=today, cycle_days=cycle_days, calendar=calendar, first_candidate=None
    )
    average = average_load_over(calendar, open_days)

    def scored(anchor: dt.date) -> AnchorProposal | None:
        """A date the optimizer did not offer, scored the same way, against the same average
        load (None: cannot be planned; the plan step says why)."""
        try:
            return score_anchor(
                today=today,
                anchor_date=anchor,
                cycle_days=cycle_days,
                prescriptions=inputs.inputs,
                preferences=preferences,
                calendar=calendar,
                average_load=average,
            )
        except AlignmentError:
            return None

    proposed = {p.anchor_date for p in proposals}
    if chosen_anchor is not None and chosen_anchor >= today and chosen_anchor not in proposed:
        options.chosen_proposal = scored(chosen_anchor)
    # A household shares one pickup day: offer the members' anchor first.
    if patient.household_id:
        members = list(
            SyncEnrollment.objects.filter(
                patient__household_id=patient.household_id,
                status=EnrollmentStatus.ENROLLED,
            )
            .exclude(patient=patient)
            .select_related("patient")
        )
        if members:
            member = members[0]
            shared = next_anchor_on_or_after(member.anchor_date, member.cycle_days, today)
            options.household_proposal = scored(shared)
            options.household_members = [m.patient for m in members]
    return options


# --- Enrollments, cycles, worklists ---------------------------------------------------------


def enrollment_list(
    *,
    membership: Membership | None = None,
    status: str = "",
    search: str = "",
    pharmacy_public_id: str = "",
) -> QuerySet[SyncEnrollment]:
    enrollments = SyncEnrollment.objects.select_related("patient", "pharmacy").order_by(
        "patient__last_name", "patient__first_name", "-created_at"
    )
    enrollments = limit_to_visible_pharmacies(enrollments, membership, "pharmacy")
    if status:
        enrollments = enrollments.filter(status=status)
    if pharmacy_public_id:
        enrollments = enrollments.filter(pharmacy__public_id=pharmacy_public_id)
    if search:
        for word in search.split()[:3]:
            enrollments = enrollments.filter(
                Q(patient__last_name__istartswith=word)
                | Q(patient__first_name__istartswith=word)
                | Q(patient__mrn__iexact=word)
            )
    return enrollments


def open_enrollment_of(patient: Patient) -> SyncEnrollment | None:
    return (
        SyncEnrollment.objects.filter(patient=patient, status__in=OPEN_ENROLLMENT_STATUSES)
        .select_related("pharmacy")
        .first()
    )


def cycle_list(
    *, membership: Membership | None = None, status: str = "", anchor_date: dt.date | None = None
) -> QuerySet[SyncCycle]:
    cycles = (
        SyncCycle.objects.select_related("patient", "pharmacy", "enrollment")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=CycleItem.objects.select_related("prescription__drug").order_by(
                    "fill_date", "id"
                ),
            )
        )
        .order_by("anchor_date", "patient__last_name", "id")
    )
    cycles = limit_to_visible_pharmacies(cycles, membership, "pharmacy")
    if status:
        cycles = cycles.filter(status=status)
    if anchor_date:
        cycles = cycles.filter(anchor_date=anchor_date)
    return cycles


def prep_worklist(
    *, membership: Membership | None = None, today: dt.date, scope: str = "due"
) -> QuerySet[SyncCycle]:
    """Whom to call: cycles whose prep question is open, soonest anchor first.

    scope="due": due today or earlier; "upcoming": due in the next 7 days, not yet open.
    """
    cycles = SyncCycle.objects.select_related("patient", "pharmacy", "enrollment").annotate(
        open_replan=Exists(
            ReplanProposal.objects.filter(
                enrollment_id=OuterRef("enrollment_id"), status=ReplanStatus.PROPOSED
            )
        )
    )
    cycles = limit_to_visible_pharmacies(cycles, membership, "pharmacy")
    if scope == "upcoming":
        cycles = cycles.filter(
            status=CycleStatus.SCHEDULED,
            prep_due_on__gt=today,
            prep_due_on__lte=today + dt.timedelta(days=7),
        )
    else:
        cycles = cycles.filter(
            prep_open=True, status__in=CYCLE_PREP_ANSWERABLE, anchor_date__gte=today
        )
    return cycles.prefetch_related(
        Prefetch(
            "items",
            queryset=CycleItem.objects.select_related(
                "prescription__drug", "prescription__prescriber"
            )
            .exclude(state=ItemState.SKIPPED)
            .order_by("fill_date", "id"),
        ),
        Prefetch("prep_contacts", queryset=PrepContact.objects.order_by("-contacted_at")),
    ).order_by("anchor_date", "patient__last_name", "id")


def fill_queue(*, membership: Membership | None = None, today: dt.date) -> dict[str, list]:
    """The technician's day: items to fill and bill, flagged, to verify, ready to hand over."""
    items = (
        CycleItem.objects.filter(
            Q(state=ItemState.PLANNED, queue_from__lte=today)
            | Q(state__in=[s for s in ITEM_IN_QUEUE if s != ItemState.PLANNED])
            | Q(state=ItemState.READY),
            cycle__status__in=CYCLE_OPEN,
        )
        .select_related(
            "cycle__patient", "cycle__pharmacy", "prescription__drug", "prescription__prescriber"
        )
        .order_by("cycle__anchor_date", "cycle__patient__last_name", "cycle_id", "fill_date", "id")
    )
    items = limit_to_visible_pharmacies(items, membership, "cycle__pharmacy")
    sections: dict[str, list] = {"to_fill": [], "flagged": [], "to_verify": [], "ready": []}
    for item in items:
        if item.state == ItemState.FLAGGED:
            sections["flagged"].append(item)
        elif item.state == ItemState.FILLED:
            sections["to_verify"].append(item)
        elif item.state == ItemState.READY:
            sections["ready"].append(item)
        else:
            sections["to_fill"].append(item)
    return sections


def follow_up_tasks(*, membership: Membership | None = None) -> QuerySet[FollowUpTask]:
    tasks = FollowUpTask.objects.filter(status=TaskStatus.OPEN).select_related(
        "patient", "cycle__pharmacy"
    )
    return limit_to_visible_pharmacies(tasks, membership, "cycle__pharmacy").order_by(
        "due_on", "id"
    )


def replan_queue(*, membership: Membership | None = None) -> QuerySet[ReplanProposal]:
    proposals = ReplanProposal.objects.filter(status=ReplanStatus.PROPOSED).select_related(
        "patient", "enrollment__pharmacy"
    )
    return limit_to_visible_pharmacies(proposals, membership, "enrollment__pharmacy").order_by(
        "proposed_at"
    )


@dataclass
class SyncPanel:
    patient: Patient
    enrollment: SyncEnrollment | None
    next_anchor: dt.date | None
    current_cycle: SyncCycle | None
    plans: list[SyncPlan]
    recent_cycles: list[SyncCycle]
    open_replan: ReplanProposal | None
    open_tasks: list[FollowUpTask]
    past_enrollments: list[SyncEnrollment]


def patient_sync_panel(*, patient: Patient, now: dt.datetime | None = None) -> SyncPanel:
    """Everything the patient page's sync panel shows, in a fixed number of queries."""
    enrollments = list(
        SyncEnrollment.objects.filter(patient=patient)
        .select_related("pharmacy", "enrolled_by", "disenrolled_by")
        .prefetch_related(
            Prefetch(
                "plans",
                queryset=SyncPlan.objects.select_related("approved_by")
                .prefetch_related("items__prescription__drug")
                .order_by("-approved_at", "-id"),
            )
        )
        .order_by("-created_at")
    )
    current = next((e for e in enrollments if e.status in OPEN_ENROLLMENT_STATUSES), None)
    past = [e for e in enrollments if e is not current]
    cycles = list(
        SyncCycle.objects.filter(patient=patient)
        .select_related("pharmacy")
        .prefetch_related(
            Prefetch(
                "items",
                queryset=CycleItem.objects.select_related("prescription__drug").order_by(
                    "fill_date", "id"
                ),
            )
        )
        .order_by("-anchor_date", "-id")[:6]
    )
    next_anchor = None
    current_cycle = None
    if current is not None and current.anchor_date is not None:
        today = pharmacy_today(current.pharmacy, now)
        next_anchor = next_anchor_on_or_after(current.anchor_date, current.cycle_days, today)
        open_cycles = [c for c in cycles if c.status in CYCLE_OPEN]
        current_cycle = open_cycles[-1] if open_cycles else None
    plans = [plan for e in enrollments for plan in e.plans.all()]
    open_replan = (
        ReplanProposal.objects.filter(patient=patient, status=ReplanStatus.PROPOSED).first()
        if current is not None
        else None
    )
    tasks = list(
        FollowUpTask.objects.filter(patient=patient, status=TaskStatus.OPEN).order_by("due_on")
    )
    return SyncPanel(
        patient=patient,
        enrollment=current,
        next_anchor=next_anchor,
        current_cycle=current_cycle,
        plans=plans,
        recent_cycles=cycles,
        open_replan=open_replan,
        open_tasks=tasks,
        past_enrollments=past,
    )


def cycle_by_public_id(public_id, *, membership: Membership | None = None) -> SyncCycle:
    cycles = limit_to_visible_pharmacies(
        SyncCycle.objects.select_related("patient", "pharmacy", "enrollment"),
        membership,
        "pharmacy",
    )
    cycle = cycles.filter(public_id=public_id).first()
    if cycle is None:
        raise NotFoundInTenant("No such cycle.")
    return cycle


def cycle_items_by_public_ids(cycle: SyncCycle, public_ids: Sequence[str]) -> list[CycleItem]:
    """The cycle's items among these public ids (malformed ids match nothing)."""
    valid = []
    for value in public_ids:
        try:
            valid.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return list(CycleItem.objects.filter(cycle=cycle, public_id__in=valid))


def item_by_public_id(public_id, *, membership: Membership | None = None) -> CycleItem:
    items = limit_to_visible_pharmacies(
        CycleItem.objects.select_related(
            "cycle__patient", "cycle__pharmacy", "cycle__enrollment", "prescription__drug"
        ),
        membership,
        "cycle__pharmacy",
    )
    item = items.filter(public_id=public_id).first()
    if item is None:
        raise NotFoundInTenant("No such fill.")
    return item


def open_prep_cycle_for(patient: Patient, *, now: dt.datetime | None = None) -> SyncCycle | None:
    """The cycle whose prep question a patient's text answers (soonest open anchor)."""
    today_utc = (now or timezone.now()).date() - dt.timedelta(days=1)
    return (
        SyncCycle.objects.filter(
            patient=patient,
            prep_open=True,
            status__in=CYCLE_PREP_ANSWERABLE,
            anchor_date__gte=today_utc,
        )
        .select_related("enrollment", "pharmacy")
        .order_by("anchor_date")
        .first()
    )


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


def default_replan_anchor(enrollment: SyncEnrollment, *, today: dt.date) -> dt.date:
    """Keep the patient's pickup day: the next anchor of the schedule from tomorrow."""
    return next_anchor_on_or_after(
        enrollment.anchor_date, enrollment.cycle_days, today + dt.timedelta(days=1)
    )
