"""Proportion of Days Covered (PQA) and MPR: pure functions, no ORM, dataclasses in and out.

The rules, from DOMAIN.md section 6 (and the PQA definition it summarises):

- The measurement window is [period_start, period_end] (both days included). Only fills
  dated inside the window count. The **index date** is the first such fill; the period
  measured runs from the index date to period_end, so
  ``days_in_period = period_end - index_date + 1``.
- **91-day rule**: the index date must be at least 91 days before period_end
  (``index_date <= period_end - 91 days``, so a measurable period has at least 92 days);
  otherwise the result is not measurable.
- **Star measures** (statins, RAS antagonists, non-insulin diabetes drugs) need two or more
  fills of drugs in the class on different dates.
- Each day is counted once. When fills of the **same drug** overlap, the later fill starts
  the day after the earlier supply ends (early refills are stockpiled, not wasted). Fills of
  **different drugs** in one class are never shifted against each other: the class coverage
  is the union of each drug's shifted coverage (a switch from simvastatin to atorvastatin
  mid-supply neither loses nor double counts a day).
- Coverage is capped at period_end. PDC = days covered / days in period. Adherent means
  PDC >= 80% (compared exactly, not after rounding).
- **Exclusions** (CMS Star measures): hospice and ESRD patients are excluded from the three
  Star measures; insulin users from the diabetes measure; sacubitril/valsartan users from the
  RAS antagonist measure. The caller passes hospice/ESRD; insulin and sacubitril/valsartan use
  is derived from the fills in the window unless the caller says otherwise.
- **MPR** = sum of the days supply of the fills in the period / days in period (overlaps
  counted twice, supply past period_end not cut): it can exceed 1.

- **Inpatient and skilled-nursing stays** (DOMAIN 6, CMS's adjustment): each day of a stay
  (admission to discharge, both included) leaves the period (``days_in_period`` drops by the
  stay days inside it) and is never counted covered; the supply on hand at admission is not
  used up there but resumes the day after discharge (the walk of each drug skips stay days).
- **Death or disenrollment ends the period** (DOMAIN 6): ``ended_on`` replaces period_end when
  it comes first (the 91-day rule is then applied to the shorter period).

Decisions where DOMAIN.md is silent:

- **Fills before the window** are ignored entirely, including supply they carry into the
  window: the index date is the first fill *in* the window (DOMAIN 6; PQA does the same),
  and a pre-window fill does not shift the first in-window fill either.
- **Same drug, same date** (two strengths dispensed together): the longest days supply is
  kept, the other is not shifted behind it (PQA's rule; taking both at once is one supply).
- **Same drug** means the same active ingredient(s): callers pass the generic name as
  ``PdcFill.drug``, so a dose change (atorvastatin 20 mg -> 40 mg) is shifted, while a switch
  to another statin is not.
- ``pdc`` and ``days_covered`` are computed whenever there is an index date, also when the
  result is not measurable (useful to show); only ``measurable`` results count in a measure
  and ``adherent`` is False unless measurable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from patients.supply import SupplyFill, carry_forward

STATIN = "statin"
RAS_ANTAGONIST = "ras_antagonist"
DIABETES_NON_INSULIN = "diabetes_non_insulin"
INSULIN = "insulin"
SACUBITRIL_VALSARTAN = "sacubitril_valsartan"

#: The three triple-weighted CMS Star adherence measures.
STAR_CLASSES: frozenset[str] = frozenset({STATIN, RAS_ANTAGONIST, DIABETES_NON_INSULIN})
#: Classes with a PQA PDC measure that MedSync reports (Star ones plus the others).
PDC_CLASSES: tuple[str, ...] = (
    STATIN,
    RAS_ANTAGONIST,
    DIABETES_NON_INSULIN,
    "beta_blocker",
    "calcium_channel_blocker",
    "doac",
    "copd_inhaler",
)

MIN_DAYS_INDEX_BEFORE_END = 91
ADHERENCE_THRESHOLD = Decimal("0.80")
_PDC_PLACES = Decimal("0.0001")

# reason codes (stable, for code) and their messages (for people)
NO_FILLS = "no_fills"
INDEX_TOO_LATE = "index_too_late"
SINGLE_FILL_DATE = "single_fill_date"
EXCLUDED_HOSPICE = "excluded_hospice"
EXCLUDED_ESRD = "excluded_esrd"
EXCLUDED_INSULIN = "excluded_insulin"
EXCLUDED_SACUBITRIL_VALSARTAN = "excluded_sacubitril_valsartan"


@dataclass(frozen=True, order=True, kw_only=True)
class PdcFill:
    """One dispensing: the drug (active ingredient key), the fill date and its days supply."""

    fill_date: date
    drug: str
    days_supply: int

    def __post_init__(self):
        if not isinstance(self.days_supply, int) or self.days_supply <= 0:
            raise ValueError(
                f"days_supply must be a positive whole number, not {self.days_supply!r}"
            )
        if not self.drug:
            raise ValueError("drug must name the active ingredient")


@dataclass(frozen=True)
class CoverageSpan:
    """Days [start, end] (both included) covered by one fill after same-drug shifting."""

    drug: str
    fill_date: date
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class PdcResult:
    period_start: date
    index_date: date | None
    period_end: date
    days_in_period: int
    days_covered: int
    pdc: Decimal | None
    adherent: bool
    measurable: bool
    reason_if_not: str = ""
    reason_code: str = ""
    fill_count: int = 0
    fill_dates: int = 0
    drugs: tuple[str, ...] = ()
    spans: tuple[CoverageSpan, ...] = field(default=(), repr=False, compare=False)

    @property
    def pdc_percent(self) -> Decimal | None:
        return None if self.pdc is None else (self.pdc * 100).quantize(Decimal("0.01"))


@dataclass(frozen=True)
class MprResult:
    period_start: date
    index_date: date | None
    period_end: date
    days_in_period: int
    days_supply_total: int
    mpr: Decimal | None
    measurable: bool
    reason_if_not: str = ""
    reason_code: str = ""


# --------------------------------------------------------------------------- helpers


def trailing_window(period_end: date, days: int) -> tuple[date, date]:
    """The window of `days` days ending on period_end: trailing_window(d, 180) -> (d-179, d)."""
    if days < 1:
        raise ValueError("a window has at least one day")
    return period_end - timedelta(days=days - 1), period_end


def _check_window(period_start: date, period_end: date) -> None:
    if period_start > period_end:
        raise ValueError(f"period_start {period_start} is after period_end {period_end}")


def _in_window(fills: Iterable[PdcFill], period_start: date, period_end: date) -> list[PdcFill]:
    return sorted(f for f in fills if period_start <= f.fill_date <= period_end)


def shifted_spans(fills: Iterable[PdcFill]) -> list[CoverageSpan]:
    """Per-drug coverage after same-drug shifting (no window, no cap), ordered by start.

    For each drug: fills sorted by date; same-date fills keep the longest supply; a fill
    dated on or before the day the previous supply ends starts the day after it.
    """
    by_drug: dict[str, dict[date, int]] = defaultdict(dict)
    for fill in fills:
        same_day = by_drug[fill.drug]
        same_day[fill.fill_date] = max(same_day.get(fill.fill_date, 0), fill.days_supply)
    spans: list[CoverageSpan] = []
    for drug, supplies in by_drug.items():
        # The one walk shared with planning (patients.supply, DOMAIN 2).
        walked = carry_forward(SupplyFill(day, days) for day, days in supplies.items())
        spans.extend(
            CoverageSpan(drug=drug, fill_date=w.fill_date, start=w.start, end=w.end) for w in walked
        )
    spans.sort(key=lambda s: (s.start, s.drug))
    return spans


Stay = tuple[date, date]  # (admitted_on, discharged_on), both days inside the stay


def stay_days(stays: Iterable[Stay]) -> frozenset[date]:
    """Every day spent in a stay (overlapping stays counted once)."""
    days: set[date] = set()
    for admitted, discharged in stays:
        day = admitted
        while day <= discharged:
            days.add(day)
            day += timedelta(days=1)
    return frozenset(days)


def stay_adjusted_spans(fills: Iterable[PdcFill], stays: Iterable[Stay]) -> list[CoverageSpan]:
    """Same-drug shifting as `shifted_spans`, with stay days skipped: a fill's days supply is
    used on days outside stays only, so the supply held at admission resumes after discharge.
    A fill's coverage may come out as several spans (before and after a stay)."""
    blocked = stay_days(stays)
    by_drug: dict[str, dict[date, int]] = defaultdict(dict)
    for fill in fills:
        same_day = by_drug[fill.drug]
        same_day[fill.fill_date] = max(same_day.get(fill.fill_date, 0), fill.days_supply)
    spans: list[CoverageSpan] = []
    for drug, supplies in by_drug.items():
        next_free: date | None = None
        for fill_date, days in sorted(supplies.items()):
            day = fill_date if next_free is None else max(fill_date, next_free)
            left, start = days, None
            while left:
                if day in blocked:
                    if start is not None:
                        spans.append(CoverageSpan(drug, fill_date, start, day - timedelta(1)))
                        start = None
                else:
                    start = start or day
                    left -= 1
                day += timedelta(days=1)
            spans.append(CoverageSpan(drug, fill_date, start, day - timedelta(1)))
            next_free = day
    spans.sort(key=lambda s: (s.start, s.drug))
    return spans


