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

from django.db import connection, connections, transaction

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
    -- wend last in the key: the sort it needs is the one the windows below read
    SELECT w.wid, dc.cls, dc.drug, f.fill_date, w.wend, max(f.days_supply) AS days
    FROM w
    JOIN patients_prescription p
        ON p.patient_id = w.patient_id AND p.organization_id = %(org)s
    JOIN dc ON dc.drug_id = p.drug_id
    JOIN patients_fill f
        ON f.prescription_id = p.id AND f.organization_id = %(org)s
        AND f.fill_date BETWEEN w.wstart AND w.wend AND f.returned_to_stock_at IS NULL
    GROUP BY w.wid, dc.cls, dc.drug, f.fill_date, w.wend
),
run AS (
    SELECT wid, cls, drug, fill_date, wend, days, sum(days) OVER s AS c
    FROM fc
    WINDOW s AS (PARTITION BY wid, cls, drug ORDER BY fill_date ROWS UNBOUNDED PRECEDING)
),
spans AS (
    SELECT wid, cls, drug, fill_date, wend, days,
           max(fill_date - (c - days)::int) OVER s + (c - 1)::int AS span_end
    FROM run
    WINDOW s AS (PARTITION BY wid, cls, drug ORDER BY fill_date ROWS UNBOUNDED PRECEDING)
),
flagged AS (
    SELECT *, span_end - days + 1 AS span_start,
           min(drug) OVER c <> max(drug) OVER c AS several
    FROM spans
    WINDOW c AS (PARTITION BY wid, cls)
),
per_class AS (
    -- one drug in the class: its shifted spans never overlap, so the days covered are the
    -- sum of their lengths up to the window end; several drugs: the union of their ranges
    SELECT wid, cls, min(fill_date) AS index_date, bool_or(several) AS several,
           count(*) FILTER (WHERE NOT several) AS fills,
           count(DISTINCT fill_date) FILTER (WHERE several) AS fill_dates,
           sum(GREATEST(0, LEAST(span_end, wend) - span_start + 1))
               FILTER (WHERE NOT several) AS summed,
           range_agg(daterange(span_start, LEAST(span_end, wend) + 1, '[)'))
               FILTER (WHERE several AND span_start <= wend) AS united
    FROM flagged
    GROUP BY wid, cls
)
SELECT wid, cls, index_date,
       CASE WHEN several THEN fill_dates ELSE fills END,
       CASE WHEN several
            THEN COALESCE((SELECT sum(upper(r) - lower(r)) FROM unnest(united) AS r), 0)
            ELSE summed END
FROM per_class
"""


def _array(values) -> str:
    return "{" + ",".join(str(v) for v in values) + "}"


def _sql_windows(organization_id: int, windows: Sequence[Window], classes: Sequence[str]):
    if not windows:
        return []
    # Each array as one text literal ('{1,2,...}'::int[]): a Python list would become an
    # ARRAY[...] expression of 100,000 elements for the server to parse (seconds).
    params = {
        "org": organization_id,
        "wid": _array(range(len(windows))),
        "pid": _array(w.patient_id for w in windows),
        "ws": _array(w.start.isoformat() for w in windows),
        "we": _array(w.end.isoformat() for w in windows),
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


PARALLEL_MIN_WINDOWS = 5_000


def sql_pdc_parallel(
    organization, windows: Sequence[Window], *, workers: int = 2, classes=PDC_CLASSES
) -> list[ClassPdc]:
    """`sql_pdc` split into `workers` contiguous parts measured at once, each on its own
    database connection (one core each: PostgreSQL runs window functions in one process).
    Few windows (or one worker) run on this connection: a thread's connection sees only
    committed rows, which is what a job or a command has."""
    from concurrent.futures import ThreadPoolExecutor

    from medsync.tenancy import tenant_scope

    if workers <= 1 or len(windows) < PARALLEL_MIN_WINDOWS:
        return sql_pdc(organization.pk, windows, classes=classes)
    size = -(-len(windows) // workers)
    parts = [windows[k : k + size] for k in range(0, len(windows), size)]

    def measure(part):
        try:
            with tenant_scope(organization):
                return sql_pdc(organization.pk, part, classes=classes)
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [row for rows in pool.map(measure, parts) for row in rows]


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
