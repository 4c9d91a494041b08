"""The program and money reports: the enrollment funnel, why patients leave and who may
leave next, on-time pickups; returns to stock, what short fills cost patients, and the
prescriptions and revenue per synced patient per month.

Each report reads in a fixed number of queries (program: five; money: six)."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone

from billing.models import ClinicalService, ServiceKind
from patients.models import Fill, PatientStatus, Prescription, PrescriptionStatus
from reports.money import FillToPrice, claims_of_fills, fill_values
from reports.pdc import STAR_CLASSES, PdcFill, pdc_by_class
from reports.projection import WITHDRAWN
from reports.scope import ReportScope, sync_settings_of
from scheduling import planning
from scheduling.dates import local_today
from scheduling.models import (
    ContactOutcome,
    CycleItem,
    DisenrollReason,
    EnrollmentStatus,
    FillKind,
    ItemState,
    SyncCycle,
    SyncEnrollment,
)

RISK_WINDOW_DAYS = 180
SIX_MONTHS, TWELVE_MONTHS = 182, 365
ZERO = Decimal("0")


def rate(numerator: int, denominator: int) -> Decimal | None:
    if not denominator:
        return None
    return (Decimal(numerator) * 100 / denominator).quantize(Decimal("0.1"))


@dataclass
class RiskRow:
    enrollment: SyncEnrollment
    missed: int = 0
    unreachable: int = 0
    last_anchor: dt.date | None = None
    falling_pdc: list[str] = field(default_factory=list)

    @property
    def score(self) -> int:
        return 2 * self.missed + self.unreachable + 2 * len(self.falling_pdc)


@dataclass
class ProgramReport:
    start: dt.date
    end: dt.date
    funnel: list[dict] = field(default_factory=list)
    reasons: list[dict] = field(default_factory=list)
    on_time: dict = field(default_factory=dict)
    risk: list[RiskRow] = field(default_factory=list)


def _enrollment_rows(scope: ReportScope):
    picked_up = SyncCycle.objects.filter(enrollment=OuterRef("pk"), picked_up_at__isnull=False)
    return list(
        scope.limit(SyncEnrollment.objects.all())
        .annotate(synced=Exists(picked_up))
        .order_by()
        .values_list(
            "patient_id",
            "status",
            "created_at",
            "enrolled_at",
            "disenrolled_at",
            "disenroll_reason",
            "synced",
        )
    )


def _day(moment: dt.datetime | None) -> dt.date | None:
    return timezone.localdate(moment) if moment is not None else None


def program_report(scope: ReportScope, start: dt.date, end: dt.date) -> ProgramReport:
    report = ProgramReport(start, end)
    picked_up = SyncCycle.objects.filter(enrollment=OuterRef("pk"), picked_up_at__isnull=False)
    enrollments = list(
        scope.limit(SyncEnrollment.objects.all())
        .annotate(synced=Exists(picked_up))
        .select_related("patient", "pharmacy")
        .order_by("pk")
    )
    rows = [
        (
            e.patient_id,
            e.status,
            e.created_at,
            e.enrolled_at,
            e.disenrolled_at,
            e.disenroll_reason,
            e.synced,
        )
        for e in enrollments
    ]
    eligible = set(
        scope.limit(
            Prescription.objects.filter(
                status=PrescriptionStatus.ACTIVE,
                therapy_type="maintenance",
                refills_remaining__gt=0,
                expiration_date__gte=scope.today,
                patient__status=PatientStatus.ACTIVE,
            )
        )
        .order_by()
        .values("patient_id")
        .annotate(n=Count("id"))
        .filter(n__gte=2)
        .values_list("patient_id", flat=True)
    )
    cohort = [r for r in rows if start <= _day(r[2]) <= end]
    enrolled = [r for r in cohort if r[3] is not None]
    report.funnel = [
        {
            "key": "eligible",
            "label": "Eligible (2+ chronic medications)",
            "value": len(eligible | {r[0] for r in cohort}),
        },
        {"key": "contacted", "label": "Invited or enrolled", "value": len({r[0] for r in cohort})},
        {
            "key": "enrolled",
            "label": "Enrolled (consent recorded)",
            "value": len({r[0] for r in enrolled}),
        },
        {
            "key": "synced",
            "label": "Synced (first pickup done)",
            "value": len({r[0] for r in enrolled if r[6]}),
        },
    ]
    for key, days, label in (
        ("still_6", SIX_MONTHS, "Still enrolled after 6 months"),
        ("still_12", TWELVE_MONTHS, "Still enrolled after 12 months"),
    ):
        measured = [r for r in enrolled if _day(r[3]) + dt.timedelta(days=days) <= scope.today]
        kept = [
            r
            for r in measured
            if r[4] is None or _day(r[4]) >= _day(r[3]) + dt.timedelta(days=days)
        ]
        report.funnel.append(
            {
                "key": key,
                "label": label,
                "value": len(kept),
                "of": len(measured),
                "rate": rate(len(kept), len(measured)),
            }
        )
    reasons = Counter(
        r[5] for r in rows if r[1] == EnrollmentStatus.DISENROLLED and start <= _day(r[4]) <= end
    )
    labels = dict(DisenrollReason.choices)
    report.reasons = [
        {"key": k, "label": labels.get(k, k), "value": n} for k, n in reasons.most_common()
    ]
    report.on_time = _on_time(scope, start, end)
    report.risk = _risk(scope, [e for e in enrollments if e.status == EnrollmentStatus.ENROLLED])
    return report


def services_delivered(scope: ReportScope, start: dt.date, end: dt.date) -> list[dict]:
    """Clinical services documented in the range (each pharmacy's local day), per kind, in one
    query: CMRs, reviews, vaccinations, tests and BP checks given beside the sync."""
    labels = dict(ServiceKind.choices)
    counted: Counter = Counter()
    for kind, started_at, zone in ClinicalService.objects.filter(
        pharmacy__in=scope.in_view,
        started_at__gte=dt.datetime.combine(start, dt.time.min, tzinfo=dt.UTC)
        - dt.timedelta(days=1),
        started_at__lt=dt.datetime.combine(end, dt.time.min, tzinfo=dt.UTC) + dt.timedelta(days=2),
    ).values_list("kind", "started_at", "pharmacy__time_zone"):
        if start <= local_today(zone, started_at) <= end:
            counted[kind] += 1
    return [{"key": k, "label": labels.get(k, k), "value": n} for k, n in counted.most_common()]


def _on_time(scope: ReportScope, start: dt.date, end: dt.date) -> dict:
    """Cycles whose anchor fell in the range and that were picked up or missed: picked up
    before the pharmacy's missed-after day (on time) out of those."""
    rows = (
        scope.limit(SyncCycle.objects.filter(anchor_date__gte=start, anchor_date__lte=end))
        .exclude(WITHDRAWN)
        .filter(Q(picked_up_at__isnull=False) | Q(missed_at__isnull=False))
        .order_by()
        .values_list("pharmacy_id", "anchor_date", "picked_up_at", "pharmacy__time_zone")
    )
    settings = {p.pk: sync_settings_of(p) for p in scope.in_view}
    on_time = total = 0
    for pharmacy_id, anchor, picked_up_at, zone in rows:
        grace = settings[pharmacy_id].missed_after_days if pharmacy_id in settings else 1
        total += 1
        if picked_up_at is not None and local_today(zone, picked_up_at) < anchor + dt.timedelta(
            days=grace
        ):
            on_time += 1
    return {"on_time": on_time, "cycles": total, "rate": rate(on_time, total)}


def _risk(scope: ReportScope, enrolled: list[SyncEnrollment]) -> list[RiskRow]:
    """Enrolled patients with a missed pickup or an unreached prep call in the last 180
    days, or a Star-class PDC that fell from adherent (80%+) over the 180 days before to
    below 80% over the last 180 (Ateb: patients who leave lose about 63 days on therapy),
    most signals first. Two queries: the cycles' signals and a year of fills."""
    since = scope.today - dt.timedelta(days=RISK_WINDOW_DAYS)
    by_id = {e.pk: e for e in enrolled}
    rows: dict[int, RiskRow] = {}
    signals = (
        scope.limit(
            SyncCycle.objects.filter(
                enrollment__status=EnrollmentStatus.ENROLLED, anchor_date__gte=since
            )
        )
        .filter(Q(missed_at__isnull=False) | Q(contact_outcome=ContactOutcome.UNREACHABLE))
        .order_by("anchor_date", "id")
        .values_list("enrollment_id", "missed_at", "contact_outcome", "anchor_date")
    )
    for enrollment_id, missed_at, outcome, anchor in signals:
        if enrollment_id not in by_id:
            continue
        row = rows.setdefault(enrollment_id, RiskRow(by_id[enrollment_id]))
        row.missed += missed_at is not None
        row.unreachable += outcome == ContactOutcome.UNREACHABLE
        row.last_anchor = anchor
    for enrollment_id, classes in _falling_pdc(scope, enrolled).items():
        rows.setdefault(enrollment_id, RiskRow(by_id[enrollment_id])).falling_pdc = classes
    return sorted(
        rows.values(),
        key=lambda r: (-r.score, r.enrollment.patient.last_name, r.enrollment.pk),
    )


def _falling_pdc(scope: ReportScope, enrolled: list[SyncEnrollment]) -> dict[int, list[str]]:
    """Per enrollment, the Star classes whose PDC fell from 80%+ to below 80%."""
    if not enrolled:
        return {}
    window = RISK_WINDOW_DAYS
    recent_start = scope.today - dt.timedelta(days=window - 1)
    before_end = recent_start - dt.timedelta(days=1)
    before_start = before_end - dt.timedelta(days=window - 1)
    fills: dict[int, list[PdcFill]] = defaultdict(list)
    drug_classes: dict[str, list[str]] = {}
    for patient_id, fill_date, days, generic, classes in (
        Fill.objects.filter(
            prescription__patient_id__in={e.patient_id for e in enrolled},
            fill_date__gte=before_start,
            fill_date__lte=scope.today,
            returned_to_stock_at__isnull=True,
        )
        .order_by()
        .values_list(
            "prescription__patient_id",
            "fill_date",
            "days_supply",
            "prescription__drug__generic_name",
            "prescription__drug__therapeutic_classes",
        )
    ):
        drug_classes.setdefault(generic.lower(), list(classes))
        fills[patient_id].append(
            PdcFill(fill_date=fill_date, drug=generic.lower(), days_supply=days)
        )
    falling: dict[int, list[str]] = {}
    star = sorted(STAR_CLASSES)
    for enrollment in enrolled:
        patient = enrollment.patient
        history = fills.get(patient.pk)
        if not history:
            continue
        options = {"classes": star, "hospice": patient.hospice, "esrd": patient.esrd}
        before = pdc_by_class(history, drug_classes, before_start, before_end, **options)
        recent = pdc_by_class(history, drug_classes, recent_start, scope.today, **options)
        dropped = [
            klass
            for klass, was in before.items()
            if was.measurable
            and was.adherent
            and klass in recent
            and recent[klass].pdc is not None
            and not recent[klass].adherent
        ]
        if dropped:
            falling[enrollment.pk] = dropped
    return falling


@dataclass
class MoneyReport:
    start: dt.date
    end: dt.date
    returned: dict = field(default_factory=dict)
    short_fills: dict = field(default_factory=dict)
    months: list[dict] = field(default_factory=list)
    source: str = (
        "billed fills at what their claims were paid (plan + patient), other fills priced "
        "from the price list and plan rules"
    )


def months_between(start: dt.date, end: dt.date) -> list[tuple[dt.date, dt.date]]:
    months, first = [], start.replace(day=1)
    while first <= end:
        following = (first + dt.timedelta(days=32)).replace(day=1)
        months.append((max(first, start), min(following - dt.timedelta(days=1), end)))
        first = following
    return months


def money_report(scope: ReportScope, start: dt.date, end: dt.date) -> MoneyReport:
    report = MoneyReport(start, end)
    rows = _enrollment_rows(scope)
    items = list(
        scope.limit(
            CycleItem.objects.filter(
                Q(state=ItemState.RETURNED, returned_at__isnull=False)
                | Q(kind=FillKind.SHORT, picked_up_at__isnull=False)
            ),
            "cycle__pharmacy",
        ).select_related("cycle__pharmacy", "prescription__coverage", "prescription__drug")
    )
    returned = [
        i
        for i in items
        if i.state == ItemState.RETURNED
        and start <= local_today(i.cycle.pharmacy.time_zone, i.returned_at) <= end
    ]
    short = [
        i
        for i in items
        if i.kind == FillKind.SHORT
        and i.picked_up_at is not None
        and start <= local_today(i.cycle.pharmacy.time_zone, i.picked_up_at) <= end
    ]
    synced_by_month: dict[int, set[int]] = defaultdict(set)
    months = months_between(start, end)
    for patient_id, _status, _, enrolled_at, disenrolled_at, _, _ in rows:
        if enrolled_at is None:
            continue
        for n, (first, last) in enumerate(months):
            if _day(enrolled_at) <= last and (
                disenrolled_at is None or _day(disenrolled_at) >= first
            ):
                synced_by_month[n].add(patient_id)
    everyone = set().union(*synced_by_month.values()) if synced_by_month else set()
    fills = list(
        scope.limit(
            Fill.objects.filter(
                prescription__patient_id__in=everyone,
                fill_date__gte=start,
                fill_date__lte=end,
                returned_to_stock_at__isnull=True,
            ),
            "prescription__pharmacy",
        )
        .select_related("prescription__coverage", "prescription__drug", "prescription__pharmacy")
        .only(
            "pk",
            "fill_date",
            "quantity",
            "prescription__patient_id",
            "prescription__pharmacy__state",
            "prescription__drug__ndc",
            "prescription__coverage",
        )
    )
    item_of_fill, claimed = claims_of_fills([f.pk for f in fills], [i.pk for i in returned])
    # Plan rules once for both: the fills' values and the returned fills' RTS windows.
    rules = planning.plan_rules_by_coverage(
        [f.prescription for f in fills] + [i.prescription for i in returned]
    )
    values = fill_values(
        [
            FillToPrice(
                ("fill", f.pk),
                f.prescription.pharmacy_id,
                f.prescription.drug.ndc,
                f.quantity,
                f.prescription.coverage,
                item_of_fill.get(f.pk),
            )
            for f in fills
        ]
        + [
            FillToPrice(
                ("item", i.pk),
                i.cycle.pharmacy_id,
                i.prescription.drug.ndc,
                i.quantity,
                i.prescription.coverage,
                i.pk,
            )
            for i in returned
        ],
        rules=rules,
        claimed=claimed,
    )
    in_time = late = 0
    in_time_value = late_value = ZERO
    for item in returned:
        rules_days = planning.rules_for(
            item.prescription, rules, pharmacy_state=item.cycle.pharmacy.state
        ).return_to_stock_days
        zone = item.cycle.pharmacy.time_zone
        billed = item.billed_at or item.filled_at or item.returned_at
        value = values.get(("item", item.pk), ZERO)
        if local_today(zone, item.returned_at) <= local_today(zone, billed) + dt.timedelta(
            days=rules_days
        ):
            in_time, in_time_value = in_time + 1, in_time_value + value
        else:
            late, late_value = late + 1, late_value + value
    report.returned = {
        "fills": len(returned),
        "in_time": in_time,
        "late": late,
        "reversed_in_time": in_time_value,
        "recouped_late": late_value,
    }
    known = [i.patient_pay for i in short if i.patient_pay is not None]
    report.short_fills = {
        "fills": len(short),
        "patient_pay": sum(known, ZERO),
        "unknown": len(short) - len(known),
    }
    for n, (first, last) in enumerate(months):
        patients = synced_by_month.get(n, set())
        month_fills = [
            f
            for f in fills
            if first <= f.fill_date <= last and f.prescription.patient_id in patients
        ]
        revenue = sum((values.get(("fill", f.pk), ZERO) for f in month_fills), ZERO)
        count = len(patients)
        report.months.append(
            {
                "month": first.strftime("%Y-%m"),
                "synced_patients": count,
                "prescriptions": len(month_fills),
                "revenue": revenue,
                "prescriptions_per_patient": (
                    (Decimal(len(month_fills)) / count).quantize(Decimal("0.01")) if count else None
                ),
                "revenue_per_patient": (revenue / count).quantize(Decimal("0.01"))
                if count
                else None,
            }
        )
    return report
