"""The planner: short fills that bring every synced prescription onto one anchor date.

Pure: plain dataclasses in and out, no ORM (DOMAIN.md sections 2, 3 and 5).

For a synced prescription with next due date N, anchor A and cycle C (anchors A, A+C, A+2C...):

- N == an anchor: it is already aligned; a full fill of C days on that anchor.
- N < A: a **short fill** of A - N days (SCC 47), then a full fill of C days on A (SCC 48).
  The short fill may be dispensed on any day from the earliest day the plan allows a refill up
  to N (the days supply still counts from N), so short fills due close together share one trip.
- N > A (supply past the anchor): a short fill on the last anchor A_k before N for
  A_k + C - N days (SCC 47), then the full fill of C days on A_k + C (SCC 48). With k = 0 this
  is DOMAIN's "filled on A for (A + cycle - N) days". When that fill comes before the plan pays
  a refill it is flagged (SCC 47 overrides it), or, if the plan takes no sync code, moved to the
  first day the plan pays.
- A - N of a cycle or more: a short fill of the remainder, then full cycles in step with the
  anchor, so no fill is longer than a cycle.
- Quantities are days x daily dose rounded UP to a whole dispensable unit.
- Unit-of-use products (inhalers, pens, drops, creams, blister packs) are never split: whole
  packages (each capped by its beyond-use days), as many as cover the days needed, so they
  drift off the anchor (a warning says by how many days). They join an anchor visit when the
  plan pays the refill then, else the first day it pays (their due date if history is unknown).
  SCC 47 only when the whole packages are fewer days than a cycle.
- Not-synced prescriptions are filled on their own due date for their usual days supply.
- Every fill uses a refill and part of the authorized quantity; a fill is never planned past
  what is authorized (it is cut to what is left, and flagged), and a prescription whose refills
  or expiry run out before the next anchor is flagged for renewal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_FLOOR, Decimal

from billing.proration import (
    claim_cost,
    compute_patient_pay,
    round_cents,
)
from scheduling.alignment.quantities import (
    ceil_to,
    days_for,
    floor_to,
    fmt,
    num,
    package_days_of,
    packages_for,
    per_fill_cap,
    quantity_per_period_warning,
    refills_used,
    within_plan_limits,
)
from scheduling.alignment.shapes import (
    SCC_AFTER_SHORT_FILL,
    SCC_SHORT_FILL,
    AlignmentError,
    AlignmentPlan,
    FillKind,
    PlannedFill,
    PlanWarning,
    RxInput,
    RxPlan,
    WarningCode,
)

# --- the engine ---------------------------------------------------------------------------------


def anchors_from(anchor_date: date, cycle_days: int, count: int) -> list[date]:
    """The anchor and the ``count - 1`` that follow it."""
    return [anchor_date + timedelta(days=cycle_days * i) for i in range(count)]


def earliest_refill_date(rx: RxInput) -> date | None:
    """The first day the plan pays the next fill without an override (NCPDP reject 79).

    last fill + ceil(percent x last days supply); None when there is no edit (cash) or the last
    fill is not known. The last fill date defaults to next due date - last days supply.
    """
    percent = rx.plan.refill_too_soon_percent_for(rx.drug)
    if percent is None or rx.last_days_supply is None:
        return None
    last_fill = rx.last_fill_date or rx.next_due_date - timedelta(days=rx.last_days_supply)
    return last_fill + timedelta(days=-(-percent * rx.last_days_supply // 100))


@dataclass
class _Slot:
    """A fill before quantities: when, from which day its supply counts, how many days."""

    fill_date: date | None  # None: to be chosen by batching within [window_lo, window_hi]
    supply_start: date
    days: int
    kind: FillKind
    codes: tuple[int, ...]
    window_lo: date | None = None
    window_hi: date | None = None
    packages: int | None = None  # unit-of-use
    moved_from: date | None = None  # an anchor the plan would reject 79 on (no sync codes)


def _validate(today: date, anchor_date: date, cycle_days: int, rxs: Sequence[RxInput]) -> None:
    if cycle_days < 1:
        raise AlignmentError(f"A cycle is at least 1 day long, got {cycle_days}.")
    if anchor_date < today:
        raise AlignmentError(f"The anchor date {anchor_date} is before today ({today}).")
    seen = set()
    for rx in rxs:
        if rx.rx_id in seen:
            raise AlignmentError(f"Prescription {rx.rx_id!r} appears twice.")
        seen.add(rx.rx_id)
        for name in ("daily_dose", "package_size", "dispensable_unit"):
            if getattr(rx, name) <= 0:
                raise AlignmentError(f"Prescription {rx.rx_id!r}: {name} must be above zero.")
        if rx.fills_remaining < 0 or rx.quantity_remaining < 0:
            raise AlignmentError(f"Prescription {rx.rx_id!r}: remaining fills/quantity < 0.")
        if rx.max_quantity_per_fill is not None and rx.max_quantity_per_fill <= 0:
            raise AlignmentError(f"Prescription {rx.rx_id!r}: max quantity per fill must be > 0.")
        if rx.usual_days_supply is not None and rx.usual_days_supply < 1:
            raise AlignmentError(f"Prescription {rx.rx_id!r}: usual days supply must be >= 1.")
        if rx.beyond_use_days is not None and rx.beyond_use_days < 1:
            raise AlignmentError(f"Prescription {rx.rx_id!r}: beyond-use days must be >= 1.")
        if rx.last_days_supply is not None and rx.last_days_supply < 1:
            raise AlignmentError(f"Prescription {rx.rx_id!r}: last days supply must be >= 1.")


class _RxPlanner:
    """Plans one prescription: slots first (dates and days), quantities and prices after."""

    def __init__(self, rx: RxInput, today: date, anchor: date, cycle: int):
        self.rx, self.today, self.anchor, self.cycle = rx, today, anchor, cycle
        self.start = max(rx.next_due_date, today)  # the day new supply must begin
        self.earliest = earliest_refill_date(rx)
        self.warnings: list[PlanWarning] = []
        self.name = rx.label or f"Rx {rx.rx_id}"

    # -- dates ---------------------------------------------------------------------------------

    def _grid_at_or_before(self, day: date) -> date:
        """The last anchor (A + jC, j >= 0) on or before ``day`` (``day`` >= anchor)."""
        return self.anchor + timedelta(days=((day - self.anchor).days // self.cycle) * self.cycle)

    def _pre_anchor_window(self) -> tuple[date, date]:
        """Days a fill whose supply starts at self.start may be dispensed without a reject."""
        hi = self.start
        if not self._has_refill_edit():
            lo = self.today  # no refill-too-soon edit (cash)
        elif self.earliest is None:
            lo = hi  # history unknown: fill on the due date
        else:
            lo = min(max(self.today, self.earliest), hi)
        return lo, hi

    def _has_refill_edit(self) -> bool:
        return self.rx.plan.refill_too_soon_percent_for(self.rx.drug) is not None

    def _too_soon(self, fill_date: date) -> bool:
        return self.earliest is not None and fill_date < self.earliest

    def slots(self) -> list[_Slot]:
        rx, cycle, anchor, start = self.rx, self.cycle, self.anchor, self.start
        after_short = (SCC_AFTER_SHORT_FILL,) if rx.last_fill_short else ()
        if not rx.synced:
            slot = _Slot(start, start, rx.usual_days_supply or cycle, FillKind.NOT_SYNCED, ())
            if rx.unit_of_use:
                slot.packages = packages_for(rx, slot.days)
                slot.days = package_days_of(rx, slot.packages)
            return [slot]

        if start >= anchor and (start - anchor).days % cycle == 0:
            # Already aligned: a full cycle on its anchor.
            return [self._full_on(start, after_short)]

        if start < anchor:
            target = anchor
            lo, hi = self._pre_anchor_window()
            if not rx.unit_of_use and (anchor - start).days >= cycle:
                return self._more_than_a_cycle_to_anchor(lo, hi, after_short)
            first = _Slot(None, start, (target - start).days, FillKind.SHORT, (SCC_SHORT_FILL,))
            first.window_lo, first.window_hi = lo, hi
        else:
            on = self._grid_at_or_before(start)
            target = on + timedelta(days=cycle)
            first = _Slot(on, start, (target - start).days, FillKind.SHORT, (SCC_SHORT_FILL,))
            if self._too_soon(on) and not (rx.unit_of_use or rx.plan.sync_codes_allowed):
                # The plan rejects 79 and takes no sync code: the fill moves into the days the
                # plan pays (first payable day .. due date), still sized to land on the next
                # anchor, and is batched with the other fills there (fewest trips). Nothing is
                # left to override, so the warning is resolved (the optimizer does not count it
                # as a conflict: the extra trip is the cost).
                first.fill_date = None
                first.window_lo = max(self.today, min(self.earliest, start))
                first.window_hi = start
                first.moved_from = on
            elif rx.unit_of_use and self._too_soon(on):
                # A whole package is not a sync fill (no override): the first day the plan pays.
                first.fill_date = max(self.today, min(self.earliest, start))
            elif rx.unit_of_use and self.earliest is None and self._has_refill_edit():
                # History unknown: do not risk a reject 79, fill it on its due date.
                first.fill_date = start

        if rx.unit_of_use:
            return self._unit_of_use_slots(first, target, after_short)
        return [first, self._full_on(target, (SCC_AFTER_SHORT_FILL,))]

    def _more_than_a_cycle_to_anchor(
        self, lo: date, hi: date, after_short: tuple[int, ...]
    ) -> list[_Slot]:
        """The anchor is a cycle or more away: no fill longer than a cycle. A short fill of the
        remainder first (if any), then full cycles on the days that fall in step with the anchor
        (A - kC), the last one on the anchor itself."""
        start, cycle = self.start, self.cycle
        remainder = (self.anchor - start).days % cycle
        if remainder:
            first = _Slot(None, start, remainder, FillKind.SHORT, (SCC_SHORT_FILL,))
            codes_next = (SCC_AFTER_SHORT_FILL,)
        else:
            first = _Slot(None, start, cycle, FillKind.FULL, after_short)
            codes_next = ()
        first.window_lo, first.window_hi = lo, hi
        slots = [first]
        day = start + timedelta(days=first.days)
        while day <= self.anchor:
            slots.append(self._full_on(day, codes_next))
            codes_next = ()
            day += timedelta(days=cycle)
        return slots

    def _is_normal_fill(self, packages: int) -> bool:
        written = self.rx.written_quantity
        return written is not None and packages * self.rx.package_size >= written

    def _full_on(self, day: date, codes: tuple[int, ...]) -> _Slot:
        slot = _Slot(day, day, self.cycle, FillKind.FULL, codes)
        if self.rx.unit_of_use:
            slot.packages = packages_for(self.rx, self.cycle)
            slot.days = package_days_of(self.rx, slot.packages)
        return slot

    def _unit_of_use_slots(
        self, first: _Slot, target: date, after_short: tuple[int, ...]
    ) -> list[_Slot]:
        """Whole packages: as many as reach the target anchor; they drift when they overshoot."""
        first.packages = packages_for(self.rx, first.days)
        first.days = package_days_of(self.rx, first.packages)
        if first.days >= self.cycle or self._is_normal_fill(first.packages):
            # Not a shortened supply: the whole packages are at least a cycle, or exactly what
            # the prescriber wrote for a fill (a 28-day pack, a vial): no SCC 47 (DOMAIN 5).
            first.kind, first.codes = FillKind.FULL, after_short
        slots = [first]
        if first.supply_start + timedelta(days=first.days) == target:
            # It lands on the anchor: the anchor fill follows (SCC 48 after a short one).
            codes = (SCC_AFTER_SHORT_FILL,) if first.kind == FillKind.SHORT else ()
            slots.append(self._full_on(target, codes))
        return slots

    # -- quantities, authorization, price ----------------------------------------------------

    def finish(self, slots: list[_Slot]) -> RxPlan:
        rx = self.rx
        fills_left, quantity_left = rx.fills_remaining, rx.quantity_remaining
        planned: list[PlannedFill] = []
        renewal: PlanWarning | None = None
        exceeded: PlanWarning | None = None
        for slot in slots:
            fill_date = slot.fill_date
            if planned and planned[-1].days_supply:
                # Supply on hand carries forward (DOMAIN 2): a fill starts when the one before
                # it runs out, and the plan records that start.
                slot.supply_start = max(slot.supply_start, planned[-1].next_due_date)
            if slot.moved_from is not None:
                self._moved_warning(slot)
            needed = self._within_plan_limits(slot, self._quantity_for(slot))
            allowed = quantity_left
            if rx.max_quantity_per_fill is not None:
                allowed = min(allowed, rx.max_quantity_per_fill)
            per_fill = per_fill_cap(rx)
            if per_fill is not None:
                allowed = min(allowed, per_fill)
            blocked = ""
            if fills_left < 1:
                blocked = "no refills left"
            elif fill_date > rx.expiration_date:
                blocked = f"the prescription expires {fmt(rx.expiration_date)}"
            if blocked:
                allowed = Decimal("0")
            quantity, days = needed, self._days_for(slot, needed)
            if needed > allowed:
                quantity, days = self._cut_to(slot, allowed)
                if exceeded is None:
                    exceeded = PlanWarning(
                        WarningCode.EXCEEDS_AUTHORIZED_QUANTITY,
                        f"{self.name}: the fill on {fmt(fill_date)} needs {num(needed)} but "
                        f"only {num(allowed)} is authorized"
                        + (f" ({blocked})" if blocked else "")
                        + f"; planned {num(quantity)}.",
                        quantity_needed=needed,
                        quantity_authorized=allowed,
                    )
                if renewal is None:
                    renewal = PlanWarning(
                        WarningCode.RENEWAL_NEEDED,
                        f"{self.name}: request a renewal from the prescriber before "
                        f"{fmt(fill_date)} ({blocked or 'not enough quantity authorized'}).",
                        needed_by=fill_date,
                    )
            if quantity > 0:
                fills_left -= refills_used(rx, quantity)
                quantity_left -= quantity
            planned.append(self._priced(slot, quantity, days))

        next_due = planned[-1].next_due_date if planned[-1].days_supply else planned[-1].fill_date
        if renewal is None:
            renewal = self._renewal_for_next(next_due, fills_left, quantity_left)
        for warning in (renewal, exceeded):
            if warning is not None:
                self.warnings.append(warning)
        self._check_refill_too_soon(planned)
        self._check_short_fill_limit(planned)
        period = quantity_per_period_warning(rx, planned, self.name)
        if period is not None:
            self.warnings.append(period)
        self._check_drift(planned)
        return RxPlan(
            rx_id=rx.rx_id,
            fills=tuple(planned),
            warnings=tuple(self.warnings),
            next_due_after_plan=next_due,
            synced=rx.synced,
            unit_of_use=rx.unit_of_use,
        )

    def _quantity_for(self, slot: _Slot) -> Decimal:
        if slot.packages is not None:
            return slot.packages * self.rx.package_size
        return ceil_to(slot.days * self.rx.daily_dose, self.rx.dispensable_unit)

    def _days_for(self, slot: _Slot, quantity: Decimal) -> int:
        return days_for(self.rx, quantity, packaged=slot.packages is not None)

    def _within_plan_limits(self, slot: _Slot, needed: Decimal) -> Decimal:
        quantity, slot.packages, warning = within_plan_limits(
            self.rx,
            packages=slot.packages,
            needed=needed,
            fill_date=slot.fill_date,
            name=self.name,
        )
        if warning is not None:
            self.warnings.append(warning)
        return quantity

    def _moved_warning(self, slot: _Slot) -> None:
        self.warnings.append(
            PlanWarning(
                WarningCode.REFILL_TOO_SOON,
                f"{self.name}: filling on the anchor {fmt(slot.moved_from)} is too soon for "
                f"the plan (it pays from {fmt(self.earliest)} and takes no sync code); "
                f"planned on {fmt(slot.fill_date)} instead.",
                earliest_allowed=self.earliest,
                override_with_scc=False,
                resolved=True,
            )
        )

    def _cut_to(self, slot: _Slot, allowed: Decimal) -> tuple[Decimal, int]:
        rx = self.rx
        if slot.packages is not None:
            packages = int((allowed / rx.package_size).to_integral_value(rounding=ROUND_FLOOR))
            if packages < 1 or package_days_of(rx, packages) < 1:
                return Decimal("0"), 0
            return packages * rx.package_size, package_days_of(rx, packages)
        quantity = floor_to(allowed, rx.dispensable_unit)
        days = days_for(rx, quantity, packaged=False)
        if days < 1:
            return Decimal("0"), 0
        return quantity, days

    def _priced(self, slot: _Slot, quantity: Decimal, days: int) -> PlannedFill:
        rx = self.rx
        pay = None
        extra = Decimal("0.00")
        if quantity > 0:
            claim = None
            if rx.unit_cost is not None:
                claim = claim_cost(
                    unit_cost=rx.unit_cost, quantity=quantity, dispensing_fee=rx.dispensing_fee
                )
            pay = compute_patient_pay(
                days_supply=days,
                cost_sharing=rx.cost_sharing,
                rules=rx.plan.proration,
                drug=rx.drug,
                claim=claim,
            )
            if slot.kind == FillKind.SHORT and rx.cost_sharing.copay is not None and pay.amount:
                month = rx.plan.proration.month_days
                fair = min(round_cents(rx.cost_sharing.copay * days / month), pay.amount)
                extra = max(Decimal("0.00"), pay.amount - fair)
        return PlannedFill(
            fill_date=slot.fill_date,
            quantity=quantity,
            days_supply=days,
            kind=slot.kind,
            scc_codes=slot.codes,
            patient_pay=pay.amount if pay else None,
            pay=pay,
            supply_start=slot.supply_start,
            extra_cost=extra,
        )

    def _renewal_for_next(
        self, next_due: date, fills_left: int, quantity_left: Decimal
    ) -> PlanWarning | None:
        """Can the fill after this plan (on ``next_due``) be made on this prescription?"""
        rx = self.rx
        days = self.cycle if rx.synced else (rx.usual_days_supply or self.cycle)
        if rx.unit_of_use:
            need = packages_for(rx, days) * rx.package_size
        else:
            need = ceil_to(days * rx.daily_dose, rx.dispensable_unit)
        reason = ""
        if fills_left < 1:
            reason = "its refills run out"
        elif rx.expiration_date < next_due:
            reason = f"it expires {fmt(rx.expiration_date)}"
        elif quantity_left < need:
            reason = f"only {num(quantity_left)} stays authorized, {num(need)} needed"
        if not reason:
            return None
        return PlanWarning(
            WarningCode.RENEWAL_NEEDED,
            f"{self.name}: {reason} before the fill due {fmt(next_due)}: request a renewal "
            "before the prep contact.",
            needed_by=next_due,
        )

    def _check_refill_too_soon(self, planned: list[PlannedFill]) -> None:
        if self.earliest is None:
            return
        if any(w.code == WarningCode.REFILL_TOO_SOON for w in self.warnings):
            return
        first = planned[0]
        if first.quantity > 0 and first.fill_date < self.earliest:
            allowed = self.rx.plan.sync_codes_allowed and first.kind == FillKind.SHORT
            how = (
                "bill it with SCC 47 (the plan accepts sync codes)"
                if allowed
                else "the plan will reject it (79) until then"
            )
            self.warnings.append(
                PlanWarning(
                    WarningCode.REFILL_TOO_SOON,
                    f"{self.name}: the fill on {fmt(first.fill_date)} comes before the plan "
                    f"pays a refill ({fmt(self.earliest)}): {how}.",
                    earliest_allowed=self.earliest,
                    override_with_scc=allowed,
                )
            )

    def _check_short_fill_limit(self, planned: list[PlannedFill]) -> None:
        limit = self.rx.plan.short_fills_per_year
        if limit is None:
            return
        for fill in planned:
            if fill.kind != FillKind.SHORT or fill.quantity == 0:
                continue
            used = self.rx.short_fills_this_year if fill.fill_date.year == self.today.year else 0
            if used >= limit:
                self.warnings.append(
                    PlanWarning(
                        WarningCode.SHORT_FILL_LIMIT,
                        f"{self.name}: the plan covers {limit} sync short fill(s) a year and "
                        f"this prescription has had {used}: expect a full copay or a reject.",
                    )
                )
            return

    def _check_drift(self, planned: list[PlannedFill]) -> None:
        if not (self.rx.unit_of_use and self.rx.synced) or planned[-1].days_supply == 0:
            return
        runs_out = planned[-1].next_due_date
        offset = (runs_out - self.anchor).days % self.cycle
        if offset == 0:
            return
        drift = offset if offset <= self.cycle // 2 else offset - self.cycle
        nearest = runs_out - timedelta(days=drift)
        side = "after" if drift > 0 else "before"
        self.warnings.append(
            PlanWarning(
                WarningCode.UNIT_OF_USE_DRIFT,
                f"{self.name}: whole packages run out {fmt(runs_out)}, {abs(drift)} day(s) "
                f"{side} the anchor {fmt(nearest)}; it cannot be split (consider it as the "
                "anchor medication).",
                drift_days=drift,
            )
        )


def _batch(slots: list[_Slot], batch: bool) -> None:
    """Give every flexible fill a date: as few trips as possible (interval stabbing, each trip
    as late as the earliest-due fill in it allows)."""
    flexible = sorted(
        (s for s in slots if s.fill_date is None), key=lambda s: (s.window_hi, s.window_lo)
    )
    point: date | None = None
    for slot in flexible:
        if not batch:
            slot.fill_date = slot.window_hi
            continue
        if point is None or slot.window_lo > point:
            point = slot.window_hi
        slot.fill_date = point


def align(
    *,
    today: date,
    anchor_date: date,
    cycle_days: int,
    prescriptions: Sequence[RxInput],
    batch_short_fills: bool = True,
) -> AlignmentPlan:
    """Plan every prescription onto ``anchor_date`` (see the module docstring for the rules).

    Raises AlignmentError for an anchor before today, a cycle under 1 day, a zero dose or
    package size, or duplicate prescription ids.
    """
    _validate(today, anchor_date, cycle_days, prescriptions)
    planners = [_RxPlanner(rx, today, anchor_date, cycle_days) for rx in prescriptions]
    slots = [planner.slots() for planner in planners]
    _batch([s for rx_slots in slots for s in rx_slots], batch_short_fills)
    items = tuple(
        planner.finish(rx_slots) for planner, rx_slots in zip(planners, slots, strict=True)
    )
    return AlignmentPlan(today=today, anchor_date=anchor_date, cycle_days=cycle_days, items=items)
