"""The drug catalog file, its loader (service, command, data migration) and drug_search."""

from __future__ import annotations

import importlib
import io
from collections import Counter
from decimal import Decimal

import pytest
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_scopes import scopes_disabled

from medsync.models import AuditEvent
from patients.catalog import (
    CATALOG_PATH,
    COLUMNS,
    CatalogError,
    drug_catalog_load,
    drug_catalog_parse,
    drug_search,
)
from patients.models import DosageForm, Drug, TherapeuticClass

HEADER = ",".join(COLUMNS)
GOOD_ROW = "11111-2222-33,Testapril,testapril,10 mg,tablet,90,EA,false,,false,false,ras_antagonist,"


@pytest.fixture(scope="module")
def rows():
    return drug_catalog_parse(CATALOG_PATH)


def _csv(*lines: str) -> io.StringIO:
    return io.StringIO("\n".join([HEADER, *lines]) + "\n")


# --------------------------------------------------------------------------- the file


def test_the_catalog_file_parses_cleanly_with_at_least_180_products(rows):
    assert len(rows) >= 180


def test_every_ndc_is_11_digits_and_unique(rows):
    ndcs = [row.ndc for row in rows]
    assert all(len(ndc) == 11 and ndc.isdigit() for ndc in ndcs)
    assert len(set(ndcs)) == len(ndcs)


def test_the_file_writes_ndcs_in_the_hyphenated_5_4_2_form(rows):
    with open(CATALOG_PATH, encoding="utf-8") as handle:
        next(handle)
        written = [line.split(",", 1)[0] for line in handle if line.strip()]
    assert all(len(ndc) == 13 and [len(p) for p in ndc.split("-")] == [5, 4, 2] for ndc in written)
    assert [ndc.replace("-", "") for ndc in written] == [row.ndc for row in rows]


@pytest.mark.parametrize(
    ("therapeutic_class", "at_least"),
    [
        (TherapeuticClass.STATIN, 5),
        (TherapeuticClass.RAS_ANTAGONIST, 5),
        (TherapeuticClass.DIABETES_NON_INSULIN, 5),
        (TherapeuticClass.BETA_BLOCKER, 5),
        (TherapeuticClass.CALCIUM_CHANNEL_BLOCKER, 5),
        (TherapeuticClass.THIAZIDE, 3),
        (TherapeuticClass.THYROID, 3),
        (TherapeuticClass.SSRI, 5),
        (TherapeuticClass.DOAC, 5),
        (TherapeuticClass.COPD_INHALER, 5),
        (TherapeuticClass.INSULIN, 5),
        (TherapeuticClass.GLAUCOMA, 3),
        (TherapeuticClass.SACUBITRIL_VALSARTAN, 2),
        (TherapeuticClass.ANTIBIOTIC, 3),
        (TherapeuticClass.OPIOID, 3),
        (TherapeuticClass.STIMULANT, 3),
    ],
)
def test_each_class_has_enough_products(rows, therapeutic_class, at_least):
    count = Counter(c for row in rows for c in row.therapeutic_classes)[therapeutic_class]
    assert count >= at_least


def test_the_diabetes_class_covers_metformin_sglt2_dpp4_and_sulfonylureas(rows):
    generics = {r.generic_name for r in rows if "diabetes_non_insulin" in r.therapeutic_classes}
    for expected in ("metformin hydrochloride", "empagliflozin", "dapagliflozin", "sitagliptin"):
        assert expected in generics
    assert generics & {"glipizide", "glimepiride"}


def test_insulin_is_packaged_in_units_300_per_pen_and_1000_per_vial(rows):
    insulins = [r for r in rows if "insulin" in r.therapeutic_classes]
    assert insulins
    for row in insulins:
        assert row.package_unit == "UN"
        assert row.unit_of_use
        assert row.dosage_form in (DosageForm.PEN, DosageForm.VIAL)
        if row.dosage_form == DosageForm.VIAL:
            assert row.package_size == Decimal("1000")  # 10 mL of U-100
        else:
            assert row.package_size % 300 == 0  # whole 3 mL U-100 pens
    # An insulin is never in the non-insulin diabetes class (the Star measure excludes it).
    assert not any("diabetes_non_insulin" in r.therapeutic_classes for r in insulins)