def clip_spans(spans: Iterable[CoverageSpan], start: date, end: date) -> list[CoverageSpan]:
    """Spans cut to [start, end]; spans wholly outside are dropped."""
    clipped = []
    for span in spans:
        if span.end < start or span.start > end:
            continue
        clipped.append(
            CoverageSpan(
                drug=span.drug,
                fill_date=span.fill_date,
                start=max(span.start, start),
                end=min(span.end, end),
            )
        )
    return clipped


def covered_days(spans: Iterable[CoverageSpan]) -> int:
    """Days in the union of the spans: each day once, whatever the drug."""
    total = 0
    current_start: date | None = None
    current_end: date | None = None
    for span in sorted(spans, key=lambda s: s.start):
        if current_end is None or span.start > current_end + timedelta(1):
            if current_end is not None:
                total += (current_end - current_start).days + 1
            current_start, current_end = span.start, span.end
        elif span.end > current_end:
            current_end = span.end
    if current_end is not None:
        total += (current_end - current_start).days + 1
    return total


def coverage_timeline(
    fills: Iterable[PdcFill], period_start: date, period_end: date
) -> list[CoverageSpan]:
    """Shifted coverage of the fills in the window, cut to the window (for supply charts)."""
    _check_window(period_start, period_end)
    in_window = _in_window(fills, period_start, period_end)
    return clip_spans(shifted_spans(in_window), period_start, period_end)


