"""Reads of the workload and inventory forecast reports: the next 30 days of the sync
calendar at the pharmacies in view, turned into hours and into quantities per NDC."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum

from reports.forecast import NdcDemand, NdcForecast, forecast_ndc
from reports.models import OnHandCount
from reports.projection import NOT_DONE, WITHDRAWN, planned_anchors, settings_by_pharmacy
from reports.scope import ReportScope, report_settings_of
from reports.workload import DayLoad, Minutes, add, day_load
from scheduling.models import CycleItem, FillKind, ItemState, SyncPlanItem

HORIZON_DAYS = 30
MAX_LEAD_DAYS = 14  # the longest prep lead a pharmacy may set (SyncSettings.prep_days)


def minutes_of(pharmacy) -> Minutes:
    row = report_settings_of(pharmacy)
    return Minutes(
        tech_per_fill=row.tech_minutes_per_fill,
        pharmacist_per_verification=row.pharmacist_minutes_per_verification,
        tech_per_prep_call=row.tech_minutes_per_prep_call,
        tech_per_pickup=row.tech_minutes_per_pickup,
        pharmacist_per_pickup=row.pharmacist_minutes_per_pickup,
    )


def workload(scope: ReportScope, *, days: int = HORIZON_DAYS) -> list[DayLoad]:
    """Fills, verifications, prep calls and pickups per day from today, and the technician
    and pharmacist minutes they take at each pharmacy's minutes per task (two queries).

    A cycle's fills count on its pre-fill day (today for fills already in the queue), its
    prep call on its prep day (today when overdue) until the patient is contacted, its
    pickup on the anchor."""
    start = scope.today
    end = start + dt.timedelta(days=days - 1)
    sync_settings = settings_by_pharmacy(scope)
    counts: dict[tuple[int, dt.date], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in planned_anchors(scope, start, end + dt.timedelta(days=MAX_LEAD_DAYS), sync_settings):
        prefill_day = max(row.prefill_on, start)
        counts[(row.pharmacy_id, prefill_day)][0] += row.fills_to_do
        counts[(row.pharmacy_id, prefill_day)][1] += row.fills_to_do + row.fills_to_verify
        if row.prep_to_do:
            counts[(row.pharmacy_id, max(row.prep_on, start))][2] += 1
        if row.pickup_to_do and row.anchor >= start:
            counts[(row.pharmacy_id, row.anchor)][3] += 1
    minutes = {p.pk: minutes_of(p) for p in scope.in_view}
    loads = []
    for n in range(days):
        day = start + dt.timedelta(days=n)
        total = DayLoad(day)
        for pharmacy_id, per_task in minutes.items():
            fills, verifications, prep_calls, pickups = counts.get((pharmacy_id, day), [0] * 4)
            total = add(
                total,
                day_load(
                    day,
                    fills=fills,
                    verifications=verifications,
                    prep_calls=prep_calls,
                    pickups=pickups,
                    minutes=per_task,
                ),
            )
        loads.append(total)
    return loads


def order_weekdays(scope: ReportScope) -> list[int]:
    """The pharmacy's order days; rolled up: every day one of the pharmacies orders."""
    days: set[int] = set()
    for pharmacy in scope.in_view:
        days.update(report_settings_of(pharmacy).order_weekdays or ())
    return sorted(days)


def inventory_forecast(scope: ReportScope, *, days: int = HORIZON_DAYS) -> list[NdcForecast]:
    """Per NDC: the planned fills of each day from today (the cycles' items, and for anchors
    without a cycle yet the current plan's full fills), what of it is filled already, the
    on-hand count, and the order suggestions (four queries)."""
    start = scope.today
    end = start + dt.timedelta(days=days - 1)
    drugs: dict[str, tuple[str, Decimal]] = {}
    planned: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    filled: dict[str, dict[dt.date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    items = (
        scope.limit(
            CycleItem.objects.filter(fill_date__gte=start, fill_date__lte=end).exclude(
                state__in=NOT_DONE
            ),
            "cycle__pharmacy",
        )
        .exclude(cycle__in=_withdrawn_cycles())
        .order_by()
        .values_list(
            "prescription__drug__ndc",
            "prescription__drug__name",
            "prescription__drug__strength",
            "prescription__drug__package_size",
            "fill_date",
            "state",
            "quantity",
        )
    )
    for ndc, name, strength, package, day, state, quantity in items:
        drugs.setdefault(ndc, (f"{name} {strength}", package))
        planned[ndc][day] += quantity
        if state not in (ItemState.PLANNED, ItemState.FLAGGED):
            filled[ndc][day] += quantity
    projected = [
        r for r in planned_anchors(scope, start, end, settings_by_pharmacy(scope)) if r.projected
    ]
    if projected:
        plan_items = (
            SyncPlanItem.objects.filter(
                plan__enrollment_id__in={r.enrollment_id for r in projected},
                plan__is_current=True,
                kind=FillKind.FULL,
            )
            .order_by()
            .values_list(
                "plan__enrollment_id",
                "prescription__drug__ndc",
                "prescription__drug__name",
                "prescription__drug__strength",
                "prescription__drug__package_size",
                "quantity",
            )
        )
        by_enrollment = defaultdict(list)
        for enrollment_id, ndc, name, strength, package, quantity in plan_items:
            drugs.setdefault(ndc, (f"{name} {strength}", package))
            by_enrollment[enrollment_id].append((ndc, quantity))
        for row in projected:
            for ndc, quantity in by_enrollment.get(row.enrollment_id, ()):
                planned[ndc][row.anchor] += quantity
    on_hand = dict(
        scope.limit(OnHandCount.objects.filter(ndc__in=list(drugs)))
        .order_by()
        .values("ndc")
        .annotate(total=Sum("quantity"))
        .values_list("ndc", "total")
    )
    weekdays = order_weekdays(scope)
    return [
        forecast_ndc(
            NdcDemand(
                ndc,
                drugs[ndc][0],
                drugs[ndc][1],
                dict(planned[ndc]),
                dict(filled[ndc]),
                on_hand.get(ndc),
            ),
            start=start,
            days=days,
            order_weekdays=weekdays,
        )
        for ndc in sorted(drugs, key=lambda n: (drugs[n][0].lower(), n))
    ]


def _withdrawn_cycles():
    from scheduling.models import SyncCycle

    return SyncCycle.objects.filter(WITHDRAWN).values("pk")
