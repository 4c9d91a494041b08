"""The fills of a plan and of a cycle as stored rows (JSON-ready dicts), and the renewal
check: a pure engine (no ORM, no Django) shared by the services, the sweeps, the API and
the pages, so a fill is planned and checked the same way wherever it is written.

Rows are dicts with ISO dates and decimal strings: `fill_date`, `quantity`, `days_supply`,
`kind`, `scc_codes`, `patient_pay` (and `blocked` for a fill nothing authorizes).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from decimal import ROUND_CEILING, Decimal

from scheduling.alignment import FillKind, PlannedFill

RENEWAL_NEEDED = "renewal_needed"


def money(value: Decimal | None) -> str | None:
    """A money amount as stored in JSON: a decimal string, or None."""
    return None if value is None else str(value)


def round_up(quantity: Decimal, unit: Decimal = Decimal("1")) -> Decimal:
    """`quantity` rounded up to a whole number of `unit` (a tablet, a package)."""
    return (quantity / unit).to_integral_value(rounding=ROUND_CEILING) * unit


def jsonable(value):
    """Warnings and fills as JSON: dates as ISO strings, Decimals as strings."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def fill_as_dict(fill: PlannedFill) -> dict:
    """One of the alignment engine's fills as a stored row; `supply_start` only when the fill is
    handed out before its supply starts (DOMAIN 2: the plan records that start)."""
    row = {
        "fill_date": fill.fill_date.isoformat(),
        "quantity": str(fill.quantity),
        "days_supply": fill.days_supply,
        "kind": FillKind(fill.kind).value,
        "scc_codes": list(fill.scc_codes),
        "patient_pay": money(fill.patient_pay),
    }
    if fill.supply_start is not None and fill.supply_start > fill.fill_date:
        row["supply_start"] = fill.supply_start.isoformat()
    return row


def plan_fill_rows(rx_plan, rx, cycle_days: int) -> list[dict]:
    """The engine's fills as stored rows. A fill nothing is authorized for (no refills, expired)
    keeps its planned size and is marked blocked: the pre-fill sweep flags it for a renewal.
    `rx` is anything with daily_dose and drug.unit_of_use / drug.package_size."""
    rows = []
    fills = rx_plan.fills
    for index, fill in enumerate(fills):
        row = fill_as_dict(fill)
        if fill.quantity <= 0 and fill.kind != FillKind.NOT_SYNCED:
            start = fill.supply_start or fill.fill_date
            following = fills[index + 1].fill_date if index + 1 < len(fills) else None
            if fill.kind == FillKind.SHORT and following is not None and following > start:
                days = (following - start).days
            else:
                days = cycle_days
            quantity = round_up(rx.daily_dose * days)
            if rx.drug.unit_of_use:
                quantity = round_up(quantity, rx.drug.package_size)
            row.update(quantity=str(quantity), days_supply=days, patient_pay=None, blocked=True)
        rows.append(row)
    return rows


def recurring_fill(rx, rx_fills: Sequence[PlannedFill], cycle_days: int):
    """What a later cycle fills on its anchor: the plan's full fill, without its SCC 48, as
    (quantity, days supply, patient pay)."""
    full = [f for f in rx_fills if f.kind == FillKind.FULL and f.quantity > 0]
    if full:
        last = full[-1]
        return last.quantity, last.days_supply, last.patient_pay
    return round_up(rx.daily_dose * cycle_days), cycle_days, None


def cycle_item_rows(
    plan_item, *, anchor: dt.date, previous_anchor: dt.date | None
) -> list[dict] | None:
    """The fills a cycle on `anchor` takes from a plan item.

    The plan's own fills (the aligning short fill, the first full fill with SCC 48) land
    in the cycle whose window (previous anchor, anchor] holds their date. After them a
    splittable Rx is filled for a full cycle on each anchor. Returns None when the plan
    cannot say (a unit-of-use product past its planned fills: it drifts, and the caller
    asks the alignment engine with the fill history). `plan_item` is anything with kind,
    fills, unit_of_use and the recurring_* fields (a SyncPlanItem or a sweep's row).
    """
    if plan_item.kind == FillKind.NOT_SYNCED:
        return []
    planned = [
        f
        for f in plan_item.fills
        if f["kind"] != FillKind.NOT_SYNCED
        and (previous_anchor is None or dt.date.fromisoformat(f["fill_date"]) > previous_anchor)
        and dt.date.fromisoformat(f["fill_date"]) <= anchor
    ]
    if planned:
        return planned
    last_planned = max(
        (dt.date.fromisoformat(f["fill_date"]) for f in plan_item.fills), default=None
    )
    if last_planned is not None and last_planned >= anchor:
        return []  # the plan already covers this window with a later fill
    if plan_item.unit_of_use:
        return None
    return [
        {
            "fill_date": anchor.isoformat(),
            "quantity": str(plan_item.recurring_quantity),
            "days_supply": plan_item.recurring_days_supply,
            "kind": FillKind.FULL.value,
            "scc_codes": [],
            "patient_pay": money(plan_item.recurring_patient_pay),
        }
    ]


def renewal_warnings(
    rx, *, fill_date: dt.date, next_anchor: dt.date, ever_filled: bool
) -> list[dict]:
    """DOMAIN 3: a prescription whose refills or expiry run out by this fill, or by the anchor
    after it, needs a renewal request, flagged before the prep contact. `rx` is anything
    with refills_remaining, refills_authorized and expiration_date."""
    original_pending = not ever_filled and rx.refills_remaining == rx.refills_authorized
    fills_left = rx.refills_remaining + (1 if original_pending else 0)
    if rx.expiration_date < fill_date:
        message = f"Expired {rx.expiration_date:%b %-d}: request a new prescription."
        needed_by = fill_date
    elif fills_left < 1:
        message = "No refills left: request a renewal from the prescriber."
        needed_by = fill_date
    elif rx.expiration_date < next_anchor:
        message = (
            f"Expires {rx.expiration_date:%b %-d}, before the next anchor ({next_anchor:%b %-d})."
        )
        needed_by = next_anchor
    elif fills_left == 1:
        message = f"Last refill: request a renewal before the next anchor ({next_anchor:%b %-d})."
        needed_by = next_anchor
    else:
        return []
    return [{"code": RENEWAL_NEEDED, "message": message, "needed_by": needed_by.isoformat()}]


def with_renewal(warnings: list[dict], rx, *, fill_date, next_anchor, ever_filled) -> list[dict]:
    """The plan's warnings, plus today's renewal check when the plan had none."""
    if needs_renewal(warnings):
        return list(warnings)
    return [
        *warnings,
        *renewal_warnings(
            rx, fill_date=fill_date, next_anchor=next_anchor, ever_filled=ever_filled
        ),
    ]


def needs_renewal(warnings: Sequence[dict]) -> bool:
    """Whether any of these warnings asks for a renewal."""
    return any(w.get("code") == RENEWAL_NEEDED for w in warnings)


def replan_fingerprint(reasons: Sequence[str], details: Sequence[str], extra: str = "") -> str:
    """Identifies one proposed change to a plan, whatever the order of its reasons and
    details: a sweep that finds the same change again recognises it."""
    payload = json.dumps([sorted(reasons), sorted(details), extra], sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()
