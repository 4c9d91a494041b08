"""(a) Cycles: every enrolled patient gets a cycle for the next anchor, with its fills.

Routine fills (most of them, once a patient is past the aligning cycle) never come to
Python: PostgreSQL repeats them from the plan (sql.insert_recurring_items); only the others
are read (as named tuples) and planned here with the same row builders the services use.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections import defaultdict
from decimal import Decimal
from typing import NamedTuple

from django.utils import timezone

from medsync.models import Pharmacy
from medsync.tenancy import current_organization
from patients.models import PrescriptionStatus, SyncDecision
from scheduling import planning, selectors, sql
from scheduling.alignment import AlignmentError, FillKind, align
from scheduling.cycle_rows import (
    cycle_item_rows,
    jsonable,
    needs_renewal,
    plan_fill_rows,
    with_renewal,
)
from scheduling.dates import CycleTiming, next_anchor_on_or_after
from scheduling.models import CycleItem, SyncCycle
from scheduling.states import ITEM_DROPPED_ON_REOPEN
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult

logger = logging.getLogger(__name__)


def cycles_ensure_upcoming(
    *,
    now: dt.datetime | None = None,
    limit: int | None = None,
    partition: int = 0,
    partitions: int = 1,
) -> SweepResult:
    """Every enrolled patient gets a cycle for the next anchor (>= the pharmacy's today).

    With `partitions` > 1 this run takes only the enrollments whose id falls in its
    `partition` (id modulo partitions), so several workers share a large program."""
    now = now or timezone.now()
    limit = limit or runner.batch_size()

    def step(pharmacy, settings_row, today, result):
        timing = selectors.timing_of(settings_row)
        last_pk = 0
        while True:
            batch = sql.enrollments_needing_cycles(
                organization_id=current_organization().pk,
                pharmacy_id=pharmacy.pk,
                today=today,
                after_id=last_pk,
                limit=limit,
                partition=partition,
                partitions=partitions,
            )
            if not batch:
                break
            last_pk = batch[-1].pk
            with runner.sweep_batch():
                result.add(_create_cycles(batch, pharmacy, timing, today=today, now=now))
            result.batches += 1

    return runner.for_each_pharmacy("cycles_created", now, step)


class PlanItemRow(NamedTuple):
    """A current plan's item as the cycle sweep plans it (what cycle_item_rows and the
    renewal check read), its JSON decoded."""

    item_id: int
    plan_id: int
    enrollment_id: int
    cycle_days: int
    prescription_id: int
    patient_id: int
    kind: str
    fills: list
    unit_of_use: bool
    recurring_quantity: Decimal
    recurring_days_supply: int
    recurring_patient_pay: Decimal | None
    warnings: list
    refills_remaining: int
    refills_authorized: int
    expiration_date: dt.date
    ever_filled: bool  # only known when refills run low (the renewal check needs it)
    rx_active: bool

    @property
    def pk(self) -> int:
        return self.prescription_id


class Slot(NamedTuple):
    """One enrollment's cycle on one anchor."""

    enrollment_id: int
    anchor: dt.date


class PlannedFill(NamedTuple):
    """One fill Python planned for a slot, before the slot has a cycle id."""

    prescription_id: int
    row: dict
    warnings: list


def _plan_items(plans: dict[int, tuple]) -> dict[int, list[PlanItemRow]]:
    """The items of these current plans that need Python (not routine), as named tuples
    (one query); `plans` maps enrollment -> (plan, previous anchor, next anchor)."""
    by_enrollment: dict[int, list[PlanItemRow]] = defaultdict(list)
    for row in sql.current_plan_items(
        organization_id=current_organization().pk, plans=list(plans.values())
    ):
        values = row._asdict()
        status, decision = values.pop("rx_status"), values.pop("sync_decision")
        values.update(fills=_json(row.fills), warnings=_json(row.warnings))
        active = status == PrescriptionStatus.ACTIVE and decision == SyncDecision.SYNCED
        item = PlanItemRow(**values, rx_active=active)
        by_enrollment[item.enrollment_id].append(item)
    return by_enrollment


def _json(value):
    """Django leaves jsonb undecoded on raw cursors; '[]' is by far the most common."""
    if isinstance(value, str):
        return [] if value == "[]" else json.loads(value)
    return value