def test_inhalers_and_eye_drops_are_unit_of_use(rows):
    inhalers = [r for r in rows if r.dosage_form == DosageForm.INHALER]
    drops = [r for r in rows if r.dosage_form == DosageForm.EYE_DROPS]
    assert len(inhalers) >= 10 and len(drops) >= 5
    assert all(r.unit_of_use for r in inhalers + drops)
    assert all(r.package_unit == "ML" for r in drops)
    assert all(
        "copd_inhaler" in r.therapeutic_classes
        for r in inhalers
        if r.generic_name != "albuterol sulfate"  # a PRN rescue inhaler, not a maintenance one
    )


def test_latanoprost_may_be_used_42_days_after_opening(rows):
    latanoprost = [r for r in rows if r.generic_name == "latanoprost" and r.name != "Xelpros"]
    assert latanoprost
    assert {r.beyond_use_days for r in latanoprost} == {42}


def test_oral_solids_are_not_unit_of_use_except_blister_packs(rows):
    bottles = [
        r
        for r in rows
        if r.dosage_form in (DosageForm.TABLET, DosageForm.CAPSULE) and r.package_size >= 30
    ]
    assert bottles and not any(r.unit_of_use for r in bottles)


def test_schedule_ii_rows_are_the_opioids_and_stimulants(rows):
    schedule_ii = {r.ndc for r in rows if r.dea_schedule == "2"}
    controlled_classes = {
        r.ndc for r in rows if {"opioid", "stimulant"} & set(r.therapeutic_classes)
    }
    assert len(schedule_ii) >= 10
    assert schedule_ii == controlled_classes
    generics = {r.generic_name for r in rows if r.ndc in schedule_ii}
    assert "oxycodone hydrochloride" in generics
    assert "hydrocodone bitartrate and acetaminophen" in generics
    assert "methylphenidate hydrochloride" in generics
    assert any("amphetamine" in g for g in generics)


def test_antibiotic_and_specialty_flags(rows):
    antibiotics = {r.generic_name for r in rows if r.is_antibiotic}
    assert {"amoxicillin", "azithromycin"} <= antibiotics
    assert {r.generic_name for r in rows if r.is_specialty} >= {"adalimumab"}
    assert any(r.generic_name == "sacubitril and valsartan" for r in rows)


# --------------------------------------------------------------------------- validation


def test_a_bad_row_fails_with_its_line_number():
    source = _csv(
        GOOD_ROW,
        "1234-56,Badpril,badpril,10 mg,tablet,90,EA,false,,false,false,ras_antagonist,",
        "11111-2222-44,Oddpril,oddpril,10 mg,lozenge,-3,BOX,maybe,CIX,false,false,nonsense,x",
    )
    with pytest.raises(CatalogError) as caught:
        drug_catalog_parse(source)
    errors = caught.value.errors
    assert {(e.line, e.field) for e in errors} == {
        (3, "ndc"),
        (4, "dosage_form"),
        (4, "package_size"),
        (4, "package_unit"),
        (4, "unit_of_use"),
        (4, "dea_schedule"),
        (4, "therapeutic_classes"),
        (4, "beyond_use_days"),
    }
    assert "line 3: ndc:" in str(caught.value)


def test_pharmacy_consistency_rules_are_checked():
    source = _csv(
        "11111-2222-01,Fakulin,insulin fake,100 units/mL,pen,3,ML,true,,false,false,insulin,",
        "11111-2222-02,Fakodrops,fake,0.5%,eye_drops,5,ML,false,,false,false,glaucoma,",
        "11111-2222-03,Fakocillin,fakocillin,500 mg,capsule,20,EA,false,,false,false,antibiotic,",
    )
    with pytest.raises(CatalogError) as caught:
        drug_catalog_parse(source)
    assert {(e.line, e.field) for e in caught.value.errors} == {
        (2, "package_unit"),
        (3, "unit_of_use"),
        (4, "is_antibiotic"),
    }


