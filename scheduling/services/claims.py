"""Billing from the fill queue: starting a fill submits its claim (billing's gateway), a reject
flags the fill with its code, meaning and fix, and each fix is one action (issue 11, item 3).

    start           B1 for the fill as planned (its SCC codes, quantity, days supply)
    resubmit_scc    79 refill too soon: again with SCC 47 (48 after a short fill) when the plan
                    accepts sync codes
    cut_package     76 plan limit: cut to the smallest whole package that fits, documented
    record_pa       75 prior authorization: the PA number recorded, then resubmitted
    bill_other      41 other payer first: resubmitted, billing sends the other coverage first
    resubmit        again as it is (after the coverage was updated: 65)
    next_anchor     79 without sync codes: this fill leaves the cycle, the next anchor fills it

A paid claim moves the fill to "billed" with the patient's pay from the claim; a reject flags
it. The fill row stays locked while its claim is sent, so two people cannot bill it twice (and
billing's database constraint allows one paid claim per fill).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from billing.rejects import describe
from billing.selectors import latest_claims_for_items, plan_rules_for
from billing.services import ClaimError, ClaimSubject, claim_resubmit, claim_submit
from medsync.models import User
from medsync.services import audit_record
from patients.models import Fill
from scheduling.claim_fixes import cut_to_plan_limit
from scheduling.exceptions import SchedulingError
from scheduling.models import CycleItem, FlagReason
from scheduling.services.events_out import claim_rejected_emit
from scheduling.services.fill_queue import check_version, refresh_cycle_readiness
from scheduling.states import ITEM_TRANSITIONS

CLAIM_FIXES = ("resubmit_scc", "cut_package", "record_pa", "bill_other", "resubmit")
# The flag a reject leaves on the fill (the queue's "rejects" filter reads these).
FLAG_OF_REJECT = {"79": FlagReason.REFILL_TOO_SOON, "76": FlagReason.PLAN_LIMIT}


@dataclass
class BillingOutcome:
    item: CycleItem
    claim: object  # billing.claim_models.Claim
    paid: bool


def fill_number_of(item: CycleItem) -> int:
    """403-D3: 0 for the original, else the refill this fill will be (as _record_fill counts)."""
    rx = item.prescription
    first = not Fill.objects.filter(prescription=rx).exists()
    if first and rx.refills_remaining == rx.refills_authorized:
        return 0
    return rx.refills_authorized - rx.refills_remaining + 1


def _subject(item: CycleItem) -> ClaimSubject:
    return ClaimSubject(
        pharmacy=item.cycle.pharmacy,
        patient=item.cycle.patient,
        prescription=item.prescription,
        coverage=item.prescription.coverage,
        cycle_item_id=item.pk,
        date_of_service=item.fill_date,
        quantity=item.quantity,
        days_supply=item.days_supply,
        fill_number=fill_number_of(item),
        scc_codes=tuple(item.scc_codes),
    )


def _locked(item: CycleItem) -> CycleItem:
    return (
        CycleItem.objects.select_for_update(of=("self",))
        .select_related(
            "cycle__pharmacy",
            "cycle__patient",
            "prescription__drug",
            "prescription__coverage",
            "state_changed_by",
        )
        .get(pk=item.pk)
    )


def sync_codes_for(item: CycleItem) -> list[int]:
    """The SCC a refill-too-soon fill is resubmitted with: 48 when the prescription's last fill
    was a shortened one (SCC 47), else 47 (DOMAIN 5)."""
    last = Fill.objects.filter(prescription_id=item.prescription_id).order_by("-fill_date").first()
    if last is not None and 47 in (last.scc_codes or []) and 47 not in item.scc_codes:
        return [48]
    return [47]


def _corrections(item: CycleItem, fix: str, pa_number: str) -> tuple[dict, dict, str]:
    """(claim corrections, item field changes, note) for a fix; refused when it cannot apply."""
    rx, drug = item.prescription, item.prescription.drug
    if fix == "resubmit_scc":
        if not plan_rules_for(rx.coverage).sync_codes_allowed:
            raise SchedulingError(
                "This plan does not accept sync codes (SCC 47/48): move the fill to the next "
                "anchor instead.",
                code="no_sync_codes",
            )
        codes = sync_codes_for(item)
        return {"scc_codes": codes}, {"scc_codes": codes}, f"Resubmitted with SCC {codes}."
    if fix == "cut_package":
        rules = plan_rules_for(rx.coverage)
        cut = cut_to_plan_limit(
            quantity=item.quantity,
            days_supply=item.days_supply,
            daily_dose=rx.daily_dose,
            package_size=drug.package_size,
            unit_of_use=drug.unit_of_use,
            max_days=rules.max_days_supply_per_fill,
            max_quantity=rules.max_quantity_per_fill,
        )
        if cut is None:
            raise SchedulingError(
                "The plan's limits are not known here or the fill already fits: call the plan "
                "and flag the fill for the pharmacist.",
                code="nothing_to_cut",
            )
        changes = {"quantity": cut.quantity, "days_supply": cut.days_supply}
        return dict(changes), changes, cut.note
    if fix == "record_pa":
        number = (pa_number or "").strip()
        if not number or len(number) > 20:
            raise SchedulingError(
                "Enter the prior authorization number the plan gave (up to 20 characters).",
                code="pa_number",
                fields={"pa_number": ["Enter the PA number."]},
            )
        return {"pa_number": number}, {}, "Prior authorization recorded."
    return {}, {}, ""


@transaction.atomic
def cycle_item_bill(
    *,
    item: CycleItem,
    actor: User | None,
    fix: str = "",
    pa_number: str = "",
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> BillingOutcome:
    """Start a fill (its first claim) or work its reject with one fix (CLAIM_FIXES)."""
    now = now or timezone.now()
    if fix and fix not in CLAIM_FIXES:
        raise SchedulingError(f"Unknown fix {fix!r}.", fields={"fix": ["Unknown."]})
    item = _locked(item)
    check_version(item, expected_version, "start" if not fix else "resubmission")
    latest = latest_claims_for_items(item.organization, [item.pk]).get(item.pk)
    if not fix:
        if item.state not in ITEM_TRANSITIONS["bill"].sources:
            raise SchedulingError(
                f"This fill is {item.get_state_display().lower()}: it cannot be started now.",
                code="wrong_state",
            )
    elif (
        item.state not in ITEM_TRANSITIONS["resubmit"].sources
        or latest is None
        or latest.status != "rejected"
    ):
        raise SchedulingError(
            "Only a fill whose claim was rejected is resubmitted.", code="wrong_state"
        )
    corrections, changes, note = _corrections(item, fix, pa_number)
    try:
        if fix:
            claim = claim_resubmit(latest, actor=actor, now=now, **corrections)
        else:
            claim = claim_submit(subject=_subject(item), actor=actor, now=now)
    except ClaimError as exc:
        raise SchedulingError(exc.message, code=exc.code, fields=exc.fields) from None
    paid = claim.status == "paid"
    fields: dict = {**changes, "state_changed_by": actor, "version": item.version + 1}
    if paid:
        fields.update(
            state=ITEM_TRANSITIONS["resubmit" if fix else "bill"].target,
            billed_at=now,
            patient_pay=claim.patient_pay,
            flag_reason="",
            flag_note=note[:300],
        )
    else:
        first = claim.reject_codes[0] if claim.reject_codes else ""
        meaning = describe(first)["meaning"] if first else "rejected"
        fields.update(
            state=ITEM_TRANSITIONS["bill_rejected"].target,
            flag_reason=FLAG_OF_REJECT.get(first, FlagReason.CLAIM_REJECTED),
            flag_note=f"Reject {first}: {meaning}"[:300],
        )
    for name, value in fields.items():
        setattr(item, name, value)
    item.save(update_fields=list(fields))
    if not paid:
        claim_rejected_emit(item, claim)
    audit_record(
        action="scheduling.cycle_item.billed" if paid else "scheduling.cycle_item.claim_rejected",
        actor=actor,
        target=item,
        metadata={
            "claim": str(claim.public_id),
            "fix": fix or "start",
            "reject_codes": list(claim.reject_codes),
        },
    )
    return BillingOutcome(item=item, claim=claim, paid=paid)


@transaction.atomic
def cycle_item_move_to_next_anchor(
    *,
    item: CycleItem,
    actor: User | None,
    expected_version: int | None = None,
    now: dt.datetime | None = None,
) -> CycleItem:
    """A refill too soon the plan will not override: this fill leaves the cycle (skipped, with
    the reason) and the next anchor's fill covers the prescription."""
    now = now or timezone.now()
    item = _locked(item)
    check_version(item, expected_version, "move")
    move = ITEM_TRANSITIONS["next_anchor"]
    if item.state not in move.sources:
        raise SchedulingError(
            f"This fill is {item.get_state_display().lower()}: it cannot move now.",
            code="wrong_state",
        )
    fields = {
        "state": move.target,
        "state_changed_by": actor,
        "version": item.version + 1,
        "flag_note": "Moved to the next anchor (refill too soon).",
    }
    for name, value in fields.items():
        setattr(item, name, value)
    item.save(update_fields=list(fields))
    audit_record(
        action="scheduling.cycle_item.moved_to_next_anchor",
        actor=actor,
        target=item,
        metadata={"cycle": str(item.cycle.public_id)},
    )
    refresh_cycle_readiness(item.cycle, actor=actor, now=now)
    return item