def _create_cycles(
    batch: list[sql.EnrollmentRow],
    pharmacy: Pharmacy,
    timing: CycleTiming,
    *,
    today: dt.date,
    now: dt.datetime,
) -> SweepResult:
    """One batch: the next cycle of each enrollment and its fills, in a fixed number of
    statements (plan items read as tuples, rows written with multi-row INSERTs)."""
    organization_id = current_organization().pk
    anchors = {e.pk: next_anchor_on_or_after(e.anchor_date, e.cycle_days, today) for e in batch}
    next_anchors = {e.pk: anchors[e.pk] + dt.timedelta(days=e.cycle_days) for e in batch}
    previous_anchors = {e.pk: anchors[e.pk] - dt.timedelta(days=e.cycle_days) for e in batch}
    plan_of = sql.current_plans(organization_id=organization_id, enrollment_ids=list(anchors))
    plan_items = _plan_items(
        {pk: (plan, previous_anchors[pk], next_anchors[pk]) for pk, plan in plan_of.items()}
    )
    new_cycles: dict[Slot, sql.CycleRow] = {}
    fills: dict[Slot, list[PlannedFill]] = defaultdict(list)
    drifting: dict[int, list[PlanItemRow]] = defaultdict(list)
    for enrollment in batch:
        if enrollment.pk not in plan_of:
            continue  # enrolled without a plan cannot happen through services; skip safely
        anchor = anchors[enrollment.pk]
        slot = Slot(enrollment.pk, anchor)
        anchor_iso = anchor.isoformat()
        next_anchor = next_anchors[enrollment.pk]
        previous = previous_anchors[enrollment.pk]
        renewal = False
        for item in plan_items.get(enrollment.pk, ()):
            if not item.rx_active:
                continue  # stopped since the plan: replans_detect proposes the change
            window = cycle_item_rows(item, anchor=anchor, previous_anchor=previous)
            if window is None:
                drifting[enrollment.patient_id].append(item)
                continue
            for row in window:
                # The plan's own fills carry the engine's warnings; every fill gets today's
                # renewal check (refills and expiry) on top.
                planned = item.warnings if item.fills and row in item.fills else []
                fill_date = anchor if row["fill_date"] == anchor_iso else None
                if (
                    not planned
                    and fill_date is not None
                    and item.expiration_date >= next_anchor
                    and item.refills_remaining > 1
                ):
                    warnings = []  # plenty of refills, not expiring: nothing to check
                else:
                    warnings = with_renewal(
                        planned,
                        item,
                        fill_date=fill_date or dt.date.fromisoformat(row["fill_date"]),
                        next_anchor=next_anchor,
                        ever_filled=item.ever_filled,
                    )
                    renewal = renewal or needs_renewal(warnings)
                fills[slot].append(PlannedFill(item.prescription_id, row, warnings))
        new_cycles[slot] = sql.CycleRow(
            organization_id=organization_id,
            enrollment_id=enrollment.pk,
            patient_id=enrollment.patient_id,
            pharmacy_id=pharmacy.pk,
            plan_id=plan_of[enrollment.pk],
            anchor_date=anchor,
            prep_due_on=timing.prep_due_on(anchor),
            prefill_due_on=timing.prefill_due_on(anchor),
            needs_renewal=renewal,
            now=now,
        )
    if drifting:
        slots = {e.patient_id: Slot(e.pk, anchors[e.pk]) for e in batch}
        _plan_drifting_items(drifting, slots, fills, pharmacy, today)

    closed = {
        Slot(e.pk, anchor): cycle_id
        for e in batch
        if e.closed_cycle_ids
        for cycle_id, anchor in zip(e.closed_cycle_ids, e.closed_cycle_anchors, strict=True)
    }
    reopened = _reopen_closed_slots(
        {
            slot: (closed[slot], cycle.prep_due_on, cycle.prefill_due_on, cycle.plan_id)
            for slot, cycle in new_cycles.items()
            if slot in closed
        },
        now,
    )
    inserted = sql.insert_cycles(
        cycle for slot, cycle in new_cycles.items() if slot not in reopened
    )
    cycle_ids = {**{Slot(*key): pk for key, pk in inserted.items()}, **reopened}
    items = [
        sql.ItemRow(
            organization_id=organization_id,
            cycle_id=cycle_ids[slot],
            prescription_id=fill.prescription_id,
            fill_date=fill.row["fill_date"],
            queue_from=new_cycles[slot].prefill_due_on
            if fill.row["fill_date"] == slot.anchor.isoformat()
            else timing.prefill_due_on(dt.date.fromisoformat(fill.row["fill_date"])),
            kind=fill.row["kind"],
            quantity=fill.row["quantity"],
            days_supply=fill.row["days_supply"],
            scc_codes=fill.row["scc_codes"],
            patient_pay=fill.row["patient_pay"],
            warnings=fill.warnings,
            off_anchor=fill.row["fill_date"] != slot.anchor.isoformat(),
            supply_start=fill.row.get("supply_start"),
        )
        for slot, planned in fills.items()
        if slot in cycle_ids
        for fill in planned
    ]
    inserted_ids = set(inserted.values())
    sql.insert_new_items(item for item in items if item.cycle_id in inserted_ids)
    sql.insert_items(item for item in items if item.cycle_id not in inserted_ids)
    written = sql.insert_recurring_items(
        organization_id=organization_id,
        rows=[
            (
                cycle_id,
                plan_of[slot.enrollment_id],
                slot.anchor,
                new_cycles[slot].prefill_due_on,
                previous_anchors[slot.enrollment_id],
            )
            for slot, cycle_id in cycle_ids.items()
        ],
        read_by_python=[item.item_id for items in plan_items.values() for item in items],
    )
    renewal = [
        cycle_ids[slot]
        for slot, planned in fills.items()
        if slot in reopened and any(needs_renewal(fill.warnings) for fill in planned)
    ]
    if renewal:
        SyncCycle.objects.filter(pk__in=renewal).update(needs_renewal=True)
    return SweepResult(cycles=len(cycle_ids), items=len(items) + written)


