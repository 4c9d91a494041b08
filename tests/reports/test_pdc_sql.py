"""The set-based PDC (reports/pdc_sql.py) equals the pure engine (reports/pdc.py) on random
fill histories written to the real database; plus a worked example and the tenant wall."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from medsync.tenancy import tenant_scope
from patients.models import TherapeuticClass as TC
from reports.pdc import PdcFill
from reports.pdc_sql import Window, engine_pdc, sql_pdc
from tests.factories import DrugFactory, FillFactory, PatientFactory, PrescriptionFactory

pytestmark = pytest.mark.django_db

BASE = dt.date(2025, 1, 1)

# generic name -> classes (two NDCs of atorvastatin: same drug, same-day fills possible)
DRUGS = {
    "atorvastatin": [TC.STATIN],
    "rosuvastatin": [TC.STATIN],
    "lisinopril": [TC.RAS_ANTAGONIST],
    "metformin": [TC.DIABETES_NON_INSULIN],
    "insulin glargine": [TC.INSULIN],
    "sacubitril/valsartan": [TC.SACUBITRIL_VALSARTAN],
    "amlodipine/atorvastatin": [TC.CALCIUM_CHANNEL_BLOCKER, TC.STATIN],
}
NDCS = [(g, i) for g in DRUGS for i in range(2 if g == "atorvastatin" else 1)]


class _Rollback(Exception):
    pass


def _drugs():
    return {
        (generic, i): DrugFactory(
            ndc=f"8{n:010d}",
            name=f"{generic} {i}",
            generic_name=generic.title(),
            **{"therapeutic_classes": DRUGS[generic]},
        )
        for n, (generic, i) in enumerate(NDCS)
    }


fill_st = st.tuples(
    st.integers(0, len(NDCS) - 1),  # which NDC
    st.integers(0, 420),  # day offset
    st.integers(1, 100),  # days supply
    st.booleans() | st.just(False),  # returned to stock (rarely)
)
patient_st = st.tuples(
    st.lists(fill_st, max_size=14),
    st.booleans(),  # hospice
    st.booleans(),  # esrd
    st.integers(0, 200),  # window start offset
    st.integers(30, 400),  # window length
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(patients=st.lists(patient_st, min_size=1, max_size=3))
def test_sql_equals_engine_on_random_histories(maple, patients):
    organization = maple.organization
    pharmacy = maple.pharmacies[0]
    try:
        with transaction.atomic():
            drugs = _drugs()
            windows, fills_by_patient, drug_classes = [], defaultdict(list), {}
            for n, (fills, hospice, esrd, start_offset, length) in enumerate(patients):
                patient = PatientFactory(organization=organization, hospice=hospice, esrd=esrd)
                prescriptions = {}
                seen = set()
                for ndc_index, offset, days, returned in fills:
                    key = NDCS[ndc_index]
                    day = BASE + dt.timedelta(days=offset)
                    if (key, day) in seen:
                        continue  # one fill per prescription per day (a constraint)
                    seen.add((key, day))
                    if key not in prescriptions:
                        prescriptions[key] = PrescriptionFactory(
                            patient=patient, pharmacy=pharmacy, drug=drugs[key]
                        )
                    FillFactory(
                        prescription=prescriptions[key],
                        fill_date=day,
                        days_supply=days,
                        returned_to_stock_at=(
                            dt.datetime(2026, 1, 1, tzinfo=dt.UTC) if returned else None
                        ),
                    )
                    if not returned:
                        generic = key[0]
                        drug_classes[generic] = DRUGS[generic]
                        fills_by_patient[patient.pk].append(
                            PdcFill(fill_date=day, drug=generic, days_supply=days)
                        )
                start = BASE + dt.timedelta(days=start_offset)
                windows.append(
                    Window(n, patient.pk, start, start + dt.timedelta(days=length), hospice, esrd)
                )
            with tenant_scope(organization):
                from_sql = sql_pdc(organization.pk, windows)
            from_engine = engine_pdc(windows, fills_by_patient, drug_classes, {})
            key = lambda r: (r.key, r.therapeutic_class)  # noqa: E731
            assert sorted(from_sql, key=key) == sorted(from_engine, key=key)
            raise _Rollback
    except _Rollback:
        pass


def test_worked_example_same_drug_shift_and_switch(maple, birch):
    """Statin 2025: atorvastatin 1/1 x30, 1/20 x30 (shifted to 1/31..3/1), switch to
    rosuvastatin 2/15 x30 (2/15..3/16, not shifted: overlaps count once), then 5/1 x30.
    Window 1/1..6/30: index 1/1, 181 days; covered 1/1..3/16 (75) + 5/1..5/30 (30) = 105."""
    pharmacy = maple.pharmacies[0]
    patient = PatientFactory(organization=maple.organization)
    ator = PrescriptionFactory(
        patient=patient, pharmacy=pharmacy, drug=DrugFactory(generic_name="Atorvastatin")
    )
    rosu = PrescriptionFactory(
        patient=patient, pharmacy=pharmacy, drug=DrugFactory(generic_name="Rosuvastatin")
    )
    for rx, day in ((ator, dt.date(2025, 1, 1)), (ator, dt.date(2025, 1, 20))):
        FillFactory(prescription=rx, fill_date=day, days_supply=30)
    FillFactory(prescription=rosu, fill_date=dt.date(2025, 2, 15), days_supply=30)
    FillFactory(prescription=rosu, fill_date=dt.date(2025, 5, 1), days_supply=30)
    window = Window("w", patient.pk, dt.date(2025, 1, 1), dt.date(2025, 6, 30))
    with tenant_scope(maple.organization):
        [row] = sql_pdc(maple.organization.pk, [window])
    assert (row.index_date, row.days_in_period, row.days_covered) == (dt.date(2025, 1, 1), 181, 105)
    assert row.pdc == Decimal("0.5801") and row.measurable and not row.adherent
    # Birch asking for Maple's patient gets nothing back (organization filter and RLS)
    with tenant_scope(birch.organization):
        assert sql_pdc(birch.organization.pk, [window]) == []


@pytest.mark.django_db(transaction=True)
def test_the_parallel_split_returns_the_same_rows(maple, monkeypatch):
    """Two connections measuring halves give the rows one connection gives."""
    from reports import pdc_sql

    pharmacy = maple.pharmacies[0]
    windows = []
    for n in range(6):
        patient = PatientFactory(organization=maple.organization)
        rx = PrescriptionFactory(patient=patient, pharmacy=pharmacy, drug=DrugFactory())
        for k in range(n + 2):
            FillFactory(prescription=rx, fill_date=BASE + dt.timedelta(days=35 * k))
        windows.append(Window(n, patient.pk, BASE, BASE + dt.timedelta(days=364)))
    monkeypatch.setattr(pdc_sql, "PARALLEL_MIN_WINDOWS", 0)
    with tenant_scope(maple.organization):
        split = pdc_sql.sql_pdc_parallel(maple.organization, windows, workers=2)
        whole = sql_pdc(maple.organization.pk, windows)
    assert len(whole) == 6 and sorted(split, key=lambda r: r.key) == whole
