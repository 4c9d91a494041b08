"""Re-plans: proposing a change to an enrollment's plan, and a pharmacist approving (a new
plan, open cycles rebuilt from it) or rejecting it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from medsync.models import User
from medsync.services import audit_record
from scheduling import selectors
from scheduling.alignment import AlignmentError, FillKind
from scheduling.cycle_rows import (
    cycle_item_rows,
    replan_fingerprint,
)
from scheduling.exceptions import SchedulingError
from scheduling.models import (
    CloseReason,
    CycleItem,
    EnrollmentStatus,
    EventChannel,
    ItemState,
    PlanReason,
    ReplanProposal,
    ReplanReason,
    ReplanStatus,
    SyncCycle,
    SyncEnrollment,
    SyncPlan,
    SyncPlanItem,
)
from scheduling.services.cycles import (
    build_cycle_items,
    cycle_first_create,
    plan_store,
    sweeps_schedule_after_commit,
    validate_choice,
)
from scheduling.states import (
    CYCLE_NOT_YET_FILLING,
    CYCLE_OPEN,
    CYCLE_TRANSITIONS,
    ITEM_TRANSITIONS,
)


@transaction.atomic
def replan_propose(
    *,
    enrollment: SyncEnrollment,
    reasons: Sequence[str],
    details: Sequence[str],
    actor: User | None = None,
    now: dt.datetime | None = None,
    fingerprint_extra: str = "",
) -> ReplanProposal | None:
    """Open (or widen) the enrollment's one pending re-plan. Returns None when the same change
    is already pending, so a sweep that finds it again writes nothing."""
    now = now or timezone.now()
    reasons = sorted(set(reasons))
    for reason in reasons:
        validate_choice(reason, ReplanReason, "reasons", "a reason")
    fingerprint = replan_fingerprint(reasons, details, fingerprint_extra)
    if ReplanProposal.objects.filter(
        enrollment=enrollment, fingerprint=fingerprint, status=ReplanStatus.REJECTED
    ).exists():
        return None  # a pharmacist already said no to exactly this change
    existing = (
        ReplanProposal.objects.select_for_update()
        .filter(enrollment=enrollment, status=ReplanStatus.PROPOSED)
        .first()
    )
    if existing is not None:
        if existing.fingerprint == fingerprint or (
            set(reasons) <= set(existing.reasons) and set(details) <= set(existing.details)
        ):
            return None
        existing.reasons = sorted(set(existing.reasons) | set(reasons))
        existing.details = list(dict.fromkeys([*existing.details, *details]))
        existing.fingerprint = fingerprint
        existing.save(update_fields=["reasons", "details", "fingerprint"])
        audit_record(
            action="scheduling.replan.widened",
            actor=actor,
            target=existing,
            metadata={"reasons": reasons},
        )
        return existing
    proposal = ReplanProposal.objects.create(
        enrollment=enrollment,
        patient_id=enrollment.patient_id,
        reasons=reasons,
        details=list(details),
        fingerprint=fingerprint,
        proposed_at=now,
        proposed_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    audit_record(
        action="scheduling.replan.proposed",
        actor=actor,
        target=proposal,
        metadata={"reasons": reasons},
    )
    return proposal


@transaction.atomic
def replan_approve(
    *,
    proposal: ReplanProposal,
    actor: User | None,
    anchor_date: dt.date | None = None,
    cycle_days: int | None = None,
    note: str = "",
    now: dt.datetime | None = None,
) -> SyncPlan:
    """A pharmacist approves: a new plan from today's medication list; cycles not yet being
    filled are rebuilt from it, fills already made stay."""
    now = now or timezone.now()
    proposal = ReplanProposal.objects.select_for_update().get(pk=proposal.pk)
    if proposal.status != ReplanStatus.PROPOSED:
        raise SchedulingError("This re-plan was already decided.", code="already_decided")
    enrollment = (
        SyncEnrollment.objects.select_for_update()
        .select_related("pharmacy", "patient")
        .get(pk=proposal.enrollment_id)
    )
    if enrollment.status != EnrollmentStatus.ENROLLED:
        raise SchedulingError("Resume the enrollment before approving a re-plan.")
    today = selectors.pharmacy_today(enrollment.pharmacy, now)
    cycle_days = cycle_days or enrollment.cycle_days
    anchor_date = anchor_date or selectors.default_replan_anchor(enrollment, today=today)
    prescriptions = selectors.synced_prescriptions(enrollment.patient)
    if not prescriptions:
        raise SchedulingError(
            "No synced prescription is left: disenroll the patient instead.",
            code="nothing_to_sync",
        )
    try:
        preview = selectors.plan_preview(
            patient=enrollment.patient,
            prescriptions=prescriptions,
            anchor_date=anchor_date,
            cycle_days=cycle_days,
            pharmacy=enrollment.pharmacy,
            now=now,
        )
    except AlignmentError as exc:  # pragma: no cover - plan_preview maps it already
        raise SchedulingError(str(exc)) from exc
    plan, plan_items = plan_store(
        enrollment=enrollment,
        alignment=preview.plan,
        prescriptions={rx.pk: rx for rx in prescriptions},
        reason=PlanReason.REPLAN,
        actor=actor,
        now=now,
        summary="Re-plan: " + "; ".join(proposal.details)[:480],
    )
    SyncEnrollment.objects.filter(pk=enrollment.pk).update(
        anchor_date=anchor_date, cycle_days=cycle_days, updated_at=now
    )
    enrollment.anchor_date, enrollment.cycle_days = anchor_date, cycle_days
    _apply_plan_to_open_cycles(enrollment, plan, plan_items, today=today, now=now, actor=actor)
    ReplanProposal.objects.filter(pk=proposal.pk).update(
        status=ReplanStatus.APPROVED,
        decided_at=now,
        decided_by=actor if getattr(actor, "is_authenticated", False) else None,
        decision_note=note.strip()[:500],
        resulting_plan=plan,
    )
    audit_record(
        action="scheduling.replan.approved",
        actor=actor,
        target=proposal,
        metadata={
            "plan": str(plan.public_id),
            "anchor_date": anchor_date.isoformat(),
            "cycle_days": cycle_days,
        },
    )
    sweeps_schedule_after_commit()
    return plan


def _apply_plan_to_open_cycles(
    enrollment: SyncEnrollment,
    plan: SyncPlan,
    plan_items: list[SyncPlanItem],
    *,
    today: dt.date,
    now: dt.datetime,
    actor: User | None,
) -> None:
    """Cycles not yet filling are rebuilt (or closed when the anchor moved); a cycle being
    filled keeps what is done, drops unstarted fills of stopped prescriptions and takes the
    new plan's fills due by its anchor."""
    kept_rx = {item.prescription_id for item in plan_items if item.kind != FillKind.NOT_SYNCED}
    open_cycles = list(
        SyncCycle.objects.select_for_update().filter(enrollment=enrollment, status__in=CYCLE_OPEN)
    )
    has_first = False
    for cycle in open_cycles:
        if cycle.status in CYCLE_NOT_YET_FILLING:
            CycleItem.objects.filter(cycle=cycle, state=ItemState.PLANNED).delete()
            if cycle.anchor_date != plan.anchor_date:
                SyncCycle.objects.filter(pk=cycle.pk).update(
                    status=CYCLE_TRANSITIONS["withdraw"].target,
                    close_reason=CloseReason.REPLANNED,
                    closed_at=now,
                    status_changed_at=now,
                    prep_open=False,
                )
                continue
            has_first = True
            _add_plan_fills(cycle, plan_items, plan=plan)
            SyncCycle.objects.filter(pk=cycle.pk).update(plan=plan)
        else:
            CycleItem.objects.filter(
                cycle=cycle,
                state__in=ITEM_TRANSITIONS["drop"].sources,
            ).exclude(prescription_id__in=kept_rx).update(
                state=ITEM_TRANSITIONS["drop"].target, state_changed_by=actor
            )
            if cycle.anchor_date == plan.anchor_date:
                has_first = True
            if cycle.anchor_date <= plan.anchor_date:
                _add_plan_fills(cycle, plan_items, plan=plan, up_to=cycle.anchor_date)
    if not has_first:
        cycle_first_create(
            enrollment=enrollment,
            plan=plan,
            plan_items=plan_items,
            today=today,
            now=now,
            actor=actor,
            contact_channel=EventChannel.PHONE,
        )