def _reopen_closed_slots(
    candidates: dict[Slot, tuple[int, dt.date, dt.date, int]], now: dt.datetime
) -> dict[Slot, int]:
    """Cycles on these slots closed by a pause or a re-plan come back with today's timing
    and plan: slot -> (cycle, prep day, pre-fill day, plan). Returns the slots reopened here
    (one reopened meanwhile by someone else is not)."""
    if not candidates:
        return {}
    ids = sql.reopen_cycles(
        organization_id=current_organization().pk, rows=list(candidates.values()), now=now
    )
    if ids:
        CycleItem.objects.filter(
            cycle_id__in=ids, state__in=ITEM_DROPPED_ON_REOPEN, fill__isnull=True
        ).delete()
    return {slot: row[0] for slot, row in candidates.items() if row[0] in ids}


def _plan_drifting_items(drifting, slots, fills, pharmacy, today) -> None:
    """Unit-of-use products drift off the anchor: ask the alignment engine, with the fill
    history, whether and when each one is due in this cycle."""
    rx_ids = {item.prescription_id for items in drifting.values() for item in items}
    cycle_days = {patient: items[0].cycle_days for patient, items in drifting.items()}
    inputs = planning.rx_inputs_for_patients(
        list(drifting), today=today, pharmacy_state=pharmacy.state, only_rx_ids=rx_ids
    )
    for patient_id, entry in inputs.items():
        slot = slots[patient_id]
        days = cycle_days[patient_id]
        try:
            plan = align(
                today=today, anchor_date=slot.anchor, cycle_days=days, prescriptions=entry.inputs
            )
        except AlignmentError:
            logger.warning("Could not plan drifting items of one cycle; left for a re-plan.")
            continue
        by_id = {rx.pk: rx for rx in entry.prescriptions}
        next_anchor = slot.anchor + dt.timedelta(days=days)
        for rx_plan in plan.items:
            for row in plan_fill_rows(rx_plan, by_id[rx_plan.rx_id], days):
                if row["kind"] == FillKind.NOT_SYNCED:
                    continue
                if dt.date.fromisoformat(row["fill_date"]) < next_anchor:
                    warnings = jsonable([w.as_dict() for w in rx_plan.warnings])
                    fills[slot].append(PlannedFill(rx_plan.rx_id, row, warnings))
                    break