def _ratio(numerator: int, denominator: int) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(_PDC_PLACES, ROUND_HALF_UP)


# --------------------------------------------------------------------------- measures


def pdc_for_class(
    fills: Iterable[PdcFill],
    period_start: date,
    period_end: date,
    *,
    star_measure: bool,
    excluded_code: str = "",
    excluded_reason: str = "",
    stays: Iterable[Stay] = (),
) -> PdcResult:
    """PDC of one therapeutic class: `fills` are the patient's fills of drugs in that class.

    `excluded_code`/`excluded_reason` mark the patient as excluded from this measure (see
    `pdc_by_class`, which derives them); the PDC is still computed for display.
    """
    _check_window(period_start, period_end)
    in_window = _in_window(fills, period_start, period_end)
    if not in_window:
        return PdcResult(
            period_start=period_start,
            index_date=None,
            period_end=period_end,
            days_in_period=0,
            days_covered=0,
            pdc=None,
            adherent=False,
            measurable=False,
            reason_if_not="No fills in the measurement window.",
            reason_code=NO_FILLS,
        )

    index_date = in_window[0].fill_date
    days_in_period = (period_end - index_date).days + 1
    stays = list(stays)
    if stays:
        days_in_period -= sum(1 for d in stay_days(stays) if index_date <= d <= period_end)
        spans = clip_spans(stay_adjusted_spans(in_window, stays), index_date, period_end)
    else:
        spans = clip_spans(shifted_spans(in_window), index_date, period_end)
    days_covered = covered_days(spans)
    fill_dates = len({f.fill_date for f in in_window})

    reason_code, reason = excluded_code, excluded_reason
    latest_index = period_end - timedelta(days=MIN_DAYS_INDEX_BEFORE_END)
    if not reason_code and index_date > latest_index:
        reason_code = INDEX_TOO_LATE
        reason = (
            f"Index date {index_date.isoformat()} is less than {MIN_DAYS_INDEX_BEFORE_END} days "
            f"before the period end {period_end.isoformat()} (latest: {latest_index.isoformat()})."
        )
    if not reason_code and star_measure and fill_dates < 2:
        reason_code = SINGLE_FILL_DATE
        reason = "Star measures need two or more fills on different dates."
    measurable = not reason_code
    return PdcResult(
        period_start=period_start,
        index_date=index_date,
        period_end=period_end,
        days_in_period=days_in_period,
        days_covered=days_covered,
        pdc=_ratio(days_covered, days_in_period) if days_in_period > 0 else None,
        # exact: Decimal("0.80") * an int is exact, so no rounding decides adherence
        adherent=measurable and days_covered >= ADHERENCE_THRESHOLD * days_in_period,
        measurable=measurable,
        reason_if_not=reason,
        reason_code=reason_code,
        fill_count=len(in_window),
        fill_dates=fill_dates,
        drugs=tuple(sorted({f.drug for f in in_window})),
        spans=tuple(spans),
    )


