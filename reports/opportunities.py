"""Opportunities: synced maintenance prescriptions worth moving to a 90-day supply, and
enrollments gone quiet that could be closed.

90-day conversion (DOMAIN 3-5): a prescription qualifies when its patient is on a monthly
(28- or 30-day) sync cycle, it is synced, active and maintenance, not controlled or
specialty, its last three fills in 120 days carry the same quantity and days (stable: no
dose change), the plan pays 90 days at retail (no days-supply limit under 90, not cash)
and enough quantity is left for 90 days. The saving is a year of monthly patient pays
(12 x 30 days) less a year of 90-day pays (4 x 90 days), each priced by billing's
proration engine (copays per block of days, coinsurance on the claim). A patient whose
synced prescriptions all qualify comes 4 times a year instead of 12: 8 trips saved.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Max, OuterRef, Subquery

from billing.proration import claim_cost, compute_patient_pay
from billing.selectors import drug_traits
from patients.models import (
    Fill,
    PatientStatus,
    Prescription,
    PrescriptionStatus,
    PriceListEntry,
    SyncDecision,
)
from reports.scope import ReportScope, report_settings_of
from scheduling import planning
from scheduling.models import EnrollmentStatus, SyncEnrollment

STABLE_WINDOW_DAYS = 120
STABLE_FILLS = 3
MONTHLY_CYCLES = (28, 30)
TRIPS_SAVED = 12 - 4
ZERO = Decimal("0")


@dataclass
class Conversion:
    prescription: Prescription
    pay_30: Decimal | None
    pay_90: Decimal | None

    @property
    def yearly_saving(self) -> Decimal | None:
        if self.pay_30 is None or self.pay_90 is None:
            return None
        return 12 * self.pay_30 - 4 * self.pay_90


@dataclass
class PatientConversion:
    patient: object
    pharmacy: object
    conversions: list[Conversion] = field(default_factory=list)
    synced_rx: int = 0

    @property
    def all_convertible(self) -> bool:
        return len(self.conversions) == self.synced_rx

    @property
    def trips_saved(self) -> int:
        return TRIPS_SAVED if self.all_convertible else 0

    @property
    def yearly_saving(self) -> Decimal:
        return sum((c.yearly_saving or ZERO for c in self.conversions), ZERO)


def ninety_day_candidates(scope: ReportScope) -> list[PatientConversion]:
    """Patients with prescriptions to convert, biggest saving first (four queries)."""
    monthly = SyncEnrollment.objects.filter(
        status=EnrollmentStatus.ENROLLED, cycle_days__in=MONTHLY_CYCLES
    ).values("patient_id")
    prescriptions = list(
        scope.limit(
            Prescription.objects.filter(
                patient_id__in=monthly,
                patient__status=PatientStatus.ACTIVE,
                status=PrescriptionStatus.ACTIVE,
                sync_decision=SyncDecision.SYNCED,
            )
        )
        .annotate(
            price_acquisition=Subquery(
                PriceListEntry.objects.filter(
                    pharmacy_id=OuterRef("pharmacy_id"), ndc=OuterRef("drug__ndc")
                ).values("acquisition_cost")[:1]
            ),
            price_usual=Subquery(
                PriceListEntry.objects.filter(
                    pharmacy_id=OuterRef("pharmacy_id"), ndc=OuterRef("drug__ndc")
                ).values("usual_and_customary")[:1]
            ),
        )
        .select_related("patient", "pharmacy", "drug", "coverage")
        .order_by("patient__last_name", "patient__first_name", "patient_id", "rx_number")
    )
    since = scope.today - dt.timedelta(days=STABLE_WINDOW_DAYS)
    history = defaultdict(list)
    for rx_id, quantity, days in (
        Fill.objects.filter(
            prescription__in=[rx.pk for rx in prescriptions],
            fill_date__gte=since,
            fill_date__lte=scope.today,
            returned_to_stock_at__isnull=True,
        )
        .order_by("prescription_id", "-fill_date")
        .values_list("prescription_id", "quantity", "days_supply")
    ):
        history[rx_id].append((quantity, days))
    rules = planning.plan_rules_by_coverage(prescriptions)
    patients: dict[int, PatientConversion] = {}
    for rx in prescriptions:
        row = patients.setdefault(rx.patient_id, PatientConversion(rx.patient, rx.pharmacy))
        row.synced_rx += 1
        conversion = _conversion(rx, history.get(rx.pk, []), rules)
        if conversion is not None:
            row.conversions.append(conversion)
    found = [p for p in patients.values() if p.conversions]
    return sorted(found, key=lambda p: (-p.trips_saved, -p.yearly_saving, p.patient.last_name))


def _conversion(rx: Prescription, fills, rules) -> Conversion | None:
    drug = rx.drug
    if rx.therapy_type != "maintenance" or drug.dea_schedule or drug.is_specialty:
        return None
    recent = fills[:STABLE_FILLS]
    if len(recent) < STABLE_FILLS or len(set(recent)) != 1:
        return None
    if rx.coverage is None or rx.coverage.plan_type == "cash":
        return None
    rx_rules = planning.rules_for(rx, rules, pharmacy_state=rx.pharmacy.state)
    if rx_rules.max_days_supply_per_fill is not None and rx_rules.max_days_supply_per_fill < 90:
        return None
    left = (
        rx.quantity_remaining
        if rx.quantity_remaining is not None
        else rx.quantity_per_fill * rx.refills_remaining
    )
    if left < rx.daily_dose * 90:
        return None
    return Conversion(rx, _pay(rx, rx_rules, 30), _pay(rx, rx_rules, 90))


def _pay(rx: Prescription, rx_rules, days: int) -> Decimal | None:
    unit, fee = planning.unit_price_of(rx, rx_rules)
    claim = (
        claim_cost(unit_cost=unit, quantity=rx.daily_dose * days, dispensing_fee=fee)
        if unit is not None
        else None
    )
    result = compute_patient_pay(
        days_supply=days,
        cost_sharing=planning.cost_sharing_of(rx.coverage),
        rules=rx_rules.proration,
        drug=drug_traits(rx.drug),
        claim=claim,
    )
    return result.amount


@dataclass
class InactiveEnrollment:
    enrollment: SyncEnrollment
    last_pickup: dt.date | None
    months: int


def _months_before(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, 28))


def inactive_enrollments(scope: ReportScope) -> list[InactiveEnrollment]:
    """Enrolled patients with no pickup (a picked-up cycle or a fill taken home) for the
    pharmacy's inactive-months setting, enrolled at least that long (one query)."""
    last_fill = (
        Fill.objects.filter(
            prescription__patient_id=OuterRef("patient_id"), returned_to_stock_at__isnull=True
        )
        .order_by("-fill_date")
        .values("fill_date")[:1]
    )
    enrollments = (
        scope.limit(SyncEnrollment.objects.filter(status=EnrollmentStatus.ENROLLED))
        .annotate(last_cycle_pickup=Max("cycles__picked_up_at"), last_fill=Subquery(last_fill))
        .select_related("patient", "pharmacy")
        .order_by("patient__last_name", "patient__first_name", "id")
    )
    months = {p.pk: report_settings_of(p).inactive_months for p in scope.in_view}
    found = []
    for enrollment in enrollments:
        n = months.get(enrollment.pharmacy_id, 3)
        cutoff = _months_before(scope.today, n)
        dates = [
            d
            for d in (
                enrollment.last_cycle_pickup.date() if enrollment.last_cycle_pickup else None,
                enrollment.last_fill,
            )
            if d is not None
        ]
        last = max(dates) if dates else None
        since = enrollment.enrolled_at.date() if enrollment.enrolled_at else None
        if (last is None or last < cutoff) and (since is None or since < cutoff):
            found.append(InactiveEnrollment(enrollment, last, n))
    return found
