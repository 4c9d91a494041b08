"""The reports app's only writes: its pharmacy settings and the on-hand counts."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from medsync.models import Pharmacy, User
from medsync.services import audit_record
from reports.exceptions import ReportError
from reports.models import OnHandCount, ReportSettings

MINUTE_FIELDS = (
    "tech_minutes_per_fill",
    "pharmacist_minutes_per_verification",
    "tech_minutes_per_prep_call",
    "tech_minutes_per_pickup",
    "pharmacist_minutes_per_pickup",
)
MAX_IMPORT_ROWS = 20000
MAX_QUANTITY = Decimal("999999999")


@transaction.atomic
def report_settings_update(
    *,
    pharmacy: Pharmacy,
    actor: User | None,
    minutes: dict[str, int],
    order_weekdays: Sequence[int],
    inactive_months: int,
) -> ReportSettings:
    errors: dict[str, list[str]] = {}
    for name in MINUTE_FIELDS:
        value = minutes.get(name)
        if not isinstance(value, int) or not 0 <= value <= 120:
            errors[name] = ["Whole minutes from 0 to 120."]
    days = sorted({int(d) for d in order_weekdays})
    if any(d < 0 or d > 6 for d in days):
        errors["order_weekdays"] = ["Weekdays 0 (Monday) to 6 (Sunday)."]
    if not 1 <= inactive_months <= 24:
        errors["inactive_months"] = ["Between 1 and 24 months."]
    if errors:
        raise ReportError("Some settings are out of range.", fields=errors)
    row = ReportSettings.objects.filter(pharmacy=pharmacy).first() or ReportSettings(
        pharmacy=pharmacy
    )
    for name in MINUTE_FIELDS:
        setattr(row, name, minutes[name])
    row.order_weekdays, row.inactive_months = days, inactive_months
    row.updated_by = actor if getattr(actor, "is_authenticated", False) else None
    row.save()
    audit_record(
        action="reports.settings.changed",
        actor=actor,
        target=pharmacy,
        metadata={**{n: minutes[n] for n in MINUTE_FIELDS}, "order_weekdays": days},
    )
    return row


def _quantity(value: str, field: str) -> Decimal:
    try:
        quantity = Decimal(str(value).strip())
    except InvalidOperation:
        raise ReportError("A quantity is not a number.", fields={field: ["A number."]}) from None
    if not quantity.is_finite() or quantity < 0 or quantity > MAX_QUANTITY:
        raise ReportError("A quantity is out of range.", fields={field: ["From 0 up."]})
    return quantity.quantize(Decimal("0.001"))


def _ndc(value: str, field: str) -> str:
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    if len(digits) != 11 or len(str(value).strip()) > 13:
        raise ReportError("An NDC has 11 digits.", fields={field: ["11 digits (5-4-2)."]})
    return digits


@transaction.atomic
def on_hand_set(
    *, pharmacy: Pharmacy, actor: User | None, ndc: str, quantity, counted_on: dt.date | None = None
) -> OnHandCount:
    """Record what is on the shelf of one NDC (replaces the earlier count)."""
    counts = _store(
        pharmacy,
        actor,
        {_ndc(ndc, "ndc"): _quantity(quantity, "quantity")},
        counted_on or timezone.localdate(),
    )
    audit_record(
        action="reports.on_hand.changed", actor=actor, target=pharmacy, metadata={"rows": 1}
    )
    return counts[0]


@transaction.atomic
def on_hand_import(
    *, pharmacy: Pharmacy, actor: User | None, text: str, counted_on: dt.date | None = None
) -> int:
    """Import on-hand counts from CSV text with the columns ndc and quantity (a header row).
    Every row is checked first: one bad row refuses the file and nothing is written."""
    reader = csv.DictReader(io.StringIO(text))
    header = {(h or "").strip().lower() for h in reader.fieldnames or ()}
    if not {"ndc", "quantity"} <= header:
        raise ReportError(
            "The file needs a header row with the columns ndc and quantity.",
            fields={"file": ["Columns: ndc, quantity."]},
        )
    counts: dict[str, Decimal] = {}
    for line, row in enumerate(reader, start=2):
        if line - 1 > MAX_IMPORT_ROWS:
            raise ReportError(
                f"At most {MAX_IMPORT_ROWS} rows.", fields={"file": ["Too many rows."]}
            )
        row = {(k or "").strip().lower(): (v or "") for k, v in row.items()}
        try:
            ndc = _ndc(row.get("ndc", ""), "ndc")
            counts[ndc] = _quantity(row.get("quantity", ""), "quantity")
        except ReportError as exc:
            field = next(iter(exc.fields or {"file": None}))
            raise ReportError(
                f"Line {line}: {exc.message}", fields={"file": [f"Line {line}, {field}."]}
            ) from None
    if not counts:
        raise ReportError("The file has no rows.", fields={"file": ["No rows."]})
    _store(pharmacy, actor, counts, counted_on or timezone.localdate())
    audit_record(
        action="reports.on_hand.imported",
        actor=actor,
        target=pharmacy,
        metadata={"rows": len(counts)},
    )
    return len(counts)


def _store(pharmacy, actor, counts: dict[str, Decimal], counted_on: dt.date):
    by = actor if getattr(actor, "is_authenticated", False) else None
    now = timezone.now()
    rows = [
        OnHandCount(
            organization_id=pharmacy.organization_id,
            pharmacy=pharmacy,
            ndc=ndc,
            quantity=quantity,
            counted_on=counted_on,
            updated_by=by,
            updated_at=now,
        )
        for ndc, quantity in counts.items()
    ]
    return OnHandCount.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["organization", "pharmacy", "ndc"],
        update_fields=["quantity", "counted_on", "updated_by", "updated_at"],
    )
