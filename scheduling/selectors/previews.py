"""Previews that write nothing: the alignment plan for a chosen anchor, and the anchor
options the wizard offers."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from medsync.models import Pharmacy
from patients.models import (
    Patient,
    Prescription,
)
from scheduling import planning
from scheduling.alignment import (
    AlignmentError,
    AlignmentPlan,
    PlanWarning,
    RxPlan,
    WarningCode,
    align,
)
from scheduling.anchor import (
    AnchorProposal,
    PatientPreferences,
    PharmacyCalendar,
    average_load_over,
    candidate_dates,
    propose_anchors,
    score_anchor,
)
from scheduling.dates import next_anchor_on_or_after
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    CYCLE_LENGTHS,
    EnrollmentStatus,
    SyncEnrollment,
)
from scheduling.selectors.calendars import (
    anchor_load,
    pharmacy_today,
    sync_settings_for,
)
from scheduling.selectors.patients import home_pharmacy_of


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
    rows = [PlanRow(by_id[item.rx_id], _with_notes(item, by_id[item.rx_id])) for item in plan.items]
    return PlanPreview(patient, pharmacy, today, plan, rows)


def _with_notes(item: RxPlan, rx: Prescription) -> RxPlan:
    """The plan item with what planning assumed (coverage, price) said on it."""
    notes = planning.planning_notes(rx)
    if not notes:
        return item
    extra = tuple(PlanWarning(WarningCode(code), message) for code, message in notes)
    return dataclasses.replace(item, warnings=item.warnings + extra)


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