def mpr_for_class(fills: Iterable[PdcFill], period_start: date, period_end: date) -> MprResult:
    """Medication possession ratio over the same period as the PDC (index date to end)."""
    _check_window(period_start, period_end)
    in_window = _in_window(fills, period_start, period_end)
    if not in_window:
        return MprResult(
            period_start=period_start,
            index_date=None,
            period_end=period_end,
            days_in_period=0,
            days_supply_total=0,
            mpr=None,
            measurable=False,
            reason_if_not="No fills in the measurement window.",
            reason_code=NO_FILLS,
        )
    index_date = in_window[0].fill_date
    days_in_period = (period_end - index_date).days + 1
    supply = sum(f.days_supply for f in in_window)
    latest_index = period_end - timedelta(days=MIN_DAYS_INDEX_BEFORE_END)
    too_late = index_date > latest_index
    return MprResult(
        period_start=period_start,
        index_date=index_date,
        period_end=period_end,
        days_in_period=days_in_period,
        days_supply_total=supply,
        mpr=_ratio(supply, days_in_period),
        measurable=not too_late,
        reason_if_not=(
            f"Index date {index_date.isoformat()} is less than {MIN_DAYS_INDEX_BEFORE_END} days "
            f"before the period end {period_end.isoformat()}."
            if too_late
            else ""
        ),
        reason_code=INDEX_TOO_LATE if too_late else "",
    )


def pdc_by_class(
    fills: Iterable[PdcFill],
    drug_classes: Mapping[str, Iterable[str]],
    period_start: date,
    period_end: date,
    *,
    classes: Iterable[str] = PDC_CLASSES,
    star_classes: Iterable[str] = STAR_CLASSES,
    hospice: bool = False,
    esrd: bool = False,
    insulin_user: bool | None = None,
    sacubitril_valsartan_user: bool | None = None,
    stays: Iterable[Stay] = (),
    ended_on: date | None = None,
) -> dict[str, PdcResult]:
    """PDC for each class in `classes` that the patient has a fill of (in the window).

    `drug_classes` maps each fill's `drug` key to its therapeutic classes (a drug may be in
    several). Classes in `star_classes` follow the Star rules (two fill dates; hospice and
    ESRD exclusions). `insulin_user` / `sacubitril_valsartan_user` default to "any fill of
    that class in the window"; pass True/False to override (e.g. from another pharmacy's
    claims). `stays` are the patient's inpatient/SNF stays (admitted, discharged); `ended_on`
    is the day death or disenrollment ended the period (nothing is measured if it comes before
    period_start).
    """
    _check_window(period_start, period_end)
    if ended_on is not None and ended_on < period_end:
        if ended_on < period_start:
            return {}
        period_end = ended_on
    stays = list(stays)
    fills = list(fills)
    star = set(star_classes)
    wanted = list(dict.fromkeys(classes))
    by_class: dict[str, list[PdcFill]] = defaultdict(list)
    for fill in fills:
        for therapeutic_class in set(drug_classes.get(fill.drug, ())):
            by_class[therapeutic_class].append(fill)

    def used(therapeutic_class: str) -> bool:
        return any(period_start <= f.fill_date <= period_end for f in by_class[therapeutic_class])

    if insulin_user is None:
        insulin_user = used(INSULIN)
    if sacubitril_valsartan_user is None:
        sacubitril_valsartan_user = used(SACUBITRIL_VALSARTAN)

    results: dict[str, PdcResult] = {}
    for therapeutic_class in wanted:
        class_fills = _in_window(by_class.get(therapeutic_class, ()), period_start, period_end)
        if not class_fills:
            continue
        code, reason = "", ""
        if therapeutic_class in star and hospice:
            code, reason = EXCLUDED_HOSPICE, "Excluded: hospice enrollment."
        elif therapeutic_class in star and esrd:
            code, reason = EXCLUDED_ESRD, "Excluded: end-stage renal disease."
        elif therapeutic_class == DIABETES_NON_INSULIN and insulin_user:
            code, reason = EXCLUDED_INSULIN, "Excluded: insulin user (diabetes measure)."
        elif therapeutic_class == RAS_ANTAGONIST and sacubitril_valsartan_user:
            code, reason = (
                EXCLUDED_SACUBITRIL_VALSARTAN,
                "Excluded: sacubitril/valsartan user (RAS antagonist measure).",
            )
        results[therapeutic_class] = pdc_for_class(
            class_fills,
            period_start,
            period_end,
            star_measure=therapeutic_class in star,
            excluded_code=code,
            excluded_reason=reason,
            stays=stays,
        )
    return results
