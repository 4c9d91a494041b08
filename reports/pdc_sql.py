"""PDC for many patients at once, set-based in PostgreSQL: the same rules as `reports.pdc`
(the pure engine stays the definition; `tests/reports/test_pdc_sql.py` proves both agree on
random histories).

The caller passes measurement windows, one per (key, patient): `[start, end]` with `end`
already cut by death or disenrollment (`reports.selectors.period_ended_on`). One statement
then does, per window and class:

1. the dispensed fills in the window (returned-to-stock fills never covered a day), one row
   per (class, drug, fill date) keeping the longest supply (PQA: same drug, same day);
2. same-drug shifting (DOMAIN 2's supply carried forward) with window functions, no loop:
   with ``c`` the running sum of days supply in fill order and ``a = fill_date - (c - days)``,
   a fill's supply ends on ``max(a) over the fills so far + c - 1`` (the closed form of
   `patients.supply.carry_forward`: each start is the later of the fill date and the day
   after the previous end);
3. the union of the class's spans, capped at the window end (`range_agg` of date ranges:
   each day once across drugs), the index date, the fill dates, the exclusions.

Inpatient stays move supply past the stay (`reports.pdc.stay_adjusted_spans`), which has no
closed form: windows of patients with a stay in them are measured by the pure engine
(`measure_windows` does both and returns one shape). They are a small share of patients.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection

from reports.pdc import (
    ADHERENCE_THRESHOLD,
    DIABETES_NON_INSULIN,
    EXCLUDED_ESRD,
    EXCLUDED_HOSPICE,
    EXCLUDED_INSULIN,
    EXCLUDED_SACUBITRIL_VALSARTAN,
    INDEX_TOO_LATE,
    INSULIN,
    MIN_DAYS_INDEX_BEFORE_END,
    PDC_CLASSES,
    RAS_ANTAGONIST,
    SACUBITRIL_VALSARTAN,
    SINGLE_FILL_DATE,
    STAR_CLASSES,
    pdc_by_class,
)

_PLACES = Decimal("0.0001")


@dataclass(frozen=True)
class Window:
    key: Hashable  # the caller's label (e.g. ("before", patient_id))
    patient_id: int
    start: dt.date
    end: dt.date
    hospice: bool = False
    esrd: bool = False


@dataclass(frozen=True)
class ClassPdc:
    """One window's PDC for one class (the fields of `reports.pdc.PdcResult` a report keeps)."""

    key: Hashable
    patient_id: int
    therapeutic_class: str
    index_date: dt.date
    period_end: dt.date
    days_in_period: int
    days_covered: int
    fill_dates: int
    measurable: bool
    adherent: bool
    reason_code: str

    @property
    def pdc(self) -> Decimal | None:
        if self.days_in_period <= 0:
            return None
        return (Decimal(self.days_covered) / Decimal(self.days_in_period)).quantize(
            _PLACES, ROUND_HALF_UP
        )


_SQL = """
WITH w AS (
    SELECT * FROM unnest(%(wid)s::int[], %(pid)s::bigint[], %(ws)s::date[], %(we)s::date[])
        AS t(wid, patient_id, wstart, wend)
),
fc AS (
    SELECT w.wid, cls, lower(d.generic_name) AS drug, f.fill_date, max(f.days_supply) AS days
    FROM w
    JOIN patients_prescription p
        ON p.patient_id = w.patient_id AND p.organization_id = %(org)s
    JOIN patients_fill f
        ON f.prescription_id = p.id AND f.organization_id = %(org)s
        AND f.fill_date BETWEEN w.wstart AND w.wend AND f.returned_to_stock_at IS NULL
    JOIN patients_drug d ON d.id = p.drug_id
    CROSS JOIN LATERAL unnest(d.therapeutic_classes) AS cls
    WHERE cls = ANY(%(classes)s)
    GROUP BY w.wid, cls, lower(d.generic_name), f.fill_date
),
run AS (
    SELECT wid, cls, drug, fill_date, days,
           sum(days) OVER s AS c
    FROM fc
    WINDOW s AS (PARTITION BY wid, cls, drug ORDER BY fill_date ROWS UNBOUNDED PRECEDING)
),
spans AS (
    SELECT wid, cls, fill_date,
           max(fill_date - (c - days)::int) OVER s + (c - 1)::int AS span_end,
           days
    FROM run
    WINDOW s AS (PARTITION BY wid, cls, drug ORDER BY fill_date ROWS UNBOUNDED PRECEDING)
),
per_class AS (
    SELECT s.wid, s.cls,
           min(s.fill_date) AS index_date,
           count(DISTINCT s.fill_date) AS fill_dates,
           range_agg(daterange(
               (s.span_end - s.days + 1), least(s.span_end, w.wend) + 1, '[)'
           )) FILTER (WHERE s.span_end - s.days + 1 <= w.wend) AS covered
    FROM spans s JOIN w USING (wid)
    GROUP BY s.wid, s.cls
)
SELECT pc.wid, pc.cls, pc.index_date, pc.fill_dates,
       COALESCE((SELECT sum(upper(r) - lower(r)) FROM unnest(pc.covered) AS r), 0) AS covered
FROM per_class pc
"""


