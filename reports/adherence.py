"""Adherence outcomes: which periods each patient is measured over (12 months before
enrollment, since enrollment, or the last 12 months for patients never enrolled), read from
the record with a fixed number of queries, and the figures the page and API show, read from
the cached results (`reports.models.PdcOutcome`, written by `reports.services.adherence`).

Periods (DOMAIN 6 for the rules; where it is silent, decided here):

- **Enrolled on E** (the local day of the first enrollment that reached "enrolled"):
  *before* = [E - 365, E - 1]; *since* = [E, as_of], ended early by leaving the program
  (the last disenrollment, once no enrollment is open: the program no longer acts) and by
  death or a disenrollment that ends the period (`reports.selectors.period_ended_on`'s rule).
- **Never enrolled**: *not_enrolled* = [as_of - 364, as_of], ended by death the same way.
- Hospice and ESRD exclude the patient from the Star classes; insulin and
  sacubitril/valsartan fills in the period exclude them from diabetes and RAS antagonists;
  inpatient stays leave the period (`reports.pdc`).
- **Matched comparison**: the not-enrolled patients' adherent share per class is weighted by
  the age-band mix of the enrolled patients measured since enrollment (direct
  standardization on class and age band), so an older synced population is compared with
  patients of the same ages.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Count, F, FloatField, Max, Q, Sum
from django.db.models.functions import Cast
from django.utils import timezone

from medsync.selectors import limit_to_visible_pharmacies
from patients.models import InpatientStay, Patient, PatientStatus
from reports.models import OutcomePeriod, PdcOutcome, PdcSnapshot
from reports.pdc import PDC_CLASSES, STAR_CLASSES
from reports.pdc_sql import Window
from reports.selectors import PERIOD_ENDING_REASONS
from scheduling.dates import local_today
from scheduling.models import EnrollmentStatus, SyncEnrollment

BEFORE_DAYS = 365
COMPARISON_DAYS = 365
AGE_BANDS: tuple[tuple[str, int, int], ...] = (
    ("<45", 0, 44),
    ("45-64", 45, 64),
    ("65-74", 65, 74),
    ("75-84", 75, 84),
    ("85+", 85, 200),
)
_PLACES = Decimal("0.1")


def age_band(born: dt.date, on: dt.date) -> str:
    age = on.year - born.year - ((on.month, on.day) < (born.month, born.day))
    for label, low, high in AGE_BANDS:
        if low <= age <= high:
            return label
    return AGE_BANDS[0][0]


@dataclass
class PatientFacts:
    patient_id: int
    born: dt.date
    hospice: bool
    esrd: bool
    pharmacy_id: int | None
    enrolled_on: dt.date | None = None
    left_program_on: dt.date | None = None  # no open enrollment: the last disenrollment
    ended_on: dt.date | None = None  # death or a period-ending disenrollment


@dataclass(frozen=True)
class OutcomeWindow:
    window: Window
    period: str
    pharmacy_id: int | None
    age_band: str
    enrolled_on: dt.date | None


def outcome_facts() -> list[PatientFacts]:
    """Every patient of the tenant with what the periods need (two queries)."""
    facts: dict[int, PatientFacts] = {}
    for pk, born, hospice, esrd, home, status, updated in Patient.objects.order_by().values_list(
        "pk", "date_of_birth", "hospice", "esrd", "home_pharmacy_id", "status", "updated_at"
    ):
        facts[pk] = PatientFacts(pk, born, hospice, esrd, home)
        if status == PatientStatus.DECEASED:
            facts[pk].ended_on = timezone.localdate(updated)
    open_patients: set[int] = set()
    rows = (
        SyncEnrollment.objects.filter(enrolled_at__isnull=False)
        .order_by("enrolled_at")
        .values_list(
            "patient_id",
            "pharmacy_id",
            "status",
            "enrolled_at",
            "disenrolled_at",
            "disenroll_reason",
            "pharmacy__time_zone",
        )
    )
    period_ends: dict[int, dt.date] = {}
    for patient_id, pharmacy_id, status, enrolled_at, left_at, reason, zone in rows:
        fact = facts.get(patient_id)
        if fact is None:
            continue
        if fact.enrolled_on is None:
            fact.enrolled_on = local_today(zone, enrolled_at)
        fact.pharmacy_id = pharmacy_id  # the latest enrollment's pharmacy
        if status != EnrollmentStatus.DISENROLLED:
            open_patients.add(patient_id)
        elif left_at is not None:
            left = local_today(zone, left_at)
            fact.left_program_on = max(fact.left_program_on or left, left)
            if reason in PERIOD_ENDING_REASONS:
                period_ends[patient_id] = max(period_ends.get(patient_id, left), left)
    for patient_id, fact in facts.items():
        if patient_id in open_patients:
            fact.left_program_on = None
        if patient_id in period_ends:
            fact.ended_on = period_ends[patient_id]
    return list(facts.values())


def outcome_windows(facts: list[PatientFacts], as_of: dt.date) -> list[OutcomeWindow]:
    """The periods each patient is measured over (pure: see the module docstring)."""
    out: list[OutcomeWindow] = []

    def add(fact: PatientFacts, period: str, start: dt.date, end: dt.date) -> None:
        if fact.ended_on is not None:
            end = min(end, fact.ended_on)
        if end < start:
            return
        window = Window(
            (period, fact.patient_id), fact.patient_id, start, end, fact.hospice, fact.esrd
        )
        band = age_band(fact.born, min(end, as_of))
        out.append(OutcomeWindow(window, period, fact.pharmacy_id, band, fact.enrolled_on))

    for fact in facts:
        enrolled = fact.enrolled_on
        if enrolled is None:
            add(fact, OutcomePeriod.NOT_ENROLLED, as_of - dt.timedelta(COMPARISON_DAYS - 1), as_of)
            continue
        if enrolled > as_of:
            continue
        add(
            fact,
            OutcomePeriod.BEFORE,
            enrolled - dt.timedelta(BEFORE_DAYS),
            enrolled - dt.timedelta(1),
        )
        add(fact, OutcomePeriod.SINCE, enrolled, min(as_of, fact.left_program_on or as_of))
    return out


def stays_of(patient_ids, start: dt.date, end: dt.date) -> dict[int, list[tuple[dt.date, dt.date]]]:
    """Inpatient/SNF stays touching [start, end] (an open stay runs to `end`): one query."""
    stays: dict[int, list] = defaultdict(list)
    rows = (
        InpatientStay.objects.filter(admitted_on__lte=end)
        .filter(Q(discharged_on__isnull=True) | Q(discharged_on__gte=start))
        .order_by("admitted_on")
        .values_list("patient_id", "admitted_on", "discharged_on")
    )
    wanted = set(patient_ids) if patient_ids is not None else None
    for patient_id, admitted, discharged in rows:
        if wanted is None or patient_id in wanted:
            stays[patient_id].append((admitted, discharged or end))
    return stays


# --------------------------------------------------------------------------- reading the cache


def outcome_rows(membership, *, pharmacy=None, enrolled_from=None, enrolled_to=None):
    """Cached rows the member may see (their pharmacies), optionally one pharmacy and an
    enrollment-date cohort (patients never enrolled are always the comparison)."""
    rows = limit_to_visible_pharmacies(PdcOutcome.objects.all(), membership, "pharmacy")
    if pharmacy is not None:
        rows = rows.filter(pharmacy=pharmacy)
    cohort = Q()
    if enrolled_from is not None:
        cohort &= Q(enrolled_on__gte=enrolled_from)
    if enrolled_to is not None:
        cohort &= Q(enrolled_on__lte=enrolled_to)
    if cohort:
        rows = rows.filter(cohort | Q(period=OutcomePeriod.NOT_ENROLLED))
    return rows


def _pct(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(100) * part / whole).quantize(_PLACES, ROUND_HALF_UP)


def _pdc_ratio():
    return Cast(F("days_covered"), FloatField()) / Cast(F("days_in_period"), FloatField())


@dataclass
class GroupFigures:
    measured: int = 0
    adherent: int = 0
    excluded: int = 0
    mean_pdc: Decimal | None = None

    @property
    def adherent_pct(self) -> Decimal | None:
        return _pct(self.adherent, self.measured)


@dataclass
class ClassFigures:
    therapeutic_class: str
    star: bool
    before: GroupFigures
    since: GroupFigures
    not_enrolled: GroupFigures
    matched_adherent_pct: Decimal | None
    paired: int
    paired_before_adherent: int
    paired_since_adherent: int
    paired_mean_change: Decimal | None

    @property
    def change_points(self) -> Decimal | None:
        a, b = self.since.adherent_pct, self.before.adherent_pct
        return None if a is None or b is None else a - b

    @property
    def vs_matched_points(self) -> Decimal | None:
        a, b = self.since.adherent_pct, self.matched_adherent_pct
        return None if a is None or b is None else a - b


def _paired(rows) -> dict[str, dict]:
    """Per class, the patients measured both before and since enrollment: how many, how many
    adherent in each, the mean PDC change (one query: per patient and class, then per class)."""
    per_patient = (
        rows.filter(measurable=True, period__in=[OutcomePeriod.BEFORE, OutcomePeriod.SINCE])
        .order_by()
        .values("patient_id", "therapeutic_class")
        .annotate(
            b=Max(_pdc_ratio(), filter=Q(period=OutcomePeriod.BEFORE)),
            s=Max(_pdc_ratio(), filter=Q(period=OutcomePeriod.SINCE)),
            ba=Count("pk", filter=Q(period=OutcomePeriod.BEFORE, adherent=True)),
            sa=Count("pk", filter=Q(period=OutcomePeriod.SINCE, adherent=True)),
        )
        .values("therapeutic_class", "b", "s", "ba", "sa")
    )
    inner, params = per_patient.query.sql_with_params()
    sql = (
        "SELECT therapeutic_class, count(*), sum(ba), sum(sa), avg(s - b) FROM ("  # noqa: S608
        + inner
        + ") AS t WHERE b IS NOT NULL AND s IS NOT NULL GROUP BY therapeutic_class"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {
            cls: {"n": n, "before_adherent_n": ba, "since_adherent": sa, "change": change}
            for cls, n, ba, sa, change in cursor.fetchall()
        }


def adherence_figures(rows) -> list[ClassFigures]:
    """Per class: before, since and not-enrolled figures, the matched comparison and the
    patients measured both before and since (two queries)."""
    groups = (
        rows.order_by()
        .values("therapeutic_class", "period", "age_band")
        .annotate(
            measured=Count("pk", filter=Q(measurable=True)),
            adherent=Count("pk", filter=Q(adherent=True)),
            excluded=Count("pk", filter=Q(reason_code__startswith="excluded_")),
            pdc_sum=Sum(_pdc_ratio(), filter=Q(measurable=True)),
        )
    )
    cells: dict[tuple[str, str], dict[str, dict]] = defaultdict(dict)
    for g in groups:
        cells[(g["therapeutic_class"], g["period"])][g["age_band"]] = g
    paired = _paired(rows)
    figures = []
    for cls in PDC_CLASSES:
        per_period = {}
        for period in OutcomePeriod.values:
            bands = cells.get((cls, period), {})
            g = GroupFigures(
                measured=sum(b["measured"] for b in bands.values()),
                adherent=sum(b["adherent"] for b in bands.values()),
                excluded=sum(b["excluded"] for b in bands.values()),
            )
            total = sum(b["pdc_sum"] or 0 for b in bands.values())
            if g.measured:
                g.mean_pdc = (Decimal(total) * 100 / g.measured).quantize(_PLACES, ROUND_HALF_UP)
            per_period[period] = (g, bands)
        since_bands = per_period[OutcomePeriod.SINCE][1]
        other_bands = per_period[OutcomePeriod.NOT_ENROLLED][1]
        weight_total, weighted = 0, Decimal(0)
        for band, cell in since_bands.items():
            other = other_bands.get(band)
            if not cell["measured"] or other is None or not other["measured"]:
                continue
            weight_total += cell["measured"]
            weighted += Decimal(cell["measured"]) * other["adherent"] / other["measured"]
        matched = (
            (weighted * 100 / weight_total).quantize(_PLACES, ROUND_HALF_UP)
            if weight_total
            else None
        )
        pair = paired.get(cls, {})
        change = pair.get("change")
        if not any(per_period[p][0].measured or per_period[p][0].excluded for p in per_period):
            continue
        figures.append(
            ClassFigures(
                therapeutic_class=cls,
                star=cls in STAR_CLASSES,
                before=per_period[OutcomePeriod.BEFORE][0],
                since=per_period[OutcomePeriod.SINCE][0],
                not_enrolled=per_period[OutcomePeriod.NOT_ENROLLED][0],
                matched_adherent_pct=matched,
                paired=pair.get("n", 0),
                paired_before_adherent=int(pair.get("before_adherent_n", 0)),
                paired_since_adherent=int(pair.get("since_adherent", 0)),
                paired_mean_change=(
                    None
                    if change is None
                    else (Decimal(change) * 100).quantize(_PLACES, ROUND_HALF_UP)
                ),
            )
        )
    return figures


TREND_MONTHS = 12


def adherence_trend(membership, *, therapeutic_class: str, pharmacy=None) -> list[dict]:
    """Share adherent per month (from each month's last refresh) before / since enrollment
    and not enrolled, for one class, over the pharmacies the member sees (one query)."""
    rows = limit_to_visible_pharmacies(PdcSnapshot.objects.all(), membership, "pharmacy")
    if pharmacy is not None:
        rows = rows.filter(pharmacy=pharmacy)
    months: dict[dt.date, dict[str, list[int]]] = defaultdict(dict)
    for month, period, measured, adherent in (
        rows.filter(therapeutic_class=therapeutic_class)
        .order_by()
        .values("month", "period")
        .annotate(m=Sum("measured"), a=Sum("adherent"))
        .values_list("month", "period", "m", "a")
    ):
        months[month][period] = [measured, adherent]
    out = []
    for month in sorted(months)[-TREND_MONTHS:]:
        cell = months[month]
        out.append(
            {
                "month": month,
                **{
                    p: _pct(cell.get(p, [0, 0])[1], cell.get(p, [0, 0])[0])
                    for p in OutcomePeriod.values
                },
            }
        )
    return out


PATIENT_SORTS = {
    "pdc": ("days_covered_ratio", "patient__last_name"),
    "-pdc": ("-days_covered_ratio", "patient__last_name"),
    "name": ("patient__last_name", "patient__first_name"),
    "index": ("index_date", "patient__last_name"),
}


def outcome_patients(rows, *, therapeutic_class: str, period: str, show: str, sort: str):
    """The patients behind a figure: rows of one class and period, adherent / not / excluded."""
    rows = rows.filter(therapeutic_class=therapeutic_class, period=period)
    if show == "adherent":
        rows = rows.filter(adherent=True)
    elif show == "below":
        rows = rows.filter(measurable=True, adherent=False)
    elif show == "excluded":
        rows = rows.filter(measurable=False)
    else:
        rows = rows.filter(measurable=True)
    order = PATIENT_SORTS.get(sort, PATIENT_SORTS["pdc"])
    return (
        rows.annotate(days_covered_ratio=_pdc_ratio())
        .select_related("patient", "pharmacy")
        .order_by(*order, "pk")
    )