def test_a_repeated_ndc_in_any_form_is_refused():
    source = _csv(GOOD_ROW, GOOD_ROW.replace("11111-2222-33", "11111222233"))
    with pytest.raises(CatalogError) as caught:
        drug_catalog_parse(source)
    assert [(e.line, e.field) for e in caught.value.errors] == [(3, "ndc")]
    assert "repeats line 2" in caught.value.errors[0].message


def test_a_missing_column_is_reported_on_line_1():
    source = io.StringIO(HEADER.replace(",beyond_use_days", "") + "\n" + GOOD_ROW[:-1] + "\n")
    with pytest.raises(CatalogError) as caught:
        drug_catalog_parse(source)
    assert [(e.line, e.field) for e in caught.value.errors] == [(1, "header")]
    assert "beyond_use_days" in caught.value.errors[0].message


def test_ten_digit_ndc_forms_and_schedule_aliases_are_normalised():
    source = _csv(
        "1111-2222-33,A,a,1 mg,tablet,30,EA,false,CII,false,false,opioid,",
        "11111-222-33,B,b,1 mg,tablet,30,EA,false,C-IV,false,false,,".replace("C-IV", "civ"),
        "11111-2222-3,C,c,1 mg,tablet,30,ea,no,,false,false,statin|statin,",
    )
    parsed = drug_catalog_parse(source)
    assert [r.ndc for r in parsed] == ["01111222233", "11111022233", "11111222203"]
    assert [r.dea_schedule for r in parsed] == ["2", "4", ""]
    assert parsed[2].package_unit == "EA" and parsed[2].therapeutic_classes == ("statin",)


# --------------------------------------------------------------------------- loading


@pytest.mark.django_db
def test_loading_creates_every_row_and_reloading_changes_nothing(rows):
    Drug.objects.all().delete()
    first = drug_catalog_load(CATALOG_PATH)
    assert (first.created, first.updated, first.unchanged) == (len(rows), 0, 0)
    snapshot = {d.ndc: (d.public_id, d.name, d.package_size) for d in Drug.objects.all()}

    second = drug_catalog_load(CATALOG_PATH)
    assert (second.created, second.updated, second.unchanged) == (0, 0, len(rows))
    assert {d.ndc: (d.public_id, d.name, d.package_size) for d in Drug.objects.all()} == snapshot

    lantus = Drug.objects.get(ndc="00088221905")
    assert lantus.package_unit == "UN" and lantus.package_size == Decimal("1500")
    assert lantus.therapeutic_classes == ["insulin"] and lantus.unit_of_use
    with scopes_disabled():
        events = AuditEvent.objects.filter(action="patients.drug_catalog.loaded")
        assert events.count() == 2
        assert events.first().metadata["unchanged"] == len(rows)


@pytest.mark.django_db
def test_reloading_repairs_a_drug_that_was_changed():
    drug_catalog_load(CATALOG_PATH)
    Drug.objects.filter(ndc="00071015523").update(package_size=Decimal("30"), dea_schedule="4")
    counts = drug_catalog_load(CATALOG_PATH)
    assert (counts.created, counts.updated) == (0, 1)
    lipitor = Drug.objects.get(ndc="00071015523")
    assert (lipitor.package_size, lipitor.dea_schedule) == (Decimal("90"), "")


@pytest.mark.django_db
def test_a_bad_file_loads_nothing_at_all(tmp_path):
    before = Drug.objects.count()
    path = tmp_path / "catalog.csv"
    path.write_text(
        _csv(GOOD_ROW, GOOD_ROW.replace("11111-2222-33", "1111-22")).getvalue(), encoding="utf-8"
    )
    with pytest.raises(CatalogError) as caught:
        drug_catalog_load(path)
    assert [e.line for e in caught.value.errors] == [3]
    assert Drug.objects.count() == before
    assert not Drug.objects.filter(ndc="11111222233").exists()


@pytest.mark.django_db
def test_the_command_loads_and_reports_counts():
    out = io.StringIO()
    call_command("load_drug_catalog", stdout=out)
    assert "rows)" in out.getvalue()
    assert Drug.objects.filter(ndc="00078069620").exists()  # Entresto 97/103