def _sql_windows(organization_id: int, windows: Sequence[Window], classes: Sequence[str]):
    if not windows:
        return []
    params = {
        "org": organization_id,
        "wid": list(range(len(windows))),
        "pid": [w.patient_id for w in windows],
        "ws": [w.start for w in windows],
        "we": [w.end for w in windows],
        "classes": list(classes),
    }
    with connection.cursor() as cursor:
        cursor.execute(_SQL, params)
        return cursor.fetchall()


def _exclusion(cls: str, window: Window, used: set[str]) -> str:
    star = cls in STAR_CLASSES
    if star and window.hospice:
        return EXCLUDED_HOSPICE
    if star and window.esrd:
        return EXCLUDED_ESRD
    if cls == DIABETES_NON_INSULIN and INSULIN in used:
        return EXCLUDED_INSULIN
    if cls == RAS_ANTAGONIST and SACUBITRIL_VALSARTAN in used:
        return EXCLUDED_SACUBITRIL_VALSARTAN
    return ""


def sql_pdc(
    organization_id: int, windows: Sequence[Window], *, classes: Iterable[str] = PDC_CLASSES
) -> list[ClassPdc]:
    """PDC per window and class, set-based (ignores inpatient stays: see `measure_windows`)."""
    wanted = list(dict.fromkeys(classes))
    rows = _sql_windows(organization_id, windows, sorted({*wanted, INSULIN, SACUBITRIL_VALSARTAN}))
    used: dict[int, set[str]] = defaultdict(set)
    for wid, cls, *_ in rows:
        used[wid].add(cls)
    results = []
    for wid, cls, index_date, fill_dates, covered in rows:
        if cls not in wanted:
            continue
        window = windows[wid]
        days = (window.end - index_date).days + 1
        reason = _exclusion(cls, window, used[wid])
        if not reason and index_date > window.end - dt.timedelta(days=MIN_DAYS_INDEX_BEFORE_END):
            reason = INDEX_TOO_LATE
        if not reason and cls in STAR_CLASSES and fill_dates < 2:
            reason = SINGLE_FILL_DATE
        covered = int(covered)
        results.append(
            ClassPdc(
                key=window.key,
                patient_id=window.patient_id,
                therapeutic_class=cls,
                index_date=index_date,
                period_end=window.end,
                days_in_period=days,
                days_covered=covered,
                fill_dates=int(fill_dates),
                measurable=not reason,
                adherent=not reason and covered >= ADHERENCE_THRESHOLD * days,
                reason_code=reason,
            )
        )
    return results


def engine_pdc(
    windows: Sequence[Window],
    fills_by_patient,
    drug_classes,
    stays_by_patient,
    *,
    classes: Iterable[str] = PDC_CLASSES,
) -> list[ClassPdc]:
    """The same rows from the pure engine (windows with stays, and the property test)."""
    classes = list(classes)
    out = []
    for window in windows:
        results = pdc_by_class(
            fills_by_patient.get(window.patient_id, ()),
            drug_classes,
            window.start,
            window.end,
            classes=classes,
            hospice=window.hospice,
            esrd=window.esrd,
            stays=[
                (max(a, window.start), min(b, window.end))
                for a, b in stays_by_patient.get(window.patient_id, ())
                if a <= window.end and b >= window.start
            ],
        )
        for cls, r in results.items():
            out.append(
                ClassPdc(
                    key=window.key,
                    patient_id=window.patient_id,
                    therapeutic_class=cls,
                    index_date=r.index_date,
                    period_end=r.period_end,
                    days_in_period=r.days_in_period,
                    days_covered=r.days_covered,
                    fill_dates=r.fill_dates,
                    measurable=r.measurable,
                    adherent=r.adherent,
                    reason_code=r.reason_code,
                )
            )
    return out
