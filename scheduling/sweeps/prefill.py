"""(c) Pre-fill: on anchor minus pre-fill days a cycle's fills enter the fill queue; a fill
a person must look at first (no refills, expired, stopped, a re-plan waiting) is flagged."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from medsync.models import Pharmacy
from medsync.tenancy import current_organization
from patients.models import PrescriptionStatus
from scheduling import selectors, sql
from scheduling.models import (
    ContactOutcome,
    CycleStatus,
    FlagReason,
    ReplanProposal,
    ReplanStatus,
    SyncCycle,
    TaskKind,
)
from scheduling.states import CYCLE_OPEN
from scheduling.sweeps import runner
from scheduling.sweeps.runner import SweepResult


def cycles_open_prefill(*, now: dt.datetime | None = None, limit: int | None = None) -> SweepResult:
    """Anchor minus pre-fill days: the cycle's fills enter the fill queue; a fill whose
    prescription has no refills left or has expired is flagged for a renewal."""
    now = now or timezone.now()
    limit = limit or runner.batch_size()
    organization_id = current_organization().pk

    def step(pharmacy, _settings, today, result):
        def handle(rows):
            reached = {
                row.pk
                for row in rows
                if row.old_status == CycleStatus.CONTACTED
                and row.old_outcome != ContactOutcome.UNREACHABLE
            }
            not_reached = [row.pk for row in rows if row.pk not in reached]
            result.cycles += len(rows)
            result.tasks += sql.insert_tasks(
                organization_id=organization_id,
                cycle_ids=not_reached,
                kind=TaskKind.UNREACHABLE,
                due_on=today,
                detail="Not reached before the pre-fill: call before the anchor ({anchor}).",
                now=now,
            )
            enrollments = {row.pk: row.enrollment_id for row in rows}
            waiting = _cycles_waiting_for_replan(enrollments)
            attention = sql.items_needing_attention(
                organization_id=organization_id,
                today=today,
                cycle_ids=list(enrollments),
                waiting_cycle_ids=waiting,
            )
            result.tasks += _check_due_fills(attention, set(waiting), today, now)

        runner.claim_batches(
            result,
            lambda: sql.claim_cycles(
                "open_prefill",
                organization_id=organization_id,
                pharmacy_id=pharmacy.pk,
                limit=limit,
                today=today,
                now=now,
            ),
            handle,
        )
        with transaction.atomic():
            result.tasks += _check_early_fills(pharmacy, today, now)

    return runner.for_each_pharmacy("prefill_opened", now, step)


def _cycles_waiting_for_replan(enrollments: dict[int, int]) -> list[int]:
    """Of these cycles (cycle id -> enrollment id), those whose patient has a re-plan
    waiting for a pharmacist."""
    waiting = set(
        ReplanProposal.objects.filter(
            enrollment_id__in=set(enrollments.values()), status=ReplanStatus.PROPOSED
        ).values_list("enrollment_id", flat=True)
    )
    return [cycle for cycle, enrollment in enrollments.items() if enrollment in waiting]


def _check_early_fills(pharmacy: Pharmacy, today: dt.date, now: dt.datetime) -> int:
    """Fills dated off the anchor (aligning short fills before it, a drifting product after
    it) join the queue on their own day: check them like the rest (idempotent: only fills
    not started and not flagged are looked at)."""
    organization_id = current_organization().pk
    due = sql.off_anchor_items_due(organization_id=organization_id, today=today)
    if not due:
        return 0
    cycles = dict(
        SyncCycle.objects.filter(
            pk__in={row.cycle_id for row in due},
            pharmacy=pharmacy,
            status__in=CYCLE_OPEN,
        ).values_list("pk", "enrollment_id")
    )
    waiting = _cycles_waiting_for_replan(cycles)
    attention = sql.items_needing_attention(
        organization_id=organization_id,
        today=today,
        item_ids=[row.item_id for row in due if row.cycle_id in cycles],
        waiting_cycle_ids=waiting,
    )
    return _check_due_fills(attention, set(waiting), today, now)


def _check_due_fills(attention: list[sql.AttentionRow], waiting: set[int], today, now) -> int:
    """Flag the fills a person must look at first: no refills left or expired (a renewal,
    with a follow-up task), a prescription no longer active, or a re-plan waiting for
    approval. Returns the follow-up tasks made."""
    if not attention:
        return 0
    organization_id = current_organization().pk
    filled = selectors.ever_filled(
        row.prescription_id for row in attention if row.refills_remaining == 0
    )
    renewal, inactive, replan, renewal_cycles = [], [], [], set()
    for row in attention:
        if row.rx_status != PrescriptionStatus.ACTIVE:
            inactive.append(row.item_id)
        elif row.expiration_date < row.fill_date or (
            row.refills_remaining == 0
            and (row.refills_authorized > 0 or row.prescription_id in filled)
        ):
            renewal.append(row.item_id)
            renewal_cycles.add(row.cycle_id)
        elif row.cycle_id in waiting:
            replan.append(row.item_id)
    for ids, reason, note in (
        (renewal, FlagReason.RENEWAL_NEEDED, "No refills left or expired: request a renewal."),
        (inactive, FlagReason.NEEDS_PHARMACIST, "The prescription is no longer active."),
        (replan, FlagReason.NEEDS_PHARMACIST, "A re-plan is waiting for approval."),
    ):
        sql.flag_items(organization_id=organization_id, item_ids=ids, reason=reason, note=note)
    return sql.insert_tasks(
        organization_id=organization_id,
        cycle_ids=sorted(renewal_cycles),
        kind=TaskKind.RENEWAL_NEEDED,
        due_on=today,
        detail="A fill for the {anchor} anchor waits for a renewal from the prescriber.",
        now=now,
    )