@pytest.mark.django_db
def test_the_command_fails_with_line_numbers_and_writes_nothing(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(_csv(GOOD_ROW, GOOD_ROW.replace(",tablet,", ",gummy,")).getvalue())
    with pytest.raises(CommandError, match=r"line 3: dosage_form"):
        call_command("load_drug_catalog", str(path))
    assert not Drug.objects.filter(ndc="11111222233").exists()
    with pytest.raises(CommandError, match="No such file"):
        call_command("load_drug_catalog", str(tmp_path / "missing.csv"))


@pytest.mark.django_db
def test_the_data_migration_loads_the_file_into_an_empty_table(rows):
    migration = importlib.import_module("patients.migrations.0003_load_drug_catalog")
    Drug.objects.all().delete()
    migration.load_catalog(django_apps, None)
    assert Drug.objects.count() == len(rows)
    migration.load_catalog(django_apps, None)  # idempotent
    assert Drug.objects.count() == len(rows)


# --------------------------------------------------------------------------- search


@pytest.fixture
def catalog(db):
    drug_catalog_load(CATALOG_PATH)


def _ndcs(query: str) -> list[str]:
    return [d.ndc for d in drug_search(query)]


def test_search_by_brand_name_is_case_insensitive(catalog):
    assert _ndcs("LIPITOR") == ["00071015523", "00071015623", "00071015723", "00071015823"]


def test_search_by_generic_name_and_strength_words(catalog):
    results = list(drug_search("atorvastatin 40"))
    assert results and all(
        "atorvastatin" in d.generic_name and d.strength == "40 mg" for d in results
    )
    assert "00071015723" in [d.ndc for d in results]  # Lipitor 40 mg, found by generic name


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("0071-0155-23", "00071015523"),  # 4-4-2 (10 digits, hyphenated)
        ("59762-333-02", "59762033302"),  # 5-3-2
        ("68180-0589-9", "68180058909"),  # 5-4-1
        ("00071-0155-23", "00071015523"),  # 5-4-2
        ("00071015523", "00071015523"),  # 11 bare digits
        ("0071015523", "00071015523"),  # 10 bare digits: every padding tried
    ],
)
def test_search_by_ndc_in_any_form(catalog, query, expected):
    assert _ndcs(query) == [expected]


def test_search_by_ndc_prefix(catalog):
    assert _ndcs("00071") == ["00071015523", "00071015623", "00071015723", "00071015823"]
    assert _ndcs("0310-0751") == ["00310075190"]


def test_search_with_nothing_to_search_finds_nothing(catalog):
    assert _ndcs("") == [] and _ndcs("   ") == []
    assert _ndcs("nosuchdrugatall") == []
    assert _ndcs("99999-9999-99") == []


def test_search_is_one_query(catalog):
    with CaptureQueriesContext(connection) as queries:
        list(drug_search("insulin"))
        list(drug_search("0071-0155-23"))
    assert len(queries) == 2


@pytest.mark.parametrize(
    ("generic", "strength"),
    [
        ("atorvastatin calcium", "10 mg"),
        ("atorvastatin calcium", "20 mg"),
        ("atorvastatin calcium", "40 mg"),
        ("rosuvastatin calcium", "40 mg"),
        ("simvastatin", "10 mg"),
        ("simvastatin", "40 mg"),
        ("lisinopril", "5 mg"),
        ("lisinopril", "10 mg"),
        ("lisinopril", "20 mg"),
        ("losartan potassium", "25 mg"),
        ("losartan potassium", "50 mg"),
        ("amlodipine besylate", "2.5 mg"),
        ("amlodipine besylate", "5 mg"),
        ("metformin hydrochloride", "500 mg"),
        ("metformin hydrochloride", "850 mg"),
        ("metformin hydrochloride", "1000 mg"),
        ("metoprolol tartrate", "25 mg"),
        ("metoprolol succinate", "25 mg"),
        ("levothyroxine sodium", "50 mcg"),
        ("levothyroxine sodium", "100 mcg"),
        ("hydrochlorothiazide", "25 mg"),
        ("hydrochlorothiazide", "12.5 mg"),
    ],
)
def test_everyday_strengths_of_the_top_maintenance_drugs_are_in_the_catalog(
    rows, generic, strength
):
    """Issue 10 defect 12: lisinopril 10 mg (and other everyday strengths) were missing."""
    assert any(r.generic_name == generic and r.strength == strength for r in rows)
