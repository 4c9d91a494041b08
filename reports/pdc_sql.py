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
3. the days covered, capped at the window end: with one drug in the class, the sum of its
   spans (shifted spans of one drug never overlap); with several, the union of their date
   ranges (`range_agg`: each day once across drugs). Then the index date, the fill dates and
   the exclusions (in Python, from the few rows left).

Inpatient stays move supply past the stay (`reports.pdc.stay_adjusted_spans`), which has no
closed form: windows of patients with a stay in them are measured by the pure engine
(`reports.services.adherence` does both; `engine_pdc` returns the same rows). They are a
small share of patients.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection, transaction

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
dc AS (
    -- small integers for the sorts: the class's position in %(classes)s, and one key per
    -- active ingredient (the engine's drug: the generic name, any case)
    SELECT d.id AS drug_id, array_position(%(classes)s::text[], cls::text) AS cls,
           dense_rank() OVER (ORDER BY lower(d.generic_name))::int AS drug
    FROM patients_drug d
    CROSS JOIN LATERAL unnest(d.therapeutic_classes) AS cls
    WHERE cls = ANY(%(classes)s)
),
fc AS (
    SELECT w.wid, w.wend, dc.cls, dc.drug, f.fill_date, max(f.days_supply) AS days
    FROM w
    JOIN patients_prescription p
        ON p.patient_id = w.patient_id AND p.organization_id = %(org)s
    JOIN dc ON dc.drug_id = p.drug_id
    JOIN patients_fill f
        ON f.prescription_id = p.id AND f.organization_id = %(org)s
        AND f.fill_date BETWEEN w.wstart AND w.wend AND f.returned_to_stock_at IS NULL
    GROUP BY w.wid, w.wend, dc.cls, dc.drug, f.fill_date
),
run AS (
    SELECT wid, wend, cls, drug, fill_date, days, sum(days) OVER s AS c
    FROM fc
    WINDOW s AS (PARTITION BY wid, cls, drug ORDER BY fill_date ROWS UNBOUNDED PRECEDING)
),
spans AS (
    SELECT wid, wend, cls, drug, fill_date, days,
           max(fill_date - (c - days)::int) OVER s + (c - 1)::int AS span_end
    FROM run
    WINDOW s AS (PARTITION BY wid, cls, drug ORDER BY fill_date ROWS UNBOUNDED PRECEDING)
),
per_class AS (
    -- one drug in the class: its shifted spans never overlap, so the days covered are the
    -- sum of their lengths up to the window end; several drugs: see `multi`
    SELECT wid, cls, min(fill_date) AS index_date, count(*) AS fills,
           min(drug) <> max(drug) AS several,
           sum(GREATEST(0, LEAST(span_end, wend) - (span_end - days + 1) + 1)) AS covered
    FROM spans
    GROUP BY wid, cls
),
multi AS (
    SELECT s.wid, s.cls, count(DISTINCT s.fill_date) AS fill_dates,
           range_agg(daterange(s.span_end - s.days + 1, LEAST(s.span_end, s.wend) + 1, '[)'))
               FILTER (WHERE s.span_end - s.days + 1 <= s.wend) AS covered
    FROM spans s JOIN per_class pc ON pc.wid = s.wid AND pc.cls = s.cls AND pc.several
    GROUP BY s.wid, s.cls
)
SELECT pc.wid, pc.cls, pc.index_date, COALESCE(m.fill_dates, pc.fills),
       CASE WHEN pc.several
            THEN COALESCE((SELECT sum(upper(r) - lower(r)) FROM unnest(m.covered) AS r), 0)
            ELSE pc.covered END
FROM per_class pc LEFT JOIN multi m ON m.wid = pc.wid AND m.cls = pc.cls
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
    with transaction.atomic(), connection.cursor() as cursor:
        # One analytic statement: JIT compiling it costs more than it saves, and its sorts
        # fit in memory with a larger work_mem (both for this transaction only).
        cursor.execute("SET LOCAL jit = off")
        cursor.execute("SET LOCAL work_mem = '256MB'")
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
    """PDC per window and class, set-based (ignores inpatient stays: callers measure
    windows with a stay by `engine_pdc`, as `reports.services.adherence` does)."""
    wanted = list(dict.fromkeys(classes))
    names = sorted({*wanted, INSULIN, SACUBITRIL_VALSARTAN})
    rows = [
        (wid, names[position - 1], *rest)
        for wid, position, *rest in _sql_windows(organization_id, windows, names)
    ]
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