def _add_plan_fills(
    cycle: SyncCycle,
    plan_items: list[SyncPlanItem],
    *,
    plan: SyncPlan,
    up_to: dt.date | None = None,
) -> None:
    """Add the plan's fills for this cycle's window that it does not have yet."""
    have = set(
        CycleItem.objects.filter(cycle=cycle)
        .exclude(state=ItemState.SKIPPED)
        .values_list("prescription_id", flat=True)
    )
    rows = []
    for item in plan_items:
        if item.prescription_id in have:
            continue  # started or kept: the cycle already fills this prescription
        window = cycle_item_rows(item, anchor=up_to or cycle.anchor_date, previous_anchor=None)
        for row in window or []:
            rows.append((item.prescription, row, item.warnings))
    if not rows:
        return
    timing = selectors.timing_of(selectors.sync_settings_for(cycle.pharmacy))
    items = build_cycle_items(cycle, rows, cycle_days=plan.cycle_days, timing=timing)
    CycleItem.objects.bulk_create(items, ignore_conflicts=True)
    if cycle.needs_renewal:
        SyncCycle.objects.filter(pk=cycle.pk).update(needs_renewal=True)


@transaction.atomic
def replan_reject(
    *, proposal: ReplanProposal, actor: User | None, note: str = "", now: dt.datetime | None = None
) -> ReplanProposal:
    now = now or timezone.now()
    if not note.strip():
        raise SchedulingError(
            "Say why the plan stays as it is.", fields={"note": ["Required to reject."]}
        )
    updated = ReplanProposal.objects.filter(pk=proposal.pk, status=ReplanStatus.PROPOSED).update(
        status=ReplanStatus.REJECTED,
        decided_at=now,
        decided_by=actor if getattr(actor, "is_authenticated", False) else None,
        decision_note=note.strip()[:500],
    )
    if not updated:
        raise SchedulingError("This re-plan was already decided.", code="already_decided")
    proposal.refresh_from_db()
    audit_record(action="scheduling.replan.rejected", actor=actor, target=proposal)
    return proposal
